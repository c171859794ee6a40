"""The `sgc local up` server process: a moto server on 127.0.0.1 with the stack, until SIGTERM.

Run as ``python -m coordinator.emulator.serve --port P --state FILE``; it writes FILE (endpoint,
state machine ARN, pid) once ready and removes it on the way out.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import threading
from pathlib import Path

from coordinator.emulator.core import Emulator


def serve(port: int, state_file: Path) -> None:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    import functions.worker  # noqa: F401  (pay the workers' Numba start-up once, up front)

    emulator = Emulator(server=True, port=port).start()
    try:
        state_file.parent.mkdir(parents=True, exist_ok=True)
        scratch = state_file.with_suffix(".tmp")
        scratch.write_text(json.dumps({"pid": os.getpid(), "port": emulator.port,
                                       "endpoint_url": emulator.endpoint_url,
                                       "state_machine_arn": emulator.state_machine_arn}))
        os.replace(scratch, state_file)
        stop.wait()
    finally:
        state_file.unlink(missing_ok=True)
        emulator.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--state", type=Path, required=True)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    serve(args.port, args.state)


if __name__ == "__main__":
    main()
