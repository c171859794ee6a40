"""The synthetic generator's published shape, the statistics, the forecasts and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from click.testing import CliRunner

from coordinator.cli.warmpool import warmpool
from coordinator.warmpool import forecast, schema, stats, synthetic

SAMPLE = Path(__file__).resolve().parents[3] / "data" / "coldstart_sample"


@pytest.fixture(scope="module")
def big():
    workload = synthetic.generate(seed=0, days=1.0, functions_per_region=40)
    return workload, synthetic.cold_start_table(workload)[0]


def test_same_seed_same_workload_different_seed_different():
    a = synthetic.generate(seed=5, days=0.2, functions_per_region=3)
    b = synthetic.generate(seed=5, days=0.2, functions_per_region=3)
    c = synthetic.generate(seed=6, days=0.2, functions_per_region=3)
    assert np.array_equal(a.time, b.time) and np.array_equal(a.cold_cost, b.cold_cost)
    assert not (len(a) == len(c) and np.array_equal(a.time, c.time))


def test_regional_shape_follows_the_published_statistics(big):
    _, table = big
    result = stats.region_stats(table)
    medians = {r: result[r]["total"]["p50"] for r in result}
    # "regional median 0.1 s to 2 s" (about), "mean ~3 s in R1, under 0.3 s in R3"
    assert medians["R3"] < 0.2 and 0.08 <= min(medians.values())
    assert max(medians.values()) <= 2.5 and medians["R3"] < medians["R2"] < medians["R1"]
    assert 1.5 < result["R1"]["total"]["mean"] < 6.0
    assert result["R3"]["total"]["mean"] < 0.5
    for region, entry in result.items():  # scheduling is first or second everywhere
        ranked = sorted(entry["component_share"], key=entry["component_share"].get)
        assert "schedulingCost" in ranked[-2:], region
    assert max(result["R2"]["component_share"], key=result["R2"]["component_share"].get) == \
        "podAllocationCost"
    r1 = result["R1"]["component_share"]
    assert r1["deployDependencyCost"] + r1["schedulingCost"] > 0.7


def test_large_pods_are_slower_and_timers_are_about_42_percent(big):
    workload, table = big
    total = schema.column(table, schema.TOTAL)
    large = (schema.column(table, "cpu_millicores") > 400) | (schema.column(table,
                                                                            "memory_mb") > 256)
    ratio = np.median(total[large]) / np.median(total[~large])
    assert 1.0 < ratio < 5.0
    timers = np.mean([f.trigger == "timer" for f in workload.functions])
    assert 0.32 < timers < 0.52


def test_region_stats_exact_on_a_small_table():
    rows = {"region": ["A"] * 4, "podID": ["p1", "p2", "p3", "p4"], "time": [0.0, 1.0, 3.0, 6.0],
            schema.TOTAL: [1.0, 2.0, 3.0, 4.0]}
    for name, share in zip(schema.COMPONENTS, (0.1, 0.2, 0.3, 0.4), strict=True):
        rows[name] = [share * t for t in rows[schema.TOTAL]]
    table = pa.table(rows)
    lifetimes = {"A": {"p1": 60.5, "p2": 64.0, "p3": 63.0, "p4": 100.0}}
    result = stats.region_stats(table, {"A": 40.0}, lifetimes)["A"]
    assert result["cold_starts"] == 4 and result["cold_start_rate"] == 0.1
    assert result["total"]["p50"] == 2.5 and result["total"]["mean"] == 2.5
    assert result["component_share"]["schedulingCost"] == pytest.approx(0.4)
    # utility (lifetime - 60) / cost = 0.5, 2, 1, 10
    assert result["pod_utility"] == {"median": 1.5, "share_below_1": 0.25}
    assert result["interarrival"]["mean"] == 2.0
    assert result["interarrival"]["sd"] == pytest.approx(np.sqrt(2 / 3))


def test_weibull_shape_of_the_published_fit():
    # cold-start inter-arrival: mean 1.25 s, sd 3.66 s -> shape ~0.418; exponential -> 1
    assert stats.weibull_shape(1.25, 3.66) == pytest.approx(0.418, abs=1e-3)
    assert stats.weibull_shape(2.0, 2.0) == pytest.approx(1.0, abs=1e-9)


def test_forecasts_on_a_periodic_series_and_the_ensemble():
    day = np.r_[np.zeros(600), np.full(840, 5.0)]
    series = np.tile(day, 5)
    errors = forecast.evaluate(series, held_out_days=2)
    assert errors["seasonal-naive"]["mae"] == 0.0
    assert errors["hourly-profile"]["mae"] == 0.0  # the step falls on an hour boundary
    assert set(errors) == {*forecast.FORECASTERS, "ensemble"}
    assert 0 < errors["ensemble"]["wape"] < 0.05
    with pytest.raises(ValueError, match="held_out_days"):
        forecast.evaluate(series, held_out_days=5)
    with pytest.raises(ValueError, match="series"):
        forecast.evaluate(np.ones(100))


def test_ensemble_beats_the_worst_member_on_noisy_demand():
    rng = np.random.default_rng(0)
    minutes = np.arange(1440 * 6)
    rate = 5 + 4 * np.sin(2 * np.pi * minutes / 1440)
    errors = forecast.evaluate(rng.poisson(rate).astype(float), held_out_days=2)
    members = [errors[name]["mae"] for name in forecast.FORECASTERS]
    assert errors["ensemble"]["mae"] < max(members)
    assert errors["ensemble"]["mae"] < errors["seasonal-naive"]["mae"]


def test_cli_generate_then_stats(tmp_path):
    runner = CliRunner()
    out = tmp_path / "sample"
    result = runner.invoke(warmpool, ["generate", "--out", str(out), "--days", "0.25",
                                      "--functions-per-region", "3", "--parquet",
                                      str(tmp_path / "t.parquet")])
    assert result.exit_code == 0, result.output
    plot = tmp_path / "plot.png"
    result = runner.invoke(warmpool, ["stats", str(out), "--plot", str(plot), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["malformed"] == {} and set(data["regions"]) == set(synthetic.REGIONS)
    assert plot.stat().st_size > 10_000
    assert all(0 < entry["cold_start_rate"] <= 1 for entry in data["regions"].values())
    assert (tmp_path / "t.parquet").exists()


def test_cli_plan(tmp_path):
    spec = tmp_path / "job.yaml"
    spec.write_text("iterations: 2000\nscheme: {name: m-sgc, B: 1, W: 2, lam: 27}\n"
                    "regions: [us-east-1, eu-west-2]\n")
    result = CliRunner().invoke(warmpool, ["plan", str(spec), "--json"])
    assert result.exit_code == 0, result.output
    plans = json.loads(result.output)
    assert [(p["region"], p["mode"], p["amount"]) for p in plans] == [
        ("us-east-1", "provisioned", 256), ("eu-west-2", "provisioned", 256)]
    assert plans[0]["release_s"] - plans[0]["start_s"] == 2001 * 5.0
    low_use = CliRunner().invoke(warmpool, ["plan", str(spec), "--json", "--utilization", "0.3",
                                            "--stats", str(SAMPLE)])
    assert low_use.exit_code == 0, low_use.output
    prewarm = json.loads(low_use.output)[0]
    table, _ = schema.load_trace(SAMPLE)
    p99 = float(np.quantile(schema.column(table, schema.TOTAL), 0.99))
    assert prewarm["mode"] == "prewarm" and prewarm["lead_s"] == pytest.approx(p99 + 10.0)
    spec.write_text("iterations: 5\nworkers: 5000\n")
    result = CliRunner().invoke(warmpool, ["plan", str(spec)])
    assert result.exit_code != 0 and "workers" in result.output
