"""Time arithmetic for the state machine, and when the operator should run a check.

``now`` always comes from the caller (the core reads no clock); timestamps in status are RFC 3339
strings rendered from it, so a decision replayed with the same ``now`` gives the same
status. ``analysis_due`` tells the operator when to query Prometheus: only while a step
is active and its split verified, every ``spec.analysis.interval``, and never over a
window that reaches back before the split was verified (data from the previous weight
would judge the wrong thing). When the last checks at this step had fewer than
``minRequests`` canary requests, the next window reaches back to the end of the last
check here that had enough (or to the verification): evidence accumulates across quiet
windows instead of each being thrown away (0.2 rps at 5 % is 12 requests a minute).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from canary.core.durations import parse_duration
from canary.core.models import Measurement, RolloutSpec, RolloutStatus
from canary.core.phases import Cond, Phase, Verdict


def aware(now: datetime) -> datetime:
    """``now`` with a time zone; naive datetimes are taken as UTC."""
    return now if now.tzinfo is not None else now.replace(tzinfo=UTC)


def rfc3339(now: datetime) -> str:
    """UTC, "Z" suffix; naive datetimes are taken as UTC."""
    return aware(now).astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_time(text: str | None) -> datetime | None:
    """The datetime of an RFC 3339 string; None for None, "" or garbage."""
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def seconds_since(text: str | None, now: datetime) -> float | None:
    """Seconds from the timestamp ``text`` to ``now`` (None when there is none)."""
    then = parse_time(text)
    return None if then is None else (aware(now) - then).total_seconds()


@dataclass(frozen=True)
class AnalysisWindow:
    """The range to query: [start, end], ``seconds`` long (the PromQL range)."""

    start: datetime
    end: datetime
    seconds: float


def next_analysis_at(spec: RolloutSpec, status: RolloutStatus) -> datetime | None:
    """When the next check falls due, or None when no check counts now."""
    if (
        status.phase != Phase.PROGRESSING
        or status.promoted_full
        or not spec.analysis.metrics
        or status.verified_at is None
    ):
        return None
    verified = status.condition(Cond.SPLIT_VERIFIED)
    if verified is None or verified.status != "True":
        return None
    base = parse_time(status.verified_at)
    last = parse_time(status.last_analysis_at)
    if base is None:
        return None
    if last is not None and last > base:
        base = last
    return base + timedelta(seconds=parse_duration(spec.analysis.interval))


def analysis_due(spec: RolloutSpec, status: RolloutStatus, now: datetime) -> bool:
    """True when the operator should run the metric queries in this reconcile."""
    return analysis_window(spec, status, now) is not None


def analysis_window(
    spec: RolloutSpec, status: RolloutStatus, now: datetime
) -> AnalysisWindow | None:
    """The window to query when a check is due (the last ``interval`` up to ``now``)."""
    due = next_analysis_at(spec, status)
    now = aware(now)
    if due is None or now < due:
        return None
    start = now - timedelta(seconds=parse_duration(spec.analysis.interval))
    since = sparse_since(spec, status)
    if since is not None and since < start:
        start = since
    return AnalysisWindow(start=start, end=now, seconds=(now - start).total_seconds())


def _sparse(checks: list[Measurement], min_requests: int) -> bool:
    return all(m.verdict == Verdict.INCONCLUSIVE.value and m.samples < min_requests for m in checks)


def sparse_since(spec: RolloutSpec, status: RolloutStatus) -> datetime | None:
    """Where the evidence of the next check starts when the last check at this step had
    too few canary requests: the end of the latest check here that had enough, else the
    verification. None when the last check had enough (the window is one interval)."""
    verified = parse_time(status.verified_at)
    if verified is None:
        return None
    by_time: dict[datetime, list[Measurement]] = {}
    for metric in status.analysis:
        for m in metric.measurements:
            at = parse_time(m.time)
            if at is not None and at > verified:
                by_time.setdefault(at, []).append(m)
    since: datetime | None = None
    for at in sorted(by_time, reverse=True):
        if not _sparse(by_time[at], spec.analysis.min_requests):
            return at if since is not None else None
        since = verified
    return since
