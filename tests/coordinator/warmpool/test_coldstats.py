"""Per-region cold starts (learned from completion records, or published with a source), the
calibrated synthetic regions, a worker's cold-start charge with spares, prices per region."""

from __future__ import annotations

import math

import numpy as np
import pytest

from coordinator.warmpool import coldstats, prices, spares, synthetic
from coordinator.warmpool.regions import REGIONS
from coordinator.warmpool.worker_cold import busy_cold_start_s, worker_cold_start_s


def record(cold, finished, work=1.0, init=1.9):
    return {"timings": {"cold_start": cold, "init_s": init if cold else 0.0,
                        "download_s": 0.2, "compute_s": work - 0.3, "upload_s": 0.1,
                        "finished_at": finished}}


def test_a_cold_start_is_what_it_took_beyond_its_work_and_the_warm_ones_delay():
    records = {w: record(False, 100.0 + 1.0 + 0.5) for w in range(6)}  # 0.5 s fan-out delay
    records[6] = record(True, 100.0 + 1.0 + 0.5 + 3.0)  # 3 s more: its start-up
    records[7] = record(True, 100.0 + 1.0 + 0.5 + 0.5, init=1.9)  # never below its own init
    assert coldstats.round_samples(100.0, records) == pytest.approx([3.0, 1.9])
    assert coldstats.round_samples(100.0, {1: {"timings": {}}}) == []


def test_enough_samples_make_a_region_fit_else_the_published_one_with_its_source():
    rng = np.random.default_rng(0)
    learned = coldstats.fit("eu-west-2", rng.lognormal(math.log(2.0), 0.5, 400))
    assert learned.samples == 400 and learned.median_s == pytest.approx(2.0, rel=0.1)
    assert learned.p99_s == pytest.approx(2.0 * math.exp(2.326 * 0.5), rel=0.15)
    assert learned.source.startswith("learned from 400 cold starts")
    few = coldstats.fit("eu-west-2", [1.0] * 10)
    assert few.samples == 0 and "Huawei EuroSys 2025 pooled" in few.source
    r3 = coldstats.published("R3")
    assert "mean under 0.3 s" in r3.source and r3.p99_s < coldstats.published("R1").p99_s


def test_learn_reads_the_first_rounds_of_each_run():
    rounds = {("r1", 1): (100.0, {w: record(True, 104.0 + 0.01 * w) for w in range(40)}),
              ("r1", 2): None}
    fit = coldstats.learn(lambda run, t: rounds.get((run, t)), ["r1", "r2"], "us-east-1")
    assert fit.samples == 40 and fit.median_s == pytest.approx(3.2, rel=0.05)


def test_synthetic_regions_follow_the_published_means():
    assert REGIONS["R1"].mean_s == 3.0 and REGIONS["R3"].mean_s < 0.3
    assert [r for r, p in REGIONS.items() if p.source.startswith("assumed")] == ["R4", "R5"]
    assert all(0.1 <= p.median_s <= 2.0 for p in REGIONS.values())
    workload = synthetic.generate(seed=1, days=0.25, functions_per_region=40)
    table, _ = synthetic.cold_start_table(workload, 1)
    region = np.array(table.column("region").to_pylist())
    total = table.column("totalCost_cold_start").to_numpy()
    means = {r: float(total[region == r].mean()) for r in REGIONS}
    assert means["R1"] > means["R2"] > means["R3"]  # generated, heavy-tailed: ordering only
    assert means["R3"] < 0.6 and 1.0 < means["R1"] < 9.0


def test_worker_cold_start_keeps_its_signature_and_adds_the_init():
    rng = np.random.default_rng(0)
    draws = worker_cold_start_s(rng, 5000, "R1")
    assert draws.min() > 1.92 and np.median(draws) == pytest.approx(
        1.92 + REGIONS["R1"].median_s, rel=0.1)
    learned = {"eu-west-2": coldstats.fit("eu-west-2", np.full(50, 4.0))}
    assert worker_cold_start_s(rng, 3, "eu-west-2", learned) == pytest.approx([4.0] * 3,
                                                                             rel=0.01)
    with pytest.raises(ValueError, match="region: 'R9'"):
        worker_cold_start_s(rng, 1, "R9")


def test_busy_workers_draw_on_the_spares_before_cold_starting():
    charge = busy_cold_start_s(np.random.default_rng(0), busy=10, spares=7, region="R2")
    assert (charge[:7] == 0).all() and (charge[7:] > 1.92).all()
    assert busy_cold_start_s(np.random.default_rng(0), 3, 8).tolist() == [0, 0, 0]


def test_spares_default_peak_and_bounds():
    assert spares.spare_environments(256) == 32 and spares.from_peak(300, 256) == 44
    assert spares.from_peak(100, 256) == 0 and spares.spare_environments(800) == 100
    assert spares.check(8, 64) == 8
    with pytest.raises(ValueError, match=r"^spare_environments: expected an integer in \[0, 64\]"):
        spares.check(65, 64)


def test_each_region_has_its_prices_with_a_source_and_overrides_are_checked():
    assert prices.for_region("us-east-1").source.startswith("AWS Lambda pricing page")
    assert prices.for_region("eu-west-2").source.startswith("assumed: us-east-1 rates")
    mine = prices.parse('{"eu-west-2": {"on_demand_gb_s": 0.0000175, "source": "our bill"}}')
    assert prices.for_region("eu-west-2", mine).on_demand_gb_s == 0.0000175
    with pytest.raises(ValueError, match=r"SGC_WARMPOOL_PRICES.eu-west-2.on_demand_gb_s"):
        prices.parse('{"eu-west-2": {"on_demand_gb_s": -1}}')
    assert prices.US_EAST_1.break_even_utilization == pytest.approx(0.6, abs=1e-4)
