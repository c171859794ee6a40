"""`sgc bench round`: what one round costs the coordinator, measured in emulation at n workers.

Per configuration (scheme x rounds per Round task), one job runs through the emulated state
machine with the real handlers, on the virtual clock (worker times from the trace, nobody
sleeps). From its records and the execution history:

- ``transitions``: state transitions per round (Round + Route entries / rounds; the job's fixed
  Plan, last Route, Finalize and Done are ``transitions_per_job``);
- ``sequential_calls``: levels of dependent AWS calls from the poll that ends a round to the
  next round's fan-out (parallel calls, the worker fan-out among them, count as one level),
  as the Round task recorded them;
- ``coordinator_cpu_s``: CPU seconds of the coordinator's threads per round, without moto's
  own work (``coordinator.control.meter``): its code and its boto3 clients;
- ``aws_estimate_s``: those levels priced with ``LATENCY_MS`` (waves of a level = its calls over
  the parallelism the code uses) plus the transitions; ``per_gradient_s`` divides it by the
  gradients a round completes (batched rounds: M models per invocation, the same critical path
  with more results to read and more parameters to write).

Latency table (typical in-region latency per call; docs/critical-path.md gives the sources):

====================================  ======  ==========================================
call                                  ms      basis
====================================  ======  ==========================================
dynamodb:Query / GetItem / UpdateItem 10      DynamoDB: "single-digit millisecond
                                              performance at any scale" (Developer Guide,
                                              "What is Amazon DynamoDB?"), plus the network
dynamodb:TransactWriteItems           20      twice a single write (two-phase, 3 items)
s3:GetObject / PutObject (< 512 KB)   30      S3 whitepaper "Timeouts and Retries for
                                              Latency-Sensitive Applications": median latency
                                              of small requests "in the tens of milliseconds"
lambda:Invoke (Event)                 25      assumption: one regional API call that queues
                                              the event (no public latency figure)
Event delivery to a warm handler      50      assumption (charged once, for the relay hop of
                                              the tree fan-out)
Step Functions state transition       50      assumption (Standard workflows publish no
                                              figure; tens of ms are commonly observed)
====================================  ======  ==========================================
"""

from __future__ import annotations

import math
import re
import time

import click
import numpy as np

from .benchio import json_option, markdown_table, out_option, write_outputs

LATENCY_MS = {"dynamodb:Query": 10, "dynamodb:GetItem": 10, "dynamodb:UpdateItem": 10,
              "dynamodb:TransactWriteItems": 20, "s3:GetObject": 30, "s3:PutObject": 30,
              "lambda:Invoke": 25, "lambda:async-delivery": 50, "states:transition": 50}
WORKER_VCPU = 1.0  # the worker function's 1769 MB: one vCPU (a relay's client CPU)
# (scheme, parameters, rounds per Round task (None: as many as fit), fan-out)
# (scheme, params, rounds per Round task (None: the default budget), SGC_FANOUT); sgcflow with
# "auto" is what a job gets by default ("auto": a tree from 64 workers), "flat" is the stack
# deployed with -c fanout=flat.
# The last element: models in flight (1: T + 1 of them, one gradient per invocation).
CONFIGS = [("sgcflow", {}, None, "auto", 1), ("gc", {"s": 15}, None, "auto", 1),
           ("gc", {"s": 15}, None, "flat", 1),
           ("m-sgc", {"B": 1, "W": 2, "lam": 27}, None, "auto", 1),
           ("gc", {"s": 15}, 1, "auto", 1), ("gc-batched", {"s": 15}, None, "auto", 4),
           ("sgcflow", {}, None, "auto", 4)]


