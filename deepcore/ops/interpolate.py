"""``F.interpolate`` for (N, C, L) and (N, C, H, W) tensors: modes "nearest", "nearest-exact", "linear",
"bilinear" and "area", with torch.nn.functional.interpolate's sizes, scales and source positions.

Nearest and (bi)linear resampling are separable: one :class:`Resample` per spatial axis, each a gather
of one (nearest) or two (linear) source cells per output cell, whose backward scatter-adds the weighted
gradient back. The source positions are computed on the tensor's device from ``arange`` with torch's
arithmetic (float32 for nearest, the input's precision for linear), so no index array is copied from the
host. "area" is adaptive average pooling, as in torch.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from ..autograd import Function
from ..errors import ShapeError
from ..tensor import Tensor
from ._util import as_tensor
from .pool import adaptive_avg_pool2d
from .shape import scatter_add

__all__ = ["interpolate"]

_MODES = {3: ("nearest", "nearest-exact", "linear", "area"), 4: ("nearest", "nearest-exact", "bilinear", "area")}
_LINEAR = ("linear", "bilinear")


def _sources(xp, mode, size, out, scale, align_corners, dtype):
    """(i0, i1, w1): source cells of each output cell along one axis and the weight of i1 (None: nearest)."""
    if mode in ("nearest", "nearest-exact"):
        if mode == "nearest" and out == size:
            return xp.arange(out, dtype=np.int64), None, None
        s = np.float32(1.0 / scale) if scale is not None else np.float32(size) / np.float32(out)
        pos = xp.arange(out, dtype=np.float32)
        if mode == "nearest-exact":
            pos = pos + np.float32(0.5)
        src = xp.floor(pos * s).astype(np.int64)
        return xp.minimum(src, size - 1), None, None
    real = np.dtype(dtype).type
    if align_corners:
        s = real((size - 1) / (out - 1)) if out > 1 else real(0)
        src = xp.arange(out, dtype=dtype) * s
    else:
        s = real(1.0 / scale) if scale is not None else real(size) / real(out)
        src = xp.maximum((xp.arange(out, dtype=dtype) + real(0.5)) * s - real(0.5), real(0))
    i0 = src.astype(np.int64)                      # src >= 0: truncation is floor
    w1 = xp.clip(src - i0.astype(dtype), 0, 1).astype(dtype)
    i1 = xp.minimum(i0 + 1, size - 1)
    return i0, i1, w1


class Resample(Function):
    """y[..., o, ...] = (1 - w1[o]) * x[..., i0[o], ...] + w1[o] * x[..., i1[o], ...] along ``axis``
    (just x[..., i0[o], ...] for nearest). Backward scatter-adds gy's shares back to i0 and i1."""

    def forward(self, x):
        xp = self._xp
        self.size = x.shape[self.axis]
        i0, i1, w1 = _sources(xp, self.mode, self.size, self.out, self.scale, self.align_corners, x.dtype)
        self.i0, self.i1, self.w1 = i0, i1, w1
        y = xp.take(x, i0, axis=self.axis)
        if w1 is None:
            return y
        w1 = w1.reshape(w1.shape + (1,) * (x.ndim - self.axis - 1))
        return y * (1 - w1) + xp.take(x, i1, axis=self.axis) * w1

    def backward(self, gy):
        xp = self._xp
        g = xp.moveaxis(gy, self.axis, 0)
        gx = xp.zeros((self.size,) + g.shape[1:], dtype=gy.dtype)
        if self.w1 is None:
            scatter_add(xp, gx, self.i0, xp.ascontiguousarray(g))
        else:
            w1 = self.w1.reshape(self.w1.shape + (1,) * (g.ndim - 1))
            scatter_add(xp, gx, self.i0, g * (1 - w1))
            scatter_add(xp, gx, self.i1, g * w1)
        return xp.ascontiguousarray(xp.moveaxis(gx, 0, self.axis))


def _per_axis(value, n, name, kind):
    items = tuple(value) if isinstance(value, (tuple, list)) else (value,) * n
    if len(items) != n:
        raise ValueError(f"interpolate: {name} must be one {kind} or {n} of them for a {n + 2}-D input, got {value!r}")
    return items


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,  # noqa: A002
                recompute_scale_factor=None, antialias=False):
    """Resize (N, C, L) or (N, C, H, W) ``input`` to ``size`` or by ``scale_factor``, as PyTorch's
    ``F.interpolate``: modes "nearest" (torch's legacy nearest), "nearest-exact", "linear" (3-D),
    "bilinear" (4-D) and "area"; ``align_corners`` for the linear modes only (default False)."""
    x = input if isinstance(input, Tensor) else as_tensor(input)
    if x.ndim not in _MODES:
        raise ShapeError(f"interpolate: expected a 3-D (N, C, L) or 4-D (N, C, H, W) input, got shape {x.shape}")
    if mode not in _MODES[x.ndim]:
        raise ValueError(f"interpolate: mode {mode!r} is not available for a {x.ndim}-D input; "
                         f"use one of {', '.join(_MODES[x.ndim])}")
    if x.dtype.kind != "f":
        raise TypeError(f"interpolate: expected a floating-point input, got {x.dtype}")
    if antialias:
        raise ValueError("interpolate: antialias=True is not supported")
    if align_corners is not None and mode not in _LINEAR:
        raise ValueError("interpolate: align_corners can only be set with the interpolating modes linear and "
                         f"bilinear, got mode {mode!r}")
    align_corners = bool(align_corners)
    n = x.ndim - 2
    spatial = x.shape[2:]
    if (size is None) == (scale_factor is None):
        raise ValueError("interpolate: pass exactly one of size and scale_factor")
    if size is not None:
        sizes = _per_axis(size, n, "size", "int")
        for s in sizes:
            if isinstance(s, bool) or not isinstance(s, numbers.Integral) or s < 1:
                raise ValueError(f"interpolate: size must be positive ints, got {size!r}")
        sizes = tuple(int(s) for s in sizes)
        scales = (None,) * n
    else:
        scales = _per_axis(scale_factor, n, "scale_factor", "number")
        for s in scales:
            if isinstance(s, bool) or not isinstance(s, numbers.Real) or not s > 0 or not math.isfinite(s):
                raise ValueError(f"interpolate: scale_factor must be positive numbers, got {scale_factor!r}")
        sizes = tuple(int(math.floor(float(d * s))) for d, s in zip(spatial, scales))
        if any(s < 1 for s in sizes):
            raise ValueError(f"interpolate: scale_factor {scale_factor!r} gives an empty output {sizes} for input "
                             f"shape {x.shape}")
        scales = (None,) * n if recompute_scale_factor else tuple(float(s) for s in scales)
    if any(d == 0 for d in spatial):
        raise ShapeError(f"interpolate: input has an empty spatial dimension, shape {x.shape}")
    if mode == "area":
        if n == 2:
            return adaptive_avg_pool2d(x, sizes)
        return adaptive_avg_pool2d(x.reshape(x.shape[:2] + (1, spatial[0])), (1, sizes[0])).reshape(
            x.shape[:2] + sizes)
    y = x
    for k in range(n):
        y = Resample.apply(y, axis=2 + k, out=sizes[k], scale=scales[k], mode=mode, align_corners=align_corners)
    return y
