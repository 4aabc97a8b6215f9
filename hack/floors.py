"""Print pip constraints that pin every declared dependency to its floor (``>=X`` → ``==X``).

``make floors`` installs canary with these constraints into a separate venv, with the
test runners at their floors (``--test-runners``), and runs the unit tests there, so the
minimum versions in pyproject.toml are tested, not guessed.
Transitive dependencies resolve as pip chooses (only canary's own declarations are pinned).
A requirement without a ``>=`` floor is left unpinned and reported on stderr.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_REQ = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*(.*)$")
_FLOOR = re.compile(r">=\s*([0-9][A-Za-z0-9.]*)")


def floors(pyproject: Path) -> tuple[list[str], list[str]]:
    """(``name==floor`` lines, names without a floor) for dependencies and the dev extra."""
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    reqs = list(project.get("dependencies", []))
    reqs += project.get("optional-dependencies", {}).get("dev", [])
    pins: list[str] = []
    unpinned: list[str] = []
    for req in reqs:
        m = _REQ.match(req)
        if not m:
            raise SystemExit(f"cannot read requirement {req!r}")
        floor = _FLOOR.search(m.group(2))
        if floor:
            pins.append(f"{m.group(1)}=={floor.group(1)}")
        else:
            unpinned.append(m.group(1))
    return pins, unpinned


# Of the dev extra, what the unit tests need to run. The lint tools (ruff, mypy,
# import-linter) stay out of the floors venv: import-linter's own floor pulls rich and
# click above canary's runtime floors, which would make those floors untestable here.
TEST_RUNNERS = ("pytest", "pytest-cov", "pytest-timeout", "hypothesis")


def main() -> None:
    pins, unpinned = floors(ROOT / "pyproject.toml")
    if sys.argv[1:] == ["--test-runners"]:
        print(
            " ".join(
                p.split("==")[0] + "==" + p.split("==")[1]
                for p in pins
                if p.split("==")[0] in TEST_RUNNERS
            )
        )
        return
    print("\n".join(pins))
    if unpinned:
        print(f"floors: no '>=' floor (left unpinned): {', '.join(unpinned)}", file=sys.stderr)


if __name__ == "__main__":
    main()
