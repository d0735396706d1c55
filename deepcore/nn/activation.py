"""Activation layers: thin Modules over the functional forms."""
from __future__ import annotations

from ..ops import activation as A
from ..tensor import full
from ._checks import check_dtype
from .module import Module
from .parameter import Parameter


class _Activation(Module):
    _fn = None
    _args = ()

    def __init__(self, **kwargs):
        super().__init__()
        for k, v in kwargs.items():
            setattr(self, k, v)

    def forward(self, x):
        return type(self)._fn(x, **{k: getattr(self, k) for k in self._args})

    def extra_repr(self):
        return ", ".join(f"{k}={getattr(self, k)}" for k in self._args)


class ReLU(_Activation):
    _fn = staticmethod(A.relu)
    fused_activation = "relu"

    def __init__(self, inplace: bool = False):
        super().__init__(inplace=inplace)


class Sigmoid(_Activation):
    _fn = staticmethod(A.sigmoid)
    fused_activation = "sigmoid"


class Tanh(_Activation):
    _fn = staticmethod(A.tanh)
    fused_activation = "tanh"


class GELU(_Activation):
    """x * Phi(x), or PyTorch's tanh approximation with ``approximate="tanh"``."""
    _fn, _args = staticmethod(A.gelu), ("approximate",)

    def __init__(self, approximate: str = "none"):
        A.gelu_activation(approximate)  # validates
        super().__init__(approximate=approximate)

    @property
    def fused_activation(self):
        return A.gelu_activation(self.approximate)


class Softsign(_Activation):
    _fn = staticmethod(A.softsign)


class LeakyReLU(_Activation):
    _fn, _args = staticmethod(A.leaky_relu), ("negative_slope",)

    def __init__(self, negative_slope: float = 0.01):
        super().__init__(negative_slope=negative_slope)


class ELU(_Activation):
    _fn, _args = staticmethod(A.elu), ("alpha",)

    def __init__(self, alpha: float = 1.0):
        super().__init__(alpha=alpha)


class Softplus(_Activation):
    _fn, _args = staticmethod(A.softplus), ("beta", "threshold")

    def __init__(self, beta: float = 1.0, threshold: float = 20.0):
        super().__init__(beta=beta, threshold=threshold)


class Hardtanh(_Activation):
    _fn, _args = staticmethod(A.hardtanh), ("min_val", "max_val")

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0):
        if min_val >= max_val:
            raise ValueError(f"Hardtanh: min_val ({min_val}) must be less than max_val ({max_val})")
        super().__init__(min_val=min_val, max_val=max_val)


class Softmax(_Activation):
    _fn, _args = staticmethod(A.softmax), ("axis",)

    def __init__(self, axis: int = -1, dim: int | None = None):
        super().__init__(axis=axis if dim is None else dim)


class LogSoftmax(_Activation):
    _fn, _args = staticmethod(A.log_softmax), ("axis",)

    def __init__(self, axis: int = -1, dim: int | None = None):
        super().__init__(axis=axis if dim is None else dim)


class PReLU(Module):
    """Leaky ReLU with a learned slope: one shared (num_parameters=1) or one per channel (axis 1)."""

    def __init__(self, num_parameters: int = 1, init: float = 0.25, device=None, dtype=None):
        super().__init__()
        self.num_parameters = num_parameters
        self.weight = Parameter(full((num_parameters,), init, dtype=dtype or "float32", device=device))

    def forward(self, x):
        check_dtype("PReLU", x, self.weight)
        return A.prelu(x, self.weight)

    def extra_repr(self):
        return f"num_parameters={self.num_parameters}"


class _InplaceActivation(_Activation):
    """An activation with PyTorch's ``inplace`` argument: accepted and recorded; the result is a new tensor."""

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace


class SiLU(_InplaceActivation):
    """x * sigmoid(x)."""
    _fn = staticmethod(A.silu)


class SELU(_InplaceActivation):
    _fn = staticmethod(A.selu)


class ReLU6(_InplaceActivation):
    _fn = staticmethod(A.relu6)


class Hardswish(_InplaceActivation):
    _fn = staticmethod(A.hardswish)


class Hardsigmoid(_InplaceActivation):
    _fn = staticmethod(A.hardsigmoid)


class Mish(_InplaceActivation):
    _fn = staticmethod(A.mish)


class LogSigmoid(_Activation):
    _fn = staticmethod(A.logsigmoid)


class CELU(_Activation):
    _fn, _args = staticmethod(A.celu), ("alpha",)

    def __init__(self, alpha: float = 1.0, inplace: bool = False):
        if alpha == 0:
            raise ValueError("CELU: alpha must not be 0")
        super().__init__(alpha=alpha, inplace=inplace)


class Softmin(_Activation):
    """softmax(-x) along ``dim`` (default: the last axis)."""
    _fn, _args = staticmethod(A.softmin), ("axis",)

    def __init__(self, dim: int | None = None, axis: int | None = None):
        super().__init__(axis=-1 if dim is None and axis is None else (dim if dim is not None else axis))
