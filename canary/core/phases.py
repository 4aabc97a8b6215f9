"""Every phase, condition, reason, verdict and command verb as a named constant.

One vocabulary for the state machine, the operator's Events, the CLI's exit codes and the
docs. Each constant carries a one-line comment saying when it applies.
"""

from __future__ import annotations

from enum import StrEnum


class Phase(StrEnum):
    PENDING = "Pending"  # validated; waiting for route readiness before the first step
    PROGRESSING = "Progressing"  # a step is active (writing, verifying, holding, analysing)
    PAUSED = "Paused"  # user pause, or onFailure=pause after a failed check
    SUCCEEDED = "Succeeded"  # canary at the last step's weight, all checks passed
    ROLLING_BACK = "RollingBack"  # analysis failure or deadline; writing stable 100 / canary 0
    ROLLED_BACK = "RolledBack"  # rollback done: stable 100 / canary 0 in every addressed rule
    ABORTED = "Aborted"  # user abort; stable 100 / canary 0
    FAILED = "Failed"  # the spec cannot be acted on; the route is not touched


TERMINAL_PHASES = frozenset({Phase.SUCCEEDED, Phase.ROLLED_BACK, Phase.ABORTED, Phase.FAILED})
FAILED_PHASES = frozenset({Phase.ROLLED_BACK, Phase.ABORTED, Phase.FAILED})
# the desired weights are stable 100 / canary 0: being written (RollingBack) or held
STABLE_ONLY_PHASES = frozenset({Phase.ROLLING_BACK, Phase.ROLLED_BACK, Phase.ABORTED})
# ended on stable 100 / canary 0 (rollback done, or aborted): abort is in effect, retry
# starts again at step 1
ENDED_ON_STABLE_PHASES = frozenset({Phase.ROLLED_BACK, Phase.ABORTED})

# Lifecycle and ownership (docs/state-machine.md "Lifecycle and ownership"):
# mid-flight: onDelete applies (restore stable 100 / canary 0, or keep)
MID_FLIGHT_PHASES = frozenset({Phase.PENDING, Phase.PROGRESSING, Phase.PAUSED, Phase.ROLLING_BACK})
# the Rollout owns its addressed rules' weights (one owner per rule)
OWNING_PHASES = MID_FLIGHT_PHASES | ENDED_ON_STABLE_PHASES
# hands off: nothing is ever written to the route again; drift is reported, never reverted
HANDS_OFF_PHASES = frozenset({Phase.SUCCEEDED, Phase.FAILED})
# an invalid spec (edit) leaves the phase as it is: RolledBack/Aborted keep stable 100 /
# canary 0 asserted on the rules they applied it to (when that is safe), Succeeded stays
# hands off; Invalid=True names the field. Other phases go Failed.
KEPT_WHEN_INVALID_PHASES = ENDED_ON_STABLE_PHASES | {Phase.SUCCEEDED}

PAUSE_USER = "user"  # status.pauseReason: `canary pause`
PAUSE_FAILURE = "failure"  # status.pauseReason: onFailure=pause after a failed check/deadline


class Cond(StrEnum):
    COMPLETED = "Completed"  # True only in Succeeded
    AWAITING_PROMOTION = "AwaitingPromotion"  # True while held at a manual gate
    ROUTE_READY = "RouteReady"  # every addressed route Accepted+ResolvedRefs at its generation
    SPLIT_VERIFIED = "SplitVerified"  # evaluator (and traffic, when measurable) confirm the split
    HEALTHY = "Healthy"  # last verdicts pass; False after a failed check; Unknown inconclusive
    INVALID = "Invalid"  # True when the spec cannot be acted on; the reason names the field
    DRIFTED = "Drifted"  # hands-off phase: live weights differ from the released ones (reported)
    DATA_PLANE_DIVERGENCE = "DataPlaneDivergence"  # the gateway routes an addressed rule's
    # requests differently from the Gateway API spec (its profile predicts the share)
    CONTESTED = "Contested"  # another field manager reverted the weights K times: not re-asserted
    ROLLBACK_CONFIRMED = "RollbackConfirmed"  # RollingBack/RolledBack: stable 100 / canary 0
    # live, route ready and served (False names the cause; reason RollbackUnconfirmed)


class Verdict(StrEnum):
    PASS = "pass"  # every bound holds
    FAIL = "fail"  # a bound is violated (counts towards failureLimit)
    INCONCLUSIVE = "inconclusive"  # too few canary requests to judge (minRequests)
    NO_DATA = "nodata"  # the query returned no series (handled by analysis.noData)
    ERROR = "error"  # the query itself failed (Prometheus down, bad PromQL); never a pass


