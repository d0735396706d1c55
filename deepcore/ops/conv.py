"""2-D convolution (PyTorch layout: x NCHW, weight (out, in/groups, kh, kw)) as im2col + one GEMM per group.

Columns live in ONE contiguous buffer of layout (C, KH, KW, N, OH, OW), i.e. a (C*KH*KW, N*OH*OW) matrix
whose rows come group after group, so forward is ``w_g @ cols_g`` and backward is two more GEMMs plus
col2im. The generic path runs on numpy and cupy; numba (CPU col2im) and CUDA kernels (``kernels/conv.cu``)
are fast paths tested against it. 1x1 convolutions with stride 1 and no padding skip im2col entirely.
"""
from __future__ import annotations

import numpy as np

from ..autograd import Function
from ..backend import device_of, get_kernel
from ..tensor import Tensor
from . import conv_shifted
from ._util import as_tensor, numba_kernels as _numba_kernels

__all__ = ["conv2d"]

_FAST_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
_THREADS = 256          # CUDA block size for every kernel launched from this file
_MAX_BLOCKS = 65535 * 8  # grid-stride loops cover the rest


def _pair(value, name, fn="conv2d", minimum=1):
    """An int or a pair of ints as a validated 2-tuple."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"{fn}: {name} must be an int or a pair of ints, got {tuple(value)}")
        pair = tuple(value)
    else:
        pair = (value, value)
    try:
        pair = tuple(int(v) for v in pair)
    except (TypeError, ValueError):
        raise TypeError(f"{fn}: {name} must be an int or a pair of ints, got {value!r}") from None
    if any(v < minimum for v in pair):
        raise ValueError(f"{fn}: {name} must be >= {minimum}, got {pair}")
    return pair


def _launch(fn, total, args):
    blocks = max(1, min((total + _THREADS - 1) // _THREADS, _MAX_BLOCKS))
    fn((blocks,), (_THREADS,), args)


def _use_cuda(x):
    return not isinstance(x, np.ndarray) and x.dtype in _FAST_DTYPES


def _suffix(dtype):
    return "f32" if dtype == np.float32 else "f64"


# ---------------------------------------------------------------------------------------------------------
# im2col / col2im: generic xp code (numpy and cupy) and the fast paths.

def _im2col_xp(xp, x, kh, kw, oh, ow, stride, padding, dilation):
    """Columns (C, KH, KW, N, OH, OW) of ``x`` (N, C, H, W): one strided copy per kernel offset."""
    n, c, h, w = x.shape
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    if ph or pw:
        xpad = xp.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=x.dtype)
        xpad[:, :, ph:ph + h, pw:pw + w] = x
    else:
        xpad = x
    cols = xp.empty((c, kh, kw, n, oh, ow), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            win = xpad[:, :, i * dh:i * dh + sh * (oh - 1) + 1:sh, j * dw:j * dw + sw * (ow - 1) + 1:sw]
            cols[:, i, j] = win.transpose(1, 0, 2, 3)
    return cols


def _col2im_xp(xp, gcols, x_shape, stride, padding, dilation):
    """Adjoint of :func:`_im2col_xp`: add every column entry back onto the input cell it was read from."""
    n, c, h, w = x_shape
    _, kh, kw, _, oh, ow = gcols.shape
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    gpad = xp.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=gcols.dtype)
    for i in range(kh):
        for j in range(kw):
            gpad[:, :, i * dh:i * dh + sh * (oh - 1) + 1:sh, j * dw:j * dw + sw * (ow - 1) + 1:sw] += \
                gcols[:, i, j].transpose(1, 0, 2, 3)
    if ph or pw:
        gpad = gpad[:, :, ph:ph + h, pw:pw + w]
    return xp.ascontiguousarray(gpad)


def _conv_args(x_shape, kh, kw, oh, ow, stride, padding, dilation, total):
    n, c, h, w = x_shape
    ints = (n, c, h, w, kh, kw, oh, ow, *stride, *padding, *dilation)
    return tuple(np.int32(v) for v in ints) + (np.int64(total),)


def _im2col_cuda(x, kh, kw, oh, ow, stride, padding, dilation):
    import cupy
    x = cupy.ascontiguousarray(x)
    n, c = x.shape[:2]
    cols = cupy.empty((c, kh, kw, n, oh, ow), dtype=x.dtype)
    if cols.size:
        with x.device:
            fn = get_kernel("conv.cu", "im2col_" + _suffix(x.dtype), device_of(x))
            _launch(fn, cols.size, (x, cols) + _conv_args(x.shape, kh, kw, oh, ow, stride, padding, dilation,
                                                           cols.size))
    return cols


def _col2im_cuda(gcols, x_shape, stride, padding, dilation):
    import cupy
    gcols = cupy.ascontiguousarray(gcols)
    _, kh, kw, _, oh, ow = gcols.shape
    gx = cupy.empty(x_shape, dtype=gcols.dtype)
    if gx.size:
        with gcols.device:
            fn = get_kernel("conv.cu", "col2im_" + _suffix(gcols.dtype), device_of(gcols))
            _launch(fn, gx.size, (gcols, gx) + _conv_args(x_shape, kh, kw, oh, ow, stride, padding, dilation,
                                                           gx.size))
    return gx


def _im2col(xp, x, kh, kw, oh, ow, stride, padding, dilation):
    if xp is not np and _use_cuda(x):
        return _im2col_cuda(x, kh, kw, oh, ow, stride, padding, dilation)
    return _im2col_xp(xp, x, kh, kw, oh, ow, stride, padding, dilation)


def _col2im(xp, gcols, x_shape, stride, padding, dilation):
    if xp is np and gcols.dtype in _FAST_DTYPES:
        kernels = _numba_kernels()
        if kernels is not None:
            return kernels.col2im(gcols, *x_shape, *stride, *padding, *dilation)
    elif xp is not np and _use_cuda(gcols):
        return _col2im_cuda(gcols, x_shape, stride, padding, dilation)
    return _col2im_xp(xp, gcols, x_shape, stride, padding, dilation)


# ---------------------------------------------------------------------------------------------------------

class Conv2d(Function):
    """y[n, o] = sum_{c in group(o), i, j} w[o, c, i, j] * xpad[n, c, oh*s + i*d, ow*s + j*d] + b[o].

    Saves x and w (x only if the weight needs a gradient, w only if the input does); the columns are
    rebuilt in backward rather than kept, trading one im2col for kh*kw times less memory. On the CPU,
    stride-1 convolutions take the shifted-GEMM path (``conv_shifted``), which saves the input on its grid.
    """

    def forward(self, x, w, b=None):
        xp = self._xp
        n, c, h, wd = x.shape
        o, cg, kh, kw = w.shape
        g = self.groups
        oh, ow = self.out_hw
        self.x_shape = x.shape
        need_x, need_w = self.needs_input_grad[0], self.needs_input_grad[1]
        self.shifted = not self.pointwise and conv_shifted.applies(x, w, self.stride, g)
        if self.shifted:
            self.grid = conv_shifted.grid_of(x.shape, (kh, kw), self.padding, self.dilation, self.out_hw)
            x_grid = conv_shifted.to_grid(x, self.grid, self.grid.base)
            self.save_for_backward(x_grid if need_w else None, w if need_x else None)
            return conv_shifted.forward(x_grid, self.grid, w, n, self.out_hw, b)
        self.save_for_backward(x if need_w else None, w if need_x else None)
        if self.pointwise:
            # (G, Og, Cg) @ (N, G, Cg, H*W) -> (N, G, Og, H*W): NCHW directly, no columns.
            y = xp.matmul(w.reshape(g, o // g, cg), x.reshape(n, g, cg, h * wd)).reshape(n, o, oh, ow)
        else:
            cols = _im2col(xp, x, kh, kw, oh, ow, self.stride, self.padding, self.dilation)
            y = xp.matmul(w.reshape(g, o // g, cg * kh * kw), cols.reshape(g, cg * kh * kw, n * oh * ow))
            y = xp.ascontiguousarray(y.reshape(o, n, oh, ow).transpose(1, 0, 2, 3))
        if b is not None:
            y += b.reshape(1, o, 1, 1)
        return y

    def backward(self, gy):
        xp = self._xp
        x, w = self.saved_tensors
        n, c, h, wd = self.x_shape
        g = self.groups
        oh, ow = self.out_hw
        need_x, need_w = self.needs_input_grad[0], self.needs_input_grad[1]
        need_b = len(self.needs_input_grad) > 2 and self.needs_input_grad[2]
        gx = gw = gb = None
        if self.shifted:
            return self._shifted_backward(gy, x, w, need_x, need_w, need_b)
        if self.pointwise:
            if need_b:
                gb = gy.sum(axis=(0, 2, 3))
            o, cg = gy.shape[1], c // g
            gy_r = gy.reshape(n, g, o // g, oh * ow)
            if need_x:
                wt = w.reshape(g, o // g, cg).transpose(0, 2, 1)
                gx = xp.matmul(wt, gy_r).reshape(self.x_shape)
            if need_w:
                gy_t = gy_r.transpose(1, 2, 0, 3).reshape(g, o // g, n * oh * ow)
                x_t = x.reshape(n, g, cg, h * wd).transpose(1, 0, 3, 2).reshape(g, n * h * wd, cg)
                gw = xp.matmul(gy_t, x_t).reshape(o, cg, 1, 1)
            return (gx, gw, gb)[:len(self.needs_input_grad)]
        o = gy.shape[1]
        kh, kw = self.kernel
        ckk = c // g * kh * kw
        gy_t = gy.transpose(1, 0, 2, 3).reshape(g, o // g, n * oh * ow)
        if need_b:
            gb = gy_t.sum(axis=2).reshape(o)
        if need_w:
            cols = _im2col(xp, x, kh, kw, oh, ow, self.stride, self.padding, self.dilation)
            gw = xp.matmul(gy_t, cols.reshape(g, ckk, n * oh * ow).transpose(0, 2, 1))
            gw = gw.reshape(o, c // g, kh, kw)
            del cols
        if need_x:
            gcols = xp.matmul(w.reshape(g, o // g, ckk).transpose(0, 2, 1), gy_t)
            gx = _col2im(xp, gcols.reshape(c, kh, kw, n, oh, ow), self.x_shape, self.stride, self.padding,
                         self.dilation)
        return (gx, gw, gb)[:len(self.needs_input_grad)]

    def _shifted_backward(self, gy, x_grid, w, need_x, need_w, need_b):
        gb = gy.sum(axis=(0, 2, 3)) if need_b else None
        gy_grid = conv_shifted.grad_output_on_grid(gy, self.grid)
        gw = conv_shifted.weight_grad(gy_grid, x_grid, self.grid, self.kernel) if need_w else None
        gx = conv_shifted.input_grad(gy_grid, self.grid, w, self.x_shape) if need_x else None
        return (gx, gw, gb)[:len(self.needs_input_grad)]


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution with PyTorch semantics: x (N, C, H, W), weight (out, C/groups, kh, kw), bias (out,)."""
    if not isinstance(weight, Tensor):
        weight = as_tensor(weight, x if isinstance(x, Tensor) else None)
    if not isinstance(x, Tensor):
        x = as_tensor(x, weight)
    if bias is not None and not isinstance(bias, Tensor):
        bias = as_tensor(bias, weight)
    stride = _pair(stride, "stride")
    padding = _pair(padding, "padding", minimum=0)
    dilation = _pair(dilation, "dilation")
    if isinstance(groups, bool) or not isinstance(groups, (int, np.integer)) or groups < 1:
        raise ValueError(f"conv2d: groups must be a positive int, got {groups!r}")
    groups = int(groups)
    if x.ndim != 4:
        raise ValueError(f"conv2d: expected a 4-D input (N, C, H, W), got shape {x.shape}")
    if weight.ndim != 4:
        raise ValueError(f"conv2d: expected a 4-D weight (out_channels, in_channels/groups, kh, kw), "
                         f"got shape {weight.shape}")
    n, c, h, w = x.shape
    o, cg, kh, kw = weight.shape
    if c % groups:
        raise ValueError(f"conv2d: in_channels ({c}) is not divisible by groups ({groups})")
    if o % groups:
        raise ValueError(f"conv2d: out_channels ({o}) is not divisible by groups ({groups})")
    if cg * groups != c:
        raise ValueError(f"conv2d: input has {c} channels but weight expects {cg * groups} (groups={groups})")
    if bias is not None and bias.shape != (o,):
        raise ValueError(f"conv2d: bias must have shape {(o,)}, got {bias.shape}")
    if x.dtype != weight.dtype or (bias is not None and bias.dtype != weight.dtype):
        got = f"input {x.dtype}, weight {weight.dtype}" + ("" if bias is None else f", bias {bias.dtype}")
        raise TypeError(f"conv2d: input, weight and bias must have the same dtype, got {got}")
    ekh, ekw = dilation[0] * (kh - 1) + 1, dilation[1] * (kw - 1) + 1
    hp, wp = h + 2 * padding[0], w + 2 * padding[1]
    if ekh > hp or ekw > wp:
        raise ValueError(f"conv2d: kernel size {(ekh, ekw)} (after dilation) is larger than the padded input "
                         f"{(hp, wp)}")
    out_hw = ((hp - ekh) // stride[0] + 1, (wp - ekw) // stride[1] + 1)
    pointwise = kh == 1 and kw == 1 and stride == (1, 1) and padding == (0, 0)
    inputs = (x, weight) if bias is None else (x, weight, bias)
    return Conv2d.apply(*inputs, stride=stride, padding=padding, dilation=dilation, groups=groups,
                        kernel=(kh, kw), out_hw=out_hw, pointwise=pointwise)
