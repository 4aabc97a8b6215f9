"""Failpoints: parsed from CANARY_FAILPOINTS only, counted terms, pause files, real signals."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from canary.operator import failpoints
from canary.operator.failpoints import FailpointError, Failpoints, Term, parse


def test_unset_means_nothing_armed_and_hit_does_nothing() -> None:
    fp = Failpoints.from_env({})
    assert fp.armed == ()
    fp.hit("before-route-write")  # returns at once: nothing armed
    assert Failpoints.from_env({"CANARY_FAILPOINTS": "  "}).armed == ()


def test_parse_terms_counts_and_several_points() -> None:
    got = parse("before-route-write=1*off->sigstop; before-lease-write=pause-file:/tmp/x")
    assert got == {
        "before-route-write": [Term("off", None, 1), Term("sigstop", None, None)],
        "before-lease-write": [Term("pause-file", "/tmp/x", None)],
    }


@pytest.mark.parametrize(
    "spec, message",
    [
        ("before-route-write", "expected NAME=ACTION"),
        ("nowhere=kill", "unknown failpoint"),
        ("before-route-write=explode", "unknown action 'explode'"),
        ("before-route-write=x*kill", "count 'x' is not a number"),
        ("before-route-write=0*kill", "count must be >= 1"),
        ("before-route-write=kill->off", "only the last term may go without a COUNT"),
        ("before-route-write=pause-file:", "unknown action"),
    ],
)
def test_bad_specs_name_the_point_and_the_problem(spec: str, message: str) -> None:
    with pytest.raises(FailpointError, match="CANARY_FAILPOINTS") as err:
        parse(spec)
    assert message in str(err.value)


def test_counted_terms_hand_over_in_order() -> None:
    fp = Failpoints(parse("before-route-write=2*off->1*pause-file:/nonexistent->off"))
    assert [fp._next("before-route-write") for _ in range(5)] == [
        Term("off", None, 2),
        Term("off", None, 2),
        Term("pause-file", "/nonexistent", 1),
        Term("off", None, None),
        Term("off", None, None),
    ]
    assert fp._next("before-status-write") is None  # not armed


def test_counted_terms_used_up_mean_off() -> None:
    fp = Failpoints(parse("before-route-write=1*pause-file:/nonexistent"))
    assert fp._next("before-route-write") == Term("pause-file", "/nonexistent", 1)
    assert fp._next("before-route-write") is None


def test_pause_file_blocks_the_thread_until_the_file_goes(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    gate = tmp_path / "gate"
    fp = Failpoints(parse(f"before-route-write=pause-file:{gate}"))
    with caplog.at_level("WARNING", logger="canary.failpoints"):
        fp.hit("before-route-write")  # no file yet: passes, says nothing
    assert caplog.records == []
    gate.touch()
    passed = threading.Event()

    def writer() -> None:
        fp.hit("before-route-write")
        passed.set()

    t = threading.Thread(target=writer, daemon=True)
    t.start()
    # still held after several poll periods (the file is there)
    assert not passed.wait(10 * failpoints.PAUSE_POLL)
    gate.unlink()
    assert passed.wait(5), "the failpoint did not release when its file was removed"
    t.join(5)
    messages = [r.getMessage() for r in caplog.records]
    assert messages == [
        f"failpoint before-route-write: pause-file:{gate}",
        "failpoint before-route-write: released",
    ]


def _child(spec: str) -> subprocess.Popen[str]:
    code = textwrap.dedent(
        """
        import sys
        from canary.operator import failpoints
        failpoints.configure(failpoints.Failpoints.from_env())
        print("before", flush=True)
        failpoints.hit("before-route-write")
        print("after", flush=True)
        """
    )
    env = {**os.environ, "CANARY_FAILPOINTS": spec}
    return subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env=env,
    )  # fmt: skip


def _state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


def test_sigstop_stops_the_process_at_the_point_and_sigcont_resumes_it() -> None:
    proc = _child("before-route-write=sigstop")
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "before"
        deadline = time.monotonic() + 20
        while _state(proc.pid) != "T":  # wait on the condition, bounded
            assert time.monotonic() < deadline, "the child never stopped itself"
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGCONT)
        out, err = proc.communicate(timeout=20)
        assert out.strip() == "after" and proc.returncode == 0, err
        assert "failpoint before-route-write: sigstop" in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_kill_ends_the_process_at_the_point() -> None:
    proc = _child("before-route-write=kill")
    out, _ = proc.communicate(timeout=20)
    assert out.strip() == "before"  # never printed "after"
    assert proc.returncode == -signal.SIGKILL
