"""The manager's tick decisions (targets, pings, starts, releases) and the simulator's deployed
timeline that follows the same rules."""

from __future__ import annotations

import pytest

from coordinator.warmpool import planner, tick, timeline
from coordinator.warmpool.demand import JobPlan

START = 99_960.0  # on a tick (the manager ticks on whole minutes)


def provisioned(start=START, submit=0.0, spare=32, rounds=1000, run_id="a"):
    plan = planner.plan_job(JobPlan(run_id, "us-east-1", start, rounds, 256, 5.0, 2048, submit,
                                    spare), utilization=0.9)
    assert plan.mode == "provisioned"
    return plan


def prewarm(start=START, submit=0.0, spare=4, run_id="b"):
    plan = planner.plan_job(JobPlan(run_id, "us-east-1", start, 60, 64, 5.0, 2048, submit,
                                    spare), utilization=0.1)
    assert plan.mode == "prewarm"
    return plan


def decide(plans, now, status, capacity=None, known=0.0):
    return tick.decide([(plans, known)], now, status, capacity or {}, ["us-east-1"])


def test_targets_cover_workers_and_spares_from_the_lead_until_the_job_ends():
    plan = provisioned()
    lead = planner.lead_time_s(256 + 32)
    assert plan.request_s == pytest.approx(START - lead)
    before = decide([plan], START - lead - 1, {"a": "scheduled"})
    assert before.targets == {"us-east-1": 0}
    assert decide([plan], START - lead + 1, {"a": "scheduled"}).targets == {"us-east-1": 288}
    # still running past its estimated end: kept (a record that says "running")
    assert decide([plan], plan.release_s + 600, {"a": "running"}).targets["us-east-1"] == 288
    # estimated end and no record: released; done: released at once, and reported
    assert decide([plan], plan.release_s + 1, {"a": None}).targets["us-east-1"] == 0
    done = decide([plan], START + 60, {"a": "done"})
    assert done.targets["us-east-1"] == 0 and done.released == ["a"]


def test_a_scheduled_job_starts_when_ready_holds_when_not_and_gives_up_holding():
    plan = provisioned()
    ready = {"us-east-1": (288, "READY")}
    allocating = {"us-east-1": (288, "IN_PROGRESS")}
    assert decide([plan], START - 60, {"a": "scheduled"}, ready).start == []  # not yet time
    assert decide([plan], START, {"a": "scheduled"}, ready).start == [("a", "capacity ready")]
    held = decide([plan], START + 60, {"a": "scheduled"}, allocating)
    assert held.start == [] and held.holding == ["a"]
    late = decide([plan], START + tick.MAX_HOLD_S, {"a": "scheduled"}, allocating)
    assert late.start[0][0] == "a" and "not ready in us-east-1" in late.start[0][1]
    assert decide([plan], START, {"a": "running"}, ready).start == []  # already started


def test_prewarm_pings_workers_and_spares_once_then_spares_every_five_minutes():
    plan = prewarm()
    first = tick.next_tick(plan.start_s - plan.lead_s - 60.0)
    counts = {t: decide([plan], t, {"b": "scheduled" if t < START else "running"}).pings
              for t in range(int(first) - 120, int(START) + 1200, 60)}
    sent = {t: p for t, p in counts.items() if p}
    assert sent[first] == [("us-east-1", "b", 68)]  # 64 workers + 4 spares, one tick
    assert [t for t in sent if t != first] == [START + 300, START + 600, START + 900]
    assert all(p == [("us-east-1", "b", 4)] for t, p in sent.items() if t != first)


def test_a_plan_published_late_is_pinged_at_once_and_an_ended_job_never():
    plan = prewarm(submit=START)
    assert decide([plan], START, {"b": "running"}, known=START).pings == [
        ("us-east-1", "b", 4)]  # the job already runs: its workers are warm, only spares
    assert decide([plan], START, {"b": "done"}, known=START).pings == []


def test_timeline_with_notice_is_ready_before_its_first_round():
    plan = provisioned()
    deployed = timeline.deploy(plan, 0.0, True, seed=0)
    assert deployed.ready_s <= deployed.start_s == tick.next_tick(START)
    assert deployed.waited_s == 0 and deployed.environments == 288


def test_timeline_without_notice_starts_at_once_and_is_ready_minutes_later():
    plan = provisioned(submit=START)
    deployed = timeline.deploy(plan, START, False, seed=0)
    assert deployed.start_s == START
    # the next tick (START itself), then 1-2 minutes of allocation and the ramp of 288
    assert 60 + 2.88 <= deployed.waited_s <= 120 + 2.88
    assert timeline.allocation_delay_s(0, "a") == timeline.allocation_delay_s(0, "a")


def test_timeline_with_short_notice_holds_the_job_for_its_capacity():
    plan = provisioned(submit=START - 90)
    deployed = timeline.deploy(plan, START - 90, True, seed=0)
    assert deployed.start_s == tick.next_tick(deployed.ready_s) > START
    assert deployed.waited_s == 0
