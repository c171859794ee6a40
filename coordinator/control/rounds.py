"""The workflow's steps: plan, dispatch, collect, update, finalize (one function each).

Each takes the small state the state machine passes around and returns the next one; all job
data lives in the ``Store``. Every step is idempotent: its effect is written once with a
conditional write, and a re-run finds that record and does nothing new (see coordinator.state).
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from coordinator.contract.models import ModelSpec
from coordinator.control import data, inject
from coordinator.control.decode import GarbageResult, check_result, decode
from coordinator.control.plan import JobPlan
from coordinator.control.replay import job_lock, session_at
from coordinator.control.update import sgd_step
from coordinator.control.wait import decide
from coordinator.jobspec import JobSpecError, validate
from coordinator.state import Store, now

log = logging.getLogger("sgcflow.coordinator")
POLL_S = float(os.environ.get("SGC_POLL_S", "0.05"))
COLLECT_MARGIN_S = 5.0
Invoker = Callable[[list[tuple[int, dict]]], None]


# --- state ------------------------------------------------------------------------------------
def _state(record: dict, execution: int, steps: int) -> dict[str, Any]:
    job, plan = record["job"], record["plan"]
    rounds = int(plan["jobs"]) + int(plan["T"])
    done_round = int(record.get("round", 0))
    status = "running"
    if record.get("status") in ("cancelling", "cancelled"):
        status = "cancelled"
    elif done_round >= rounds:
        status = "done"
    return {"job": job, "round": done_round + 1, "rounds": rounds, "steps": steps,
            "execution": execution, "status": status, "collected": False,
            "next_execution": execution + 1, "next_name": f"{job}-x{execution + 1:03d}"}


def _context(store: Store, job: str) -> tuple[dict, JobPlan]:
    record = store.job(job)
    return record, JobPlan.from_dict(record["plan"])


def _logged_stragglers(store: Store, job: str, upto: int) -> list[list[int]]:
    logged = store.stragglers(job)
    missing = [t for t in range(1, upto + 1) if t not in logged]
    if missing:
        raise RuntimeError(f"job={job}: round log lacks the collect record of rounds {missing}")
    return [logged[t] for t in range(1, upto + 1)]


# --- plan -------------------------------------------------------------------------------------
def plan_step(store: Store, event: dict) -> dict[str, Any]:
    """Set the job up once (dataset, initial parameters, injection); return where it stands."""
    job, execution = event["job"], int(event.get("execution", 1))
    record = store.job(job)
    if "plan" not in record:
        spec = validate(record["spec"])
        scheme = spec.scheme()
        session = scheme.session(jobs=spec.jobs)
        info = data.prepare(store, spec.raw["dataset"], session.partition_sizes)
        models = []
        for i, model in enumerate(spec.models):
            try:
                models.append(ModelSpec(model["kind"], info.n_features, info.n_classes,
                                        model.get("hidden", 0),
                                        model.get("activation", "relu")))
            except ValueError as error:
                raise JobSpecError([(f"models[{i}]", f"{error} (dataset {info.prefix} has "
                                                     f"{info.n_classes} classes)")]) from error
        plan = JobPlan(job=job, bucket=store.bucket, n=spec.workers, T=scheme.T, jobs=spec.jobs,
                       models=tuple(m.to_dict() for m in models),
                       lrs=tuple(m["lr"] for m in spec.models), dataset=info)
        for m, model in enumerate(models):
            store.put_array(plan.params_key(m + 1), model.init(seed=spec.models[m]["seed"]))
        _write_injection(store, spec.raw, plan, scheme.load)
        started = now()
        # Published for the warm-pool manager: it provisions the job's workers per region.
        store.put_json(f"warmpool/plans/{job}.json",
                       {"job_id": job, "spec": record["spec"], "start_s": started})
        store.update_job(job, {"plan": plan.to_dict(), "status": "running", "round": 0,
                               "started": started, "load": scheme.load})
        record = store.job(job)
    if "execution_arn" in event:
        store.update_job(job, {"execution_arn": event["execution_arn"], "execution": execution})
    log.info("job=%s plan: execution %d starts at round %s", job, execution,
             int(record.get("round", 0)) + 1)
    return _state(record, execution, steps=0)


def continue_step(store: Store, event: dict, sfn) -> dict[str, Any]:
    """Start execution ``continue_as`` of the job (same machine, fresh history); idempotent."""
    job, execution = event["job"], int(event["continue_as"])
    try:
        arn = sfn.start_execution(stateMachineArn=event["state_machine_arn"], name=event["name"],
                                  input=json.dumps({"job": job, "execution": execution}))[
            "executionArn"]
    except sfn.exceptions.ExecutionAlreadyExists:  # a retried step: it already started
        arn = event["state_machine_arn"].replace(":stateMachine:", ":execution:") + \
            f":{event['name']}"
    store.update_job(job, {"execution_arn": arn, "execution": execution})
    log.info("job=%s continues in execution %d (%s)", job, execution, arn)
    return {"execution_arn": arn}


def _write_injection(store: Store, spec: dict, plan: JobPlan, load: float) -> None:
    wait = spec["wait"]
    default_delay = 3 * wait["deadline_s"] + 1 if "deadline_s" in wait else 5.0
    delays = inject.delays(spec["stragglers"], plan.n, plan.rounds, load, default_delay)
    store.put_array(f"runs/{plan.job}/inject/delays.npy", delays)
    store.put_json(f"runs/{plan.job}/inject/faults.json", spec["faults"])


# --- dispatch ---------------------------------------------------------------------------------
def dispatch_step(store: Store, state: dict, invoke: Invoker) -> dict[str, Any]:
    """Invoke round t's workers asynchronously (once, even if this step runs twice)."""
    started = time.perf_counter()
    job, t = state["job"], state["round"]
    record, plan = _context(store, job)
    stragglers = _logged_stragglers(store, job, t - 1)
    with job_lock(job):
        tasks = session_at(job, record["spec"], stragglers).tasks(t)
    workers = [w for w, task in enumerate(tasks) if task]
    store.record_round(job, t, "dispatch", {"at": now(), "workers": workers})
    if not store.round(job, t).get("invoked"):
        invoke([(w, plan.worker_event(t, w, tasks[w])) for w in workers])
        store.record_round(job, t, "invoked", {"at": now(),
                                               "seconds": time.perf_counter() - started})
    log.info("job=%s round=%d dispatched %d workers", job, t, len(workers))
    return {**state, "steps": state["steps"] + 1, "collected": False}


