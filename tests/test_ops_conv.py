"""conv2d: forward against a naive loop and PyTorch, gradients by finite differences, fast paths vs generic."""

import numpy as np
import pytest
from harness import check_forward, check_grad

import deepcore as dc
from deepcore.backend import fastpath
import deepcore.nn.functional as F
from deepcore.ops import conv as conv_mod
from deepcore.ops import conv_shifted


def _pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def naive_conv2d(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    """Direct definition: one dot product per output element and group, padding by np.pad."""
    (sh, sw), (ph, pw), (dh, dw) = _pair(stride), _pair(padding), _pair(dilation)
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    og = o // groups
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    oh = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    ow = (wd + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    y = np.zeros((n, o, oh, ow))
    for g in range(groups):
        xs = xp[:, g * cg:(g + 1) * cg]
        ws = w[g * og:(g + 1) * og]
        for i in range(oh):
            for j in range(ow):
                patch = xs[:, :, i * sh:i * sh + dh * (kh - 1) + 1:dh, j * sw:j * sw + dw * (kw - 1) + 1:dw]
                y[:, g * og:(g + 1) * og, i, j] = np.einsum("nckl,ockl->no", patch, ws)
    if b is not None:
        y += b.reshape(1, -1, 1, 1)
    return y


# (x shape, weight shape, stride, padding, dilation, groups)
CASES = [
    ((2, 3, 6, 6), (4, 3, 3, 3), 1, 0, 1, 1),
    ((2, 3, 6, 5), (4, 3, 3, 3), 1, 1, 1, 1),
    ((2, 4, 7, 6), (6, 2, 3, 2), 2, 1, 1, 2),
    ((1, 2, 7, 7), (3, 2, 2, 3), (2, 1), (1, 0), (2, 1), 1),
    ((2, 4, 6, 6), (4, 1, 3, 3), 1, 1, 1, 4),          # depthwise
    ((2, 4, 5, 6), (6, 4, 1, 1), 1, 0, 1, 1),          # 1x1: plain GEMM path
    ((2, 4, 5, 6), (6, 2, 1, 1), 1, 0, 1, 2),          # grouped 1x1
    ((2, 3, 6, 6), (2, 3, 1, 1), 2, 1, 1, 1),          # 1x1 with stride/padding: im2col path
    ((1, 2, 5, 5), (2, 2, 5, 5), 1, 0, 1, 1),          # kernel covers the whole input
]
IDS = [f"x{c[0]}w{c[1]}s{c[2]}p{c[3]}d{c[4]}g{c[5]}".replace(" ", "") for c in CASES]


def _arrays(case, bias=True, seed=0):
    rng = np.random.default_rng(seed)
    xs, ws = case[0], case[1]
    arrays = [rng.standard_normal(xs), rng.standard_normal(ws)]
    if bias:
        arrays.append(rng.standard_normal(ws[0]))
    return arrays


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_conv2d_forward_matches_naive_loop(case, dtype, device):
    _, _, s, p, d, g = case
    check_forward(lambda x, w, b: F.conv2d(x, w, b, s, p, d, g),
                  lambda x, w, b: naive_conv2d(x, w, b, s, p, d, g), _arrays(case), device, dtype)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_conv2d_forward_and_grads_match_torch(case, device):
    torch = pytest.importorskip("torch")
    _, _, s, p, d, g = case
    x, w, b = _arrays(case)
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    ty = torch.nn.functional.conv2d(tx, tw, tb, s, p, d, g)
    gy = np.random.default_rng(1).standard_normal(tuple(ty.shape))
    ty.backward(torch.tensor(gy))
    X, W, B = (dc.tensor(a, device=device, requires_grad=True) for a in (x, w, b))
    y = F.conv2d(X, W, B, stride=s, padding=p, dilation=d, groups=g)
    y.backward(dc.tensor(gy, device=device))
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-10, atol=1e-10)
    for ours, theirs in ((X, tx), (W, tw), (B, tb)):
        np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-10, atol=1e-10)


GRAD_CASES = [CASES[i] for i in (1, 2, 3, 4, 6, 7)]


@pytest.mark.parametrize("case", GRAD_CASES, ids=[IDS[CASES.index(c)] for c in GRAD_CASES])
def test_conv2d_gradcheck(case, device):
    _, _, s, p, d, g = case
    check_grad(lambda x, w, b: F.conv2d(x, w, b, s, p, d, g), _arrays(case), device)


