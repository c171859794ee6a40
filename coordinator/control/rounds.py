"""The workflow's steps: plan, round (collect + update + dispatch, many rounds), finalize.

Each takes the small state the state machine passes around and returns the next one; all job
data lives in the ``Store``. Every step is idempotent: its effect is written once with a
conditional write, and a re-run finds that record and does nothing new
(see coordinator.storage.state).
The round loop itself is ``coordinator.control.runner``.
"""

from __future__ import annotations

import json
import logging
import math
import os
import secrets
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from coordinator.contract import env, keys, records
from coordinator.contract.models import ModelSpec
from coordinator.control import inject, prior, run_dataset
from coordinator.control.plan import JobPlan
from coordinator.control.runner import Invoker, RoundRunner
from coordinator.control.session_cache import run_lock
from coordinator.spec.cnn_fields import to_model_spec
from coordinator.spec.jobspec import JobSpecError, validate
from coordinator.storage import integrity
from coordinator.storage.state import Store, now
from coordinator.warmpool.spares import spare_environments

log = logging.getLogger("sgcflow.coordinator")


# --- state ------------------------------------------------------------------------------------
def _state(record: dict, execution: int, steps: int, status: str | None = None
           ) -> dict[str, Any]:
    run_id, plan = record["job"], record["plan"]
    # batched runs take fewer rounds than jobs + T; sgcflow's count moves with its choices
    rounds = int(record.get("rounds") or int(plan["jobs"]) + int(plan["T"]))
    done_round = int(record.get("round", 0))
    if status is None:
        status = "running"
        if record.get("status") in ("cancelling", "cancelled"):
            status = "cancelled"
        elif done_round >= rounds:
            status = "done"
    return {"job": run_id, "round": done_round + 1, "rounds": rounds, "steps": steps,
            "execution": execution, "status": status,
            "next_execution": execution + 1, "next_name": f"{run_id}-x{execution + 1:03d}"}


def _context(store: Store, run_id: str) -> tuple[dict, JobPlan]:
    record = store.job(run_id)
    return record, JobPlan.from_dict(record["plan"])


# --- plan -------------------------------------------------------------------------------------
def plan_step(store: Store, event: dict) -> dict[str, Any]:
    """Set the job up once (dataset, initial parameters, injection); return where it stands."""
    run_id, execution = event["job"], int(event.get("execution", 1))
    record = store.job(run_id)
    if "plan" not in record:
        spec = validate(record["spec"])
        scheme = spec.scheme()
        session = spec.session()
        info = run_dataset.prepare(store, spec.raw["dataset"], session.partition_sizes)
        models = [_model_spec(i, model, info) for i, model in enumerate(spec.models)]
        plan = JobPlan(run_id=run_id, bucket=store.bucket, n=spec.workers, T=scheme.T,
                       jobs=spec.jobs,
                       models=tuple(m.to_dict() for m in models),
                       lrs=tuple(m["lr"] for m in spec.models), dataset=info)
        params_sha256 = {str(m + 1): integrity.write_array(
            store, plan.params_key(m + 1), model.init(seed=spec.models[m]["seed"]))
            for m, model in enumerate(models)}
        _write_injection(store, spec.raw, plan, scheme.load)
        learned = prior.start_from(store, run_id, spec.raw)
        started = now()
        # Published for the warm-pool manager: it provisions the job's workers per region,
        # and spares for the tasks sent to workers still busy (docs/contracts.md).
        store.put_json(keys.warmpool_plan_key(run_id),
                       {"job_id": run_id, "spec": record["spec"],
                        "start_s": float(record["spec"].get("start_at", started)),
                        "spare_environments": spare_environments(plan.n)})
        store.update_job(run_id, {"plan": plan.to_dict(), "status": "running", "round": 0,
                                  "rounds": session.rounds,
                                  # binds each completion record to its invocation
                                  "secret": secrets.token_hex(32),
                                  "started": started, "load": scheme.load,
                                  "params_sha256": params_sha256, **learned})
        record = store.job(run_id)
    if "execution_arn" in event:
        store.update_job(run_id, {"execution_arn": event["execution_arn"], "execution": execution})
    log.info("job=%s plan: execution %d starts at round %s", run_id, execution,
             int(record.get("round", 0)) + 1)
    return _state(record, execution, steps=0)


