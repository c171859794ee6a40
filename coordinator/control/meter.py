"""What one round of the coordinator costs: its CPU seconds and its chain of dependent AWS calls.

``CpuMeter`` adds up thread CPU time (``time.thread_time``) of the coordinator's own threads:
the Round task's thread and the pool threads it hands work to. Sleeping and waiting cost
nothing; in emulation moto answers the coordinator's calls inside those threads, so the number
is an upper bound of what the Lambda itself would spend.

``CriticalPath`` lists the dependent AWS calls from the poll that ends a round to the invocation
of the next round's workers, one entry per level: calls issued in parallel (a fan-out, a window
of reads) are one level. ``sgc bench round`` prices each level with docs/critical-path.md's table.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from contextlib import contextmanager


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
        start = time.thread_time()
        try:
            yield
        finally:
            self.add(time.thread_time() - start)

    def wrap(self, function: Callable) -> Callable:
        def measured(*args, **kwargs):
            start = time.thread_time()
            try:
                return function(*args, **kwargs)
            finally:
                self.add(time.thread_time() - start)

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
