"""Pooling layers over (N, C, H, W) input."""
from __future__ import annotations

from ..ops.pool import adaptive_avg_pool2d, avg_pool2d, max_pool2d
from .module import Module


class _Pool2d(Module):
    _fn = None

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding

    def forward(self, x):
        if x.ndim != 4:
            raise ValueError(f"{type(self).__name__}: expected input of shape (N, C, H, W), got {x.shape}")
        return type(self)._fn(x, self.kernel_size, self.stride, self.padding)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride or self.kernel_size}, padding={self.padding}"


class MaxPool2d(_Pool2d):
    """Maximum over each window; stride defaults to kernel_size."""
    _fn = staticmethod(max_pool2d)


class AvgPool2d(_Pool2d):
    """Mean over each window (padding counts as zeros, like PyTorch's default)."""
    _fn = staticmethod(avg_pool2d)


class AdaptiveAvgPool2d(Module):
    """Average-pool to a fixed output size (an int or an (h, w) pair)."""

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, x):
        if x.ndim != 4:
            raise ValueError(f"AdaptiveAvgPool2d: expected input of shape (N, C, H, W), got {x.shape}")
        return adaptive_avg_pool2d(x, self.output_size)

    def extra_repr(self):
        return f"output_size={self.output_size}"