def _model_spec(i: int, model: dict, info) -> ModelSpec:
    """The worker's spec of job-spec model ``i`` on the prepared dataset, or JobSpecError."""
    image = info.image_shape
    if model["kind"] == "cnn" and image is not None and list(image) != model["input"]:
        raise JobSpecError([(f"models[{i}].input", f"{model['input']}, but dataset "
                                                   f"{info.prefix} holds images of shape "
                                                   f"{list(image)}")])
    try:
        return to_model_spec(model, info.n_features, info.n_classes)
    except ValueError as error:
        raise JobSpecError([(f"models[{i}]", f"{error} (dataset {info.prefix} has "
                                             f"{info.n_features} features, {info.n_classes} "
                                             "classes)")]) from error


def continue_step(store: Store, event: dict, sfn) -> dict[str, Any]:
    """Start execution ``continue_as`` of the job (same machine, fresh history); idempotent."""
    run_id, execution = event["job"], int(event["continue_as"])
    try:
        arn = sfn.start_execution(stateMachineArn=event["state_machine_arn"], name=event["name"],
                                  input=json.dumps({"job": run_id, "execution": execution}))[
            "executionArn"]
    except sfn.exceptions.ExecutionAlreadyExists:  # a retried step: it already started
        arn = event["state_machine_arn"].replace(":stateMachine:", ":execution:") + \
            f":{event['name']}"
    store.update_job(run_id, {"execution_arn": arn, "execution": execution})
    log.info("job=%s continues in execution %d (%s)", run_id, execution, arn)
    return {"execution_arn": arn}


def _write_injection(store: Store, spec: dict, plan: JobPlan, load: float) -> None:
    """Emulation: per (round, worker) delays. On the wall clock the emulator sleeps them; on the
    virtual clock Collect reads them as the workers' times and nobody sleeps."""
    wait = spec["wait"]
    default_delay = 3 * wait["deadline_s"] + 1 if "deadline_s" in wait else 5.0
    virtual = wait.get("clock") == "virtual"
    if not (virtual and "trace" in spec["stragglers"]):  # a trace: Collect replays it itself
        delays = inject.delays(spec["stragglers"], plan.n, plan.rounds, load, default_delay)
        key = (keys.virtual_times_key(plan.run_id) if virtual
               else keys.inject_delays_key(plan.run_id))
        store.put_array(key, delays)
    store.put_json(keys.faults_key(plan.run_id), spec["faults"])


# --- the rounds -------------------------------------------------------------------------------
def round_step(store: Store, state: dict, invoke: Invoker, remaining_s: Callable[[], float],
               clock=None, max_rounds: int | None = None,
               poll_s: float | None = None) -> dict[str, Any]:
    """Run the job's rounds (collect, update, dispatch the next) until done or out of time."""
    run_id, execution = state["job"], int(state["execution"])
    with run_lock(run_id):
        runner = RoundRunner(store, run_id, invoke, clock=clock, poll_s=poll_s)
        status = runner.run(execution, remaining_s, max_rounds)
    record = store.job(run_id)
    if status == "stale":
        log.info("job=%s: execution %d is stale; it stops", run_id, execution)
        return {**_state(record, execution, state["steps"] + 1), "status": "stale"}
    return _state(record, execution, state["steps"] + 1,
                  "cancelled" if status == "cancelled" else None)


FANOUT_THREADS = 64  # concurrent Event invokes: 256 workers in 4 waves
RELAY_FROM = 64  # at least this many workers: a two-level fan-out through relays (SGC_FANOUT)


