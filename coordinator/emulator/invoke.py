"""Run Lambda invocations in-process: the one moto method sgcflow replaces.

moto runs Lambda code only through Docker, and runs ``InvocationType=Event`` synchronously. The
replacement for ``LambdaFunction.invoke`` imports the function's handler (``module.function``) and
calls it; Event invokes go to a thread pool and return at once (so Dispatch is asynchronous, as on
Lambda), after an injected delay if the emulator was asked to make that worker slow. An exception
comes back as ``x-amz-function-error: Unhandled`` with errorType/errorMessage, so the state
machine's Retry and Catch see what they would see on AWS.

Each handler runs with its function's configured environment (as deployed: a CDK stack's
``SGC_WORKER_FUNCTION`` differs between the steps and the warm pool), layered over the process
environment for that invocation only: handlers are threads of one process, so ``os.environ`` is
replaced while installed by a mapping that reads the running invocation's variables first.
``current_function()`` names the function whose handler runs in this thread (the IAM audit
attributes AWS calls with it); threads a handler starts through a ``ThreadPoolExecutor`` inherit
both.

Threads and teardown (issue 26, ``coordinator.emulator.offline``): every invocation runs with
the runtime's :class:`~coordinator.emulator.offline.Run` in its context and with the emulator's
credentials, region and endpoint (``environment``) under its function's variables, so its
clients are bound to the emulator however long it runs. A handler never runs under moto's lock
(``coordinator.emulator.moto_lock``): a RequestResponse invocation is answered inside a moto
request, so the lock is suspended around the handler. ``close()`` refuses new invocations (an
invoke raises :class:`~coordinator.emulator.offline.EmulatorStopped`; queued and delayed ones
never start), ``drain()`` waits for those in flight and then closes the run, so a thread that
is still busy gets no further AWS call through.
"""

from __future__ import annotations

import contextvars
import heapq
import importlib
import json
import logging
import os
import threading
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from moto.awslambda.models import LambdaFunction

from coordinator.emulator import moto_lock, moto_query, moto_transact, offline

log = logging.getLogger("sgcflow.emulator")

_FUNCTION: contextvars.ContextVar[str | None] = contextvars.ContextVar("sgc_function",
                                                                      default=None)
_ENVIRONMENT: contextvars.ContextVar[dict | None] = contextvars.ContextVar("sgc_environment",
                                                                          default=None)
# Read once when a real Lambda process starts; this process has long started.
PROCESS_LEVEL_VARIABLES = frozenset({"PYTHONPATH", "NUMBA_CACHE_DIR"})


def current_function() -> str | None:
    """Name of the Lambda function whose handler this thread runs (None outside handlers)."""
    return _FUNCTION.get()


class _FunctionEnviron(os._Environ):  # type: ignore[name-defined]
    """``os.environ`` whose reads see the running invocation's function environment first."""

    def __init__(self, base: os._Environ) -> None:  # type: ignore[name-defined]
        super().__init__(base._data, base.encodekey, base.decodekey, base.encodevalue,
                         base.decodevalue)
        self.base = base

    def __getitem__(self, key: str) -> str:
        overlay = _ENVIRONMENT.get()
        if overlay is not None and key in overlay:
            return overlay[key]
        return super().__getitem__(key)

    def __iter__(self):
        overlay = _ENVIRONMENT.get() or {}
        yield from overlay
        yield from (key for key in super().__iter__() if key not in overlay)

    def __len__(self) -> int:
        return len(set(self))

    def copy(self) -> dict:
        return dict(self)


def _carry_context(submit):
    """ThreadPoolExecutor.submit that runs the task in a copy of the submitter's context."""

    def wrapped(self, fn, /, *args, **kwargs):
        return submit(self, contextvars.copy_context().run, fn, *args, **kwargs)

    wrapped.sgc_original = submit
    return wrapped

