"""Read Kubernetes manifests (multi-document YAML) for offline verbs, with one-line errors.

``kubectl apply -f`` conventions: ``-f`` takes files, directories (their ``*.yaml``,
``*.yml`` and ``*.json`` files, sorted, not recursive) and ``-`` for stdin; empty
documents are skipped and ``kind: List`` is flattened into its items. Anything that is
not a readable mapping with a ``kind`` is a ``UsageFailure`` (exit 3) naming the file
and document, never a traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from canary.cli.app import UsageFailure

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")

# the C loader is much faster on large manifests; same semantics
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def expand_paths(paths: Iterable[str]) -> list[str]:
    """Files as given, directories replaced by their manifest files (sorted)."""
    out: list[str] = []
    for raw in paths:
        path = Path(raw)
        if raw != "-" and path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix in MANIFEST_SUFFIXES)
            if not found:
                raise UsageFailure(f"{raw}: no .yaml, .yml or .json files in this directory")
            out.extend(str(p) for p in found if p.is_file())
        else:
            out.append(raw)
    return out


def _read(path: str) -> str:
    if path == "-":
        return sys.stdin.read()
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageFailure(f"{path}: no such file") from None
    except UnicodeDecodeError:
        raise UsageFailure(f"{path}: not a UTF-8 text file") from None
    except OSError as exc:
        raise UsageFailure(f"{path}: cannot read: {exc.strerror or exc}") from None


def _yaml_error(path: str, exc: yaml.YAMLError) -> UsageFailure:
    mark = getattr(exc, "problem_mark", None)
    where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark is not None else path
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return UsageFailure(f"{where}: invalid YAML: {problem}")


def load_documents(paths: Iterable[str]) -> list[tuple[str, dict[str, Any]]]:
    """Every Kubernetes object in ``paths`` as ``(source, object)``.

    ``source`` is ``path`` for a single-document file and ``path#n`` (1-based) otherwise,
    for messages. Raises ``UsageFailure`` for missing or unreadable files, invalid YAML,
    and documents that are not objects with a ``kind``.
    """
    out: list[tuple[str, dict[str, Any]]] = []
    for path in expand_paths(paths):
        text = _read(path)
        try:
            docs = [d for d in yaml.load_all(text, Loader=_Loader) if d is not None]
        except yaml.YAMLError as exc:
            raise _yaml_error(path, exc) from None
        for n, doc in enumerate(docs, start=1):
            source = path if len(docs) == 1 else f"{path}#{n}"
            out.extend(_objects(source, doc))
    return out


def _objects(source: str, doc: Any) -> list[tuple[str, dict[str, Any]]]:
    if not isinstance(doc, dict):
        raise UsageFailure(f"{source}: expected a Kubernetes object, got a {_type_name(doc)}")
    kind = doc.get("kind")
    if not isinstance(kind, str) or not kind:
        raise UsageFailure(f"{source}: not a Kubernetes object (no kind)")
    if kind == "List" or (kind.endswith("List") and isinstance(doc.get("items"), list)):
        items = doc.get("items")
        if not isinstance(items, list):
            raise UsageFailure(f"{source}: kind List without an items list")
        out: list[tuple[str, dict[str, Any]]] = []
        for n, item in enumerate(items):
            out.extend(_objects(f"{source} items[{n}]", item))
        return out
    return [(source, doc)]


def _type_name(value: Any) -> str:
    return {list: "list", str: "string", int: "number", float: "number", bool: "boolean"}.get(
        type(value), type(value).__name__
    )
