"""Reductions over axes (NumPy style, ``dim=`` alias): sum, mean, max, min, var, std, prod, argmax/argmin,
logsumexp. Backward broadcasts the upstream gradient back over the reduced axes."""
from __future__ import annotations

import builtins
import math

from ..autograd import Function
from ..backend.dtypes import default_float, is_floating
from ..tensor import Tensor
from ._util import normalize_axis, tensor_method

__all__ = ["sum", "mean", "max", "min", "var", "std", "prod", "argmax", "argmin", "logsumexp"]


# --- helpers ---------------------------------------------------------------------------------------
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


class _Reduce(Function):
    """A reduction over ``self.axes``; ``_grad_in`` reshapes the upstream gradient to the kept-dims shape."""

    @property
    def ax(self):
        """The axes argument for xp: None for a 0-d input (same result; avoids ``axis=()`` in CuPy)."""
        return None if len(self.shape) == 0 else self.axes

    def _grad_in(self, gy):
        return gy.reshape(_kept_shape(self.shape, self.axes))

    def _out(self, y_kept):
        return y_kept if self.keepdims else y_kept.reshape(
            tuple(s for i, s in enumerate(self.shape) if i not in self.axes))


class Sum(_Reduce):
    def forward(self, x):
        self.shape = x.shape
        return _as_array(self._xp, self._xp.sum(x, axis=self.ax, keepdims=self.keepdims))

    def backward(self, gy):
        g = self._xp.broadcast_to(self._grad_in(gy), self.shape)
        return g.copy()  # a writable, contiguous gradient


class Mean(_Reduce):
    def forward(self, x):
        self.shape = x.shape
        return _as_array(self._xp, self._xp.mean(x, axis=self.ax, keepdims=self.keepdims))

    def backward(self, gy):
        scale = 1.0 / builtins.max(_count(self.shape, self.axes), 1)
        return self._xp.broadcast_to(self._grad_in(gy) * scale, self.shape).copy()


class _Extreme(_Reduce):
    """max/min: the gradient goes to the elements equal to the result, split evenly among ties."""

    def forward(self, x):
        xp = self._xp
        self.shape = x.shape
        if x.size == 0 and (self.axes or x.ndim == 0):
            raise ValueError(f"{self.name}: cannot reduce an empty tensor of shape {tuple(x.shape)} over "
                             f"axes {self.axes}")
        y = _as_array(xp, self.reduce(xp, x, axis=self.ax, keepdims=True))
        self.save_for_backward(x, y)
        return self._out(y)

    def backward(self, gy):
        x, y = self.saved_tensors
        mask = x == y
        count = mask.sum(axis=self.ax, keepdims=True).astype(gy.dtype)
        return mask * (self._grad_in(gy) / count)


class Max(_Extreme):
    name = "max"

    @staticmethod
    def reduce(xp, x, **kw):
        return xp.max(x, **kw)


class Min(_Extreme):
    name = "min"

    @staticmethod
    def reduce(xp, x, **kw):
        return xp.min(x, **kw)


class Var(_Reduce):
    """Variance with ``ddof`` (0: population); std is its square root, with its own backward."""
    sqrt = False

    def forward(self, x):
        xp = self._xp
        self.shape = x.shape
        d = x - xp.mean(x, axis=self.ax, keepdims=True)
        denom = _count(x.shape, self.axes) - self.ddof
        self.scale = 1.0 / denom if denom > 0 else math.inf  # torch: 0/0 -> nan, c/0 -> inf
        y = _as_array(xp, xp.sum(d * d, axis=self.ax, keepdims=True) * self.scale)
        if self.sqrt:
            y = xp.sqrt(y)
        self.save_for_backward(d, y if self.sqrt else None)
        return self._out(y)

    def backward(self, gy):
        d, y = self.saved_tensors
        g = self._grad_in(gy)
        if self.sqrt:
            return d * (g * self.scale / y)
        return d * (g * (2.0 * self.scale))


class Std(Var):
    sqrt = True


