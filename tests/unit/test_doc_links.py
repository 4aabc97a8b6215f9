"""Every relative link in README.md, docs/ and chart/README.md points at a file that
exists and, with a #fragment into a Markdown file, at a heading there (GitHub's slugs)."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FILES = [REPO / "README.md", REPO / "chart" / "README.md", *sorted((REPO / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    out: set[str] = set()
    fenced = False
    for line in path.read_text().splitlines():
        if line.startswith("```"):
            fenced = not fenced
        m = None if fenced else re.match(r"^#{1,6} (.*)", line)
        if m:
            s = slug(m.group(1))
            n = seen.get(s, 0)
            seen[s] = n + 1
            out.add(s if n == 0 else f"{s}-{n}")
    return out


def test_slug_follows_github() -> None:
    heading = "Contested: no endless fight with a GitOps tool (`canary.core.rollout.contest`)"
    assert slug(heading) == "contested-no-endless-fight-with-a-gitops-tool-canarycorerolloutcontest"


def test_relative_links_and_anchors_resolve() -> None:
    bad = []
    for f in FILES:
        for m in LINK.finditer(f.read_text()):
            target = m.group(1)
            if target.startswith(("http://", "https://", "mailto:")):
                continue
            path, _, fragment = target.partition("#")
            to = (f.parent / path).resolve() if path else f
            if not to.exists():
                bad.append(f"{f.relative_to(REPO)}: {target} (no such file)")
            elif fragment and to.suffix == ".md" and fragment not in anchors(to):
                bad.append(f"{f.relative_to(REPO)}: {target} (no such heading)")
    assert not bad, "\n".join(bad)
