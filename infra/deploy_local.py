"""`make deploy-local`: the real `cdk bootstrap` + `cdk deploy`, a job and an IAM audit, on moto.

1. start ``coordinator.emulator.deploy_server`` (moto on 127.0.0.1, a free port by default) and
   wait while it loads the worker's kernels (minutes when it compiles them), with progress;
2. run the pinned CDK CLI's ``bootstrap`` and ``deploy --all --require-approval never`` against
   it with the source bundle (placeholder dependency layer: the handlers run in-process here);
3. ``sgc submit --region us-east-1`` a tiny job to the deployed stack, wait for it and check that
   every job decoded; invoke the warm-pool manager once (its EventBridge schedule does not run
   in moto);
4. ``cdk diff`` and a second ``cdk deploy``: nothing may change, and the ``live`` alias must stay
   on the same version;
5. ``make destroy FORCE=1`` (``cdk destroy --all --force``): the stack must be gone and its
   bucket and table kept (RETAIN); then ``make delete-data``'s teardown deletes them (every
   version of the versioned bucket first);
6. stop the server (also when any step failed) and audit every AWS call the functions and the
   state machine made against their roles in the deployed template (``sgc audit iam`` reads the
   same run file again).

The last line says what ran and that every job decoded. Usage errors (port in use, no CDK CLI)
say what to do and exit 2; a failed check exits 1.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import boto3
from botocore.exceptions import ClientError

from coordinator.audit.iam import audit, write_run
from coordinator.audit.record import read_calls
from coordinator.emulator.deploy_server import ACCOUNT, REGION
from coordinator.workflow import resources
from infra.app import stack_id
from infra.config import WORKER_ALIAS
from infra.teardown import delete_data, stack_data
from infra.warm_pool import WARM_POOL_FUNCTION

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CDK = "npx --yes aws-cdk@2.1148.1"
DEFAULT_OUT = ROOT / "build" / "deploy-local"
DEFAULT_AUDIT = ROOT / "build" / "audit" / "deploy-local.json"
# One round per Round task (SGC_ROUNDS_PER_TASK=1 in the server) and step_budget=4: four rounds
# per execution, so the 5-round job continues as new (Plan starts the next execution: that
# grant is exercised too).
# fanout=tree: the 4-worker job still relays, so the audit sees the worker invoke itself.
CONTEXT = ["-c", f"regions={REGION}", "-c", "bundle=source", "-c", "step_budget=4",
           "-c", "fanout=tree"]
# Tiny but real: M-SGC (delay T=1) on 4 workers, two models, two iterations each = 4 jobs.
JOB_SPEC = {
    "name": "deploy-local",
    "models": [{"kind": "softmax", "lr": 0.5, "seed": 0},
               {"kind": "softmax", "lr": 0.3, "seed": 1}],
    "dataset": {"name": "synthetic", "rows": 256, "features": 6, "classes": 3, "seed": 1},
    "iterations": 2, "workers": 4, "scheme": {"name": "m-sgc", "B": 1, "W": 2, "lam": 1},
    "wait": {"deadline_s": 5.0, "hard_limit_s": 30}, "stragglers": {"model": "none"},
}
# The server loads every kernel before it is ready: seconds from a warm Numba cache, minutes when
# it compiles them (a fresh clone: ~5 min on a loaded machine). It is waited for as long as it
# works (its CPU time grows), with a progress line every PROGRESS_EVERY_S; it has failed when it
# exits, does nothing for STALL_S, or is still not ready after START_LIMIT_S.
STALL_S = 300.0
START_LIMIT_S = 3600.0
PROGRESS_EVERY_S = 20.0
JOB_TIMEOUT_S = 180.0
# `make destroy FORCE=1` on moto: the stack is deleted, then the CLI reads its final events and
# fails with "@aws-sdk XML parse error: unexpected content" on moto's answer (exit 1; make exits
# 2). destroy() then checks the stack itself: gone is ok, and says so.
MOTO_DESTROY_QUIRK = "XML"


class UsageError(RuntimeError):
    """Bad input or a missing tool: the message says what to do (exit 2)."""


class CheckFailed(RuntimeError):
    """The deployment or the job did not do what it must (exit 1)."""


def say(message: str) -> None:
    print(f"deploy-local: {message}", flush=True)


# --- preconditions ------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def check_port(port: int) -> int:
    """``port`` if 127.0.0.1:port can be bound (0: any free port)."""
    if not 0 <= port <= 65535:
        raise UsageError(f"--port: expected 0 (any free port) or 1-65535, got {port}")
    if port == 0:
        return free_port()
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            raise UsageError(f"port {port} on 127.0.0.1 is in use: pick another with "
                             f"`make deploy-local PORT=<n>`, or PORT=0 for any free port "
                             "(the default)") from None
    return port


def check_cdk(cdk: list[str], env: dict[str, str]) -> str:
    """The CDK CLI's version, or a UsageError saying how to get one."""
    if not cdk or shutil.which(cdk[0]) is None:
        raise UsageError(
            f"CDK CLI not found: `{cdk[0] if cdk else ''}` is not on PATH. Install Node.js 18 "
            "or newer (tested with Node 20; npm ships npx), which fetches the pinned "
            "aws-cdk@2.1148.1 on first use, or point CDK at a CDK CLI: "
            "`make deploy-local CDK=/path/to/cdk`")
    try:
        done = subprocess.run([*cdk, "--version"], capture_output=True, text=True, env=env,
                              timeout=300, check=False)
    except subprocess.TimeoutExpired:
        raise UsageError(f"`{shlex.join(cdk)} --version` did not answer in 300 s: is the npm "
                         "registry reachable (first use downloads the CLI)?") from None
    if done.returncode != 0:
        raise UsageError(f"`{shlex.join(cdk)} --version` failed: {done.stderr.strip()[-400:]}"
                         " -- needs Node.js 18+ and, on first use, the npm registry")
    return done.stdout.strip().splitlines()[-1] if done.stdout.strip() else "?"


