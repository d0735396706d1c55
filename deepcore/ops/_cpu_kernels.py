"""numba CPU kernels: fast paths for the scatter-style backwards of conv (col2im) and max-pooling.

Each kernel works plane by plane over the (n, c) planes of the input gradient, so parallel threads never
write the same element. Small problems run the serial driver: a parallel region costs more than it
saves there. These are optional overrides of the generic xp code in conv.py / pool.py, which the tests
use as their reference. Imported lazily (numba's import is slow).
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

PARALLEL_MIN_SIZE = 1 << 20  # elements of work below which the serial driver is used


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


@njit(parallel=True, cache=True)
def _col2im_parallel(gcols, gx, sh, sw, ph, pw, dh, dw):
    N, C = gx.shape[0], gx.shape[1]
    for p in prange(N * C):
        _col2im_plane(gcols, gx, p // C, p % C, sh, sw, ph, pw, dh, dw)


@njit(cache=True)
def _col2im_serial(gcols, gx, sh, sw, ph, pw, dh, dw):
    N, C = gx.shape[0], gx.shape[1]
    for p in range(N * C):
        _col2im_plane(gcols, gx, p // C, p % C, sh, sw, ph, pw, dh, dw)


def col2im(gcols, N, C, H, W, sh, sw, ph, pw, dh, dw):
    """Sum the column gradient ``gcols`` (C, KH, KW, N, OH, OW) back onto the input grid (N, C, H, W)."""
    gx = np.zeros((N, C, H, W), dtype=gcols.dtype)
    run = _col2im_parallel if gcols.size >= PARALLEL_MIN_SIZE else _col2im_serial
    run(np.ascontiguousarray(gcols), gx, sh, sw, ph, pw, dh, dw)
    return gx


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


@njit(parallel=True, cache=True)
def _maxpool_backward_parallel(arg, gy, gx, KW, sh, sw, ph, pw):
    N, C = gx.shape[0], gx.shape[1]
    for p in prange(N * C):
        _maxpool_plane(arg, gy, gx, p // C, p % C, KW, sh, sw, ph, pw)


@njit(cache=True)
def _maxpool_backward_serial(arg, gy, gx, KW, sh, sw, ph, pw):
    N, C = gx.shape[0], gx.shape[1]
    for p in range(N * C):
        _maxpool_plane(arg, gy, gx, p // C, p % C, KW, sh, sw, ph, pw)


def maxpool_backward(arg, gy, H, W, KW, sh, sw, ph, pw):
    """Route ``gy`` (N, C, OH, OW) to each window's argmax; ``arg`` holds the window offset i * KW + j."""
    gx = np.zeros(gy.shape[:2] + (H, W), dtype=gy.dtype)
    run = _maxpool_backward_parallel if gx.size >= PARALLEL_MIN_SIZE else _maxpool_backward_serial
    run(np.ascontiguousarray(arg), np.ascontiguousarray(gy), gx, KW, sh, sw, ph, pw)
    return gx