class Reason(StrEnum):
    STARTED = "Started"  # a new rollout (or a restart after a spec change) began
    RESTARTED = "Restarted"  # stable/canary/routes/steps changed; back to step 1
    WEIGHTS_APPLIED = "WeightsApplied"  # the desired weights were written to the route
    WAITING_FOR_ROUTE = "WaitingForRoute"  # route not yet Accepted/ResolvedRefs at generation
    WAITING_FOR_DATA_PLANE = "WaitingForDataPlane"  # gateway not yet serving the new weights
    SPLIT_NOT_VERIFIED = "SplitNotVerified"  # evaluator/traffic disagree with the intent
    SPLIT_VERIFIED = "SplitVerified"  # evaluator and traffic agree
    STEP_HOLDING = "StepHolding"  # pause running, analysis in progress
    AWAITING_PROMOTION = "AwaitingPromotion"  # manual gate reached
    STEP_ADVANCED = "StepAdvanced"  # moved to the next step
    ANALYSIS_PASSED = "AnalysisPassed"  # every metric passed
    ANALYSIS_FAILED = "AnalysisFailed"  # a metric failed its bound
    ANALYSIS_INCONCLUSIVE = "AnalysisInconclusive"  # too few requests or no data; holding
    ANALYSIS_ERROR = "AnalysisError"  # a query failed; holding
    ANALYSIS_DRY_RUN = "AnalysisDryRun"  # a dryRun metric failed: reported, never acted on
    FAILURE_LIMIT = "FailureLimitReached"  # failed checks exceeded failureLimit
    DEADLINE_EXCEEDED = "ProgressDeadlineExceeded"  # a wait or hold outlived progressDeadline
    ROLLING_BACK = "RollingBack"  # writing stable 100 / canary 0
    ROLLED_BACK = "RolledBack"  # rollback finished
    SUCCEEDED = "Succeeded"  # the last step passed
    ABORTED = "Aborted"  # user abort
    PAUSED = "Paused"  # user pause, or onFailure=pause
    RESUMED = "Resumed"  # user resume
    PROMOTED = "Promoted"  # user promote (one step, or --full)
    RETRIED = "Retried"  # user retry after a rollback/abort
    COMMAND_IGNORED = "CommandIgnored"  # a command that does not apply in this phase
    DRIFT = "Drift"  # live weights differ from lastAppliedWeights; re-asserted
    INVALID_SPEC = "InvalidSpec"  # the spec cannot be acted on (names the field)
    ROUTE_NOT_FOUND = "RouteNotFound"  # an addressed route does not exist
    DELETING = "Deleting"  # the Rollout is being deleted and leaves the route as it is
    RULE_OWNED = "RuleOwned"  # an addressed rule is owned by another Rollout (one owner)
    ROLLBACK_UNCONFIRMED = "RollbackUnconfirmed"  # stable 100 written; not confirmed in time
    CONFIRMING = "Confirming"  # RollingBack: stable 100 / canary 0 not confirmed yet (why)
    NO_DRIFT = "NoDrift"  # live weights are the ones last applied
    TAKEN_OVER = "TakenOver"  # hands off: another Rollout now sets a released rule (not drift)
    DIVERGES = "DataPlaneDiverges"  # the data plane's profile and the spec disagree (named)
    AS_SPEC = "AsSpec"  # the data plane's profile routes the addressed rules as the spec
    NO_PROFILE = "NoProfile"  # no data-plane profile predicts the routes any more (spec)
    CONTESTED = "Contested"  # another manager reverted our weights K times in the window
    NOT_CONTESTED = "NotContested"  # no revert counted since the contest was cleared


class Verb(StrEnum):
    PROMOTE = "promote"  # open the current gate (skip the rest of the hold)
    PROMOTE_FULL = "promote-full"  # go to the last step now, skipping analysis
    ABORT = "abort"  # stable 100 / canary 0, phase Aborted
    RETRY = "retry"  # after RolledBack/Aborted: start again at step 1
    PAUSE = "pause"  # hold where we are (no spec write)
    RESUME = "resume"  # continue after a pause


COMMAND_ANNOTATION = "canary.dev/command"
COMMAND_ID_ANNOTATION = "canary.dev/command-id"
FINALIZER = "canary.dev/restore-route"
