"""BLAS thread count. deepcore runs its GEMMs on NumPy's BLAS, whose pool follows OMP_NUM_THREADS (or
OPENBLAS_NUM_THREADS); the numba kernels run serially next to it, so the two never oversubscribe the cores.
The bench reads the count here to give PyTorch the same number of threads."""
from __future__ import annotations

_blas = None


def _blas_libraries():
    global _blas
    if _blas is None:
        from threadpoolctl import ThreadpoolController
        _blas = [lib for lib in ThreadpoolController().lib_controllers if lib.user_api == "blas"]
    return _blas


def blas_threads() -> int:
    """The largest thread count among the loaded BLAS libraries (1 when none is found)."""
    return max([lib.num_threads for lib in _blas_libraries()] or [1])
