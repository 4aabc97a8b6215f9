"""kopf glue: turn events and timers into ``core.decide`` calls and execute the plans."""
