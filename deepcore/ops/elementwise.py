"""Elementwise arithmetic with NumPy broadcasting and PyTorch's type promotion; gradients are summed back to
input shapes and cast back to input dtypes.

Binary ops first settle the result dtype (:mod:`._promotion`), turn Python scalars into 0-d device arrays of
that dtype, and compute in it. Operators: ``+ - * / // % ** & | ^ ~ << >>`` and the comparisons.
"""
from __future__ import annotations

import numbers

import numpy as np

from ..autograd import Function
from ..backend.dtypes import is_floating
from ..errors import ShapeError
from ..tensor import Tensor
from ._promotion import floating, result_type
from ._util import as_tensor, sum_to, tensor_method

_BOOL = np.dtype(np.bool_)


# --- operands ----------------------------------------------------------------------------------------
def _is_scalar(v):
    return isinstance(v, (numbers.Number, np.generic)) and not isinstance(v, complex)


def _scalar_array(value, dtype, like: Tensor):
    """``value`` as a 0-d array of ``dtype`` on ``like``'s device (a fill kernel on a GPU, no host copy)."""
    if dtype.kind in "iu" and not isinstance(value, (bool, np.bool_)):
        info = np.iinfo(dtype)
        value = int(value)
        if not info.min <= value <= info.max:  # wraps around, as in PyTorch
            value = int(np.array(value, dtype=np.int64).astype(dtype))
    return like.device.xp.full((), value, dtype=dtype)


def operands(a, b, name="op"):
    """(a, b, dtype): both as Tensors and the dtype PyTorch computes ``a op b`` in. Python scalars become
    0-d arrays of that dtype; other data (lists, NumPy arrays) becomes tensors on the other operand's device."""
    if not isinstance(a, Tensor) and not _is_scalar(a):
        a = as_tensor(a, b if isinstance(b, Tensor) else None)
    if not isinstance(b, Tensor) and not _is_scalar(b):
        b = as_tensor(b, a if isinstance(a, Tensor) else None)
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        a = Tensor(a)
    dtype = result_type(a, b)
    if not isinstance(a, Tensor):
        a = Tensor._make(_scalar_array(a, dtype, b))
    if not isinstance(b, Tensor):
        b = Tensor._make(_scalar_array(b, dtype, a))
    return a, b, dtype


def check_broadcast(name, *shapes):
    """Raise a ShapeError naming the shapes when they do not broadcast together."""
    try:
        np.broadcast_shapes(*shapes)
    except ValueError:
        listed = ", ".join(str(tuple(s)) for s in shapes[:-1]) + f" and {tuple(shapes[-1])}"
        raise ShapeError(f"{name}: shapes {listed} cannot be broadcast together") from None


def _cast(x, dtype):
    return x if x.dtype == dtype else x.astype(dtype)


class _Binary(Function):
    """``compute(a, b)`` on both inputs cast to ``self.dtype``; ``grads(gy)`` gives the broadcast-shaped
    gradients (None where not needed), which backward sums to the input shapes and casts to their dtypes."""
    name = "op"

    def forward(self, a, b):
        self.shapes, self.dtypes = (a.shape, b.shape), (a.dtype, b.dtype)
        a, b = _cast(a, self.dtype), _cast(b, self.dtype)
        try:
            return self.compute(a, b)
        except ValueError:
            check_broadcast(self.name, a.shape, b.shape)  # only a broadcast failure is called one
            raise

    def backward(self, gy):
        grads = self.grads(gy)
        return tuple(None if g is None or not need else _cast(sum_to(g, shape), dt)
                     for g, need, shape, dt in zip(grads, self.needs_input_grad, self.shapes, self.dtypes))


class Add(_Binary):
    name = "add"

    def compute(self, a, b):
        return a + b

    def grads(self, gy):
        return gy, gy


class Sub(_Binary):
    name = "sub"

    def compute(self, a, b):
        return a - b

    def grads(self, gy):
        return gy, (-gy if self.needs_input_grad[1] else None)


class Mul(_Binary):
    name = "mul"

    def compute(self, a, b):
        self.save_for_backward(a if self.needs_input_grad[1] else None, b if self.needs_input_grad[0] else None)
        return a * b

    def grads(self, gy):
        a, b = self.saved_tensors
        return (gy * b if self.needs_input_grad[0] else None), (gy * a if self.needs_input_grad[1] else None)


