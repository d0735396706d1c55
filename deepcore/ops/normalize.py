"""``F.normalize``: x / max(||x||_p, eps) along a dimension, as torch.nn.functional.normalize."""
from __future__ import annotations

import math
import numbers

from ..autograd import Function
from ..tensor import Tensor
from ._util import as_tensor, normalize_axis

__all__ = ["normalize"]


def _norm(xp, x, p, axis):
    mag = xp.abs(x)
    if p == math.inf:
        return mag.max(axis=axis, keepdims=True)
    if p == 1:
        return mag.sum(axis=axis, keepdims=True)
    if p == 2:
        return xp.sqrt((mag * mag).sum(axis=axis, keepdims=True))
    return (mag ** p).sum(axis=axis, keepdims=True) ** (1.0 / p)


class Normalize(Function):
    """y = x / d with d = max(n, eps), n the p-norm along ``axis``.

    Backward: gx = gy / d - [n >= eps] * (sum(gy * x) / d^2) * dn/dx, where dn/dx = sign(x) |x|^(p-1) / n^(p-1)
    (x / n for p = 2; for p = inf an equal share of sign(x) to every entry of maximal magnitude, as torch).
    Saves x and n."""

    def forward(self, x):
        xp = self._xp
        n = _norm(xp, x, self.p, self.axis)
        self.save_for_backward(x, n)
        return x / xp.maximum(n, self.eps).astype(x.dtype)

    def backward(self, gy):
        xp = self._xp
        x, n = self.saved_tensors
        d = xp.maximum(n, self.eps).astype(x.dtype)
        s = (gy * x).sum(axis=self.axis, keepdims=True) / (d * d)
        s = xp.where(n >= self.eps, s, xp.zeros((), dtype=x.dtype))
        safe_n = xp.where(n > 0, n, xp.ones((), dtype=x.dtype))
        p = self.p
        if p == math.inf:
            top = (xp.abs(x) == n).astype(x.dtype)
            dn = xp.sign(x) * top / top.sum(axis=self.axis, keepdims=True)
        elif p == 2:
            dn = x / safe_n
        elif p == 1:
            dn = xp.sign(x)
        else:
            nz = x != 0                                   # torch: zero entries get no share (not 0 * inf)
            mag = xp.where(nz, xp.abs(x), xp.ones((), dtype=x.dtype)) / safe_n
            dn = xp.where(nz, xp.sign(x) * mag ** (p - 1), xp.zeros((), dtype=x.dtype))
        return gy / d - s * dn


def normalize(input, p=2.0, dim=1, eps=1e-12, out=None):  # noqa: A002 - torch's argument name
    """``input / max(||input||_p, eps)`` along ``dim`` (``p`` > 0, or ``inf``), as PyTorch's ``F.normalize``."""
    if out is not None:
        raise TypeError("normalize: out= is not supported; use the returned tensor")
    x = input if isinstance(input, Tensor) else as_tensor(input)
    if x.dtype.kind != "f":
        raise TypeError(f"normalize: expected a floating-point input, got {x.dtype}")
    if isinstance(p, bool) or not isinstance(p, numbers.Real) or not p > 0:
        raise ValueError(f"normalize: p must be a positive number or inf, got {p!r}")
    if isinstance(eps, bool) or not isinstance(eps, numbers.Real) or eps < 0:
        raise ValueError(f"normalize: eps must be a non-negative number, got {eps!r}")
    if isinstance(dim, (tuple, list)):
        raise TypeError(f"normalize: dim must be an int, got {dim!r}")
    axis = normalize_axis(dim, x.ndim, name="dim")
    if x.ndim == 0:
        raise IndexError(f"normalize: dim {dim} is out of range for a 0-d tensor")
    return Normalize.apply(x, p=float(p), axis=axis, eps=float(eps))