def fanout_mode(workers: int) -> str:
    """``flat`` (the coordinator invokes every worker) or ``tree`` (sqrt(n) relays do);
    ``SGC_FANOUT`` = auto (the default: tree from RELAY_FROM workers) | flat | tree. A tree
    needs the worker to be allowed to invoke itself, which the stack grants unless deployed
    with ``-c fanout=flat`` (docs/critical-path.md)."""
    mode = os.environ.get(env.FANOUT, "auto")
    if mode not in env.FANOUT_MODES:
        raise ValueError(f"{env.FANOUT}={mode!r}: expected one of {', '.join(env.FANOUT_MODES)}")
    if mode == "auto":
        return "tree" if workers >= RELAY_FROM else "flat"
    return mode


def relay_groups(events: list[dict]) -> list[dict]:
    """sqrt(n) relay events, each listing about sqrt(n) worker events."""
    size = max(1, math.isqrt(max(1, len(events) - 1)) + 1)
    return [records.relay_event(events[i:i + size]) for i in range(0, len(events), size)]


def lambda_invoker(function: str | None = None, client=None, threads: int = FANOUT_THREADS,
                   endpoint_url: str | None = None) -> Invoker:
    """Event-invoke the worker function for each (worker, event), concurrently (through relays
    when ``fanout_mode`` says tree)."""
    import boto3
    from botocore.config import Config

    function = function or os.environ[env.WORKER_FUNCTION]
    client = client or boto3.session.Session().client(
        "lambda", endpoint_url=endpoint_url,
        config=Config(max_pool_connections=threads, parameter_validation=False))

    def invoke(items: list[tuple[int, dict]], wrap=None) -> str:
        def one(payload: dict) -> None:
            client.invoke(FunctionName=function, InvocationType="Event",
                          Payload=json.dumps(payload).encode())

        events = [event for _, event in items]
        mode = fanout_mode(len(events))
        if mode == "tree":
            events = relay_groups(events)
        if wrap is not None:  # the caller measures the pool threads' CPU
            one = wrap(one)
        with ThreadPoolExecutor(max_workers=max(1, min(threads, len(events)))) as pool:
            list(pool.map(one, events))
        return mode

    return invoke




# --- finalize ---------------------------------------------------------------------------------
def finalize_step(store: Store, state: dict) -> dict[str, Any]:
    """Write the job's result (metrics, cost) or its failure; mark the record."""
    from coordinator.control.summary import summarize

    run_id = state["job"]
    if "error" in state:
        current = store.job(run_id).get("execution_arn")
        if state.get("execution_arn") and current and current != state["execution_arn"]:
            log.info("job=%s: a stale execution failed; the job runs on in %s", run_id, current)
            return {**state, "status": "stale"}
        error = state["error"]
        cause = error.get("Cause", "")
        try:
            cause = json.loads(cause).get("errorMessage", cause)
        except (ValueError, AttributeError):
            pass
        store.update_job(run_id, {"status": "failed", "finished": now(),
                                  "error": {"type": error.get("Error"), "message": cause}})
        return {**state, "status": "failed"}
    record, plan = _context(store, run_id)
    result = summarize(record, plan, store.rounds(run_id))
    store.put_json(keys.result_summary_key(run_id), result)
    fields = {"status": "cancelled" if state["status"] == "cancelled" else "done",
              "finished": now(), "result": result["summary"]}
    if fields["status"] == "done" and result["summary"]["nothing_trained"]:
        fields["status"] = "failed"  # a job that decoded nothing did not happen
        fields["error"] = {"type": "NothingTrained", "message": "no model decoded any "
                           "iteration: " + "; ".join(f"model {m['model']}: {m['reason']}"
                                                     for m in result["models"])}
    store.update_job(run_id, fields)
    return {**state, "status": fields["status"]}
