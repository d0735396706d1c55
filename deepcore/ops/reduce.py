"""Reductions over axes (NumPy style, ``dim=`` alias) with PyTorch's semantics: sum, mean, max/min (values and
indices along an axis), amax/amin, var/std (and ``*_mean``), prod, argmax/argmin, logsumexp, any/all.

Backward broadcasts the upstream gradient back over the reduced axes. ``max``/``min`` along an axis send it
to the returned index; ``max``/``min`` over everything and ``amax``/``amin`` split it evenly between ties.
"""
from __future__ import annotations

import builtins
import math
import numbers
from collections import namedtuple

import numpy as np

from ..autograd import Function
from ..backend.dtypes import as_dtype
from ..errors import ShapeError
from ..tensor import Tensor
from ._util import normalize_axis, tensor_method
from .elementwise import float_input
from .shape import scatter_add

__all__ = ["sum", "mean", "max", "min", "amax", "amin", "var", "std", "var_mean", "std_mean", "prod", "argmax",
           "argmin", "logsumexp", "any", "all", "EmptyReductionError", "return_types"]

_INT64 = np.dtype(np.int64)


class EmptyReductionError(ShapeError, IndexError):
    """A reduction with no value to give (the max of an empty axis). PyTorch raises IndexError or
    RuntimeError here; ``except`` of either (or of ValueError) catches this one."""


def _values_indices(name):
    """A named tuple type ``name(values, indices)``, like ``torch.return_types.<name>``."""
    cls = namedtuple(name, ("values", "indices"))
    cls.__qualname__ = f"return_types.{name}"
    cls.__module__ = __name__
    cls.__doc__ = f"The result of ``{name}``: ``values`` and their ``indices`` (int64)."
    return cls


class return_types:
    """The named tuples ops with values and indices return (``_, idx = x.max(1)``, ``out.values``)."""
    max = _values_indices("max")
    min = _values_indices("min")
    cummax = _values_indices("cummax")
    cummin = _values_indices("cummin")
    sort = _values_indices("sort")
    topk = _values_indices("topk")


# --- helpers ---------------------------------------------------------------------------------------
def _tensor(x):
    return x if isinstance(x, Tensor) else Tensor(x)


def _axes(name, x, axis, dim):
    """The reduced axes as a sorted tuple (all axes for None); a 0-d tensor reduces over nothing."""
    axis = normalize_axis(axis, x.ndim, dim=dim)
    if axis is None:
        axes = tuple(range(x.ndim))
    elif isinstance(axis, tuple):
        if len(set(axis)) != len(axis):
            raise ValueError(f"{name}: axis {axis} contains a repeated axis")
        axes = tuple(sorted(axis))
    else:
        axes = (axis,)
    return tuple(a for a in axes if a < x.ndim)


def _keepdims(keepdims, keepdim):
    """``keepdim`` (PyTorch spelling) is accepted as an alias of ``keepdims``."""
    return bool(keepdims if keepdim is None else keepdim)


def _kept_shape(shape, axes):
    return tuple(1 if i in axes else s for i, s in enumerate(shape))


def _count(shape, axes):
    return math.prod(shape[a] for a in axes)


def _as_array(xp, y):
    """NumPy reductions return scalars for 0-d results; keep everything an ndarray."""
    return y if isinstance(y, xp.ndarray) else xp.asarray(y)


def _check_nonempty(name, x, axes, everything):
    """max/min/argmax have no value over an empty axis: a clear error, as PyTorch raises one."""
    if everything:
        if x.numel():
            return
        raise EmptyReductionError(f"{name}: cannot reduce an empty tensor of shape {x.shape} over all its axes; "
                                  f"pass axis= (dim=) naming an axis whose size is not 0")
    empty = [a for a in axes if x.shape[a] == 0]
    if empty:
        raise EmptyReductionError(
            f"{name}: cannot reduce an empty tensor of shape {x.shape} over axis {empty[0]} (size 0): an empty "
            f"axis has no {'largest' if 'max' in name else 'smallest'} value")


class _Reduce(Function):
    """A reduction over ``self.axes``; ``_grad_in`` reshapes the upstream gradient to the kept-dims shape."""

    @property
    def ax(self):
        """The axes argument for xp: None for a 0-d input (same result; avoids ``axis=()`` in CuPy)."""
        return None if len(self.shape) == 0 else self.axes

    def _grad_in(self, gy):
        return gy.reshape(_kept_shape(self.shape, self.axes))

    def _out_shape(self):
        if self.keepdims:
            return _kept_shape(self.shape, self.axes)
        return tuple(s for i, s in enumerate(self.shape) if i not in self.axes)

    def _out(self, y_kept):
        return y_kept if self.keepdims else y_kept.reshape(self._out_shape())


