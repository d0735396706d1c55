"""Stride-1 convolution on the CPU as kh*kw shifted GEMMs over one flat, padded input: no column buffer.

Store the padded input channel-first as a (C, N*Hp*Wp) matrix X. Kernel offset (i, j) reads X shifted
by s = i*dh*Wp + j*dw along its columns, so with outputs indexed on the padded grid (cropped afterwards)

    Y[:, q]          = sum_ij W_ij @ X[:, q + s_ij]         W_ij = w[:, :, i, j]   (O, C)
    gW_ij            = gY @ X[:, s_ij : s_ij + L].T          gY zero outside the valid outputs
    gX[:, q + s_ij] += W_ij.T @ gY[:, q]

Each term is one BLAS call on a window of X (``blas.gemm``; ``np.matmul`` would copy the window and
cannot accumulate). Against im2col + one GEMM this writes no (C*kh*kw, N*OH*OW) buffer (150 MB for the
convblock layer) and needs no col2im, at the price of computing outputs on the padded grid
((Hp*Wp)/(OH*OW) more GEMM work). It is Conv2d's CPU fast path, tested against the im2col path.
"""
from __future__ import annotations

import numpy as np

from ..backend import blas

__all__ = ["applies", "pad_channels_first", "forward", "grad_output_on_grid", "weight_grad", "input_grad"]

# Columns per block: each block's output (and input window) stays in cache across the kh*kw taps that
# accumulate into it, instead of streaming the whole output from memory once per tap (~10 % faster).
_BLOCK = 16384
# Below this many input channels each shifted GEMM is a thin rank-C update that re-reads and re-writes the
# whole output kh*kw times; im2col's single GEMM with K = C*kh*kw is faster there (cnn's first layer, C=1).
_MIN_CHANNELS = 16


def applies(x, w, stride, groups) -> bool:
    """Whether this path handles the convolution: NumPy float32/64, stride 1, one group, enough channels."""
    return (isinstance(x, np.ndarray) and stride == (1, 1) and groups == 1 and x.size > 0 and w.size > 0
            and x.shape[1] >= _MIN_CHANNELS and x.dtype == w.dtype and blas.available(x.dtype))


def pad_channels_first(x, padding):
    """(N, C, H, W) -> zero-padded (C, N, H + 2ph, W + 2pw), the layout whose shifts are column offsets."""
    n, c, h, w = x.shape
    ph, pw = padding
    xpad = np.zeros((c, n, h + 2 * ph, w + 2 * pw), dtype=x.dtype)
    xpad[:, :, ph:ph + h, pw:pw + w] = x.transpose(1, 0, 2, 3)
    return xpad


def _shifts(kh, kw, dilation, wp):
    dh, dw = dilation
    return [i * dh * wp + j * dw for i in range(kh) for j in range(kw)]


def _blocks(span):
    """[start, stop) column ranges of at most _BLOCK columns covering [0, span)."""
    return [(q0, min(q0 + _BLOCK, span)) for q0 in range(0, span, _BLOCK)]


def _weight_taps(w):
    """w (O, C, kh, kw) -> (kh*kw, O, C): one contiguous (O, C) matrix per kernel offset."""
    o, c, kh, kw = w.shape
    return np.ascontiguousarray(w.transpose(2, 3, 0, 1)).reshape(kh * kw, o, c)


def forward(xpad, w, out_hw, dilation, bias=None):
    """y (N, O, OH, OW) of the stride-1 convolution of the padded input ``xpad`` (C, N, Hp, Wp)."""
    c, n, hp, wp = xpad.shape
    o, kh, kw = w.shape[0], w.shape[2], w.shape[3]
    oh, ow = out_hw
    total = n * hp * wp
    shifts = _shifts(kh, kw, dilation, wp)
    span = total - shifts[-1]                  # grid positions whose every tap lies inside X
    x_flat = xpad.reshape(c, total)
    taps = _weight_taps(w)
    y_grid = np.empty((o, total), dtype=xpad.dtype)
    for q0, q1 in _blocks(span):
        for k, s in enumerate(shifts):
            blas.gemm(taps[k], x_flat[:, q0 + s:q1 + s], y_grid[:, q0:q1], beta=1.0 if k else 0.0)
    valid = y_grid.reshape(o, n, hp, wp)[:, :, :oh, :ow].transpose(1, 0, 2, 3)
    y = np.empty((n, o, oh, ow), dtype=xpad.dtype)
    if bias is None:
        np.copyto(y, valid)
    else:
        np.add(valid, bias.reshape(1, o, 1, 1), out=y)
    return y


def grad_output_on_grid(gy, hp, wp):
    """gy (N, O, OH, OW) placed on the padded output grid as (O, N*Hp*Wp), zero at the invalid positions."""
    n, o, oh, ow = gy.shape
    grid = np.zeros((o, n, hp, wp), dtype=gy.dtype)
    grid[:, :, :oh, :ow] = gy.transpose(1, 0, 2, 3)
    return grid.reshape(o, n * hp * wp)


def weight_grad(gy_grid, xpad, kernel, dilation):
    """gw (O, C, kh, kw) = sum over the batch and grid of gY times the shifted input."""
    c, n, hp, wp = xpad.shape
    kh, kw = kernel
    o, total = gy_grid.shape
    shifts = _shifts(kh, kw, dilation, wp)
    span = total - shifts[-1]
    x_flat = xpad.reshape(c, total)
    gw_taps = np.empty((kh * kw, o, c), dtype=xpad.dtype)
    for b, (q0, q1) in enumerate(_blocks(span)):
        for k, s in enumerate(shifts):
            blas.gemm(gy_grid[:, q0:q1], x_flat[:, q0 + s:q1 + s].T, gw_taps[k], beta=1.0 if b else 0.0)
    return np.ascontiguousarray(gw_taps.reshape(kh, kw, o, c).transpose(2, 3, 0, 1))


def input_grad(gy_grid, w, x_shape, padding, dilation):
    """gx (N, C, H, W): every tap's W_ij.T @ gY added back at its shift, then the padding cropped off."""
    n, c, h, wd = x_shape
    ph, pw = padding
    hp, wp = h + 2 * ph, wd + 2 * pw
    kh, kw = w.shape[2], w.shape[3]
    total = n * hp * wp
    shifts = _shifts(kh, kw, dilation, wp)
    span = total - shifts[-1]
    taps = _weight_taps(w)
    gx_grid = np.zeros((c, total), dtype=w.dtype)
    for q0, q1 in _blocks(span):
        for k, s in enumerate(shifts):
            blas.gemm(taps[k].T, gy_grid[:, q0:q1], gx_grid[:, q0 + s:q1 + s], beta=1.0)
    inner = gx_grid.reshape(c, n, hp, wp)[:, :, ph:ph + h, pw:pw + wd]
    return np.ascontiguousarray(inner.transpose(1, 0, 2, 3))
