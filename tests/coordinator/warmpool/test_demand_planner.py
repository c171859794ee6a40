"""Job plans from specs, exact demand, lead times, prices and the provisioning plan."""

from __future__ import annotations

import json

import numpy as np
import pytest

from coordinator.warmpool import planner
from coordinator.warmpool.demand import (
    JobPlan,
    load_job_spec,
    per_minute_requests,
    planned_concurrency,
    plans_from_spec,
    scheme_delay,
)


def test_spec_defaults_and_rounds_are_iterations_plus_t(tmp_path):
    path = tmp_path / "job-7.yaml"
    path.write_text("iterations: 100\nscheme: {name: m-sgc, B: 1, W: 2, lam: 27}\n")
    (plan,) = load_job_spec(path, start_s=1000.0)
    assert plan == JobPlan("job-7", "us-east-1", 1000.0, 101, 256, 5.0, 2048, None)
    assert plan.end_s == 1000.0 + 101 * 5.0
    json_path = tmp_path / "job-8.json"
    json_path.write_text(json.dumps({"iterations": 10, "workers": 64, "round_seconds": 2,
                                     "regions": ["us-east-1", "eu-west-2"],
                                     "scheme": {"name": "sr-sgc", "B": 2, "W": 3, "lam": 10}}))
    plans = load_job_spec(json_path)
    assert [(p.region, p.rounds, p.workers, p.round_seconds) for p in plans] == [
        ("us-east-1", 12, 64, 2.0), ("eu-west-2", 12, 64, 2.0)]


@pytest.mark.parametrize("scheme, delay", [
    ({"name": "uncoded"}, 0), ({"name": "gc", "s": 2}, 0),
    ({"name": "sr-sgc", "B": 2, "W": 3, "lam": 10}, 2),
    ({"name": "m-sgc", "B": 2, "W": 4, "lam": 27}, 4)])
def test_scheme_delay(scheme, delay):
    assert scheme_delay(scheme, 256) == delay


def test_several_models_multiply_the_jobs_batches_divide_them_and_region_is_accepted():
    spec = {"iterations": 10, "models": [{"kind": "logreg"}, {"kind": "mlp"}],
            "region": "eu-west-2", "scheme": {"name": "uncoded"}, "batch": False}
    (plan,) = plans_from_spec(spec, "j", 0.0)
    assert (plan.rounds, plan.region) == (20, "eu-west-2")
    # batched (the default): both models' gradients in each round (T = 0)
    assert plans_from_spec({**spec, "batch": True}, "j", 0.0)[0].rounds == 10
    # sgcflow with two models: T = 1, one model a round, + T
    assert plans_from_spec({**spec, "scheme": {"name": "sgcflow"}, "batch": True}, "j",
                           0.0)[0].rounds == 21


@pytest.mark.parametrize("spec, field", [
    ({}, "iterations"),
    ({"iterations": 0}, "iterations"),
    ({"iterations": 5, "workers": 2000}, "workers"),
    ({"iterations": 5, "workers": 2.5}, "workers"),
    ({"iterations": 5, "scheme": {"name": "lt-code"}}, "scheme.name"),
    ({"iterations": 5, "scheme": "m-sgc"}, "scheme"),
    ({"iterations": 5, "regions": []}, "regions"),
    ({"iterations": 5, "worker_memory_mb": 64}, "worker_memory_mb"),
    ({"iterations": 5, "round_seconds": -1}, "round_seconds"),
])
def test_bad_specs_name_the_field(spec, field):
    with pytest.raises(ValueError, match=f"^{field.replace('.', '[.]')}"):
        plans_from_spec(spec, "j", 0.0)


def test_planned_concurrency_adds_overlapping_jobs():
    plans = [JobPlan("a", "r", 60.0, 24, 256, 5.0), JobPlan("b", "r", 120.0, 12, 100, 5.0),
             JobPlan("c", "s", 0.0, 1, 8, 5.0)]
    demand = planned_concurrency(plans, 300.0)
    assert demand["r"].tolist() == [0, 256, 356, 0, 0]
    assert demand["s"].tolist() == [8, 0, 0, 0, 0]


