"""Failpoints: named points in the operator where a test can pause or kill the process.

Modelled on etcd's gofail. Enabled only by the environment variable ``CANARY_FAILPOINTS``;
unset (production), :func:`hit` is one lookup in an empty dict and does nothing.

Syntax: ``NAME=TERMS[;NAME=TERMS]...``; TERMS is ``TERM[->TERM]...``; a TERM is
``[COUNT*]ACTION``: the first term acts for its next COUNT hits, then the next term takes
over; the last term without a count acts for ever. Actions:

``off``               nothing (e.g. ``1*off->sigstop``: let the first hit pass)
``sigstop``           the process stops itself (SIGSTOP); a test resumes it with SIGCONT
``kill``              the process kills itself (SIGKILL)
``pause-file:PATH``   this thread waits while PATH exists (a test creates it to arm the
                      point and removes it to release; no file: the hit passes)

Each hit that acts is logged (``failpoint NAME: ACTION``) before it acts, so a test can
wait for it; a pause logs ``released`` when it ends. Points (see docs/operator.md):
``before-status-write``, ``before-event-write``, ``before-route-write``,
``before-finalizer-write`` (after the decision, before the final leadership check and the
write), ``before-lease-write`` (after the Lease decision).
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass

log = logging.getLogger("canary.failpoints")

ENV = "CANARY_FAILPOINTS"
POINTS = (
    "before-status-write",
    "before-event-write",
    "before-route-write",
    "before-finalizer-write",
    "before-lease-write",
)
PAUSE_POLL = 0.05  # seconds between checks of a pause file


class FailpointError(ValueError):
    """A malformed ``CANARY_FAILPOINTS`` value."""


@dataclass(frozen=True)
class Term:
    action: str  # off | sigstop | kill | pause-file
    arg: str | None = None  # the pause file
    count: int | None = None  # None: for ever

    def describe(self) -> str:
        return f"{self.action}:{self.arg}" if self.arg else self.action


def _parse_term(text: str, *, where: str) -> Term:
    count: int | None = None
    if "*" in text:
        head, text = text.split("*", 1)
        try:
            count = int(head)
        except ValueError:
            raise FailpointError(f"{where}: count {head!r} is not a number") from None
        if count < 1:
            raise FailpointError(f"{where}: count must be >= 1, got {count}")
    if text in ("off", "sigstop", "kill"):
        return Term(text, None, count)
    if text.startswith("pause-file:") and len(text) > len("pause-file:"):
        return Term("pause-file", text[len("pause-file:") :], count)
    raise FailpointError(f"{where}: unknown action {text!r} (off, sigstop, kill, pause-file:PATH)")


def parse(spec: str) -> dict[str, list[Term]]:
    """``CANARY_FAILPOINTS``'s value → terms per point; FailpointError naming the culprit."""
    out: dict[str, list[Term]] = {}
    for item in filter(None, (part.strip() for part in spec.split(";"))):
        name, sep, terms = item.partition("=")
        name = name.strip()
        where = f"{ENV}: {name or item!r}"
        if not sep or not terms.strip():
            raise FailpointError(f"{where}: expected NAME=ACTION")
        if name not in POINTS:
            raise FailpointError(f"{where}: unknown failpoint (known: {', '.join(POINTS)})")
        parsed = [_parse_term(t.strip(), where=where) for t in terms.split("->")]
        if any(t.count is None for t in parsed[:-1]):
            raise FailpointError(f"{where}: only the last term may go without a COUNT*")
        out[name] = parsed
    return out


class Failpoints:
    """The armed points of this process; ``hit(name)`` acts on them."""

    def __init__(self, points: Mapping[str, list[Term]] | None = None) -> None:
        self._points = {k: list(v) for k, v in (points or {}).items()}
        self._hits: dict[str, int] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Failpoints:
        spec = (environ if environ is not None else os.environ).get(ENV, "")
        return cls(parse(spec)) if spec.strip() else cls()

    @property
    def armed(self) -> tuple[str, ...]:
        return tuple(self._points)

    def _next(self, name: str) -> Term | None:
        terms = self._points.get(name)
        if not terms:
            return None
        with self._lock:
            hits = self._hits.get(name, 0)
            self._hits[name] = hits + 1
        for term in terms:
            if term.count is None:
                return term
            if hits < term.count:
                return term
            hits -= term.count
        return None  # every counted term used up: off

    def hit(self, name: str) -> None:
        if not self._points:
            return
        term = self._next(name)
        if term is None or term.action == "off":
            return
        if term.action == "pause-file" and not (term.arg and os.path.exists(term.arg)):
            return  # no file: nothing to wait for (and nothing to log)
        log.warning("failpoint %s: %s", name, term.describe())
        for handler in logging.getLogger().handlers:
            handler.flush()
        # Sent to this thread, not the process: a process-directed signal may be taken by
        # another thread while this one runs on for a moment (seen here: "continued" logged
        # in the same millisecond as the stop, then the guard and the write went ahead of
        # the stop); a signal to the calling thread is delivered before pthread_kill returns.
        if term.action == "sigstop":
            signal.pthread_kill(threading.get_ident(), signal.SIGSTOP)
            log.warning("failpoint %s: continued", name)
        elif term.action == "kill":
            signal.pthread_kill(threading.get_ident(), signal.SIGKILL)
        elif term.action == "pause-file" and term.arg:
            while os.path.exists(term.arg):
                time.sleep(PAUSE_POLL)
            log.warning("failpoint %s: released", name)


_active = Failpoints()


def configure(failpoints: Failpoints) -> None:
    """Install the process's failpoints (``canary run`` does it from the environment)."""
    global _active
    _active = failpoints
    if failpoints.armed:
        log.warning("failpoints armed (%s): %s", ENV, ", ".join(failpoints.armed))


def hit(name: str) -> None:
    """Pass failpoint ``name``: nothing unless ``CANARY_FAILPOINTS`` armed it."""
    _active.hit(name)