class Prod(_Reduce):
    """Product; the gradient is the product of the other elements, exact when the slice holds zeros."""

    def forward(self, x):
        self.shape = x.shape
        self.save_for_backward(x)
        return _as_array(self._xp, self._xp.prod(x, axis=self.ax, keepdims=self.keepdims))

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
        y = xp.log(xp.sum(xp.exp(x - m), axis=self.ax, keepdims=True)) + m
        self.save_for_backward(x, y)
        return self._out(y)

    def backward(self, gy):
        x, y = self.saved_tensors
        return self._xp.exp(x - y) * self._grad_in(gy)


def _reduce(cls, name, x, axis, keepdims, dim, **hyper):
    if not isinstance(x, Tensor):
        x = Tensor(x)
    return cls.apply(x, axes=_axes(name, x, axis, dim), keepdims=keepdims, **hyper)


def _floating(x):
    """Integer/bool inputs of mean/var/std/logsumexp are computed in the default float dtype."""
    if not isinstance(x, Tensor):
        x = Tensor(x)
    return x if is_floating(x.dtype) else x.astype(default_float)


# --- public functions ------------------------------------------------------------------------------
@tensor_method()
def sum(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """Sum over ``axis`` (None: all; int or tuple)."""
    return _reduce(Sum, "sum", x, axis, _keepdims(keepdims, keepdim), dim)


@tensor_method()
def mean(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """Arithmetic mean over ``axis``."""
    return _reduce(Mean, "mean", _floating(x), axis, _keepdims(keepdims, keepdim), dim)


@tensor_method()
def max(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """Largest value over ``axis`` (values only, like NumPy/torch.amax; see ``argmax`` for indices)."""
    return _reduce(Max, "max", x, axis, _keepdims(keepdims, keepdim), dim)


@tensor_method()
def min(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """Smallest value over ``axis`` (values only, like NumPy/torch.amin)."""
    return _reduce(Min, "min", x, axis, _keepdims(keepdims, keepdim), dim)


@tensor_method()
def var(x, axis=None, keepdims=False, ddof=0, *, dim=None, keepdim=None):
    """Variance over ``axis``, divided by ``n - ddof`` (default 0: population variance, like NumPy)."""
    return _reduce(Var, "var", _floating(x), axis, _keepdims(keepdims, keepdim), dim, ddof=int(ddof))


@tensor_method()
def std(x, axis=None, keepdims=False, ddof=0, *, dim=None, keepdim=None):
    """Standard deviation over ``axis`` (``ddof`` as in :func:`var`)."""
    return _reduce(Std, "std", _floating(x), axis, _keepdims(keepdims, keepdim), dim, ddof=int(ddof))


@tensor_method()
def prod(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """Product over ``axis``; its gradient is exact even where the input holds zeros."""
    return _reduce(Prod, "prod", x, axis, _keepdims(keepdims, keepdim), dim)


@tensor_method()
def logsumexp(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """log(sum(exp(x))) over ``axis``, computed stably (finite for logits of any magnitude)."""
    return _reduce(LogSumExp, "logsumexp", _floating(x), axis, _keepdims(keepdims, keepdim), dim)


def _arg(name, x, axis, keepdims, dim, keepdim):
    if not isinstance(x, Tensor):
        x = Tensor(x)
    axis = normalize_axis(axis, x.ndim, dim=dim)
    if isinstance(axis, tuple):
        raise TypeError(f"{name}: axis must be None or an int, got {axis}")
    keepdims = _keepdims(keepdims, keepdim)
    if x.size == 0:
        raise ValueError(f"{name}: cannot take the {name} of an empty tensor of shape {x.shape}")
    xp = x.device.xp
    if x.ndim == 0:
        return Tensor._make(xp.zeros((), dtype="int64"))
    fn = xp.argmax if name == "argmax" else xp.argmin
    if axis is None:
        idx = _as_array(xp, fn(x.data.reshape(-1)))
        idx = idx.reshape((1,) * x.ndim) if keepdims else idx
    else:
        idx = _as_array(xp, fn(x.data, axis=axis, keepdims=keepdims))
    return Tensor._make(idx.astype("int64", copy=False))


@tensor_method()
def argmax(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """Indices (int64) of the largest values along ``axis`` (None: into the flattened tensor); no gradient."""
    return _arg("argmax", x, axis, keepdims, dim, keepdim)


@tensor_method()
def argmin(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """Indices (int64) of the smallest values along ``axis``; no gradient."""
    return _arg("argmin", x, axis, keepdims, dim, keepdim)
