"""A tiny, PromQL-free checker for rendered queries: string literals, selectors, samples.

Not a PromQL engine: it finds every ``metric{matchers}`` in a query, parses the matchers
(``=``, ``!=``, ``=~``, ``!~``; Prometheus regexes are fully anchored) and evaluates them
against series recorded in ``samples/*.prom``. A wrong metric or label name fails a test.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

SAMPLES = Path(__file__).parent / "samples"
_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_ESC = {"\\": "\\", '"': '"', "n": "\n", "r": "\r", "t": "\t"}


def lex_string(text: str, pos: int) -> tuple[str, int]:
    """Read a double-quoted PromQL string starting at ``text[pos] == '"'``; return (value, end)."""
    assert text[pos] == '"', text[pos:]
    out: list[str] = []
    i = pos + 1
    while True:
        ch = text[i]
        if ch == '"':
            return "".join(out), i + 1
        if ch in "\n\r":
            raise ValueError("raw newline in string literal")
        if ch == "\\":
            nxt = text[i + 1]
            if nxt == "x":
                out.append(chr(int(text[i + 2 : i + 4], 16)))
                i += 4
                continue
            if nxt not in _ESC:
                # Go's strconv keeps unknown escapes an error; PromQL regexes need "\\."
                raise ValueError(f"invalid escape \\{nxt}")
            out.append(_ESC[nxt])
            i += 2
            continue
        out.append(ch)
        i += 1


@dataclass(frozen=True)
class Matcher:
    label: str
    op: str
    value: str

    def matches(self, labels: dict[str, str]) -> bool:
        actual = labels.get(self.label, "")
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        hit = re.fullmatch(self.value, actual) is not None
        return hit if self.op == "=~" else not hit


@dataclass(frozen=True)
class Selector:
    metric: str
    matchers: tuple[Matcher, ...]

    def matches(self, name: str, labels: dict[str, str]) -> bool:
        return name == self.metric and all(m.matches(labels) for m in self.matchers)


def parse_matchers(text: str, pos: int) -> tuple[tuple[Matcher, ...], int]:
    assert text[pos] == "{"
    i = pos + 1
    out: list[Matcher] = []
    while text[i] != "}":
        m = _NAME.match(text, i)
        assert m, text[i:]
        label, i = m.group(0), m.end()
        op = next(o for o in ("=~", "!~", "!=", "=") if text.startswith(o, i))
        value, i = lex_string(text, i + len(op))
        out.append(Matcher(label, op, value))
        if text[i] == ",":
            i += 1
    return tuple(out), i + 1


def selectors(query: str) -> list[Selector]:
    """Every ``metric{...}`` in the query, in order."""
    found: list[Selector] = []
    i = 0
    while i < len(query):
        if query[i] == '"':
            _, i = lex_string(query, i)
            continue
        m = _NAME.match(query, i)
        if m and (i == 0 or not (query[i - 1].isalnum() or query[i - 1] == "_")):
            end = m.end()
            if end < len(query) and query[end] == "{":
                matchers, i = parse_matchers(query, end)
                found.append(Selector(m.group(0), matchers))
                continue
            i = end
            continue
        i += 1
    return found


@dataclass(frozen=True)
class Series:
    name: str
    labels: dict[str, str]
    value: float


def load(sample: str) -> list[Series]:
    out: list[Series] = []
    for line in (SAMPLES / sample).read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        m = _NAME.match(line)
        assert m
        name = m.group(0)
        matchers, end = parse_matchers(line, m.end())
        out.append(Series(name, {x.label: x.value for x in matchers}, float(line[end:])))
    return out


def matching(selector: Selector, series: list[Series]) -> list[Series]:
    return [s for s in series if selector.matches(s.name, s.labels)]


def total(selector: Selector, series: list[Series]) -> float:
    return sum(s.value for s in matching(selector, series))
