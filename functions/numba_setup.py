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
- CPU target: one named CPU on every Lambda host (``SHIPPED_CPU``), never the host's own: on
  x86-64 the psABI level x86-64-v3 (AVX2, FMA, BMI2: what every x86-64 Lambda host has, as the
  OpenBLAS pin above assumes), with no feature taken from the host. Every worker then runs the
  same machine code (the same bits, which decoding needs), its Numba paths about 1.3-1.6x
  faster than the generic x86-64's SSE2 code (docs/benchmarks.md, "The Lambda workers' CPU
  target"). A host without those features is refused with a clear error (``check_host_cpu``)
  rather than computing other bits or dying on an illegal instruction; so is a process where
  Numba compiled before ``configure()`` (``check_code_generator``).
- Cold start: a cache built at bundle time for that CPU is shipped beside the code
  (``functions/numba_cache/``) and copied into the cache dir at init; Numba keys cache entries
  by a hash of the source, the CPU name and its features, so the cache is valid on any host that
  runs with the same ``NUMBA_CPU_NAME`` and empty ``NUMBA_CPU_FEATURES`` (set by ``configure()``
  inside Lambda).

Build the shipped cache:  ``NUMBA_CPU_NAME=x86-64-v3 NUMBA_CPU_FEATURES= python -m
functions.kernel_cache build DIR`` (``infra/packaging.py`` does, in Lambda's Python).
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
# The CPU the shipped cache is compiled for and every Lambda worker runs, by machine.
SHIPPED_CPU = {"x86_64": "x86-64-v3"}
# What LLVM's x86-64-v3 model needs beyond SSE2, as llvmlite names a host's features.
X86_64_V3_FEATURES = ("avx", "avx2", "bmi", "bmi2", "crc32", "cx16", "f16c", "fma", "lzcnt",
                      "movbe", "popcnt", "sahf", "sse3", "sse4.1", "sse4.2", "ssse3", "xsave")


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


def shipped_cpu(machine: str | None = None) -> str:
    """The LLVM CPU name the shipped cache is built for on ``machine`` (default: this one);
    "generic" where no named level is chosen (arm64)."""
    return SHIPPED_CPU.get(machine or platform.machine(), "generic")


def missing_cpu_features(cpu: str, host_features: dict[str, bool]) -> list[str]:
    """The features ``cpu`` needs that ``host_features`` (llvmlite's map) lacks."""
    needed = X86_64_V3_FEATURES if cpu == "x86-64-v3" else ()
    return [name for name in needed if not host_features.get(name)]


def check_code_generator(features: str) -> None:
    """Numba fixes its target machine when its code generator is first made: had anything been
    compiled before configure() named the CPU, the kernels would be built with the host's
    features while cached (and shipped) under the named CPU. Refuse that."""
    from numba.core.registry import cpu_target

    built_with = cpu_target.target_context.codegen().magic_tuple()[2]
    if built_with != features:
        raise RuntimeError("Numba compiled before functions.numba_setup.configure(): its code "
                           f"generator has the features {built_with[:80]!r}, not {features!r}; "
                           "configure() must run before any kernel is compiled or loaded")


def check_host_cpu(cpu: str) -> None:
    """Refuse a host that cannot run code compiled for ``cpu``: an illegal instruction would kill
    the worker, and a fallback to another target would give other bits than every other worker."""
    from llvmlite import binding

    missing = missing_cpu_features(cpu, dict(binding.get_host_cpu_features()))
    if missing:
        raise RuntimeError(f"this host's CPU lacks {', '.join(missing)}, which the worker's "
                           f"kernels (compiled for {cpu}) and OpenBLAS's Haswell kernels need")


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
        if in_lambda():  # the shipped target, whatever the function's environment says
            os.environ["NUMBA_CPU_NAME"], os.environ["NUMBA_CPU_FEATURES"] = shipped_cpu(), ""
            check_host_cpu(os.environ["NUMBA_CPU_NAME"])
            if platform.machine() == "x86_64":
                # One OpenBLAS kernel on every Lambda host (AVX2 + FMA, which all have): its
                # run-time choice would otherwise differ between host CPUs and with it the last
                # bits of every worker's g_p, which decoding must see identical. Read when
                # numpy loads, so configure() runs before the worker imports numpy.
                os.environ.setdefault("OPENBLAS_CORETYPE", "Haswell")
        target = os.environ.get("NUMBA_CPU_NAME")
        if target:  # a named CPU's own features, never the host's (Numba adds them otherwise)
            os.environ.setdefault("NUMBA_CPU_FEATURES", "")
        import numba

        # numba reads these at its own import; repeat them in case it was imported first
        numba.config.CACHE_DIR = numba.config.CACHE_DIR or os.environ["NUMBA_CACHE_DIR"]
        if target and numba.config.CPU_NAME is None:
            numba.config.CPU_NAME = target
        if target and numba.config.CPU_FEATURES is None:
            numba.config.CPU_FEATURES = os.environ["NUMBA_CPU_FEATURES"]
        numba.config.THREADING_LAYER = os.environ["NUMBA_THREADING_LAYER"]
        numba.set_num_threads(min(available_cores(), numba.config.NUMBA_NUM_THREADS))
        if target:
            check_code_generator(os.environ["NUMBA_CPU_FEATURES"])
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