def test_conv2d_without_bias_and_partial_grads(device):
    case = CASES[2]
    _, _, s, p, d, g = case
    x, w = _arrays(case, bias=False)
    check_grad(lambda x, w: F.conv2d(x, w, None, s, p, d, g), [x, w], device)
    X = dc.tensor(x, device=device)                       # weight-only gradient
    W = dc.tensor(w, device=device, requires_grad=True)
    F.conv2d(X, W, stride=s, padding=p, groups=g).sum().backward()
    assert X.grad is None and W.grad.shape == W.shape
    X = dc.tensor(x, device=device, requires_grad=True)   # input-only gradient
    W = dc.tensor(w, device=device)
    F.conv2d(X, W, stride=s, padding=p, groups=g).sum().backward()
    assert W.grad is None and X.grad.shape == X.shape


def test_conv2d_float32_stays_float32(device):
    x, w, b = _arrays(CASES[1])
    X, W, B = (dc.tensor(a, dtype=dc.float32, device=device, requires_grad=True) for a in (x, w, b))
    y = F.conv2d(X, W, B, padding=1)
    y.sum().backward()
    assert y.dtype == np.float32 and X.grad.dtype == np.float32 and W.grad.dtype == np.float32
    assert B.grad.dtype == np.float32


@pytest.mark.parametrize("case", [CASES[1], CASES[2], CASES[3]], ids=[IDS[1], IDS[2], IDS[3]])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_numba_col2im_matches_generic(case, dtype):
    xs, ws, s, p, d, _ = case
    s, p, d = _pair(s), _pair(p), _pair(d)
    kh, kw = ws[2:]
    oh = (xs[2] + 2 * p[0] - d[0] * (kh - 1) - 1) // s[0] + 1
    ow = (xs[3] + 2 * p[1] - d[1] * (kw - 1) - 1) // s[1] + 1
    gcols = np.random.default_rng(0).standard_normal((xs[1], kh, kw, xs[0], oh, ow)).astype(dtype)
    generic = conv_mod._col2im_xp(np, gcols, xs, s, p, d)
    with fastpath.forced(True):
        fast = conv_mod._col2im(np, gcols, xs, s, p, d)
    assert fast.dtype == dtype and fast.shape == xs
    np.testing.assert_allclose(fast, generic, rtol=1e-6 if dtype == np.float32 else 1e-12, atol=1e-6)


def test_im2col_col2im_are_adjoint():
    """<im2col(x), c> == <x, col2im(c)>: the backward really is the transpose of the forward."""
    rng = np.random.default_rng(0)
    xs, s, p, d = (2, 3, 7, 6), (2, 1), (1, 2), (1, 2)
    x = rng.standard_normal(xs)
    oh, ow = (7 + 2 - 3) // 2 + 1, (6 + 4 - 2 * 2 - 1) // 1 + 1
    cols = conv_mod._im2col_xp(np, x, 3, 3, oh, ow, s, p, d)
    c = rng.standard_normal(cols.shape)
    np.testing.assert_allclose((cols * c).sum(), (x * conv_mod._col2im_xp(np, c, xs, s, p, d)).sum())


def test_conv2d_generic_path_equals_fast_path():
    case = CASES[2]
    _, _, s, p, d, g = case

    def grads():
        X, W, B = (dc.tensor(a, requires_grad=True) for a in _arrays(case))
        y = F.conv2d(X, W, B, s, p, d, g)
        y.backward(dc.tensor(np.random.default_rng(1).standard_normal(y.shape)))
        return X.grad.numpy(), W.grad.numpy(), B.grad.numpy()

    with fastpath.forced(True):
        fast = grads()
    with fastpath.forced(False):
        generic = grads()
    for a, b in zip(fast, generic):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


# Stride-1, one-group cases with >= 16 input channels: the CPU shifted-GEMM path (ops/conv_shifted.py).
SHIFTED_CASES = [
    ((2, 16, 6, 5), (4, 16, 3, 3), 1, 1, 1, 1),
    ((2, 16, 7, 7), (3, 16, 2, 3), 1, (1, 0), (2, 1), 1),   # dilation, padding on one axis
    ((1, 16, 5, 5), (2, 16, 5, 5), 1, 0, 1, 1),             # kernel covers the whole input
    ((3, 17, 9, 4), (5, 17, 3, 1), 1, (2, 0), 1, 1),        # padding equal to the kernel's reach
    ((2, 16, 4, 5), (3, 16, 1, 3), 1, (1, 3), 1, 1),        # padding beyond it: outputs outgrow the rows
]
SHIFTED_IDS = [f"x{c[0]}w{c[1]}p{c[3]}d{c[4]}".replace(" ", "") for c in SHIFTED_CASES]


