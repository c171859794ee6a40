"""Local emulation of the AWS side with moto: the real handlers run in-process as Lambda.

``Emulator`` (in-process, for tests and ``sgc submit --local``) and ``sgc local up`` (a
``ThreadedMotoServer`` on 127.0.0.1 in a background process) create the same bucket, table,
functions and state machine the CDK app declares, and run the same workflow definition.
"""

from coordinator.emulator.core import Emulator, run_definition

__all__ = ["Emulator", "run_definition"]
