"""Rounding, trigonometric and other elementwise math (PyTorch's names), and the tests isnan/isinf/isfinite/
isclose/allclose.

Rounding ops (``floor ceil round trunc sign``) keep integer dtypes and have zero gradient. The other math ops
are floating: integer and bool inputs give float32. ``erf`` has no NumPy ufunc: on the CPU it is libm's erf
compiled by numba (a rational fit with 1.2e-7 relative error where numba is missing), on a GPU CuPy's
``cupyx.scipy.special.erf``.
"""
from __future__ import annotations

import functools
import math

import numpy as np

from ..autograd import Function
from ..backend.dtypes import is_floating
from ..tensor import Tensor
from ._promotion import result_type
from ._util import as_tensor, sum_to, tensor_method
from .elementwise import _cast, check_broadcast, float_input, operands, unary

_LN2, _LN10, _TWO_OVER_SQRT_PI = math.log(2.0), math.log(10.0), 2.0 / math.sqrt(math.pi)


# --- rounding: integer dtypes unchanged, zero gradient -------------------------------------------------------
class _Rounding(Function):
    """A piecewise-constant op: ``f`` on floats, a copy for integers; the gradient is zero."""

    def forward(self, x):
        if not is_floating(x.dtype):
            return x.copy()
        return self.f(self._xp, x)

    def backward(self, gy):
        return self._xp.zeros_like(gy)


def _rounding(name, f):
    return type(name, (_Rounding,), {"f": staticmethod(f), "__doc__": f"Elementwise {name.lower()}."})


Floor = _rounding("Floor", lambda xp, x: xp.floor(x))
Ceil = _rounding("Ceil", lambda xp, x: xp.ceil(x))
Trunc = _rounding("Trunc", lambda xp, x: xp.trunc(x))


class Round(_Rounding):
    """Round half to even, to ``decimals`` decimal places (negative: to tens, hundreds...)."""

    def f(self, xp, x):
        return xp.round(x, self.decimals) if self.decimals else xp.rint(x)


class Sign(_Rounding):
    """-1, 0 or 1; 0 for NaN as in PyTorch (NumPy gives NaN)."""

    def forward(self, x):
        if x.dtype.kind == "b":
            return x.copy()
        if x.dtype.kind in "iu":
            return self._xp.sign(x)
        return (x > 0).astype(x.dtype) - (x < 0).astype(x.dtype)


def _no_bool(name, x):
    if x.dtype == np.bool_:
        raise TypeError(f"{name}: not supported for bool tensors")
    return x


@tensor_method()
def floor(x):
    """Round towards -inf (integer tensors are returned as a copy)."""
    return Floor.apply(_no_bool("floor", x))


@tensor_method()
def ceil(x):
    """Round towards +inf."""
    return Ceil.apply(_no_bool("ceil", x))


@tensor_method()
def trunc(x):
    """Round towards zero."""
    return Trunc.apply(_no_bool("trunc", x))


@tensor_method()
def round(x, decimals=0):
    """Round half to even (like PyTorch and NumPy), to ``decimals`` decimal places."""
    if not isinstance(decimals, (int, np.integer)) or isinstance(decimals, bool):
        raise TypeError(f"round: decimals must be an int, got {type(decimals).__name__}")
    if decimals and not is_floating(x.dtype):
        raise TypeError(f"round: decimals is only supported for floating tensors, got {x.dtype}")
    return Round.apply(_no_bool("round", x), decimals=int(decimals))


Tensor.__round__ = lambda self, ndigits=None: round(self, ndigits or 0)


@tensor_method()
def sign(x):
    return Sign.apply(x)


# --- floating math -------------------------------------------------------------------------------------
def _numba_erf_ufunc():
    try:
        import numba
    except ImportError:  # pragma: no cover - numba is a dependency
        return None

    @numba.vectorize(["float32(float32)", "float64(float64)"])
    def erf(x):  # pragma: no cover - compiled
        return math.erf(x)
    return erf


_numba_erf = functools.cache(_numba_erf_ufunc)


