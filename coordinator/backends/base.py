"""The one backend class: a job record in the store plus an execution of the state machine."""

from __future__ import annotations

import datetime as dt
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from coordinator.storage.state import Store, now

if TYPE_CHECKING:  # the spec's validators (schemes, scipy) load at submit, not for `sgc status`
    from coordinator.spec.jobspec import JobSpec

TERMINAL = ("done", "failed", "cancelled")
_EXECUTION_ERRORS = {"FAILED": "ExecutionFailed", "TIMED_OUT": "ExecutionTimedOut",
                     "ABORTED": "ExecutionAborted", "LOST": "ExecutionLost"}


def new_run_id() -> str:
    return f"run-{dt.datetime.now(dt.UTC):%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"


@dataclass
class Backend:
    """A stack to run jobs on. ``kind`` is "aws", "local" (server) or "emulator" (in-process)."""

    kind: str
    store: Store
    sfn: Any
    state_machine_arn: str
    close_hook: Any = field(default=None, repr=False)

    def submit(self, spec: JobSpec, run_id: str | None = None) -> str:
        """Record the job and start its first execution; returns the job id. A
        ``dataset.path`` is read, checked and uploaded first (``dataset_upload.resolve``)."""
        run_id = run_id or new_run_id()
        if self.kind == "aws" and (spec.raw["faults"] or spec.raw["stragglers"].get(
                "model", "trace") != "none"):
            raise ValueError("stragglers/faults: injection is for emulation only (use --local)")
        from coordinator.backends import dataset_upload

        spec = dataset_upload.resolve(spec, self.store)
        source = (spec.raw.get("scheme") or {}).get("learn_from")
        if source is not None:  # the Plan step does it again; refused here, it never starts
            from coordinator.control.prior import learned_from

            learned_from(self.store, source, spec.raw)
        created = now()
        fields = {"spec": spec.raw, "status": "submitted", "created": created, "round": 0,
                  "backend": self.kind}
        if not self.store.create_job(run_id, fields):
            raise ValueError(f"job id {run_id!r} already exists")
        self._start(run_id, 1)
        return run_id

    def resume(self, run_id: str) -> str:
        """Start a fresh execution that continues the job from its record (nothing is redone)."""
        record = self.store.job(run_id)
        if record.get("status") in ("done", "cancelled"):
            raise ValueError(f"job {run_id} is {record['status']}: nothing to resume")
        arn = record.get("execution_arn")
        if arn and self.execution_status(arn) == "RUNNING":
            raise ValueError(f"job {run_id} is still running ({arn}); `sgc cancel` it first")
        execution = int(record.get("execution", 1)) + 1
        if record.get("status") == "failed":
            self.store.update_job(run_id, {"status": "running", "error": {}})
        return self._start(run_id, execution)

    def cancel(self, run_id: str) -> str:
        """Ask the running execution to stop after the current round (stop it if it is dead)."""
        record = self.store.job(run_id)
        if record.get("status") in TERMINAL:
            return record["status"]
        self.store.update_job(run_id, {"status": "cancelling"})
        arn = record.get("execution_arn")
        if not arn or self.execution_status(arn) != "RUNNING":
            self.store.update_job(run_id, {"status": "cancelled", "finished": now()})
            return "cancelled"
        return "cancelling"

    def kill(self, run_id: str) -> None:
        """Stop the job's execution at once (a crash, for tests and `sgc cancel --now`)."""
        record = self.store.job(run_id)
        arn = record.get("execution_arn")
        if arn and self.execution_status(arn) == "RUNNING":
            # StopExecution does not stop a running Lambda: the Round task reads this and stops
            # at its next round (coordinator.control.runner).
            self.store.update_job(run_id, {"stopped_execution": int(record.get("execution", 1))})
            self.sfn.stop_execution(executionArn=arn, error="Killed", cause="stopped by user")
            deadline = time.monotonic() + 10.0  # stopping is asynchronous: let it land
            while self.execution_status(arn) == "RUNNING" and time.monotonic() < deadline:
                time.sleep(0.1)

    def execution_status(self, arn: str) -> str:
        return self.describe(arn)["status"]

    def describe(self, arn: str) -> dict[str, Any]:
        """describe_execution; status "LOST" when the execution no longer exists (the local
        emulator was restarted: executions do not survive it)."""
        try:
            return self.sfn.describe_execution(executionArn=arn)
        except self.sfn.exceptions.ExecutionDoesNotExist:
            return {"status": "LOST"}

    def refresh(self, run_id: str) -> dict[str, Any]:
        """The job record, corrected when its execution died without saying so (a crash of a
        step, a timeout, an abort, a lost execution): then it is ``failed`` with the error."""
        record = self.store.job(run_id)
        arn = record.get("execution_arn")
        if record.get("status") in TERMINAL or not arn:
            return record
        info = self.describe(arn)
        status = info["status"]
        if status not in ("FAILED", "TIMED_OUT", "ABORTED", "LOST"):
            return record
        if self.store.job(run_id).get("execution_arn") != arn:  # a new execution took over
            return self.store.job(run_id)
        if record.get("status") == "cancelling":
            fields: dict[str, Any] = {"status": "cancelled", "finished": now()}
        else:
            message = info.get("cause") or {
                "TIMED_OUT": "the execution timed out", "ABORTED": "the execution was stopped",
                "LOST": "the execution no longer exists (the local emulator was restarted?); "
                        f"`sgc resume {run_id}` continues the job from its stored state",
            }.get(status, "the execution failed")
            fields = {"status": "failed", "finished": now(),
                      "error": {"type": info.get("error") or _EXECUTION_ERRORS[status],
                                "message": str(message)[:2000]}}
        self.store.update_job(run_id, fields)
        return {**record, **fields}

    def close(self) -> None:
        if self.close_hook is not None:
            self.close_hook()

    def _start(self, run_id: str, execution: int) -> str:
        arn = self.sfn.start_execution(
            stateMachineArn=self.state_machine_arn, name=f"{run_id}-x{execution:03d}",
            input=json.dumps({"job": run_id, "execution": execution}))["executionArn"]
        self.store.update_job(run_id, {"execution_arn": arn, "execution": execution})
        return arn
