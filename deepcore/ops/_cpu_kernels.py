"""numba CPU kernels: fast paths for conv's col2im, max-pooling forward and backward, and ReLU's backward.

They run on one thread on purpose: on the 2-core target a numba thread pool competes with OpenBLAS's for the
same cores, and the cnn step measured faster with serial kernels (~303 ms) than with parallel=True ones
(~328 ms); see benchmarks/NOTES.md. The ones compiled with ``error_model="numpy"`` vectorise (Python's error
model checks every division for zero). These are optional overrides of the generic xp code in conv.py,
pool.py and activation.py, which the tests use as their reference. Imported lazily (numba's import is slow).
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


@njit(cache=True, nogil=True, error_model="numpy")
def max_over_taps(taps, y, arg):
    """y[p] = max over k of taps[k, p], arg[p] = the k that gave it (the first maximum; a NaN wins, as in
    PyTorch). ``taps`` (K, P) holds every window's k-th cell contiguously, so both loops vectorise: with
    ``arg`` int32 (the width of the floats' lanes) and the numpy error model, ~10x faster than walking
    each window (whose compare-and-keep chain compiles to mispredicted branches)."""
    K, P = taps.shape
    for p in range(P):
        y[p] = taps[0, p]
        arg[p] = 0
    for k in range(1, K):
        kk = np.int32(k)
        for p in range(P):
            v = taps[k, p]
            best = y[p]
            take = (v > best) | (v != v)
            y[p] = v if take else best
            arg[p] = kk if take else arg[p]


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


@njit(cache=True, nogil=True, error_model="numpy")
def _relu_backward(gy, y, gx):
    zero, one = gy.dtype.type(0), gy.dtype.type(1)
    for i in range(gy.size):
        gx[i] = gy[i] * (one if y[i] > zero else zero)      # a product, so NaN/inf in gy stay NaN as in NumPy


def relu_backward(gy, y):
    """``gy * (y > 0)`` in one pass (NumPy builds the boolean mask first: ~2.5x slower on large arrays)."""
    gx = np.empty_like(gy)
    _relu_backward(gy.reshape(-1), y.reshape(-1), gx.reshape(-1))
    return gx