class Div(_Binary):
    name = "div"

    def compute(self, a, b):
        y = a / b
        self.save_for_backward(b, y if self.needs_input_grad[1] else None)
        return y

    def grads(self, gy):
        b, y = self.saved_tensors
        ga = gy / b
        return ga, (-ga * y if self.needs_input_grad[1] else None)


class _RoundedDiv(_Binary):
    """Division rounded to an integer (``floor`` or ``trunc``): piecewise constant, so zero gradients."""
    name = "div"

    def compute(self, a, b):
        xp = self._xp
        if a.dtype.kind in "iu":
            _check_int_divisor(self.name, b)
            q = xp.floor_divide(a, b)
            if self.mode == "trunc":  # floor, one up where the exact quotient was negative and inexact
                q = q + ((a - q * b != 0) & ((a < 0) != (b < 0))).astype(q.dtype)
            return q
        with np.errstate(divide="ignore", invalid="ignore"):
            return xp.floor_divide(a, b) if self.mode == "floor" else xp.trunc(a / b)

    def grads(self, gy):
        zero = self._xp.zeros_like(gy)
        return zero, zero


def _check_int_divisor(name, b):
    """Integer division by zero raises on the CPU, as in PyTorch (checking on a GPU would need a sync)."""
    if isinstance(b, np.ndarray) and b.size and not b.all():
        raise ZeroDivisionError(f"{name}: integer division by zero")


class Remainder(_Binary):
    """Python's ``%``: the result has the divisor's sign. d/da = 1, d/db = -floor(a / b)."""
    name = "remainder"

    def compute(self, a, b):
        if a.dtype.kind in "iu":
            _check_int_divisor(self.name, b)
        self.save_for_backward(*((a, b) if self.needs_input_grad[1] else ()))
        with np.errstate(divide="ignore", invalid="ignore"):
            return self._xp.remainder(a, b)

    def grads(self, gy):
        gb = None
        if self.needs_input_grad[1]:
            a, b = self.saved_tensors
            with np.errstate(divide="ignore", invalid="ignore"):
                gb = -gy * self._xp.floor_divide(a, b)
        return gy, gb


class Fmod(_Binary):
    """C's fmod: the result has the dividend's sign. d/da = 1, d/db = -trunc(a / b)."""
    name = "fmod"

    def compute(self, a, b):
        if a.dtype.kind in "iu":
            _check_int_divisor(self.name, b)
        self.save_for_backward(*((a, b) if self.needs_input_grad[1] else ()))
        with np.errstate(divide="ignore", invalid="ignore"):
            return self._xp.fmod(a, b)

    def grads(self, gy):
        gb = None
        if self.needs_input_grad[1]:
            a, b = self.saved_tensors
            with np.errstate(divide="ignore", invalid="ignore"):
                gb = -gy * self._xp.trunc(a / b)
        return gy, gb


class Pow(_Binary):
    """``a ** b``. Gradients as PyTorch: d/da is 0 where b == 0 (so ``x ** 0`` at 0 is 0, not NaN), d/db is
    ``y log a``, 0 where a == 0 and b >= 0. Integer powers follow C: a negative exponent gives 0 unless
    |a| == 1 (:func:`pow` refuses a negative Python-number exponent first, as PyTorch)."""
    name = "pow"

    def compute(self, a, b):
        xp = self._xp
        if a.dtype.kind in "iub":
            return _int_pow(xp, a, b)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            y = a ** b
        self.save_for_backward(a, b, y if self.needs_input_grad[1] else None)
        return y

    def grads(self, gy):
        a, b, y = self.saved_tensors
        xp = self._xp
        ga = gb = None
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            if self.needs_input_grad[0]:
                ga = gy * xp.where(b == 0, a.dtype.type(0), b * a ** (b - 1))
            if self.needs_input_grad[1]:
                gb = gy * xp.where((a == 0) & (b >= 0), a.dtype.type(0), y * xp.log(a))
        return ga, gb


