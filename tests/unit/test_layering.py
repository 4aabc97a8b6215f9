"""The layering and purity checks pass on the tree and fail on a planted violation."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
# `make floors` runs the unit tests in a venv without the lint tools (hack/floors.py)
needs_lint_imports = pytest.mark.skipif(
    not LINT_IMPORTS.exists(), reason="lint-imports not installed here (make floors venv)"
)


def _lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run(
        [str(LINT_IMPORTS), str(ROOT / ".importlinter"), "--no-cache"],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def _purity(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "hack" / "check_purity.py"), str(path)],
        capture_output=True,
        text=True,
        check=False,
    )


def _copy_tree(tmp_path: Path) -> Path:
    shutil.copytree(
        ROOT / "canary", tmp_path / "canary", ignore=shutil.ignore_patterns("__pycache__")
    )
    return tmp_path


@needs_lint_imports
def test_layering_holds_on_the_tree() -> None:
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_purity_holds_on_the_tree() -> None:
    result = _purity(ROOT / "canary" / "core")
    assert result.returncode == 0, result.stdout


@needs_lint_imports
def test_planted_kopf_import_in_core_fails_layering(tmp_path: Path) -> None:
    tree = _copy_tree(tmp_path)
    (tree / "canary" / "core" / "planted.py").write_text("import kopf  # planted\n")
    result = _lint_imports(tree)
    assert result.returncode != 0
    assert "canary.core.planted -> kopf" in result.stdout


@needs_lint_imports
def test_planted_upward_import_fails_layering(tmp_path: Path) -> None:
    tree = _copy_tree(tmp_path)
    (tree / "canary" / "core" / "planted.py").write_text("import canary.cli.app  # planted\n")
    result = _lint_imports(tree)
    assert result.returncode != 0
    assert "canary.core.planted" in result.stdout


@pytest.mark.parametrize(
    "source, fragment",
    [
        ("import kopf\n", "must not import kopf"),
        ("from datetime import datetime\nx = datetime.now()\n", "datetime.now"),
        ("import random\nx = random.random()\n", "unseeded random.random"),
        ("import random\nr = random.Random()\n", "unseeded random.Random()"),
        ("import os\nx = os.environ['A']\n", "must not import os"),
        ("import time\nx = time.time()\n", "time.time"),
        ("x = open('f')\n", "must not call open()"),
    ],
)
def test_purity_check_flags_planted_violation(tmp_path: Path, source: str, fragment: str) -> None:
    planted = tmp_path / "planted.py"
    planted.write_text(source)
    result = _purity(planted)
    assert result.returncode == 1
    assert fragment in result.stdout


def test_purity_check_accepts_seeded_random(tmp_path: Path) -> None:
    ok = tmp_path / "ok.py"
    ok.write_text("import random\nr = random.Random(7)\nx = r.random()\n")
    assert _purity(ok).returncode == 0
