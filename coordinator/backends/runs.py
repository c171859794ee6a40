"""A submitted job as a Python object: what the ``sgcflow`` package hands back.

``submit(spec_or_path, local=True)`` checks the spec (as `sgc submit` does: every field, the
dataset read and uploaded) and starts the job; ``Run`` follows it (``status``, ``wait``), reads
its result and its trained models (``result``, ``models``, ``download``, ``evaluate``) and
controls it (``cancel``). ``local=True`` uses the `sgc local up` server when one runs, else an
emulator inside this Python process, started on first use and stopped at exit.
"""

from __future__ import annotations

import atexit
import os
import threading
import time
from pathlib import Path
from typing import Any

from coordinator.backends.base import TERMINAL, Backend
from coordinator.backends.outcome import job_result, job_status

_emulator_lock = threading.Lock()
_emulator: Any = None


class JobFailed(RuntimeError):
    """The job ended ``failed``: the message has the error the job recorded."""


def open_backend(local: bool = True, region: str | None = None,
                 profile: str | None = None) -> Backend:
    """The stack to run on: AWS, the `sgc local up` server, or this process's emulator."""
    from coordinator.backends.connect import (
        LOCAL_STATE,
        aws_backend,
        emulator_backend,
        local_backend,
    )

    if not local:
        return aws_backend(region, profile)
    if LOCAL_STATE.exists():
        return local_backend()
    return emulator_backend(in_process_emulator())


def in_process_emulator():
    """The emulator of this Python process (one, started on first use, stopped at exit)."""
    global _emulator
    with _emulator_lock:
        if _emulator is None:
            # the handlers' structured INFO logs (one per worker per round) would bury the
            # caller's own output; WARNING and above still show
            os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
            from coordinator.emulator import Emulator

            _emulator = Emulator().start()
            atexit.register(stop_in_process_emulator)
        return _emulator


def stop_in_process_emulator() -> None:
    global _emulator
    with _emulator_lock:
        if _emulator is not None:
            _emulator.stop()
            _emulator = None


def submit(spec_or_path: Any, local: bool = True, region: str | None = None,
           profile: str | None = None) -> Run:
    """Check and start a job: ``spec_or_path`` is a JobSpec, a dict, or a YAML/JSON file."""
    from coordinator.spec import jobspec

    if isinstance(spec_or_path, jobspec.JobSpec):
        spec = spec_or_path
    elif isinstance(spec_or_path, dict):
        spec = jobspec.validate(spec_or_path)
    else:
        spec = jobspec.load(spec_or_path)
    backend = open_backend(local, region, profile)
    return Run(backend.submit(spec), backend)


class Run:
    """One submitted job (``run_id``) on a stack."""

    def __init__(self, run_id: str, backend: Backend):
        self.run_id, self.backend = run_id, backend

    @classmethod
    def attach(cls, run_id: str, local: bool = True, region: str | None = None,
               profile: str | None = None) -> Run:
        """A job submitted earlier (by `sgc submit` too), on the stack the options name."""
        return cls(run_id, open_backend(local, region, profile))

    def __repr__(self) -> str:
        return f"Run({self.run_id!r}, {self.backend.kind})"

    def record(self) -> dict[str, Any]:
        return self.backend.refresh(self.run_id)

    def status(self) -> dict[str, Any]:
        """Where the job stands, as `sgc status --json` prints it."""
        return job_status(self.run_id, self.record())

    def wait(self, progress: bool = True, poll_s: float = 0.5,
             timeout_s: float | None = None) -> dict[str, Any]:
        """Until the job ends (a progress bar with ``progress``); its final status.
        JobFailed if it failed; TimeoutError after ``timeout_s``."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        final = watch(self.backend, self.run_id, poll_s, deadline) if progress else \
            wait_for_end(self.backend, self.run_id, poll_s, deadline)
        if final.get("status") == "failed":
            raise JobFailed(f"job {self.run_id} failed: {final.get('error')}")
        return job_status(self.run_id, final)

    def result(self) -> dict[str, Any]:
        """Losses per model, summary and cost, as `sgc result --json` prints it."""
        return job_result(self.backend.store, self.run_id, self.record())

    def models(self) -> list:
        """The trained models (``TrainedModel``), checked against the job's record."""
        from coordinator.backends.model_export import trained_models

        return trained_models(self.backend.store, self.run_id, self.record())

    def download(self, folder: str | Path) -> list[Path]:
        """``model-<i>.npz`` and ``model-<i>.json`` per model into ``folder``."""
        from coordinator.backends.model_export import download

        return download(self.backend.store, self.run_id, self.record(), folder)

    def evaluate(self, data_file: str | Path, label_column: str | None = None
                 ) -> list[dict[str, Any]]:
        """[{"index", "accuracy", "loss"}] per model on a .csv / .parquet / .npz file."""
        from coordinator.backends.model_export import evaluate

        return evaluate(self.models(), str(data_file), label_column)[0]

    def cancel(self, now: bool = False) -> str:
        if now:
            self.backend.kill(self.run_id)
        return self.backend.cancel(self.run_id)


def wait_for_end(backend: Backend, run_id: str, poll_s: float = 0.5,
                 deadline: float | None = None) -> dict[str, Any]:
    """The job's record once it ended."""
    while True:
        current = backend.refresh(run_id)
        if current.get("status") in TERMINAL:
            return current
        _check(deadline, run_id)
        time.sleep(poll_s)


def watch(backend: Backend, run_id: str, poll_s: float = 0.5,
          deadline: float | None = None) -> dict[str, Any]:
    """A live progress bar (rounds, decoded gradients, stragglers, losses) until the job
    ends; its final record."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = [TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[info]}"), TimeElapsedColumn()]
    with Progress(*columns, transient=False, console=None) as bar:
        bar.console.print(f"job {run_id}")
        task = bar.add_task("rounds", total=None, info="submitted")
        while True:
            current = backend.refresh(run_id)
            status = job_status(run_id, current)
            bar.update(task, total=status["rounds"], completed=int(status["round"]),
                       info=progress_line(current))
            if current.get("status") in TERMINAL:
                return current
            _check(deadline, run_id)
            time.sleep(poll_s)


def progress_line(current: dict[str, Any]) -> str:
    progress = current.get("progress") or {}
    losses = progress.get("losses") or {}
    loss = " ".join(f"m{m}={v:.4f}" if isinstance(v, int | float) else f"m{m}={v}"
                    for m, v in sorted(losses.items(), key=lambda item: str(item[0])))
    return (f"{current.get('status')} | decoded {progress.get('decoded', 0)} | stragglers "
            f"{progress.get('stragglers', 0)} | loss {loss or '-'}")[:120]


def _check(deadline: float | None, run_id: str) -> None:
    if deadline is not None and time.monotonic() > deadline:
        raise TimeoutError(f"job {run_id} still runs (`sgc status {run_id}`)")