class Sum(_Reduce):
    """Sum; integer and bool inputs sum in int64 (as PyTorch)."""

    def forward(self, x):
        self.shape, self.src = x.shape, x.dtype
        out = _INT64 if x.dtype.kind in "biu" else None
        return _as_array(self._xp, self._xp.sum(x, axis=self.ax, dtype=out, keepdims=self.keepdims))

    def backward(self, gy):
        g = self._xp.broadcast_to(self._grad_in(gy), self.shape)
        return g.astype(self.src)  # a writable, contiguous gradient of the input's dtype


class Mean(_Reduce):
    def forward(self, x):
        self.shape = x.shape
        if _count(x.shape, self.axes) == 0:  # the mean of nothing is nan, as in PyTorch
            return self._xp.full(self._out_shape(), math.nan, dtype=x.dtype)
        return _as_array(self._xp, self._xp.mean(x, axis=self.ax, keepdims=self.keepdims))

    def backward(self, gy):
        scale = 1.0 / builtins.max(_count(self.shape, self.axes), 1)
        return self._xp.broadcast_to(self._grad_in(gy) * scale, self.shape).copy()


class _Extreme(_Reduce):
    """max/min over axes without indices: the gradient goes to the elements equal to the result, split
    evenly among ties (as PyTorch's max()/min() without a dim, and amax/amin). A NaN result: max()/min()
    split it among the NaN inputs; amax/amin give NaN gradients (as PyTorch)."""
    nan_ties = True

    def forward(self, x):
        xp = self._xp
        self.shape = x.shape
        y = _as_array(xp, self.reduce(xp, x, axis=self.ax, keepdims=True))
        self.save_for_backward(x, y)
        return self._out(y)

    def backward(self, gy):
        x, y = self.saved_tensors
        mask = x == y
        if self.nan_ties:
            mask |= self._xp.isnan(x) & self._xp.isnan(y)  # a NaN result came from the NaN inputs
        count = mask.sum(axis=self.ax, keepdims=True).astype(gy.dtype)
        with np.errstate(all="ignore"):  # amax of NaN: 0/0, a NaN gradient as in PyTorch
            return mask * (self._grad_in(gy) / count)


class Max(_Extreme):
    @staticmethod
    def reduce(xp, x, **kw):
        return xp.max(x, **kw)


class Min(_Extreme):
    @staticmethod
    def reduce(xp, x, **kw):
        return xp.min(x, **kw)


class AMax(Max):
    nan_ties = False


class AMin(Min):
    nan_ties = False


class TakeAlong(Function):
    """``x``'s values at integer positions ``idx`` along ``axis`` (from argmax, argsort, cummax...); backward
    scatters the gradient back to those positions. ``keep=False`` drops the (length-1) ``axis`` from the
    result; ``unique``: every position is taken at most once, so the scatter needs no accumulation."""

    def forward(self, x, idx):
        self.shape = x.shape
        self.save_for_backward(idx)
        y = self._xp.take_along_axis(x, idx, axis=self.axis)
        return y if self.keep else y.squeeze(self.axis)

    def backward(self, gy):
        (idx,) = self.saved_tensors
        xp = self._xp
        g = gy if self.keep else xp.expand_dims(gy, self.axis)
        if self.unique:
            gx = xp.zeros(self.shape, dtype=gy.dtype)
            xp.put_along_axis(gx, idx, g, axis=self.axis)
            return gx, None
        return _scatter_add_along(xp, self.shape, idx, g, self.axis), None


def _scatter_add_along(xp, shape, idx, g, axis):
    """zeros(shape) with ``g`` added at ``idx`` along ``axis``, repeated positions accumulating."""
    idx, g = xp.moveaxis(idx, axis, -1), xp.moveaxis(g, axis, -1)
    lead, n = idx.shape[:-1], shape[axis]
    rows = xp.arange(math.prod(lead), dtype=idx.dtype).reshape(lead + (1,)) * n
    out = xp.zeros(math.prod(lead) * n, dtype=g.dtype)
    scatter_add(xp, out, (rows + idx).reshape(-1), g.reshape(-1))
    return xp.moveaxis(out.reshape(lead + (n,)), -1, axis)


def _take_along(x, idx, axis, keep=True, unique=True):
    """Differentiable ``take_along_axis`` of Tensor ``x`` at the raw index array ``idx`` (used by scans/sorts)."""
    return TakeAlong.apply(x, idx, axis=axis, keep=keep, unique=unique)