def lambda_invoker(function: str | None = None, client=None, threads: int = 32,
                   endpoint_url: str | None = None) -> Invoker:
    """Event-invoke the worker function for each (worker, event), concurrently."""
    import boto3

    function = function or os.environ["SGC_WORKER_FUNCTION"]
    client = client or boto3.session.Session().client("lambda", endpoint_url=endpoint_url)

    def invoke(items: list[tuple[int, dict]]) -> None:
        def one(item: tuple[int, dict]) -> None:
            client.invoke(FunctionName=function, InvocationType="Event",
                          Payload=json.dumps(item[1]).encode())

        with ThreadPoolExecutor(max_workers=max(1, min(threads, len(items)))) as pool:
            list(pool.map(one, items))

    return invoke


# --- collect ----------------------------------------------------------------------------------
def collect_step(store: Store, state: dict, remaining_s: Callable[[], float]) -> dict[str, Any]:
    """Wait for round t's results until the policy (and the scheme) says stop; record who
    straggled and why. Returns ``collected: False`` when this run's time is up (run again)."""
    job, t = state["job"], state["round"]
    entry = store.round(job, t)
    if "collect" in entry:
        return {**state, "steps": state["steps"] + 1, "collected": True}
    record, plan = _context(store, job)
    policy = record["spec"]["wait"]
    history = _logged_stragglers(store, job, t - 1)
    scheme = validate(record["spec"]).scheme()
    model = scheme.model
    past = [frozenset(s) for s in history]
    t0, expected = entry["dispatch"]["at"], set(entry["dispatch"]["workers"])
    with job_lock(job):
        session = session_at(job, record["spec"], history)
        tasks = session.tasks(t)

    def late(missing: frozenset[int]) -> set[int]:
        with job_lock(job):
            return session_at(job, record["spec"], history).would_be_late(t, missing)

    arrivals: dict[int, float] = {}
    failures: dict[int, str] = {}
    worker_seconds, busy, polls, extended = 0.0, 0.0, 0, False
    with ThreadPoolExecutor(max_workers=16) as pool:
        while True:
            tick = time.perf_counter()
            polls += 1
            elapsed = now() - t0
            fresh = {w: rec for w, rec in store.completions(job, t).items()
                     if w in expected and w not in arrivals and w not in failures}
            checks = pool.map(lambda item: _check_completion(store, plan, t, item[0],
                                                             tasks[item[0]], item[1]),
                              fresh.items())
            for (w, rec), reason in zip(fresh.items(), checks, strict=True):
                worker_seconds += _seconds(rec)
                if reason:
                    failures[w] = reason
                else:
                    arrivals[w] = elapsed
            decision = decide(policy, now() - t0, expected, arrivals, failures,
                              lambda s: model.admits(past, s), late)
            cost = time.perf_counter() - tick
            busy += cost
            if decision.stop:
                break
            extended = extended or bool(decision.flags)
            if remaining_s() < POLL_S + COLLECT_MARGIN_S:
                log.info("job=%s round=%d collect: out of time, continuing", job, t)
                return {**state, "steps": state["steps"] + 1, "collected": False}
            # Poll often, but spend at most about a third of the time polling.
            time.sleep(max(POLL_S, 2 * cost))
    flags = decision.flags
    if extended:
        flags = [f"waited past the cutoff ({decision.cutoff_s:.3f} s) for a straggler set "
                 "inside the scheme's model", *flags]
    value = {"stragglers": decision.stragglers, "reasons": {str(w): r for w, r in
                                                            decision.reasons.items()},
             "flags": flags, "cutoff_s": decision.cutoff_s, "elapsed_s": now() - t0,
             "arrivals": {str(w): round(s, 4) for w, s in sorted(arrivals.items())},
             "worker_seconds": worker_seconds, "polls": polls, "busy_s": busy}
    store.record_round(job, t, "collect", value)
    log.info("job=%s round=%d collected: %d stragglers %s", job, t, len(decision.stragglers),
             decision.flags or "")
    return {**state, "steps": state["steps"] + 1, "collected": True}


