"""Every CUDA kernel of kernels/*.cu, run on the CPU by the emulated device, against NumPy references.

The emulated device (tests/emulated_cuda/cupy_emulation/_raw.py) compiles the .cu sources with g++ and
runs each thread of each block on the CPU. These tests run in the plain ``python -m pytest`` run (no GPU,
no --emulate-cuda needed): conv (im2col/col2im), pool (max/avg, forward/backward) and rnn (LSTM/GRU,
forward/backward) in float32 and float64, with deepcore's own launch configuration, with odd block sizes
and with a shrunk grid (1-3 blocks, which only works if every grid-stride loop is right). Outputs start
as NaN so an element a kernel forgets to write cannot pass. They also test what the emulated RawKernel
adds over a GPU (argument checking), its CuPy-compatible behaviour, compile caching and __syncthreads.
"""
import contextlib
import math
import os
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import numpy as np
import pytest

EMULATED = Path(__file__).resolve().parent / "emulated_cuda"
if str(EMULATED) not in sys.path:
    sys.path.insert(0, str(EMULATED))

from cupy_emulation import _raw
from cupy_emulation._runtime import runtime

from deepcore.backend import kernel_dir
from deepcore.ops import conv as conv_ops
from deepcore.ops import pool as pool_ops
from deepcore.ops import rnn as rnn_ops

pytestmark = pytest.mark.skipif(_raw.shutil.which("g++") is None,
                                reason="g++ not on PATH: the emulated CUDA device cannot compile kernels/*.cu")

DTYPES = [np.float32, np.float64]
# (threads per block, cap on the blocks run): deepcore's launch, shrunk grids, odd block sizes.
GRIDS = [(256, None), (256, 1), (64, 3), (37, None), (33, 2)]
GRID_IDS = ["full", "1-block", "3-blocks", "block37", "block33-2-blocks"]


# --- device arrays and launching -------------------------------------------------------------------------

class ndarray:
    def __init__(self, a):
        self._a = a

    def get(self):
        return self._a.copy()


def dev(a, dtype=None):
    """A device array holding a C-contiguous copy of ``a``."""
    return ndarray(np.array(a, dtype=dtype, order="C"))


def dev_nan(shape, dtype):
    """An output buffer full of garbage (NaN, or -7 for ints) so unwritten elements show."""
    return ndarray(np.full(shape, np.nan if np.dtype(dtype).kind == "f" else -7, dtype=dtype))


_modules = {}


def kernel(filename, name):
    """``name`` from ``kernels/filename``, compiled once (through the cache) with deepcore's options."""
    if filename not in _modules:
        _modules[filename] = _raw.RawModule(code=(kernel_dir() / filename).read_text(), options=("-std=c++17",))
    return _modules[filename].get_function(name)


