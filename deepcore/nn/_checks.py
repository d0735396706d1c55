"""Input and argument checks shared by the layers, so every layer fails the same clear way.

``check_dtype``: an input whose dtype differs from the layer's parameters is an error (as in PyTorch),
never a silent computation in another precision. ``integer``/``number``: constructor arguments of the
wrong type raise TypeError and out-of-range values ValueError, naming the layer and the argument.
"""
from __future__ import annotations

import math
import numbers

from ..errors import DTypeError


def check_dtype(layer: str, x, weight, what: str = "weight") -> None:
    """Raise DTypeError when ``x``'s dtype differs from ``weight``'s (None: nothing to compare)."""
    dtype = getattr(x, "dtype", None)
    if weight is None or dtype is None or dtype == weight.dtype:
        return
    raise DTypeError(f"{layer}: input dtype {dtype} does not match the {what} dtype {weight.dtype}; convert the "
                     f"input (x.to(dtype={_name(weight.dtype)})) or the layer (layer.to(dtype={_name(dtype)}))")


def _name(dtype) -> str:
    return f"dc.{dtype}" if getattr(dtype, "kind", "") in "fiub" else repr(str(dtype))


def integer(layer: str, arg: str, value, low: int | None = 1, none_ok: bool = False):
    """``value`` as an int >= ``low``: TypeError when it is not an integer (bool, float, None unless
    ``none_ok``), ValueError when it is below ``low``."""
    if value is None and none_ok:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{layer}: {arg} must be an integer, got {value!r} ({type(value).__name__})")
    if low is not None and value < low:
        what = "a positive integer" if low == 1 else f"an integer >= {low}"
        raise ValueError(f"{layer}: {arg} must be {what}, got {value}")
    return int(value)


def number(layer: str, arg: str, value, low: float | None = None, high: float | None = None,
           low_open: bool = False) -> float:
    """``value`` as a float in [low, high] (``low_open``: (low, high]): TypeError for a non-number."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{layer}: {arg} must be a number, got {value!r} ({type(value).__name__})")
    value = float(value)
    below = low is not None and (value <= low if low_open else value < low)
    if below or (high is not None and value > high) or math.isnan(value):
        if high is None:
            rng = f"{'>' if low_open else '>='} {low:g}"
        else:
            rng = f"in {'(' if low_open else '['}{low:g}, {high:g}]"
        raise ValueError(f"{layer}: {arg} must be {rng}, got {value}")
    return value


def shape_tuple(layer: str, arg: str, value) -> tuple:
    """An int or a sequence of positive ints as a tuple (LayerNorm's ``normalized_shape``)."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        dims = (value,)
    elif isinstance(value, (tuple, list)) or (hasattr(value, "__iter__") and not isinstance(value, (str, bytes))):
        dims = tuple(value)
    else:
        raise TypeError(f"{layer}: {arg} must be an int or a sequence of ints, got {value!r}")
    if not dims:
        raise ValueError(f"{layer}: {arg} must not be empty")
    return tuple(integer(layer, f"{arg} entry", d, low=0) for d in dims)
