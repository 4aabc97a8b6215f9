"""Analysis, pure: PromQL rendering, builtin templates, tests on counts, verdicts.

The adapters run the queries of ``measurement_plan`` and turn answers into ``Sample``s;
``judge_metric`` / ``judge`` turn those into verdicts for the state machine.
"""

from canary.core.analysis.measurements import PlannedQuery, custom_query, measurement_plan
from canary.core.analysis.promql import (
    VARIABLES,
    TemplateError,
    escape_regex,
    escape_string,
    placeholders,
    render,
    traefik_normalize,
)
from canary.core.analysis.stats import (
    TestResult,
    binomial_greater,
    canary_worse,
    fisher_greater,
    two_proportion_z,
)
from canary.core.analysis.templates import (
    Backend,
    BuiltinQuery,
    Target,
    builtin,
    request_count,
    selector,
)
from canary.core.analysis.verdicts import (
    describe_bounds,
    error_result,
    judge,
    judge_metric,
    summarize,
)

__all__ = [
    "VARIABLES",
    "Backend",
    "BuiltinQuery",
    "PlannedQuery",
    "Target",
    "TemplateError",
    "TestResult",
    "binomial_greater",
    "builtin",
    "canary_worse",
    "custom_query",
    "describe_bounds",
    "error_result",
    "escape_regex",
    "escape_string",
    "fisher_greater",
    "judge",
    "judge_metric",
    "measurement_plan",
    "placeholders",
    "render",
    "request_count",
    "selector",
    "summarize",
    "traefik_normalize",
    "two_proportion_z",
]
