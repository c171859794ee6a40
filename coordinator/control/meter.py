"""What one round of the coordinator costs: its CPU seconds and its chain of dependent AWS calls.

``CpuMeter`` adds up thread CPU time of the coordinator's own threads: the Round task's thread
and the pool threads it hands work to. Sleeping and waiting cost nothing. In emulation moto
answers the coordinator's AWS calls inside those threads; ``track_emulated_services`` charges
that emulation of the AWS side to itself (``own_time`` excludes it), so the number is what the
coordinator's code and its boto3 clients spend, as they would in the Lambda.

``CriticalPath`` lists the dependent AWS calls from the poll that ends a round to the invocation
of the next round's workers, one entry per level: calls issued in parallel (a fan-out, a window
of reads) are one level. ``sgc bench round`` prices each level with docs/critical-path.md's table.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from contextlib import contextmanager

_emulated = threading.local()


def emulated_seconds() -> float:
    """CPU seconds this thread spent inside moto's emulation of AWS services."""
    return getattr(_emulated, "seconds", 0.0)


def own_time() -> float:
    """This thread's CPU time without the emulated AWS side."""
    return time.thread_time() - emulated_seconds()


def track_emulated_services() -> None:
    """Count moto's request handling apart (the emulator calls this once)."""
    from moto.core.botocore_stubber import BotocoreStubber

    original = BotocoreStubber.process_request
    if getattr(original, "sgc_tracked", False):
        return

    def tracked(self, request):
        start = time.thread_time()
        try:
            return original(self, request)
        finally:
            _emulated.seconds = emulated_seconds() + time.thread_time() - start

    tracked.sgc_tracked = True
    BotocoreStubber.process_request = tracked


class CpuMeter:
    def __init__(self) -> None:
        self.seconds = 0.0
        self._lock = threading.Lock()

    def add(self, seconds: float) -> None:
        with self._lock:
            self.seconds += seconds

    def take(self) -> float:
        """The seconds so far, and start again from zero."""
        with self._lock:
            seconds, self.seconds = self.seconds, 0.0
        return seconds

    @contextmanager
    def section(self):
        start = own_time()
        try:
            yield
        finally:
            self.add(own_time() - start)

    def wrap(self, function: Callable) -> Callable:
        def measured(*args, **kwargs):
            start = own_time()
            try:
                return function(*args, **kwargs)
            finally:
                self.add(own_time() - start)

        return measured


class CriticalPath:
    """Levels of dependent AWS calls, e.g. ``["dynamodb:Query", "s3:GetObject x8", ...]``."""

    def __init__(self) -> None:
        self.levels: list[str] = []

    def start(self, first: str) -> None:
        self.levels = [first]

    def add(self, level: str, count: int = 1) -> None:
        if count > 0:
            self.levels.append(level if count == 1 else f"{level} x{count}")

    def take(self) -> list[str]:
        levels, self.levels = self.levels, []
        return levels
