# ruff: noqa: F401 - this module re-exports the emulated CuPy names
"""The emulated ``cupy`` (test infrastructure): CuPy 14's API as deepcore uses it, backed by NumPy.

``python -m pytest --emulate-cuda`` puts this package ahead of any real CuPy. Only the names below exist;
any other ``cupy.X`` fails loudly, so a new CuPy call in deepcore cannot pass CI unchecked.
"""
import numpy as _np

from cupy_emulation import _cuda as _cuda_impl
from cupy_emulation._array import ndarray
from cupy_emulation._functions import FUNCTIONS as _FUNCTIONS

from . import cuda, random  # noqa: E402

globals().update(_FUNCTIONS)

get_default_memory_pool = _cuda_impl.get_default_memory_pool

# dtypes and constants are NumPy's own objects in real CuPy too
from numpy import (bool_, complex64, complex128, dtype, e, finfo, float16, float32, float64, iinfo, inf,  # noqa: E402
                   int8, int16, int32, int64, intp, nan, newaxis, pi, uint8, uint16, uint32, uint64)
from numpy import can_cast, promote_types, result_type  # noqa: E402

__version__ = "14.0.0"


def __getattr__(name):
    if name in ("RawModule", "RawKernel"):
        from cupy_emulation import _raw
        return getattr(_raw, name)
    raise AttributeError(f"the emulated CuPy has no cupy.{name}: deepcore uses a CuPy API that "
                         "tests/emulated_cuda does not provide; add it there with CuPy 14's signature")
