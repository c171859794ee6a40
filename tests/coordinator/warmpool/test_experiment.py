"""Policies on hand-made arrival streams with known cold starts; the Azure experiment and CLI."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from coordinator.warmpool import azure2019, experiment, forecast_loops, tuning
from coordinator.warmpool.faascache import FaasCache
from coordinator.warmpool.policies import IdleForecast, KeepAlive
from coordinator.warmpool.scoring import metrics
from coordinator.warmpool.workload import Stream

SAMPLE = Path(__file__).resolve().parents[3] / "data" / "azure2019_sample100"
POLICIES = {"keep-alive-60s", "keep-alive-10min", "hybrid-histogram", "faascache", "sgcflow"}


def periods(times, durations, calls=None, memory_gb=0.5):
    times = np.asarray(times, dtype=float)
    calls = np.ones(len(times)) if calls is None else np.asarray(calls, dtype=float)
    return Stream(0, 1, times, np.ones(len(times)), np.asarray(durations, dtype=float),
                  memory_gb, 1, "azure", False, calls)


def test_keep_alive_with_per_call_durations_and_folded_calls():
    # busy periods at 0 (10 s, 3 invocations), 100 (50 s), 200 (1 s): idle 90 s then 50 s
    s = periods([0, 100, 200], [10, 50, 1], [3, 1, 2])
    outcome = KeepAlive(60.0).run([s], 300.0)[0]
    assert outcome.cold.tolist() == [True, True, False]
    assert outcome.idle_s == pytest.approx(60 + 50 + 60)
    result = metrics([s], [outcome])
    assert (result["requests"], result["cold_starts"]) == (6, 2)


def test_scoring_after_the_warm_up_counts_only_later_calls_and_idle():
    s = periods([0, 100, 200], [10, 50, 1], [3, 1, 2])
    outcome = KeepAlive(60.0).run([s], 300.0, scored_from_s=120.0)[0]
    # the first gap (10..70) is before the warm-up end; then 150..200 and 201..261
    assert outcome.idle_s == pytest.approx(50 + 60)
    result = metrics([s], [outcome], scored_from_s=120.0)
    assert (result["requests"], result["cold_starts"]) == (2, 0)


def test_a_call_arriving_while_loaded_is_warm_even_under_a_pre_warm_window():
    s = periods([0, 10, 20], [10, 10, 1])  # back to back: no idle time between them
    outcome = IdleForecast(min_history=1).run([s], 30.0)[0]
    assert outcome.cold.tolist() == [True, False, False]


def test_idle_forecast_pre_warms_a_strict_timer_for_seconds_a_cycle():
    calls = 40
    s = periods(np.arange(calls) * 600.0, np.ones(calls))
    outcome = IdleForecast(exchange_gb_s=100.0, min_history=4).run([s], calls * 600.0)[0]
    # 100 GB-s / 0.5 GB = 200 s of idle per cold start: the first 2 gaps (599 s) outlast that
    # keep-alive and are cold; from 3 calls on the clock is detected and the app is loaded
    # 5 % of the period (30 s) before each call, and after the last one until the horizon
    assert outcome.cold.tolist() == [True] * 3 + [False] * (calls - 3)
    assert outcome.idle_s == pytest.approx(2 * 200.0 + (calls - 2) * 30.0)


def test_a_clock_is_found_through_jitter_and_through_a_skipped_cycle():
    rng = np.random.default_rng(3)
    times = 300.0 * np.arange(20) + rng.uniform(0, 60, 20)  # a 5-minute timer, any second
    found, low, high, period = forecast_loops.periodic_next(times, 19, 32, 90.0, 2.0)
    # the next call falls anywhere in [6000, 6060]: the window covers most of it, not more
    assert found and high - low < 90.0 and period == pytest.approx(300.0, abs=3.0)
    assert min(high, 6060.0) - max(low, 6000.0) > 0.8 * 60.0
    skipped = np.r_[times[:10], times[11:]]  # cycle 10 never fired: one cycle more, same clock
    found, low, high, _ = forecast_loops.periodic_next(skipped, 18, 32, 90.0, 2.0)
    assert found and low < 6060.0 and high > 6000.0
    assert not forecast_loops.periodic_next(times, 19, 32, 30.0, 2.0)[0]  # wider than the band
    doubled = np.sort(np.r_[times, times[5] + 100.0])  # two calls in one cycle: no clock
    assert not forecast_loops.periodic_next(doubled, 20, 32, 90.0, 2.0)[0]


def test_idle_forecast_keeps_a_small_app_longer_for_the_same_gb_s():
    times = np.cumsum(np.r_[0, np.random.default_rng(5).uniform(1200, 1800, 10)])  # no clock
    small, large = periods(times, np.zeros(11), memory_gb=0.05), periods(times, np.zeros(11),
                                                                         memory_gb=2.0)
    # keep-alive only: too little history for the distribution or the clock detector
    policy = IdleForecast(exchange_gb_s=100.0, min_history=100, period_min_calls=100)
    # 100 GB-s buys 2000 s of a 50 MB app (all warm) but 50 s of a 2 GB one (all cold)
    assert policy.run([small], times[-1])[0].cold.sum() == 1
    assert policy.run([large], times[-1])[0].cold.sum() == 11


def test_faascache_counts_folded_invocations_as_frequency():
    a = periods([0, 20], [1, 1], [10, 10], memory_gb=1.0)
    b = Stream(1, 1, np.array([5.0, 30.0]), np.ones(2), np.ones(2), 1.0, 1, "azure", False)
    outcomes = FaasCache(1.0).run([a, b], 40.0)
    # room for one app: each arrival of the other evicts the idle one (A ends at 1, B at 6)
    assert [o.cold.tolist() for o in outcomes] == [[True, True], [True, True]]


def test_tuning_never_sees_the_scored_minutes():
    s = periods([0, 100, 5000, 9000], [1, 1, 1, 1])
    seen = tuning.truncate([s], 6000.0)
    assert seen[0].times.tolist() == [0, 100, 5000]
    assert len(seen[0].duration_s) == 3 and seen[0].calls.tolist() == [1, 1, 1]


@pytest.fixture(scope="module")
def sample_results():
    return experiment.azure(azure2019.load(SAMPLE), warmup_minutes=120, seed=0, jobs=3)


def test_every_policy_on_the_real_sample(sample_results):
    assert set(sample_results) == POLICIES
    for entry in sample_results.values():
        for key in ("cold_start_rate", "idle_gb_s", "worker_cold_starts_after_lead", "dollars"):
            assert key in entry and key in entry["trace"] and key in entry["jobs"]
        assert entry["requests"] == entry["trace"]["requests"] + entry["jobs"]["requests"]
    ours = sample_results["sgcflow"]
    assert ours["jobs"]["worker_cold_starts_after_lead"] == 0
    assert sample_results["hybrid-histogram"]["jobs"]["worker_cold_starts_after_lead"] > 0
    assert "exchange_gb_s" in ours["tuning"]
    # the scored background requests: every invocation after minute 120 of the sample
    trace = azure2019.load(SAMPLE)
    scored = sum(int(f.counts[120:].sum()) for f in trace.functions)
    assert ours["trace"]["requests"] == scored


def _cli():
    from coordinator.cli.warmpool import warmpool

    return warmpool


def test_cli_json_on_the_azure_format_is_keyed_by_policy():
    result = CliRunner().invoke(_cli(), ["simulate", "--trace", str(SAMPLE), "--format",
                                         "azure2019", "--warmup-minutes", "60", "--seed", "1",
                                         "--arrivals", "even", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert set(data) == POLICIES
    assert isinstance(data["sgcflow"]["trace"]["cold_start_rate"], float)


@pytest.mark.parametrize("arguments, message", [
    (["--format", "csv"], "Invalid value for '--format'"),
    (["--format", "azure2019", "--trace", "{empty}"], "--trace: .* has no invocations.csv"),
    (["--format", "azure2019"], "--trace: --format azure2019 needs a trace folder"),
    (["--format", "azure2019", "--trace", "{sample}", "--warmup-minutes", "600"],
     "--warmup-minutes: 600 must be >= 0 and shorter than the trace \\(480 minutes\\)"),
    (["--trace", "{sample}"], "--trace: only --format azure2019 reads a trace folder"),
    (["--format", "azure2019", "--trace", "{sample}", "--seed", "-1"], "Invalid value for "
     "'--seed'"),
])
def test_cli_bad_input_names_the_option_without_a_traceback(tmp_path, arguments, message):
    arguments = [a.format(empty=tmp_path, sample=SAMPLE) for a in arguments]
    result = CliRunner().invoke(_cli(), ["simulate", *arguments])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert re.search(message, result.output), result.output


def test_cli_refuses_a_malformed_trace_unless_told_to_drop_rows(tmp_path):
    import shutil

    shutil.copytree(SAMPLE, tmp_path / "trace")
    path = tmp_path / "trace" / "invocations.csv"
    lines = path.read_text().splitlines()
    fields = lines[3].split(",")
    fields[7] = "-5"
    lines[3] = ",".join(fields)
    path.write_text("\n".join(lines) + "\n")
    arguments = ["simulate", "--trace", str(tmp_path / "trace"), "--format", "azure2019",
                 "--jobs-per-region", "0", "--json"]
    refused = CliRunner().invoke(_cli(), arguments)
    assert refused.exit_code == 2
    assert "1 malformed rows (1 invocations.csv: negative count)" in refused.output
    dropped = CliRunner().invoke(_cli(), [*arguments, "--drop-malformed"])
    assert dropped.exit_code == 0, dropped.output
    assert "dropped 1 malformed rows" in dropped.stderr
    assert json.loads(dropped.stdout)["sgcflow"]["jobs"]["apps"] == 99