# (function_name, event) -> seconds to hold the invocation back, or None to run it at once.
DelayFn = Callable[[str, dict], "float | None"]
# (function_name, event) -> event to run instead (fault injection), or the same event.
RewriteFn = Callable[[str, dict], dict]


@dataclass
class LambdaContext:
    """The parts of the Lambda context object the handlers use."""

    function_name: str
    memory_limit_in_mb: int
    timeout_s: float
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    started: float = field(default_factory=time.monotonic)

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:us-east-1:123456789012:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.started + self.timeout_s - time.monotonic()) * 1000))


@dataclass
class Invocation:
    """One record of the emulator's invocation log (what CloudWatch would show)."""

    function: str
    kind: str
    event: dict
    delay_s: float
    started: float = 0.0
    finished: float = 0.0
    error: str | None = None


class _DelayScheduler:
    """Holds delayed Event invocations in a heap; one thread releases them to the pool on time."""

    def __init__(self, submit: Callable[[Callable[[], None]], None]):
        self._submit = submit
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._cv = threading.Condition()
        self._count = 0
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="sgc-delays", daemon=True)
        self._thread.start()

    def schedule(self, at: float, call: Callable[[], None]) -> None:
        with self._cv:
            self._count += 1
            heapq.heappush(self._heap, (at, self._count, call))
            self._cv.notify()

    def stop(self) -> int:
        """Drop every held invocation (they never run); returns how many were dropped."""
        with self._cv:
            self._stopped = True
            dropped = len(self._heap)
            self._heap.clear()
            self._cv.notify()
        return dropped

    def _run(self) -> None:
        while True:
            with self._cv:
                while not self._stopped and (not self._heap or self._heap[0][0] > time.monotonic()):
                    wait = None if not self._heap else self._heap[0][0] - time.monotonic()
                    self._cv.wait(timeout=wait)
                if self._stopped:
                    return
                _, _, call = heapq.heappop(self._heap)
            self._submit(call)


