"""BatchNorm1d/2d (running statistics as buffers) and LayerNorm."""
from __future__ import annotations

from ..backend import device as as_device
from ..backend.dtypes import as_dtype, default_float
from ..errors import ShapeError
from ..ops.norm import batch_norm, layer_norm
from ..tensor import ones, zeros
from ._checks import check_dtype, integer, number, shape_tuple
from .module import Module
from .parameter import Parameter


class _BatchNorm(Module):
    _ndims, _shapes = (), ()

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1, affine: bool = True,
                 track_running_stats: bool = True, device=None, dtype=None):
        super().__init__()
        name = type(self).__name__
        num_features = integer(name, "num_features", num_features)
        eps = number(name, "eps", eps, low=0.0)
        momentum = number(name, "momentum", momentum, low=0.0, high=1.0)
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        f = dict(device=as_device(device), dtype=as_dtype(dtype) or default_float)
        self.register_parameter("weight", Parameter(ones(num_features, **f)) if affine else None)
        self.register_parameter("bias", Parameter(zeros(num_features, **f)) if affine else None)
        if track_running_stats:
            self.register_buffer("running_mean", zeros(num_features, **f))
            self.register_buffer("running_var", ones(num_features, **f))
            self.register_buffer("num_batches_tracked", zeros((), dtype="int64", device=f["device"]))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            self.running_mean.data[...] = 0
            self.running_var.data[...] = 1
            self.num_batches_tracked.data[...] = 0

    def forward(self, x):
        name = type(self).__name__
        if x.ndim not in self._ndims or x.shape[1] != self.num_features:
            want = " or ".join(s.replace("C", str(self.num_features)) for s in self._shapes)
            raise ShapeError(f"{name}: expected input of shape {want}, got {x.shape}")
        check_dtype(name, x, self.weight if self.weight is not None else self.running_mean,
                    "weight" if self.weight is not None else "running_mean")
        use_batch = self.training or not self.track_running_stats
        out = batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, training=use_batch,
                         momentum=self.momentum, eps=self.eps)
        if self.training and self.track_running_stats:    # after batch_norm validated the input
            self.num_batches_tracked.data += 1
        return out

    def extra_repr(self):
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}"


class BatchNorm1d(_BatchNorm):
    """Batch normalisation over (N, C) or (N, C, L) input."""
    _ndims, _shapes = (2, 3), ("(N, C)", "(N, C, L)")


class BatchNorm2d(_BatchNorm):
    """Batch normalisation over (N, C, H, W) input, per channel."""
    _ndims, _shapes = (4,), ("(N, C, H, W)",)


class LayerNorm(Module):
    """Normalise over the trailing ``normalized_shape`` axes, with elementwise weight and bias."""

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True, bias: bool = True,
                 device=None, dtype=None):
        super().__init__()
        self.normalized_shape = shape_tuple("LayerNorm", "normalized_shape", normalized_shape)
        self.eps = number("LayerNorm", "eps", eps, low=0.0)
        self.elementwise_affine = bool(elementwise_affine)
        f = dict(device=as_device(device), dtype=as_dtype(dtype) or default_float)
        self.register_parameter("weight", Parameter(ones(self.normalized_shape, **f)) if elementwise_affine else None)
        self.register_parameter("bias", Parameter(zeros(self.normalized_shape, **f))
                                if elementwise_affine and bias else None)

    def forward(self, x):
        n = len(self.normalized_shape)
        if x.ndim < n or x.shape[x.ndim - n:] != self.normalized_shape:
            raise ShapeError(f"LayerNorm: expected input ending in {self.normalized_shape}, got shape {x.shape}")
        check_dtype("LayerNorm", x, self.weight)
        return layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return f"{self.normalized_shape}, eps={self.eps}"
