"""2-D pooling over NCHW tensors: max, average (count_include_pad=True) and adaptive average.

The generic paths visit the kh*kw window offsets, each a strided view of the (padded) input, so they
run unchanged on numpy and cupy. Fast paths (deepcore.backend.fastpath), compared with the generic path
in the tests: numba for max-pool forward and backward on the CPU, CUDA kernels (``kernels/pool.cu``, one
launch each) for max/avg pooling forward and backward on the GPU. Max pooling records each window's argmax
as its offset i * KW + j inside the window, in every implementation.
"""
from __future__ import annotations

import numpy as np

from ..autograd import Function
from ..backend import fastpath
from ..tensor import Tensor
from . import _cuda
from ._util import as_tensor, numba_kernels as _numba_kernels
from .conv import _pair

__all__ = ["max_pool2d", "avg_pool2d", "adaptive_avg_pool2d"]


def _window(a, i, j, oh, ow, stride):
    """The (N, C, OH, OW) view of ``a`` seen by kernel offset (i, j) of every window."""
    sh, sw = stride
    return a[:, :, i:i + sh * (oh - 1) + 1:sh, j:j + sw * (ow - 1) + 1:sw]


def _padded(xp, x, padding, fill):
    ph, pw = padding
    if not (ph or pw):
        return x
    n, c, h, w = x.shape
    out = xp.full((n, c, h + 2 * ph, w + 2 * pw), fill, dtype=x.dtype)
    out[:, :, ph:ph + h, pw:pw + w] = x
    return out


def _pool_args(x_shape, kernel, out_hw, stride, padding, total):
    h, w = x_shape[2:]
    ints = (h, w, *kernel, *out_hw, *stride, *padding)
    return tuple(np.int32(v) for v in ints) + (np.int64(total),)


def _cuda_pool(name, arrays, like, total, x_shape, kernel, out_hw, stride, padding):
    """Launch pool.cu's ``name`` (dtype suffix added) over ``total`` elements."""
    _cuda.launch_1d("pool.cu", f"{name}_{_cuda.suffix(like.dtype)}", like, total,
                    tuple(arrays) + _pool_args(x_shape, kernel, out_hw, stride, padding, total))


def _floats(a, *_):
    return _cuda.floats(a)


# ---------------------------------------------------------------------------------------------------------
# max pooling

def _maxpool_forward_xp(xp, x, kernel, out_hw, stride, padding):
    """Generic max-pool forward: window maxima and each window's argmax offset i * KW + j."""
    kh, kw = kernel
    oh, ow = out_hw
    low = -np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min
    xpad = _padded(xp, x, padding, low)
    y = _window(xpad, 0, 0, oh, ow, stride).copy()
    arg = xp.zeros(y.shape, dtype=np.int32)
    for k in range(1, kh * kw):
        v = _window(xpad, k // kw, k % kw, oh, ow, stride)
        better = v > y
        if x.dtype.kind == "f":
            better |= v != v  # NaN wins, as in PyTorch
        xp.copyto(y, v, where=better)
        xp.copyto(arg, k, where=better)
    return y, arg


def _maxpool_backward_xp(xp, arg, gy, x_shape, kernel, stride, padding):
    """Generic max-pool backward: ``arg`` holds each window's argmax offset i * KW + j."""
    n, c, h, w = x_shape
    kh, kw = kernel
    ph, pw = padding
    oh, ow = gy.shape[2:]
    gpad = xp.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=gy.dtype)
    zero = xp.zeros((), dtype=gy.dtype)
    for i in range(kh):
        for j in range(kw):
            _window(gpad, i, j, oh, ow, stride)[...] += xp.where(arg == i * kw + j, gy, zero)
    return xp.ascontiguousarray(gpad[:, :, ph:ph + h, pw:pw + w])


def _maxpool_forward(xp, x, kernel, out_hw, stride, padding):
    fast = fastpath.select("max_pool2d", x, kernel, out_hw, stride, padding)
    if fast is not None:
        return fast(x, kernel, out_hw, stride, padding)
    return _maxpool_forward_xp(xp, x, kernel, out_hw, stride, padding)


def _maxpool_backward(xp, arg, gy, x_shape, kernel, stride, padding):
    fast = fastpath.select("max_pool2d_backward", arg, gy, x_shape, kernel, stride, padding)
    if fast is not None:
        return fast(arg, gy, x_shape, kernel, stride, padding)
    return _maxpool_backward_xp(xp, arg, gy, x_shape, kernel, stride, padding)