def _conv_and_grads(case, dtype, seed=0):
    _, _, s, p, d, g = case
    X, W, B = (dc.tensor(a.astype(dtype), requires_grad=True) for a in _arrays(case, seed=seed))
    y = F.conv2d(X, W, B, s, p, d, g)
    y.backward(dc.tensor(np.random.default_rng(1).standard_normal(y.shape).astype(dtype)))
    return y.numpy(), X.grad.numpy(), W.grad.numpy(), B.grad.numpy()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", SHIFTED_CASES, ids=SHIFTED_IDS)
def test_shifted_gemm_path_matches_im2col_path(case, dtype, monkeypatch):
    x, w = np.zeros(case[0], dtype), np.zeros(case[1], dtype)
    if not conv_shifted.applies(x, w, (1, 1), 1):
        pytest.skip("no ILP64 CBLAS found next to NumPy: the shifted path is off")
    monkeypatch.setattr(conv_shifted, "_BLOCK", 7)              # several column blocks, ragged last one
    with fastpath.forced(True):
        fast = _conv_and_grads(case, dtype)
    with fastpath.forced(False):
        generic = _conv_and_grads(case, dtype)
    tol = 1e-4 if dtype == np.float32 else 1e-12
    for a, b in zip(fast, generic):
        assert a.dtype == dtype
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


@pytest.mark.parametrize("case", SHIFTED_CASES, ids=SHIFTED_IDS)
def test_shifted_gemm_path_forward_and_gradcheck(case):
    _, _, s, p, d, g = case
    check_forward(lambda x, w, b: F.conv2d(x, w, b, s, p, d, g),
                  lambda x, w, b: naive_conv2d(x, w, b, s, p, d, g), _arrays(case), "cpu", np.float64)
    check_grad(lambda x, w, b: F.conv2d(x, w, b, s, p, d, g), _arrays(case))


