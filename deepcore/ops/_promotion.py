"""Type promotion as PyTorch does it: result dtypes of ops mixing dtypes, 0-d tensors and Python scalars.

Categories rank bool < integer < floating. Operands fall into three groups: tensors with dimensions,
0-d tensors, and Python scalars (weak: a float scalar counts as the default float dtype, an int as int64,
a bool as bool). A group only matters when its category is higher than every group above it, so
``int32 tensor + 2.5`` is float32, ``float32 tensor + float64 0-d tensor`` stays float32 and
``uint8 tensor + 300`` stays uint8. Between two dtypes, floats win over integers whatever their size
(``int64 + float16`` is float16) and float16 with bfloat16 gives float32.
"""
from __future__ import annotations

import numbers

import numpy as np

from ..backend.dtypes import bfloat16, default_float, is_floating
from ..tensor import Tensor

_BOOL = np.dtype(np.bool_)
_INT64 = np.dtype(np.int64)


def category(dtype) -> int:
    """0 bool, 1 integer, 2 floating."""
    if dtype is None:
        return -1
    if dtype == _BOOL:
        return 0
    return 2 if is_floating(dtype) else 1


def promote_types(a, b):
    """The dtype two tensor dtypes promote to (None stands for 'no operand')."""
    if a is None or a == b:
        return b
    if b is None:
        return a
    ca, cb = category(a), category(b)
    if ca != cb:
        return a if ca > cb else b
    if ca == 2:
        if {a, b} == {np.dtype(np.float16), bfloat16}:
            return np.dtype(np.float32)
        if a == bfloat16 or b == bfloat16:
            return b if a == bfloat16 else a  # bfloat16 with float32/float64: the wider IEEE type
        return a if a.itemsize >= b.itemsize else b
    return np.promote_types(a, b)


def _combine(higher, lower):
    """PyTorch's rule for two groups: the lower group counts only when its category is higher."""
    if higher is None:
        return lower
    if lower is None:
        return higher
    if category(higher) == 2:
        return higher
    if higher == _BOOL or category(lower) == 2:
        return promote_types(higher, lower)
    return higher


def scalar_dtype(value):
    """The dtype a Python scalar stands for in promotion."""
    if isinstance(value, (bool, np.bool_)):
        return _BOOL
    if isinstance(value, numbers.Integral):
        return _INT64
    if isinstance(value, numbers.Real):
        return default_float
    raise TypeError(f"expected a Tensor or a real Python number, got {type(value).__name__}")


def result_type(*operands):
    """The dtype PyTorch gives an op on ``operands`` (Tensors and Python scalars; None is skipped)."""
    dims = zero = weak = None
    for x in operands:
        if x is None:
            continue
        if isinstance(x, Tensor):
            if x.ndim:
                dims = promote_types(dims, x.dtype)
            else:
                zero = promote_types(zero, x.dtype)
        else:
            weak = promote_types(weak, scalar_dtype(x))
    return _combine(dims, _combine(zero, weak))


def floating(dtype):
    """The dtype of a floating op's result (exp, sigmoid, true division...): integers and bool give float32."""
    return dtype if is_floating(dtype) else default_float
