"""A job that starts from what an earlier sgcflow job learned (``scheme.learn_from``): it skips
the exploring jobs, decodes every job exactly, resumes to the same decisions from its record,
refuses a changed prior, and a source that cannot serve is refused naming the field."""

from __future__ import annotations

import numpy as np
import pytest
from fake_round import FakeClock, FakeWorkers, TimedStore, make_job

from coordinator.backends.outcome import job_status
from coordinator.control import prior, rounds
from coordinator.control.session_cache import forget
from coordinator.control.summary import round_rows
from coordinator.spec.jobspec import JobSpecError
from coordinator.storage import integrity

WAIT = {"deadline_s": 4.0, "hard_limit_s": 30}


def _state(run_id: str) -> dict:
    return {"job": run_id, "round": 1, "steps": 0, "execution": 1, "status": "running"}


def _workers(store, plan, seed: int):
    rng = np.random.default_rng(seed)
    delays = 1.0 + rng.exponential(0.3, size=(plan.rounds, plan.n))
    delays[rng.random(delays.shape) < 0.05] += 5.0
    return FakeWorkers(store, plan, delays, per_partition_s=0.25)


def _run(store, clock, run_id, scheme, seed, iterations=14, max_rounds=None, workers=16):
    forget(run_id)
    plan = make_job(store, scheme=scheme, workers=workers, iterations=iterations, run_id=run_id,
                    wait=WAIT)
    record = store.job(run_id)
    store.update_job(run_id, prior.start_from(store, run_id, record["spec"]))  # as Plan does
    fake = _workers(store, plan, seed)
    state = rounds.round_step(store, _state(run_id), fake, lambda: 900.0, clock=clock,
                              max_rounds=max_rounds)
    if state["status"] == "done":
        store.update_job(run_id, {"status": "done"})  # as Finalize does
    return plan, fake, state


def _schemes(store, run_id):
    return [e["collect"]["scheme"] for e in store.rounds(run_id)]


@pytest.fixture()
def first():
    clock = FakeClock()
    store = TimedStore(clock)
    _, _, state = _run(store, clock, "run-first", {"name": "sgcflow"}, seed=3)
    assert state["status"] == "done"
    return store, clock


def test_a_second_job_starts_where_the_first_left_off_and_decodes_exactly(first):
    store, clock = first
    explored = _schemes(store, "run-first")
    assert explored[:2] == ["gc(s=7)", "gc(s=1)"]  # full load, then a quarter of it
    plan, fake, state = _run(store, clock, "run-second",
                             {"name": "sgcflow", "learn_from": "run-first"}, seed=4)
    assert state["status"] == "done"
    started = store.job("run-second")["prior"]
    assert started["from"] == "run-first" and started["rounds"] == store.job("run-first")["round"]
    assert started["window"] >= 10 and started["explores"] is False
    schemes = _schemes(store, "run-second")
    assert schemes[0] not in ("gc(s=7)", "gc(s=1)"), schemes  # no exploring job
    assert job_status("run-second", store.job("run-second"))["prior"] == started  # sgc status
    assert [r["scheme"] for r in round_rows(store.rounds("run-second"))] == schemes  # sgc logs
    assert schemes[0] == explored[-1]  # the first job's last choice, on the same workload
    for j in range(1, plan.jobs + 1):
        np.testing.assert_allclose(store.get_array(plan.decoded_key(j)), fake.full(j),
                                   rtol=1e-9, atol=1e-12)


def test_an_interrupted_second_job_resumes_to_the_same_decisions(first):
    store, clock = first
    scheme = {"name": "sgcflow", "learn_from": "run-first"}
    _run(store, clock, "run-whole", scheme, seed=4)
    _, fake, _ = _run(store, clock, "run-cut", scheme, seed=4, max_rounds=9)
    forget("run-cut")  # a new invocation: only the record, the log and the stored prior
    state = rounds.round_step(store, _state("run-cut"), fake, lambda: 900.0, clock=clock)
    assert state["status"] == "done"
    assert _schemes(store, "run-cut") == _schemes(store, "run-whole")


def test_a_changed_prior_is_refused(first):
    store, clock = first
    _run(store, clock, "run-x", {"name": "sgcflow", "learn_from": "run-first"}, seed=4,
         max_rounds=2)
    key = "runs/run-x/prior.npy"
    array = store.get_array(key)
    array[-1] *= 0.5
    store.put_array(key, array)
    forget("run-x")
    with pytest.raises(integrity.IntegrityError):
        rounds.round_step(store, _state("run-x"), None, lambda: 900.0, clock=clock)


def _refusal(store, source, **change) -> str:
    spec = {**store.job("run-first")["spec"], **change}
    with pytest.raises(JobSpecError) as caught:
        prior.check_source(store, source, spec)
    ((field, why),) = caught.value.errors
    assert field == "scheme.learn_from"
    return why


