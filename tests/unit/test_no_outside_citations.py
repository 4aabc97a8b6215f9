"""Text in the repository cites only the repository.

Docstrings, docs, examples, scripts and tests state a fact or point at the repository's own
docs (docs/*.md, README sections) — never at pages a reader of the repository cannot open
(a ``../shared/`` tree, a design or style brief, research notes kept elsewhere). Every
tracked text file is read (``git ls-files``); this file is the only one allowed to name
the patterns it looks for.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SELF = Path(__file__).resolve().relative_to(ROOT).as_posix()

# Citations of pages outside the repository.
OUTSIDE = re.compile(
    r"\.\./shared\b"  # ../shared/…, ../../shared/…
    r"|\bshared/(?:seed|research|DESIGN|STYLE)"  # shared/DESIGN.md, shared/research/…
    r"|\bDESIGN(?:\.md|'s|\b)"  # DESIGN.md, "DESIGN's contract", "(DESIGN: …)"
    r"|\bSTYLE(?:\.md|\s+habit)"  # STYLE.md, "STYLE habit 5"
    r"|\bresearch/[\w-]+\.md"  # research/local-control-plane.md
    r"|\bresearch\s+§"  # "research §4.4"
)

# Files other helpers are editing in parallel (issue 12); the lead removes each citation
# there, then its entry here. An entry that no longer cites anything fails the test, so
# this list can only shrink.
PENDING: frozenset[str] = frozenset()


def tracked_texts() -> dict[str, str]:
    """Every tracked file that is UTF-8 text, by its repository path."""
    out = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.decode()
    texts: dict[str, str] = {}
    for name in filter(None, out.split("\0")):
        path = ROOT / name
        if not path.is_file():  # deleted in the work tree, not yet committed
            continue
        try:
            texts[name] = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # binary
    return texts


def citations(texts: dict[str, str]) -> dict[str, list[str]]:
    """``path`` → the lines (``N: text``) that cite a page outside the repository."""
    found: dict[str, list[str]] = {}
    for name, text in texts.items():
        if name == SELF:
            continue
        for number, line in enumerate(text.splitlines(), start=1):
            if OUTSIDE.search(line):
                found.setdefault(name, []).append(f"{number}: {line.strip()}")
    return found


def test_the_pattern_catches_each_kind_of_outside_citation() -> None:
    cited = [
        "(see `../shared/research/anchors-flagger-argo.md` for sources)",
        "# The seed article (../../shared/seed), plus",
        "# Contract: shared/DESIGN.md",
        "Order and meaning are fixed (DESIGN.md): Completed",
        "exit codes follow DESIGN's contract",
        '(DESIGN "Local control plane")',
        "``now`` comes from the caller (STYLE habit 5)",
        "see STYLE.md",
        "Source: research/local-control-plane.md §4.6",
        "from its Go module (research §3.3)",
    ]
    clean = [
        'docs/local-control-plane.md, "Readiness after a route change"',
        "a shared Gateway (the seed's `infra/prod-gateway`)",
        "Go-style durations; header_style='bold'",
        "`maxIncrease: 0.01` by design",
        "examples/routes/seed.yaml",
    ]
    assert [line for line in cited if not OUTSIDE.search(line)] == []
    assert [line for line in clean if OUTSIDE.search(line)] == []


def test_tracked_text_cites_only_the_repository() -> None:
    texts = tracked_texts()
    assert "README.md" in texts and "canary/core/rollout/machine.py" in texts  # really read
    found = citations(texts)
    outside = {name: lines for name, lines in found.items() if name not in PENDING}
    assert outside == {}, "state the fact or cite docs/*.md / README sections instead"
    fixed = sorted(name for name in PENDING if name not in found)
    assert fixed == [], "no longer cites outside the repository: remove it from PENDING"


def test_no_merge_conflict_markers_in_tracked_text() -> None:
    marker = re.compile(r"^(<{7} |>{7} |={7}$)")
    found = [
        f"{name}:{number}"
        for name, text in tracked_texts().items()
        if name != SELF
        for number, line in enumerate(text.splitlines(), start=1)
        if marker.match(line)
    ]
    assert found == []