class Var(_Reduce):
    """Variance with ``ddof`` (0: population); std is its square root, with its own backward."""
    sqrt = False

    def forward(self, x):
        xp = self._xp
        self.shape = x.shape
        n = _count(x.shape, self.axes)
        with np.errstate(all="ignore"):  # n <= ddof gives inf/nan, as in PyTorch
            mu = xp.mean(x, axis=self.ax, keepdims=True) if n else \
                xp.zeros(_kept_shape(x.shape, self.axes), dtype=x.dtype)
            d = x - mu
            denom = n - self.ddof
            self.scale = 1.0 / denom if denom > 0 else math.inf  # torch: 0/0 -> nan, c/0 -> inf
            y = _as_array(xp, xp.sum(d * d, axis=self.ax, keepdims=True) * self.scale)
            if self.sqrt:
                y = xp.sqrt(y)
        self.save_for_backward(d, y if self.sqrt else None)
        return self._out(y)

    def backward(self, gy):
        d, y = self.saved_tensors
        xp = self._xp
        g = self._grad_in(gy)
        with np.errstate(all="ignore"):
            if not self.sqrt:
                return d * (g * (2.0 * self.scale))
            # a zero std (constant input) passes a zero gradient, as in PyTorch, instead of 0/0
            zero = y == 0
            return xp.where(zero, d.dtype.type(0), d * (g * self.scale / xp.where(zero, y.dtype.type(1), y)))


class Std(Var):
    sqrt = True


class Prod(_Reduce):
    """Product; the gradient is the product of the other elements, exact when the slice holds zeros.
    Integer and bool inputs multiply in int64 (as PyTorch)."""

    def forward(self, x):
        self.shape = x.shape
        self.save_for_backward(x)
        out = _INT64 if x.dtype.kind in "biu" else None
        return _as_array(self._xp, self._xp.prod(x, axis=self.ax, dtype=out, keepdims=self.keepdims))

    def backward(self, gy):
        (x,) = self.saved_tensors
        xp = self._xp
        zero = x == 0
        one, nil = x.dtype.type(1), x.dtype.type(0)
        n_zero = zero.sum(axis=self.ax, keepdims=True)
        safe = xp.where(zero, one, x)
        p = xp.prod(safe, axis=self.ax, keepdims=True)  # product of the non-zero elements
        # no zero in the slice: p / x; one zero: p at the zero, 0 elsewhere; two or more zeros: 0
        other = xp.where(n_zero == 0, p / safe, xp.where(zero & (n_zero == 1), p, nil))
        return other * self._grad_in(gy)


class LogSumExp(_Reduce):
    """log(sum(exp(x))) shifted by the max, so it stays finite for large |x|; gradient is softmax."""

    def forward(self, x):
        xp = self._xp
        self.shape = x.shape
        m = _as_array(xp, xp.max(x, axis=self.ax, keepdims=True)) if x.size else \
            xp.zeros(_kept_shape(x.shape, self.axes), x.dtype)
        m = xp.where(xp.isfinite(m), m, x.dtype.type(0))
        with np.errstate(divide="ignore"):  # an empty axis: log(0) = -inf, as in PyTorch
            y = xp.log(xp.sum(xp.exp(x - m), axis=self.ax, keepdims=True)) + m
        self.save_for_backward(x, y)
        return self._out(y)

    def backward(self, gy):
        x, y = self.saved_tensors
        return self._xp.exp(x - y) * self._grad_in(gy)


def _reduce(cls, name, x, axis, keepdims, dim, **hyper):
    x = _tensor(x)
    return cls.apply(x, axes=_axes(name, x, axis, dim), keepdims=keepdims, **hyper)


def _floating(x):
    """Integer/bool inputs of mean/var/std/logsumexp are computed in the default float dtype."""
    return float_input(_tensor(x))


def _cast(x, dtype):
    """``dtype=`` of sum/prod/mean: the input is cast first (differentiably), as in PyTorch."""
    x = _tensor(x)
    dtype = as_dtype(dtype)
    return x if dtype is None or x.dtype == dtype else x.astype(dtype)


# --- public functions ------------------------------------------------------------------------------
@tensor_method()
def sum(x, axis=None, keepdims=False, *, dtype=None, dim=None, keepdim=None):
    """Sum over ``axis`` (None: all; int or tuple). Integer/bool tensors sum in int64; ``dtype=`` casts first."""
    return _reduce(Sum, "sum", _cast(x, dtype), axis, _keepdims(keepdims, keepdim), dim)


