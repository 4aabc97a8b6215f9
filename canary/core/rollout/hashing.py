"""The hash that decides whether a spec edit restarts a rollout.

A change of ``stable``, ``canary``, ``routes`` or ``steps`` is a different rollout: the
machine starts again at step 1 from the live weights. Anything else (``analysis``,
``onFailure``, ``progressDeadline``, ...) applies from the next decision without a
restart (Argo's ``ComputeStepHash`` idea, narrowed to what changes the traffic plan).
Defaults are dumped explicitly, so writing a default value out does not restart.
"""

from __future__ import annotations

import hashlib
import json

from canary.core.models import RolloutSpec

HASHED_FIELDS = ("stable", "canary", "routes", "steps")


def spec_hash(spec: RolloutSpec) -> str:
    """sha256 (hex, 64 chars) of the canonical JSON of stable/canary/routes/steps."""
    doc = spec.model_dump(mode="json", by_alias=True, include=set(HASHED_FIELDS))
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()
