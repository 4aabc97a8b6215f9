"""docs/evaluator-spec.md has a section per divergence of the traefik profile: the
version it was observed on, a source file in Traefik, and tests that exist."""

from __future__ import annotations

import re
from pathlib import Path

from canary.core.routing import TRAEFIK_PROFILE
from canary.core.routing.profiles import TRAEFIK_VERSION

REPO = Path(__file__).resolve().parents[3]
DOC = (REPO / "docs" / "evaluator-spec.md").read_text()
TESTS = "\n".join(p.read_text() for p in (REPO / "tests").rglob("test_*.py"))


def _section(code: str) -> str:
    start = DOC.index(f"\n#### {code}\n")
    end = DOC.find("\n#### ", start + 1)
    following = DOC.find("\n### ", start + 1)
    end = min(x for x in (end, following) if x > 0)
    return DOC[start:end]


def test_every_divergence_has_a_section_with_version_source_and_tests() -> None:
    assert TRAEFIK_VERSION == "Traefik 3.7.15"
    for d in TRAEFIK_PROFILE.divergences:
        assert d.observed_on == TRAEFIK_VERSION, d.code
        text = _section(d.code)
        assert "Traefik 3.7.15:" in text, d.code
        assert re.search(r"Source: .*`pkg/[a-z/_]+\.go`", text, re.S), d.code
        tests = re.findall(r"`(?:[\w/.]+::)?(test_\w+)(?:\[\*\])?`", text)
        assert tests, d.code
        for name in tests:
            assert f"def {name}(" in TESTS, f"{d.code}: {name} not found"
        # the profile's own source citation names a file the section cites too
        first_file = d.source.split(" ")[0].rsplit("/", 1)[-1].rstrip(";")
        assert first_file in text, (d.code, first_file)
