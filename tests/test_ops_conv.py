"""Convolutions beyond the operator registry (tests/registry/conv.py holds forward, gradcheck and PyTorch
parity of conv2d/conv1d/conv_transpose2d): partial gradients, dtypes, the im2col/col2im kernels and the
CPU shifted-GEMM fast path against the generic path, launch counts, the adjoint relation of conv2d and
conv_transpose2d, the nn layers (Conv1d, Conv2d, ConvTranspose2d) and argument/shape errors."""

import numpy as np
import pytest
from harness import check_forward, check_grad
from registry.conv import naive_conv2d

import deepcore as dc
import deepcore.nn as nn
import deepcore.nn.functional as F
from deepcore.backend import fastpath
from deepcore.errors import ShapeError
from deepcore.ops import conv as conv_mod
from deepcore.ops import conv_shifted


def _pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


# (x shape, weight shape, stride, padding, dilation, groups): geometries for the kernel-level tests
CASES = [
    ((2, 3, 6, 5), (4, 3, 3, 3), 1, 1, 1, 1),
    ((2, 4, 7, 6), (6, 2, 3, 2), 2, 1, 1, 2),
    ((1, 2, 7, 7), (3, 2, 2, 3), (2, 1), (1, 0), (2, 1), 1),
]
IDS = [f"x{c[0]}w{c[1]}s{c[2]}p{c[3]}d{c[4]}g{c[5]}".replace(" ", "") for c in CASES]


def _arrays(case, bias=True, seed=0):
    rng = np.random.default_rng(seed)
    xs, ws = case[0], case[1]
    arrays = [rng.standard_normal(xs), rng.standard_normal(ws)]
    if bias:
        arrays.append(rng.standard_normal(ws[0]))
    return arrays


def _out_hw(xs, ws, s, p, d):
    s, p, d = _pair(s), _pair(p), _pair(d)
    kh, kw = ws[2:]
    return ((xs[2] + 2 * p[0] - d[0] * (kh - 1) - 1) // s[0] + 1, (xs[3] + 2 * p[1] - d[1] * (kw - 1) - 1) // s[1] + 1)


def test_conv2d_without_bias_and_partial_grads(device):
    case = CASES[1]
    _, _, s, p, d, g = case
    x, w = _arrays(case, bias=False)
    X = dc.tensor(x, device=device)                       # weight-only gradient
    W = dc.tensor(w, device=device, requires_grad=True)
    F.conv2d(X, W, stride=s, padding=p, groups=g).sum().backward()
    assert X.grad is None and W.grad.shape == W.shape
    X = dc.tensor(x, device=device, requires_grad=True)   # input-only gradient
    W = dc.tensor(w, device=device)
    F.conv2d(X, W, stride=s, padding=p, groups=g).sum().backward()
    assert W.grad is None and X.grad.shape == X.shape


@pytest.mark.parametrize("fn, w_shape, b_len", [("conv2d", (4, 3, 3, 3), 4), ("conv_transpose2d", (3, 4, 3, 3), 4),
                                                ("conv1d", (4, 3, 3), 4)])
def test_float32_stays_float32(fn, w_shape, b_len, device):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 6, 5) if len(w_shape) == 4 else (2, 3, 6))
    X, W, B = (dc.tensor(a, dtype=dc.float32, device=device, requires_grad=True)
               for a in (x, rng.standard_normal(w_shape), rng.standard_normal(b_len)))
    y = getattr(F, fn)(X, W, B, padding=1)
    y.sum().backward()
    assert y.dtype == np.float32 and X.grad.dtype == np.float32 and W.grad.dtype == np.float32
    assert B.grad.dtype == np.float32


