"""One manager tick against moto's Lambda (+ the provisioned-concurrency shim): provisioning a
lead time ahead, waiting for READY before starting a job with notice, pings, release, learning
cold starts, and failures that are all collected and then raised."""

from __future__ import annotations

import json

import boto3
import pytest

from coordinator.warmpool import manager, planner
from coordinator.warmpool.driver import WarmPoolDriver
from coordinator.warmpool.moto_shim import ProvisionedConcurrencyShim

START = 99_960.0  # on a manager tick
SPEC = {"iterations": 1000, "workers": 256, "region": "us-east-1",
        "scheme": {"name": "gc", "s": 2}}


def job(run_id="a", spec=SPEC, start=START, spare=32, submit=0.0):
    return {"job_id": run_id, "spec": spec, "start_s": start, "submit_s": submit,
            "spare_environments": spare}


@pytest.fixture
def world(lambda_alias):
    """A shim-backed driver and recorders for what the tick does."""
    class World:
        shim = ProvisionedConcurrencyShim(ready_after_reads=2)
        started: list[str] = []
        pinged: list[tuple] = []
        status: dict[str, str] = {}

        def stack(self, jobs, **extra):
            driver = WarmPoolDriver("sgc-worker", "live", sleep=lambda _: None,
                                    client_factory=lambda r: self.shim.attach(
                                        boto3.client("lambda", region_name=r)))
            return manager.Stack(plans=lambda: jobs, driver=driver,
                                 ping=lambda *a: self.pinged.append(a),
                                 status=self.status.get, start=self.started.append,
                                 regions=["us-east-1"], **extra)

    return World()


def test_a_job_with_notice_is_provisioned_ahead_and_started_only_when_ready(world):
    world.status["a"] = "scheduled"
    stack = world.stack([job()])
    lead = planner.lead_time_s(288)
    early = manager.run_tick(stack, START - lead - 60)
    assert early["targets"] == {"us-east-1": 0} and world.started == []
    requested = manager.run_tick(stack, START - lead + 30)
    assert requested["targets"] == {"us-east-1": 288}
    assert requested["regions"]["us-east-1"]["action"] == "put"
    manager.run_tick(stack, START - 60)  # allocating; not yet time anyway
    assert world.started == []
    at_start = manager.run_tick(stack, START)
    assert at_start["start"] == [{"job_id": "a", "why": "capacity ready"}]
    assert world.started == ["a"]


def test_a_job_whose_capacity_is_late_is_held_then_started_anyway(world):
    world.shim.ready_after_reads = 10**6  # never READY
    world.status["a"] = "scheduled"
    stack = world.stack([job(submit=START)])  # published at its start: no lead at all
    held = manager.run_tick(stack, START)
    assert held["holding"] == ["a"] and world.started == []
    late = manager.run_tick(stack, START + 600)
    assert world.started == ["a"] and "not ready in us-east-1" in late["start"][0]["why"]


def test_capacity_is_released_when_the_record_says_done(world):
    world.status["a"] = "running"
    stack = world.stack([job()])
    manager.run_tick(stack, START + 60)
    assert world.shim.configs  # held while it runs
    world.status["a"] = "done"
    report = manager.run_tick(stack, START + 120)
    assert report["released"] == ["a"] and report["targets"] == {"us-east-1": 0}
    assert world.shim.configs == {}


def test_a_short_job_is_pre_warmed_with_pings_for_workers_and_spares(world):
    small = {**SPEC, "iterations": 20, "workers": 64}
    world.status["b"] = "scheduled"
    stack = world.stack([job("b", small, spare=8)])
    plan = planner.plan_job(planner.published([job("b", small, spare=8)])[0][0], 0.8)
    assert plan.mode == "prewarm"
    first = (int(plan.start_s - plan.lead_s - 60) // 60 + 1) * 60.0
    report = manager.run_tick(stack, first)
    assert world.pinged == [("us-east-1", "b", 72)] and report["targets"] == {"us-east-1": 0}
    manager.run_tick(stack, START)
    assert world.started == ["b"]  # nothing to wait for: the pings went out a lead before


def test_over_the_quota_every_other_part_is_done_then_the_tick_raises(world):
    big = {**SPEC, "workers": 500}
    world.status.update(a="running", c="running", b="scheduled")
    small = {**SPEC, "iterations": 20, "workers": 64}
    plan_b = planner.plan_job(planner.published([job("b", small, spare=8)])[0][0], 0.8)
    now = (int(plan_b.start_s - plan_b.lead_s - 60) // 60 + 1) * 60.0
    stack = world.stack([job("a", big, spare=40), job("c", big, spare=40),
                         job("b", small, spare=8), {"job_id": "bad", "spec": {}}])
    with pytest.raises(manager.TickFailed) as failed:
        manager.run_tick(stack, now)
    report = json.loads(str(failed.value))
    assert report["targets"] == {"us-east-1": 1080}
    assert any("1080 provisioned environments exceeds this account's Lambda concurrency" in f
               and "Service Quotas" in f for f in report["failures"])
    assert "plan bad: jobs[0].start_s: required" in report["failures"]
    assert world.pinged == [("us-east-1", "b", 72)]  # the pings still went out


def test_cold_starts_are_learned_from_the_runs_first_rounds(world):
    world.status["a"] = "done"
    records = {w: {"timings": {"cold_start": True, "init_s": 1.9, "download_s": 0.1,
                               "compute_s": 0.5, "upload_s": 0.1,
                               "finished_at": 1004.0 + 0.01 * w}} for w in range(40)}
    stack = world.stack([job()], fetch_round=lambda run, t: (1000.0, records) if t == 1
                        else None)
    report = manager.run_tick(stack, START + 9000)
    learned = report["cold_starts"]["us-east-1"]
    assert learned["samples"] == 40 and learned["source"].startswith("learned from 40")
    assert learned["p99_s"] == pytest.approx(3.7, abs=0.3)