def _erf_fit(xp, x):
    """erf with array ops only: the Chebyshev fit of erfc in Numerical Recipes, relative error < 1.2e-7."""
    a = xp.abs(x)
    t = 1.0 / (1.0 + 0.5 * a)
    poly = 0.17087277
    for coef in (-0.82215223, 1.48851587, -1.13520398, 0.27886807, -0.18628806, 0.09678418, 0.37409196,
                 1.00002368, -1.26551223):
        poly = poly * t + coef
    return (xp.sign(x) * (1.0 - t * xp.exp(poly - a * a))).astype(x.dtype, copy=False)


def erf_array(xp, x):
    """erf of a floating array (any device), in its dtype."""
    work = x if x.dtype in (np.float32, np.float64) else x.astype(np.float32)
    if xp is np:
        ufunc = _numba_erf()
        y = ufunc(work) if ufunc is not None else _erf_fit(xp, work)
    else:
        import cupyx.scipy.special
        y = cupyx.scipy.special.erf(work)
    return y if y.dtype == x.dtype else y.astype(x.dtype)


Tan = unary("Tan", lambda xp, x: xp.tan(x), lambda xp, x, y: 1 + y * y)
Asin = unary("Asin", lambda xp, x: xp.arcsin(x), lambda xp, x, y: 1 / xp.sqrt(1 - x * x))
Acos = unary("Acos", lambda xp, x: xp.arccos(x), lambda xp, x, y: -1 / xp.sqrt(1 - x * x))
Atan = unary("Atan", lambda xp, x: xp.arctan(x), lambda xp, x, y: 1 / (1 + x * x))
Sinh = unary("Sinh", lambda xp, x: xp.sinh(x), lambda xp, x, y: xp.cosh(x))
Cosh = unary("Cosh", lambda xp, x: xp.cosh(x), lambda xp, x, y: xp.sinh(x))
Asinh = unary("Asinh", lambda xp, x: xp.arcsinh(x), lambda xp, x, y: 1 / xp.sqrt(x * x + 1))
Acosh = unary("Acosh", lambda xp, x: xp.arccosh(x), lambda xp, x, y: 1 / xp.sqrt(x * x - 1))
Atanh = unary("Atanh", lambda xp, x: xp.arctanh(x), lambda xp, x, y: 1 / (1 - x * x))
Log2 = unary("Log2", lambda xp, x: xp.log2(x), lambda xp, x, y: 1 / (x * _LN2))
Log10 = unary("Log10", lambda xp, x: xp.log10(x), lambda xp, x, y: 1 / (x * _LN10))
Exp2 = unary("Exp2", lambda xp, x: xp.exp2(x), lambda xp, x, y: y * _LN2)
Rsqrt = unary("Rsqrt", lambda xp, x: 1 / xp.sqrt(x), lambda xp, x, y: -0.5 * y * y * y)
Erf = unary("Erf", erf_array, lambda xp, x, y: _TWO_OVER_SQRT_PI * xp.exp(-x * x))


def _float_op(fn_cls, name):
    def op(x):
        return fn_cls.apply(float_input(x))
    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"Elementwise {name} (integer and bool inputs give float32)."
    return tensor_method(name)(op)


tan = _float_op(Tan, "tan")
asin = _float_op(Asin, "asin")
acos = _float_op(Acos, "acos")
atan = _float_op(Atan, "atan")
sinh = _float_op(Sinh, "sinh")
cosh = _float_op(Cosh, "cosh")
asinh = _float_op(Asinh, "asinh")
acosh = _float_op(Acosh, "acosh")
atanh = _float_op(Atanh, "atanh")
log2 = _float_op(Log2, "log2")
log10 = _float_op(Log10, "log10")
exp2 = _float_op(Exp2, "exp2")
rsqrt = _float_op(Rsqrt, "rsqrt")
erf = _float_op(Erf, "erf")


# --- lerp and logaddexp ------------------------------------------------------------------------------------
class Lerp(Function):
    """``start + weight * (end - start)``, written as ``end - (end - start) * (1 - weight)`` for weight >= 0.5
    (PyTorch's form: exact at weight 1)."""

    def forward(self, start, end, weight):
        xp = self._xp
        self.shapes = (start.shape, end.shape, weight.shape)
        self.dtypes = (start.dtype, end.dtype, weight.dtype)
        start, end, weight = (_cast(v, self.dtype) for v in (start, end, weight))
        diff = end - start
        self.save_for_backward(weight if any(self.needs_input_grad[:2]) else None,
                               diff if self.needs_input_grad[2] else None)
        try:
            return xp.where(weight < 0.5, start + weight * diff, end - diff * (1 - weight))
        except ValueError:
            check_broadcast("lerp", *self.shapes)
            raise

    def backward(self, gy):
        weight, diff = self.saved_tensors
        need = self.needs_input_grad
        grads = (gy * (1 - weight) if need[0] else None, gy * weight if need[1] else None,
                 gy * diff if need[2] else None)
        return tuple(None if g is None else _cast(sum_to(g, s), d) for g, s, d in zip(grads, self.shapes, self.dtypes))


