"""A socket-level fence for tests: any connection (or name lookup) to a host that is not on this
machine is recorded and refused, so a test fails if anything tried to leave it (issue 26: a
worker of a stopped emulator reached for https://dynamodb.us-east-1.amazonaws.com/)."""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager


def _local(host) -> bool:
    if host is None:
        return True
    if isinstance(host, bytes):
        host = host.decode()
    host = str(host)
    if host in ("localhost", "") or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


@contextmanager
def loopback_only() -> Iterator[list[str]]:
    """Yield the list of refused destinations (empty if nothing tried to leave)."""
    attempts: list[str] = []
    lock = threading.Lock()
    connect, connect_ex = socket.socket.connect, socket.socket.connect_ex
    getaddrinfo = socket.getaddrinfo

    def refuse(what: str) -> None:
        with lock:
            attempts.append(what)
        raise ConnectionRefusedError(f"test fence: {what} is not on this machine")

    def address_host(address):
        return address[0] if isinstance(address, tuple) else None  # AF_UNIX paths are local

    def guarded_connect(sock, address):
        if not _local(address_host(address)):
            refuse(f"connect {address}")
        return connect(sock, address)

    def guarded_connect_ex(sock, address):
        if not _local(address_host(address)):
            refuse(f"connect {address}")
        return connect_ex(sock, address)

    def guarded_getaddrinfo(host, *args, **kwargs):
        if not _local(host):
            refuse(f"resolve {host}")
        return getaddrinfo(host, *args, **kwargs)

    socket.socket.connect = guarded_connect
    socket.socket.connect_ex = guarded_connect_ex
    socket.getaddrinfo = guarded_getaddrinfo
    try:
        yield attempts
    finally:
        socket.socket.connect, socket.socket.connect_ex = connect, connect_ex
        socket.getaddrinfo = getaddrinfo