def test_conv_transpose2d_is_the_adjoint_of_conv2d(device):
    """<conv2d(x, w), y> == <x, conv_transpose2d(y, w)> for the same stride, padding, dilation and groups."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 4, 9, 8))
    w = rng.standard_normal((6, 2, 3, 2))
    kw = dict(stride=(2, 1), padding=(1, 1), dilation=(1, 2), groups=2)
    y = F.conv2d(dc.tensor(x, device=device), dc.tensor(w, device=device), **kw)
    c = rng.standard_normal(y.shape)
    out_pad = (9 - ((y.shape[2] - 1) * 2 - 2 + 2 + 1), 0)       # the rows conv2d's stride skipped
    back = F.conv_transpose2d(dc.tensor(c, device=device), dc.tensor(w, device=device), output_padding=out_pad, **kw)
    assert back.shape == x.shape
    np.testing.assert_allclose((y.numpy() * c).sum(), (x * back.numpy()).sum(), rtol=1e-10)


@pytest.mark.parametrize("case", CASES, ids=IDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_numba_col2im_matches_generic(case, dtype):
    xs, ws, s, p, d, _ = case
    s, p, d = _pair(s), _pair(p), _pair(d)
    kh, kw = ws[2:]
    oh, ow = _out_hw(xs, ws, s, p, d)
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
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_cuda_im2col_col2im_kernels_match_numpy(case, dtype, device):
    if device == "cpu":
        pytest.skip("compares the CUDA kernels with the NumPy path")
    import cupy
    xs, ws, s, p, d, _ = case
    s, p, d = _pair(s), _pair(p), _pair(d)
    kh, kw = ws[2:]
    oh, ow = _out_hw(xs, ws, s, p, d)
    rng = np.random.default_rng(0)
    x = rng.standard_normal(xs).astype(dtype)
    cols = conv_mod._im2col_cuda(cupy.asarray(x), kh, kw, oh, ow, s, p, d)
    np.testing.assert_array_equal(cupy.asnumpy(cols), conv_mod._im2col_xp(np, x, kh, kw, oh, ow, s, p, d))
    gcols = rng.standard_normal(cols.shape).astype(dtype)
    gx = conv_mod._col2im_cuda(cupy.asarray(gcols), xs, s, p, d)
    assert gx.dtype == dtype
    np.testing.assert_allclose(cupy.asnumpy(gx), conv_mod._col2im_xp(np, gcols, xs, s, p, d),
                               rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-5)


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


def test_cuda_conv_transpose2d_uses_the_col2im_and_im2col_kernels(device):
    import sys
    emulation = sys.modules.get("cupy_emulation")
    if device == "cpu" or emulation is None or not emulation.is_active() or not fastpath.enabled():
        pytest.skip("launch counts of the fast paths exist on the emulated CUDA device only")
    x = dc.randn(2, 4, 5, 5, device=device, requires_grad=True)
    w = dc.randn(4, 3, 3, 3, device=device, requires_grad=True)
    with emulation.counting() as fwd:
        y = F.conv_transpose2d(x, w, stride=2, padding=1)
    with emulation.counting() as bwd:
        y.backward(dc.ones(y.shape, device=device))
    assert fwd.by_name.get("col2im_f32") == 1 and "im2col_f32" not in fwd.by_name, fwd.by_name
    assert bwd.by_name.get("im2col_f32") == 1 and "col2im_f32" not in bwd.by_name, bwd.by_name
    assert fwd.syncs == fwd.copies == bwd.syncs == bwd.copies == 0


# --- nn layers ---------------------------------------------------------------------------------------------

LAYERS = [  # (deepcore layer, torch factory, input shape)
    (lambda: nn.Conv1d(3, 4, 3, padding=1), lambda t: t.nn.Conv1d(3, 4, 3, padding=1), (2, 3, 7)),
    (lambda: nn.Conv1d(4, 6, 2, stride=2, dilation=2, groups=2, bias=False),
     lambda t: t.nn.Conv1d(4, 6, 2, stride=2, dilation=2, groups=2, bias=False), (2, 4, 9)),
    (lambda: nn.ConvTranspose2d(4, 3, 3, stride=2, padding=1, output_padding=1),
     lambda t: t.nn.ConvTranspose2d(4, 3, 3, stride=2, padding=1, output_padding=1), (2, 4, 4, 5)),
    (lambda: nn.ConvTranspose2d(4, 6, (2, 3), groups=2, dilation=(2, 1)),
     lambda t: t.nn.ConvTranspose2d(4, 6, (2, 3), groups=2, dilation=(2, 1)), (1, 4, 3, 3)),
    (lambda: nn.Conv2d(2, 4, 3, padding=1), lambda t: t.nn.Conv2d(2, 4, 3, padding=1), (2, 5, 5)),
]
LAYER_IDS = ["conv1d", "conv1d-groups", "convT", "convT-groups", "conv2d-unbatched"]


@pytest.mark.parametrize("make,make_torch,shape", LAYERS, ids=LAYER_IDS)
def test_layers_match_torch_with_ported_weights(make, make_torch, shape, device):
    torch = pytest.importorskip("torch")
    tm = make_torch(torch).double()
    m = make().to(device=device, dtype=dc.float64)
    assert [(k, tuple(v.shape)) for k, v in m.state_dict().items()] == \
        [(k, tuple(v.shape)) for k, v in tm.state_dict().items()]
    m.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    x = np.random.default_rng(0).standard_normal(shape)
    tx = torch.tensor(x, requires_grad=True)
    ty = tm(tx)
    ty.sum().backward()
    X = dc.tensor(x, device=device, requires_grad=True)
    y = m(X)
    y.sum().backward()
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(X.grad.numpy(), tx.grad.numpy(), rtol=1e-10, atol=1e-12)
    for (name, p), (_, tp) in zip(m.named_parameters(), tm.named_parameters()):
        np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-10, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("make, fan_in", [(lambda: nn.Conv1d(6, 8, 5, groups=2), 3 * 5),
                                          (lambda: nn.ConvTranspose2d(6, 8, 3, groups=2), 4 * 9),
                                          (lambda: nn.Conv2d(6, 8, 3), 6 * 9)])
def test_default_init_bounds_are_torchs(make, fan_in):
    """kaiming_uniform_(a=sqrt(5)) gives weights in +-1/sqrt(fan_in), the bias the same bound (fan_in of the
    weight's layout: dim 1 times the kernel size, also for the transposed layout)."""
    m = make()
    bound = 1 / np.sqrt(fan_in)
    for p in (m.weight, m.bias):
        a = np.abs(p.numpy())
        assert a.max() <= bound and a.max() > 0.5 * bound


def test_conv_transpose2d_output_size():
    m = nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1)
    x = dc.randn(1, 2, 4, 4)
    assert m(x).shape == (1, 3, 7, 7)
    assert m(x, output_size=(8, 8)).shape == (1, 3, 8, 8)
    assert m(x, output_size=(1, 3, 8, 7)).shape == (1, 3, 8, 7)
    with pytest.raises(ValueError, match=r"requested output size \(9, 9\) is not reachable"):
        m(x, output_size=(9, 9))


