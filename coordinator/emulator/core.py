"""The emulated stack: moto (in-process or a local server) plus the in-process Lambda runtime.

It creates what the CDK app declares (coordinator.workflow.resources): the bucket, the table, the
worker and step functions, and the state machine from ``build_definition``. Straggler injection
and faults written by the Plan step under ``runs/{job}/inject/`` are applied to the worker
invocations here: a slow worker starts late (so its completion is observed late, as on Lambda),
a delay beyond the function timeout means it never completes, a ``raise`` fault points the
worker at a missing object (the real worker records the error and raises), a ``garbage`` fault
overwrites its results with NaNs after it finished.

Teardown (``stop``) never leaves a thread of the run behind unnoticed (issue 26; the layers are
described in ``coordinator.emulator.offline``): it refuses new invocations, stops the running
executions, waits up to ``drain_s`` for the invocations in flight and moto's interpreter
threads, and only then turns moto off; what still runs after that gets no AWS call through, and
nothing it does reaches a real endpoint. moto's requests run under one lock
(``coordinator.emulator.moto_lock``): its backends are not thread-safe.
"""

from __future__ import annotations

import hashlib
import importlib
import io
import json
import logging
import os
import threading
import time
import zipfile
from typing import Any

import boto3
import numpy as np
from moto import mock_aws
from moto.core.config import default_user_config

from coordinator.contract import keys
from coordinator.contract.env import ENDPOINT_URL
from coordinator.contract.keys import record_keys, result_key
from coordinator.control.meter import track_emulated_services
from coordinator.emulator import moto_imports, moto_lock, offline
from coordinator.emulator.invoke import InProcessLambda
from coordinator.workflow import resources
from coordinator.workflow.definition import (
    STEP_HANDLERS,
    STEP_TIMEOUTS,
    WORKER_HANDLER,
    build_definition,
)

log = logging.getLogger("sgcflow.emulator")
ACCOUNT = "123456789012"
REGION = "us-east-1"
ROLE_NAME = "sgcflow-emulated-role"
CONFIG = {"stepfunctions": {"execute_state_machine": True}}
MOTO_INTERPRETER_LOG = "moto.stepfunctions.parser"
DRAIN_S = 30.0  # how long teardown waits for invocations in flight (then refuses their calls)


