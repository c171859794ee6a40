"""The simulator on a small synthetic trace + job mix: all policies, targets, CLI output."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from coordinator.warmpool import experiment, simulator, synthetic
from coordinator.warmpool.demand import JobPlan
from coordinator.warmpool.planner import plan_job
from coordinator.warmpool.policies import KeepAlive
from coordinator.warmpool.workload import FunctionSpec, Workload

POLICIES = {"keep-alive-60s", "keep-alive-10min", "hybrid-histogram", "faascache", "sgcflow"}


@pytest.fixture(scope="module")
def results():
    return experiment.synthetic(seed=1, days=1.0, functions_per_region=10, jobs_per_region=4)


def test_every_policy_reports_every_metric(results):
    assert set(results) == POLICIES
    for entry in results.values():
        for scope in (entry, entry["trace"], entry["jobs"]):
            assert {"cold_start_rate", "cold_start_seconds", "idle_gb_s", "dollars",
                    "p75_app_cold_start_rate"} <= set(scope)
        assert entry["requests"] == entry["trace"]["requests"] + entry["jobs"]["requests"]
        assert entry["cold_starts"] == pytest.approx(entry["trace"]["cold_starts"]
                                                     + entry["jobs"]["cold_starts"])


def test_ours_beats_the_hybrid_histogram_on_cold_starts_at_no_more_idle(results):
    ours, hybrid = results["sgcflow"], results["hybrid-histogram"]
    for scope in ("trace", "jobs"):
        assert ours[scope]["cold_starts"] < hybrid[scope]["cold_starts"]
        assert ours[scope]["idle_gb_s"] <= hybrid[scope]["idle_gb_s"]


def test_planned_jobs_have_no_worker_cold_starts_after_the_lead_time(results):
    jobs = results["sgcflow"]["jobs"]
    assert jobs["worker_cold_starts_after_lead"] == 0
    assert results["hybrid-histogram"]["jobs"]["worker_cold_starts_after_lead"] > 0
    assert jobs["plan_dollars"] < jobs["all_day_warm_dollars"]


def test_same_keep_alive_same_numbers_as_the_generated_cold_start_rows(small_workload):
    table, _ = synthetic.cold_start_table(small_workload)
    result = simulator.simulate(small_workload, [KeepAlive(60.0, "ka")])["ka"]
    assert result["cold_starts"] == table.num_rows
    assert result["cold_start_seconds"] == pytest.approx(
        float(np.sum(small_workload.cold_cost[_cold_events(small_workload)])), rel=1e-9)


def _cold_events(workload):
    """Reference, event by event: environments reused in a fixed order, each expiring 60 s
    after its last call ends; an invocation of concurrency c pays one cold start per expired
    (or not yet existing) environment among the first c."""
    counts = np.zeros(len(workload), dtype=int)
    for f in np.unique(workload.func):
        duration = workload.functions[int(f)].duration_s
        expiry: list[float] = []
        for i in np.flatnonzero(workload.func == f):
            t, c = float(workload.time[i]), int(workload.concurrency[i])
            expiry += [-np.inf] * max(0, c - len(expiry))
            counts[i] = sum(e < t for e in expiry[:c])
            expiry[:c] = [t + duration + 60.0] * c
    return np.repeat(np.arange(len(workload)), counts)


def _one_job(submit_s: float):
    """One sgcflow job (100 rounds of 256 workers, 5 s apart from t = 10,000 s) as workload,
    its plan submitted at ``submit_s``, and its round times."""
    spec = FunctionSpec("r", 1, 0, 0, "pool00-1769-2048", "python3", "sgcflow", 4.0, True)
    times = 10_000.0 + 5.0 * np.arange(100)
    workload = Workload([spec], np.zeros(100, np.int32), times, np.full(100, 256, np.int32),
                        np.full(100, 3.0), 20_000.0)
    return workload, JobPlan("j", "r", 10_000.0, 100, 256, 5.0, 2048, submit_s=submit_s), times


def test_a_planned_job_is_warm_from_its_first_round():
    workload, plan, times = _one_job(submit_s=0.0)
    region_plan = plan_job(plan, utilization=0.9)
    ours = simulator.SgcflowPolicy([region_plan], {"j": times[-1] + 4.0}, seed=0)
    result = simulator.simulate(workload, [ours, KeepAlive(60.0, "ka")], [plan])
    assert result["sgcflow"]["cold_starts"] == 0
    assert result["ka"]["cold_starts"] == 256  # the first round, every worker
    (_, _, ready, release) = ours.coverage()[0]
    busy = 100 * 4.0
    assert result["sgcflow"]["idle_gb_s"] == pytest.approx(256 * 2 * (release - ready - busy))


def test_a_job_submitted_at_its_start_is_cold_only_inside_the_lead_time():
    workload, plan, times = _one_job(submit_s=10_000.0)
    ours = simulator.SgcflowPolicy([plan_job(plan, 0.9)], {"j": times[-1] + 4.0})
    result = simulator.simulate(workload, [ours], [plan])["sgcflow"]
    assert (result["cold_starts"], result["worker_cold_starts_after_lead"]) == (256, 0)


def test_simulate_json_is_keyed_by_policy_name():
    output = CliRunner().invoke(
        _cli(), ["simulate", "--json", "--days", "0.5", "--functions-per-region", "4",
                 "--jobs-per-region", "2"])
    assert output.exit_code == 0, output.output
    data = json.loads(output.output)
    assert set(data) == POLICIES
    assert all(isinstance(data[p]["idle_gb_s"], float) for p in POLICIES)


def _cli():
    from coordinator.cli.warmpool import warmpool

    return warmpool


def test_back_to_back_jobs_only_the_late_submitted_one_pays_and_not_after_its_lead():
    spec = FunctionSpec("r", 1, 0, 0, "pool00-1769-2048", "python3", "sgcflow", 4.0, True)
    first = 10_000.0 + 5.0 * np.arange(50)
    second = 10_600.0 + 5.0 * np.arange(50)  # starts 350 s after the first ends, unannounced
    times = np.r_[first, second]
    workload = Workload([spec], np.zeros(100, np.int32), times, np.full(100, 256, np.int32),
                        np.full(100, 3.0), 20_000.0)
    plans = [JobPlan("a", "r", 10_000.0, 50, 256, 5.0, 2048, submit_s=0.0),
             JobPlan("b", "r", 10_600.0, 50, 256, 5.0, 2048, submit_s=10_600.0)]
    ours = simulator.SgcflowPolicy([plan_job(p, 0.9) for p in plans],
                                   {"a": first[-1] + 4.0, "b": second[-1] + 4.0})
    result = simulator.simulate(workload, [ours, KeepAlive(60.0, "ka")], plans)
    assert (result["sgcflow"]["cold_starts"], result["sgcflow"]["worker_cold_starts_after_lead"]
            ) == (256, 0)
    # the 60 s keep-alive loses the pool between the jobs: both first rounds are cold, and the
    # announced job's cold round counts as after its lead time
    assert (result["ka"]["cold_starts"], result["ka"]["worker_cold_starts_after_lead"]
            ) == (512, 256)


def test_empty_workload_and_too_short_horizon():
    spec = FunctionSpec("r", 1, 0, 0, "pool00-300-128", "python3", "http", 0.1)
    empty = Workload([spec], np.zeros(0, np.int32), np.zeros(0), np.zeros(0, np.int32),
                     np.zeros(0), 100.0)
    result = simulator.simulate(empty, [KeepAlive(60.0, "ka")])["ka"]
    assert (result["requests"], result["cold_starts"], result["idle_gb_s"]) == (0, 0, 0)
    with pytest.raises(ValueError, match="horizon_s"):
        simulator.job_mix(horizon_s=60.0)