def test_a_source_that_cannot_serve_is_refused_naming_why(first):
    store, clock = first
    assert "not on this stack" in _refusal(store, "run-missing")
    assert "workers 16" in _refusal(store, "run-first", workers=32)
    other = [{"kind": "mlp", "hidden": 4, "lr": 0.1}] * 2
    assert "models" in _refusal(store, "run-first", models=other)
    virtual = {**WAIT, "clock": "virtual"}
    assert "clock wall, this job virtual" in _refusal(store, "run-first", wait=virtual)
    make_job(store, scheme={"name": "gc", "s": 3}, workers=16, run_id="run-gc", wait=WAIT)
    assert "did not run sgcflow" in _refusal(store, "run-gc")
    why = _refusal(store, "run-first", dataset={"name": "iris"})
    assert why.startswith("job 'run-first' ran dataset name \"digits\" (this job: \"iris\")")
    moved = {**store.job("run-first")["spec"]["dataset"], "source": "elsewhere/bc.csv"}
    assert prior.check_source(store, "run-first", {**store.job("run-first")["spec"],
                                                   "dataset": moved})  # same bytes, moved
    make_job(store, scheme={"name": "sgcflow"}, workers=16, run_id="run-new", wait=WAIT)
    assert "is running: only a job that is done or cancelled" in _refusal(store, "run-new")
    store.update_job("run-new", {"status": "failed"})
    assert "a failed job may still be resumed" in _refusal(store, "run-new")
    two = store.job("run-first")["spec"]["models"]
    assert "ran models" in _refusal(store, "run-first", models=two * 2)  # 4 in flight, not 2
    assert "ran batch true, this job false" in _refusal(store, "run-first", batch=False)
    same = {**store.job("run-first")["spec"]}
    same["models"] = [{**m, "lr": 0.7, "seed": 9} for m in same["models"]]
    assert prior.check_source(store, "run-first", same)["job"] == "run-first"  # lr, seed: same work


def test_the_prior_field_and_array_round_trip_through_the_real_store(moto_store):
    """DynamoDB keeps a nested record field as JSON text: the store must decode ``prior`` back
    into a mapping (found by a live run: the Round task failed on the text)."""
    from coordinator.adaptive import Learned
    from coordinator.contract import keys
    from coordinator.storage.state import Store

    store = Store(bucket="bkt-test", table="t", region="us-east-1")
    loads = np.full((2, 4), 0.5)
    learned = Learned(loads, loads * 2, np.array([3.0, 3.0]), [0.5], [[2.0, 2.0, 2.0, 2.0]],
                      [2], [4])
    sha256 = integrity.write_array(store, keys.prior_key("run-1"), learned.to_array())
    store.create_job("run-1", {"status": "running", "prior": {"from": "run-0", "rounds": 2,
                                                              "sha256": sha256}})
    field = store.job("run-1")["prior"]
    assert field == {"from": "run-0", "rounds": 2, "sha256": sha256}
    np.testing.assert_array_equal(prior.read(store, "run-1", 4, field).times, loads * 2)
    with pytest.raises(ValueError, match="prior field is damaged"):
        prior.read(store, "run-1", 4, "not a mapping")


def test_a_third_job_learns_what_the_second_knew_including_its_own_start(first):
    """B started from A; C learning from B gets B's chooser as B's coordinator rebuilt it
    (from A's state and B's log), not a B that explored."""
    store, clock = first
    _run(store, clock, "run-b", {"name": "sgcflow", "learn_from": "run-first"}, seed=4)
    spec = store.job("run-b")["spec"]
    state_b = prior.learned_from(store, "run-b", spec)
    explored = {round(x, 9) for x in prior.learned_from(store, "run-first", spec).fit_loads}
    assert explored <= {round(x, 9) for x in state_b.fit_loads}  # A's loads, via B's prior
    _run(store, clock, "run-c", {"name": "sgcflow", "learn_from": "run-b"}, seed=5)
    assert _schemes(store, "run-c")[0] == _schemes(store, "run-b")[-1]


def test_an_ended_job_cut_short_serves_and_one_that_learned_too_little_is_refused(first):
    store, clock = first
    _run(store, clock, "run-cut", {"name": "sgcflow"}, seed=6, max_rounds=6)
    store.update_job("run-cut", {"status": "cancelled"})
    assert store.round("run-cut", 7)  # the next round was dispatched, never collected
    spec = store.job("run-cut")["spec"]
    assert len(prior.learned_from(store, "run-cut", spec).fit_loads) >= 2
    _run(store, clock, "run-one", {"name": "sgcflow"}, seed=6, max_rounds=1)
    store.update_job("run-one", {"status": "cancelled"})
    with pytest.raises(JobSpecError, match="too little to choose from"):
        prior.learned_from(store, "run-one", spec)


def test_a_damaged_source_log_is_refused_naming_the_field(first):
    store, _ = first
    spec = store.job("run-first")["spec"]
    del store.round_log[("run-first", 3)]["collect"]
    with pytest.raises(JobSpecError, match=r"lacks rounds of 1\.\."):
        prior.learned_from(store, "run-first", spec)
    store.round_log[("run-first", 3)]["collect"] = {"arrivals": {"99": 1.0}}
    with pytest.raises(JobSpecError, match="round log is damaged"):
        prior.learned_from(store, "run-first", spec)
    plan = store.job("run-first")["plan"]
    for damage in ({"jobs": 1e308}, {"jobs": 10**8}, {"models": []}, {"n": 3}):
        store.update_job("run-first", {"plan": {**plan, **damage}})
        with pytest.raises(JobSpecError, match="damaged"):
            prior.learned_from(store, "run-first", spec)


def test_before_upload_a_local_files_dataset_is_left_out_and_the_rest_checked(first):
    store, _ = first
    spec = store.job("run-first")["spec"]
    local = {**spec, "dataset": {"path": "data/mine.csv", "label_column": "y"}}
    assert "compared with the earlier job's once uploaded" in prior.check_before_upload(
        store, "run-first", local)
    assert prior.check_before_upload(store, "run-first", spec) is None
    with pytest.raises(JobSpecError, match="workers 16, this job 32"):
        prior.check_before_upload(store, "run-first", {**local, "workers": 32})
