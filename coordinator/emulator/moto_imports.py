"""What moto imports that the emulator never uses, left out of the server's start.

moto's Step Functions interpreter imports ``moto.batch.utils`` for one enum (its Batch service
integration, which no sgcflow state machine uses). Importing that module runs the
``moto.batch`` package's ``__init__``, which loads Batch's and EC2's models: 1.4 s of every
`sgc local up` and every emulator start, about a fifth of it. ``load_batch_utils`` loads the
module (and the exceptions it imports) without the package's ``__init__``: later imports of
``moto.batch.utils`` by name (moto's only kind: ``from moto.batch.utils import ...``) find it
in ``sys.modules``, and a real ``import moto.batch`` still runs the package as usual, reusing
those two modules (only the package's attributes ``utils`` and ``exceptions`` are then
missing: nothing reads them). Call it before other threads import moto: while the two modules
load, ``moto.batch`` in ``sys.modules`` is an empty stand-in.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types

BATCH_PACKAGE = "moto.batch"


def load_batch_utils() -> None:
    """Put ``moto.batch.utils`` in ``sys.modules`` without importing ``moto.batch``."""
    if f"{BATCH_PACKAGE}.utils" in sys.modules or BATCH_PACKAGE in sys.modules:
        return
    spec = importlib.util.find_spec(BATCH_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return  # another moto layout: import as usual
    stand_in = types.ModuleType(BATCH_PACKAGE)
    stand_in.__path__ = list(spec.submodule_search_locations)
    sys.modules[BATCH_PACKAGE] = stand_in  # only while its two plain modules load
    try:
        importlib.import_module(f"{BATCH_PACKAGE}.utils")
    finally:
        del sys.modules[BATCH_PACKAGE]