def _seconds(record: dict) -> float:
    timings = record.get("timings") or {}
    return float(sum(v for k, v in timings.items()
                     if k.endswith("_s") and isinstance(v, int | float)))


def _check_completion(store: Store, plan: JobPlan, t: int, worker: int,
                      task: dict[int, dict[int, float]], record: dict) -> str | None:
    """None if every result of the worker is usable, else why it is a straggler."""
    if record.get("status") != "ok":
        return (f"error: {record.get('error_type', 'unknown')}: "
                f"{record.get('error_message', 'no message')}")
    for job in task:
        key = plan.result_key(t, job, worker)
        size = ModelSpec.from_dict(plan.models[plan.model_of(job)[0]]).n_params
        try:
            check_result(store.get_array(key), size, key)
        except GarbageResult as error:
            return f"garbage: {error}"
        except Exception as error:  # missing or unreadable object
            return f"garbage: {key}: {type(error).__name__}: {error}"
    return None


# --- update -----------------------------------------------------------------------------------
def update_step(store: Store, state: dict) -> dict[str, Any]:
    """Decode the jobs round t completes and step their models (once)."""
    started = time.perf_counter()
    job, t = state["job"], state["round"]
    record, plan = _context(store, job)
    if "update" not in store.round(job, t):
        skipped_before = {int(j) for e in store.rounds(job, only="update") if e["round"] < t
                          for j in e.get("update", {}).get("skipped", {})}
        stragglers = _logged_stragglers(store, job, t)
        with job_lock(job):
            session = session_at(job, record["spec"], stragglers)
            decoded = session.decoded(t)
            late = {j: why for j, why in session.late(t).items() if j + plan.T == t}
        value = {"decoded": {}, "skipped": {}}
        for j, weights in sorted(decoded.items()):
            if j in skipped_before:
                continue
            value["decoded"][str(j)] = _apply(store, plan, j, weights)
        for j, why in sorted(late.items()):
            store.put_array(plan.params_key(j + plan.M), store.get_array(plan.params_key(j)))
            value["skipped"][str(j)] = why
        value["seconds"] = time.perf_counter() - started
        store.record_round(job, t, "update", value)
    entry = store.round(job, t)
    progress = dict(record.get("progress") or {"decoded": 0, "losses": {}})
    if int(record.get("round", 0)) == t - 1:
        progress["decoded"] += len(entry["update"]["decoded"])
        for info in entry["update"]["decoded"].values():
            progress["losses"][str(info["model"])] = info["loss"]
        progress["stragglers"] = len(entry["collect"]["stragglers"])
        store.update_job(job, {"round": t, "progress": progress}, if_round=t - 1)
    record = store.job(job)
    log.info("job=%s round=%d updated: decoded %s", job, t, sorted(entry["update"]["decoded"]))
    return _state(record, state["execution"], state["steps"] + 1)


