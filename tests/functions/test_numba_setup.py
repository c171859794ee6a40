"""Numba setup: thread count, threading layer and the Lambda CPU target. The shipped cache
(Lambda cold start) is built and loaded without compiling in tests/infra/test_packaging.py, on
the layer's own Python 3.12 and numba, as `make deploy` ships it."""

from __future__ import annotations

import os
import subprocess
import sys

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


def test_the_lambda_target_is_x86_64_v3_and_generic_elsewhere():
    assert numba_setup.shipped_cpu("x86_64") == "x86-64-v3"
    assert numba_setup.shipped_cpu("aarch64") == "generic"


def test_a_host_without_avx2_or_fma_is_refused_by_name():
    host = {name: True for name in numba_setup.X86_64_V3_FEATURES}
    assert numba_setup.missing_cpu_features("x86-64-v3", host) == []
    assert numba_setup.missing_cpu_features("x86-64-v3", {**host, "avx2": False,
                                                          "fma": False}) == ["avx2", "fma"]
    assert numba_setup.missing_cpu_features("generic", {}) == []


def test_in_lambda_kernels_compile_for_the_named_cpu_with_no_host_feature(tmp_path):
    """What a Lambda worker configures before any kernel loads: the shipped CPU, no feature of
    the host added (else an AVX-512 host would compile other code, and other bits, than the
    rest of the fleet), and this host passes the CPU check."""
    script = ("from functions import numba_setup; s = numba_setup.configure(); import numba; "
              "print(s['cpu_name'], repr(numba.config.CPU_FEATURES))")
    env = {**os.environ, "AWS_LAMBDA_FUNCTION_NAME": "sgcflow-worker",
           "NUMBA_CACHE_DIR": str(tmp_path), "SGC_NUMBA_SHIPPED_CACHE": str(tmp_path / "none")}
    for name in ("SGC_EMULATED", "NUMBA_CPU_NAME", "NUMBA_CPU_FEATURES"):
        env.pop(name, None)
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                          text=True, check=True)
    assert done.stdout.split() == [numba_setup.shipped_cpu(), "''"]

