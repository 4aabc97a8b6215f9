"""The rollout state machine: ``decide(rollout, status, observation, now) -> Plan``, its
phase handlers, commands, checks, conditions and status diff."""
