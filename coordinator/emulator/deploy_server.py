"""The server `make deploy-local` deploys to: moto on 127.0.0.1 with CloudFormation made whole.

Unlike `sgc local up` (which creates the stack's resources itself), this server starts empty:
the CDK CLI bootstraps and deploys into it, and moto's CloudFormation creates the functions, the
alias and the state machine from the synthesized template, with ``moto_compat`` filling its gaps.
Lambda invocations run the real handlers in-process, each with its deployed function's
environment; every AWS call a handler or the state machine makes is recorded for the IAM audit.

Run as ``python -m coordinator.emulator.deploy_server --port P --state FILE --calls FILE``; it
prints what it is doing (kernel compilation takes minutes on a first run), writes FILE (port, pid)
once ready, appends one JSON line per recorded call to the calls file,
and stops on SIGTERM.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import threading
import time
from pathlib import Path

ACCOUNT = "123456789012"
REGION = "us-east-1"


def _environment(port: int) -> None:
    """Credentials, region and endpoint of this server, for the handlers' boto3 clients and for
    moto's own Step Functions interpreter (which invokes Lambda at localhost:$MOTO_PORT)."""
    os.environ.update({
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION, "MOTO_PORT": str(port),
        "AWS_ENDPOINT_URL": f"http://localhost:{port}",
    })
    os.environ.pop("AWS_SESSION_TOKEN", None)
    os.environ.pop("AWS_PROFILE", None)


def _say(message: str) -> None:
    print(f"deploy-server: {message}", flush=True)


def serve(port: int, state_file: Path, calls_file: Path) -> None:
    from moto.core.config import default_user_config

    from coordinator.audit.record import CallRecorder, interpreter_caller
    from coordinator.emulator import moto_compat, moto_server
    from coordinator.emulator.invoke import InProcessLambda, current_function
    from coordinator.workflow import resources

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    _environment(port)
    default_user_config["stepfunctions"]["execute_state_machine"] = True
    moto_compat.apply()
    machine = interpreter_caller(resources.STATE_MACHINE)  # the steps' invokes: its own role
    recorder = CallRecorder(calls_file, attribute=lambda: current_function() or machine(),
                            account=ACCOUNT)
    recorder.install()
    runtime = InProcessLambda(max_workers=8)
    runtime.install()
    # Pay the workers' Numba start-up once, up front: loaded from the cache, or compiled (minutes
    # on a first run, more on a loaded machine). The waiting side reads these lines as progress.
    _say("loading the worker's kernels (compiling those not in the Numba cache)")
    started = time.monotonic()
    import functions.worker  # noqa: F401
    _say(f"kernels ready in {time.monotonic() - started:.1f} s; starting moto")

    server = moto_server.start(port)
    try:
        scratch = state_file.with_suffix(".tmp")
        scratch.parent.mkdir(parents=True, exist_ok=True)
        scratch.write_text(json.dumps({"pid": os.getpid(), "port": port,
                                       "endpoint_url": f"http://localhost:{port}"}))
        os.replace(scratch, state_file)
        _say(f"ready on 127.0.0.1:{port}")
        stop.wait()
    finally:
        state_file.unlink(missing_ok=True)
        runtime.uninstall()
        recorder.uninstall()
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--state", type=Path, required=True)
    parser.add_argument("--calls", type=Path, required=True)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    serve(args.port, args.state, args.calls)


if __name__ == "__main__":
    main()
