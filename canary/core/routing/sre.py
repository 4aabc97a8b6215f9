"""The parts of Python's own regex parser ``parse_rules`` uses to inspect a pattern.

``re._parser`` (3.11+; ``sre_parse`` before) is CPython's parser behind ``re.compile``:
it gives the pattern's structure without a second regex grammar of our own. It is a
private module, so everything used from it is named here, in one place.
"""

from __future__ import annotations

from re import _constants, _parser  # type: ignore[attr-defined]
from typing import Any

MAX_REPEAT: Any = _constants.MAX_REPEAT
MIN_REPEAT: Any = _constants.MIN_REPEAT
POSSESSIVE_REPEAT: Any = _constants.POSSESSIVE_REPEAT
SUBPATTERN: Any = _constants.SUBPATTERN
BRANCH: Any = _constants.BRANCH
ASSERT: Any = _constants.ASSERT
ASSERT_NOT: Any = _constants.ASSERT_NOT
MAXREPEAT: int = int(_constants.MAXREPEAT)


def parse(pattern: str) -> Any:
    """The parsed pattern: a sequence of ``(opcode, argument)`` (already compiled once)."""
    return _parser.parse(pattern)