def launch(fn, total, args, grid):
    """deepcore's launch (conv._launch: ceil(total / block) blocks), with ``grid`` = (block, cap)."""
    block, cap = grid
    blocks = max(1, -(-total // block))
    if cap is None:
        fn((blocks,), (block,), args)
    else:
        with _raw.shrunk_grid(cap):
            fn((blocks,), (block,), args)


def sfx(dtype):
    return "f32" if dtype == np.float32 else "f64"


def tol(dtype):
    return {"rtol": 2e-6, "atol": 2e-6} if dtype == np.float32 else {"rtol": 1e-12, "atol": 1e-12}


# --- conv.cu ----------------------------------------------------------------------------------------------

CONV_CASES = [  # (N, C, H, W), (KH, KW), stride, padding, dilation
    ((2, 3, 7, 5), (3, 3), (1, 1), (1, 1), (1, 1)),
    ((1, 2, 9, 8), (3, 2), (2, 3), (1, 0), (1, 1)),
    ((2, 1, 10, 11), (3, 3), (2, 1), (2, 1), (2, 2)),
    ((1, 3, 5, 5), (1, 1), (1, 1), (0, 0), (1, 1)),
    ((3, 2, 6, 7), (4, 3), (3, 2), (2, 1), (1, 2)),
]


def conv_out(h, k, s, p, d):
    return (h + 2 * p - d * (k - 1) - 1) // s + 1


@pytest.mark.parametrize("grid", GRIDS, ids=GRID_IDS)
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("case", CONV_CASES, ids=[str(i) for i in range(len(CONV_CASES))])
def test_im2col_col2im(case, dtype, grid):
    shape, (kh, kw), stride, padding, dilation = case
    n, c, h, w = shape
    oh, ow = conv_out(h, kh, stride[0], padding[0], dilation[0]), conv_out(w, kw, stride[1], padding[1], dilation[1])
    rng = np.random.default_rng(1)
    x = rng.standard_normal(shape).astype(dtype)
    cols = dev_nan((c, kh, kw, n, oh, ow), dtype)
    total = cols._a.size
    args = (dev(x), cols) + conv_ops._conv_args(shape, kh, kw, oh, ow, stride, padding, dilation, total)
    launch(kernel("conv.cu", "im2col_" + sfx(dtype)), total, args, grid)
    np.testing.assert_array_equal(cols.get(), conv_ops._im2col_xp(np, x, kh, kw, oh, ow, stride, padding, dilation))

    gcols = rng.standard_normal((c, kh, kw, n, oh, ow)).astype(dtype)
    gx = dev_nan(shape, dtype)
    args = (dev(gcols), gx) + conv_ops._conv_args(shape, kh, kw, oh, ow, stride, padding, dilation, gx._a.size)
    launch(kernel("conv.cu", "col2im_" + sfx(dtype)), gx._a.size, args, grid)
    np.testing.assert_allclose(gx.get(), conv_ops._col2im_xp(np, gcols, shape, stride, padding, dilation), **tol(dtype))


# --- pool.cu ----------------------------------------------------------------------------------------------

POOL_CASES = [  # (N, C, H, W), kernel, stride, padding
    ((2, 3, 7, 6), (2, 2), (2, 2), (0, 0)),
    ((1, 2, 9, 7), (3, 3), (2, 2), (1, 1)),
    ((2, 2, 8, 11), (3, 2), (1, 2), (1, 1)),
    ((1, 1, 5, 5), (5, 5), (1, 1), (2, 2)),
    ((3, 2, 10, 9), (4, 3), (3, 2), (2, 1)),
]


def pool_out(shape, kernel_hw, stride, padding):
    return tuple((shape[2 + i] + 2 * padding[i] - kernel_hw[i]) // stride[i] + 1 for i in range(2))


def _geom(kernel_hw, out_hw, stride, padding):
    """The plain pooling geometry the kernels serve (no dilation, no ceil-mode cells)."""
    return pool_ops._Geom(tuple(kernel_hw), tuple(stride), tuple(padding), (1, 1), tuple(out_hw), (0, 0), True)


def maxpool_reference(x, kernel_hw, stride, padding):
    """deepcore's generic max-pool forward: maxima and argmax offsets i * KW + j in the window (as the kernels)."""
    out_hw = pool_out(x.shape, kernel_hw, stride, padding)
    y, offset = pool_ops._maxpool_forward_xp(np, x, _geom(kernel_hw, out_hw, stride, padding))
    return y, offset, offset


def avgpool_reference(x, kernel_hw, stride, padding, gy):
    """Independent average pooling (count_include_pad=True): forward y and the backward of ``gy``."""
    n, c, h, w = x.shape
    (kh, kw), (sh, sw), (ph, pw) = kernel_hw, stride, padding
    oh, ow = pool_out(x.shape, kernel_hw, stride, padding)
    xp_ = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=np.float64)
    xp_[:, :, ph:ph + h, pw:pw + w] = x
    y = np.zeros((n, c, oh, ow))
    gpad = np.zeros_like(xp_)
    for i in range(oh):
        for j in range(ow):
            y[:, :, i, j] = xp_[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw].sum(axis=(2, 3)) / (kh * kw)
            gpad[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw] += gy[:, :, i:i + 1, j:j + 1] / (kh * kw)
    return y, gpad[:, :, ph:ph + h, pw:pw + w]


@pytest.mark.parametrize("grid", GRIDS, ids=GRID_IDS)
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("case", POOL_CASES, ids=[str(i) for i in range(len(POOL_CASES))])
def test_maxpool(case, dtype, grid):
    shape, kernel_hw, stride, padding = case
    out_hw = pool_out(shape, kernel_hw, stride, padding)
    rng = np.random.default_rng(2)
    x = rng.standard_normal(shape).astype(dtype)
    if case is POOL_CASES[2]:
        x[0, 1, 3, 4] = np.nan  # NaN wins its windows, as in PyTorch
    y_ref, offset, arg_ref = maxpool_reference(x, kernel_hw, stride, padding)
    y, arg = dev_nan(y_ref.shape, dtype), dev_nan(y_ref.shape, np.int32)
    total = y._a.size
    launch(kernel("pool.cu", "maxpool_fwd_" + sfx(dtype)), total,
           (dev(x), y, arg) + pool_ops._pool_args(shape, kernel_hw, out_hw, stride, padding, total), grid)
    np.testing.assert_array_equal(y.get(), y_ref)
    np.testing.assert_array_equal(arg.get(), arg_ref)

    gy = rng.standard_normal(y_ref.shape).astype(dtype)
    gx = dev_nan(shape, dtype)
    launch(kernel("pool.cu", "maxpool_bwd_" + sfx(dtype)), gx._a.size,
           (dev(gy), arg, gx) + pool_ops._pool_args(shape, kernel_hw, out_hw, stride, padding, gx._a.size), grid)
    gx_ref = pool_ops._maxpool_backward_xp(np, offset, gy, shape, _geom(kernel_hw, out_hw, stride, padding))
    np.testing.assert_allclose(gx.get(), gx_ref, **tol(dtype))


@pytest.mark.parametrize("grid", GRIDS, ids=GRID_IDS)
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("case", POOL_CASES, ids=[str(i) for i in range(len(POOL_CASES))])
def test_avgpool(case, dtype, grid):
    shape, kernel_hw, stride, padding = case
    out_hw = pool_out(shape, kernel_hw, stride, padding)
    rng = np.random.default_rng(3)
    x = rng.standard_normal(shape).astype(dtype)
    gy = rng.standard_normal(shape[:2] + out_hw).astype(dtype)
    y_ref, gx_ref = avgpool_reference(x, kernel_hw, stride, padding, gy)
    y = dev_nan(y_ref.shape, dtype)
    launch(kernel("pool.cu", "avgpool_fwd_" + sfx(dtype)), y._a.size,
           (dev(x), y) + pool_ops._pool_args(shape, kernel_hw, out_hw, stride, padding, y._a.size), grid)
    np.testing.assert_allclose(y.get(), y_ref, **tol(dtype))
    gx = dev_nan(shape, dtype)
    launch(kernel("pool.cu", "avgpool_bwd_" + sfx(dtype)), gx._a.size,
           (dev(gy), gx) + pool_ops._pool_args(shape, kernel_hw, out_hw, stride, padding, gx._a.size), grid)
    np.testing.assert_allclose(gx.get(), gx_ref, **tol(dtype))


# --- rnn.cu -----------------------------------------------------------------------------------------------

RNN_SHAPES = [(3, 5), (7, 33), (1, 300)]  # (N, H): N * H below, around and above one block


def rnn_launch(name, dtype, grid, N, H, *arrays):
    launch(kernel("rnn.cu", f"{name}_{sfx(dtype)}"), N * H, arrays + (np.int32(N), np.int32(H)), grid)


@pytest.mark.parametrize("grid", GRIDS, ids=GRID_IDS)
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("NH", RNN_SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("fused", [False, True], ids=["hw-given", "fused-product"])
def test_lstm(NH, dtype, grid, fused):
    N, H = NH
    rng = np.random.default_rng(4)
    r = lambda *s: rng.standard_normal(s).astype(dtype)
    ref = rnn_ops._Generic(np)
    # The recurrent product given (hw, dh), or done by the kernel (hw / dh null: from h_prev, W_hh^T / dg_next, W_hh).
    close = tol(dtype) if not fused else ({"rtol": 2e-5, "atol": 2e-5} if dtype == np.float32 else tol(dtype))
    h_prev, w_t, act0, c_prev = r(N, H), r(H, 4 * H) / float(np.sqrt(H)), r(N, 4 * H), r(N, H)
    act_ref, c_ref, h_ref = act0.copy(), np.empty((N, H), dtype), np.empty((N, H), dtype)
    ref.lstm_fwd(h_prev, w_t, act_ref, c_prev, c_ref, h_ref)
    act, c, h = dev(act0), dev_nan((N, H), dtype), dev_nan((N, H), dtype)
    fwd = (None, dev(h_prev), dev(w_t)) if fused else (dev(h_prev @ w_t), None, None)
    rnn_launch("lstm_fwd", dtype, grid, N, H, *fwd, act, dev(c_prev), c, h)
    for got, want in ((act, act_ref), (c, c_ref), (h, h_ref)):
        np.testing.assert_allclose(got.get(), want, **close)

    dg_next, w, gy, dc = r(N, 4 * H), np.ascontiguousarray(w_t.T), r(N, H), r(N, H)
    dh = dg_next @ w
    dg_ref, dc_out_ref = np.empty((N, 4 * H), dtype), np.empty((N, H), dtype)
    ref.lstm_bwd(act_ref, c_prev, c_ref, None, dg_next, w, gy, dc, dg_ref, dc_out_ref)
    dg, dc_out = dev_nan((N, 4 * H), dtype), dev_nan((N, H), dtype)
    bwd = (None, dev(dg_next), dev(w)) if fused else (dev(dh), None, None)
    rnn_launch("lstm_bwd", dtype, grid, N, H, dev(act_ref), dev(c_prev), dev(c_ref), *bwd, dev(gy), dev(dc),
               dg, dc_out)
    np.testing.assert_allclose(dg.get(), dg_ref, **close)
    np.testing.assert_allclose(dc_out.get(), dc_out_ref, **close)


@pytest.mark.parametrize("grid", GRIDS, ids=GRID_IDS)
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("NH", RNN_SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_gru(NH, dtype, grid):
    N, H = NH
    rng = np.random.default_rng(5)
    r = lambda *s: rng.standard_normal(s).astype(dtype)
    ref = rnn_ops._Generic(np)
    hw, act0, h_prev = r(N, 3 * H), r(N, 3 * H), r(N, H)
    act_ref, hn_ref, h_ref = act0.copy(), np.empty((N, H), dtype), np.empty((N, H), dtype)
    ref.gru_fwd(hw, act_ref, h_prev, hn_ref, h_ref)
    act, hn, h = dev(act0), dev_nan((N, H), dtype), dev_nan((N, H), dtype)
    rnn_launch("gru_fwd", dtype, grid, N, H, dev(hw), act, dev(h_prev), hn, h)
    for got, want in ((act, act_ref), (hn, hn_ref), (h, h_ref)):
        np.testing.assert_allclose(got.get(), want, **tol(dtype))

    dh, gy = r(N, H), r(N, H)
    dgx_ref, dgh_ref, dd_ref = np.empty((N, 3 * H), dtype), np.empty((N, 3 * H), dtype), np.empty((N, H), dtype)
    ref.gru_bwd(act_ref, hn_ref, h_prev, dh, gy, dgx_ref, dgh_ref, dd_ref)
    dgx, dgh, dd = dev_nan((N, 3 * H), dtype), dev_nan((N, 3 * H), dtype), dev_nan((N, H), dtype)
    rnn_launch("gru_bwd", dtype, grid, N, H, dev(act_ref), dev(hn_ref), dev(h_prev), dev(dh), dev(gy), dgx, dgh, dd)
    for got, want in ((dgx, dgx_ref), (dgh, dgh_ref), (dd, dd_ref)):
        np.testing.assert_allclose(got.get(), want, **tol(dtype))


# --- activation.cu: bias + activation, forward and backward -----------------------------------------------

_erf = np.vectorize(math.erf)
ACTS = {0: "identity", 1: "relu", 2: "gelu", 3: "gelu_tanh", 4: "tanh", 5: "sigmoid"}


def act_reference(u, code):
    """Each activation and its derivative, written independently of deepcore (float64, exact erf)."""
    c = math.sqrt(2 / math.pi)
    if code == 1:
        return np.maximum(u, 0), (u > 0).astype(float)
    if code == 2:
        cdf = 0.5 * (1 + _erf(u / math.sqrt(2)))
        return u * cdf, cdf + u * np.exp(-u * u / 2) / math.sqrt(2 * math.pi)
    if code == 3:
        t = np.tanh(c * (u + 0.044715 * u ** 3))
        return 0.5 * u * (1 + t), 0.5 * (1 + t) + 0.5 * u * (1 - t * t) * c * (1 + 3 * 0.044715 * u * u)
    if code == 4:
        return np.tanh(u), 1 - np.tanh(u) ** 2
    if code == 5:
        sg = 1 / (1 + np.exp(-u))
        return sg, sg * (1 - sg)
    return u, np.ones_like(u)


BIAS_ACT_SHAPES = [  # (N, C, P) and the layout of z: rows (P = 1), nchw, cnhw
    ((7, 37, 1), "rows"), ((3, 5, 6), "nchw"), ((2, 4, 9), "cnhw"), ((1, 70, 1), "rows"), ((4, 1, 300), "cnhw"),
]


def _layout(n, c, p, layout):
    """(shape of z, stride of n, stride of c) for the kernels' (zs_n, zs_c) parameters."""
    return {"rows": ((n, c), c, 1), "nchw": ((n, c, p), c * p, p), "cnhw": ((c, n * p), p, n * p)}[layout]


@pytest.mark.parametrize("grid", GRIDS, ids=GRID_IDS)
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("code", list(ACTS), ids=list(ACTS.values()))
@pytest.mark.parametrize("case", BIAS_ACT_SHAPES, ids=[f"{c[1]}{c[0]}" for c in BIAS_ACT_SHAPES])
def test_bias_act(case, code, dtype, grid):
    (n, c, p), layout = case
    zshape, zs_n, zs_c = _layout(n, c, p, layout)
    rng = np.random.default_rng(code)
    z, b = rng.standard_normal(zshape).astype(dtype), rng.standard_normal(c).astype(dtype)
    z3 = z.reshape(c, n, p).transpose(1, 0, 2) if layout == "cnhw" else z.reshape(n, c, p)
    u = z3.astype(np.float64) + b.astype(np.float64)[None, :, None]
    y_ref, d_ref = act_reference(u, code)
    gelu = code in (2, 3)
    with_bias = code != 5                                          # sigmoid runs without a bias (null pointer)
    if not with_bias:
        u, (y_ref, d_ref) = z3.astype(np.float64), act_reference(z3.astype(np.float64), code)
    y, u_out = dev_nan((n, c, p), dtype), dev_nan((n, c, p), dtype) if gelu else None
    ints = (np.int64(n), np.int32(c), np.int64(p))
    launch(kernel("activation.cu", "bias_act_fwd_" + sfx(dtype)), n * c * p,
           (dev(z), dev(b) if with_bias else None, y, u_out) + ints + (np.int64(zs_n), np.int64(zs_c), np.int32(code)),
           grid)
    close = {"rtol": 2e-5, "atol": 2e-6} if dtype == np.float32 else {"rtol": 1e-12, "atol": 1e-12}
    np.testing.assert_allclose(y.get(), y_ref, **close)
    if gelu:
        np.testing.assert_allclose(u_out.get(), u, **close)

    # backward: gz in z's layout (or not written), gb summed over n and p (or not written)
    gy = rng.standard_normal((n, c, p)).astype(dtype)
    s = (u if gelu else y_ref).astype(dtype)
    g_ref = gy.astype(np.float64) * d_ref
    block, cap = grid
    for want_gz, want_gb in ((True, True), (True, False), (False, True)):
        gz, gb = dev_nan(zshape, dtype) if want_gz else None, dev_nan((c,), dtype) if want_gb else None
        tiles = -(-c // 32) if p == 1 else c
        fn = kernel("activation.cu", "bias_act_bwd_" + sfx(dtype))
        args = (dev(gy), dev(s), gz, gb) + ints + (np.int64(zs_n), np.int64(zs_c), np.int32(code))
        with (_raw.shrunk_grid(cap) if cap else contextlib.nullcontext()):
            fn((tiles,), (32, 8), args)
        if want_gz:
            got = gz.get()
            got3 = got.reshape(c, n, p).transpose(1, 0, 2) if layout == "cnhw" else got.reshape(n, c, p)
            np.testing.assert_allclose(got3, g_ref, **close)
        if want_gb:
            np.testing.assert_allclose(gb.get(), g_ref.sum(axis=(0, 2)), rtol=close["rtol"] * 10,
                                       atol=close["atol"] * 10 * n * p)


# --- loss.cu: softmax cross-entropy ----------------------------------------------------------------------

def ce_reference(x, y, w, ignore, eps, C):
    """Per-row loss, lse, denominator and gradient coefficients of PyTorch's cross-entropy (float64)."""
    x = x.astype(np.float64)
    m = x.max(axis=1, keepdims=True)
    lse = (m + np.log(np.exp(x - m).sum(axis=1, keepdims=True)))[:, 0]
    w = np.ones(C) if w is None else w.astype(np.float64)
    keep = (y != ignore) & (y >= 0) & (y < C)
    ys = np.where(keep, y, 0)
    wy = np.where(keep, w[ys], 0.0)
    logp = x - lse[:, None]
    loss = -(1 - eps) * wy * logp[np.arange(len(y)), ys] - keep * eps / C * (w * logp).sum(axis=1)
    coef = np.zeros_like(x)
    coef[np.arange(len(y)), ys] = (1 - eps) * wy
    coef += keep[:, None] * eps / C * w[None, :]
    return lse, np.where(keep, loss, 0.0), wy.sum(), w.sum(), coef


CE_CASES = [  # N, C, weighted, label smoothing, index dtype
    (5, 3, False, 0.0, np.int64), (19, 10, True, 0.1, np.int64), (37, 45, True, 0.0, np.int32),
    (8, 70, False, 0.25, np.int32), (1, 1, False, 0.0, np.int64),
]


@pytest.mark.parametrize("grid", [(256, None), (256, 1), (256, 2)], ids=["full", "1-block", "2-blocks"])
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("reduction", [0, 1, 2], ids=["none", "sum", "mean"])
@pytest.mark.parametrize("case", CE_CASES, ids=[f"{c[0]}x{c[1]}" for c in CE_CASES])
def test_cross_entropy(case, reduction, dtype, grid):
    N, C, weighted, eps, idt = case
    rng = np.random.default_rng(N)
    x = (rng.standard_normal((N, C)) * 4).astype(dtype)
    y = rng.integers(0, C, N).astype(idt)
    bad = N > 5
    if N > 2:
        y[1] = -100                                       # ignored
    if bad:
        y[3] = C + 2                                      # out of range: flagged, counted as ignored
    w = rng.uniform(0.5, 2.0, C).astype(dtype) if weighted else None
    lse_ref, rows_ref, denom, wsum, coef = ce_reference(x, y, w, -100, eps, C)
    blocks = -(-N // 8)
    lse, rows = dev_nan((N,), dtype), dev_nan((N,), dtype) if reduction == 0 else None
    partials = dev_nan((2 * blocks,), dtype) if reduction else None
    ticket, out, flag = dev(np.zeros(1, np.uint32)), dev_nan((3,), dtype), dev(np.zeros(1, np.int32))
    isfx = "i64" if idt == np.int64 else "i32"
    tail = (np.int64(N), np.int32(C), np.int64(-100), (np.float32 if dtype == np.float32 else np.float64)(eps),
            np.int32(reduction))
    block, cap = grid
    with (_raw.shrunk_grid(cap) if cap else contextlib.nullcontext()):
        kernel("loss.cu", f"ce_fwd_{sfx(dtype)}_{isfx}")((blocks,), (block,),
                                                          (dev(x), dev(y), None if w is None else dev(w), lse, rows,
                                                           partials, ticket, out, flag) + tail[:2] + tail[2:])
    close = {"rtol": 2e-5, "atol": 2e-5} if dtype == np.float32 else {"rtol": 1e-11, "atol": 1e-11}
    np.testing.assert_allclose(lse.get(), lse_ref, **close)
    assert flag.get()[0] == int(bad) and ticket.get()[0] == 0
    np.testing.assert_allclose(out.get()[2], wsum, **close)
    if reduction == 0:
        np.testing.assert_allclose(rows.get(), rows_ref, **close)
    else:
        want = rows_ref.sum() / (denom if reduction == 2 else 1.0)
        np.testing.assert_allclose(out.get()[:2], [want, denom], **close)

    gy = rng.standard_normal(N if reduction == 0 else 1).astype(dtype)
    scale = gy[:, None] if reduction == 0 else (gy[0] / denom if reduction == 2 else gy[0])
    p = np.exp(x.astype(np.float64) - lse_ref[:, None])
    gx_ref = scale * (p * coef.sum(axis=1, keepdims=True) - coef)
    gx = dev_nan((N, C), dtype)
    out_ok = dev(np.array([0.0, denom, wsum], dtype))
    launch(kernel("loss.cu", f"ce_bwd_{sfx(dtype)}_{isfx}"), N * C,
           (dev(x), dev(y), None if w is None else dev(w), dev(lse_ref.astype(dtype)), dev(gy), out_ok, gx) + tail,
           grid)
    np.testing.assert_allclose(gx.get(), gx_ref, **close)


# --- dropout.cu ----------------------------------------------------------------------------------------------

def dropout_bits(seed, counters):
    """kernels/dropout.cu's hash, in NumPy's wrapping uint64 arithmetic."""
    with np.errstate(over="ignore"):
        z = np.uint64(seed) + (counters.astype(np.uint64) + np.uint64(1)) * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z ^= z >> np.uint64(31)
    return (z >> np.uint64(32)).astype(np.uint32)


@pytest.mark.parametrize("grid", GRIDS, ids=GRID_IDS)
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("n, p", [(1, 0.5), (1000, 0.3), (4099, 0.9)])
def test_dropout(n, p, dtype, grid):
    rng = np.random.default_rng(n)
    x = rng.standard_normal(n).astype(dtype)
    x[0] = np.nan if n > 1 else x[0]                      # a product: NaN stays NaN even where dropped
    seed, offset = 0x1234_5678_9ABC, 77
    state = dev(np.array([seed, offset, 0], np.uint64))
    used, y = dev(np.full(2, 2**63 + 7, np.uint64)), dev_nan((n,), dtype)
    threshold = np.uint32(round(p * 2**32))
    scale = (np.float32 if dtype == np.float32 else np.float64)(1 / (1 - p))
    launch(kernel("dropout.cu", "dropout_fwd_" + sfx(dtype)), n,
           (dev(x), y, state, used, np.int64(n), threshold, scale), grid)
    keep = dropout_bits(seed, offset + np.arange(n)) >= threshold
    np.testing.assert_array_equal(y.get(), x * np.where(keep, scale, dtype(0)))
    assert list(state.get()) == [seed, offset + n, 0]          # counter moved on, ticket reset
    assert list(used.get()) == [seed, offset]
    if n > 100:
        assert abs(keep.mean() - (1 - p)) < 0.05

    gy, gx = rng.standard_normal(n).astype(dtype), dev_nan((n,), dtype)
    launch(kernel("dropout.cu", "dropout_bwd_" + sfx(dtype)), n, (dev(gy), gx, used, np.int64(n), threshold, scale),
           grid)
    np.testing.assert_array_equal(gx.get(), gy * np.where(keep, scale, dtype(0)))

    launch(kernel("dropout.cu", "dropout_fwd_" + sfx(dtype)), n,    # the next launch draws new numbers
           (dev(x), y, state, used, np.int64(n), threshold, scale), grid)
    assert list(used.get()) == [seed, offset + n] and state.get()[1] == offset + 2 * n


#: kernels/*.cu files whose kernels another test module checks against its NumPy reference.
TESTED_ELSEWHERE = {"optim.cu": "test_optim_flat.py"}


def test_every_kernel_is_covered():
    """The tests above name every extern "C" kernel of kernels/*.cu: a new kernel needs a test here."""
    tested = {f"{k}_{s}" for s in ("f32", "f64") for k in (
        "im2col", "col2im", "maxpool_fwd", "maxpool_bwd", "avgpool_fwd", "avgpool_bwd",
        "lstm_fwd", "lstm_bwd", "gru_fwd", "gru_bwd", "bias_act_fwd", "bias_act_bwd",
        "dropout_fwd", "dropout_bwd")}
    tested |= {f"ce_{k}_{s}_{i}" for k in ("fwd", "bwd") for s in ("f32", "f64") for i in ("i32", "i64")}
    found = set()
    for path in sorted(kernel_dir().glob("*.cu")):
        module = _raw.RawModule(code=path.read_text(), options=("-std=c++17",))
        module.compile()
        kernels = set(_raw._build(module.code, module.options, None).kernels)
        elsewhere = TESTED_ELSEWHERE.get(path.name)
        if elsewhere is not None:   # another test module runs these: it must at least name each of them
            text = (Path(__file__).parent / elsewhere).read_text()
            missing = sorted(k for k in kernels if k.rsplit("_", 1)[0] not in text)
            assert not missing, f"{path.name}: kernels {missing} are not named in tests/{elsewhere}"
            continue
        found |= kernels
    assert found == tested


# --- argument checking (what a GPU would silently get wrong) and CuPy's rules --------------------------

def im2col_args(dtype=np.float32):
    x = dev(np.ones((1, 1, 4, 4), dtype))
    cols = dev_nan((1, 2, 2, 1, 3, 3), dtype)
    return [x, cols] + list(conv_ops._conv_args((1, 1, 4, 4), 2, 2, 3, 3, (1, 1), (0, 0), (1, 1), 36))


def call_im2col(args, dtype=np.float32):
    kernel("conv.cu", "im2col_" + sfx(dtype))((1,), (32,), tuple(args))


def test_params_are_reported():
    params = kernel("conv.cu", "im2col_f32")._params
    assert [p.ctype for p in params] == ["const float*", "float*"] + ["int"] * 14 + ["long long"]
    assert params[0].pointee_const and not params[1].pointee_const


@pytest.mark.parametrize("index, value, given", [
    (2, np.int64(1), "np.int64(1) (8 bytes)"),                                   # int64 for int
    (2, 1, "Python int 1 (CuPy passes it as int64)"),                           # Python int is int64 in CuPy
    (2, np.float32(1), "np.float32(1.0) (4 bytes)"),                           # right size, wrong kind
    (16, np.int32(36), "np.int32(36) (4 bytes)"),                                 # int for long long
    (2, dev(np.ones(1, np.int32)), "a cupy.ndarray of dtype int32 and shape (1,)"),  # array for a scalar
    (0, np.float32(0), "np.float32(0.0) (4 bytes)"),                           # scalar for a pointer
    (0, dev(np.ones(16, np.float64)), "a cupy.ndarray of dtype float64"),       # double* data for float*
    (0, np.ones(1, np.float32), "a numpy.ndarray of dtype float32 and shape (1,)"),  # host array for pointer
])
def test_mismatched_argument_is_refused(index, value, given):
    args = im2col_args()
    args[index] = value
    expected = {0: "'const float*'", 2: "'int'", 16: "'long long'"}[index]
    with runtime.counting() as counts, pytest.raises(TypeError) as err:
        call_im2col(args)
    msg = str(err.value)
    assert msg.startswith("im2col_f32(const float*, float*, int, ")
    assert f"argument {index} has C type {expected}" in msg
    assert given in msg
    assert counts.launches == 0  # refused before anything is queued


def test_numpy_array_is_refused_with_cupys_error():
    args = im2col_args()
    args[0] = np.ones((1, 1, 4, 4), np.float32)
    with pytest.raises(TypeError, match=r"You are trying to pass a numpy.ndarray of shape \(1, 1, 4, 4\) as a "
                                        r"kernel parameter"):
        call_im2col(args)
    args = im2col_args()
    args[3] = "1"
    with pytest.raises(TypeError, match=r"^Unsupported type <class 'str'>$"):
        call_im2col(args)


def test_accepted_scalar_forms():
    """Exact NumPy scalars, size-one NumPy arrays (passed by value, as CuPy does), Python int for long long,
    a MemoryPointer (``arr.data``) for a pointer."""
    args = im2col_args()
    x = args[0]
    args[0] = type("MemoryPointer", (), {"ptr": x._a.ctypes.data})()  # what x.data is
    args[2] = np.array([1], np.int32)
    args[3] = np.uint32(1)
    args[16] = 36  # Python int -> int64 in CuPy: the size of long long
    call_im2col(args)
    np.testing.assert_array_equal(args[1].get(), 1.0)


def test_wrong_argument_count():
    args = im2col_args()
    with pytest.raises(TypeError, match=r"^im2col_f32\(.*\): takes 17 argument\(s\), got 16$"):
        call_im2col(args[:-1])
    with pytest.raises(TypeError, match="takes 17 argument"):
        call_im2col(args + [np.int32(0)])


def test_grid_and_block_follow_cupy():
    fn = kernel("conv.cu", "im2col_f32")
    args = tuple(im2col_args())
    with pytest.raises(TypeError, match=r"Argument 'grid' has incorrect type \(expected tuple, got int\)"):
        fn(1, (32,), args)
    with pytest.raises(TypeError, match=r"Argument 'block' has incorrect type \(expected tuple, got list\)"):
        fn((1,), [32], args)
    with pytest.raises(_raw.CUDADriverError, match="CUDA_ERROR_INVALID_VALUE"):
        fn((1,), (1025,), args)
    with pytest.raises(_raw.CUDADriverError, match="CUDA_ERROR_INVALID_VALUE"):
        fn((1, 70000), (32,), args)
    with pytest.raises(TypeError, match="unexpected keyword argument 'shared'"):
        fn((1,), (32,), args, shared=0)
    fn((0,), (8, 2, 2), args, shared_mem=0, stream=None)  # 0 blocks run as 1 (CuPy clamps to >= 1)
    np.testing.assert_array_equal(args[1].get(), 1.0)


def test_unknown_kernel_name():
    module = _raw.RawModule(code=(kernel_dir() / "conv.cu").read_text(), options=("-std=c++17",))
    with pytest.raises(_raw.CUDADriverError, match="CUDA_ERROR_NOT_FOUND: named symbol not found"):
        module.get_function("im2col_f16")
    with pytest.raises(_raw.CUDADriverError, match="CUDA_ERROR_NOT_FOUND"):
        module.get_function("im2col_impl")  # a template __device__ function, not a kernel


def test_launches_are_counted_and_captured():
    fn = kernel("conv.cu", "im2col_f64")
    args = im2col_args(np.float64)
    with runtime.counting() as counts:
        fn((1,), (32,), tuple(args))
    assert counts.launches == 1 and counts.by_name["im2col_f64"] == 1
    # While a stream captures, the launch is recorded (with its argument values), not run.
    cols = args[1]
    cols._a.fill(np.nan)
    saved, runtime.capture = runtime.capture, types.SimpleNamespace(ops=[])
    try:
        fn((1,), (32,), tuple(args))
        ops = runtime.capture.ops
    finally:
        runtime.capture = saved
    assert np.isnan(cols.get()).all() and [name for name, _ in ops] == ["im2col_f64"]
    ops[0][1]()  # graph replay
    np.testing.assert_array_equal(cols.get(), 1.0)


def test_shrunk_grid_reports_the_capped_grid():
    code = textwrap.dedent("""
        extern "C" __global__ void dims(int* out) {
            if (blockIdx.x == 0 && threadIdx.x == 0) { out[0] = gridDim.x; out[1] = gridDim.y; out[2] = blockDim.x; }
        }
    """)
    fn = _raw.RawModule(code=code).get_function("dims")
    out = dev(np.zeros(3, np.int32))
    fn((10, 2), (4,), (out,))
    assert out.get().tolist() == [10, 2, 4]
    with _raw.shrunk_grid(3):
        fn((10, 2), (4,), (out,))
        assert _raw.max_grid_blocks == 3
    assert out.get().tolist() == [3, 2, 4] and _raw.max_grid_blocks is None


# --- the CUDA-on-CPU header -----------------------------------------------------------------------------

def test_index_variables_and_math_types():
    """Every (block, thread) of a 3-D launch runs once; float math stays in float, min/max overloads."""
    code = textwrap.dedent("""
        extern "C" {
        __global__ void where(int* out, float* f) {
            const int b = (blockIdx.z * gridDim.y + blockIdx.y) * gridDim.x + blockIdx.x;
            const int t = (threadIdx.z * blockDim.y + threadIdx.y) * blockDim.x + threadIdx.x;
            const int g = b * blockDim.x * blockDim.y * blockDim.z + t;
            atomicAdd(&out[g], g + 1);
            if (g == 0) {
                out[1000] = sizeof(tanh(1.0f)) + 10 * sizeof(expf(1.0f)) + 100 * sizeof(min(1, 2u));
                out[1001] = max(-3, 2) + 10 * (int)min(2.5f, 7.0f);
                f[0] = __expf(1.0f); f[1] = rsqrtf(4.0f); f[2] = tanhf(0.5f); f[3] = __fdividef(1.0f, 3.0f);
            }
        }
        }
    """)
    fn = _raw.RawModule(code=code).get_function("where")
    out, f = dev(np.zeros(1002, np.int32)), dev(np.zeros(4, np.float32))
    fn((3, 2, 2), (4, 3, 2), (out, f))
    n = 3 * 2 * 2 * 4 * 3 * 2
    np.testing.assert_array_equal(out.get()[:n], np.arange(1, n + 1))
    assert (out.get()[n:1000] == 0).all()
    assert out.get()[1000] == 4 + 40 + 400 and out.get()[1001] == 2 + 20
    want = np.array([np.exp(np.float32(1)), 0.5, np.tanh(np.float32(0.5)), np.float32(1) / np.float32(3)])
    np.testing.assert_allclose(f.get(), want.astype(np.float32), rtol=1e-7)


def test_shared_memory_and_syncthreads():
    """Threads of a block see each other's __shared__ writes after __syncthreads (reversal + tree sum)."""
    code = textwrap.dedent("""
        extern "C" __global__ void reverse_and_sum(const float* x, float* rev, float* sums, int n) {
            __shared__ float s[256];
            const int t = threadIdx.x, i = blockIdx.x * blockDim.x + t;
            s[t] = i < n ? x[i] : 0.0f;
            __syncthreads();
            if (i < n) rev[i] = s[blockDim.x - 1 - t];
            __syncthreads();
            for (int stride = blockDim.x / 2; stride > 0; stride /= 2) {
                if (t < stride) s[t] += s[t + stride];
                __syncthreads();
            }
            if (t == 0) sums[blockIdx.x] = s[0];
        }
    """)
    fn = _raw.RawModule(code=code).get_function("reverse_and_sum")
    x = np.arange(512, dtype=np.float32)
    rev, sums = dev_nan(512, np.float32), dev_nan(4, np.float32)
    fn((4,), (128,), (dev(x), rev, sums, np.int32(512)))
    np.testing.assert_array_equal(rev.get(), x.reshape(4, 128)[:, ::-1].ravel())
    np.testing.assert_array_equal(sums.get(), x.reshape(4, 128).sum(axis=1))


def test_dynamic_shared_memory():
    code = textwrap.dedent("""
        extern "C" __global__ void reverse(const double* x, double* y) {
            extern __shared__ double buf[];
            const int t = threadIdx.x, i = blockIdx.x * blockDim.x + t;
            buf[t] = x[i];
            __syncthreads();
            y[i] = buf[blockDim.x - 1 - t];
        }
    """)
    fn = _raw.RawModule(code=code).get_function("reverse")
    x = np.arange(96, dtype=np.float64)
    y = dev_nan(96, np.float64)
    fn((3,), (32,), (dev(x), y), shared_mem=32 * 8)
    np.testing.assert_array_equal(y.get(), x.reshape(3, 32)[:, ::-1].ravel())
    with pytest.raises(_raw.CUDADriverError, match="CUDA_ERROR_INVALID_VALUE"):
        fn((3,), (32,), (dev(x), y), shared_mem=64 * 1024)


def test_name_expressions_for_template_kernels():
    code = "template <typename T> __global__ void fill(T* p, T v, int n) {" \
           " for (int i = threadIdx.x; i < n; i += blockDim.x) p[i] = v; }"
    module = _raw.RawModule(code=code, name_expressions=("fill<float>", "fill<int>"))
    a, b = dev_nan(5, np.float32), dev_nan(5, np.int32)
    module.get_function("fill<float>")((1,), (2,), (a, np.float32(2.5), np.int32(5)))
    module.get_function("fill<int>")((1,), (2,), (b, np.int32(7), np.int32(5)))
    assert a.get().tolist() == [2.5] * 5 and b.get().tolist() == [7] * 5
    with pytest.raises(TypeError, match=r"argument 1 has C type 'int'"):
        module.get_function("fill<int>")((1,), (2,), (b, np.float32(7), np.int32(5)))


# --- compiling and caching ------------------------------------------------------------------------------

TINY = 'extern "C" __global__ void add_one(float* p, int n) { for (int i = threadIdx.x; i < n; i += blockDim.x)' \
       ' p[i] += N_ADD; }'


def test_compile_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("DEEPCORE_EMULATED_CUDA_CACHE", str(tmp_path))
    code = TINY + f"\n// {tmp_path}\n"  # a source no other test compiled
    before = dict(_raw.stats)
    module = _raw.RawModule(code=code, options=("-DN_ADD=1", "--use_fast_math"))
    assert _raw.stats == before  # lazy: nothing compiled yet
    fn = module.get_function("add_one")
    assert _raw.stats["compiles"] == before["compiles"] + 1
    assert [p.name for p in tmp_path.iterdir()] == [p.name for p in tmp_path.glob("*.so")] and \
        len(list(tmp_path.iterdir())) == 1
    a = dev(np.zeros(3, np.float32))
    fn((1,), (2,), (a, np.int32(3)))
    assert a.get().tolist() == [1, 1, 1]

    _raw.RawModule(code=code, options=("-DN_ADD=1", "--use_fast_math")).get_function("add_one")
    assert _raw.stats["compiles"] == before["compiles"] + 1 and _raw.stats["memory_hits"] > before["memory_hits"]
    for key in [k for k, lib in _raw._libraries.items() if lib.path.parent == tmp_path]:
        del _raw._libraries[key]  # as if in a new process: load from disk
    _raw.RawModule(code=code, options=("-DN_ADD=1", "--use_fast_math")).get_function("add_one")
    assert _raw.stats["compiles"] == before["compiles"] + 1
    assert _raw.stats["disk_hits"] == before["disk_hits"] + 1

    fn2 = _raw.RawModule(code=code, options=("-D", "N_ADD=2")).get_function("add_one")  # other options: rebuild
    assert _raw.stats["compiles"] == before["compiles"] + 2 and len(list(tmp_path.glob("*.so"))) == 2
    fn2((1,), (2,), (a, np.int32(3)))
    assert a.get().tolist() == [3, 3, 3]


def test_concurrent_compiles_share_the_cache(tmp_path):
    """Two processes building the same new module at once both succeed and leave one complete file."""
    code = TINY.replace("N_ADD", "1.0f") + f"\n// {tmp_path}\n"
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(EMULATED)!r})
        from cupy_emulation import _raw
        _raw.RawModule(code={code!r}).get_function("add_one")
        print(_raw.stats["compiles"] + _raw.stats["disk_hits"])
    """)
    env = dict(os.environ, DEEPCORE_EMULATED_CUDA_CACHE=str(tmp_path))
    procs = [subprocess.Popen([sys.executable, "-c", script], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(2)]
    results = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], results
    assert [out.strip() for out, _ in results] == ["1", "1"]
    assert [p.suffix for p in tmp_path.iterdir()] == [".so"]


def test_compile_errors():
    with pytest.raises(_raw.CompileException, match="undeclared_thing"):
        _raw.RawModule(code='extern "C" __global__ void k(int* p) { p[0] = undeclared_thing; }').get_function("k")
    with pytest.raises(_raw.CompileException, match="invalid NVRTC option: '--frobnicate'"):
        _raw.RawModule(code=TINY, options=("--frobnicate",)).compile()
    with pytest.raises(TypeError, match="Exactly one of `code` and `path`"):
        _raw.RawModule()


# --- with the stand-in cupy module, when it is the one imported ------------------------------------------

def test_with_emulated_cupy_arrays():
    import cupy_emulation
    if not cupy_emulation.is_active():
        pytest.skip("the emulated cupy is not the imported cupy (run with --emulate-cuda)")
    import cupy
    fn = cupy.RawModule(code=(kernel_dir() / "pool.cu").read_text(), options=("-std=c++17",)).get_function(
        "avgpool_fwd_f32")
    x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    xd = cupy.asarray(x)
    y = cupy.empty((1, 1, 2, 2), dtype=np.float32)
    with cupy_emulation.counting() as counts:
        fn((1,), (256,), (xd[:, :, ::2], y) + pool_ops._pool_args((1, 1, 2, 4), (1, 2), (2, 2), (1, 2), (0, 0), 4))
    assert counts.launches == 1 and counts.copies == 0 and counts.syncs == 0
    # RawKernel ignores views (CuPy's documented behaviour): the kernel reads from the view's first element
    # with the strides of a contiguous (1, 1, 2, 4) array, i.e. the first two rows of x.
    np.testing.assert_array_equal(y.get(), x[:, :, :2].reshape(1, 1, 2, 2, 2).mean(axis=4))