class Emulator:
    """Start with ``start()`` (or ``with Emulator() as emu:``); ``stop()`` undoes everything.

    moto intercepts boto3 in this process (the handlers, the interpreter, ``client``);
    ``server=True`` also runs a ``ThreadedMotoServer`` on 127.0.0.1:``port`` (0: a free port) on
    the same backends, so other processes (the CLI) can talk to it. The handlers stay on the
    in-process path: over HTTP to their own server, each request paid a connection, a thread and
    werkzeug's parsing on both sides (a 6-iteration job of 8 workers: 10.0 s -> 6.5 s).
    ``warm``: import the worker up front (its Numba start-up is not charged to round 1).
    ``drain_s``: how long ``stop()`` waits for the invocations in flight.
    """

    def __init__(self, *, server: bool = False, port: int = 0, lambda_threads: int = 8,
                 step_budget: int | None = None, warm: bool = True, drain_s: float = DRAIN_S):
        self.server_mode = server
        self.warm = warm
        self.step_budget = step_budget
        self.port = port
        self.drain_s = drain_s
        self.runtime = InProcessLambda(max_workers=lambda_threads)
        self._mock = None
        self._server = None
        self._started = False
        self._saved_env: dict[str, str | None] = {}
        self._inject_cache: dict[str, tuple[np.ndarray, dict]] = {}  # under moto_lock.LOCK
        self._interpreters_before = 0
        self.state_machine_arn = ""
        self._session: boto3.session.Session | None = None
        self._clients: dict[str, Any] = {}  # service -> client, while started
        self._clients_lock = threading.Lock()

    # --- lifecycle -------------------------------------------------------------------------------
    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def start(self) -> Emulator:
        # moto's state machine interpreter logs a failed state with its internal objects'
        # reprs; the job record already says what failed, in our words (docs/aws.md).
        logging.getLogger(MOTO_INTERPRETER_LOG).setLevel(logging.CRITICAL)
        moto_imports.load_batch_utils()
        if self.warm:  # a provisioned worker: Numba kernels loaded before the first round
            importlib.import_module(WORKER_HANDLER.rsplit(".", 1)[0])
        env = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
               "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION,
               "SGC_BUCKET": resources.BUCKET, "SGC_TABLE": resources.TABLE,
               "SGC_WORKER_FUNCTION": resources.WORKER_FUNCTION}
        for key, value in env.items():
            self._saved_env[key] = os.environ.get(key)
            os.environ[key] = value
        # the handlers' clients must reach this process's moto, not an endpoint set outside
        self._saved_env[ENDPOINT_URL] = os.environ.pop(ENDPOINT_URL, None)
        # The handlers carry these themselves: teardown restores the process environment.
        self.runtime.environment = dict(env)
        self.runtime.delay = self._delay
        self.runtime.rewrite = self._rewrite
        self.runtime.replace = self._garbage
        self.runtime.install()  # moto's lock, the fence, the in-process Lambda
        self._started = True
        self._interpreters_before = len(_interpreter_threads())
        try:
            self._mock = mock_aws(config=CONFIG)
            with moto_lock.LOCK:  # (re)sets every backend: no request may be inside moto
                self._mock.start()
            if self.server_mode:
                from coordinator.emulator import moto_server

                default_user_config["stepfunctions"]["execute_state_machine"] = True
                self._server = moto_server.start(self.port)
                self.port = self._server.get_host_and_port()[1]
            track_emulated_services()  # the coordinator's CPU meter leaves moto's own work out
            _reset_worker_runtime()
            self.create_resources()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Refuse new invocations, stop the running executions, wait (``drain_s``) for what is
        in flight, then turn moto off and restore the environment (idempotent)."""
        if not self._started:
            return
        self._started = False
        deadline = time.monotonic() + self.drain_s
        self.runtime.close()
        alone = offline.running() == 1  # moto's state is this process's: is it all ours?
        if alone:
            self._stop_executions()
        leftovers = self.runtime.drain(self.drain_s)
        if alone:
            leftovers += _join(_interpreter_threads()[self._interpreters_before:], deadline)
        if self._server is not None:
            self._server.stop()
            self._server = None
            default_user_config["stepfunctions"]["execute_state_machine"] = False
        if self._mock is not None:
            with moto_lock.LOCK:  # resets every backend: no request may be inside moto
                # a server's state stays for its last snapshot (coordinator.emulator.serve)
                self._mock.stop(remove_data=not self.server_mode)
            self._mock = None
        with self._clients_lock:  # built against this run's moto: a restart builds its own
            self._session, self._clients = None, {}
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved_env.clear()
        self.runtime.uninstall(leftovers)

    def _stop_executions(self) -> None:
        """Stop every running execution: moto's interpreter ends it at its next state."""
        try:
            sfn = self.client("stepfunctions")
            for machine in sfn.list_state_machines()["stateMachines"]:
                pages = sfn.get_paginator("list_executions").paginate(
                    stateMachineArn=machine["stateMachineArn"], statusFilter="RUNNING")
                for page in pages:
                    for execution in page["executions"]:
                        sfn.stop_execution(executionArn=execution["executionArn"],
                                           error="EmulatorStopped",
                                           cause="the emulator was stopped")
        except Exception as error:  # teardown goes on: the drain bounds what is left
            log.warning("could not stop the running executions: %s", error)

    @property
    def endpoint_url(self) -> str | None:
        return f"http://127.0.0.1:{self.port}" if self.server_mode else None

    def client(self, service: str):
        """One client per service and run, from one session: a new session reads botocore's
        endpoint and service JSON again (5% of a small emulated job's CPU went there). Clients
        are thread-safe once built."""
        with self._clients_lock:
            if service not in self._clients:
                self._session = self._session or boto3.session.Session()
                self._clients[service] = self._session.client(service, region_name=REGION)
            return self._clients[service]

    # --- resources -------------------------------------------------------------------------------
    def create_resources(self) -> None:
        """The bucket, table, functions and state machine of the CDK app, with the same names."""
        self.client("s3").create_bucket(Bucket=resources.BUCKET)
        self.client("s3").put_bucket_versioning(  # as the deployed bucket
            Bucket=resources.BUCKET, VersioningConfiguration={"Status": "Enabled"})
        self.client("dynamodb").create_table(
            TableName=resources.TABLE, BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                       {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                  {"AttributeName": "sk", "AttributeType": "S"}])
        role = self.client("iam").create_role(
            RoleName=ROLE_NAME, AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17"})
        )["Role"]["Arn"]
        self.create_function(resources.WORKER_FUNCTION, WORKER_HANDLER,
                             resources.WORKER_TIMEOUT_S, resources.WORKER_MEMORY_MB, role)
        for step, handler in STEP_HANDLERS.items():
            self.create_function(resources.step_function_name(step), handler,
                                 STEP_TIMEOUTS[step], resources.STEP_MEMORY_MB, role)
        options = {"step_budget": self.step_budget} if self.step_budget else {}
        definition = build_definition(self.function_arns(), **options)
        self.state_machine_arn = self.client("stepfunctions").create_state_machine(
            name=resources.STATE_MACHINE, definition=json.dumps(definition), roleArn=role,
            type="STANDARD")["stateMachineArn"]

    def create_function(self, name: str, handler: str, timeout: int, memory: int,
                        role: str) -> str:
        """A Lambda function whose ``handler`` (module.function) runs in this process."""
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("README.txt", f"emulated: runs {handler} in-process\n")
        return self.client("lambda").create_function(
            FunctionName=name, Runtime="python3.11", Role=role, Handler=handler,
            Code={"ZipFile": buffer.getvalue()}, Timeout=timeout, MemorySize=memory,
            Environment={"Variables": {"SGC_BUCKET": resources.BUCKET,
                                       "SGC_TABLE": resources.TABLE}})["FunctionArn"]

    def function_arns(self) -> dict[str, str]:
        """Logical step name -> function ARN (what ``build_definition`` takes)."""
        return {step: f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:"
                      f"{resources.step_function_name(step)}" for step in STEP_HANDLERS}

    # --- injection -------------------------------------------------------------------------------
    def _injection(self, run_id: str) -> tuple[np.ndarray, dict]:
        with moto_lock.LOCK:  # reads moto's S3 backend; called inside and outside moto requests
            if run_id not in self._inject_cache:
                delays = _read_object(keys.inject_delays_key(run_id))
                faults = _read_object(keys.faults_key(run_id))
                table = np.load(io.BytesIO(delays)) if delays else np.zeros((0, 0))
                by_key = {(f["round"], f["worker"]): f["kind"]
                          for f in (json.loads(faults) if faults else [])}
                self._inject_cache[run_id] = (table, by_key)
            return self._inject_cache[run_id]

    def _delay(self, function: str, event: dict) -> float | None:
        if function != resources.WORKER_FUNCTION or "run" not in event:
            return None
        table, _ = self._injection(event["run"])
        t, w = int(event["round"]), int(event["worker"])
        if t - 1 < table.shape[0] and w < table.shape[1]:
            return float(table[t - 1, w]) or None
        return None

    def _rewrite(self, function: str, event: dict) -> dict:
        if function != resources.WORKER_FUNCTION or "run" not in event:
            return event
        _, faults = self._injection(event["run"])
        if faults.get((event["round"], event["worker"])) != "raise":
            return event
        missing = f"runs/{event['run']}/inject/no-such-params.npy"
        return {**event, "tasks": [{**task, "params_key": missing} for task in event["tasks"]]}

    def _garbage(self, function: str, event: dict) -> bool:
        """A ``garbage`` fault: instead of the worker, write NaN results and an "ok" record
        (a worker that claims success but returns nonsense)."""
        if function != resources.WORKER_FUNCTION or "run" not in event:
            return False
        _, faults = self._injection(event["run"])
        if faults.get((event["round"], event["worker"])) != "garbage":
            return False
        run_id, t, w = event["run"], int(event["round"]), int(event["worker"])
        results, digests = {}, {}
        for task in event["tasks"]:
            key = result_key(run_id, t, int(task["job"]), w)
            buffer = io.BytesIO()
            np.save(buffer, np.full(3, np.nan))
            self.client("s3").put_object(Bucket=resources.BUCKET, Key=key,
                                         Body=buffer.getvalue())
            results[str(task["job"])] = {"S": key}
            digests[str(task["job"])] = {"S": hashlib.sha256(buffer.getvalue()).hexdigest()}
        item = {k: {"S": v} for k, v in record_keys(run_id, t, w).items()}
        item.update({"status": {"S": "ok"}, "results": {"M": results},
                     "sha256": {"M": digests}, "timings": {"M": {}}})
        if event.get("token"):  # the worker itself misbehaves: it holds its invocation's token
            item["token"] = {"S": event["token"]}
        self.client("dynamodb").put_item(TableName=resources.TABLE, Item=item)
        return True

    # --- executions ------------------------------------------------------------------------------
    def wait(self, execution_arn: str, timeout_s: float = 600.0) -> dict:
        """Block until the execution leaves RUNNING; return describe_execution. Polls every
        50 ms at first, backing off to every 250 ms: each poll takes moto's lock from the run
        it waits for (a 256-worker replay test: 69.8 s -> 57.8 s wall time with the back-off)."""
        sfn = self.client("stepfunctions")
        deadline = time.monotonic() + timeout_s
        pause = 0.05
        while True:
            described = sfn.describe_execution(executionArn=execution_arn)
            if described["status"] != "RUNNING":
                return described
            if time.monotonic() > deadline:
                raise TimeoutError(f"execution {execution_arn} still running after {timeout_s} s")
            time.sleep(pause)
            pause = min(0.25, pause * 1.5)


