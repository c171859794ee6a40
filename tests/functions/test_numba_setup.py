"""Numba setup: thread count, threading layer, and the shipped generic cache (Lambda cold start)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numba
import pytest

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


@pytest.mark.slow  # its own cache folders only: runs beside the packaging builds
def test_shipped_generic_cache_loads_without_compiling(tmp_path):
    """Build the cache as the bundler would, then a fresh process with an empty NUMBA_CACHE_DIR
    installs it and loads every kernel from it: no compilation."""
    env = {**os.environ, "NUMBA_CPU_NAME": "generic", "NUMBA_CACHE_DIR": str(tmp_path / "b"),
           "SGC_NUMBA_SHIPPED_CACHE": str(tmp_path / "none")}
    subprocess.run([sys.executable, "-m", "functions.kernel_cache", "build",
                    str(tmp_path / "shipped")], env=env, check=True, capture_output=True)
    assert len(list((tmp_path / "shipped").glob("*.nbi"))) >= 6
    script = ("import json, functions.worker as w, functions.kernels as k, "
              "functions.kernels_mlp as m1, functions.kernels_deep as d, "
              "functions.kernels_blas as b, functions.kernel_layers as l, "
              "functions.kernel_conv as c, functions.kernels_cnn_fused as cf; "
              "from numba.core.registry import CPUDispatcher; "
              "print(json.dumps({f'{m.__name__}.{n}': [len(f.stats.cache_hits), "
              "len(f.stats.cache_misses)] for m in (k, m1, d, b, l, c, cf) "
              "for n, f in vars(m).items() "
              "if isinstance(f, CPUDispatcher) and f.__module__ == m.__name__ "
              "and (f.stats.cache_hits or f.stats.cache_misses)}))")
    env.update(NUMBA_CACHE_DIR=str(tmp_path / "fresh"),
               SGC_NUMBA_SHIPPED_CACHE=str(tmp_path / "shipped"))
    done = subprocess.run([sys.executable, "-c", script], env=env, check=True,
                          capture_output=True, text=True)
    stats = json.loads(done.stdout.strip().splitlines()[-1])
    # the six linear/one-layer dispatchers, the deep ones, the BLAS paths' fused helpers, and
    # the CNN's conv blocks and fused call
    assert {"functions.kernels_mlp.mlp_parallel", "functions.kernels_deep.deep_parallel",
            "functions.kernels_deep.deep_serial", "functions.kernel_layers.softmax_rows",
            "functions.kernel_layers.bias_activate", "functions.kernel_layers.accumulate",
            "functions.kernel_layers.gate", "functions.kernel_conv.im2col",
            "functions.kernel_conv.col2im", "functions.kernel_conv.pool_forward",
            "functions.kernel_conv.pool_backward",
            "functions.kernels_cnn_fused.cnn_fused_kernel"} <= set(stats), stats
    assert all(hits >= 1 and misses == 0 for hits, misses in stats.values()), stats
