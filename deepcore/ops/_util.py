"""Small helpers shared by op families: scalar wrapping, gradient un-broadcasting, axis handling."""
from __future__ import annotations

import numbers

import numpy as np

from ..backend import array_module
from ..backend.dtypes import default_float
from ..tensor import Tensor


def as_tensor(value, like: Tensor | None = None) -> Tensor:
    """``value`` as a Tensor; Python scalars take ``like``'s dtype (weak typing, as in PyTorch/NumPy 2)."""
    if isinstance(value, Tensor):
        return value
    if isinstance(value, (numbers.Number, np.generic)) and like is not None:
        if isinstance(value, (bool, np.bool_)):
            dtype = like.dtype if like.dtype != np.bool_ else np.dtype(np.bool_)
        elif like.dtype.kind in "fV" or isinstance(value, numbers.Integral):
            dtype = like.dtype if like.dtype.kind != "b" else (np.dtype(np.int64) if isinstance(value, numbers.Integral) else default_float)
        else:
            dtype = default_float
        # xp.full: on a GPU a fill kernel with the value as its argument, not a host->device copy (which
        # would also make the op impossible to capture in a CUDA graph)
        return Tensor._make(like.device.xp.full((), value, dtype=dtype))
    if like is not None:
        if like.device.type != "cpu" and array_module(value) is not np and value.device.id == like.device.index:
            return Tensor._make(value)  # a CuPy array already on like's device (``arr -= t``): wrapped, not copied
        if like.device.type != "cpu":
            raise RuntimeError(f"expected all tensors on one device, but found {type(value).__name__} data on cpu "
                               f"and a tensor on {like.device}; move it first (dc.tensor(..., device="
                               f"'{like.device}') or .to('{like.device}')): deepcore never copies behind your back")
        return Tensor(value, device=like.device)
    return Tensor(value)


def sum_to(g, shape):
    """Sum the broadcast gradient ``g`` back down to ``shape`` (the inverse of broadcasting)."""
    shape = tuple(shape)
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(i + lead for i, s in enumerate(shape) if s == 1 and g.shape[i + lead] != 1)
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    if lead:
        g = g.reshape(shape)
    return g


def normalize_axis(axis, ndim, dim=None, name="axis"):
    """NumPy-style axis (int, tuple or None; ``dim`` is an alias) validated against ``ndim``."""
    if dim is not None:
        if axis is not None:
            raise TypeError("pass either axis= or dim=, not both")
        axis = dim
    if axis is None:
        return None
    if isinstance(axis, (list, tuple)):
        return tuple(normalize_axis(a, ndim, name=name) for a in axis)
    axis = int(axis)
    if not -max(ndim, 1) <= axis < max(ndim, 1):
        raise IndexError(f"{name} {axis} is out of range for a tensor with {ndim} dimension(s)")
    return axis % max(ndim, 1)


def xp_of(*arrays):
    for a in arrays:
        if hasattr(a, "shape"):
            return array_module(a)
    return np


def tensor_method(*names):
    """Decorator: also expose a function as Tensor method(s) ``names`` (default: its own name)."""
    def attach(fn):
        for n in names or (fn.__name__,):
            setattr(Tensor, n, fn)
        return fn
    return attach


def numba_kernels():
    """The numba CPU kernels module (``_cpu_kernels``), or None where numba is unavailable; the generic
    NumPy code is used then. Imported on first use: numba's import is slow."""
    try:
        from . import _cpu_kernels
    except ImportError:  # pragma: no cover - numba is a dependency
        return None
    return _cpu_kernels
