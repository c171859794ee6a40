"""The `sgc local up` server process: a moto server on 127.0.0.1 with the stack, until SIGTERM.

Run as ``python -m coordinator.emulator.serve --port P --state FILE [--data DIR] [--fresh]``.
While it starts it reports what it is doing in a progress file beside FILE
(``coordinator.emulator.startup``); it restores the state saved in DIR
(``coordinator.emulator.persist``), journals every change to it from then on
(``coordinator.emulator.journal``: a ``kill -9`` at any moment loses nothing acknowledged),
writes FILE (endpoint, state machine ARN, pid, what was restored) once ready, and on SIGTERM
folds the journal into a snapshot and removes FILE.

``SGC_EMULATOR_SLOW_START=SECONDS`` (tests only) stretches the kernel phase, to test `up`'s
waiting without a cold Numba cache.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import socket
import threading
from pathlib import Path

from coordinator.emulator.startup import KERNELS, Progress, progress_path

SLOW_START = "SGC_EMULATOR_SLOW_START"


def serve(port: int, state_file: Path, data_dir: Path | None = None,
          fresh: bool = False) -> None:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    if port and not port_free(port):  # moto's server thread would die and leave us waiting
        raise SystemExit(f"port {port} on 127.0.0.1 is in use: pass another --port")
    progress = Progress(progress_path(state_file)).start()
    try:
        progress.phase(KERNELS)
        if stop.wait(float(os.environ.get(SLOW_START) or 0)):
            return
        import functions.worker  # noqa: F401  (pay the workers' Numba start-up once, up front)

        if not stop.is_set():
            _run(port, state_file, data_dir, fresh, stop, progress)
    finally:
        progress.close()


def _run(port: int, state_file: Path, data_dir: Path | None, fresh: bool,
         stop: threading.Event, progress: Progress) -> None:
    from coordinator.emulator.core import Emulator

    progress.phase("starting moto (S3, DynamoDB, Lambda, Step Functions)")
    emulator = Emulator(server=True, port=port).start()
    journal = None
    try:
        restored = None
        if data_dir is not None:
            journal, restored = _restore(data_dir, fresh, emulator, progress)
        state_file.parent.mkdir(parents=True, exist_ok=True)
        scratch = state_file.with_suffix(".tmp")
        scratch.write_text(json.dumps({"pid": os.getpid(), "port": emulator.port,
                                       "endpoint_url": emulator.endpoint_url,
                                       "state_machine_arn": emulator.state_machine_arn,
                                       "data_dir": str(data_dir) if data_dir else None,
                                       "restored": restored}))
        os.replace(scratch, state_file)
        progress.close()
        stop.wait()
    finally:
        stop.set()
        try:
            emulator.stop()  # its last writes are journaled too
        finally:
            if journal is not None:
                journal.detach()  # a snapshot: the next start replays nothing
            state_file.unlink(missing_ok=True)


def _restore(data_dir: Path, fresh: bool, emulator, progress: Progress):
    """Claim the data directory, put its saved state back, journal from now on, and mark the
    jobs whose execution was lost. Returns the journal and what was restored (or None)."""
    from coordinator.emulator.core import ACCOUNT, REGION
    from coordinator.emulator.journal import Journal
    from coordinator.emulator.persist import DataDir, mark_interrupted, restore
    from coordinator.storage.state import Store

    data = DataDir(data_dir)
    if data.claim(blocking=False) is None:
        progress.phase(f"waiting for the previous server to let go of {data_dir}")
        data.claim(blocking=True)  # held until this process ends
    if fresh:
        data.forget()
    store = Store(endpoint_url=emulator.endpoint_url)
    progress.phase(f"restoring the saved state from {data_dir}")
    restored = restore(data, store, in_process=(ACCOUNT, REGION))
    journal = Journal(data, store.bucket, store.table, account=ACCOUNT, region=REGION).attach()
    if restored is not None:
        restored["interrupted"] = mark_interrupted(store)
    return journal, restored


def port_free(port: int) -> bool:
    with socket.socket() as probe:
        # As the server will bind: connections of a dead server in TIME_WAIT do not block it.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--state", type=Path, required=True)
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--fresh", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    serve(args.port, args.state, args.data, args.fresh)


if __name__ == "__main__":
    main()