@tensor_method()
def lerp(start, end, weight):
    """Linear interpolation ``start + weight * (end - start)``; ``weight`` a number or a tensor (floating only)."""
    start, end, _ = operands(start, end, "lerp")
    weight = as_tensor(weight, start)
    dtype = result_type(start, end, weight)
    if not is_floating(dtype):
        raise TypeError(f"lerp: expected floating tensors, got {start.dtype}, {end.dtype} and {weight.dtype}")
    return Lerp.apply(start, end, weight, dtype=dtype)


class LogAddExp(Function):
    """``log(exp(a) + exp(b))`` computed stably; d/da = exp(a - y), d/db = exp(b - y)."""

    def forward(self, a, b):
        self.shapes = (a.shape, b.shape)
        self.dtypes = (a.dtype, b.dtype)
        a, b = _cast(a, self.dtype), _cast(b, self.dtype)
        try:
            y = self._xp.logaddexp(a, b)
        except ValueError:
            check_broadcast("logaddexp", a.shape, b.shape)
            raise
        self.save_for_backward(a, b, y)
        return y

    def backward(self, gy):
        a, b, y = self.saved_tensors
        xp = self._xp
        out = []
        for v, need, shape, dt in zip((a, b), self.needs_input_grad, self.shapes, self.dtypes):
            out.append(_cast(sum_to(gy * xp.exp(v - y), shape), dt) if need else None)
        return tuple(out)


@tensor_method()
def logaddexp(a, b):
    """``log(exp(a) + exp(b))`` without overflow (floating tensors)."""
    a, b, dtype = operands(a, b, "logaddexp")
    if not is_floating(dtype):
        raise TypeError(f"logaddexp: expected floating tensors, got {a.dtype} and {b.dtype}")
    return LogAddExp.apply(a, b, dtype=dtype)


# --- tests: bool tensors, no gradient -----------------------------------------------------------------------
def _test(name, fn, other):
    def test(x):
        x = as_tensor(x)
        xp = x.device.xp
        if not is_floating(x.dtype):  # integers and bools are always finite
            return Tensor._make(xp.full(x.shape, other, dtype=np.bool_))
        return Tensor._make(fn(xp, x.data))
    test.__name__ = test.__qualname__ = name
    test.__doc__ = f"Elementwise {name}: a bool tensor, no gradient."
    return tensor_method()(test)


isnan = _test("isnan", lambda xp, x: xp.isnan(x), False)
isinf = _test("isinf", lambda xp, x: xp.isinf(x), False)
isfinite = _test("isfinite", lambda xp, x: xp.isfinite(x), True)


@tensor_method()
def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    """``|input - other| <= atol + rtol * |other|`` elementwise (infinities equal when of one sign; NaNs
    equal only with ``equal_nan``), as a bool tensor."""
    if rtol < 0 or atol < 0:
        raise ValueError(f"isclose: rtol and atol must be non-negative, got rtol={rtol} and atol={atol}")
    a, b, dtype = operands(input, other, "isclose")
    if a.device != b.device:
        raise RuntimeError(f"isclose: expected both tensors on one device, got {a.device} and {b.device}")
    x, y = _cast(a.data, dtype), _cast(b.data, dtype)
    xp = a.device.xp
    if dtype.kind == "b":
        x, y = x.astype(np.int8), y.astype(np.int8)
    try:
        return Tensor._make(xp.isclose(x, y, rtol=float(rtol), atol=float(atol), equal_nan=bool(equal_nan)))
    except ValueError:
        check_broadcast("isclose", x.shape, y.shape)
        raise


@tensor_method()
def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False) -> bool:
    """True when every element is close (:func:`isclose`): a Python bool (reads one value back from a GPU)."""
    return bool(isclose(input, other, rtol=rtol, atol=atol, equal_nan=equal_nan).data.all())
