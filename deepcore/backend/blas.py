"""BLAS: direct CBLAS GEMM on strided NumPy views, and the float32 matmul precision of the GPU.

``gemm``: ``c = alpha * a @ b + beta * c`` with no copies. ``np.matmul`` copies an operand whose rows are
not contiguous (a window into a larger buffer) and has no ``beta``, so it cannot accumulate into an
existing array. The shifted-GEMM convolution needs both. The function is taken from the OpenBLAS that
NumPy itself links (located with threadpoolctl, ILP64 symbols only, so the integer width is known),
checked once on a small strided product, and :func:`available` is False where none is found: callers
then take their generic path.

``set_float32_matmul_precision`` (as ``torch.set_float32_matmul_precision``): "highest" (the default)
keeps float32 matrix products in full float32; "high" (and "medium") let cuBLAS use TF32 tensor cores
for them (inputs rounded to 10 mantissa bits, float32 accumulation: much faster on Ampere and later GPUs).
On CuPy (14) this is its per-dtype compute type, ``cupy._core.set_compute_type(float32,
COMPUTE_TYPE_TF32 | COMPUTE_TYPE_DEFAULT)`` (the ``CUPY_TF32=1`` environment variable is CuPy's default
for it, read once at the first float32 product). It changes nothing on the CPU: NumPy has no TF32.
"""
from __future__ import annotations

import ctypes
import os

import numpy as np

from .device import cuda_available, cupy_module

__all__ = ["available", "gemm", "set_float32_matmul_precision", "get_float32_matmul_precision"]

_PRECISIONS = ("highest", "high", "medium")
_precision = ["high" if os.environ.get("CUPY_TF32", "0").strip() not in ("", "0") else "highest"]


def set_float32_matmul_precision(precision: str) -> None:
    """"highest": full float32 matrix products; "high" or "medium": TF32 tensor cores allowed on the GPU."""
    if not isinstance(precision, str) or precision not in _PRECISIONS:
        raise ValueError(f"set_float32_matmul_precision: precision must be one of {', '.join(map(repr, _PRECISIONS))}"
                         f", got {precision!r}")
    _precision[0] = precision
    _apply_to_cupy(precision)


def get_float32_matmul_precision() -> str:
    """The current float32 matmul precision: "highest" (the default), "high" or "medium"."""
    return _precision[0]


def _apply_to_cupy(precision: str) -> None:
    """Set CuPy's float32 compute type: TF32 below "highest", its default otherwise (no GPU: nothing to set)."""
    cp = cupy_module()
    core = getattr(cp, "_core", None)
    set_compute_type = getattr(core, "set_compute_type", None)
    linalg = getattr(core, "_routines_linalg", None)
    if set_compute_type is None or linalg is None or not cuda_available():
        return  # no CuPy, no GPU, or a CuPy without compute types (the emulated device): no TF32 to switch
    kind = linalg.COMPUTE_TYPE_DEFAULT if precision == "highest" else linalg.COMPUTE_TYPE_TF32
    set_compute_type(np.float32, kind)

_ROW_MAJOR, _NO_TRANS, _TRANS = 101, 111, 112
# ILP64 CBLAS names: NumPy's wheels ship scipy-openblas with the "scipy_" prefix and "64_" suffix.
_SYMBOLS = {np.dtype(np.float32): ("scipy_cblas_sgemm64_", "cblas_sgemm64_"),
            np.dtype(np.float64): ("scipy_cblas_dgemm64_", "cblas_dgemm64_")}
_SCALAR = {np.dtype(np.float32): ctypes.c_float, np.dtype(np.float64): ctypes.c_double}
_functions = None  # dtype -> ctypes function, filled on first use


def _find(libraries, names, scalar):
    for path in libraries:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for name in names:
            fn = getattr(lib, name, None)
            if fn is None:
                continue
            i64, ptr, c_int = ctypes.c_int64, ctypes.c_void_p, ctypes.c_int
            fn.argtypes = [c_int, c_int, c_int, i64, i64, i64, scalar, ptr, i64, ptr, i64, scalar, ptr, i64]
            fn.restype = None
            return fn
    return None


