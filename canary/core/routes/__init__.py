"""A user-owned route as canary touches it: which rules a Rollout addresses, the guarded
weight patch, readiness, who owns a rule, who last wrote it, which Gateways serve it."""
