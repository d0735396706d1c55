"""Stride-1 convolution on the CPU as kh*kw shifted GEMMs over one flat, padded input: no column buffer.

Store the input channel-first as a (C, total) matrix X whose columns walk images, rows and columns of a
zero-padded grid (see :class:`Grid`). Kernel offset (i, j) then reads X shifted by s = i*dh*Wq + j*dw
columns, so with outputs indexed on the same grid (the valid ones are cropped out afterwards)

    Y[:, q]          = sum_ij W_ij @ X[:, q + s_ij]         W_ij = w[:, :, i, j]   (O, C)
    gW_ij            = gY @ X[:, s_ij : s_ij + span].T      gY zero outside the valid outputs
    gX[:, q + s_ij] += W_ij.T @ gY[:, q]

Each term is one BLAS call on a window of X (``blas.gemm``; ``np.matmul`` would copy the window and
cannot accumulate). Against im2col + one GEMM this writes no (C*kh*kw, N*OH*OW) buffer (150 MB for the
convblock layer) and needs no col2im, at the price of computing outputs on the whole grid (6 % more GEMM
work than the valid outputs for a 32x32 "same" convolution). It is Conv2d's CPU fast path, tested against
the im2col path.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..backend import blas

__all__ = ["applies", "Grid", "grid_of", "to_grid", "forward", "grad_output_on_grid", "weight_grad",
           "input_grad"]

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


class Grid(NamedTuple):
    """Flat layout shared by input, output and their gradients.

    Image n, row r, column c of the grid sits at column n*hq*wq + r*wq + c (+ ``base`` for the input).
    Padding is shared: the ph zero rows below an image are the top padding of the next one, and the pw zero
    columns right of a row are the left padding of the next row, so a row is W + pw wide, not W + 2pw.
    The input pixel (h, w) sits at grid row h, column w, behind ``base`` = ph*wq + pw leading zeros; output
    (oh, ow) reads its window from there, so it sits at grid row oh, column ow with no offset.
    """
    hq: int          # grid rows per image: max(H + ph, OH)
    wq: int          # grid columns per row: max(W + pw, OW)
    base: int        # leading zero columns of the input buffer
    total: int       # columns of the input buffer
    shifts: tuple    # column offset of each kernel tap, row-major over (i, j)
    span: int        # grid positions whose every tap lies inside the buffer

    def cells(self, n):
        return n * self.hq * self.wq


def grid_of(x_shape, kernel, padding, dilation, out_hw) -> Grid:
    n, _, h, w = x_shape
    (kh, kw), (ph, pw), (dh, dw), (oh, ow) = kernel, padding, dilation, out_hw
    hq, wq = max(h + ph, oh), max(w + pw, ow)
    base = ph * wq + pw
    total = base + n * hq * wq
    shifts = tuple(i * dh * wq + j * dw for i in range(kh) for j in range(kw))
    return Grid(hq, wq, base, total, shifts, total - shifts[-1])


def to_grid(a, grid, offset):
    """(N, C, h, w) -> (C, total) buffer with ``a`` at grid rows/columns [0, h) x [0, w) after ``offset``."""
    n, c, h, w = a.shape
    flat = np.zeros((c, grid.total), dtype=a.dtype)
    cells = flat[:, offset:offset + grid.cells(n)].reshape(c, n, grid.hq, grid.wq)
    cells[:, :, :h, :w] = a.transpose(1, 0, 2, 3)
    return flat


def _from_grid(flat, grid, offset, n, h, w):
    """The (N, C, h, w) array stored in ``flat`` by :func:`to_grid` (a contiguous copy)."""
    c = flat.shape[0]
    cells = flat[:, offset:offset + grid.cells(n)].reshape(c, n, grid.hq, grid.wq)
    return cells[:, :, :h, :w].transpose(1, 0, 2, 3)


def _blocks(span):
    """[start, stop) column ranges of at most _BLOCK columns covering [0, span)."""
    return [(q0, min(q0 + _BLOCK, span)) for q0 in range(0, span, _BLOCK)]


def _weight_taps(w):
    """w (O, C, kh, kw) -> (kh*kw, O, C): one contiguous (O, C) matrix per kernel offset."""
    o, c, kh, kw = w.shape
    return np.ascontiguousarray(w.transpose(2, 3, 0, 1)).reshape(kh * kw, o, c)


def forward(x_grid, grid, w, n, out_hw, bias=None):
    """y (N, O, OH, OW) of the stride-1 convolution of ``x_grid`` (C, total), the input laid out by ``grid``."""
    o = w.shape[0]
    taps = _weight_taps(w)
    y_grid = np.empty((o, grid.total), dtype=x_grid.dtype)
    for q0, q1 in _blocks(grid.span):
        for k, s in enumerate(grid.shifts):
            blas.gemm(taps[k], x_grid[:, q0 + s:q1 + s], y_grid[:, q0:q1], beta=1.0 if k else 0.0)
    valid = _from_grid(y_grid, grid, 0, n, *out_hw)
    y = np.empty((n, o) + tuple(out_hw), dtype=x_grid.dtype)
    if bias is None:
        np.copyto(y, valid)
    else:
        np.add(valid, bias.reshape(1, o, 1, 1), out=y)
    return y


def grad_output_on_grid(gy, grid):
    """gy (N, O, OH, OW) on the output grid as (O, total), zero at the positions that are not outputs."""
    return to_grid(gy, grid, 0)


def weight_grad(gy_grid, x_grid, grid, kernel):
    """gw (O, C, kh, kw) = sum over the batch and grid of gY times the shifted input."""
    kh, kw = kernel
    o, c = gy_grid.shape[0], x_grid.shape[0]
    gw_taps = np.empty((kh * kw, o, c), dtype=x_grid.dtype)
    for b, (q0, q1) in enumerate(_blocks(grid.span)):
        for k, s in enumerate(grid.shifts):
            blas.gemm(gy_grid[:, q0:q1], x_grid[:, q0 + s:q1 + s].T, gw_taps[k], beta=1.0 if b else 0.0)
    return np.ascontiguousarray(gw_taps.reshape(kh, kw, o, c).transpose(2, 3, 0, 1))


def input_grad(gy_grid, grid, w, x_shape):
    """gx (N, C, H, W): every tap's W_ij.T @ gY added back at its shift, then read off the input grid."""
    n, c, h, wd = x_shape
    taps = _weight_taps(w)
    gx_grid = np.zeros((c, grid.total), dtype=w.dtype)
    for q0, q1 in _blocks(grid.span):
        for k, s in enumerate(grid.shifts):
            blas.gemm(taps[k].T, gy_grid[:, q0:q1], gx_grid[:, q0 + s:q1 + s], beta=1.0)
    return np.ascontiguousarray(_from_grid(gx_grid, grid, grid.base, n, h, wd))