# --- the server ---------------------------------------------------------------------------------
class Server:
    """The deploy server as a child process (stopped with SIGTERM)."""

    def __init__(self, port: int, out: Path):
        self.port, self.out = port, out
        self.state = out / "server.json"
        self.calls = out / "calls.jsonl"
        self.log = out / "server.log"
        self.process: subprocess.Popen | None = None

    @property
    def endpoint(self) -> str:
        return f"http://localhost:{self.port}"  # not 127.0.0.1: see moto_compat gap 7

    def command(self) -> list[str]:
        return [sys.executable, "-m", "coordinator.emulator.deploy_server", "--port",
                str(self.port), "--state", str(self.state), "--calls", str(self.calls)]

    def start(self) -> None:
        """Start the server and wait until it is ready (``wait_ready``); the caller stops it,
        in a ``finally``, whatever happens here."""
        self.state.unlink(missing_ok=True)
        self.calls.unlink(missing_ok=True)
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                self.command(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                cwd=ROOT, env={**os.environ, "SGC_ROUNDS_PER_TASK": "1"})
        self.wait_ready()

    def wait_ready(self) -> float:
        """Seconds until the server wrote its state file; progress on the way (see STALL_S)."""
        started = last_report = last_busy = time.monotonic()
        last_cpu = cpu_seconds(self.process.pid)
        while not self.state.exists():
            if self.process.poll() is not None:
                raise CheckFailed(f"the deploy server exited ({self.process.returncode}): "
                                  f"{_tail(self.log)}")
            now = time.monotonic()
            cpu = cpu_seconds(self.process.pid)
            if cpu is not None and (last_cpu is None or cpu > last_cpu):  # any tick: works
                last_cpu, last_busy = cpu, now
            if now - last_busy > STALL_S:
                raise CheckFailed(f"the deploy server used no CPU for {STALL_S:.0f} s and is "
                                  f"not ready (stuck?); see {self.log}: {_tail(self.log, 5)}")
            if now - started > START_LIMIT_S:
                raise CheckFailed(f"the deploy server was not ready after {START_LIMIT_S:.0f} s; "
                                  f"see {self.log}")
            if now - last_report >= PROGRESS_EVERY_S:
                busy = f", {cpu:.0f} s CPU" if cpu is not None else ""
                say(f"waiting for the deploy server ({now - started:.0f} s{busy}): "
                    f"{_tail(self.log, 1) or 'starting'}")
                last_report = now
            time.sleep(0.2)
        return time.monotonic() - started

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system) a process has used so far, from /proc (None without it)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _tail(path: Path, lines: int = 15) -> str:
    text = path.read_text(errors="replace") if path.exists() else ""
    return "\n".join(text.splitlines()[-lines:])


