"""One lock around moto: its backends are plain dicts and lists, not safe across threads.

moto answers a request in the thread that makes it (in-process: botocore's ``before-send`` hook,
``BotocoreStubber.process_request``; server mode: one werkzeug thread per request,
``DomainDispatcherApplication.__call__``) and keeps its state without locks. An emulated run has
many such threads at once: the Round task (in moto's Step Functions interpreter thread) and its
pool threads, up to ``lambda_threads`` workers, the relays' pools, the CLI's polling. Issue 26
(``sgc replay --workers 256``, 2 of 3 runs) was the Round task's completion poll
(``Store.completion_count``, a DynamoDB Query) failing with::

    Table.query (moto/dynamodb/models/table.py:891)
    Table.all_items (moto/dynamodb/models/table.py:996-998)
        for hash_set in self.items.values(): for item in hash_set.values(): ...
    RuntimeError: dictionary changed size during iteration

while worker threads ran ``Table.put_item`` (table.py:689, ``self.items[hash][range] = item``)
into the very dict being walked. moto's Query walks and sorts every item of the table, so the
window grows with the table: at 256 workers a poll takes long enough that a worker's completion
record lands inside it. The state machine caught the Round task's RuntimeError and failed the
job. The same class of race sits everywhere in moto: S3 listings against puts and
``S3Backend._url_module`` (an ``importlib.reload`` per request), the lazily created
``BackendDict`` entries, the server's lazily created per-service apps, and ``mock_aws().stop()``
resetting every backend while stragglers still call.

The fix, at the one depth every request passes: :func:`install` runs each moto request under
``LOCK``, a process-wide re-entrant lock; code that reads a moto backend directly (the
emulator's injection tables) takes it too. moto is pure Python under the GIL, so serializing its
requests costs next to nothing; the handlers themselves (Numba kernels, numpy) do not hold it.

Re-entrance: a Lambda invocation is answered inside a moto request (``LambdaBackend.invoke`` ->
``InProcessLambda``), and a RequestResponse invocation runs its handler right there: the Round
task runs for minutes while its own pool threads make requests. So the handler must not run
under the lock: ``InProcessLambda`` calls it inside :meth:`MotoLock.suspended`, which releases
every level this thread holds and takes them back before moto goes on. A nested request in the
same thread (a handler called synchronously) re-enters freely.

The same place serves the local server's journal (``coordinator.emulator.journal``): an
``after_request`` hook runs at the end of every request, still under the lock (so it sees the
state the request left, in the order requests happened), and what it returns runs after the lock
is released but before the response goes back (waiting for the disk without holding up moto).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


class MotoLock:
    """A re-entrant, first-come-first-served lock whose holder can step out of it entirely for a
    while (``suspended``).

    First come, first served: a plain lock lets a thread that releases it take it straight back,
    so a polling loop (the Round task's Query) starves the workers' puts, and a round took four
    times as long. Here a release hands the lock to the longest waiter.
    """

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._locked = False
        self._waiters: deque[threading.Lock] = deque()
        self._depth = threading.local()

    def _held(self) -> int:
        return getattr(self._depth, "n", 0)

    def _take(self) -> None:
        with self._mutex:
            if not self._locked:
                self._locked = True
                return
            turn = threading.Lock()
            turn.acquire()
            self._waiters.append(turn)
        turn.acquire()  # released by the holder's _give: the lock is ours, still marked locked

    def _give(self) -> None:
        with self._mutex:
            if self._waiters:
                self._waiters.popleft().release()
            else:
                self._locked = False

    def acquire(self) -> None:
        depth = self._held()
        if depth == 0:
            self._take()
        self._depth.n = depth + 1

    def release(self) -> None:
        depth = self._held()
        if depth == 0:
            raise RuntimeError("MotoLock released by a thread that does not hold it")
        self._depth.n = depth - 1
        if depth == 1:
            self._give()

    def __enter__(self) -> MotoLock:
        self.acquire()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release()

    def held_by_me(self) -> bool:
        return self._held() > 0

    @contextmanager
    def suspended(self) -> Iterator[None]:
        """Release every level this thread holds (if any); take them all back afterwards."""
        depth = self._held()
        if depth:
            self._depth.n = 0
            self._give()
        try:
            yield
        finally:
            if depth:
                self._take()
                self._depth.n = depth


LOCK = MotoLock()
_installed = False
_install_guard = threading.Lock()
Settle = Callable[[], None]
_after_request: Callable[[], Settle | None] | None = None


def set_after_request(hook: Callable[[], Settle | None] | None) -> None:
    """Call ``hook`` at the end of every moto request, under ``LOCK``; a callable it returns is
    called once the lock is released, before the response goes back (None: no hook)."""
    global _after_request
    _after_request = hook


def _run_locked(call: Callable[[], Any]) -> Any:
    """``call()`` under ``LOCK``, then the after-request hook (see the module docstring)."""
    settle = None
    try:
        with LOCK:
            try:
                return call()
            finally:
                hook = _after_request
                if hook is not None:
                    settle = hook()
    finally:
        if settle is not None:
            settle()


def install() -> None:
    """Run every moto request, in-process and in server mode, under ``LOCK`` (idempotent)."""
    global _installed
    with _install_guard:
        if _installed:
            return
        from moto.core.botocore_stubber import BotocoreStubber
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication

        process_request = BotocoreStubber.process_request

        def locked_request(self, request):
            return _run_locked(lambda: process_request(self, request))

        dispatch = DomainDispatcherApplication.__call__

        def locked_dispatch(self, environ, start_response):
            return _run_locked(lambda: dispatch(self, environ, start_response))

        # meter.track_emulated_services wraps this method once: keep its mark visible
        locked_request.sgc_tracked = getattr(process_request, "sgc_tracked", False)
        BotocoreStubber.process_request = locked_request
        DomainDispatcherApplication.__call__ = locked_dispatch
        _installed = True


def guard_client_creation() -> None:
    """Build botocore clients one at a time per session (idempotent).

    botocore documents sessions as not thread-safe (clients are, once built), and one session is
    shared here: boto3's default session, used by moto's Step Functions interpreter for every
    Task state (``boto_client_for``, from several execution threads at once) and by any handler
    calling ``boto3.client``. Concurrent ``create_client`` calls on it race on its component and
    loader caches (``KeyError``s, the same "dictionary changed size" error). A lock per session
    around ``create_client`` makes them take turns; separate sessions still build in parallel.
    """
    import botocore.session

    with _install_guard:
        create_client = botocore.session.Session.create_client
        if getattr(create_client, "sgc_guarded", False):
            return

        def guarded(session, *args, **kwargs):
            lock = session.__dict__.setdefault("_sgc_create_client_lock", threading.RLock())
            with lock:
                return create_client(session, *args, **kwargs)

        guarded.sgc_guarded = True
        botocore.session.Session.create_client = guarded