@tensor_method()
def mean(x, axis=None, keepdims=False, *, dtype=None, dim=None, keepdim=None):
    """Arithmetic mean over ``axis``; integer tensors give float32; an empty axis gives nan (as PyTorch)."""
    return _reduce(Mean, "mean", _floating(_cast(x, dtype)), axis, _keepdims(keepdims, keepdim), dim)


@tensor_method()
def prod(x, axis=None, keepdims=False, *, dtype=None, dim=None, keepdim=None):
    """Product over ``axis``; its gradient is exact even where the input holds zeros; ``dtype=`` casts first."""
    return _reduce(Prod, "prod", _cast(x, dtype), axis, _keepdims(keepdims, keepdim), dim)


def _extreme(name, x, axis, keepdims, dim, keepdim):
    if isinstance(axis, Tensor):  # torch.max(a, b): the elementwise maximum
        if dim is not None:
            raise TypeError(f"{name}(a, b) of two tensors takes no dim")
        from .elementwise import maximum, minimum
        return (maximum if name == "max" else minimum)(x, axis)
    x = _tensor(x)
    keepdims = _keepdims(keepdims, keepdim)
    ax = normalize_axis(axis, x.ndim, dim=dim)
    if ax is None:
        _check_nonempty(name, x, tuple(range(x.ndim)), everything=True)
        return _reduce(Max if name == "max" else Min, name, x, None, keepdims, None)
    if isinstance(ax, tuple):
        raise TypeError(f"{name}: axis must be an int (it returns values and indices along one axis), got {ax}; "
                        f"a{name} reduces over several axes")
    return _with_indices(name, x, ax, keepdims)


def _with_indices(name, x, axis, keepdims):
    """(values, indices) of the largest/smallest elements along ``axis``; ties: the first index."""
    if x.ndim == 0:
        values, indices = _with_indices(name, x.reshape(1), 0, False)
        return getattr(return_types, name)(values, indices)
    _check_nonempty(name, x, (axis,), everything=False)
    xp = x.device.xp
    find = xp.argmax if name == "max" else xp.argmin
    idx = find(x.data, axis=axis, keepdims=True).astype(_INT64, copy=False)
    values = _take_along(x, idx, axis, keep=keepdims)
    return getattr(return_types, name)(values, Tensor._make(idx if keepdims else idx.squeeze(axis)))