# --- errors --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("args, kwargs, error, message", [
    ((3, 8, 0), {}, ValueError, "Conv2d: kernel_size must be >= 1, got 0"),
    ((0, 8, 3), {}, ValueError, "Conv2d: in_channels must be >= 1, got 0"),
    ((3, 0, 3), {}, ValueError, "Conv2d: out_channels must be >= 1, got 0"),
    ((3, 8, 3), {"groups": 0}, ValueError, "Conv2d: groups must be >= 1, got 0"),
    ((None, 8, 3), {}, TypeError, "Conv2d: in_channels must be an int, got NoneType"),
    ((3, 8.0, 3), {}, TypeError, "Conv2d: out_channels must be an int, got float"),
    ((3, 8, 3), {"groups": 2}, ValueError, "Conv2d: in_channels (3) must be divisible by groups (2)"),
    ((4, 6, 3), {"groups": 4}, ValueError, "Conv2d: out_channels (6) must be divisible by groups (4)"),
    ((3, 8, (3, 3, 3)), {}, ValueError, "Conv2d: kernel_size must be an int or a tuple of 2 ints"),
    ((3, 8, 3), {"stride": 0}, ValueError, "Conv2d: stride must be >= 1"),
    ((3, 8, 3), {"padding": -1}, ValueError, "Conv2d: padding must be >= 0"),
    ((3, 8, 3), {"dilation": "2"}, TypeError, "Conv2d: dilation must be an int or a tuple of 2 ints"),
])
def test_conv2d_layer_argument_errors(args, kwargs, error, message):
    with pytest.raises(error) as info:
        nn.Conv2d(*args, **kwargs)
    assert message in str(info.value)


def test_conv1d_and_transposed_layer_argument_errors():
    with pytest.raises(ValueError, match="Conv1d: kernel_size must be an int or a tuple of 1 ints"):
        nn.Conv1d(3, 4, (3, 3))
    with pytest.raises(ValueError, match="ConvTranspose2d: in_channels must be >= 1"):
        nn.ConvTranspose2d(0, 4, 3)
    with pytest.raises(ValueError, match="output_padding must be smaller than either stride or dilation"):
        nn.ConvTranspose2d(3, 4, 3, stride=2, output_padding=2)


@pytest.mark.parametrize("xs, ws, kw, message", [
    ((6, 6), (4, 3, 3, 3), {}, "conv2d: expected a 4-D input (N, C, H, W), got shape (6, 6)"),
    ((1, 3, 6, 6), (4, 3, 3), {}, "conv2d: expected a 4-D weight"),
    ((1, 3, 6, 6), (4, 4, 3, 3), {}, "conv2d: input has 3 channels but weight expects 4 (groups=1)"),
    ((1, 3, 6, 6), (4, 1, 3, 3), {"groups": 2}, "conv2d: in_channels (3) is not divisible by groups (2)"),
    ((1, 4, 6, 6), (5, 2, 3, 3), {"groups": 2}, "conv2d: out_channels (5) is not divisible by groups (2)"),
    ((1, 4, 6, 6), (4, 1, 3, 3), {"groups": 2}, "conv2d: input has 4 channels but weight expects 2 (groups=2)"),
    ((1, 3, 4, 4), (2, 3, 7, 7), {"padding": 1}, "conv2d: kernel size (7, 7) (after dilation) is larger than "
                                                 "the padded input (6, 6)"),
    ((1, 3, 6, 6), (2, 3, 3, 3), {"dilation": 3}, "conv2d: kernel size (7, 7) (after dilation)"),
])
def test_conv2d_shape_errors(xs, ws, kw, message):
    """Shape mismatches raise ShapeError, which `except RuntimeError` (PyTorch) and `except ValueError` catch."""
    with pytest.raises(ShapeError) as info:
        F.conv2d(dc.zeros(xs), dc.zeros(ws), **kw)
    assert message in str(info.value)
    assert isinstance(info.value, RuntimeError) and isinstance(info.value, ValueError)


