"""numba CPU kernels: fast paths for conv's col2im and for max-pooling forward and backward.

Each kernel works plane by plane over the (n, c) planes. They run on one thread on purpose: on the 2-core
target a numba thread pool competes with OpenBLAS's for the same cores, and the cnn step measured faster
with serial kernels (~303 ms) than with parallel=True ones (~328 ms); see benchmarks/NOTES.md. These are
optional overrides of the generic xp code in conv.py / pool.py, which the tests use as their reference.
Imported lazily (numba's import is slow).
"""
from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def _valid_range(offset, s, size, out):
    """Outputs o in [lo, hi) for which o * s + offset lands inside [0, size)."""
    lo = max(0, -(offset // s))
    hi = min(out, (size - 1 - offset) // s + 1)
    return lo, max(lo, hi)


@njit(cache=True)
def _col2im_plane(gcols, gx, n, c, sh, sw, ph, pw, dh, dw):
    _, KH, KW, _, OH, OW = gcols.shape
    H, W = gx.shape[2], gx.shape[3]
    for i in range(KH):
        oh_lo, oh_hi = _valid_range(i * dh - ph, sh, H, OH)
        for j in range(KW):
            ow_lo, ow_hi = _valid_range(j * dw - pw, sw, W, OW)
            for oh in range(oh_lo, oh_hi):
                h = oh * sh - ph + i * dh
                for ow in range(ow_lo, ow_hi):
                    gx[n, c, h, ow * sw - pw + j * dw] += gcols[c, i, j, n, oh, ow]


@njit(cache=True)
def _col2im_planes(gcols, gx, sh, sw, ph, pw, dh, dw):
    N, C = gx.shape[0], gx.shape[1]
    for p in range(N * C):
        _col2im_plane(gcols, gx, p // C, p % C, sh, sw, ph, pw, dh, dw)


def col2im(gcols, N, C, H, W, sh, sw, ph, pw, dh, dw):
    """Sum the column gradient ``gcols`` (C, KH, KW, N, OH, OW) back onto the input grid (N, C, H, W)."""
    gx = np.zeros((N, C, H, W), dtype=gcols.dtype)
    _col2im_planes(np.ascontiguousarray(gcols), gx, sh, sw, ph, pw, dh, dw)
    return gx


@njit(cache=True)
def _maxpool_forward_plane(x, y, arg, n, c, KH, KW, sh, sw, ph, pw):
    H, W = x.shape[2], x.shape[3]
    low = -np.inf
    for oh in range(y.shape[2]):
        for ow in range(y.shape[3]):
            best, best_k = low, 0
            for k in range(KH * KW):
                h = oh * sh - ph + k // KW
                w = ow * sw - pw + k % KW
                if 0 <= h < H and 0 <= w < W:
                    v = x[n, c, h, w]
                    if k == 0 or v > best or v != v:  # NaN wins, as in PyTorch
                        best, best_k = v, k
            y[n, c, oh, ow] = best
            arg[n, c, oh, ow] = best_k


@njit(cache=True)
def _maxpool_forward_planes(x, y, arg, KH, KW, sh, sw, ph, pw):
    N, C = x.shape[0], x.shape[1]
    for p in range(N * C):
        _maxpool_forward_plane(x, y, arg, p // C, p % C, KH, KW, sh, sw, ph, pw)


def maxpool_forward(x, KH, KW, OH, OW, sh, sw, ph, pw, arg_dtype):
    """Window maxima (N, C, OH, OW) of ``x`` and each window's argmax offset i * KW + j (padding is -inf)."""
    y = np.empty(x.shape[:2] + (OH, OW), dtype=x.dtype)
    arg = np.empty(y.shape, dtype=arg_dtype)
    _maxpool_forward_planes(np.ascontiguousarray(x), y, arg, KH, KW, sh, sw, ph, pw)
    return y, arg


@njit(cache=True)
def _maxpool_plane(arg, gy, gx, n, c, KW, sh, sw, ph, pw):
    H, W = gx.shape[2], gx.shape[3]
    for oh in range(gy.shape[2]):
        for ow in range(gy.shape[3]):
            k = arg[n, c, oh, ow]
            h = oh * sh - ph + k // KW
            w = ow * sw - pw + k % KW
            if 0 <= h < H and 0 <= w < W:  # an all -inf window may pick a padding cell
                gx[n, c, h, w] += gy[n, c, oh, ow]


@njit(cache=True)
def _maxpool_backward_planes(arg, gy, gx, KW, sh, sw, ph, pw):
    N, C = gx.shape[0], gx.shape[1]
    for p in range(N * C):
        _maxpool_plane(arg, gy, gx, p // C, p % C, KW, sh, sw, ph, pw)


def maxpool_backward(arg, gy, H, W, KW, sh, sw, ph, pw):
    """Route ``gy`` (N, C, OH, OW) to each window's argmax; ``arg`` holds the window offset i * KW + j."""
    gx = np.zeros(gy.shape[:2] + (H, W), dtype=gy.dtype)
    _maxpool_backward_planes(np.ascontiguousarray(arg), np.ascontiguousarray(gy), gx, KW, sh, sw, ph, pw)
    return gx
