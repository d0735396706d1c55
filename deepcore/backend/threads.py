"""BLAS thread control. Small GEMMs inside sequential loops (the steps of an RNN) run several times faster
on one BLAS thread: waking the pool for a 64x128x512 product costs more than the product itself."""
from __future__ import annotations

import contextlib

_blas = None


def _blas_libraries():
    global _blas
    if _blas is None:
        from threadpoolctl import ThreadpoolController
        _blas = [lib for lib in ThreadpoolController().lib_controllers if lib.user_api == "blas"]
    return _blas


@contextlib.contextmanager
def single_threaded_blas():
    """Run the block with every loaded BLAS on one thread, then restore each library's thread count."""
    libs = _blas_libraries()
    saved = [lib.num_threads for lib in libs]
    for lib in libs:
        lib.set_num_threads(1)
    try:
        yield
    finally:
        for lib, n in zip(libs, saved):
            lib.set_num_threads(n)


def blas_threads() -> int:
    """The largest thread count among the loaded BLAS libraries (1 when none is found)."""
    return max([lib.num_threads for lib in _blas_libraries()] or [1])
