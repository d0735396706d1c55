"""``.safetensors`` files (a flat dict of name -> tensor, no code, no pickle) via the ``safetensors`` package.

Writing goes through ``safetensors.numpy.save``, which names each dtype by its NumPy name, so ml_dtypes'
``bfloat16`` arrays are stored as ``BF16``. Reading goes through ``safetensors.deserialize`` (name, dtype
code, shape, bytes) with this module's dtype table, since ``safetensors.numpy.load`` has no bfloat16.
"""
from __future__ import annotations

import numpy as np

from ..backend import dtypes as _d
from .errors import CorruptFileError

__all__ = ["decode", "encode"]

_DTYPES = {"F16": _d.float16, "BF16": _d.bfloat16, "F32": _d.float32, "F64": _d.float64, "I8": _d.int8,
           "I16": _d.int16, "I32": _d.int32, "I64": _d.int64, "U8": _d.uint8, "BOOL": _d.bool_}


def _package():
    try:
        import safetensors
        import safetensors.numpy
    except ImportError:
        raise ImportError(".safetensors files need the safetensors package: pip install safetensors") from None
    return safetensors


def encode(mapping, as_array) -> bytes:
    """The ``.safetensors`` bytes of a dict of name -> tensor. ``as_array(value)`` returns
    ``(host_array, requires_grad)`` for a tensor-like value and None otherwise; TypeError names a bad entry."""
    if not isinstance(mapping, dict):
        raise TypeError(f"save: a .safetensors file holds a dict of name -> tensor, got {type(mapping).__name__}")
    arrays = {}
    for key, value in mapping.items():
        if not isinstance(key, str):
            raise TypeError(f"save: .safetensors names must be str, got {key!r} ({type(key).__name__})")
        found = as_array(value)
        if found is None:
            raise TypeError(f"save: {key!r} is a {type(value).__name__}; a .safetensors file holds only tensors "
                            "(use .pt or .npz for nested dicts, numbers or optimizer state)")
        array = found[0]
        if array.dtype not in _DTYPES.values():
            raise TypeError(f"save: {key!r} has dtype {array.dtype}, which .safetensors files cannot hold here")
        arrays[key] = np.asarray(array, order="C")
    return bytes(_package().numpy.save(arrays))


def decode(data, where: str, make_tensor) -> dict:
    """The dict a ``.safetensors`` file's bytes hold, tensors made by ``make_tensor(array, False)``."""
    safetensors = _package()
    try:
        entries = safetensors.deserialize(bytes(data))
    except safetensors.SafetensorError as err:
        raise CorruptFileError(f"{where} is not a valid .safetensors file (corrupt or truncated): {err}") from None
    out = {}
    for name, info in entries:
        dtype = _DTYPES.get(info["dtype"])
        if dtype is None:
            raise CorruptFileError(f"{where}: tensor {name!r} has dtype {info['dtype']}, which deepcore does not have; "
                             f"supported: {', '.join(_DTYPES)}")
        array = np.frombuffer(info["data"], dtype=dtype).reshape(tuple(info["shape"]))
        out[name] = make_tensor(array, False)
    return out
