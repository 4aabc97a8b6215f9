"""Level-triggered resync: one pass per known Rollout when due, leader only.

kopf's timers would do this, but kopf attaches its finalizer to every object a timer
serves and writes progress annotations when a handler retries: writes a standby must not
make. So kopf only watches (``on.event``), and this scheduler runs the passes: at most one
pass per Rollout at a time, on a bounded pool of workers, each Rollout again ``interval``
seconds after its last pass ended (the safety net) or sooner when the pass asked for it
(``decide``'s ``requeue_after``), at once when
``prompt`` (a new Rollout, a new command, a deletion) or when leadership is gained.
Nothing runs while ``active()`` is False (a standby): due passes wait for leadership.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import Any

log = logging.getLogger("canary.operator")

Key = tuple[str, str]
Pass = Callable[[dict[str, Any]], float | None]  # body → delay until the next pass (None: interval)


class Resync:
    def __init__(
        self,
        run: Pass,
        *,
        interval: float,
        active: Callable[[], bool],
        workers: int = 8,
        executor: Executor | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._run = run
        self.interval = interval
        self._active = active
        self.workers = workers
        self._executor = executor or ThreadPoolExecutor(workers, thread_name_prefix="canary-pass")
        self._clock = clock
        self._bodies: dict[Key, dict[str, Any]] = {}
        self._due: dict[Key, float] = {}
        self._running: set[Key] = set()
        self._again: set[Key] = set()  # prompted while running: due at once when it ends
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="canary-resync", daemon=True)

    # -- what the watch tells -----------------------------------------------------------

    def upsert(self, key: Key, body: dict[str, Any], *, prompt: bool = False) -> None:
        with self._cond:
            new = key not in self._bodies
            self._bodies[key] = body
            if new or prompt:
                if key in self._running:
                    self._again.add(key)
                else:
                    self._due[key] = self._clock()
            self._cond.notify_all()

    def prompt(self, keys: Iterable[Key]) -> int:
        """Make the known ones of ``keys`` due now (something they read changed); how many."""
        n = 0
        with self._cond:
            now = self._clock()
            for key in keys:
                if key not in self._bodies:
                    continue
                n += 1
                if key in self._running:
                    self._again.add(key)
                elif self._due.get(key, now + 1) > now:
                    self._due[key] = now
            if n:
                self._cond.notify_all()
        return n

    def forget(self, key: Key) -> None:
        with self._cond:
            self._bodies.pop(key, None)
            self._due.pop(key, None)
            self._again.discard(key)

    def wake_all(self) -> None:
        """Everything due now (leadership was just gained)."""
        with self._cond:
            now = self._clock()
            for key in self._bodies:
                if key in self._running:
                    self._again.add(key)
                else:
                    self._due[key] = now
            self._cond.notify_all()

    def bodies_in(self, namespace: str) -> list[dict[str, Any]]:
        """The Rollouts of ``namespace`` as the watch last delivered them (a copy)."""
        with self._cond:
            return [dict(b) for (ns, _), b in self._bodies.items() if ns == namespace]

    def known(self) -> list[Key]:
        with self._cond:
            return sorted(self._bodies)

    # -- running passes -----------------------------------------------------------------

    def dispatch(self) -> list[Key]:
        """Start every due pass (none unless active); the keys started."""
        if not self._active():
            return []
        with self._cond:
            now = self._clock()
            # the longest-waiting first, and only as many as there are free workers: a
            # pass asked for soon (a step's verification) never queues behind a backlog of
            # passes submitted long before it (measured at 1,000 new Rollouts)
            ready = [
                k
                for k, due in sorted(self._due.items(), key=lambda kv: (kv[1], kv[0]))
                if due <= now and k not in self._running
            ][: max(0, self.workers - len(self._running))]
            for key in ready:
                self._running.add(key)
                del self._due[key]
            bodies = [(key, self._bodies[key]) for key in ready]
        for key, body in bodies:
            self._executor.submit(self._one, key, body)
        return ready

    def _one(self, key: Key, body: dict[str, Any]) -> None:
        delay: float | None = None
        try:
            delay = self._run(body)
        except Exception:  # a pass must never kill the worker; log and try again later
            log.exception("%s/%s: pass failed", *key)
        finally:
            with self._cond:
                self._running.discard(key)
                if key in self._bodies:
                    again = key in self._again
                    self._again.discard(key)
                    # the pass's own next-due time, never later than the safety net
                    asked = self.interval if delay is None else delay
                    wait = 0.0 if again else min(self.interval, asked)
                    self._due[key] = self._clock() + wait
                self._cond.notify_all()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.dispatch()
            active = self._active()
            with self._cond:
                wait = 0.5
                if active and self._due:
                    wait = max(0.01, min(wait, min(self._due.values()) - self._clock()))
                self._cond.wait(wait)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        self._executor.shutdown(wait=False, cancel_futures=True)
