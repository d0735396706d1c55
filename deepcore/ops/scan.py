"""Scans along one axis (PyTorch semantics, ``dim=`` alias): cumsum, cumprod, cummax/cummin (named tuples of
values and indices) and logcumsumexp.

``axis=None`` scans the flattened tensor (as NumPy); a 0-d tensor scans as one element. Backward of a scan is
a reverse scan: cumsum's is a reverse cumsum, cumprod's stays exact where the input holds zeros, cummax's
sends each gradient to the index it returned, logcumsumexp's is computed in log space (no overflow).
"""
from __future__ import annotations

import numpy as np

from ..autograd import Function
from ..backend.dtypes import is_floating
from ..tensor import Tensor
from ._util import normalize_axis, tensor_method
from .reduce import _INT64, _cast, _floating, _take_along, _tensor, return_types

__all__ = ["cumsum", "cumprod", "cummax", "cummin", "logcumsumexp"]


def _scan(xp, op, x, axis):
    """Inclusive scan of the ufunc named ``op`` (associative) along ``axis``."""
    if xp is np:
        return getattr(np, op).accumulate(x, axis=axis)
    # CuPy's ufunc.accumulate supports add only: a log-step scan, ceil(log2 n) steps of two kernels each
    if x.shape[axis] <= 1:
        return x.copy()
    f = getattr(xp, op)
    y = xp.moveaxis(x, axis, -1)
    n, step = y.shape[-1], 1
    while step < n:
        y = xp.concatenate([y[..., :step], f(y[..., step:], y[..., :-step])], axis=-1)
        step *= 2
    return xp.moveaxis(y, -1, axis)


def _flip_scan(xp, op, x, axis):
    """The scan from the end of ``axis`` back to its start (for backward passes)."""
    return xp.flip(_scan(xp, op, xp.flip(x, axis), axis), axis)


def _rcumsum(xp, x, axis):
    return xp.flip(xp.cumsum(xp.flip(x, axis), axis=axis), axis)


def _prepare(name, x, axis, dim):
    """``(tensor to scan, axis, shape to restore or None)``: None flattens, a 0-d tensor becomes (1,)."""
    x = _tensor(x)
    ax = normalize_axis(axis, x.ndim, dim=dim)
    if isinstance(ax, tuple):
        raise TypeError(f"{name}: axis must be an int, got {ax}")
    if ax is None:
        return x.reshape(-1), 0, None
    if x.ndim == 0:
        return x.reshape(1), 0, ()
    return x, ax, None


def _restore(t, shape):
    return t if shape is None or t.shape == shape else t.reshape(shape)


class CumSum(Function):
    def forward(self, x):
        out = _INT64 if x.dtype.kind in "biu" else None  # integer sums in int64, as PyTorch
        return self._xp.cumsum(x, axis=self.axis, dtype=out)

    def backward(self, gy):
        return _rcumsum(self._xp, gy, self.axis)


class CumProd(Function):
    """Running product. Gradient of element j: sum over i >= j of gy_i times the product of x_0..x_i without
    x_j. Before the first zero that is revcumsum(gy * y) / x_j; at the first zero, the same sum over the
    running product with that zero replaced by 1; after it, 0."""

    def forward(self, x):
        out = _INT64 if x.dtype.kind in "biu" else None
        y = self._xp.cumprod(x, axis=self.axis, dtype=out)
        self.save_for_backward(x, y)
        return y

    def backward(self, gy):
        x, y = self.saved_tensors
        xp, a = self._xp, self.axis
        one, nil = x.dtype.type(1), x.dtype.type(0)
        zero = x == 0
        seen = xp.cumsum(zero, axis=a)          # zeros up to and including each element
        before = seen == 0
        first = zero & (seen == 1)
        g_before = _rcumsum(xp, gy * y, a) / xp.where(before, x, one)
        g_first = _rcumsum(xp, gy * xp.cumprod(xp.where(first, one, x), axis=a), a)
        return xp.where(before, g_before, xp.where(first, g_first, nil))


class LogCumSumExp(Function):
    """log(cumsum(exp(x))) as a running logaddexp (stable). Gradient of x_j: sum over i >= j of
    gy_i exp(x_j - y_i), summed in log space separately for the positive and negative parts of gy."""

    def forward(self, x):
        y = _scan(self._xp, "logaddexp", x, self.axis)
        self.save_for_backward(x, y)
        return y

    def backward(self, gy):
        x, y = self.saved_tensors
        xp, a = self._xp, self.axis
        with np.errstate(divide="ignore", invalid="ignore"):  # log(0) = -inf is meant
            parts = [xp.exp(x + _flip_scan(xp, "logaddexp", xp.log(xp.maximum(g, 0)) - y, a)) for g in (gy, -gy)]
        return parts[0] - parts[1]


# --- public functions ------------------------------------------------------------------------------
@tensor_method()
def cumsum(x, axis=None, *, dtype=None, dim=None):
    """Running sum along ``axis`` (None: the flattened tensor); integer/bool tensors sum in int64;
    ``dtype=`` casts first."""
    t, ax, shape = _prepare("cumsum", _cast(x, dtype), axis, dim)
    return _restore(CumSum.apply(t, axis=ax), shape)


@tensor_method()
def cumprod(x, axis=None, *, dtype=None, dim=None):
    """Running product along ``axis``; its gradient is exact where the input holds zeros."""
    t, ax, shape = _prepare("cumprod", _cast(x, dtype), axis, dim)
    return _restore(CumProd.apply(t, axis=ax), shape)


def _cumextreme(name, x, axis, dim):
    t, ax, shape = _prepare(name, x, axis, dim)
    xp, a = t.device.xp, t.data
    vals = _scan(xp, "maximum" if name == "cummax" else "minimum", a, ax)
    # the index of each running extreme: the last element (so far) equal to it, or the last NaN once one is seen
    hit = a == vals
    if is_floating(a.dtype):
        hit |= xp.isnan(a)
    n = a.shape[ax]
    pos = xp.arange(n, dtype=_INT64).reshape(tuple(n if i == ax else 1 for i in range(a.ndim)))
    idx = _scan(xp, "maximum", xp.where(hit, pos, 0), ax)
    values = _take_along(t, idx, ax, unique=False)
    indices = Tensor._make(idx)
    return getattr(return_types, name)(_restore(values, shape), _restore(indices, shape))


@tensor_method()
def cummax(x, axis=None, *, dim=None):
    """Named tuple ``(values, indices)``: the running maximum along ``axis`` and where it was found (the
    latest index among equal values; NaN propagates). The gradient goes to those indices."""
    return _cumextreme("cummax", x, axis, dim)


@tensor_method()
def cummin(x, axis=None, *, dim=None):
    """Named tuple ``(values, indices)``: the running minimum along ``axis`` (see :func:`cummax`)."""
    return _cumextreme("cummin", x, axis, dim)


@tensor_method()
def logcumsumexp(x, axis=None, *, dim=None):
    """log(cumsum(exp(x))) along ``axis``, computed stably (finite for inputs of any magnitude)."""
    t, ax, shape = _prepare("logcumsumexp", _floating(x), axis, dim)
    return _restore(LogCumSumExp.apply(t, axis=ax), shape)