@pytest.mark.parametrize("kw, message", [
    ({"stride": 0}, "conv2d: stride must be >= 1, got (0, 0)"),
    ({"padding": (1, 2, 3)}, "conv2d: padding must be an int or a pair"),
    ({"groups": 0}, "conv2d: groups must be a positive int"),
])
def test_conv2d_argument_errors(kw, message):
    with pytest.raises(ValueError) as info:
        F.conv2d(dc.zeros((1, 3, 6, 6)), dc.zeros((2, 3, 3, 3)), **kw)
    assert message in str(info.value)


def test_conv1d_and_conv_transpose2d_shape_errors():
    with pytest.raises(ShapeError, match=r"conv1d: input has 4 channels but weight expects 3"):
        F.conv1d(dc.zeros((2, 4, 8)), dc.zeros((2, 3, 3)))
    with pytest.raises(ShapeError, match=r"conv1d: kernel size 5 \(after dilation\) is larger than the padded input 4"):
        F.conv1d(dc.zeros((2, 3, 4)), dc.zeros((2, 3, 5)))
    with pytest.raises(ShapeError, match=r"conv1d: expected a 3-D weight"):
        F.conv1d(dc.zeros((2, 3, 4)), dc.zeros((2, 3, 1, 1)))
    with pytest.raises(ShapeError, match=r"conv_transpose2d: input has 3 channels but weight expects 4"):
        F.conv_transpose2d(dc.zeros((1, 3, 4, 4)), dc.zeros((4, 2, 3, 3)))
    with pytest.raises(ShapeError, match=r"conv_transpose2d: the output would be \(-1, -1\)"):
        F.conv_transpose2d(dc.zeros((1, 4, 1, 1)), dc.zeros((4, 2, 1, 1)), padding=1)
    with pytest.raises(ValueError, match="output_padding must be smaller than either stride or dilation"):
        F.conv_transpose2d(dc.zeros((1, 4, 3, 3)), dc.zeros((4, 2, 3, 3)), output_padding=1)


def test_padding_string_errors():
    with pytest.raises(ValueError, match="conv2d: padding='same' is not supported for strided convolutions"):
        F.conv2d(dc.zeros((1, 2, 5, 5)), dc.zeros((3, 2, 3, 3)), padding="same", stride=2)
    with pytest.raises(ValueError, match="conv1d: invalid padding string 'full'"):
        F.conv1d(dc.zeros((1, 2, 5)), dc.zeros((3, 2, 3)), padding="full")
    with pytest.raises(ValueError, match="Conv2d: padding='same' is not supported for strided convolutions"):
        nn.Conv2d(2, 3, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match="Conv1d: invalid padding string 'full'"):
        nn.Conv1d(2, 3, 3, padding="full")
    assert nn.Conv2d(2, 3, 4, padding="same")(dc.zeros((1, 2, 5, 6))).shape == (1, 3, 5, 6)


def test_conv_layer_input_errors():
    with pytest.raises(ShapeError, match=r"Conv2d: expected input of shape \(N, 3, H, W\) or \(3, H, W\), got "
                                         r"\(2, 4, 5, 5\)"):
        nn.Conv2d(3, 2, 3)(dc.randn(2, 4, 5, 5))
    with pytest.raises(ShapeError, match=r"Conv1d: expected input of shape \(N, 3, L\)"):
        nn.Conv1d(3, 2, 3)(dc.randn(2, 3, 5, 5))
    with pytest.raises(ShapeError, match=r"conv2d: kernel size \(3, 3\) \(after dilation\) is larger than the padded "
                                         r"input \(2, 2\)"):
        nn.Conv2d(3, 2, 3)(dc.randn(1, 3, 2, 2))


def test_conv2d_bias_and_dtype_errors():
    x, w = dc.zeros((1, 3, 5, 5)), dc.zeros((2, 3, 3, 3))
    with pytest.raises(ShapeError, match=r"conv2d: bias must have shape \(2,\), got \(3,\)"):
        F.conv2d(x, w, dc.zeros(3))
    with pytest.raises(TypeError, match="input float64, weight float32"):
        F.conv2d(dc.zeros((1, 3, 5, 5), dtype=dc.float64), w)
