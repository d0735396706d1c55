"""BatchNorm1d/2d (running statistics as buffers) and LayerNorm."""
from __future__ import annotations

from ..backend import device as as_device
from ..backend.dtypes import as_dtype, default_float
from ..ops.norm import batch_norm, layer_norm
from ..tensor import ones, zeros
from .module import Module
from .parameter import Parameter


class _BatchNorm(Module):
    _ndims, _shapes = (), ()

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1, affine: bool = True,
                 track_running_stats: bool = True, device=None, dtype=None):
        super().__init__()
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
        if x.ndim not in self._ndims or x.shape[1] != self.num_features:
            want = " or ".join(s.replace("C", str(self.num_features)) for s in self._shapes)
            raise ValueError(f"{type(self).__name__}: expected input of shape {want}, got {x.shape}")
        use_batch = self.training or not self.track_running_stats
        if self.training and self.track_running_stats:
            self.num_batches_tracked.data += 1
        return batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, training=use_batch,
                          momentum=self.momentum, eps=self.eps)

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

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True, device=None,
                 dtype=None):
        super().__init__()
        self.normalized_shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        self.eps = eps
        f = dict(device=as_device(device), dtype=as_dtype(dtype) or default_float)
        self.register_parameter("weight", Parameter(ones(self.normalized_shape, **f)) if elementwise_affine else None)
        self.register_parameter("bias", Parameter(zeros(self.normalized_shape, **f)) if elementwise_affine else None)

    def forward(self, x):
        n = len(self.normalized_shape)
        if x.shape[x.ndim - n:] != self.normalized_shape:
            raise ValueError(f"LayerNorm: expected input ending in {self.normalized_shape}, got shape {x.shape}")
        return layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return f"{self.normalized_shape}, eps={self.eps}"
