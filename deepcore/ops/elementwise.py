"""Elementwise arithmetic and math with NumPy broadcasting; gradients are summed back to input shapes."""
from __future__ import annotations

from ..autograd import Function
from ..tensor import Tensor
from ._util import as_tensor, sum_to, tensor_method


def _binary(fn_cls, a, b):
    if not isinstance(a, Tensor):
        a = as_tensor(a, b)
    b = as_tensor(b, a)
    return fn_cls.apply(a, b)


def _broadcast_error(name, a, b):
    return ValueError(f"{name}: shapes {tuple(a.shape)} and {tuple(b.shape)} cannot be broadcast together")


class _Binary(Function):
    """Forward ``op`` with a clear broadcasting error; remembers input shapes for un-broadcasting."""
    name = "op"

    def forward(self, a, b):
        self.shapes = (a.shape, b.shape)
        try:
            return self.compute(a, b)
        except ValueError:
            raise _broadcast_error(self.name, a, b) from None


class Add(_Binary):
    name = "add"

    def compute(self, a, b):
        return a + b

    def backward(self, gy):
        return sum_to(gy, self.shapes[0]), sum_to(gy, self.shapes[1])


class Sub(_Binary):
    name = "sub"

    def compute(self, a, b):
        return a - b

    def backward(self, gy):
        return sum_to(gy, self.shapes[0]), (sum_to(-gy, self.shapes[1]) if self.needs_input_grad[1] else None)


class Mul(_Binary):
    name = "mul"

    def compute(self, a, b):
        self.save_for_backward(a if self.needs_input_grad[1] else None, b if self.needs_input_grad[0] else None)
        return a * b

    def backward(self, gy):
        a, b = self.saved_tensors
        ga = sum_to(gy * b, self.shapes[0]) if self.needs_input_grad[0] else None
        gb = sum_to(gy * a, self.shapes[1]) if self.needs_input_grad[1] else None
        return ga, gb


class Div(_Binary):
    name = "div"

    def compute(self, a, b):
        y = a / b
        self.save_for_backward(b, y if self.needs_input_grad[1] else None)
        return y

    def backward(self, gy):
        b, y = self.saved_tensors
        ga = gy / b
        gb = sum_to(-ga * y, self.shapes[1]) if self.needs_input_grad[1] else None
        return sum_to(ga, self.shapes[0]) if self.needs_input_grad[0] else None, gb


class Pow(_Binary):
    name = "pow"

    def compute(self, a, b):
        y = a ** b
        self.save_for_backward(a, b, y)
        return y

    def backward(self, gy):
        a, b, y = self.saved_tensors
        xp = self._xp
        ga = sum_to(gy * b * a ** (b - 1), self.shapes[0]) if self.needs_input_grad[0] else None
        gb = None
        if self.needs_input_grad[1]:
            safe = xp.where(a > 0, a, 1)  # d/db a**b = a**b log a, taken as 0 where a <= 0
            gb = sum_to(gy * y * xp.log(safe), self.shapes[1])
        return ga, gb


class Maximum(_Binary):
    name = "maximum"

    def compute(self, a, b):
        xp = self._xp
        self.save_for_backward(a >= b)
        return xp.maximum(a, b)

    def backward(self, gy):
        (mask,) = self.saved_tensors
        return sum_to(gy * mask, self.shapes[0]), sum_to(gy * ~mask, self.shapes[1])


class Minimum(_Binary):
    name = "minimum"

    def compute(self, a, b):
        xp = self._xp
        self.save_for_backward(a <= b)
        return xp.minimum(a, b)

    def backward(self, gy):
        (mask,) = self.saved_tensors
        return sum_to(gy * mask, self.shapes[0]), sum_to(gy * ~mask, self.shapes[1])


class Where(Function):
    def forward(self, cond, a, b):
        xp = self._xp
        self.shapes = (a.shape, b.shape)
        self.save_for_backward(cond)
        try:
            return xp.where(cond, a, b)
        except ValueError:
            raise ValueError(f"where: shapes {tuple(cond.shape)}, {tuple(a.shape)} and {tuple(b.shape)} cannot be "
                             "broadcast together") from None

    def backward(self, gy):
        (cond,) = self.saved_tensors
        zero = gy.dtype.type(0)
        xp = self._xp
        return (None, sum_to(xp.where(cond, gy, zero), self.shapes[0]),
                sum_to(xp.where(cond, zero, gy), self.shapes[1]))


class Neg(Function):
    def forward(self, x):
        return -x

    def backward(self, gy):
        return -gy


class _Unary(Function):
    """Unary op whose derivative is computed from the saved input and/or output."""

    def forward(self, x):
        y = self.f(self._xp, x)
        self.save_for_backward(x, y)
        return y

    def backward(self, gy):
        x, y = self.saved_tensors
        return gy * self.df(self._xp, x, y)


def _unary(name, f, df):
    cls = type(name, (_Unary,), {"f": staticmethod(f), "df": staticmethod(df),
                                  "__doc__": f"Elementwise {name.lower()}."})
    return cls