def _int_pow(xp, a, b):
    if a.dtype == _BOOL:
        a, b = a.astype(np.int64), b.astype(np.int64)
    if b.dtype.kind == "u":
        return a ** b
    neg = b < 0
    y = a ** xp.where(neg, b.dtype.type(0), b)
    one = a.dtype.type(1)
    special = xp.where(a == 1, one, xp.where(a == -1, xp.where(b % 2 == 0, one, -one), a.dtype.type(0)))
    return xp.where(neg, special, y)


class Maximum(_Binary):
    """Elementwise max; ties split the gradient half and half, NaN passes it to both (as PyTorch)."""
    name = "maximum"

    def compute(self, a, b):
        self.save_for_backward(a < b, a == b, b < a)
        return self._xp.maximum(a, b)

    def grads(self, gy):
        return _split_grads(self._xp, gy, *self.saved_tensors)


class Minimum(_Binary):
    name = "minimum"

    def compute(self, a, b):
        self.save_for_backward(a > b, a == b, b > a)
        return self._xp.minimum(a, b)

    def grads(self, gy):
        return _split_grads(self._xp, gy, *self.saved_tensors)


def _split_grads(xp, gy, a_loses, tie, b_loses):
    zero, half = gy.dtype.type(0), gy.dtype.type(0.5)
    g = xp.where(tie, gy * half, gy)
    return xp.where(a_loses, zero, g), xp.where(b_loses, zero, g)


class Where(Function):
    def forward(self, cond, a, b):
        xp = self._xp
        self.shapes, self.dtypes = (a.shape, b.shape), (a.dtype, b.dtype)
        self.save_for_backward(cond)
        try:
            return xp.where(cond, _cast(a, self.dtype), _cast(b, self.dtype))
        except ValueError:
            check_broadcast("where", cond.shape, a.shape, b.shape)
            raise

    def backward(self, gy):
        (cond,) = self.saved_tensors
        zero = gy.dtype.type(0)
        xp = self._xp
        return (None, _cast(sum_to(xp.where(cond, gy, zero), self.shapes[0]), self.dtypes[0]),
                _cast(sum_to(xp.where(cond, zero, gy), self.shapes[1]), self.dtypes[1]))


class Neg(Function):
    def forward(self, x):
        return -x

    def backward(self, gy):
        return -gy


class Abs(Function):
    def forward(self, x):
        self.save_for_backward(x)
        return self._xp.abs(x)

    def backward(self, gy):
        (x,) = self.saved_tensors
        return gy * self._xp.sign(x)


class _Unary(Function):
    """A floating unary op whose derivative is computed from the saved input and/or output."""

    def forward(self, x):
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            y = self.f(self._xp, x)
        self.save_for_backward(x, y)
        return y

    def backward(self, gy):
        x, y = self.saved_tensors
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            return gy * self.df(self._xp, x, y)


def unary(name, f, df):
    """A _Unary Function class ``name`` with forward ``f(xp, x)`` and derivative ``df(xp, x, y)``."""
    return type(name, (_Unary,), {"f": staticmethod(f), "df": staticmethod(df),
                                  "__doc__": f"Elementwise {name.lower()}."})


def float_input(x):
    """``x`` as a Tensor of a floating dtype: integer and bool tensors become float32 (PyTorch's promotion
    for floating ops); they carry no gradient, so the cast needs none."""
    x = as_tensor(x)
    if is_floating(x.dtype):
        return x
    return Tensor._make(x.data.astype(floating(x.dtype)))


Exp = unary("Exp", lambda xp, x: xp.exp(x), lambda xp, x, y: y)
Log = unary("Log", lambda xp, x: xp.log(x), lambda xp, x, y: 1 / x)
Sqrt = unary("Sqrt", lambda xp, x: xp.sqrt(x), lambda xp, x, y: 0.5 / y)
Sin = unary("Sin", lambda xp, x: xp.sin(x), lambda xp, x, y: xp.cos(x))
Cos = unary("Cos", lambda xp, x: xp.cos(x), lambda xp, x, y: -xp.sin(x))


