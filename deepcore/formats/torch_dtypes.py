"""The dtypes PyTorch files name, mapped to deepcore's (NumPy/ml_dtypes) dtypes, and back.

A ``torch.save`` file names a tensor's dtype in one of two ways: by a typed storage class
(``torch.FloatStorage``: its storage's element type) or, for a bare ``torch.storage.UntypedStorage`` and
``_rebuild_tensor_v3``, by a ``torch.<dtype>`` global. Only the dtypes deepcore has are accepted; the
others are recognised so the error can say which dtype a file needs.
"""
from __future__ import annotations

import numpy as np

from ..backend import dtypes as _d

# torch dtype name -> (deepcore dtype, typed storage class name)
_TABLE = {
    "float16": (_d.float16, "HalfStorage"),
    "bfloat16": (_d.bfloat16, "BFloat16Storage"),
    "float32": (_d.float32, "FloatStorage"),
    "float64": (_d.float64, "DoubleStorage"),
    "int8": (_d.int8, "CharStorage"),
    "int16": (_d.int16, "ShortStorage"),
    "int32": (_d.int32, "IntStorage"),
    "int64": (_d.int64, "LongStorage"),
    "uint8": (_d.uint8, "ByteStorage"),
    "bool": (_d.bool_, "BoolStorage"),
}

# unsigned dtypes deepcore tensors lack but NumPy has (e.g. the uint64 words of a saved RNG state): written
# and read as NumPy arrays; torch names them only through ``_rebuild_tensor_v3`` and untyped storages
ARRAY_ONLY = {"uint16": np.dtype(np.uint16), "uint32": np.dtype(np.uint32), "uint64": np.dtype(np.uint64)}

# dtypes a file may name that deepcore has no equivalent for (named in errors, never loaded)
_UNSUPPORTED_DTYPES = frozenset({
    "complex32", "complex64", "complex128", "qint8", "quint8", "qint32",
    "quint4x2", "quint2x4", "float8_e4m3fn", "float8_e5m2", "float8_e4m3fnuz", "float8_e5m2fnuz",
    "float8_e8m0fnu", "float4_e2m1fn_x2", "bits8", "bits16", "bits1x8", "bits2x4", "bits4x2",
    "int1", "int2", "int3", "int4", "int5", "int6", "int7", "uint1", "uint2", "uint3", "uint4", "uint5",
    "uint6", "uint7", "cfloat", "cdouble", "chalf",
})
_UNSUPPORTED_STORAGES = frozenset({
    "ComplexFloatStorage", "ComplexDoubleStorage", "QInt8Storage", "QUInt8Storage", "QInt32Storage",
    "QUInt4x2Storage", "QUInt2x4Storage",
})

STORAGE_DTYPES = {storage: dtype for dtype, storage in _TABLE.values()}
TORCH_DTYPES = {name: dtype for name, (dtype, _) in _TABLE.items()}
UNTYPED_STORAGE = "UntypedStorage"  # bytes; its tensors name their dtype themselves


def is_unsupported(name: str) -> bool:
    """True for a torch dtype or storage class that exists but has no deepcore dtype."""
    return name in _UNSUPPORTED_DTYPES or name in _UNSUPPORTED_STORAGES


def torch_name(dtype) -> str:
    """The torch dtype name (``float32``) of a deepcore (or ``ARRAY_ONLY``) dtype; ValueError for others."""
    for name, (dt, _) in _TABLE.items():
        if dt == dtype:
            return name
    for name, dt in ARRAY_ONLY.items():
        if dt == dtype:
            return name
    raise ValueError(f"dtype {dtype} cannot be stored in a PyTorch file; supported: "
                     f"{', '.join([*_TABLE, *ARRAY_ONLY])}")


def storage_name(dtype):
    """The typed storage class name (``FloatStorage``) torch files use for a deepcore dtype; None for an
    ``ARRAY_ONLY`` dtype (stored in an untyped storage)."""
    name = torch_name(dtype)
    return _TABLE[name][1] if name in _TABLE else None