def _self_check() -> bool:
    """One small product with a transposed, windowed operand and beta=1, against NumPy."""
    rng = np.random.default_rng(0)
    for dtype in _functions:
        base = rng.standard_normal((4, 9)).astype(dtype)
        a, b = base[:, 1:4].T, base[:, 3:8]           # (3, 4) transposed view, (4, 5) window
        c = rng.standard_normal((3, 5)).astype(dtype)
        want = 2.0 * a @ b + c
        gemm(a, b, c, alpha=2.0, beta=1.0)
        if not np.allclose(c, want, rtol=1e-4, atol=1e-4):
            return False
    return True


def _load():
    global _functions
    if _functions is not None:
        return _functions
    from threadpoolctl import threadpool_info
    paths = [info["filepath"] for info in threadpool_info() if info.get("user_api") == "blas"]
    found = {dt: _find(paths, names, _SCALAR[dt]) for dt, names in _SYMBOLS.items()}
    _functions = {dt: fn for dt, fn in found.items() if fn is not None}
    if _functions and not _self_check():  # pragma: no cover - a library that computes wrongly: no fast path
        _functions = {}
    return _functions


def available(dtype=np.float32) -> bool:
    """Whether :func:`gemm` can run for ``dtype`` (float32/float64 with an ILP64 CBLAS found)."""
    return np.dtype(dtype) in _load()


def _operand(m, name):
    """(transpose flag, leading dimension) of a 2-D view with unit stride along one axis."""
    rows, cols = m.shape
    isz = m.itemsize
    s0 = m.strides[0] if rows > 1 else cols * isz
    s1 = m.strides[1] if cols > 1 else isz
    if s1 == isz and s0 % isz == 0 and s0 >= max(cols, 1) * isz:
        return _NO_TRANS, s0 // isz
    s0 = m.strides[0] if rows > 1 else isz
    s1 = m.strides[1] if cols > 1 else rows * isz
    if s0 == isz and s1 % isz == 0 and s1 >= max(rows, 1) * isz:
        return _TRANS, s1 // isz
    raise ValueError(f"blas.gemm: {name} needs unit stride along one axis, got shape {m.shape} and strides "
                     f"{m.strides}")


def gemm(a: np.ndarray, b: np.ndarray, c: np.ndarray, *, alpha: float = 1.0, beta: float = 0.0) -> np.ndarray:
    """``c[...] = alpha * a @ b + beta * c`` in place; ``a``/``b`` may be transposed or windowed views."""
    fn = _load().get(c.dtype)
    if fn is None:
        raise RuntimeError(f"blas.gemm: no CBLAS GEMM for {c.dtype} was found (check blas.available first)")
    if a.dtype != c.dtype or b.dtype != c.dtype:
        raise TypeError(f"blas.gemm: dtypes differ: a {a.dtype}, b {b.dtype}, c {c.dtype}")
    if a.ndim != 2 or b.ndim != 2 or c.ndim != 2:
        raise ValueError(f"blas.gemm: expected 2-D arrays, got a {a.shape}, b {b.shape}, c {c.shape}")
    (m, k), (k2, n) = a.shape, b.shape
    if k != k2 or c.shape != (m, n):
        raise ValueError(f"blas.gemm: shapes do not chain: a {a.shape} @ b {b.shape} -> c {c.shape}")
    ta, lda = _operand(a, "a")
    tb, ldb = _operand(b, "b")
    tc, ldc = _operand(c, "c")
    if tc != _NO_TRANS or not c.flags.writeable:
        raise ValueError(f"blas.gemm: c must be a writeable view with contiguous rows, got strides {c.strides}")
    if m and n:
        fn(_ROW_MAJOR, ta, tb, m, n, k, alpha, a.ctypes.data, lda, b.ctypes.data, ldb, beta, c.ctypes.data, ldc)
    return c