def price(levels: list[str], n_params: int, workers: int, dispatch_cpu_s: float = 0.0) -> float:
    """Seconds the levels would take on AWS (see the module docstring). The fan-out is bound by
    the network (waves of invokes) or by the client's CPU, whichever is longer: Python sends
    the invokes one at a time under the GIL, and a Lambda of ``STEP_MEMORY_MB`` has
    STEP_MEMORY_MB / 1769 of a vCPU."""
    from coordinator.control.decode import window_for
    from coordinator.control.rounds import FANOUT_THREADS, relay_groups
    from coordinator.workflow import resources
    from functions.relay import THREADS

    parallel = {"s3:GetObject": window_for(n_params), "lambda:Invoke": FANOUT_THREADS}
    relays = len(relay_groups([{}] * workers))
    per_relay = math.ceil(workers / relays)
    total = 0.0
    for level in levels:
        call = level.split(" ")[0]
        count = int(match.group(1)) if (match := re.search(r" x(\d+)$", level)) else 1
        vcpu = min(1.0, resources.STEP_MEMORY_MB / 1769)
        if "relays to the workers" in level:  # in the relays: delivery, then their invokes
            invoke_cpu = dispatch_cpu_s / relays  # one invoke's client CPU, as measured
            seconds = (LATENCY_MS["lambda:async-delivery"] / 1000 + max(
                LATENCY_MS[call] * math.ceil(per_relay / THREADS) / 1000,
                per_relay * invoke_cpu / WORKER_VCPU))
        elif call == "lambda:Invoke":  # the coordinator's own invokes
            count = relays if "to the relays" in level else workers
            seconds = max(LATENCY_MS[call] * math.ceil(count / FANOUT_THREADS) / 1000,
                          dispatch_cpu_s / vcpu)
        else:
            seconds = LATENCY_MS[call] * math.ceil(count / parallel.get(call, count)) / 1000
        total += seconds
    return total


def measure(emulator, backend, name: str, params: dict, rounds_per_task: int | None,
            fanout: str, workers: int, jobs: int, trace: str, models: int = 1) -> dict:
    import os

    from coordinator.contract.models import ModelSpec
    from coordinator.control.plan import JobPlan
    from coordinator.replay.livereplay import Settings, choose, job_spec
    from coordinator.spec.jobspec import validate

    settings = Settings(trace=trace, profile=None, region=None, mu=1.0, jobs=jobs * models,
                        workers=workers, models=models)
    candidate = choose(name, params, settings)  # the paper's rule at mu = 1; sgcflow its own
    if rounds_per_task:
        os.environ["SGC_ROUNDS_PER_TASK"] = str(rounds_per_task)
    os.environ["SGC_FANOUT"] = fanout
    try:
        run_id = backend.submit(validate(job_spec(candidate, settings)))
        described = emulator.wait(backend.store.job(run_id)["execution_arn"], 3600)
    finally:
        os.environ.pop("SGC_ROUNDS_PER_TASK", None)
        os.environ.pop("SGC_FANOUT", None)
    if described["status"] != "SUCCEEDED":
        raise click.ClickException(f"{name} job {run_id} {described['status']}")
    plan = JobPlan.from_dict(backend.store.job(run_id)["plan"])
    log = backend.store.rounds(run_id)
    measured = [e["invoked"]["previous"] for e in log[1:]]  # round t's cost, recorded at t + 1
    n_params = max(ModelSpec.from_dict(m).n_params for m in plan.models)
    entered = _entered_states(emulator, run_id)
    # The last Route (to Finalize) ends the job: it is counted with the job, not a round.
    per_round = (entered.get("Round", 0) + entered.get("Route", 0) - 1) / len(log)
    fixed = 1 + sum(entered.get(s, 0) for s in ("Plan", "Finalize", "Done", "ContinueAsNew"))
    levels = [len(m["critical_path"]) for m in measured]
    estimates = [price(m["critical_path"], n_params, workers,
                       m.get("cpu_phases_s", {}).get("dispatch", 0.0)) + per_round
                 * LATENCY_MS["states:transition"] / 1000 for m in measured]
    from coordinator.control.rounds import RELAY_FROM

    shown = f"auto ({'tree' if workers >= RELAY_FROM else 'flat'})" if fanout == "auto" \
        else fanout
    gradients = plan.jobs / len(log)  # per round, the last one's finishing round included
    return {"config": f"{candidate.scheme.describe()}, {shown} fan-out, "
                      f"{rounds_per_task or 'all'} rounds per Round task, {plan.M} models"
                      f"{' batched' if backend.store.job(run_id)['spec'].get('batch') else ''}",
            "scheme": name, "params": params, "workers": workers, "fanout": fanout,
            "rounds_per_task": rounds_per_task, "rounds": len(log),
            "transitions": round(per_round, 3), "transitions_per_job": fixed,
            "sequential_calls": int(max(levels)),
            "critical_path": measured[-1]["critical_path"],
            "coordinator_cpu_s": round(float(np.mean([m["cpu_s"] for m in measured])), 4),
            "cpu_phases_s": {k: round(float(np.mean([m["cpu_phases_s"].get(k, 0.0)
                                                     for m in measured])), 4)
                             for k in ("collect", "update", "dispatch")},
            "aws_estimate_s": round(float(np.mean(estimates)), 4),
            "gradients_per_round": round(gradients, 3),
            "per_gradient_s": round(float(np.mean(estimates)) / gradients, 4)}


