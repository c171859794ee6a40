"""End to end through moto's Step Functions interpreter with the real worker and step handlers."""

from __future__ import annotations

import numpy as np
import pytest
from coordinator_e2e_helpers import (
    assert_exact_decoding,
    final_params,
    make_spec,
    plan_of,
    run_job,
)
from timeouts import holds_for, scaled, wait_for

import functions.coordinator_steps as steps
from coordinator.control import reference
from coordinator.control.run_dataset import shuffled_table

pytestmark = pytest.mark.slow


def test_decoded_gradient_is_full_batch_every_round(emulator, backend):
    spec = make_spec()
    run_id = run_job(emulator, backend, spec)
    record = backend.store.job(run_id)
    assert record["status"] == "done"
    log = backend.store.rounds(run_id)
    assert [e["round"] for e in log] == list(range(1, 8))
    assert {e["round"]: e["collect"]["stragglers"] for e in log if e["collect"]["stragglers"]} \
        == {2: [1], 4: [3, 5]}
    assert all(r.startswith("no result within") for e in log
               for r in e["collect"]["reasons"].values())
    assert assert_exact_decoding(backend, run_id, spec) == 6  # every job of both models
    X, y = shuffled_table(spec["dataset"])
    plan = plan_of(backend, run_id)
    for m, model in enumerate(spec["models"]):
        expected, _ = reference.train(plan.models[m], model["lr"], model["seed"],
                                      spec["iterations"], X, y)
        np.testing.assert_allclose(final_params(backend, run_id)[m], expected, rtol=1e-4,
                                   atol=1e-5)


def test_gc_job_decodes_exactly(emulator, backend):
    spec = make_spec(scheme={"name": "gc", "s": 2}, iterations=2,
                     stragglers={"model": "fixed", "rounds": {"1": [0, 7], "3": [4]},
                                 "delay_s": 10.0})
    run_id = run_job(emulator, backend, spec)
    log = backend.store.rounds(run_id)
    assert [e["collect"]["stragglers"] for e in log] == [[0, 7], [], [4], []]
    assert assert_exact_decoding(backend, run_id, spec) == 4


def test_a_batched_gc_job_computes_both_models_per_invocation_and_decodes_exactly(emulator,
                                                                                  backend):
    spec = make_spec(scheme={"name": "gc", "s": 2}, iterations=2, batch=True,
                     stragglers={"model": "fixed", "rounds": {"1": [0, 7]}, "delay_s": 10.0})
    run_id = run_job(emulator, backend, spec)
    log = backend.store.rounds(run_id)
    assert [e["collect"]["stragglers"] for e in log] == [[0, 7], []]  # 2 rounds, not 4
    assert [sorted(int(j) for j in e["update"]["decoded"]) for e in log] == [[1, 2], [3, 4]]
    assert assert_exact_decoding(backend, run_id, spec) == 4


def test_faulty_workers_are_stragglers_with_reasons(emulator, backend):
    spec = make_spec(stragglers={"model": "fixed", "rounds": {"4": [2, 6]}, "delay_s": 6.0},
                     faults=[{"round": 2, "worker": 0, "kind": "raise"},
                             {"round": 3, "worker": 4, "kind": "garbage"}])
    run_id = run_job(emulator, backend, spec)
    log = {e["round"]: e["collect"] for e in backend.store.rounds(run_id)}
    assert log[2]["stragglers"] == [0]
    assert log[2]["reasons"]["0"].startswith("error: MissingObjectError")
    assert log[3]["stragglers"] == [4]
    assert log[3]["reasons"]["4"].startswith("garbage:")
    # Worker 4 was lost in round 3: two more (2, 6) in round 4 would leave the (B=1, W=2, lam=2)
    # model, so Collect waits past the cutoff until one of them arrives (then the rest is inside
    # the model again) instead of decoding wrongly, and flags it.
    assert len(log[4]["stragglers"]) <= 1 and set(log[4]["stragglers"]) <= {2, 6}
    assert log[4]["elapsed_s"] >= 6.0
    assert any("waited past the cutoff" in f for f in log[4]["flags"])
    assert assert_exact_decoding(backend, run_id, spec) == 6


def test_re_executed_steps_change_nothing(emulator, backend):
    spec = make_spec(iterations=2)
    run_id = run_job(emulator, backend, spec)
    plan = plan_of(backend, run_id)
    before_log = backend.store.rounds(run_id)
    before_record = backend.store.job(run_id)
    keys = [plan.params_key(j) for j in range(1, plan.jobs + plan.M + 1)]
    before_params = [backend.store.get_array(k).tobytes() for k in keys]
    def invocations() -> int:  # of this job's workers (other tests' late stragglers may run)
        return sum(1 for r in emulator.runtime.invocations() if r.event.get("run") == run_id)

    dispatched = sum(len(e["dispatch"]["workers"]) for e in before_log)
    # injected stragglers still sleeping: let them finish
    wait_for(lambda: invocations() >= dispatched, 30, "every dispatched worker finished")
    before = invocations()
    assert before == dispatched
    for execution in (1, int(before_record["execution"])):
        state = {"job": run_id, "round": 2, "rounds": plan.rounds, "steps": 0,
                 "execution": execution, "status": "running"}
        assert steps.round_task(dict(state))["status"] in ("done", "stale")
    holds_for(lambda: invocations() == before, 0.3, "no worker dispatched twice")
    assert backend.store.rounds(run_id) == before_log
    after = backend.store.job(run_id)
    assert (after["round"], after["progress"]) == (before_record["round"],
                                                   before_record["progress"])
    assert [backend.store.get_array(k).tobytes() for k in keys] == before_params


