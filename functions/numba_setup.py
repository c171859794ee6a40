"""Numba configuration for the worker, applied before Numba compiles or loads any kernel.

Why each setting (docs/aws.md, "Lambda" and "Numba inside Lambda"):
- ``NUMBA_CACHE_DIR`` under /tmp: the only writable place in Lambda.
- Thread count = the cores this process may really use (sched_getaffinity; Lambda shows 2 vCPUs
  below ~3 GB and 6 from ~8.8 GB), overridable with ``SGC_WORKER_THREADS``.
- Threading layer "threadsafe" (omp or tbb): the emulator runs many handler invocations as threads
  of one process, and the default fallback "workqueue" aborts under concurrent launches.
- OpenBLAS (the BLAS paths of the deep MLP and the CNN, functions/kernels_blas.py and
  kernels_cnn.py): one kernel type on every x86-64 Lambda host (``OPENBLAS_CORETYPE=Haswell``),
  so results do not depend on the host CPU.
- Cold start: a cache built at bundle time with ``NUMBA_CPU_NAME=generic`` is shipped beside the
  code (``functions/numba_cache/``) and copied into the cache dir at init; Numba keys cache entries
  by a hash of the source and the CPU name, so a generic cache is valid on any x86-64 host that
  runs with ``NUMBA_CPU_NAME=generic`` too (set by ``configure()`` inside Lambda).

Build the shipped cache:  ``NUMBA_CPU_NAME=generic python -m functions.kernel_cache build DIR``.
"""

from __future__ import annotations

import os
import platform
import shutil
from pathlib import Path

DEFAULT_CACHE_DIR = "/tmp/sgcflow-numba-cache"
SHIPPED_CACHE = Path(os.environ.get("SGC_NUMBA_SHIPPED_CACHE",
                                    Path(__file__).with_name("numba_cache")))
_configured = False


def available_cores() -> int:
    """Cores this process may run on (affinity mask), or ``SGC_WORKER_THREADS`` when set."""
    override = os.environ.get("SGC_WORKER_THREADS")
    if override:
        return max(1, int(override))
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def in_lambda() -> bool:
    return "AWS_LAMBDA_FUNCTION_NAME" in os.environ and "SGC_EMULATED" not in os.environ


def configure() -> dict[str, object]:
    """Set cache dir, CPU target, threading layer and thread count; idempotent. Returns them."""
    global _configured
    if not _configured:
        os.environ.setdefault("NUMBA_CACHE_DIR", DEFAULT_CACHE_DIR)
        # the pool size, for every thread (set_num_threads below is thread-local)
        os.environ.setdefault("NUMBA_NUM_THREADS", str(available_cores()))
        # In the environment, not just numba.config: Numba re-reads its config from the
        # environment whenever a NUMBA_* variable changes, which would reset a config-only value.
        os.environ.setdefault("NUMBA_THREADING_LAYER", "threadsafe")
        if in_lambda():
            os.environ.setdefault("NUMBA_CPU_NAME", "generic")
            if platform.machine() == "x86_64":
                # One OpenBLAS kernel on every Lambda host (AVX2 + FMA, which all have): its
                # run-time choice would otherwise differ between host CPUs and with it the last
                # bits of every worker's g_p, which decoding must see identical. Read when
                # numpy loads, so configure() runs before the worker imports numpy.
                os.environ.setdefault("OPENBLAS_CORETYPE", "Haswell")
        import numba

        # numba reads these at its own import; repeat them in case it was imported first
        numba.config.CACHE_DIR = numba.config.CACHE_DIR or os.environ["NUMBA_CACHE_DIR"]
        if os.environ.get("NUMBA_CPU_NAME") == "generic" and numba.config.CPU_NAME is None:
            numba.config.CPU_NAME, numba.config.CPU_FEATURES = "generic", ""
        numba.config.THREADING_LAYER = os.environ["NUMBA_THREADING_LAYER"]
        numba.set_num_threads(min(available_cores(), numba.config.NUMBA_NUM_THREADS))
        install_shipped_cache()
        _configured = True
    import numba

    return {"cache_dir": numba.config.CACHE_DIR, "cpu_name": numba.config.CPU_NAME or "host",
            "threads": numba.get_num_threads(), "threading_layer": numba.config.THREADING_LAYER,
            "parallel": threadsafe_layer_available()}


def threadsafe_layer_available() -> bool:
    """Whether omp or tbb loads here (libgomp / the tbb wheel); without one, kernels stay serial
    rather than fall back to "workqueue", which aborts under concurrent Python threads."""
    import importlib

    for module in ("numba.np.ufunc.omppool", "numba.np.ufunc.tbbpool"):
        try:
            importlib.import_module(module)
            return True
        except ImportError:
            continue
    return False


def kernel_cache_path() -> Path:
    """Where Numba looks for functions/kernels.py's cache entries under NUMBA_CACHE_DIR."""
    import numba
    from numba.core.caching import UserProvidedCacheLocator

    kernels_file = str(Path(__file__).with_name("kernels.py"))
    subpath = UserProvidedCacheLocator.get_suitable_cache_subpath(kernels_file)
    return Path(numba.config.CACHE_DIR) / subpath


def install_shipped_cache(source: Path = SHIPPED_CACHE) -> int:
    """Copy shipped cache files that the cache dir lacks; returns how many were copied."""
    if not source.is_dir():
        return 0
    target = kernel_cache_path()
    target.mkdir(parents=True, exist_ok=True)
    copied = 0
    for path in source.iterdir():
        if path.suffix in (".nbi", ".nbc") and not (target / path.name).exists():
            shutil.copy2(path, target / path.name)
            copied += 1
    return copied