@fastpath.override("max_pool2d", "cpu", when=lambda x, *_: x.dtype in _cuda.FLOATS and _numba_kernels())
def _maxpool_forward_numba(x, kernel, out_hw, stride, padding):
    """Copy each kernel offset's window view into one (K, P) buffer, reduce it with numba."""
    kh, kw = kernel
    xpad = _padded(np, x, padding, -np.inf)
    taps = np.empty((kh * kw, x.shape[0], x.shape[1]) + tuple(out_hw), dtype=x.dtype)
    for k in range(kh * kw):
        taps[k] = _window(xpad, k // kw, k % kw, *out_hw, stride)
    y = np.empty(taps.shape[1:], dtype=x.dtype)
    arg = np.empty(y.shape, dtype=np.int32)
    _numba_kernels().max_over_taps(taps.reshape(kh * kw, -1), y.reshape(-1), arg.reshape(-1))
    return y, arg


@fastpath.override("max_pool2d_backward", "cpu",
                   when=lambda arg, gy, *_: gy.dtype in _cuda.FLOATS and _numba_kernels())
def _maxpool_backward_numba(arg, gy, x_shape, kernel, stride, padding):
    return _numba_kernels().maxpool_backward(arg, gy, x_shape[2], x_shape[3], kernel[1], *stride, *padding)


@fastpath.override("max_pool2d", "cuda", when=_floats)
def _maxpool_forward_cuda(x, kernel, out_hw, stride, padding):
    """One launch: window maxima and argmax offsets."""
    import cupy
    x = cupy.ascontiguousarray(x)
    y = cupy.empty(x.shape[:2] + tuple(out_hw), dtype=x.dtype)
    arg = cupy.empty(y.shape, dtype=np.int32)
    _cuda_pool("maxpool_fwd", (x, y, arg), x, y.size, x.shape, kernel, out_hw, stride, padding)
    return y, arg


@fastpath.override("max_pool2d_backward", "cuda", when=lambda arg, gy, *_: _cuda.floats(gy))
def _maxpool_backward_cuda(arg, gy, x_shape, kernel, stride, padding):
    """One launch, a gather over the input: each element sums the windows whose argmax it is."""
    import cupy
    gy, arg = cupy.ascontiguousarray(gy), cupy.ascontiguousarray(arg)
    gx = cupy.empty(x_shape, dtype=gy.dtype)
    _cuda_pool("maxpool_bwd", (gy, arg, gx), gy, gx.size, x_shape, kernel, gy.shape[2:], stride, padding)
    return gx


class MaxPool2d(Function):
    """y = max over each window (padding counts as -inf); backward sends gy to the argmax of its window."""

    def forward(self, x):
        self.x_shape = x.shape
        y, arg = _maxpool_forward(self._xp, x, self.kernel, self.out_hw, self.stride, self.padding)
        self.save_for_backward(arg)
        return y

    def backward(self, gy):
        (arg,) = self.saved_tensors
        return _maxpool_backward(self._xp, arg, gy, self.x_shape, self.kernel, self.stride, self.padding)


# ---------------------------------------------------------------------------------------------------------
# average pooling

def _avgpool_forward_xp(xp, x, kernel, out_hw, stride, padding):
    kh, kw = kernel
    oh, ow = out_hw
    xpad = _padded(xp, x, padding, 0)
    y = _window(xpad, 0, 0, oh, ow, stride).copy()
    for k in range(1, kh * kw):
        y += _window(xpad, k // kw, k % kw, oh, ow, stride)
    y *= 1.0 / (kh * kw)
    return y


def _avgpool_backward_xp(xp, gy, x_shape, kernel, stride, padding):
    n, c, h, w = x_shape
    kh, kw = kernel
    ph, pw = padding
    oh, ow = gy.shape[2:]
    gpad = xp.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=gy.dtype)
    share = gy * (1.0 / (kh * kw))
    for i in range(kh):
        for j in range(kw):
            _window(gpad, i, j, oh, ow, stride)[...] += share
    return xp.ascontiguousarray(gpad[:, :, ph:ph + h, pw:pw + w])


@fastpath.override("avg_pool2d", "cuda", when=_floats)
def _avgpool_forward_cuda(x, kernel, out_hw, stride, padding):
    import cupy
    x = cupy.ascontiguousarray(x)
    y = cupy.empty(x.shape[:2] + tuple(out_hw), dtype=x.dtype)
    _cuda_pool("avgpool_fwd", (x, y), x, y.size, x.shape, kernel, out_hw, stride, padding)
    return y


@fastpath.override("avg_pool2d_backward", "cuda", when=_floats)
def _avgpool_backward_cuda(gy, x_shape, kernel, stride, padding):
    import cupy
    gy = cupy.ascontiguousarray(gy)
    gx = cupy.empty(x_shape, dtype=gy.dtype)
    _cuda_pool("avgpool_bwd", (gy, gx), gy, gx.size, x_shape, kernel, gy.shape[2:], stride, padding)
    return gx


class AvgPool2d(Function):
    """y = mean of each window, zero padding included in the count (PyTorch's count_include_pad=True)."""

    def forward(self, x):
        self.x_shape = x.shape
        fast = fastpath.select("avg_pool2d", x, self.kernel, self.out_hw, self.stride, self.padding)
        if fast is not None:
            return fast(x, self.kernel, self.out_hw, self.stride, self.padding)
        return _avgpool_forward_xp(self._xp, x, self.kernel, self.out_hw, self.stride, self.padding)

    def backward(self, gy):
        fast = fastpath.select("avg_pool2d_backward", gy, self.x_shape, self.kernel, self.stride, self.padding)
        if fast is not None:
            return fast(gy, self.x_shape, self.kernel, self.stride, self.padding)
        return _avgpool_backward_xp(self._xp, gy, self.x_shape, self.kernel, self.stride, self.padding)


# ---------------------------------------------------------------------------------------------------------
# adaptive average pooling

def _adaptive_matrix(xp, size, out, dtype):
    """(out, size) averaging matrix of torch's bins [floor(i*size/out), ceil((i+1)*size/out))."""
    m = np.zeros((out, size))
    for i in range(out):
        start = (i * size) // out
        end = -((-(i + 1) * size) // out)
        m[i, start:end] = 1.0 / (end - start)
    return xp.asarray(m.astype(dtype))


class AdaptiveAvgPool2d(Function):
    """Average over torch's adaptive bins. The bins factor into rows x columns, so y = A_h @ x @ A_w^T."""

    def forward(self, x):
        xp = self._xp
        n, c, h, w = self.x_shape = x.shape
        oh, ow = self.out_hw
        if h % oh == 0 and w % ow == 0:  # equal, non-overlapping bins: a reshape and a mean
            return x.reshape(n, c, oh, h // oh, ow, w // ow).mean(axis=(3, 5))
        self.a_h = _adaptive_matrix(xp, h, oh, x.dtype)
        self.a_w = _adaptive_matrix(xp, w, ow, x.dtype)
        return xp.matmul(xp.matmul(self.a_h, x), self.a_w.T)

    def backward(self, gy):
        xp = self._xp
        n, c, h, w = self.x_shape
        oh, ow = self.out_hw
        if h % oh == 0 and w % ow == 0:
            bh, bw = h // oh, w // ow
            gx = xp.empty(self.x_shape, dtype=gy.dtype)   # each bin's share, broadcast: one elementwise pass
            xp.multiply(xp.broadcast_to(gy.reshape(n, c, oh, 1, ow, 1), (n, c, oh, bh, ow, bw)), 1.0 / (bh * bw),
                        out=gx.reshape(n, c, oh, bh, ow, bw))
            return gx
        return xp.matmul(xp.matmul(self.a_h.T, gy), self.a_w)


# ---------------------------------------------------------------------------------------------------------
# public functions

def _check_pool(name, x, kernel_size, stride, padding):
    if not isinstance(x, Tensor):
        x = as_tensor(x)
    if x.ndim != 4:
        raise ValueError(f"{name}: expected a 4-D input (N, C, H, W), got shape {x.shape}")
    kernel = _pair(kernel_size, "kernel_size", name)
    stride = kernel if stride is None else _pair(stride, "stride", name)
    padding = _pair(padding, "padding", name, minimum=0)
    if padding[0] > kernel[0] // 2 or padding[1] > kernel[1] // 2:
        raise ValueError(f"{name}: padding {padding} must be at most half of kernel_size {kernel}")
    h, w = x.shape[2:]
    hp, wp = h + 2 * padding[0], w + 2 * padding[1]
    if kernel[0] > hp or kernel[1] > wp:
        raise ValueError(f"{name}: kernel_size {kernel} is larger than the padded input {(hp, wp)}")
    out_hw = ((hp - kernel[0]) // stride[0] + 1, (wp - kernel[1]) // stride[1] + 1)
    return x, dict(kernel=kernel, stride=stride, padding=padding, out_hw=out_hw)


def max_pool2d(x, kernel_size, stride=None, padding=0):
    """Max over kernel_size windows of an NCHW tensor (stride defaults to kernel_size; pads with -inf)."""
    x, hyper = _check_pool("max_pool2d", x, kernel_size, stride, padding)
    return MaxPool2d.apply(x, **hyper)


def avg_pool2d(x, kernel_size, stride=None, padding=0):
    """Mean over kernel_size windows of an NCHW tensor; zero padding counts (count_include_pad=True)."""
    x, hyper = _check_pool("avg_pool2d", x, kernel_size, stride, padding)
    if x.dtype.kind != "f":
        raise TypeError(f"avg_pool2d: expected a floating-point input, got {x.dtype}")
    return AvgPool2d.apply(x, **hyper)


def adaptive_avg_pool2d(x, output_size):
    """Average an NCHW tensor down to ``output_size`` (int or pair; None keeps that size) with torch's bins."""
    if not isinstance(x, Tensor):
        x = as_tensor(x)
    if x.ndim != 4:
        raise ValueError(f"adaptive_avg_pool2d: expected a 4-D input (N, C, H, W), got shape {x.shape}")
    if x.dtype.kind != "f":
        raise TypeError(f"adaptive_avg_pool2d: expected a floating-point input, got {x.dtype}")
    h, w = x.shape[2:]
    if isinstance(output_size, (tuple, list)):
        if len(output_size) != 2:
            raise ValueError(f"adaptive_avg_pool2d: output_size must be an int or a pair, got {tuple(output_size)}")
        output_size = (h if output_size[0] is None else output_size[0], w if output_size[1] is None else output_size[1])
    out_hw = _pair(output_size, "output_size", "adaptive_avg_pool2d")
    return AdaptiveAvgPool2d.apply(x, out_hw=out_hw)
