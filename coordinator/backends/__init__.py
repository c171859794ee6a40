"""Where jobs run: AWS (a deployed stack) or the local moto emulator, behind one interface.

``Backend`` holds a ``Store`` (DynamoDB + S3 of the stack) and the state machine; the CLI only
calls ``submit``, ``resume``, ``cancel`` and reads through ``store``.
"""

from coordinator.backends.base import Backend, new_run_id
from coordinator.backends.connect import aws_backend, emulator_backend, local_backend

__all__ = ["Backend", "aws_backend", "emulator_backend", "local_backend", "new_run_id"]