class InProcessLambda:
    """Installs/uninstalls the replacement of ``LambdaFunction.invoke``; owns the Event pool."""

    def __init__(self, max_workers: int = 8, name: str = "emulator"):
        self.delay: DelayFn = lambda name, event: None
        self.rewrite: RewriteFn = lambda name, event: event
        # (function_name, event) -> True if the emulator handled the invocation itself (faults)
        self.replace: Callable[[str, dict], bool] = lambda name, event: False
        # The emulator's credentials, region, endpoint and names: every invocation's environment
        # starts from these (its function's variables on top), whatever the process's says.
        self.environment: dict[str, str] = {}
        self.run = offline.Run(name)
        self.log: list[Invocation] = []
        self._log_lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="sgc-lambda")
        self._delays = _DelayScheduler(lambda call: call())
        self._original = None
        self._handlers: dict[str, Callable[[dict, Any], Any]] = {}
        self._handlers_lock = threading.Lock()
        # Bookkeeping of teardown, under _idle: accepted invocations not finished yet, and the
        # threads inside a handler now.
        self._idle = threading.Condition()
        self._closed = False
        self._pending = 0
        self._running: Counter[threading.Thread] = Counter()

    # --- lifecycle -------------------------------------------------------------------------------
    def install(self) -> None:
        if self._original is not None:
            return
        moto_lock.install()
        moto_query.install()
        moto_transact.install()
        moto_lock.guard_client_creation()
        offline.begin()
        if not isinstance(os.environ, _FunctionEnviron):
            os.environ = _FunctionEnviron(os.environ)  # noqa: B003 (same data, read overlay)
        if not hasattr(ThreadPoolExecutor.submit, "sgc_original"):
            ThreadPoolExecutor.submit = _carry_context(ThreadPoolExecutor.submit)
        self._original = LambdaFunction.invoke
        emulator = self

        def invoke(fn: LambdaFunction, body: Any, request_headers: Any,
                   response_headers: Any) -> bytes:
            return emulator._invoke(fn, body, request_headers, response_headers)

        LambdaFunction.invoke = invoke  # type: ignore[method-assign]

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Accept no new invocation (an invoke raises ``EmulatorStopped``); invocations held
        back by an injected delay are dropped. Accepted ones still run (idempotent)."""
        with self._idle:
            self._closed = True
        dropped = self._delays.stop()
        if dropped:
            log.info("%d delayed invocations dropped: the emulator is stopping", dropped)

    def drain(self, timeout_s: float, grace_s: float = 2.0) -> list[threading.Thread]:
        """Close, wait up to ``timeout_s`` for the accepted invocations to finish, then close the
        run (every further AWS call of its threads raises ``EmulatorStopped``) and wait
        ``grace_s`` more. Returns the threads of this runtime still busy (none, normally)."""
        self.close()
        with self._idle:
            self._idle.wait_for(lambda: self._pending == 0, timeout=max(0.0, timeout_s))
            self.run.closed = True
            if self._pending:
                self._idle.wait_for(lambda: self._pending == 0, timeout=max(0.0, grace_s))
            busy = list(self._running)
            if self._pending:  # queued ones start on a pool thread: those threads too
                busy += [t for t in getattr(self._pool, "_threads", ()) if t not in busy]
        if busy:
            log.warning("%d threads of the emulated run still busy after the emulator stopped "
                        "(%s): their AWS calls are refused", len(busy),
                        ", ".join(t.name for t in busy))
        return busy

    def uninstall(self, leftovers: list[threading.Thread] = ()) -> None:
        """Close and drain (unless done), put moto's invoke back. ``leftovers``: other threads
        of this run that did not end (the fence stays up while they live)."""
        busy = self.drain(0.0, grace_s=0.0) if not self.run.closed else self.busy_threads()
        self._pool.shutdown(wait=False)  # queued ones see the closed run: recorded, not run
        if self._original is None:
            return
        LambdaFunction.invoke = self._original  # type: ignore[method-assign]
        self._original = None
        offline.end([*busy, *leftovers])
        # A thread of a run still going keeps its environment overlay and passes its context to
        # its pools: both stay installed until an uninstall finds no such thread.
        if not offline.leftover_threads():
            if isinstance(os.environ, _FunctionEnviron):
                os.environ = os.environ.base  # noqa: B003 (the original object back)
            if hasattr(ThreadPoolExecutor.submit, "sgc_original"):
                ThreadPoolExecutor.submit = ThreadPoolExecutor.submit.sgc_original

    def busy_threads(self) -> list[threading.Thread]:
        """Threads inside a handler of this runtime now."""
        with self._idle:
            return list(self._running)

    def invocations(self) -> list[Invocation]:
        """A copy of the invocation log (safe to iterate while invocations go on)."""
        with self._log_lock:
            return list(self.log)

    # --- invocations -----------------------------------------------------------------------------
    def _handler(self, path: str) -> Callable[[dict, Any], Any]:
        with self._handlers_lock:
            if path not in self._handlers:
                module_name, _, attribute = path.rpartition(".")
                self._handlers[path] = getattr(importlib.import_module(module_name), attribute)
            return self._handlers[path]

    def _invoke(self, fn: LambdaFunction, body: Any, request_headers: Any,
                response_headers: Any) -> bytes:
        event = json.loads(body) if body else {}
        kind = request_headers.get("x-amz-invocation-type",
                                   request_headers.get("X-Amz-Invocation-Type", "RequestResponse"))
        name = fn.function_name
        try:
            if kind == "Event":
                self._invoke_async(fn, event)
                return b""
            self._accept()
        except offline.EmulatorStopped as refused:
            self._record(Invocation(name, kind, event, 0.0, error=f"EmulatorStopped: {refused}"))
            raise
        record = Invocation(name, kind, event, 0.0)
        try:
            status, payload = self._run(fn, event, record)
        finally:
            self._finished()
        if status != "ok":
            response_headers["x-amz-function-error"] = "Unhandled"
        return payload

    def _accept(self) -> None:
        """Count one more invocation in flight, or refuse it: closed."""
        with self._idle:
            if self._closed:
                raise offline.EmulatorStopped(f"{self.run.name} is stopping: invoke refused")
            self._pending += 1

    def _finished(self) -> None:
        with self._idle:
            self._pending -= 1
            self._idle.notify_all()

    def _invoke_async(self, fn: LambdaFunction, event: dict) -> None:
        name = fn.function_name
        if self._closed:
            raise offline.EmulatorStopped(f"{self.run.name} is stopping: invoke refused")
        delay = self.delay(name, event)
        record = Invocation(name, "Event", event, float(delay or 0.0))
        if delay is not None and delay >= float(fn.timeout):
            record.error = f"Task timed out after {fn.timeout} s (injected delay {delay:.3f} s)"
            self._record(record)
            return
        if delay:
            self._delays.schedule(time.monotonic() + delay,
                                  lambda: self._submit(fn, event, record))
        else:
            self._accept()
            self._submit(fn, event, record, accepted=True)

    def _submit(self, fn: LambdaFunction, event: dict, record: Invocation,
                accepted: bool = False) -> None:
        """Queue an Event invocation on the pool (a delayed one once its time came: accepted
        before, it runs even if the emulator is closing now, unless the run is closed)."""
        if not accepted:
            with self._idle:
                self._pending += 1

        def counted() -> None:
            try:
                if self.run.closed:  # teardown stopped waiting before this one started
                    record.error = "EmulatorStopped: not started, the emulator stopped first"
                    self._record(record)
                    return
                self._run(fn, self.rewrite(fn.function_name, event), record)
            finally:
                self._finished()

        try:
            self._pool.submit(counted)
        except RuntimeError:  # the pool is shut down: the emulator is gone
            self._finished()
            record.error = "EmulatorStopped: not started, the emulator is gone"
            self._record(record)

    def _run(self, fn: LambdaFunction, event: dict, record: Invocation) -> tuple[str, bytes]:
        thread = threading.current_thread()
        with self._idle:
            self._running[thread] += 1
        try:
            return self._run_handler(fn, event, record)
        finally:
            with self._idle:
                self._running[thread] -= 1
                if self._running[thread] <= 0:
                    del self._running[thread]

    def _run_handler(self, fn: LambdaFunction, event: dict,
                     record: Invocation) -> tuple[str, bytes]:
        context = LambdaContext(fn.function_name, int(fn.memory_size), float(fn.timeout))
        record.started = time.time()
        environment = {**self.environment,
                       **{k: str(v) for k, v in (fn.environment_vars or {}).items()
                          if k not in PROCESS_LEVEL_VARIABLES}}
        tokens = (_FUNCTION.set(fn.function_name), _ENVIRONMENT.set(environment),
                  offline.enter(self.run))
        try:
            # A RequestResponse invocation is answered inside a moto request: the handler must
            # not hold moto's lock while it runs (its own threads make requests).
            with moto_lock.LOCK.suspended():
                if self.replace(fn.function_name, event):
                    result = {"replaced": True}
                else:
                    result = self._handler(fn.handler)(event, context)
            status, payload = "ok", json.dumps(result).encode()
        except Exception as error:  # a Lambda reports any exception as a function error
            log.info("function=%s error=%s: %s", fn.function_name, type(error).__name__, error)
            record.error = f"{type(error).__name__}: {error}"
            status = "error"
            payload = json.dumps({
                "errorType": type(error).__name__, "errorMessage": str(error),
                "stackTrace": traceback.format_exception(error)[-5:],
            }).encode()
        finally:
            offline.leave(tokens[2])
            _ENVIRONMENT.reset(tokens[1])
            _FUNCTION.reset(tokens[0])
        record.finished = time.time()
        self._record(record)
        return status, payload

    def _record(self, record: Invocation) -> None:
        with self._log_lock:
            self.log.append(record)
            if len(self.log) > 100_000:
                del self.log[:50_000]
