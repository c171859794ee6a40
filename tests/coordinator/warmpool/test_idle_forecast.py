"""sgcflow's background policy on hand-made streams (cold starts and idle known exactly), its
tuning rule, the bench verdicts and the synthetic run with a warm-up."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from coordinator.warmpool import azure2019, azure_streams, experiment, forecast_loops, tuning
from coordinator.warmpool.policies import IdleForecast
from coordinator.warmpool.workload import Stream

SAMPLE = Path(__file__).resolve().parents[3] / "data" / "azure2019_sample100"


def stream(times, durations, memory_gb=0.5):
    times = np.asarray(times, dtype=float)
    return Stream(0, 1, times, np.ones(len(times)), np.asarray(durations, dtype=float),
                  memory_gb, 1, "azure", False, np.ones(len(times)))


def test_a_clock_from_three_calls_is_pre_warmed_a_twentieth_of_its_period_early():
    # hourly calls of 1 s; the fourth comes 50 s late, inside the 5 % (180 s) margin
    s = stream([0, 3600, 7200, 10850], [1, 1, 1, 1])
    outcome = IdleForecast(exchange_gb_s=100.0, period_margin=0.05).run([s], 10851.0)[0]
    # 200 s keep-alive after calls 0 and 1 (too short: cold); after call 2 the clock is seen
    # and the app is loaded from 10620 (= 10800 - 180): the late call idles 230 s, warm
    assert outcome.cold.tolist() == [True, True, True, False]
    assert outcome.idle_s == pytest.approx(200.0 + 200.0 + (10850 - 10620))


def test_a_call_later_than_the_margin_is_cold_and_the_window_idles_through():
    s = stream([0, 3600, 7200, 11000], [1, 1, 1, 1])  # 200 s late, margin 180 s
    outcome = IdleForecast(exchange_gb_s=100.0, period_margin=0.05).run([s], 11001.0)[0]
    assert outcome.cold.tolist() == [True, True, True, True]
    assert outcome.idle_s == pytest.approx(200.0 + 200.0 + 360.0)


@pytest.mark.parametrize("tail_order, keep_loaded_windows", [(2, 4), (0, 6)])
def test_the_lower_tail_decides_when_pre_warming_beats_keeping_loaded(tail_order,
                                                                      keep_loaded_windows):
    # idle times of exactly 1000 s, no clock detection; a cold start is worth 5000 s of a
    # 0.5 GB app. Until 4 idle times are known the app stays loaded 5000 s (every call warm,
    # 1000 s idle each). Then pre-warming 20 % early idles 200 s a gap; charged the full chance
    # 1/(n+1) of a new minimum (tail order 0) it loses to keeping loaded while
    # 0.8 x 1000 x (n+1) < 5000, i.e. for n = 4 and 5; with a tight lower tail (order 2) the
    # chance of an idle time 200 s below a cluster of identical ones is 0 and it wins at once.
    calls = 12
    s = stream(1000.0 * np.arange(calls), np.zeros(calls))
    policy = IdleForecast(exchange_gb_s=2500.0, min_history=4, period_min_calls=100,
                          tail_order=tail_order)
    outcome = policy.run([s], 1000.0 * (calls - 1))[0]
    assert outcome.cold.tolist() == [True] + [False] * (calls - 1)
    pre_warmed = calls - 1 - keep_loaded_windows
    assert outcome.idle_s == pytest.approx(1000.0 * keep_loaded_windows + 200.0 * pre_warmed)


def test_new_minimum_chance_follows_the_spacing_of_the_smallest_idle_times():
    tight = np.array([1000.0, 1001.0, 1002.0, 5000.0])
    spread = np.array([100.0, 600.0, 1100.0, 5000.0])
    chance = forecast_loops.new_minimum_chance
    assert chance(tight, 4, 800.0, 0) == pytest.approx(1 / 5)
    assert chance(tight, 4, 800.0, 2) == pytest.approx(np.exp(-200.0) / 5)
    assert chance(spread, 4, 50.0, 2) == pytest.approx(np.exp(-50.0 / 500.0) / 5)
    assert chance(spread, 4, 150.0, 2) == pytest.approx(1 / 5)  # above the minimum
    assert chance(tight, 1, 800.0, 2) == pytest.approx(1 / 2)  # one idle time: no spacing


def test_tuning_picks_the_most_room_against_both_targets_on_the_warm_up_only():
    trace = azure2019.load(SAMPLE)
    warmup_s = 120 * 60.0
    streams = azure_streams.app_streams(trace, 0, "poisson", split_at=(warmup_s / 2, warmup_s))
    policy, evidence = tuning.tune(streams, warmup_s)
    keys = [max(c["cold_ratio"] / tuning.TARGET_COLD_RATIO,
                c["idle_ratio"] / tuning.TARGET_IDLE_RATIO) for c in evidence["candidates"]]
    chosen = [c for c in evidence["candidates"] if tuning.settings(policy).items()
              <= c.items()]
    assert len(chosen) == 1
    assert max(chosen[0]["cold_ratio"] / 0.5, chosen[0]["idle_ratio"] / 0.9) == min(keys)
    assert evidence["tuned_on"] == "minutes 60-120 of the warm-up"
    grid = (len(tuning.EXCHANGES_GB_S) * len(tuning.MIN_HISTORIES)
            * len(tuning.PERIOD_MARGINS) * len(tuning.MIN_KEEPS_S))
    assert 0 < len(evidence["candidates"]) <= grid


def _results(hybrid_cold, ours_cold, hybrid_idle, ours_idle, late=0, p75=(0.02, 0.01),
             below=True):
    def entry(cold, idle, rate, late_workers):
        return {"trace": {"cold_starts": cold, "idle_gb_s": idle,
                          "p75_app_cold_start_rate": rate},
                "jobs": {"idle_gb_s": 1.0, "worker_cold_starts_after_lead": late_workers}}

    ours = entry(ours_cold, ours_idle, p75[1], late)
    ours["tuning"] = {"exchange_gb_s": 400.0, "min_history": 16, "period_margin": 0.05,
                      "tuned_on": "minutes 120-240 of the warm-up"}
    curves = {f: {"below": below} for f in ("keep-alive", "hybrid-histogram", "faascache")}
    return {"hybrid-histogram": entry(hybrid_cold, hybrid_idle, p75[0], 0), "sgcflow": ours,
            "curves": curves}


@pytest.mark.parametrize("numbers, extra, verdict", [
    ((50, 25, 100.0, 90.0), {}, "pass"),
    ((50, 26, 100.0, 90.0), {}, "misses cold"),
    ((50, 20, 100.0, 91.0), {}, "misses idle"),
    ((50, 20, 100.0, 90.0), {"p75": (0.02, 0.013)}, "misses p75"),
    ((50, 20, 100.0, 90.0), {"below": False}, "misses curves"),
    ((50, 20, 100.0, 90.0, 3), {}, "misses late"),  # a worker cold start after the lead
])
def test_bench_verdict_per_run_names_each_missed_target(numbers, extra, verdict):
    from coordinator.cli.bench_warmpool import _verdicts

    row = _verdicts("run", 0, _results(*numbers, **extra))
    assert row["verdict"] == verdict


def test_synthetic_run_with_a_warm_up_scores_later_calls_and_tunes_on_the_warm_up():
    whole = experiment.synthetic(seed=2, days=0.5, functions_per_region=4, jobs_per_region=2)
    later = experiment.synthetic(seed=2, days=0.5, functions_per_region=4, jobs_per_region=2,
                                 warmup_s=6 * 3600.0)
    assert later["sgcflow"]["tuning"]["tuned_on"] == "minutes 180-360 of the warm-up"
    assert "exchange_gb_s" not in whole["sgcflow"]["tuning"]
    for policy in whole:
        assert 0 < later[policy]["trace"]["requests"] < whole[policy]["trace"]["requests"]
    # the job mix runs in the scored minutes, so "no late worker cold start" means something
    assert later["sgcflow"]["jobs"]["requests"] > 0
    assert later["sgcflow"]["jobs"]["worker_cold_starts_after_lead"] == 0


def test_cli_huawei_warm_up_longer_than_the_trace_names_the_option():
    from coordinator.cli.warmpool import warmpool

    result = CliRunner().invoke(warmpool, ["simulate", "--days", "1", "--warmup-minutes",
                                           "1440"])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "--warmup-minutes: 1440 must be >= 0 and shorter than the trace (1440 minutes)" \
        in result.output


@pytest.mark.parametrize("settings", [{"period_margin": -0.1}, {"tail_order": -1},
                                      {"period_min_calls": 2}, {"exchange_gb_s": 0.0}])
def test_idle_forecast_refuses_settings_it_cannot_use(settings):
    with pytest.raises(ValueError, match=next(iter(settings))):
        IdleForecast(**settings)


def test_an_hourly_job_between_bursts_is_kept_for_the_bursts_and_pre_warmed_for_the_hour():
    # every hour a burst of 20 calls 5 s apart: idle times of 5 s, and one of ~3500 s
    rng = np.random.default_rng(7)
    hours = 12
    times = np.concatenate([h * 3600.0 + rng.uniform(0, 30) + 5.0 * np.arange(20)
                            for h in range(hours)])
    s = stream(times, np.full(len(times), 0.5), memory_gb=0.05)
    policy = IdleForecast(exchange_gb_s=100.0, min_history=8, period_min_calls=100)
    windows = policy.windows(s)
    near_end, far_start = windows[-1, 1], windows[-1, 2]
    assert near_end < 600.0 < far_start < 3500.0  # two bands around the hole
    outcome = policy.run([s], times[-1] + 1.0)[0]
    assert outcome.cold[100:].sum() == 0  # from the fifth hour on, every hourly call is warm


def test_a_timer_that_skips_a_cycle_is_caught_one_period_later():
    times = np.r_[600.0 * np.arange(10), 600.0 * np.arange(11, 16)]  # cycle 10 never fired
    s = stream(times, np.ones(len(times)))
    outcome = IdleForecast(exchange_gb_s=100.0, min_history=4).run([s], times[-1] + 1)[0]
    assert not outcome.cold[10]  # the call after the skipped cycle: the second band
    assert outcome.cold.sum() == 3  # the first call and the two gaps before the clock