class Clip(Function):
    """Limit to [min, max] (either may be None) in ``self.dtype``; the gradient passes where min <= x <= max."""

    def forward(self, x):
        xp = self._xp
        self.src = x.dtype
        x = _cast(x, self.dtype)
        y = x
        keep = None
        as_py = float if is_floating(self.dtype) else int  # Python scalars: kernel arguments, not device copies
        if self.min is not None:
            lo = as_py(self.min)
            keep = x >= lo
            y = xp.maximum(y, lo)
        if self.max is not None:
            hi = as_py(self.max)
            below = x <= hi
            keep = below if keep is None else keep & below
            y = xp.minimum(y, hi)
        self.save_for_backward(keep)
        return y

    def backward(self, gy):
        (keep,) = self.saved_tensors
        return _cast(self._xp.where(keep, gy, gy.dtype.type(0)), self.src)


# --- public functions -------------------------------------------------------------------------------
def _binary(fn_cls, a, b, float_op=False, **hyper):
    a, b, dtype = operands(a, b, fn_cls.name)
    return fn_cls.apply(a, b, dtype=floating(dtype) if float_op else dtype, **hyper)


def _no_bool(name, *dtypes, what="bool tensors"):
    if all(d == _BOOL for d in dtypes):
        raise TypeError(f"{name}: not supported for {what}; use the logical operators (^, |, &, ~) instead")


def add(a, b, *, alpha=1):
    """``a + alpha * b`` with broadcasting."""
    if alpha != 1:
        b = b * alpha if _is_scalar(b) else mul(b, alpha)
    return _binary(Add, a, b)


def sub(a, b, *, alpha=1):
    """``a - alpha * b`` with broadcasting (two bool tensors are refused, as in PyTorch)."""
    a, b, dtype = operands(a, b, "sub")
    if _BOOL in (a.dtype, b.dtype):
        raise TypeError("sub: subtraction, the `-` operator, with a bool tensor is not supported; use `^` or "
                        "logical_xor() for two masks, `~` to invert one")
    if alpha != 1:
        b = mul(b, alpha)
        a, b, dtype = operands(a, b, "sub")  # alpha may promote b (an int tensor with a float alpha)
    return Sub.apply(a, b, dtype=dtype)


def mul(a, b):
    return _binary(Mul, a, b)


_ROUNDING_MODES = (None, "trunc", "floor")


def div(a, b, *, rounding_mode=None):
    """True division (always floating: integer inputs give float32), or with ``rounding_mode="trunc"``
    (towards zero) / ``"floor"`` (towards -inf) an integer-valued quotient in the inputs' dtype."""
    if rounding_mode not in _ROUNDING_MODES:
        raise ValueError(f"div: rounding_mode must be None, 'trunc' or 'floor', got {rounding_mode!r}")
    if rounding_mode is None:
        return _binary(Div, a, b, float_op=True)
    a, b, dtype = operands(a, b, "div")
    _no_bool("div", a.dtype, b.dtype)
    return _RoundedDiv.apply(a, b, dtype=dtype, mode=rounding_mode)


def floor_divide(a, b):
    """``a // b`` rounded towards -inf, like Python and ``torch.floor_divide`` (zero gradient)."""
    a, b, dtype = operands(a, b, "floor_divide")
    _no_bool("floor_divide", dtype)
    return _RoundedDiv.apply(a, b, dtype=dtype, mode="floor", name="floor_divide")


def remainder(a, b):
    """``a % b`` with the sign of ``b`` (Python's and ``torch.remainder``'s convention)."""
    a, b, dtype = operands(a, b, "remainder")
    _no_bool("remainder", dtype)
    return Remainder.apply(a, b, dtype=dtype)


def fmod(a, b):
    """Remainder of truncated division: the sign of ``a`` (C's fmod, ``torch.fmod``)."""
    a, b, dtype = operands(a, b, "fmod")
    _no_bool("fmod", dtype)
    return Fmod.apply(a, b, dtype=dtype)


def pow(a, b):
    """``a ** b``; an integer tensor to a negative Python integer is an error, as in PyTorch."""
    if (isinstance(a, Tensor) and a.dtype.kind in "iub" and isinstance(b, numbers.Integral)
            and not isinstance(b, (bool, np.bool_)) and b < 0):
        raise RuntimeError(f"pow: Integers to negative integer powers are not allowed (a {a.dtype} tensor to the "
                           f"power {b}); use a floating base, e.g. x.float() ** {b}")
    a, b, dtype = operands(a, b, "pow")
    if dtype == _BOOL:
        dtype = np.dtype(np.int64)
    return Pow.apply(a, b, dtype=dtype)


