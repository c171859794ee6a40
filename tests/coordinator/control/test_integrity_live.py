"""Nothing changed in the bucket is used: results, parameters and tasks in the live round loop."""

from __future__ import annotations

import numpy as np
import pytest
from real_round import RealWorkers, new_store, real_job

from coordinator.contract import keys
from coordinator.control import reference, rounds
from coordinator.control.session_cache import forget
from coordinator.storage import integrity


def _state(job: str) -> dict:
    return {"job": job, "round": 1, "steps": 0, "execution": 1, "status": "running"}


def _run(job: str, tamper=None, delays_for=None, lrs=(0.5, 0.3), iterations=3, scheme=None,
         workers=8):
    store = new_store()
    forget(job)
    plan, X, y = real_job(store, list(lrs), iterations=iterations, run_id=job, scheme=scheme,
                          workers=workers)
    delays = np.ones((plan.rounds, plan.n))
    for (t, w), d in (delays_for or {}).items():
        delays[t - 1, w] = d
    workers = RealWorkers(store, plan, X, y, delays,
                          tamper=(lambda t, w, event: tamper(store, plan, t, w, event))
                          if tamper else None)
    state = rounds.round_step(store, _state(job), workers, lambda: 900.0, clock=store.clock)
    return store, plan, workers, state, X, y


def _changed(store, key: str) -> None:
    """Change an object's values slightly (still a finite vector of the right length)."""
    store.put_array(key, store.get_array(key) + 1e-2)


def _exact(store, plan, X, y) -> set[int]:
    """The decoded jobs; each equal to the full-batch gradient at its (checked) parameters."""
    found = set()
    for j in range(1, plan.jobs + 1):
        if not store.exists(plan.decoded_key(j)):
            continue
        loss, grad = reference.full_batch(plan.models[plan.model_of(j)[0]], X, y,
                                          store.get_array(plan.params_key(j)))
        decoded = store.get_array(plan.decoded_key(j))
        np.testing.assert_allclose(decoded[0], loss, rtol=1e-9)
        np.testing.assert_allclose(decoded[1:], grad, rtol=1e-9, atol=1e-9)
        found.add(j)
    return found


@pytest.mark.parametrize("scheme, workers", [(None, 8), ({"name": "sgcflow"}, 16)])
def test_a_result_changed_after_its_worker_wrote_it_makes_that_worker_a_straggler(scheme,
                                                                                  workers):
    changed = []

    def tamper(store, plan, t, w, event):
        if t == 2 and not changed:  # the first worker of round 2 to write
            changed.append(w)
            for task in event["tasks"]:
                _changed(store, keys.result_key(plan.run_id, t, task["job"], w))

    job = f"run-tamper-result-{workers}"
    store, plan, _, state, X, y = _run(job, tamper, scheme=scheme, workers=workers)
    assert state["status"] == "done"
    collect = {e["round"]: e["collect"] for e in store.rounds(job)}
    assert collect[2]["stragglers"] == changed
    reason = collect[2]["reasons"][str(changed[0])]
    assert reason.startswith("integrity: ") and "changed in the bucket" in reason
    assert all(collect[t]["stragglers"] == [] for t in collect if t != 2)
    assert _exact(store, plan, X, y) == set(range(1, plan.jobs + 1))
    # Training equals full-batch numpy gradient descent for both models.
    for m, lr in enumerate(plan.lrs):
        expected, _ = reference.train(plan.models[m], lr, m, plan.iterations, X, y)
        np.testing.assert_allclose(store.get_array(plan.final_params_key(m)), expected,
                                   rtol=1e-5, atol=1e-6)


def test_a_result_of_an_earlier_round_changed_before_its_decode_skips_its_job():
    # Worker 1 straggles in round 2, so job 2 decodes in round 3 from round-2 results that
    # must wait a round in the bucket; worker 0's is changed meanwhile.
    def tamper(store, plan, t, w, event):
        if (t, w) == (3, 7):
            for key in store.list_keys(f"runs/{plan.run_id}/results/round-000002/"):
                if key.endswith("worker-0000.npy"):
                    _changed(store, key)

    store, plan, _, state, X, y = _run("run-tamper-earlier", tamper,
                                       delays_for={(2, 1): 10.0})
    log = {e["round"]: e for e in store.rounds("run-tamper-earlier")}
    assert log[2]["collect"]["stragglers"] == [1]
    skipped = {int(j): why for e in log.values() for j, why in e["update"]["skipped"].items()}
    assert list(skipped) == [2] and skipped[2].startswith("integrity: ")
    assert "worker-0000.npy" in skipped[2]
    # Nothing changed was used: every other job decodes exactly; job 2's model went on from
    # the same parameters (as after a late job).
    assert _exact(store, plan, X, y) == set(range(1, plan.jobs + 1)) - {2}
    assert np.array_equal(store.get_array(plan.params_key(2 + plan.M)),
                          store.get_array(plan.params_key(2)))


def test_a_parameter_file_changed_between_rounds_is_refused_by_workers_and_update():
    job = "run-tamper-params"

    def tamper(store, plan, t, w, event):
        if (t, w) == (3, 0):  # job 3's parameters, after worker 0 computed with them
            _changed(store, plan.params_key(3))

    store, plan, workers, state, X, y = _run(job, tamper, iterations=3)
    assert state["status"] == "done"
    record = store.job(job)
    stopped = record["progress"]["stopped"]
    model = plan.model_of(3)[0]
    assert stopped[str(model)]["status"] == f"failed at iteration {plan.model_of(3)[1]}"
    assert stopped[str(model)]["reason"].startswith("integrity: ")
    # Workers given job 3 refused the changed file (a typed error, so they were stragglers).
    reasons = [r for e in store.rounds(job) for r in e["collect"]["reasons"].values()]
    assert any(r.startswith("error: ChecksumError:") and "params/job-000003.npy" in r
               for r in reasons)
    # The changed parameters were never stepped from, nor sent again after the model stopped.
    assert not store.exists(plan.decoded_key(3))
    assert not store.exists(plan.params_key(3 + plan.M))
    stopped_round = stopped[str(model)]["round"]
    later = [task["job"] for event in workers.events if event["round"] > stopped_round
             for task in event["tasks"]]
    assert later and all(plan.model_of(j)[0] != model for j in later)
    # The round the workers found the change, they were stragglers for their other tasks too
    # (job 2 of the other model rode in the same invocations, so it is skipped, never decoded
    # wrongly); every job decoded is exact, and the other model goes on training.
    assert _exact(store, plan, X, y) == {1, 4, 6}
    skipped = {int(j) for e in store.rounds(job) for j in e["update"]["skipped"]}
    assert skipped == {2}
    assert np.array_equal(store.get_array(plan.params_key(4)), store.get_array(plan.params_key(2)))


def test_tasks_carry_the_digests_the_round_log_and_job_record_hold():
    store, plan, workers, _, _, _ = _run("run-digests")
    record = store.job("run-digests")
    recorded = {int(j): h for j, h in record["params_sha256"].items()}
    for entry in store.rounds("run-digests"):
        recorded.update({int(j): h for j, h in entry["update"]["params_sha256"].items()})
    assert set(recorded) == set(range(1, plan.jobs + plan.M + 1))
    for j, digest in recorded.items():
        assert integrity.digest(store.get_bytes(plan.params_key(j))) == digest
    tasks = [task for event in workers.events for task in event["tasks"]]
    assert tasks and all(task["params_sha256"] == recorded[task["job"]] for task in tasks)
    assert all(task["manifest_sha256"] == plan.dataset.manifest_sha256 for task in tasks)