def _entered_states(emulator, run_id: str) -> dict[str, int]:
    sfn = emulator.client("stepfunctions")
    counts: dict[str, int] = {}
    executions = sfn.list_executions(stateMachineArn=emulator.state_machine_arn)["executions"]
    for execution in executions:
        if not execution["name"].startswith(run_id):
            continue
        kwargs: dict = {"executionArn": execution["executionArn"], "maxResults": 1000}
        while True:
            page = sfn.get_execution_history(**kwargs)
            for event in page["events"]:
                details = event.get("stateEnteredEventDetails")
                if details:
                    counts[details["name"]] = counts.get(details["name"], 0) + 1
            if "nextToken" not in page:
                break
            kwargs["nextToken"] = page["nextToken"]
    return counts


@click.command()
@out_option
@json_option
@click.option("--workers", type=click.IntRange(2, 256), default=256, show_default=True)
@click.option("--jobs", type=click.IntRange(2, 50), default=4, show_default=True,
              help="Rounds' worth of jobs per configuration (M x jobs gradients with M models).")
@click.option("--trace", type=click.Path(exists=True, dir_okay=False),
              default="data/lambda_delays.parquet", show_default=True)
def round_(out, as_json, workers, jobs, trace):
    """Per round: state transitions, dependent AWS calls, coordinator CPU, AWS latency estimate.

    Targets at 256 workers: <= 2 transitions, <= 6 sequential calls, <= 0.5 s CPU,
    aws_estimate_s <= 0.25 s.
    """
    from coordinator.backends import emulator_backend
    from coordinator.cli.demo import quiet_handler_logs
    from coordinator.emulator import Emulator

    quiet_handler_logs()
    rows = []
    started = time.perf_counter()
    with Emulator() as emulator:
        backend = emulator_backend(emulator)
        for name, params, per_task, fanout, models in CONFIGS:
            rows.append(measure(emulator, backend, name, params, per_task, fanout, workers,
                                jobs, trace, models))
            click.echo(f"  {rows[-1]['config']}: done ({time.perf_counter() - started:.0f} s)",
                       err=True)
    table = markdown_table(rows, [("config", "configuration"), ("transitions", "transitions"),
                                  ("sequential_calls", "sequential calls"),
                                  ("coordinator_cpu_s", "coordinator CPU s"),
                                  ("aws_estimate_s", "AWS estimate s"),
                                  ("gradients_per_round", "gradients per round"),
                                  ("per_gradient_s", "AWS estimate s per gradient")])
    write_outputs(out, "round", rows, table,
                  f"sgc bench round --workers {workers} --jobs {jobs}", as_json)
