"""Numba setup: thread count, threading layer and the Lambda CPU target. The shipped cache
(Lambda cold start) is built and loaded without compiling in tests/infra/test_packaging.py, on
the layer's own Python 3.12 and numba, as `make deploy` ships it."""

from __future__ import annotations

import os
import subprocess
import sys

import numba
import pytest
from llvmlite import binding

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


def _in_lambda(script: str, tmp_path, **preset: str) -> subprocess.CompletedProcess:
    """``script`` in a fresh Python as a Lambda worker starts (its environment plus ``preset``)."""
    env = {**os.environ, "AWS_LAMBDA_FUNCTION_NAME": "sgcflow-worker",
           "NUMBA_CACHE_DIR": str(tmp_path), "SGC_NUMBA_SHIPPED_CACHE": str(tmp_path / "none")}
    for name in ("SGC_EMULATED", "NUMBA_CPU_NAME", "NUMBA_CPU_FEATURES"):
        env.pop(name, None)
    return subprocess.run([sys.executable, "-c", script], env={**env, **preset},
                          capture_output=True, text=True)


V3_HOST = numba_setup.shipped_cpu() == "x86-64-v3" and not numba_setup.missing_cpu_features(
    "x86-64-v3", dict(binding.get_host_cpu_features()))
needs_v3_host = pytest.mark.skipif(not V3_HOST, reason="an x86-64 host with AVX2 and FMA")


@needs_v3_host
@pytest.mark.parametrize("preset", [
    {}, {"NUMBA_CPU_NAME": ""}, {"NUMBA_CPU_NAME": "skylake", "NUMBA_CPU_FEATURES": "+avx512f"}])
def test_in_lambda_kernels_compile_for_the_shipped_cpu_whatever_the_environment(tmp_path, preset):
    """What a Lambda worker configures before any kernel loads: the shipped CPU with no feature
    of the host (else an AVX-512 host would compile other code, and other bits, than the rest of
    the fleet), also over a preset environment, down to Numba's code generator."""
    script = ("from functions import numba_setup; s = numba_setup.configure(); "
              "from numba.core.registry import cpu_target; "
              "print(s['cpu_name'], repr(cpu_target.target_context.codegen().magic_tuple()[2]))")
    done = _in_lambda(script, tmp_path, **preset)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == [numba_setup.shipped_cpu(), "''"]


def _refusal(before: str, tmp_path) -> str:
    """What configure() refuses with, in a Lambda worker that first ran ``before``; printed
    after whether numpy had been loaded by then."""
    script = (f"import sys\n{before}\nfrom functions import numba_setup\n"
              "try:\n    numba_setup.configure()\n"
              "except RuntimeError as error:\n    print('numpy' in sys.modules, error)")
    done = _in_lambda(script, tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_in_lambda_a_host_without_the_features_is_refused_before_numpy_loads(tmp_path):
    refused = _refusal("import llvmlite.binding as b; b.get_host_cpu_features = lambda: {}",
                       tmp_path)
    if numba_setup.shipped_cpu() == "x86-64-v3":
        assert refused.startswith("False this host's CPU lacks avx, avx2"), refused


@needs_v3_host
def test_in_lambda_a_kernel_compiled_before_configure_is_refused(tmp_path):
    """Numba fixes its target when it first compiles: compiled before configure(), the kernels
    would carry the host's features under the shipped CPU's cache key."""
    refused = _refusal("import numba\n@numba.njit\ndef f(x):\n    return x + 1\nf(1)", tmp_path)
    assert "Numba compiled before functions.numba_setup.configure()" in refused, refused