def test_per_minute_requests_count_every_environment(small_workload):
    series = per_minute_requests(small_workload)
    assert sum(int(s.sum()) for s in series.values()) == int(small_workload.concurrency.sum())
    assert all(len(s) == 720 for s in series.values())


def test_prices_match_the_published_worked_example_and_break_even():
    # 7 x 4096 MB provisioned for 24 h = $10.08
    assert planner.provisioned_dollars(7, 4096, 86400.0, 0.0) == pytest.approx(10.08, abs=5e-3)
    assert planner.BREAK_EVEN_UTILIZATION == pytest.approx(0.6, abs=1e-4)
    # billed in 5-minute steps
    assert planner.provisioned_dollars(1, 1024, 1.0, 0.0) == pytest.approx(300 * 0.0000041667)


def test_lead_time_covers_a_manager_tick_allocation_and_ramp():
    assert planner.lead_time_s(256) == pytest.approx(60 + 120 + 60 * 256 / 6000 + 10)
    assert planner.lead_time_s(6000) == pytest.approx(250.0)


def test_long_busy_job_is_provisioned_ahead_and_cheaper_than_warm_all_day():
    job = JobPlan("j", "us-east-1", 10_000.0, 1002, 256, 5.0, 2048, submit_s=0.0)
    plan = planner.plan_job(job, utilization=0.8)
    assert plan.mode == "provisioned" and plan.uncovered_s == 0.0
    assert plan.request_s == pytest.approx(10_000.0 - planner.lead_time_s(256))
    assert plan.release_s == job.end_s and plan.amount == 256
    assert plan.dollars == plan.provisioned_dollars < plan.all_day_dollars
    assert plan.all_day_dollars == pytest.approx(256 * 2 * 86400 * 0.0000041667)


def test_low_use_prefers_prewarm_and_late_submission_is_uncovered():
    job = JobPlan("j", "us-east-1", 500.0, 1002, 256, 5.0, 2048, submit_s=500.0)
    low = planner.plan_job(job, utilization=0.3)
    assert low.mode == "prewarm" and low.dollars == low.on_demand_dollars
    high = planner.plan_job(job, utilization=0.9)
    assert high.mode == "provisioned"
    assert high.uncovered_s == pytest.approx(planner.lead_time_s(256))
    with pytest.raises(ValueError, match="utilization"):
        planner.plan_job(job, utilization=1.5)


def test_targets_add_concurrent_jobs_and_release_other_regions():
    jobs = [{"job_id": "a", "spec": {"iterations": 1000}, "start_s": 1000.0, "submit_s": 0.0},
            {"job_id": "b", "spec": {"iterations": 1000, "workers": 64}, "start_s": 1100.0,
             "submit_s": 0.0}]
    targets, plans = planner.targets_from_jobs(jobs, 1050.0, ["us-east-1", "eu-west-2"])
    assert targets == {"us-east-1": 320, "eu-west-2": 0}
    assert planner.targets_from_jobs(jobs, 7000.0, ["us-east-1"])[0] == {"us-east-1": 0}
    short = [{**jobs[0], "spec": {"iterations": 100}}]  # 8 minutes: pre-warm is cheaper
    assert planner.targets_from_jobs(short, 1050.0)[0] == {"us-east-1": 0}
    assert planner.targets_at(plans, 810.0) == {"us-east-1": 256}  # a requested at 807 s
    assert planner.targets_at(plans, 800.0) == {"us-east-1": 0}
    with pytest.raises(ValueError, match=r"jobs\[0\]\.start_s"):
        planner.targets_from_jobs([{"job_id": "a", "spec": {}}], 0.0)


def test_forecast_baseline_uses_the_break_even_quantile():
    from coordinator.warmpool.forecast import baseline_amount

    demand = np.r_[np.full(70, 10), np.full(30, 2)]
    # level 10 is reached in 70 % of the minutes (> 60 %): worth provisioning
    assert baseline_amount(demand, 0.6) == 10
    assert baseline_amount(np.r_[np.full(50, 10), np.full(50, 2)], 0.6) == 2
