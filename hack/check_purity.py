#!/usr/bin/env python3
"""Fail when the pure core reaches for I/O, the clock, the environment or unseeded randomness.

import-linter checks which modules may be imported; this AST check adds what it cannot see:
calls such as ``datetime.now()``, ``time.time()``, ``random.random()``, ``os.environ`` and
``open()``. Usage: ``check_purity.py DIR...``; exit 1 with one line per violation.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

FORBIDDEN_IMPORTS = {
    "kopf",
    "kubernetes",
    "requests",
    "urllib3",
    "httpx",
    "aiohttp",
    "asyncio",
    "logging",
    "os",
    "time",
    "subprocess",
    "socket",
    "threading",
    "prometheus_api_client",
    "tenacity",
}
# attribute chains whose *use* is forbidden (called or read)
FORBIDDEN_ATTRS = {
    ("datetime", "now"),
    ("datetime", "utcnow"),
    ("datetime", "today"),
    ("date", "today"),
    ("time", "time"),
    ("time", "monotonic"),
    ("os", "environ"),
    ("os", "getenv"),
}
RANDOM_FUNCS = {"random", "randint", "choice", "choices", "shuffle", "sample", "uniform", "seed"}
FORBIDDEN_CALLS = {"open", "input", "print", "breakpoint"}


def _chain(node: ast.AST) -> list[str]:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return list(reversed(parts))


def check_file(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    errors: list[str] = []

    def err(node: ast.AST, msg: str) -> None:
        errors.append(f"{path}:{getattr(node, 'lineno', 0)}: {msg}")

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in FORBIDDEN_IMPORTS:
                    err(node, f"core must not import {alias.name}")
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] in FORBIDDEN_IMPORTS:
                err(node, f"core must not import from {node.module}")
            if node.module == "random":
                for alias in node.names:
                    if alias.name in RANDOM_FUNCS:
                        err(node, f"core must not use unseeded random.{alias.name}")
        elif isinstance(node, ast.Attribute):
            chain = _chain(node)
            if len(chain) >= 2 and tuple(chain[-2:]) in FORBIDDEN_ATTRS:
                err(node, f"core must not use {'.'.join(chain)} (inject it)")
            if len(chain) == 2 and chain[0] == "random" and chain[1] in RANDOM_FUNCS:
                err(node, f"core must not use unseeded random.{chain[1]} (use random.Random(seed))")
        elif isinstance(node, ast.Call):
            if isinstance(node.func, ast.Name) and node.func.id in FORBIDDEN_CALLS:
                err(node, f"core must not call {node.func.id}()")
            chain = _chain(node.func)
            if chain[-2:] == ["random", "Random"] and not node.args and not node.keywords:
                err(node, "core must not create an unseeded random.Random()")
    return errors


def main(argv: list[str]) -> int:
    roots = [Path(a) for a in argv] or [Path("canary/core")]
    errors: list[str] = []
    for root in roots:
        files = [root] if root.is_file() else sorted(root.rglob("*.py"))
        for f in files:
            errors.extend(check_file(f))
    for e in errors:
        print(e)
    if errors:
        print(f"purity check: {len(errors)} violation(s)")
        return 1
    count = sum(1 if r.is_file() else len(list(r.rglob("*.py"))) for r in roots)
    print(f"purity check: ok ({count} files)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
