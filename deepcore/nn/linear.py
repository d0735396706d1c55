"""Linear, Identity and Flatten layers."""
from __future__ import annotations

import math

from .. import ops  # noqa: F401 - attaches Tensor methods
from ..backend import device as as_device
from ..backend.dtypes import as_dtype, default_float
from ..ops.linalg import linear
from ..ops.shape import flatten
from ..tensor import empty
from . import init
from .module import Module
from .parameter import Parameter


class Linear(Module):
    """y = x @ weight.T + bias, weight (out_features, in_features); ``in_features=None`` infers it at first call."""

    def __init__(self, in_features: int | None, out_features: int, bias: bool = True, device=None, dtype=None):
        super().__init__()
        if out_features <= 0 or (in_features is not None and in_features <= 0):
            raise ValueError(f"Linear: features must be positive, got in_features={in_features}, "
                             f"out_features={out_features}")
        self.in_features, self.out_features = in_features, out_features
        self._factory = dict(device=as_device(device), dtype=as_dtype(dtype) or default_float)
        if in_features is None:
            self.register_parameter("weight", None)  # created at the first call, from the input's last axis
        else:
            self.weight = Parameter(empty(out_features, in_features, **self._factory))
        self.register_parameter("bias", Parameter(empty(out_features, **self._factory)) if bias else None)
        if in_features is not None:
            self.reset_parameters()

    def reset_parameters(self) -> None:
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1 / math.sqrt(self.in_features)
            init.uniform_(self.bias, -bound, bound)

    def _materialize(self, x):
        self.in_features = x.shape[-1]
        self.weight = Parameter(empty(self.out_features, self.in_features, device=x.device,
                                      dtype=self._factory["dtype"]))
        if self.bias is not None and self.bias.device != x.device:
            self.bias.data = self.bias.to(x.device).data
        self.reset_parameters()

    def forward(self, x, *, activation=None):
        """``activation`` ("relu", "gelu", "gelu_tanh", "tanh", "sigmoid"): applied in the same op (what
        ``nn.Sequential`` asks for when an activation layer follows)."""
        if x.ndim == 0:
            raise ValueError("Linear: expected input of shape (..., in_features), got a scalar")
        if self.weight is None:
            self._materialize(x)
        if x.shape[-1] != self.in_features:
            raise ValueError(f"Linear: expected input with last dimension {self.in_features}, got shape {x.shape}")
        return linear(x, self.weight, self.bias, activation=activation)

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Identity(Module):
    """Returns its input unchanged (a placeholder layer)."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, x):
        return x


class Flatten(Module):
    """Flatten axes ``start_axis..end_axis`` (default: all but the batch axis)."""

    def __init__(self, start_axis: int = 1, end_axis: int = -1):
        super().__init__()
        self.start_axis, self.end_axis = start_axis, end_axis

    def forward(self, x):
        return flatten(x, self.start_axis, self.end_axis)

    def extra_repr(self):
        return f"start_axis={self.start_axis}, end_axis={self.end_axis}"
