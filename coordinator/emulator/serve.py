"""The `sgc local up` server process: a moto server on 127.0.0.1 with the stack, until SIGTERM.

Run as ``python -m coordinator.emulator.serve --port P --state FILE [--data DIR] [--fresh]``; it
loads the last snapshot from DIR (``coordinator.emulator.persist``: S3 objects and DynamoDB items
survive a crash of this process), writes FILE (endpoint, state machine ARN, pid, what was
restored) once ready, snapshots DIR while it runs, and removes FILE on the way out.
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

from coordinator.emulator.core import Emulator


def serve(port: int, state_file: Path, data_dir: Path | None = None, fresh: bool = False,
          interval_s: float = 2.0) -> None:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    if port and not port_free(port):  # moto's server thread would die and leave us waiting
        raise SystemExit(f"port {port} on 127.0.0.1 is in use: pass another --port")
    import functions.worker  # noqa: F401  (pay the workers' Numba start-up once, up front)

    emulator = Emulator(server=True, port=port).start()
    snapshots = saver = None
    try:
        restored = None
        if data_dir is not None:
            from coordinator.emulator.persist import Snapshots
            from coordinator.storage.state import Store

            snapshots = Snapshots(data_dir, Store(endpoint_url=emulator.endpoint_url))
            if fresh:
                snapshots.forget()
            restored = snapshots.restore()
            saver = threading.Thread(target=snapshots.run, args=(stop, interval_s),
                                     name="snapshots", daemon=True)
            saver.start()
        state_file.parent.mkdir(parents=True, exist_ok=True)
        scratch = state_file.with_suffix(".tmp")
        scratch.write_text(json.dumps({"pid": os.getpid(), "port": emulator.port,
                                       "endpoint_url": emulator.endpoint_url,
                                       "state_machine_arn": emulator.state_machine_arn,
                                       "data_dir": str(data_dir) if data_dir else None,
                                       "restored": restored}))
        os.replace(scratch, state_file)
        stop.wait()
    finally:
        stop.set()
        if saver is not None:
            saver.join(timeout=60)  # the final snapshot
        state_file.unlink(missing_ok=True)
        emulator.stop()


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
    parser.add_argument("--interval", type=float, default=2.0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    serve(args.port, args.state, args.data, args.fresh, args.interval)


if __name__ == "__main__":
    main()