def test_shifted_gemm_path_applies_only_where_it_pays():
    x, w = np.zeros((2, 16, 5, 5), np.float32), np.zeros((4, 16, 3, 3), np.float32)
    if not conv_shifted.applies(x, w, (1, 1), 1):
        pytest.skip("no ILP64 CBLAS found next to NumPy: the shifted path is off")
    assert not conv_shifted.applies(x, w, (2, 1), 1)                     # strided: im2col
    assert not conv_shifted.applies(x, np.zeros((4, 8, 3, 3), np.float32), (1, 1), 2)  # grouped
    assert not conv_shifted.applies(x[:, :3], w[:, :3], (1, 1), 1)      # few channels: im2col
    assert not conv_shifted.applies(x.astype(np.float16), w.astype(np.float16), (1, 1), 1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", [CASES[1], CASES[2], CASES[3]], ids=[IDS[1], IDS[2], IDS[3]])
def test_cuda_im2col_col2im_kernels_match_numpy(case, dtype, device):
    if device == "cpu":
        pytest.skip("compares the CUDA kernels with the NumPy path")
    import cupy
    xs, ws, s, p, d, _ = case
    s, p, d = _pair(s), _pair(p), _pair(d)
    kh, kw = ws[2:]
    oh = (xs[2] + 2 * p[0] - d[0] * (kh - 1) - 1) // s[0] + 1
    ow = (xs[3] + 2 * p[1] - d[1] * (kw - 1) - 1) // s[1] + 1
    rng = np.random.default_rng(0)
    x = rng.standard_normal(xs).astype(dtype)
    cols = conv_mod._im2col_cuda(cupy.asarray(x), kh, kw, oh, ow, s, p, d)
    np.testing.assert_array_equal(cupy.asnumpy(cols), conv_mod._im2col_xp(np, x, kh, kw, oh, ow, s, p, d))
    gcols = rng.standard_normal(cols.shape).astype(dtype)
    gx = conv_mod._col2im_cuda(cupy.asarray(gcols), xs, s, p, d)
    assert gx.dtype == dtype
    np.testing.assert_allclose(cupy.asnumpy(gx), conv_mod._col2im_xp(np, gcols, xs, s, p, d),
                               rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-5)


def test_conv2d_accepts_int_or_pair_arguments():
    x, w, b = _arrays(CASES[3])
    a = F.conv2d(dc.tensor(x), dc.tensor(w), dc.tensor(b), stride=[2, 1], padding=(1, 0), dilation=(2, 1))
    np.testing.assert_allclose(a.numpy(), naive_conv2d(x, w, b, (2, 1), (1, 0), (2, 1)), rtol=1e-10)


@pytest.mark.parametrize("xs, ws, kw, message", [
    ((3, 6, 6), (4, 3, 3, 3), {}, "conv2d: expected a 4-D input (N, C, H, W), got shape (3, 6, 6)"),
    ((1, 3, 6, 6), (4, 3, 3), {}, "conv2d: expected a 4-D weight"),
    ((1, 3, 6, 6), (4, 4, 3, 3), {}, "conv2d: input has 3 channels but weight expects 4 (groups=1)"),
    ((1, 3, 6, 6), (4, 1, 3, 3), {"groups": 2}, "conv2d: in_channels (3) is not divisible by groups (2)"),
    ((1, 4, 6, 6), (5, 2, 3, 3), {"groups": 2}, "conv2d: out_channels (5) is not divisible by groups (2)"),
    ((1, 4, 6, 6), (4, 1, 3, 3), {"groups": 2}, "conv2d: input has 4 channels but weight expects 2 (groups=2)"),
    ((1, 3, 4, 4), (2, 3, 7, 7), {"padding": 1}, "conv2d: kernel size (7, 7) (after dilation) is larger than "
                                                 "the padded input (6, 6)"),
    ((1, 3, 6, 6), (2, 3, 3, 3), {"dilation": 3}, "conv2d: kernel size (7, 7) (after dilation)"),
    ((1, 3, 6, 6), (2, 3, 3, 3), {"stride": 0}, "conv2d: stride must be >= 1, got (0, 0)"),
    ((1, 3, 6, 6), (2, 3, 3, 3), {"padding": (1, 2, 3)}, "conv2d: padding must be an int or a pair"),
    ((1, 3, 6, 6), (2, 3, 3, 3), {"groups": 0}, "conv2d: groups must be a positive int"),
])
def test_conv2d_errors(xs, ws, kw, message):
    with pytest.raises(ValueError) as info:
        F.conv2d(dc.zeros(xs), dc.zeros(ws), **kw)
    assert message in str(info.value)


def test_conv2d_bias_and_dtype_errors():
    x, w = dc.zeros((1, 3, 5, 5)), dc.zeros((2, 3, 3, 3))
    with pytest.raises(ValueError, match=r"conv2d: bias must have shape \(2,\), got \(3,\)"):
        F.conv2d(x, w, dc.zeros(3))
    with pytest.raises(TypeError, match="input float64, weight float32"):
        F.conv2d(dc.zeros((1, 3, 5, 5), dtype=dc.float64), w)


def test_cuda_conv2d_launches(device):
    """im2col + GEMM + one bias(+activation) kernel that also writes NCHW; backward: one kernel for the
    activation's gradient, its transpose and the bias gradient, then im2col + GEMM, GEMM + col2im."""
    import sys
    emulation = sys.modules.get("cupy_emulation")
    if device == "cpu" or emulation is None or not emulation.is_active() or not fastpath.enabled():
        pytest.skip("launch counts of the fast paths exist on the emulated CUDA device only")
    x = dc.randn(2, 3, 7, 7, device=device, requires_grad=True)
    w, b = dc.randn(4, 3, 3, 3, device=device, requires_grad=True), dc.randn(4, device=device, requires_grad=True)
    for act in (None, "relu"):
        x.grad = w.grad = b.grad = None
        with emulation.counting() as fwd:
            y = F.conv2d(x, w, b, padding=1, activation=act)
        g = dc.ones(y.shape, device=device)
        with emulation.counting() as bwd:
            y.backward(g)
        assert fwd.by_name == {"im2col_f32": 1, "matmul": 1, "bias_act_fwd_f32": 1}, fwd.by_name
        assert bwd.by_name == {"bias_act_bwd_f32": 1, "im2col_f32": 1, "matmul": 2, "col2im_f32": 1}, bwd.by_name