def test_resume_after_kill_gives_identical_parameters(emulator, backend):
    spec = make_spec()
    reference_run_id = run_job(emulator, backend, spec)
    from coordinator.spec.jobspec import validate

    run_id = backend.submit(validate(spec))
    first = backend.store.job(run_id)["execution_arn"]
    wait_for(lambda: backend.store.job(run_id).get("round", 0) >= 3, 120, "round 3 committed",
               poll_s=0.05)
    backend.kill(run_id)
    # AWS says ABORTED; moto may instead fail the step in flight (then RecordFailure marks
    # the job failed, which resume accepts just the same).
    assert emulator.wait(first, scaled(60))["status"] in ("ABORTED", "FAILED")
    assert backend.store.job(run_id)["status"] in ("running", "failed")
    second = backend.resume(run_id)
    assert second != first
    assert emulator.wait(second, scaled(240))["status"] == "SUCCEEDED", \
        backend.store.job(run_id).get("error")
    assert backend.store.job(run_id)["status"] == "done"
    for mine, theirs in zip(final_params(backend, run_id), final_params(backend, reference_run_id),
                            strict=True):
        assert np.array_equal(mine, theirs)
    log = backend.store.rounds(run_id)
    assert [e["round"] for e in log] == list(range(1, 8))
    assert assert_exact_decoding(backend, run_id, spec) == 6


def test_outside_the_model_waits_to_the_hard_limit_then_skips_the_lost_job(emulator, backend):
    spec = make_spec(iterations=2, wait={"deadline_s": 2.0, "hard_limit_s": 5.0},
                     stragglers={"model": "fixed", "rounds": {"2": [1, 2, 3]}, "delay_s": 100})
    run_id = run_job(emulator, backend, spec)
    log = {e["round"]: e for e in backend.store.rounds(run_id)}
    collect = log[2]["collect"]
    assert collect["stragglers"] == [1, 2, 3]
    assert collect["elapsed_s"] >= 5.0
    assert any("hard limit" in f for f in collect["flags"])
    assert any("jobs [1]" in f for f in collect["flags"])
    # Jobs 1 and 2 (due in rounds 2 and 3; the three lost workers redo their D1 chunks of job 2
    # in round 3) cannot be decoded by their deadlines: each model skips that step (its next
    # job starts from the same parameters) instead of applying a wrong gradient.
    skipped = {e["round"]: list(e["update"]["skipped"]) for e in log.values()
               if e["update"]["skipped"]}
    assert skipped == {2: ["1"], 3: ["2"]}
    plan = plan_of(backend, run_id)
    for j in (1, 2):
        assert np.array_equal(backend.store.get_array(plan.params_key(j + plan.M)),
                              backend.store.get_array(plan.params_key(j)))
    assert backend.store.job(run_id)["result"]["skipped_jobs"] == 2
    assert assert_exact_decoding(backend, run_id, spec) == 2


def test_replayed_trace_with_the_mu_rule_decodes_exactly(emulator, backend):
    from pathlib import Path

    trace = Path(__file__).parents[3] / "data" / "lambda_delays.parquet"
    spec = make_spec(iterations=2, wait={"mu": 1.0, "hard_limit_s": 30},
                     stragglers={"trace": str(trace), "time_scale": 0.5, "seed": 3})
    run_id = run_job(emulator, backend, spec)
    log = backend.store.rounds(run_id)
    assert [e["round"] for e in log] == list(range(1, 6))
    for entry in log:
        collect = entry["collect"]
        fastest = min(collect["arrivals"].values())
        assert collect["cutoff_s"] == pytest.approx(2.0 * fastest, abs=1e-3)  # (1 + mu) x fastest
        for reason in collect["reasons"].values():
            assert reason.startswith("no result within")
    assert assert_exact_decoding(backend, run_id, spec) == 4


def test_a_failing_step_marks_the_job_failed_with_the_reason(emulator, backend):
    from coordinator.spec.jobspec import JobSpec, validate

    # submit refuses an unknown dataset: a record written past it fails in the Plan step
    good = validate(make_spec()).raw
    run_id = backend.submit(JobSpec({**good, "dataset": {"name": "no-such-dataset"}}))
    described = emulator.wait(backend.store.job(run_id)["execution_arn"], scaled(60))
    assert described["status"] == "FAILED"
    record = backend.store.job(run_id)
    assert record["status"] == "failed"
    assert record["error"]["type"] == "JobSpecError"
    assert "dataset.name: must be one of" in record["error"]["message"]
    assert "no-such-dataset" in record["error"]["message"]


def test_accepted_job_is_published_for_the_warm_pool(emulator, backend, monkeypatch):
    """The Plan step publishes the job plan; the warm-pool handler finds it and provisions the
    job's workers in its region for as long as it runs."""
    from coordinator.warmpool.planner import targets_from_jobs
    from functions import warmpool_handler

    spec = make_spec(scheme={"name": "gc", "s": 1}, iterations=1)
    run_id = run_job(emulator, backend, spec)
    monkeypatch.setenv("SGC_BUCKET", backend.store.bucket)
    published = [p for p in warmpool_handler._jobs({}) if p["job_id"] == run_id]
    assert len(published) == 1 and published[0]["spec"]["workers"] == spec["workers"]
    region = published[0]["spec"].get("regions", ["us-east-1"])[0]
    targets, plans = targets_from_jobs(published, published[0]["start_s"] + 1.0, [region])
    (plan,) = plans
    assert (plan.run_id, plan.region, plan.amount) == (run_id, region, spec["workers"])
    # A job this small is cheaper to pre-warm with pings than to provision; a provisioned one
    # would show up in the targets while it runs.
    expected = spec["workers"] if plan.mode == "provisioned" else 0
    assert targets == {region: expected}
