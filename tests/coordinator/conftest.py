"""Fixtures for the coordinator tests: one in-process emulator (and backend) per module."""

from __future__ import annotations

import pytest

from coordinator.backends import emulator_backend
from coordinator.emulator import Emulator


@pytest.fixture(scope="module")
def emulator():
    with Emulator() as emu:  # warm: the worker's Numba start-up is paid before round 1
        yield emu


@pytest.fixture(scope="module")
def backend(emulator):
    return emulator_backend(emulator)
