"""Values that cross the boundary between analysis, the state machine and the adapters.

The adapters turn Prometheus answers into ``Sample``s; ``canary.core.analysis`` judges
them into ``MetricResult``s; ``canary.core.rollout.machine.decide`` consumes those. Keeping the
types here lets each side be tested without the other.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from canary.core.phases import Verdict


@dataclass(frozen=True)
class Sample:
    """One query answer, as the metrics port returns it.

    ``empty`` is the "no series" sentinel (Flagger's "no values found"): distinct from a
    value of 0 and from a failed query (which the port raises as an error).
    """

    value: float | None
    empty: bool = False
    requests: float | None = None  # request count behind the value, when known


@dataclass(frozen=True)
class MetricResult:
    """One metric judged over one window."""

    name: str
    verdict: Verdict
    value: float | None = None  # canary
    stable_value: float | None = None  # stable, same query and window
    samples: int = 0  # canary requests in the window
    stable_samples: int = 0  # stable requests in the window (0: none or unknown)
    bound: str = ""  # human-readable bound(s), e.g. "max 0.01, maxIncrease 0.005"
    query: str = ""  # the canary query as sent
    message: str = ""  # why this verdict, one line
    dry_run: bool = False  # measured and reported, never counted in the check's verdict


@dataclass(frozen=True)
class AnalysisResult:
    """All metrics of one check, and the verdict of the check as a whole.

    The overall verdict is FAIL if any metric failed, else ERROR if any query errored,
    else INCONCLUSIVE/NO_DATA if any was (after the noData policy), else PASS.
    """

    verdict: Verdict
    results: tuple[MetricResult, ...] = field(default_factory=tuple)
    time: str = ""  # RFC 3339, when the window ended