@tensor_method()
def maximum(a, b):
    return _binary(Maximum, a, b)


@tensor_method()
def minimum(a, b):
    return _binary(Minimum, a, b)


def where(cond, a, b):
    """Elements of ``a`` where ``cond`` holds, else of ``b`` (broadcast, dtypes promoted as PyTorch);
    ``cond`` gets no gradient."""
    ref = a if isinstance(a, Tensor) else b if isinstance(b, Tensor) else cond if isinstance(cond, Tensor) else None
    cond = as_tensor(cond, ref)
    if ref is None:
        ref = cond
    if not isinstance(a, Tensor) and not isinstance(b, Tensor) and _is_scalar(a) and _is_scalar(b):
        a = Tensor._make(_scalar_array(a, result_type(a, b), ref))
    a, b, dtype = operands(a, b, "where")
    if cond.device != a.device:
        raise RuntimeError(f"where: expected all tensors on one device, got {cond.device} and {a.device}")
    return Where.apply(cond.data if cond.dtype.kind == "b" else cond.data != 0, a, b, dtype=dtype)


def neg(x):
    if x.dtype == _BOOL:
        raise TypeError("neg: negation, the `-` operator, is not supported for bool tensors; use `~` or "
                        "logical_not() to invert a mask")
    return Neg.apply(x)


@tensor_method()
def exp(x):
    return Exp.apply(float_input(x))


@tensor_method()
def log(x):
    return Log.apply(float_input(x))


@tensor_method()
def sqrt(x):
    return Sqrt.apply(float_input(x))


@tensor_method()
def sin(x):
    return Sin.apply(float_input(x))


@tensor_method()
def cos(x):
    return Cos.apply(float_input(x))


@tensor_method("abs", "__abs__")
def abs(x):
    if x.dtype == _BOOL:
        raise TypeError("abs: not supported for bool tensors")
    return Abs.apply(x)


@tensor_method("clip", "clamp")
def clip(x, min=None, max=None):
    """Limit values to [min, max] (Python numbers; either may be None); the result dtype follows PyTorch
    (``clip(int_tensor, max=2.5)`` is float32). The gradient passes where min <= x <= max."""
    if min is None and max is None:
        raise ValueError("clip: at least one of min and max must be given")
    for n, v in (("min", min), ("max", max)):
        if v is not None and not _is_scalar(v):
            raise TypeError(f"clip: {n} must be a Python number or None, got {type(v).__name__}")
    return Clip.apply(x, min=min, max=max, dtype=result_type(x, min, max))


clamp = clip


def _reflected(fn):
    return lambda a, b: fn(b, a)


def _or_not_implemented(fn):
    """A binary dunder that returns NotImplemented for operands it cannot take (so Python tries the other)."""
    def op(a, b):
        if not isinstance(b, (Tensor, numbers.Number, np.generic, np.ndarray, list, tuple)) and not hasattr(b, "shape"):
            return NotImplemented
        return fn(a, b)
    op.__name__ = getattr(fn, "__name__", "op")
    return op


for _names, _fn in [(("__add__", "__radd__"), add), (("__sub__", "__rsub__"), sub), (("__mul__", "__rmul__"), mul),
                    (("__truediv__", "__rtruediv__"), div), (("__floordiv__", "__rfloordiv__"), floor_divide),
                    (("__mod__", "__rmod__"), remainder), (("__pow__", "__rpow__"), pow)]:
    setattr(Tensor, _names[0], _or_not_implemented(_fn))
    setattr(Tensor, _names[1], _or_not_implemented(_reflected(_fn)))
Tensor.__neg__ = neg
Tensor.__pos__ = lambda a: a
Tensor.add, Tensor.sub, Tensor.mul, Tensor.div, Tensor.pow, Tensor.neg = add, sub, mul, div, pow, neg
Tensor.floor_divide, Tensor.remainder, Tensor.fmod = floor_divide, remainder, fmod


