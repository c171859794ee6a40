"""End to end through moto's Step Functions interpreter with the real worker and step handlers."""

from __future__ import annotations

import time

import numpy as np
import pytest
from conftest import (
    assert_exact_decoding,
    final_params,
    make_spec,
    plan_of,
    run_job,
)

import functions.coordinator_steps as steps
from coordinator.control import reference
from coordinator.control.data import shuffled_table

pytestmark = pytest.mark.slow


def test_decoded_gradient_is_full_batch_every_round(emulator, backend):
    spec = make_spec()
    job = run_job(emulator, backend, spec)
    record = backend.store.job(job)
    assert record["status"] == "done"
    log = backend.store.rounds(job)
    assert [e["round"] for e in log] == list(range(1, 8))
    assert {e["round"]: e["collect"]["stragglers"] for e in log if e["collect"]["stragglers"]} \
        == {2: [1], 4: [3, 5]}
    assert all(r.startswith("no result within") for e in log
               for r in e["collect"]["reasons"].values())
    assert assert_exact_decoding(backend, job, spec) == 6  # every job of both models
    X, y = shuffled_table(spec["dataset"])
    plan = plan_of(backend, job)
    for m, model in enumerate(spec["models"]):
        expected, _ = reference.train(plan.models[m], model["lr"], model["seed"],
                                      spec["iterations"], X, y)
        np.testing.assert_allclose(final_params(backend, job)[m], expected, rtol=1e-4,
                                   atol=1e-5)


def test_gc_job_decodes_exactly(emulator, backend):
    spec = make_spec(scheme={"name": "gc", "s": 2}, iterations=2,
                     stragglers={"model": "fixed", "rounds": {"1": [0, 7], "3": [4]},
                                 "delay_s": 8.0})
    job = run_job(emulator, backend, spec)
    log = backend.store.rounds(job)
    assert [e["collect"]["stragglers"] for e in log] == [[0, 7], [], [4], []]
    assert assert_exact_decoding(backend, job, spec) == 4


def test_faulty_workers_are_stragglers_with_reasons(emulator, backend):
    spec = make_spec(stragglers={"model": "fixed", "rounds": {"4": [2, 6]}, "delay_s": 5.0},
                     faults=[{"round": 2, "worker": 0, "kind": "raise"},
                             {"round": 3, "worker": 4, "kind": "garbage"}])
    job = run_job(emulator, backend, spec)
    log = {e["round"]: e["collect"] for e in backend.store.rounds(job)}
    assert log[2]["stragglers"] == [0]
    assert log[2]["reasons"]["0"].startswith("error: MissingObjectError")
    assert log[3]["stragglers"] == [4]
    assert log[3]["reasons"]["4"].startswith("garbage:")
    # Worker 4 was lost in round 3: two more (2, 6) in round 4 would leave the (B=1, W=2, lam=2)
    # model, so Collect waits past the cutoff for them instead of decoding wrongly, and flags it.
    assert log[4]["stragglers"] == []
    assert any("waited past the cutoff" in f for f in log[4]["flags"])
    assert assert_exact_decoding(backend, job, spec) == 6


def test_re_executed_steps_change_nothing(emulator, backend):
    spec = make_spec(iterations=2)
    job = run_job(emulator, backend, spec)
    plan = plan_of(backend, job)
    before_log = backend.store.rounds(job)
    before_record = backend.store.job(job)
    keys = [plan.params_key(j) for j in range(1, plan.jobs + plan.M + 1)]
    before_params = [backend.store.get_array(k).tobytes() for k in keys]
    invocations = len(emulator.runtime.log)
    for t in (2, 4):
        state = {"job": job, "round": t, "rounds": plan.rounds, "steps": 0, "execution": 1,
                 "status": "running", "collected": False}
        steps.dispatch(dict(state))
        assert steps.collect(dict(state))["collected"] is True
        steps.update(dict(state))
    time.sleep(0.3)
    assert len(emulator.runtime.log) == invocations  # no worker dispatched twice
    assert backend.store.rounds(job) == before_log
    after = backend.store.job(job)
    assert (after["round"], after["progress"]) == (before_record["round"],
                                                   before_record["progress"])
    assert [backend.store.get_array(k).tobytes() for k in keys] == before_params


def test_resume_after_kill_gives_identical_parameters(emulator, backend):
    spec = make_spec()
    reference_job = run_job(emulator, backend, spec)
    from coordinator.jobspec import validate

    job = backend.submit(validate(spec))
    first = backend.store.job(job)["execution_arn"]
    deadline = time.monotonic() + 120
    while backend.store.job(job).get("round", 0) < 3:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    backend.kill(job)
    assert emulator.wait(first, 60)["status"] == "ABORTED"
    assert backend.store.job(job)["status"] == "running"
    second = backend.resume(job)
    assert second != first
    assert emulator.wait(second, 240)["status"] == "SUCCEEDED"
    assert backend.store.job(job)["status"] == "done"
    for mine, theirs in zip(final_params(backend, job), final_params(backend, reference_job),
                            strict=True):
        assert np.array_equal(mine, theirs)
    log = backend.store.rounds(job)
    assert [e["round"] for e in log] == list(range(1, 8))
    assert assert_exact_decoding(backend, job, spec) == 6


def test_outside_the_model_waits_to_the_hard_limit_then_skips_the_lost_job(emulator, backend):
    spec = make_spec(iterations=2, wait={"deadline_s": 1.0, "hard_limit_s": 3.0},
                     stragglers={"model": "fixed", "rounds": {"2": [1, 2, 3]}, "delay_s": 100})
    job = run_job(emulator, backend, spec)
    log = {e["round"]: e for e in backend.store.rounds(job)}
    collect = log[2]["collect"]
    assert collect["stragglers"] == [1, 2, 3]
    assert collect["elapsed_s"] >= 3.0
    assert any("hard limit" in f for f in collect["flags"])
    assert any("jobs [1]" in f for f in collect["flags"])
    # Jobs 1 and 2 (due in rounds 2 and 3; the three lost workers redo their D1 chunks of job 2
    # in round 3) cannot be decoded by their deadlines: each model skips that step (its next
    # job starts from the same parameters) instead of applying a wrong gradient.
    skipped = {e["round"]: list(e["update"]["skipped"]) for e in log.values()
               if e["update"]["skipped"]}
    assert skipped == {2: ["1"], 3: ["2"]}
    plan = plan_of(backend, job)
    for j in (1, 2):
        assert np.array_equal(backend.store.get_array(plan.params_key(j + plan.M)),
                              backend.store.get_array(plan.params_key(j)))
    assert backend.store.job(job)["result"]["skipped_jobs"] == 2
    assert assert_exact_decoding(backend, job, spec) == 2
