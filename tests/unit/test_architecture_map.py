"""docs/architecture.md stays true to the tree.

- "Question → module(s)": every path exists, and every function, class, method or
  constant named after a path is defined in that file (read with ``ast``, nothing is
  imported).
- "The tree": every package of ``canary/`` is listed, and each package's modules are
  exactly its ``*.py`` files (``__init__`` aside).
- "Layers": every import-linter contract of ``.importlinter`` is named.
"""

from __future__ import annotations

import ast
import configparser
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "architecture.md"

REQUIRED_QUESTIONS = (
    "step's weights",
    "route patch guarded",
    "check judged",
    "queries does a check run",
    "request routed",
    "Traefik's behaviour",
    "command acted on once",
    "leadership decided",
    "leadership enforced",
    "pass read",
    "wakes a Rollout",
    "stale watch copy",
    "ownership of a rule",
    "fight with another field manager",
    "drift after Succeeded",
    "CLI stay fast",
)


def section(title: str) -> str:
    """The text of the ``## title`` section of the map."""
    text = DOC.read_text(encoding="utf-8")
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def rows(text: str) -> list[list[str]]:
    """The body rows of the markdown table(s) in ``text``, as cells (``\\|`` kept in)."""
    out = []
    for line in text.splitlines():
        if not line.startswith("|") or set(line) <= set("|-: "):
            continue
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip()[1:-1])]
        out.append(cells)
    return out[1:] if out else out  # the header row


def defined(path: Path) -> set[str]:
    """Names a module defines: top-level functions, classes, assignments, and
    ``Class.member`` for what a class body defines."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()

    def targets(node: ast.stmt) -> list[str]:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            return [node.name]
        if isinstance(node, ast.Assign):
            return [t.id for t in node.targets if isinstance(t, ast.Name)]
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            return [node.target.id]
        return []

    for node in tree.body:
        names.update(targets(node))
        if isinstance(node, ast.ClassDef):
            names.update(f"{node.name}.{member}" for sub in node.body for member in targets(sub))
    return names


def map_entries() -> list[tuple[str, str, list[str]]]:
    """(question, path, symbols) for every module named in the question table."""
    entries = []
    for cells in rows(section("Question → module(s)")):
        question, modules = cells[0], cells[1]
        for piece in modules.split("<br>"):
            tokens = re.findall(r"`([^`]+)`", piece)
            assert tokens, f"{question}: {piece!r} names no path"
            entries.append((question, tokens[0], tokens[1:]))
    return entries


def test_the_map_answers_the_questions_it_promises() -> None:
    questions = [cells[0] for cells in rows(section("Question → module(s)"))]
    missing = [q for q in REQUIRED_QUESTIONS if not any(q in asked for asked in questions)]
    assert missing == []
    assert all(len(cells) == 3 and cells[2] for cells in rows(section("Question → module(s)")))


def test_every_path_in_the_map_exists_and_defines_what_it_names() -> None:
    entries = map_entries()
    assert len(entries) >= 40
    problems = []
    for question, path, symbols in entries:
        file = ROOT / path
        if not file.exists():
            problems.append(f"{question}: {path} does not exist")
            continue
        if symbols and file.suffix != ".py":
            problems.append(f"{question}: {path} is not a Python module but names {symbols}")
            continue
        names = defined(file) if symbols else set()
        problems += [f"{question}: {path} defines no {s}" for s in symbols if s not in names]
    assert problems == []


def test_the_tree_lists_every_package_and_module() -> None:
    listed: dict[str, set[str]] = {}
    for cells in rows(section("The tree")):
        [package] = re.findall(r"`([^`]+)`", cells[0])
        without_notes = re.sub(r"\([^()]*\)", "", cells[2])
        listed[package] = set(re.findall(r"`(\w+)`", without_notes))
    packages = {
        init.parent.relative_to(ROOT).as_posix() + "/"
        for init in (ROOT / "canary").rglob("__init__.py")
    }
    assert set(listed) == packages
    for package, modules in listed.items():
        present = {p.stem for p in (ROOT / package).glob("*.py")} - {"__init__"}
        assert (package, modules) == (package, present)


def test_the_layers_name_every_import_linter_contract() -> None:
    config = configparser.ConfigParser()
    config.read(ROOT / ".importlinter")
    contracts = [
        config[s]["name"] for s in config.sections() if s.startswith("importlinter:contract:")
    ]
    assert len(contracts) >= 7
    layers = section("Layers").replace("\\|", "|")
    assert [c for c in contracts if c not in layers] == []
