"""numba step kernels for the fused recurrent op (CPU fast path of ``ops/rnn.py``; same signatures as its
``_Generic`` reference). Each walks the batch rows n and, inside a row, the units j in a few loops that
touch few arrays each; ``act`` is updated in place.

What makes them fast is that LLVM can vectorise those inner loops:
- no libm calls: float32 tanh is a rational function (scalar ``expf`` per gate made the LSTM forward kernel
  ~265 us per step on (64, 128) units; now ~40 us), sigmoid(x) = (1 + tanh(x/2)) / 2; float64 keeps
  ``np.tanh``;
- ``error_model="numpy"``: Python's error model checks every division for zero, which blocks SIMD;
- fastmath without ``nnan``/``ninf``, so NaN and inf still propagate (TerminateOnNaN relies on it);
- loops over few arrays: with many arrays read and written in one loop LLVM gives up (measured 3x slower).
Imported lazily (numba's import is slow); compiled with ``cache=True``.
"""
from __future__ import annotations

import numpy as np
from numba import njit, types
from numba.extending import overload

# Rational minimax approximation tanh(x) ~ x * P(x^2) / Q(x^2) on [-c, c], c = 7.9053111: the
# coefficients published with Eigen's float32 tanh (max abs error 3.5e-7 against float64 tanh, measured
# on a 2e6-point grid over [-20, 20]; beyond c, float32 tanh rounds to +-1 within that error).
_P = tuple(np.float32(v) for v in (4.89352455891786e-03, 6.37261928875436e-04, 1.48572235717979e-05,
                                   5.12229709037114e-08, -8.60467152213735e-11, 2.00018790482477e-13,
                                   -2.76076847742355e-16))
_Q = tuple(np.float32(v) for v in (4.89352518554385e-03, 2.26843463243900e-03, 1.18534705686654e-04,
                                   1.19825839466702e-06))
_P1, _P3, _P5, _P7, _P9, _P11, _P13 = _P
_Q0, _Q2, _Q4, _Q6 = _Q
_CLAMP = np.float32(7.90531110763549805)

_JIT = dict(cache=True, nogil=True, error_model="numpy", fastmath={"contract", "arcp", "afn", "nsz"})


def tanh(x):
    """Scalar tanh for the kernels below: rational in float32, ``np.tanh`` otherwise."""
    return np.tanh(x)


@overload(tanh)
def _tanh_overload(x):
    if x == types.float32:
        def rational(x):
            y = min(max(x, -_CLAMP), _CLAMP)
            y2 = y * y
            p = ((((((_P13 * y2 + _P11) * y2 + _P9) * y2 + _P7) * y2 + _P5) * y2 + _P3) * y2 + _P1) * y
            q = ((_Q6 * y2 + _Q4) * y2 + _Q2) * y2 + _Q0
            return p / q if x == x else x                 # NaN in, NaN out (the clamp would hide it)
        return rational
    return lambda x: np.tanh(x)


def sigmoid(x):
    """Scalar logistic function for the kernels below, through :func:`tanh` in the argument's precision."""
    return 0.5 + 0.5 * np.tanh(0.5 * x)


@overload(sigmoid)
def _sigmoid_overload(x):
    half = np.float32(0.5) if x == types.float32 else 0.5
    return lambda x: half + half * tanh(half * x)


@njit(**_JIT)
def lstm_fwd(hw, act, c_prev, c, h):
    N, H = h.shape
    one, half = act.dtype.type(1), act.dtype.type(0.5)
    for n in range(N):
        # One uniform loop over the four gates vectorises; a loop per gate measured 2-3x slower.
        for j in range(4 * H):
            cell_gate = (j >= 2 * H) & (j < 3 * H)      # g takes tanh, i/f/o the logistic function
            t = tanh((act[n, j] + hw[n, j]) * (one if cell_gate else half))
            act[n, j] = t if cell_gate else half + half * t
        for j in range(H):
            cc = act[n, H + j] * c_prev[n, j] + act[n, j] * act[n, 2 * H + j]
            c[n, j] = cc
            h[n, j] = act[n, 3 * H + j] * tanh(cc)


@njit(**_JIT)
def lstm_bwd(act, c_prev, c, dh, gy, dc, dg, dc_out):
    N, H = c.shape
    one = act.dtype.type(1)
    for n in range(N):
        # Two loops touching fewer arrays each: LLVM vectorises them (one fused loop measured 3x slower).
        for j in range(H):
            tc = tanh(c[n, j])
            o = act[n, 3 * H + j]
            d = dh[n, j] + gy[n, j]
            dg[n, 3 * H + j] = d * tc * o * (one - o)
            dc_out[n, j] = dc[n, j] + d * o * (one - tc * tc)       # dL/dc of this step, finished below
        for j in range(H):
            i = act[n, j]
            f = act[n, H + j]
            g = act[n, 2 * H + j]
            dct = dc_out[n, j]
            dg[n, j] = dct * g * i * (one - i)
            dg[n, H + j] = dct * c_prev[n, j] * f * (one - f)
            dg[n, 2 * H + j] = dct * i * (one - g * g)
            dc_out[n, j] = dct * f


@njit(**_JIT)
def gru_fwd(hw, act, h_prev, hn, h):
    N, H = h.shape
    for n in range(N):
        for j in range(2 * H):
            act[n, j] = sigmoid(act[n, j] + hw[n, j])      # r and z
        for j in range(H):
            r = act[n, j]
            z = act[n, H + j]
            hnv = hw[n, 2 * H + j]
            nn_ = tanh(act[n, 2 * H + j] + r * hnv)
            act[n, 2 * H + j] = nn_
            hn[n, j] = hnv
            h[n, j] = (h_prev[n, j] - nn_) * z + nn_


@njit(**_JIT)
def gru_bwd(act, hn, h_prev, dh, gy, dgx, dgh, dh_direct):
    N, H = hn.shape
    one = act.dtype.type(1)
    for n in range(N):
        for j in range(H):                                   # z and n gates, and the direct path to h
            z = act[n, H + j]
            nn_ = act[n, 2 * H + j]
            d = dh[n, j] + gy[n, j]
            dgx[n, H + j] = d * (h_prev[n, j] - nn_) * z * (one - z)
            dgx[n, 2 * H + j] = d * (one - z) * (one - nn_ * nn_)
            dh_direct[n, j] = d * z
        for j in range(H):                                   # r gate, and what W_hh sees
            r = act[n, j]
            dn = dgx[n, 2 * H + j]
            dr = dn * hn[n, j] * r * (one - r)
            dgx[n, j] = dr
            dgh[n, j] = dr
            dgh[n, H + j] = dgx[n, H + j]
            dgh[n, 2 * H + j] = dn * r
