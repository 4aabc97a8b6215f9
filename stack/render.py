"""Render `${VAR}` templates from the environment (strict: a missing variable is an error).

    python -m stack.render stack/fixtures/*.yaml > out.yaml

Used by hack/cluster-up.sh so the stack needs no envsubst. Several files are joined
with YAML document separators.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from string import Template


def render(text: str, values: Mapping[str, str]) -> str:
    """Substitute every `${VAR}`; raise KeyError naming a missing one."""
    return Template(text).substitute(values)


def main(argv: Sequence[str] | None = None) -> int:
    paths = list(sys.argv[1:] if argv is None else argv)
    if not paths:
        print("usage: python -m stack.render FILE...", file=sys.stderr)
        return 3
    docs = []
    for path in paths:
        try:
            docs.append(render(Path(path).read_text(), os.environ).strip())
        except KeyError as exc:
            print(f"{path}: variable {exc} is not set", file=sys.stderr)
            return 3
    print("\n---\n".join(docs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