# --- comparisons: bool tensors, no gradient -------------------------------------------------------------
def _compare(op, name):
    def compare(a, b):
        if b is None:
            return name == "ne"
        a, b, dtype = operands(a, b, name)
        if a.device != b.device:
            raise RuntimeError(f"{name}: expected both tensors on one device, got {a.device} and {b.device}")
        x, y = _cast(a.data, dtype), _cast(b.data, dtype)
        try:
            return Tensor._make(op(x, y))
        except ValueError:
            check_broadcast(name, x.shape, y.shape)
            raise
    compare.__name__ = name
    return compare


eq = _compare(lambda a, b: a == b, "eq")
ne = _compare(lambda a, b: a != b, "ne")
lt = _compare(lambda a, b: a < b, "lt")
le = _compare(lambda a, b: a <= b, "le")
gt = _compare(lambda a, b: a > b, "gt")
ge = _compare(lambda a, b: a >= b, "ge")
Tensor.eq, Tensor.ne, Tensor.lt, Tensor.le, Tensor.gt, Tensor.ge = eq, ne, lt, le, gt, ge
Tensor.__eq__, Tensor.__ne__, Tensor.__lt__, Tensor.__le__, Tensor.__gt__, Tensor.__ge__ = eq, ne, lt, le, gt, ge


# --- bitwise: integer and bool tensors, no gradient -------------------------------------------------------------
def _bitwise(name, op, shift=False):
    def fn(a, b):
        a, b, dtype = operands(a, b, name)
        if dtype.kind not in ("iu" if shift else "iub"):
            kinds = "integer" if shift else "integer or bool"
            raise TypeError(f"{name}: expected {kinds} tensors, got {a.dtype} and {b.dtype}")
        if a.device != b.device:
            raise RuntimeError(f"{name}: expected both tensors on one device, got {a.device} and {b.device}")
        x, y = _cast(a.data, dtype), _cast(b.data, dtype)
        try:
            return Tensor._make(op(a.device.xp, x, y))
        except ValueError:
            check_broadcast(name, x.shape, y.shape)
            raise
    fn.__name__ = name
    return fn


def _shift_left(xp, a, s):
    """``a << s``; shifting by a negative amount or by the width or more gives 0, as in PyTorch."""
    bad = (s < 0) | (s >= a.dtype.itemsize * 8)
    zero = a.dtype.type(0)
    return xp.where(bad, zero, xp.left_shift(a, xp.where(bad, zero, s)))


def _shift_right(xp, a, s):
    """``a >> s`` (arithmetic); by a negative amount or by the width or more: -1 for negative ``a``, else 0."""
    zero = a.dtype.type(0)
    bad = (s < 0) | (s >= a.dtype.itemsize * 8)
    y = xp.right_shift(a, xp.where(bad, zero, s))
    fill = xp.where(a < 0, a.dtype.type(-1), zero) if a.dtype.kind == "i" else zero
    return xp.where(bad, fill, y)


bitwise_and = _bitwise("bitwise_and", lambda xp, a, b: a & b)
bitwise_or = _bitwise("bitwise_or", lambda xp, a, b: a | b)
bitwise_xor = _bitwise("bitwise_xor", lambda xp, a, b: a ^ b)
bitwise_left_shift = _bitwise("bitwise_left_shift", _shift_left, shift=True)
bitwise_right_shift = _bitwise("bitwise_right_shift", _shift_right, shift=True)


def bitwise_not(x):
    """``~x``: bitwise complement of an integer tensor, logical not of a bool tensor."""
    if x.dtype.kind not in "iub":
        raise TypeError(f"bitwise_not: ~ is only defined for integer and bool tensors, got {x.dtype}")
    return Tensor._make(~x.data)


for _names, _fn in [(("__and__", "__rand__"), bitwise_and), (("__or__", "__ror__"), bitwise_or),
                    (("__xor__", "__rxor__"), bitwise_xor), (("__lshift__", "__rlshift__"), bitwise_left_shift),
                    (("__rshift__", "__rrshift__"), bitwise_right_shift)]:
    setattr(Tensor, _names[0], _or_not_implemented(_fn))
    setattr(Tensor, _names[1], _or_not_implemented(_reflected(_fn)))
    setattr(Tensor, _fn.__name__, _fn)
Tensor.__invert__ = Tensor.bitwise_not = bitwise_not