Exp = _unary("Exp", lambda xp, x: xp.exp(x), lambda xp, x, y: y)
Log = _unary("Log", lambda xp, x: xp.log(x), lambda xp, x, y: 1 / x)
Sqrt = _unary("Sqrt", lambda xp, x: xp.sqrt(x), lambda xp, x, y: 0.5 / y)
Sin = _unary("Sin", lambda xp, x: xp.sin(x), lambda xp, x, y: xp.cos(x))
Cos = _unary("Cos", lambda xp, x: xp.cos(x), lambda xp, x, y: -xp.sin(x))
Abs = _unary("Abs", lambda xp, x: xp.abs(x), lambda xp, x, y: xp.sign(x))


class Clip(Function):
    def forward(self, x):
        xp = self._xp
        lo = -xp.inf if self.min is None else self.min
        hi = xp.inf if self.max is None else self.max
        self.save_for_backward((x >= lo) & (x <= hi))
        return xp.clip(x, lo, hi).astype(x.dtype, copy=False)

    def backward(self, gy):
        (mask,) = self.saved_tensors
        return gy * mask


# --- public functions -------------------------------------------------------------------------------
def add(a, b):
    return _binary(Add, a, b)


def sub(a, b):
    return _binary(Sub, a, b)


def mul(a, b):
    return _binary(Mul, a, b)


def div(a, b):
    return _binary(Div, a, b)


def pow(a, b):
    return _binary(Pow, a, b)


@tensor_method()
def maximum(a, b):
    return _binary(Maximum, a, b)


@tensor_method()
def minimum(a, b):
    return _binary(Minimum, a, b)


def where(cond, a, b):
    """Elements of ``a`` where ``cond`` holds, else of ``b`` (broadcast); ``cond`` gets no gradient."""
    ref = a if isinstance(a, Tensor) else b if isinstance(b, Tensor) else None
    cond = as_tensor(cond, ref)
    if ref is None:
        a = as_tensor(a)
    a = as_tensor(a, b if isinstance(b, Tensor) else None)
    b = as_tensor(b, a)
    return Where.apply(cond.data if cond.dtype.kind == "b" else cond.data != 0, a, b)


def neg(x):
    return Neg.apply(x)


@tensor_method()
def exp(x):
    return Exp.apply(x)


@tensor_method()
def log(x):
    return Log.apply(x)


@tensor_method()
def sqrt(x):
    return Sqrt.apply(x)


@tensor_method()
def sin(x):
    return Sin.apply(x)


@tensor_method()
def cos(x):
    return Cos.apply(x)


@tensor_method("abs", "__abs__")
def abs(x):
    return Abs.apply(x)


@tensor_method("clip", "clamp")
def clip(x, min=None, max=None):
    """Limit values to [min, max]; the gradient passes where the value was inside the range."""
    if min is None and max is None:
        raise ValueError("clip: at least one of min and max must be given")
    return Clip.apply(x, min=min, max=max)


clamp = clip

Tensor.__add__ = lambda a, b: add(a, b)
Tensor.__radd__ = lambda a, b: add(b, a)
Tensor.__sub__ = lambda a, b: sub(a, b)
Tensor.__rsub__ = lambda a, b: sub(b, a)
Tensor.__mul__ = lambda a, b: mul(a, b)
Tensor.__rmul__ = lambda a, b: mul(b, a)
Tensor.__truediv__ = lambda a, b: div(a, b)
Tensor.__rtruediv__ = lambda a, b: div(b, a)
Tensor.__pow__ = lambda a, b: pow(a, b)
Tensor.__rpow__ = lambda a, b: pow(b, a)
Tensor.__neg__ = neg
Tensor.__pos__ = lambda a: a
Tensor.add, Tensor.sub, Tensor.mul, Tensor.div, Tensor.pow, Tensor.neg = add, sub, mul, div, pow, neg


# --- comparisons and logic: bool tensors, no gradient -------------------------------------------------
def _compare(op, name):
    def compare(a, b):
        b = as_tensor(b, a)
        if a.device != b.device:
            raise RuntimeError(f"{name}: expected both tensors on one device, got {a.device} and {b.device}")
        try:
            return Tensor._make(op(a.data, b.data))
        except ValueError:
            raise _broadcast_error(name, a.data, b.data) from None
    compare.__name__ = name
    return compare


Tensor.__eq__ = _compare(lambda a, b: a == b, "eq")
Tensor.__ne__ = _compare(lambda a, b: a != b, "ne")
Tensor.__lt__ = _compare(lambda a, b: a < b, "lt")
Tensor.__le__ = _compare(lambda a, b: a <= b, "le")
Tensor.__gt__ = _compare(lambda a, b: a > b, "gt")
Tensor.__ge__ = _compare(lambda a, b: a >= b, "ge")
Tensor.__and__ = _compare(lambda a, b: a & b, "and")
Tensor.__or__ = _compare(lambda a, b: a | b, "or")
Tensor.__xor__ = _compare(lambda a, b: a ^ b, "xor")
Tensor.__invert__ = lambda a: Tensor._make(~a.data)
Tensor.eq, Tensor.ne, Tensor.lt, Tensor.le, Tensor.gt, Tensor.ge = (
    Tensor.__eq__, Tensor.__ne__, Tensor.__lt__, Tensor.__le__, Tensor.__gt__, Tensor.__ge__)