@tensor_method()
def max(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """As ``torch.max``: the largest value (0-d tensor) with no axis; with an int axis the named tuple
    ``(values, indices)`` (the gradient goes to the returned index); ``max(a, b)`` of two tensors is
    :func:`maximum`. Without an axis the gradient is split evenly between ties. See ``amax`` for values
    over several axes."""
    return _extreme("max", x, axis, keepdims, dim, keepdim)


@tensor_method()
def min(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """As ``torch.min``: the smallest value, or ``(values, indices)`` along an axis; ``min(a, b)`` is
    :func:`minimum`."""
    return _extreme("min", x, axis, keepdims, dim, keepdim)


def _amax(name, cls, x, axis, keepdims, dim, keepdim):
    x = _tensor(x)
    axes = _axes(name, x, axis, dim)
    _check_nonempty(name, x, axes, everything=normalize_axis(axis, x.ndim, dim=dim) is None)
    return cls.apply(x, axes=axes, keepdims=_keepdims(keepdims, keepdim))


@tensor_method()
def amax(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """Largest values over ``axis`` (None: all; int or tuple), values only; ties share the gradient evenly."""
    return _amax("amax", AMax, x, axis, keepdims, dim, keepdim)


@tensor_method()
def amin(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """Smallest values over ``axis`` (None: all; int or tuple), values only; ties share the gradient evenly."""
    return _amax("amin", AMin, x, axis, keepdims, dim, keepdim)


def _ddof(name, axis, ddof, correction, unbiased):
    """``(axis, ddof)`` from ``ddof=`` (NumPy), ``correction=`` or ``unbiased=`` (PyTorch), and torch's
    ``x.std(False)`` spelling (a bool in the axis place is ``unbiased``)."""
    if isinstance(axis, (bool, np.bool_)):
        if unbiased is not None:
            raise TypeError(f"{name}: unbiased given twice (positionally and as a keyword)")
        axis, unbiased = None, bool(axis)
    given = [k for k, v in (("ddof", ddof or None), ("correction", correction), ("unbiased", unbiased))
             if v is not None]
    if len(given) > 1:
        raise TypeError(f"{name}: pass only one of ddof=, correction= and unbiased=, got {', '.join(given)}")
    if unbiased is not None:
        return axis, int(bool(unbiased))
    value = correction if correction is not None else ddof
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or value < 0:
        raise ValueError(f"{name}: {given[0] if given else 'ddof'} must be a number >= 0, got {value!r}")
    return axis, value


@tensor_method()
def var(x, axis=None, keepdims=False, ddof=0, *, dim=None, keepdim=None, correction=None, unbiased=None):
    """Variance over ``axis``, divided by ``n - ddof`` (default 0: population variance, like NumPy; PyTorch's
    ``correction=`` and ``unbiased=`` are accepted too). Over n <= ddof elements: inf or nan, as PyTorch."""
    axis, ddof = _ddof("var", axis, ddof, correction, unbiased)
    return _reduce(Var, "var", _floating(x), axis, _keepdims(keepdims, keepdim), dim, ddof=ddof)


@tensor_method()
def std(x, axis=None, keepdims=False, ddof=0, *, dim=None, keepdim=None, correction=None, unbiased=None):
    """Standard deviation over ``axis`` (``ddof``/``correction``/``unbiased`` as in :func:`var`); a constant
    input has std 0 and gradient 0 (as PyTorch)."""
    axis, ddof = _ddof("std", axis, ddof, correction, unbiased)
    return _reduce(Std, "std", _floating(x), axis, _keepdims(keepdims, keepdim), dim, ddof=ddof)


def var_mean(x, axis=None, keepdims=False, ddof=0, *, dim=None, keepdim=None, correction=None, unbiased=None):
    """``(var(x), mean(x))`` over the same axes, as ``torch.var_mean`` (but ``ddof`` defaults to 0)."""
    axis, ddof = _ddof("var_mean", axis, ddof, correction, unbiased)
    kw = {"axis": axis, "keepdims": keepdims, "dim": dim, "keepdim": keepdim}
    return var(x, ddof=ddof, **kw), mean(x, **kw)


def std_mean(x, axis=None, keepdims=False, ddof=0, *, dim=None, keepdim=None, correction=None, unbiased=None):
    """``(std(x), mean(x))`` over the same axes, as ``torch.std_mean`` (but ``ddof`` defaults to 0)."""
    axis, ddof = _ddof("std_mean", axis, ddof, correction, unbiased)
    kw = {"axis": axis, "keepdims": keepdims, "dim": dim, "keepdim": keepdim}
    return std(x, ddof=ddof, **kw), mean(x, **kw)


@tensor_method()
def logsumexp(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """log(sum(exp(x))) over ``axis``, computed stably (finite for logits of any magnitude)."""
    return _reduce(LogSumExp, "logsumexp", _floating(x), axis, _keepdims(keepdims, keepdim), dim)


def _arg(name, x, axis, keepdims, dim, keepdim):
    x = _tensor(x)
    axis = normalize_axis(axis, x.ndim, dim=dim)
    if isinstance(axis, tuple):
        raise TypeError(f"{name}: axis must be None or an int, got {axis}")
    keepdims = _keepdims(keepdims, keepdim)
    _check_nonempty(name, x, tuple(range(x.ndim)) if axis is None else (axis,), everything=axis is None)
    xp = x.device.xp
    if x.ndim == 0:
        return Tensor._make(xp.zeros((), dtype=_INT64))
    find = xp.argmax if name == "argmax" else xp.argmin
    if axis is None:
        idx = _as_array(xp, find(x.data.reshape(-1)))
        idx = idx.reshape((1,) * x.ndim) if keepdims else idx
    else:
        idx = _as_array(xp, find(x.data, axis=axis, keepdims=keepdims))
    return Tensor._make(idx.astype(_INT64, copy=False))


@tensor_method()
def argmax(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """Indices (int64) of the largest values along ``axis`` (None: into the flattened tensor); no gradient."""
    return _arg("argmax", x, axis, keepdims, dim, keepdim)


@tensor_method()
def argmin(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """Indices (int64) of the smallest values along ``axis``; no gradient."""
    return _arg("argmin", x, axis, keepdims, dim, keepdim)


def _logical(name, x, axis, keepdims, dim, keepdim):
    x = _tensor(x)
    axes = _axes(name, x, axis, dim)
    xp = x.device.xp
    y = getattr(xp, name)(x.data, axis=None if x.ndim == 0 else axes, keepdims=_keepdims(keepdims, keepdim))
    return Tensor._make(_as_array(xp, y))


@tensor_method()
def any(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """Whether any element over ``axis`` is non-zero (a bool tensor; no gradient). Empty: False."""
    return _logical("any", x, axis, keepdims, dim, keepdim)


@tensor_method()
def all(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """Whether every element over ``axis`` is non-zero (a bool tensor; no gradient). Empty: True."""
    return _logical("all", x, axis, keepdims, dim, keepdim)
