"""Build the Numba cache shipped beside the worker: every kernel compiled into an empty cache.

The top of the kernel stack (it imports ``functions.kernels``, which imports everything below);
``numba_setup`` only installs what this writes. Run with ``NUMBA_CPU_NAME`` set to the shipped
CPU (``numba_setup.SHIPPED_CPU``: x86-64-v3) and no host feature added, so the cache loads on
every Lambda host (see ``numba_setup``):

    NUMBA_CPU_NAME=x86-64-v3 NUMBA_CPU_FEATURES= python -m functions.kernel_cache build DIR

``build DIR --sample`` compiles two kernels only (a serial and a parallel one): enough to
check that a build repeats byte for byte from any checkout, in seconds rather than minutes
(tests/infra/test_packaging.py).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

from functions import numba_setup


def build_shipped_cache(destination: Path, sample: bool = False) -> int:
    """Compile every kernel (``sample``: a few, see ``compile_sample``) into an empty cache and
    copy its files to ``destination``."""
    cpu = numba_setup.shipped_cpu()
    if os.environ.get("NUMBA_CPU_NAME") != cpu or os.environ.get("NUMBA_CPU_FEATURES") != "":
        raise SystemExit(f"build the shipped cache with NUMBA_CPU_NAME={cpu} and "
                         "NUMBA_CPU_FEATURES= (empty) set")
    numba_setup.check_host_cpu(cpu)  # a clear error, not an illegal instruction mid-build
    with tempfile.TemporaryDirectory() as scratch:
        os.environ["NUMBA_CACHE_DIR"] = scratch
        numba_setup.configure()
        from functions import kernels  # after configure(): Numba binds the cache dir on import

        if sample:
            compile_sample(kernels)
        else:
            kernels.warm_up()
        destination.mkdir(parents=True, exist_ok=True)
        files = [p for p in numba_setup.kernel_cache_path().iterdir()
                 if p.suffix in (".nbi", ".nbc")]
        for path in files:
            shutil.copy2(path, destination / path.name)
    return len(files)


def compile_sample(kernels) -> None:
    """Two kernels whose cache files carry what could differ between checkouts (source paths
    in exception sites, inlined numpy code): a serial one and a parallel one (Numba names its
    gufuncs by address). ~20 s of compiling against minutes for the whole set."""
    import numpy as np

    from coordinator.contract.models import ModelSpec

    X, y = np.zeros((2, 16), dtype=np.float32), np.zeros(2, dtype=np.int32)
    logistic = ModelSpec("logreg", 16, 2)
    for parallel in (False, True) if kernels.PARALLEL_AVAILABLE else (False,):
        kernels.loss_grad(logistic, X, y, logistic.init(), parallel=parallel)


if __name__ == "__main__":
    arguments = sys.argv[1:]
    sample = arguments[2:] == ["--sample"]
    if len(arguments) not in (2, 3) or arguments[0] != "build" or \
            arguments[1].startswith("-") or (len(arguments) == 3 and not sample):
        raise SystemExit("usage: NUMBA_CPU_NAME=x86-64-v3 NUMBA_CPU_FEATURES= "
                         "python -m functions.kernel_cache build DIR [--sample]")
    count = build_shipped_cache(Path(arguments[1]), sample)
    print(f"{count} cache files written to {arguments[1]}")