def _apply(store: Store, plan: JobPlan, job: int, weights: dict) -> dict[str, Any]:
    model, iteration = plan.model_of(job)
    size = ModelSpec.from_dict(plan.models[model]).n_params

    def read(key: tuple[int, int, int]) -> np.ndarray:  # (round, worker, job)
        path = plan.result_key(key[0], key[2], key[1])
        return check_result(store.get_array(path), size, path)  # changed since Collect? fail

    loss_sum, grad_sum = decode(weights, read)
    store.put_array(plan.decoded_key(job), np.concatenate([[loss_sum], grad_sum]))
    params = store.get_array(plan.params_key(job))
    rows = plan.dataset.rows
    store.put_array(plan.params_key(job + plan.M), sgd_step(params, grad_sum, rows,
                                                           plan.lrs[model]))
    return {"model": model, "iteration": iteration, "loss": loss_sum / rows,
            "grad_norm": float(np.linalg.norm(grad_sum / rows)), "results": len(weights)}


# --- finalize ---------------------------------------------------------------------------------
def finalize_step(store: Store, state: dict) -> dict[str, Any]:
    """Write the job's result (metrics, cost) or its failure; mark the record."""
    from coordinator.control.summary import summarize

    job = state["job"]
    if "error" in state:
        current = store.job(job).get("execution_arn")
        if state.get("execution_arn") and current and current != state["execution_arn"]:
            log.info("job=%s: a stale execution failed; the job runs on in %s", job, current)
            return {**state, "status": "stale"}
        error = state["error"]
        cause = error.get("Cause", "")
        try:
            cause = json.loads(cause).get("errorMessage", cause)
        except (ValueError, AttributeError):
            pass
        store.update_job(job, {"status": "failed", "finished": now(),
                               "error": {"type": error.get("Error"), "message": cause}})
        return {**state, "status": "failed"}
    record, plan = _context(store, job)
    result = summarize(record, plan, store.rounds(job))
    store.put_json(f"runs/{job}/result.json", result)
    status = "cancelled" if state["status"] == "cancelled" else "done"
    store.update_job(job, {"status": status, "finished": now(), "result": result["summary"]})
    return {**state, "status": status}
