"""Conv1d, Conv2d and ConvTranspose2d (PyTorch signatures, parameter layouts and default initialisation)."""
from __future__ import annotations

import math
import numbers

from ..backend import device as as_device
from ..backend.dtypes import as_dtype, default_float
from ..errors import ShapeError
from ..ops.conv import conv1d, conv2d, conv_transpose2d
from ..tensor import empty
from . import init
from ._checks import check_dtype
from .module import Module
from .parameter import Parameter


def _int(layer, name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{layer}: {name} must be an int, got {type(value).__name__} ({value!r})")
    if value < minimum:
        raise ValueError(f"{layer}: {name} must be >= {minimum}, got {value}")
    return int(value)


def _tuple(layer, name, value, n, minimum):
    """An int or an n-tuple of ints (each >= minimum) as an n-tuple."""
    items = tuple(value) if isinstance(value, (tuple, list)) else (value,) * n
    if len(items) != n:
        raise ValueError(f"{layer}: {name} must be an int or a tuple of {n} ints, got {value!r}")
    for v in items:
        if isinstance(v, bool) or not isinstance(v, numbers.Integral):
            raise TypeError(f"{layer}: {name} must be an int or a tuple of {n} ints, got {value!r}")
        if v < minimum:
            raise ValueError(f"{layer}: {name} must be >= {minimum}, got {value!r}")
    return tuple(int(v) for v in items)


class _ConvNd(Module):
    """Shared construction: validated arguments, parameters in PyTorch's layout, torch's initialisation."""

    _n = 2
    _transposed = False

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                 device, dtype, output_padding=0):
        super().__init__()
        layer, n = type(self).__name__, self._n
        self.in_channels = _int(layer, "in_channels", in_channels, 1)
        self.out_channels = _int(layer, "out_channels", out_channels, 1)
        self.groups = _int(layer, "groups", groups, 1)
        if in_channels % groups:
            raise ValueError(f"{layer}: in_channels ({in_channels}) must be divisible by groups ({groups})")
        if out_channels % groups:
            raise ValueError(f"{layer}: out_channels ({out_channels}) must be divisible by groups ({groups})")
        self.kernel_size = _tuple(layer, "kernel_size", kernel_size, n, 1)
        self.stride = _tuple(layer, "stride", stride, n, 1)
        if isinstance(padding, str):
            if padding not in ("valid", "same"):
                raise ValueError(f"{layer}: invalid padding string {padding!r}; expected 'valid', 'same' or ints")
            if self._transposed:
                raise ValueError(f"{layer}: padding must be an int or a tuple of {n} ints, got {padding!r}")
            self.padding = padding
        else:
            self.padding = _tuple(layer, "padding", padding, n, 0)
        self.dilation = _tuple(layer, "dilation", dilation, n, 1)
        if padding == "same" and self.stride != (1,) * n:
            raise ValueError(f"{layer}: padding='same' is not supported for strided convolutions")
        if self._transposed:
            self.output_padding = _tuple(layer, "output_padding", output_padding, n, 0)
            shape = (in_channels, out_channels // groups) + self.kernel_size
        else:
            shape = (out_channels, in_channels // groups) + self.kernel_size
        factory = dict(device=as_device(device), dtype=as_dtype(dtype) or default_float)
        self.weight = Parameter(empty(*shape, **factory))
        self.register_parameter("bias", Parameter(empty(out_channels, **factory)) if bias else None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.weight.shape[1] * math.prod(self.kernel_size)   # torch: fan_in of weight's layout
            bound = 1 / math.sqrt(fan_in)
            init.uniform_(self.bias, -bound, bound)

    def _check_input(self, x):
        n = self._n
        if x.ndim not in (n + 1, n + 2) or x.shape[-n - 1] != self.in_channels:
            spatial = ", ".join("HW"[:n] if n == 2 else "L")
            raise ShapeError(f"{type(self).__name__}: expected input of shape (N, {self.in_channels}, {spatial}) or "
                             f"({self.in_channels}, {spatial}), got {x.shape}")
        check_dtype(type(self).__name__, x, self.weight)

    def extra_repr(self):
        n = self._n
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0,) * n and self.padding != "valid":
            s += f", padding={self.padding}"
        if self.dilation != (1,) * n:
            s += f", dilation={self.dilation}"
        if self._transposed and self.output_padding != (0,) * n:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        return s + ("" if self.bias is not None else ", bias=False")


class Conv2d(_ConvNd):
    """2-D convolution over (N, C, H, W) input; weight (out_channels, in_channels/groups, kh, kw)."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias, device,
                         dtype)

    def forward(self, x, *, activation=None):
        """``activation`` as in :meth:`deepcore.nn.Linear.forward` (fused by ``nn.Sequential``)."""
        self._check_input(x)
        return conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups,
                      activation=activation)


class Conv1d(_ConvNd):
    """1-D convolution over (N, C, L) input; weight (out_channels, in_channels/groups, k)."""

    _n = 1

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias, device,
                         dtype)

    def forward(self, x):
        self._check_input(x)
        return conv1d(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)


class ConvTranspose2d(_ConvNd):
    """Transposed 2-D convolution over (N, C, H, W) input; weight (in_channels, out_channels/groups, kh, kw)."""

    _transposed = True

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0, groups=1,
                 bias=True, dilation=1, device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias, device,
                         dtype, output_padding=output_padding)
        for op, s, d in zip(self.output_padding, self.stride, self.dilation):
            if op >= s and op >= d:
                raise ValueError(f"ConvTranspose2d: output_padding must be smaller than either stride or dilation, "
                                 f"got output_padding={self.output_padding}, stride={self.stride}, "
                                 f"dilation={self.dilation}")

    def forward(self, x, output_size=None):
        self._check_input(x)
        output_padding = self.output_padding
        if output_size is not None:
            output_padding = self._output_padding_for(x, output_size)
        return conv_transpose2d(x, self.weight, self.bias, self.stride, self.padding, output_padding, self.groups,
                                self.dilation)

    def _output_padding_for(self, x, output_size):
        """The output_padding that gives ``output_size`` (the last two entries are used, as in torch)."""
        size = tuple(output_size)[-2:]
        pads = []
        for i, want in enumerate(size):
            low = ((x.shape[-2 + i] - 1) * self.stride[i] - 2 * self.padding[i]
                   + self.dilation[i] * (self.kernel_size[i] - 1) + 1)
            if not low <= want < low + self.stride[i]:
                raise ValueError(f"ConvTranspose2d: requested output size {tuple(size)} is not reachable; dimension "
                                 f"{i} must be in [{low}, {low + self.stride[i] - 1}]")
            pads.append(want - low)
        return tuple(pads)
