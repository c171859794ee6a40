"""How a starting `sgc local up` server tells `up` what it is doing, so `up` can wait for it.

Starting takes anything from seconds to minutes: the first run on a machine compiles the worker's
Numba kernels (four minutes were measured on a loaded machine), then the saved state is restored.
A fixed start timeout killed servers that were merely slow. Instead the server keeps a small
progress file beside its state file (``Progress``): its pid, what it is doing, since when, and its
CPU time, rewritten when the phase changes or once a second while it uses CPU. `up` shows the
phases and waits while the process lives and the file keeps changing (``read_progress``); the
file is removed once the server is ready (its state file then exists) or gone.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

BEAT_S = 1.0
CPU_STEP_S = 0.05  # CPU time that counts as progress (the beat itself costs microseconds)
KERNELS = ("loading the worker's Numba kernels (the first run on a machine compiles them: "
           "a few minutes, longer on a busy machine)")


def progress_path(state_file: Path) -> Path:
    return state_file.with_name(f"{state_file.stem}-starting.json")


def read_progress(path: Path) -> dict | None:
    """The progress file's content; None when absent or unreadable."""
    try:
        progress = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return progress if isinstance(progress, dict) else None


class Progress:
    """The starting server's side: ``phase(text)`` as it goes, ``close()`` once ready or done."""

    def __init__(self, path: Path):
        self.path = path
        self._phase = "starting"
        self._since = time.time()
        self._cpu = -1.0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._beats = threading.Thread(target=self._beat, name="start-progress", daemon=True)

    def start(self) -> Progress:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._write()
        self._beats.start()
        return self

    def phase(self, text: str) -> None:
        print(f"sgcflow emulator: {text}", flush=True)  # to the server's log
        with self._lock:
            self._phase, self._since = text, time.time()
        self._write()

    def close(self) -> None:
        self._stop.set()
        if self._beats.is_alive():
            self._beats.join()
        self.path.unlink(missing_ok=True)

    def _beat(self) -> None:
        while not self._stop.wait(BEAT_S):
            if time.process_time() - self._cpu >= CPU_STEP_S:
                self._write()

    def _write(self) -> None:
        with self._lock:
            if self._stop.is_set():
                return
            self._cpu = time.process_time()
            body = {"pid": os.getpid(), "phase": self._phase, "since": self._since,
                    "cpu": round(self._cpu, 3), "at": time.time()}
            scratch = self.path.with_name(f".{self.path.name}.tmp")
            scratch.write_text(json.dumps(body))
            os.replace(scratch, self.path)
