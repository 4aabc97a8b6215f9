"""Suite-wide: under `make test` a test never skips for want of a tool.

Some tests skip when a tool of `make tools` is missing (helm for the chart, actionlint for
the CI example, lint-imports for the layering), which is right for a quick `pytest` on a
laptop. `make test` builds every tool first and sets ``CANARY_REQUIRE_TOOLS=1``: there such
a skip is a failure, so a broken tool build cannot turn those checks into silent skips.
"""

from __future__ import annotations

import os
from collections.abc import Generator
from typing import Any

import pytest

MISSING_TOOL = ("make tools", "not built", "not installed")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Generator[None]:
    outcome = yield
    report = outcome.get_result()
    if os.environ.get("CANARY_REQUIRE_TOOLS") != "1" or not report.skipped:
        return
    reason = (
        str(report.longrepr[-1]) if isinstance(report.longrepr, tuple) else str(report.longrepr)
    )
    if any(phrase in reason for phrase in MISSING_TOOL):
        report.outcome = "failed"
        report.longrepr = f"a tool is missing under make test (CANARY_REQUIRE_TOOLS=1): {reason}"
