"""The analysis-quality simulation (benchmarks/analysis_quality.py): its emulation of
Prometheus, its step rules against the real state machine, and a --quick smoke run."""

from __future__ import annotations

import importlib.util
import math
import random
import sys
from pathlib import Path
from types import ModuleType

import pytest

from canary.core.phases import Verdict
from tests.unit.core.test_machine_support import Sim, make_rollout, make_spec


def _load() -> ModuleType:
    path = Path(__file__).resolve().parents[3] / "benchmarks" / "analysis_quality.py"
    spec = importlib.util.spec_from_file_location("analysis_quality", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["analysis_quality"] = module
    spec.loader.exec_module(module)
    return module


aq = _load()


def series(*points: tuple[float, float]) -> object:
    s = aq.Series()
    for t, v in points:
        s.samples.append((t, v))
    s.born = bool(points)
    return s


def test_increase_extrapolates_like_prometheus() -> None:
    # 4 samples 15 s apart, 5 s from each edge of a 60 s window: extrapolated to the edges
    s = series((5, 10), (20, 13), (35, 16), (50, 19))
    assert aq.increase(s, 0, 60) == pytest.approx(9 * 60 / 45)
    # the zero point limits extrapolation to the left: the counter was 0 at t = 5 - 45/29
    born = series((5, 1), (20, 10), (35, 20), (50, 30))
    assert aq.increase(born, 0, 60) == pytest.approx(29 * (45 + 45 / 29 + 10) / 45)
    # a series with one sample in the window has no increase at all
    assert aq.increase(series((50, 1)), 0, 60) is None


def test_one_window_counts_a_series_born_in_the_window_from_zero() -> None:
    assert aq.one_window(series((50, 1)), 0, 60) == 1
    assert aq.one_window(series((-10, 5), (5, 6), (50, 9)), 0, 60) == 4
    assert aq.one_window(series(), 0, 60) is None


def test_histogram_quantile_interpolates_in_the_bucket() -> None:
    counts = [0.0] * 13
    counts[6] = 50  # (0.05, 0.1]
    counts[7] = 50  # (0.1, 0.25]
    assert aq.histogram_quantile(0.5, counts) == pytest.approx(0.1)
    assert aq.histogram_quantile(0.99, counts) == pytest.approx(0.1 + 0.15 * 49 / 50)
    counts[12] = 100  # +Inf: the highest finite bound
    assert aq.histogram_quantile(0.99, counts) == aq.BUCKETS[-1]
    assert math.isnan(aq.histogram_quantile(0.99, [0.0] * 13))


def test_latency_model_has_the_documented_p99() -> None:
    probs = aq.bucket_probs(0.0)
    assert sum(probs) == pytest.approx(1.0)
    assert sum(probs[7:]) == pytest.approx(0.01, rel=1e-3)  # P(latency > 100 ms)
    slow = aq.bucket_probs(0.3)
    assert sum(slow[:8]) == 0.0  # every request ≥ 300 ms


def test_upper_bound_matches_the_rule_of_three() -> None:
    assert aq.upper95(0, 20) == pytest.approx(1 - 0.05 ** (1 / 20), abs=1e-6)  # ≈ 13.9 %
    assert aq.upper95(0, 1000) == pytest.approx(0.002991, abs=1e-5)
    assert aq.upper95(20, 20) == 1.0


def _machine_outcome(verdicts: list[Verdict]) -> tuple[str, int]:
    """Feed ``verdicts`` one per minute to the real ``decide`` with the bench's settings."""
    spec = make_spec(
        steps=[{"weight": w, "pause": "5m"} for w in aq.STEPS],
        progressDeadline="10m",
        analysis={
            "interval": "1m",
            "failureLimit": aq.FAILURE_LIMIT,
            "minRequests": aq.MIN_REQUESTS,
            "metrics": [{"name": "error-rate", "template": "error-rate", "max": 0.05}],
        },
    )
    sim = Sim(rollout=make_rollout(spec))
    sim.settle()
    assert sim.status.verified_at is not None
    for n, verdict in enumerate(verdicts, 1):
        sim.tick(60)
        sim.analyse(verdict, at=sim.now.isoformat())
        sim.settle()
        if sim.phase in ("RollingBack", "RolledBack"):
            why = "deadline" if "progressDeadline" in sim.status.message else "failure"
            return f"rollback-{why}", n
        if sim.phase == "Succeeded":
            return "succeeded", n
    return "unfinished", len(verdicts)


def _step_machine_outcome(verdicts: list[Verdict]) -> tuple[str, int]:
    sm = aq.StepMachine()
    for n, verdict in enumerate(verdicts, 1):
        out = sm.feed(verdict, 60.0 * n)
        if out is not None:
            return out, n
    return "unfinished", len(verdicts)


@pytest.mark.parametrize("seed", range(12))
def test_step_machine_agrees_with_decide(seed: int) -> None:
    rng = random.Random(seed)
    weights = [rng.random() for _ in range(3)]
    verdicts = rng.choices(
        [Verdict.PASS, Verdict.FAIL, Verdict.INCONCLUSIVE], weights=weights, k=40
    )
    assert _step_machine_outcome(verdicts) == _machine_outcome(verdicts)


def test_step_machine_deadline_and_success_paths_agree_with_decide() -> None:
    held = [Verdict.PASS] * 3 + [Verdict.INCONCLUSIVE] * 12
    assert _step_machine_outcome(held) == _machine_outcome(held) == ("rollback-deadline", 14)
    clean = [Verdict.PASS] * 20
    assert _step_machine_outcome(clean) == _machine_outcome(clean) == ("succeeded", 20)


def test_quick_run_prints_a_row_per_cell(capsys: pytest.CaptureFixture[str]) -> None:
    assert aq.main(["--quick", "--policies", "significance"]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| sig")]
    compact = [row for row in rows if "**" in row]  # one per traffic level and baseline
    assert len(compact) == 2 * len(aq.BASELINES)
    assert len(rows) - len(compact) == 2 * len(aq.BASELINES) * len(aq.FAULTS)


def test_faults_and_before_policy_can_be_chosen(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--quick", "--policies", "significance-before", "--query", "increase"]
    assert aq.main([*argv, "--no-accumulate", "--faults", "healthy"]) == 0
    out = capsys.readouterr().out
    assert "quiet windows judged alone" in out and "query increase" in out
    rows = [line for line in out.splitlines() if line.startswith("| significance-before")]
    assert len(rows) == 2 * 2 * len(aq.BASELINES)  # compact + full, healthy only
    with pytest.raises(SystemExit):
        aq.main(["--faults", "nope"])


def test_unknown_policy_is_refused() -> None:
    with pytest.raises(SystemExit):
        aq.main(["--policies", "nope"])
