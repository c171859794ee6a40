"""Build the Numba cache shipped beside the worker: every kernel compiled into an empty cache.

The top of the kernel stack (it imports ``functions.kernels``, which imports everything below);
``numba_setup`` only installs what this writes. Run with ``NUMBA_CPU_NAME`` set to the shipped
CPU (``numba_setup.SHIPPED_CPU``: x86-64-v3) and no host feature added, so the cache loads on
every Lambda host (see ``numba_setup``):

    NUMBA_CPU_NAME=x86-64-v3 NUMBA_CPU_FEATURES= python -m functions.kernel_cache build DIR
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

from functions import numba_setup


def build_shipped_cache(destination: Path) -> int:
    """Compile every kernel into an empty cache and copy its files to ``destination``."""
    cpu = numba_setup.shipped_cpu()
    if os.environ.get("NUMBA_CPU_NAME") != cpu or os.environ.get("NUMBA_CPU_FEATURES") != "":
        raise SystemExit(f"build the shipped cache with NUMBA_CPU_NAME={cpu} and "
                         "NUMBA_CPU_FEATURES= (empty) set")
    numba_setup.check_host_cpu(cpu)  # a clear error, not an illegal instruction mid-build
    with tempfile.TemporaryDirectory() as scratch:
        os.environ["NUMBA_CACHE_DIR"] = scratch
        numba_setup.configure()
        from functions import kernels  # after configure(): Numba binds the cache dir on import

        kernels.warm_up()
        destination.mkdir(parents=True, exist_ok=True)
        files = [p for p in numba_setup.kernel_cache_path().iterdir()
                 if p.suffix in (".nbi", ".nbc")]
        for path in files:
            shutil.copy2(path, destination / path.name)
    return len(files)


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] != "build":
        raise SystemExit("usage: NUMBA_CPU_NAME=x86-64-v3 NUMBA_CPU_FEATURES= "
                         "python -m functions.kernel_cache build DIR")
    print(f"{build_shipped_cache(Path(sys.argv[2]))} cache files written to {sys.argv[2]}")
