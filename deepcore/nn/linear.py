"""Linear, Identity and Flatten layers."""
from __future__ import annotations

import math

from .. import ops  # noqa: F401 - attaches Tensor methods
from ..backend import device as as_device
from ..backend.dtypes import as_dtype, default_float
from ..errors import ShapeError
from ..ops.linalg import linear
from ..ops.shape import flatten
from ..tensor import empty
from . import init
from ._checks import check_dtype, integer
from .module import Module
from .parameter import Parameter


class Linear(Module):
    """y = x @ weight.T + bias, weight (out_features, in_features); ``in_features=None`` infers it at first call."""

    def __init__(self, in_features: int | None, out_features: int, bias: bool = True, device=None, dtype=None):
        super().__init__()
        in_features = integer("Linear", "in_features", in_features, none_ok=True)
        out_features = integer("Linear", "out_features", out_features)
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

    def to(self, *args, device=None, dtype=None) -> "Linear":
        """As Module.to; a lazy Linear also remembers the dtype for the weight it creates at the first call."""
        super().to(*args, device=device, dtype=dtype)
        if self.weight is None:
            for a in args:
                name = a.lower() if isinstance(a, str) else ""
                is_device = (name in ("cpu", "cuda", "gpu") or name.startswith("cuda:")
                             or (hasattr(a, "type") and hasattr(a, "index")))
                if not is_device:
                    dtype = a
            if dtype is not None:
                self._factory["dtype"] = as_dtype(dtype)
        return self

    def forward(self, x, *, activation=None):
        """``activation`` ("relu", "gelu", "gelu_tanh", "tanh", "sigmoid"): applied in the same op (what
        ``nn.Sequential`` asks for when an activation layer follows)."""
        if x.ndim == 0:
            raise ShapeError("Linear: expected input of shape (..., in_features), got a scalar")
        if self.weight is None:
            self._materialize(x)
        if x.shape[-1] != self.in_features:
            raise ShapeError(f"Linear: expected input with last dimension {self.in_features}, got shape {x.shape}")
        check_dtype("Linear", x, self.weight)
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
    """Flatten axes ``start_dim..end_dim`` (default: all but the batch axis); ``start_axis``/``end_axis`` are
    the same arguments under deepcore's earlier names."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1, *, start_axis: int | None = None,
                 end_axis: int | None = None):
        super().__init__()
        start_dim = start_dim if start_axis is None else start_axis
        end_dim = end_dim if end_axis is None else end_axis
        self.start_dim = integer("Flatten", "start_dim", start_dim, low=None)
        self.end_dim = integer("Flatten", "end_dim", end_dim, low=None)

    @property
    def start_axis(self) -> int:
        return self.start_dim

    @property
    def end_axis(self) -> int:
        return self.end_dim

    def forward(self, x):
        return flatten(x, self.start_dim, self.end_dim)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"
