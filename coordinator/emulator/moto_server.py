"""moto's HTTP server (``sgc local up``, the local deploy target), without a directory listing
per request.

moto's server finds the service of every request in ``DomainDispatcherApplication.
get_backend_for_host``, which first asks whether the host names one of moto's packages:
``host in backends.list_of_moto_modules()``, a generator that lists moto's package directory
and stats each of its ~170 entries, on every request. On a local job that was 13% of the
server's busy time (py-spy, one 6-iteration job of 8 workers). The packages do not change
while the process runs: they are listed once.
"""

from __future__ import annotations


def start(port: int):
    """A started ``ThreadedMotoServer`` on 127.0.0.1:``port`` (0: any free port)."""
    from moto.server import ThreadedMotoServer

    list_moto_modules_once()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    return server


def list_moto_modules_once() -> None:
    """Replace ``moto.backends.list_of_moto_modules`` by the same names, listed once
    (idempotent)."""
    from moto import backends

    if getattr(backends.list_of_moto_modules, "sgc_listed_once", False):
        return
    original = backends.list_of_moto_modules
    modules = tuple(original())

    def listed() -> tuple[str, ...]:
        return modules

    listed.sgc_listed_once, listed.sgc_original = True, original
    backends.list_of_moto_modules = listed
