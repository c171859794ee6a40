"""Numba setup: thread count and threading layer. The shipped generic cache (Lambda cold start)
is built and loaded without compiling in tests/infra/test_packaging.py, on the layer's own
Python 3.12 and numba, as `make deploy` ships it."""

from __future__ import annotations

import numba

from functions import numba_setup


def test_configured_for_concurrent_threads():
    settings = numba_setup.configure()
    assert settings["threading_layer"] == "threadsafe"
    assert settings["threads"] == min(numba_setup.available_cores(),
                                      numba.config.NUMBA_NUM_THREADS)
    assert settings["cache_dir"]


def test_thread_override(monkeypatch):
    monkeypatch.setenv("SGC_WORKER_THREADS", "3")
    assert numba_setup.available_cores() == 3
