"""numba CPU kernels: fast paths for the scatter-style backwards of conv (col2im) and max-pooling.

Each kernel runs in parallel over the (n, c) planes of the input gradient, so no two threads write the
same element. They are optional overrides of the generic xp code in conv.py / pool.py, which the tests
use as their reference. Imported lazily (numba's import is slow).
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(parallel=True, cache=True)
def col2im(gcols, N, C, H, W, sh, sw, ph, pw, dh, dw):
    """Sum the column gradient ``gcols`` (C, KH, KW, N, OH, OW) back onto the input grid (N, C, H, W)."""
    _, KH, KW, _, OH, OW = gcols.shape
    gx = np.zeros((N, C, H, W), dtype=gcols.dtype)
    for p in prange(N * C):
        n = p // C
        c = p % C
        for i in range(KH):
            for j in range(KW):
                for oh in range(OH):
                    h = oh * sh - ph + i * dh
                    if h < 0 or h >= H:
                        continue
                    for ow in range(OW):
                        w = ow * sw - pw + j * dw
                        if 0 <= w < W:
                            gx[n, c, h, w] += gcols[c, i, j, n, oh, ow]
    return gx


@njit(parallel=True, cache=True)
def maxpool_backward(arg, gy, H, W, KW, sh, sw, ph, pw):
    """Route ``gy`` (N, C, OH, OW) to each window's argmax; ``arg`` holds the window offset i * KW + j."""
    N, C, OH, OW = gy.shape
    gx = np.zeros((N, C, H, W), dtype=gy.dtype)
    for p in prange(N * C):
        n = p // C
        c = p % C
        for oh in range(OH):
            for ow in range(OW):
                k = arg[n, c, oh, ow]
                h = oh * sh - ph + k // KW
                w = ow * sw - pw + k % KW
                if 0 <= h < H and 0 <= w < W:  # an all -inf window may pick a padding cell
                    gx[n, c, h, w] += gy[n, c, oh, ow]
    return gx
