"""``keras.activations``: activation functions by name (``Dense(activation="relu")``) or as callables."""
from __future__ import annotations

from ..ops import activation as _A
from ..ops import elementwise as _E
from ._ops import affine, scale

_SELU_ALPHA = 1.6732632423543772
_SELU_SCALE = 1.0507009873554805


def linear(x):
    return x


def relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    if negative_slope == 0.0 and max_value is None and threshold == 0.0:
        return _A.relu(x)
    y = _E.where(x > threshold, x, affine(x, negative_slope, -threshold * negative_slope))
    return y if max_value is None else _E.clip(y, None, max_value)


def relu6(x):
    return _E.clip(x, 0.0, 6.0)


def leaky_relu(x, negative_slope=0.2):
    return _A.leaky_relu(x, negative_slope)


def sigmoid(x):
    return _A.sigmoid(x)


def hard_sigmoid(x):
    """Keras 3's hard sigmoid: ``relu6(x + 3) / 6``."""
    return _E.clip(affine(x, 1.0 / 6.0, 0.5), 0.0, 1.0)


def tanh(x):
    return _A.tanh(x)


def softmax(x, axis=-1):
    return _A.softmax(x, axis=axis)


def log_softmax(x, axis=-1):
    return _A.log_softmax(x, axis=axis)


def elu(x, alpha=1.0):
    return _A.elu(x, alpha)


def selu(x):
    return scale(_A.elu(x, _SELU_ALPHA), _SELU_SCALE)


def softplus(x):
    return _A.softplus(x)


def softsign(x):
    return _A.softsign(x)


def exponential(x):
    return _E.exp(x)


def silu(x):
    return x * _A.sigmoid(x)


swish = silu


def mish(x):
    return x * _A.tanh(_A.softplus(x))


def gelu(x, approximate=False):
    """GELU; the exact form needs an ``erf`` op, the tanh approximation (``approximate=True``) does not."""
    if approximate:
        c = 0.7978845608028654  # sqrt(2 / pi)
        return scale(x, 0.5) * affine(_A.tanh(scale(x + scale(x * x * x, 0.044715), c)), 1.0, 1.0)
    from .. import ops
    erf = getattr(getattr(ops, "elementwise", None), "erf", None) or getattr(__import__("deepcore"), "erf", None)
    if erf is None:
        raise NotImplementedError("gelu(approximate=False) needs an erf op; use gelu(x, approximate=True)")
    return scale(x, 0.5) * affine(erf(scale(x, 0.7071067811865476)), 1.0, 1.0)


_BY_NAME = {f.__name__: f for f in (linear, relu, relu6, leaky_relu, sigmoid, hard_sigmoid, tanh, softmax,
                                   log_softmax, elu, selu, softplus, softsign, exponential, silu, mish, gelu)}
_BY_NAME["swish"] = silu


def get(identifier):
    """The activation for a name (``"relu"``), a callable (returned as is) or None (linear)."""
    if identifier is None:
        return linear
    if isinstance(identifier, str):
        key = identifier.strip().lower()
        if key not in _BY_NAME:
            raise ValueError(f"unknown activation {identifier!r}; accepted: {', '.join(sorted(_BY_NAME))}, "
                             "or a callable")
        return _BY_NAME[key]
    if callable(identifier):
        return identifier
    raise TypeError(f"activation must be a name or a callable, got {type(identifier).__name__}")


def serialize(fn) -> str:
    return getattr(fn, "__name__", type(fn).__name__)