# --- steps --------------------------------------------------------------------------------------
def aws_env(endpoint: str) -> dict[str, str]:
    """The environment the CDK CLI and `sgc` get: this server, fake credentials, one region."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("AWS_") and k not in ("CDK_DEFAULT_ACCOUNT", "CDK_DEFAULT_REGION")}
    env.update({"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": REGION,
                "AWS_DEFAULT_REGION": REGION, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
                "CDK_DISABLE_CLI_TELEMETRY": "true"})
    return env


def run(command: list[str], env: dict[str, str], what: str, log: Path,
        timeout: float = 600.0, cwd: Path = ROOT, with_stderr: bool = False) -> str:
    """Run a command; its output goes to ``log``; failing raises with the output's tail.
    Returns its stdout (and stderr, where the CDK CLI reports)."""
    started = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=cwd,
                          timeout=timeout, check=False)
    with log.open("a") as out:
        out.write(f"$ {shlex.join(command)}\n{done.stdout}{done.stderr}\n")
    if done.returncode != 0:
        raise CheckFailed(f"{what} failed ({done.returncode}):\n"
                          f"{(done.stdout + done.stderr).strip()[-1500:]}")
    say(f"{what}: ok ({time.monotonic() - started:.1f} s)")
    return done.stdout + done.stderr if with_stderr else done.stdout


def sgc(args: list[str], env: dict[str, str], log: Path, timeout: float = 120.0) -> str:
    command = [str(Path(sys.executable).parent / "sgc"), *args, "--region", REGION]
    return run(command, env, f"sgc {args[0]}", log, timeout=timeout)


def submit_and_check(env: dict[str, str], out: Path, log: Path) -> tuple[str, int, int]:
    """Submit the tiny job and watch it to the end, check that every job decoded and that it
    continued as new; (job id, jobs, executions)."""
    spec = out / "job.json"
    spec.write_text(json.dumps(JOB_SPEC))
    watched = sgc(["submit", str(spec), "--watch"], env, log, timeout=JOB_TIMEOUT_S)
    job = watched.strip().splitlines()[0].strip()
    status = json.loads(sgc(["status", job, "--json"], env, log))
    if status["status"] != "done":
        raise CheckFailed(f"job {job} ended {status['status']}: {status.get('error')}")
    if int(status.get("execution") or 0) < 2:
        raise CheckFailed(f"job {job} ran in one execution: continue-as-new was not exercised")
    summary = json.loads(sgc(["result", job, "--json"], env, log))["summary"]
    expected = len(JOB_SPEC["models"]) * JOB_SPEC["iterations"]
    if summary["decoded_jobs"] != expected or summary["skipped_jobs"]:
        raise CheckFailed(f"job {job}: decoded {summary['decoded_jobs']} of {expected} jobs "
                          f"({summary['skipped_jobs']} skipped)")
    return job, expected, int(status["execution"])


def client(service: str, endpoint: str):
    return boto3.session.Session().client(
        service, region_name=REGION, endpoint_url=endpoint, aws_access_key_id="testing",
        aws_secret_access_key="testing")


def live_version(endpoint: str) -> str:
    return client("lambda", endpoint).get_alias(FunctionName=resources.WORKER_FUNCTION,
                                                Name=WORKER_ALIAS)["FunctionVersion"]


# moto 5.2 answers the provisioned-concurrency API with 404 (coordinator/emulator/moto_compat.py):
# the manager reports it, and raises as it must.
MOTO_LACKS = re.compile(r"\(404\) when calling the \w+ProvisionedConcurrencyConfig operation")


def tick_warm_pool(endpoint: str) -> None:
    """What the EventBridge schedule does every minute (moto runs no schedules). The manager
    raises when any part of its tick failed; here the only failure allowed is moto's missing
    provisioned-concurrency API."""
    answer = client("lambda", endpoint).invoke(FunctionName=WARM_POOL_FUNCTION, Payload=b"{}")
    if answer.get("FunctionError"):
        body = answer["Payload"].read()
        try:
            report = json.loads(json.loads(body)["errorMessage"])
            failures = report["failures"]
        except (ValueError, KeyError, TypeError):
            raise CheckFailed(f"warm-pool manager failed: {body[:500]!r}") from None
        if not failures or not all(MOTO_LACKS.search(f) for f in failures):
            raise CheckFailed(f"warm-pool manager failed: {failures}")
        say("warm-pool manager invoked once: ok (moto lacks provisioned concurrency: "
            f"{len(failures)} failures reported and raised, as on AWS they would be)")
        return
    say("warm-pool manager invoked once: ok")


def stack_status(endpoint: str) -> str | None:
    """The stack's status, or None when CloudFormation no longer knows it."""
    try:
        [stack] = client("cloudformation", endpoint).describe_stacks(
            StackName=resources.STACK_NAME)["Stacks"]
    except ClientError as error:
        if "does not exist" in str(error):
            return None
        raise
    return stack["StackStatus"]


