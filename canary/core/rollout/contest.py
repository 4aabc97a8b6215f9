"""No endless fight: another field manager reverting the weights ends in ``Contested``.

While a Rollout owns the weights (the owning phases, ``canary.core.phases``) a live
weight that differs from the one it asserts is re-asserted (Drift Warning). When the
rules were last written by another field manager (``Observation.writers``, read from
managedFields) *after* the Rollout started asserting these weights, that is a revert; each
revert is counted once, by its managedFields time. The K-th revert within the window
(``ContestPolicy``: ``--contest-limit``, default 3; ``--contest-window``, default 10m)
stops the fight:

- Progressing and Paused → Paused, ``pauseReason: contested`` (an earlier pauseReason,
  e.g. ``failure``, is replaced);
- RollingBack, RolledBack and Aborted keep their phase (a rollback is never paused: it
  goes on to RolledBack, confirmed or at its deadline);
- Pending, Succeeded and Failed are never contested: they assert no weights;
- condition ``Contested=True`` naming the manager, the fields and the recipe, a Warning
  Event ``Contested``;
- nothing is written to the route while contested (never more than K writes of the
  weights per window: the step's write and K − 1 re-assertions).

``canary resume`` (or another command that sets weights: promote, abort, retry) ends the
contest and re-asserts once; reverts before that moment no longer count. The state lives
in ``status.contest``, so ``decide`` stays pure.
"""

from __future__ import annotations

from datetime import datetime

from canary.core.durations import format_duration
from canary.core.models import AppliedWeight, Contest
from canary.core.phases import STABLE_ONLY_PHASES, Phase, Reason
from canary.core.rollout import checks
from canary.core.rollout.conditions import Want
from canary.core.rollout.schedule import aware, parse_time
from canary.core.rollout.settings import ContestPolicy
from canary.core.rollout.transitions import Run, goto
from canary.core.routes.fieldmanagers import FIELD_MANAGER, Writer

PAUSE_CONTESTED = "contested"  # status.pauseReason when a contest paused the rollout
RECIPES = "docs/gitops.md"


def contested(run: Run) -> bool:
    """True while a contest holds every route write."""
    return run.s.contest is not None and run.s.contest.since is not None


def _asserting_since(run: Run) -> datetime | None:
    """Since when the Rollout asserts the weights it now wants (reverts before: not ours)."""
    start = run.s.phase_started_at if run.s.phase in STABLE_ONLY_PHASES else run.s.step_started_at
    times = [t for t in (parse_time(start), parse_time(_resumed(run))) if t is not None]
    return max(times) if times else None


def _resumed(run: Run) -> str | None:
    return run.s.contest.resumed_at if run.s.contest else None


def _second(t: datetime) -> datetime:
    return t.replace(microsecond=0)  # managedFields times have one-second resolution


def _revert(run: Run, desired: tuple[AppliedWeight, ...]) -> Writer | None:
    """The newest revert not counted yet: another manager wrote the rules of a route whose
    weights differ from ``desired``, after we started asserting them."""
    start = _asserting_since(run)
    if start is None or start == parse_time(run.ts):
        # nothing to revert yet: this very pass starts asserting these weights (a write by
        # another manager seen now happened before it, whatever second managedFields says)
        return None
    live = {(w.route, w.rule): w for w in run.obs.live_weights}
    off = {d.route for d in desired if live.get((d.route, d.rule)) != d}
    counted = [t for t in map(parse_time, run.s.contest.reverts if run.s.contest else []) if t]
    newest: tuple[Writer, datetime] | None = None
    for writer in run.obs.writers:
        when = parse_time(writer.time)
        if writer.route not in off or writer.manager in (None, FIELD_MANAGER) or when is None:
            continue
        # managedFields times have one-second resolution: a revert in the same second as
        # the start of our assertion counts (else K+1 writes could happen in a window)
        if when < _second(start) or any(when <= t for t in counted):
            continue
        if newest is None or when > newest[1]:
            newest = (writer, when)
    return newest[0] if newest else None


def _fields(run: Run, manager: str) -> str:
    paths = [f"{w.route} {', '.join(w.paths)}" for w in run.obs.writers if w.manager == manager]
    return (
        "spec.rules (an atomic list: whoever writes a weight owns all the rules); "
        f"our weights: {'; '.join(paths)}"
    )


def recipe(manager: str) -> str:
    """The fix for the manager that reverts the weights, in one phrase."""
    if manager == "kustomize-controller":
        how = "list the weight paths in the Flux Kustomization's .spec.ignore"
    elif manager.startswith("argocd"):
        how = "add ignoreDifferences for the weights and RespectIgnoreDifferences=true in Argo CD"
    else:
        how = f"stop {manager} from writing the weights"
    return f"{how} ({RECIPES}), then `canary resume`"


def track(run: Run, desired: tuple[AppliedWeight, ...], write: bool) -> tuple[bool, Want | None]:
    """Count reverts; contest at the K-th within the window (``run.contest``).

    Returns whether to write now, and the Contested condition (None: not shown)."""
    if contested(run):
        assert run.s.contest is not None
        return False, Want("True", Reason.CONTESTED, _message(run.s.contest, run.contest))
    writer = _revert(run, desired) if write and desired else None
    if writer is not None:
        assert writer.manager is not None
        before = run.s.contest or Contest()
        recent = [
            t
            for t in before.reverts
            if (x := parse_time(t)) is not None
            and (aware(run.now) - x).total_seconds() < run.contest.window
        ]
        recent = [*recent, writer.time or ""][-run.contest.limit :]
        run.update(
            contest=before.model_copy(
                update={
                    "reverts": recent,
                    "manager": writer.manager,
                    "fields": checks.clip(_fields(run, writer.manager), 1024),
                }
            )
        )
        if len(recent) >= run.contest.limit:
            return False, _contest(run)
    if run.s.contest is None:
        return write, None
    return write, Want("False", Reason.NOT_CONTESTED, "re-asserting the weights")


def _message(c: Contest, policy: ContestPolicy) -> str:
    manager = c.manager or "another field manager"
    return checks.clip(
        f"{manager} reverted the weights {len(c.reverts)} times within "
        f"{format_duration(policy.window)} "
        f"({c.fields}); stopped re-asserting. Fix: {recipe(manager)}",
        1024,
    )


def _contest(run: Run) -> Want:
    assert run.s.contest is not None
    run.update(contest=run.s.contest.model_copy(update={"since": run.ts}))
    message = _message(run.s.contest, run.contest)
    if run.s.phase in STABLE_ONLY_PHASES:
        run.warning(Reason.CONTESTED, f"{message} (stays {run.s.phase})")
    else:
        goto(run, Phase.PAUSED, Reason.CONTESTED, f"paused: {message}", warning=True)
        run.update(pause_reason=PAUSE_CONTESTED)
    return Want("True", Reason.CONTESTED, message)


def clear(run: Run) -> None:
    """A person acted (resume, promote, abort, retry): re-assert; older reverts don't count."""
    if run.s.contest is None:
        return
    cleared: dict[str, object] = {"since": None, "reverts": [], "resumed_at": run.ts}
    run.update(contest=run.s.contest.model_copy(update=cleared))
