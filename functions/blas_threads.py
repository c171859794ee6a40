"""OpenBLAS limited to one thread while a BLAS-path kernel runs, so its sums never change.

OpenBLAS's sgemm splits its work differently with its thread count, and the sums change with the
split (measured: 1 and 2 threads differ in the last bits), so every BLAS-path kernel
(functions/kernels_blas.py, functions/kernels_cnn.py) runs inside ``single_threaded_blas``; a
process-wide counter lets concurrent callers (the emulator runs workers as threads) share one
limit and restore the original setting when the last one leaves.
"""

from __future__ import annotations

import itertools
import threading
from contextlib import contextmanager

_blas: dict = {"lock": threading.Lock(), "users": 0, "saved": [], "libraries": None}


def _openblas_functions() -> list[tuple]:
    """(get, set) thread-count functions of every OpenBLAS loaded (numpy's has a prefixed,
    suffixed symbol, e.g. scipy_openblas_set_num_threads64_). Found once through threadpoolctl
    but called directly: threadpoolctl lets only one Python thread at a time change OpenBLAS
    limits and silently ignores the others, which would leave a worker thread multi-threaded."""
    if _blas["libraries"] is None:
        from threadpoolctl import ThreadpoolController

        found = []
        for library in ThreadpoolController().lib_controllers:
            if library.internal_api != "openblas":
                continue
            for prefix, suffix in itertools.product(("", "scipy_"), ("", "64_", "_64")):
                setter = getattr(library.dynlib, f"{prefix}openblas_set_num_threads{suffix}",
                                 None)
                getter = getattr(library.dynlib, f"{prefix}openblas_get_num_threads{suffix}",
                                 None)
                if setter is not None and getter is not None:
                    found.append((getter, setter))
                    break
        _blas["libraries"] = found
    return _blas["libraries"]


@contextmanager
def single_threaded_blas():
    """OpenBLAS limited to one thread while any caller is inside; the previous count is restored
    when the last one leaves (a process-wide count, as OpenBLAS's thread pool is process-wide)."""
    with _blas["lock"]:
        if _blas["users"] == 0:
            _blas["saved"] = [(setter, getter()) for getter, setter in _openblas_functions()]
            for setter, _ in _blas["saved"]:
                setter(1)
        _blas["users"] += 1
    try:
        yield
    finally:
        with _blas["lock"]:
            _blas["users"] -= 1
            if _blas["users"] == 0:
                for setter, threads in _blas["saved"]:
                    setter(threads)