def destroy(cdk: list[str], env: dict[str, str], log: Path, endpoint: str) -> None:
    """`make destroy FORCE=1` itself (no terminal here); the stack must be gone afterwards,
    whatever the CLI's exit code says (see MOTO_DESTROY_QUIRK)."""
    command = ["make", "--no-print-directory", "destroy", "FORCE=1", f"REGIONS={REGION}",
               f"CDK={shlex.join(cdk)}"]
    started = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT,
                          stdin=subprocess.DEVNULL, timeout=600, check=False)
    output = (done.stdout + done.stderr).strip()
    with log.open("a") as out:
        out.write(f"$ {shlex.join(command)}\n{output}\n")
    status = stack_status(endpoint)
    if status not in (None, "DELETE_COMPLETE"):
        raise CheckFailed(f"make destroy FORCE=1 (exit {done.returncode}) left the stack "
                          f"{status}:\n"
                          f"{output[-1500:]}")
    elapsed = time.monotonic() - started
    if done.returncode == 0:
        say(f"make destroy FORCE=1: ok, stack deleted ({elapsed:.1f} s)")
    elif MOTO_DESTROY_QUIRK in output:
        say(f"make destroy FORCE=1: exited {done.returncode} on moto's answer "
            f"({MOTO_DESTROY_QUIRK!r}), but the stack is deleted ({status or 'gone'}): counted "
            f"as ok ({elapsed:.1f} s)")
    else:
        raise CheckFailed(f"make destroy FORCE=1 failed ({done.returncode}) although the stack "
                          f"is deleted:\n{output[-1500:]}")


def _bucket_exists(endpoint: str, bucket: str) -> bool:
    try:
        client("s3", endpoint).head_bucket(Bucket=bucket)
    except ClientError:
        return False
    return True


def _table_exists(endpoint: str, table: str) -> bool:
    try:
        client("dynamodb", endpoint).describe_table(TableName=table)
    except ClientError:
        return False
    return True


def physical_ids(endpoint: str) -> dict[str, str]:
    found = client("cloudformation", endpoint).list_stack_resources(
        StackName=resources.STACK_NAME)["StackResourceSummaries"]
    return {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in found}