def _reset_worker_runtime() -> None:
    """The worker keeps its boto3 clients across invocations: drop them for a new stack."""
    import sys

    worker = sys.modules.get(WORKER_HANDLER.rsplit(".", 1)[0])
    if worker is not None and hasattr(worker, "reset_runtime"):
        worker.reset_runtime()


def _read_object(key: str) -> bytes | None:
    """Read straight from moto's S3 backend (often inside a moto request: no re-entry), under
    moto's lock (worker threads write to the same bucket)."""
    from moto.s3.models import s3_backends

    with moto_lock.LOCK:
        try:
            return s3_backends[ACCOUNT]["global"].get_object(resources.BUCKET, key).value
        except Exception:  # missing bucket/key: nothing injected
            return None


def _interpreter_threads() -> list[threading.Thread]:
    """Threads moto's Step Functions interpreter started so far in this process (in order)."""
    from moto.stepfunctions.parser.utils import TMP_THREADS

    return list(TMP_THREADS)


def _join(threads: list[threading.Thread], deadline: float) -> list[threading.Thread]:
    """Join each thread until ``deadline`` (monotonic); returns those still alive."""
    for thread in threads:
        if thread.is_alive() and thread is not threading.current_thread():
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
    alive = [t for t in threads if t.is_alive() and t is not threading.current_thread()]
    if alive:
        log.warning("%d Step Functions interpreter threads still running after the emulator "
                    "stopped: their AWS calls are refused", len(alive))
    return alive


def run_definition(definition: dict | str, execution_input: dict, *,
                   emulator: Emulator | None = None, timeout_s: float = 600.0) -> dict:
    """Run an ASL definition in the emulator and wait: returns status, output and the history.

    For infra tests: render the synthesized ASL with ``Emulator.function_arns()`` and run it here.
    """
    own = emulator is None
    emulator = emulator or Emulator().start()
    try:
        sfn = emulator.client("stepfunctions")
        role = f"arn:aws:iam::{ACCOUNT}:role/{ROLE_NAME}"
        text = definition if isinstance(definition, str) else json.dumps(definition)
        name = f"run-definition-{time.time_ns()}"
        arn = sfn.create_state_machine(name=name, definition=text, roleArn=role)[
            "stateMachineArn"]
        execution = sfn.start_execution(stateMachineArn=arn, input=json.dumps(execution_input))
        described = emulator.wait(execution["executionArn"], timeout_s)
        history = sfn.get_execution_history(executionArn=execution["executionArn"],
                                            maxResults=1000)["events"]
        output = json.loads(described["output"]) if described.get("output") else None
        return {"status": described["status"], "output": output, "history": history,
                "execution_arn": execution["executionArn"]}
    finally:
        if own:
            emulator.stop()
