"""Data types: deepcore uses NumPy dtype objects (CuPy shares them), plus bfloat16 from ml_dtypes."""
import ml_dtypes
import numpy as np

float16 = np.dtype("float16")
bfloat16 = np.dtype(ml_dtypes.bfloat16)
float32 = np.dtype("float32")
float64 = np.dtype("float64")
int8 = np.dtype("int8")
uint8 = np.dtype("uint8")
int16 = np.dtype("int16")
int32 = np.dtype("int32")
int64 = np.dtype("int64")
bool_ = np.dtype("bool")

default_float = float32

_BY_NAME = {
    "float16": float16, "half": float16, "bfloat16": bfloat16, "float32": float32, "float": float32,
    "float64": float64, "double": float64, "int8": int8, "uint8": uint8, "int16": int16,
    "int32": int32, "int": int64, "int64": int64, "long": int64, "bool": bool_,
}


def as_dtype(dtype):
    """Normalise a dtype given as a deepcore/NumPy dtype, a type or a name; None stays None."""
    if dtype is None:
        return None
    if isinstance(dtype, str):
        if dtype not in _BY_NAME:
            raise ValueError(f"unknown dtype {dtype!r}; accepted: {', '.join(sorted(set(_BY_NAME)))}")
        return _BY_NAME[dtype]
    if dtype is bool:
        return bool_
    if dtype is float:
        return float32
    if dtype is int:
        return int64
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise ValueError(f"unknown dtype {dtype!r}; accepted: {', '.join(sorted(set(_BY_NAME)))}") from None
    if dt not in set(_BY_NAME.values()):
        raise ValueError(f"unsupported dtype {dt}; accepted: {', '.join(sorted(set(_BY_NAME)))}")
    return dt


def is_floating(dtype) -> bool:
    return dtype.kind == "f" or dtype == bfloat16