def deploy_local(port: int, cdk: list[str], out: Path, audit_file: Path) -> str:
    out.mkdir(parents=True, exist_ok=True)
    port = check_port(port)
    server = Server(port, out)
    env = aws_env(server.endpoint)
    version = check_cdk(cdk, env)
    log = out / "commands.log"
    log.write_text("")
    assembly = out / "cdk.out"
    say(f"CDK CLI {version}; moto server on 127.0.0.1:{port} (log {server.log})")
    try:
        server.start()  # inside the try: a server that fails to start is stopped too
        # Outside the project (no cdk.json): bootstrapping an explicit environment needs no app.
        run([*cdk, "bootstrap", f"aws://{ACCOUNT}/{REGION}"], env, "cdk bootstrap", log,
            cwd=out)
        run([*cdk, "deploy", "--all", "--require-approval", "never", *CONTEXT,
             "-o", str(assembly)], env, "cdk deploy", log)
        alias_before = live_version(server.endpoint)
        job, jobs, executions = submit_and_check(env, out, log)
        say(f"job {job}: done in {executions} executions, {jobs}/{jobs} jobs decoded")
        tick_warm_pool(server.endpoint)
        run([*cdk, "diff", "--fail", "--method=template", *CONTEXT, "-o", str(assembly)], env,
            "cdk diff (no change expected)", log)
        # The assembly `cdk diff` just synthesized afresh, deployed again.
        redeploy = run([*cdk, "deploy", "--all", "--require-approval", "never", "--app",
                        str(assembly)], env, "cdk deploy again", log, with_stderr=True)
        if "(no changes)" not in redeploy:
            raise CheckFailed("the second cdk deploy changed the stack (expected no changes)")
        if live_version(server.endpoint) != alias_before:
            raise CheckFailed(f"the redeploy moved the {WORKER_ALIAS} alias")
        physical = physical_ids(server.endpoint)
        bucket, table = stack_data(client("cloudformation", server.endpoint))
        destroy(cdk, env, log, server.endpoint)
        kept = [name for name, there in ((bucket, _bucket_exists(server.endpoint, bucket)),
                                         (table, _table_exists(server.endpoint, table)))
                if not there]
        if kept:
            raise CheckFailed(f"cdk destroy deleted {kept}: they are RETAIN (the data outlives "
                              "the stack)")
        # What docs/deploy.md's teardown does (`make delete-data`): every version, then the bucket.
        say(delete_data(client("s3", server.endpoint), client("dynamodb", server.endpoint),
                        bucket, table))
        if _bucket_exists(server.endpoint, bucket) or _table_exists(server.endpoint, table):
            raise CheckFailed(f"make delete-data left s3://{bucket} or table {table}")
    finally:
        server.stop()
    template = json.loads((assembly / f"{stack_id(REGION)}.template.json").read_text())
    write_run(audit_file, name="deploy-local", template=template, physical=physical,
              region=REGION, account=ACCOUNT, calls=read_calls(server.calls))
    report = audit([json.loads(audit_file.read_text())])
    say(f"IAM audit ({audit_file}): {report.calls} calls, {len(report.denied)} denied, "
        f"{len(report.unused)} unused grants; calls per function {report.calls_per_function}")
    if report.denied:
        raise CheckFailed("denied calls:\n" + "\n".join(json.dumps(d) for d in report.denied))
    if report.silent_functions:
        raise CheckFailed(f"functions without a recorded call: {report.silent_functions}")
    return (f"cdk bootstrap + deploy ({stack_id(REGION)}) on moto 127.0.0.1:{port}, "
            f"sgc submit --region {REGION}: every job decoded ({jobs}/{jobs}, {executions} "
            f"executions); redeploy changed "
            f"nothing, alias {WORKER_ALIAS} stayed on version {alias_before}; destroyed, data "
            f"deleted; IAM audit {report.calls} calls, 0 denied")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.deploy_local", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free)")
    parser.add_argument("--cdk", default=os.environ.get("CDK", DEFAULT_CDK),
                        help=f"CDK CLI command (default: {DEFAULT_CDK})")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--audit", type=Path, default=DEFAULT_AUDIT)
    args = parser.parse_args(argv)
    try:
        line = deploy_local(args.port, shlex.split(args.cdk), args.out, args.audit)
    except UsageError as error:
        say(f"error: {error}")
        return 2
    except (CheckFailed, subprocess.TimeoutExpired) as error:
        say(f"FAILED: {error}")
        return 1
    except KeyboardInterrupt:
        say("interrupted (the server was stopped)")
        return 130
    say(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
