"""No AWS call of an emulated run leaves the machine, or outlives the emulator that ran it.

Issue 26: ``Emulator.stop()`` (on a failed job) turned moto off and removed the test credentials
while 8 worker invocations were still running; their next boto3 calls went to
``https://dynamodb.us-east-1.amazonaws.com/`` and ``https://sgcflow-data.s3.amazonaws.com/``.
With real credentials in the environment that is a write to a real account. Three layers:

1. Binding. Every handler invocation runs with a :class:`Run` token in its context
   (``InProcessLambda``; the threads a handler starts through a ``ThreadPoolExecutor`` inherit
   it) and with the emulator's credentials, region and endpoint in its own environment, so a
   client built in it talks to the emulator whatever the process environment says by then.
2. Teardown waits. ``Emulator.stop()`` refuses new invocations, stops the running executions,
   waits (bounded) for the invocations in flight and for moto's interpreter threads, and only
   then turns moto off. A thread still running after the wait is a leftover: its run is
   closed, and every AWS call it makes afterwards raises :class:`EmulatorStopped` before any
   request is built (``botocore.endpoint.Endpoint.make_request``).
3. A fence. While an emulator runs in this process, while a leftover thread lives, and in any
   thread of an emulated run, a request that botocore would actually send over the network
   (moto answered nothing) to a host that is not loopback raises
   :class:`RealEndpointRefused` (``botocore.httpsession.URLLib3Session.send``, the one place
   every client's request goes out). A client built while an emulator ran keeps that fence for
   its whole life (a ``before-send`` hook): used after teardown, with moto off, it refuses
   rather than reach the real endpoint. Loopback stays open: ``sgc local up`` is on 127.0.0.1.
"""

from __future__ import annotations

import contextvars
import ipaddress
import logging
import threading
from dataclasses import dataclass
from urllib.parse import urlsplit

log = logging.getLogger("sgcflow.emulator")


class RealEndpointRefused(RuntimeError):
    """A request of an emulated run would have gone to a real (non-loopback) endpoint."""


class EmulatorStopped(RuntimeError):
    """A thread of an emulated run called AWS after its emulator was stopped."""


@dataclass(eq=False)
class Run:
    """The identity of one emulator's invocations; ``closed`` once its emulator stops."""

    name: str
    closed: bool = False


_RUN: contextvars.ContextVar[Run | None] = contextvars.ContextVar("sgc_run", default=None)
_lock = threading.Lock()
_active = 0  # emulators running in this process
_leftovers: set[threading.Thread] = set()  # threads of stopped emulators, still alive
_installed = False


def current_run() -> Run | None:
    """The emulated run this thread works for (None outside handlers)."""
    return _RUN.get()


def enter(run: Run) -> contextvars.Token:
    return _RUN.set(run)


def leave(token: contextvars.Token) -> None:
    _RUN.reset(token)


def begin() -> None:
    """An emulator starts: arm the fence (and install it, once per process)."""
    global _active
    install()
    with _lock:
        _active += 1


def end(leftovers: list[threading.Thread]) -> None:
    """An emulator stopped; ``leftovers`` are its threads that did not end in time."""
    global _active
    with _lock:
        _active = max(0, _active - 1)
        _leftovers.update(t for t in leftovers if t.is_alive())


def running() -> int:
    """How many emulators run in this process now."""
    with _lock:
        return _active


def leftover_threads() -> list[threading.Thread]:
    with _lock:
        _leftovers.difference_update([t for t in _leftovers if not t.is_alive()])
        return list(_leftovers)


def armed() -> bool:
    """Whether a real send from this thread would be refused."""
    if current_run() is not None:
        return True
    with _lock:
        return _active > 0 or any(t.is_alive() for t in _leftovers)


def is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_call() -> None:
    """Refuse any AWS call from a thread of a stopped emulated run."""
    run = _RUN.get()
    if run is not None and run.closed:
        raise EmulatorStopped(f"the emulator of run {run.name} was stopped: this thread of it "
                              "may not call AWS any more")
    if _leftovers and threading.current_thread() in _leftovers:
        raise EmulatorStopped("this thread belongs to a stopped emulator: it may not call AWS")


def check_send(url: str) -> None:
    """Refuse a real network request to a non-loopback host while emulated."""
    if is_loopback(url) or not armed():
        return
    host = urlsplit(url).hostname
    log.error("refused a request to %s: emulated runs never reach a real endpoint", host)
    raise RealEndpointRefused(f"refused a request to {host}: an emulated run never reaches a "
                              "real AWS endpoint (moto did not answer it: the emulator is "
                              "stopped or the endpoint is not AWS's)")


def _bound_client_send(request, **_: object) -> None:
    """``before-send`` of a client built during emulation: moto answers, or nothing is sent
    beyond loopback (moto's interception is process-wide and teardown turns it off)."""
    from moto.core.models import botocore_stubber

    if botocore_stubber.enabled or is_loopback(request.url):
        return None
    host = urlsplit(request.url).hostname
    log.error("refused a request to %s from a client of an emulated run", host)
    raise RealEndpointRefused(f"refused a request to {host}: this client was built in an "
                              "emulated run, and its emulator is gone")


def install() -> None:
    """Patch botocore once: ``Endpoint.make_request`` checks the run, ``URLLib3Session.send``
    the destination, and a client built while armed keeps the fence. All are no-ops outside
    emulation."""
    global _installed
    with _lock:
        if _installed:
            return
        import botocore.session
        from botocore.endpoint import Endpoint
        from botocore.httpsession import URLLib3Session

        make_request = Endpoint.make_request
        send = URLLib3Session.send
        create_client = botocore.session.Session.create_client

        def bound_client(session, *args, **kwargs):
            client = create_client(session, *args, **kwargs)
            if armed():
                client.meta.events.register("before-send", _bound_client_send)
                # and every later client of the session (a store builds its S3 client on
                # first use, which may come after the run): a client copies its session's
                # handlers when it is built
                session.register("before-send", _bound_client_send, unique_id="sgc-fence")
            return client

        bound_client.sgc_guarded = getattr(create_client, "sgc_guarded", False)
        botocore.session.Session.create_client = bound_client

        def checked_request(self, operation_model, request_dict):
            check_call()
            return make_request(self, operation_model, request_dict)

        def checked_send(self, request):
            check_send(request.url)
            return send(self, request)

        checked_request.sgc_original = make_request
        checked_send.sgc_original = send
        Endpoint.make_request = checked_request
        URLLib3Session.send = checked_send
        _installed = True
