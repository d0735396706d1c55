"""Pooling: forward against naive loops and PyTorch, gradients by finite differences, fast paths vs generic."""

import numpy as np
import pytest
from harness import check_forward, check_grad

import deepcore as dc
from deepcore.backend import fastpath
import deepcore.nn.functional as F
from deepcore.ops import pool as pool_mod


def _pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def naive_pool(x, kernel, stride=None, padding=0, mode="max"):
    """Direct definition: loop over the windows of the padded input (-inf or 0 padding)."""
    (kh, kw), (ph, pw) = _pair(kernel), _pair(padding)
    sh, sw = _pair(kernel if stride is None else stride)
    fill = -np.inf if mode == "max" else 0.0
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=fill)
    oh = (xp.shape[2] - kh) // sh + 1
    ow = (xp.shape[3] - kw) // sw + 1
    y = np.empty(x.shape[:2] + (oh, ow))
    for i in range(oh):
        for j in range(ow):
            win = xp[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw]
            y[:, :, i, j] = win.max(axis=(2, 3)) if mode == "max" else win.mean(axis=(2, 3))
    return y


def naive_adaptive_avg(x, out):
    oh, ow = _pair(out)
    h, w = x.shape[2:]
    y = np.empty(x.shape[:2] + (oh, ow))
    for i in range(oh):
        for j in range(ow):
            hs, he = (i * h) // oh, -(-((i + 1) * h) // oh)
            ws, we = (j * w) // ow, -(-((j + 1) * w) // ow)
            y[:, :, i, j] = x[:, :, hs:he, ws:we].mean(axis=(2, 3))
    return y


# (x shape, kernel_size, stride, padding)
POOL_CASES = [
    ((2, 3, 6, 6), 2, None, 0),
    ((2, 3, 7, 5), 3, 2, 1),          # overlapping windows with padding
    ((1, 2, 6, 7), (3, 2), (1, 2), (1, 1)),
    ((2, 2, 5, 5), 3, 1, 0),          # heavy overlap
    ((1, 2, 5, 6), 5, 1, 2),          # padding = kernel // 2
]
POOL_IDS = [f"x{c[0]}k{c[1]}s{c[2]}p{c[3]}".replace(" ", "") for c in POOL_CASES]
FNS = {"max": F.max_pool2d, "avg": F.avg_pool2d}


def _x(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mode", ["max", "avg"])
@pytest.mark.parametrize("case", POOL_CASES, ids=POOL_IDS)
def test_pool_forward_matches_naive_loop(case, mode, dtype, device):
    xs, k, s, p = case
    check_forward(lambda x: FNS[mode](x, k, s, p), lambda x: naive_pool(x, k, s, p, mode), [_x(xs)], device, dtype)


@pytest.mark.parametrize("mode", ["max", "avg"])
@pytest.mark.parametrize("case", POOL_CASES, ids=POOL_IDS)
def test_pool_forward_and_grad_match_torch(case, mode, device):
    torch = pytest.importorskip("torch")
    xs, k, s, p = case
    x = _x(xs)
    tx = torch.tensor(x, requires_grad=True)
    tfn = torch.nn.functional.max_pool2d if mode == "max" else torch.nn.functional.avg_pool2d
    ty = tfn(tx, k, s, p)
    gy = _x(tuple(ty.shape), seed=1)
    ty.backward(torch.tensor(gy))
    X = dc.tensor(x, device=device, requires_grad=True)
    y = FNS[mode](X, k, stride=s, padding=p)
    y.backward(dc.tensor(gy, device=device))
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(X.grad.numpy(), tx.grad.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("mode", ["max", "avg"])
@pytest.mark.parametrize("case", POOL_CASES[1:4], ids=POOL_IDS[1:4])
def test_pool_gradcheck(case, mode, device):
    xs, k, s, p = case
    check_grad(lambda x: FNS[mode](x, k, s, p), [_x(xs)], device)


def test_max_pool_gradient_accumulates_over_overlapping_windows(device):
    x = np.zeros((1, 1, 4, 4))
    x[0, 0, 1, 2] = 5.0  # inside all 4 overlapping 3x3 windows of stride 1
    X = dc.tensor(x, device=device, requires_grad=True)
    F.max_pool2d(X, 3, stride=1).sum().backward()
    expect = np.zeros_like(x)
    expect[0, 0, 1, 2] = 4.0
    np.testing.assert_array_equal(X.grad.numpy(), expect)


def test_max_pool_propagates_nan(device):
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    x[0, 0, 0, 1] = np.nan
    y = F.max_pool2d(dc.tensor(x, device=device), 2).numpy()
    assert np.isnan(y[0, 0, 0, 0]) and not np.isnan(y[0, 0, 1:, :]).any() and not np.isnan(y[0, 0, :, 1]).any()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", POOL_CASES[1:4], ids=POOL_IDS[1:4])
def test_numba_maxpool_backward_matches_generic(case, dtype):
    xs, k, s, p = case
    hyper = pool_mod._check_pool("max_pool2d", dc.zeros(xs), k, s, p)[1]
    rng = np.random.default_rng(0)
    kh, kw = hyper["kernel"]
    arg = rng.integers(0, kh * kw, size=xs[:2] + hyper["out_hw"]).astype(np.int16)
    gy = rng.standard_normal(arg.shape).astype(dtype)
    args = (arg, gy, xs, hyper["kernel"], hyper["stride"], hyper["padding"])
    with fastpath.forced(True):
        fast = pool_mod._maxpool_backward(np, *args)
    generic = pool_mod._maxpool_backward_xp(np, *args)
    assert fast.dtype == dtype
    np.testing.assert_allclose(fast, generic, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", POOL_CASES, ids=POOL_IDS)
def test_numba_maxpool_forward_matches_generic(case, dtype):
    xs, k, s, p = case
    hyper = pool_mod._check_pool("max_pool2d", dc.zeros(xs), k, s, p)[1]
    x = _x(xs).astype(dtype)
    x.reshape(-1)[::7] = np.nan      # NaN handling must agree too
    x.reshape(-1)[1::5] = 0.25       # and ties: the first maximum of a window wins
    args = (x, hyper["kernel"], hyper["out_hw"], hyper["stride"], hyper["padding"])
    with fastpath.forced(True):
        y_fast, arg_fast = pool_mod._maxpool_forward(np, *args)
    y_gen, arg_gen = pool_mod._maxpool_forward_xp(np, *args)
    assert y_fast.dtype == dtype and arg_fast.dtype == arg_gen.dtype
    np.testing.assert_array_equal(y_fast, y_gen)
    np.testing.assert_array_equal(arg_fast, arg_gen)


def test_max_pool_generic_path_equals_fast_path():
    x = _x((2, 3, 7, 5))

    def grad():
        X = dc.tensor(x, requires_grad=True)
        y = F.max_pool2d(X, 3, 2, 1)
        y.backward(dc.tensor(_x(y.shape, seed=1)))
        return X.grad.numpy()

    with fastpath.forced(True):
        fast = grad()
    with fastpath.forced(False):
        np.testing.assert_allclose(grad(), fast, rtol=1e-12, atol=1e-14)  # summation order may differ


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mode", ["max", "avg"])
@pytest.mark.parametrize("case", POOL_CASES, ids=POOL_IDS)
def test_cuda_pool_kernels_match_numpy(case, mode, dtype, device):
    if device == "cpu":
        pytest.skip("compares the CUDA kernels with the NumPy path")
    xs, k, s, p = case
    x = _x(xs).astype(dtype)
    gy_shape = F.max_pool2d(dc.tensor(x), k, s, p).shape
    gy = _x(gy_shape, seed=1).astype(dtype)
    results = []
    for dev in ("cpu", device):  # the cuda run goes through pool.cu, the cpu run through the generic path
        X = dc.tensor(x, device=dev, requires_grad=True)
        y = FNS[mode](X, k, s, p)
        y.backward(dc.tensor(gy, device=dev))
        assert y.dtype == dtype and X.grad.dtype == dtype
        results.append((y.numpy(), X.grad.numpy()))
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(results[1][0], results[0][0], **tol)
    np.testing.assert_allclose(results[1][1], results[0][1], **tol)


def test_cuda_max_pool_indices_point_at_the_maximum(device):
    if device == "cpu":
        pytest.skip("checks the argmax indices written by the CUDA kernel")
    import cupy
    x = _x((2, 3, 7, 5)).astype(np.float32)
    X = cupy.asarray(x)
    fn = pool_mod.MaxPool2d(**pool_mod._check_pool("max_pool2d", dc.zeros(x.shape), 3, 2, 1)[1])
    fn._xp = cupy
    fn.needs_input_grad = (True,)
    with fastpath.forced(True):
        y = fn.forward(X)
    (arg,) = fn.saved_tensors
    arg = cupy.asnumpy(arg)                             # offset i * KW + j inside each window
    oh, ow = np.arange(y.shape[2])[:, None], np.arange(y.shape[3])[None, :]
    h, w = oh * 2 - 1 + arg // 3, ow * 2 - 1 + arg % 3
    assert (h >= 0).all() and (w >= 0).all() and (h < 7).all() and (w < 5).all()
    picked = x[np.arange(2)[:, None, None, None], np.arange(3)[None, :, None, None], h, w]
    np.testing.assert_array_equal(picked, cupy.asnumpy(y))


# ---------------------------------------------------------------------------------------------------------
# adaptive average pooling

ADAPTIVE_CASES = [((2, 3, 6, 6), 3), ((2, 3, 6, 8), (2, 4)), ((2, 3, 7, 5), (3, 2)), ((1, 2, 5, 7), 1),
                  ((1, 2, 3, 4), (5, 6)), ((1, 2, 6, 5), (None, 3))]
ADAPTIVE_IDS = [f"x{c[0]}o{c[1]}".replace(" ", "") for c in ADAPTIVE_CASES]


def _resolve(xs, out):
    out = _pair(out)
    return (xs[2] if out[0] is None else out[0], xs[3] if out[1] is None else out[1])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", ADAPTIVE_CASES, ids=ADAPTIVE_IDS)
def test_adaptive_avg_pool_forward(case, dtype, device):
    xs, out = case
    check_forward(lambda x: F.adaptive_avg_pool2d(x, out), lambda x: naive_adaptive_avg(x, _resolve(xs, out)),
                  [_x(xs)], device, dtype)


@pytest.mark.parametrize("case", ADAPTIVE_CASES, ids=ADAPTIVE_IDS)
def test_adaptive_avg_pool_gradcheck(case, device):
    xs, out = case
    check_grad(lambda x: F.adaptive_avg_pool2d(x, out), [_x(xs)], device)


@pytest.mark.parametrize("case", ADAPTIVE_CASES, ids=ADAPTIVE_IDS)
def test_adaptive_avg_pool_matches_torch(case, device):
    torch = pytest.importorskip("torch")
    xs, out = case
    x = _x(xs)
    tx = torch.tensor(x, requires_grad=True)
    ty = torch.nn.functional.adaptive_avg_pool2d(tx, out)
    gy = _x(tuple(ty.shape), seed=1)
    ty.backward(torch.tensor(gy))
    X = dc.tensor(x, device=device, requires_grad=True)
    y = F.adaptive_avg_pool2d(X, out)
    y.backward(dc.tensor(gy, device=device))
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(X.grad.numpy(), tx.grad.numpy(), rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------------------------------------------------
# errors

@pytest.mark.parametrize("call, message", [
    (lambda: F.max_pool2d(dc.zeros((3, 4, 4)), 2), "max_pool2d: expected a 4-D input (N, C, H, W), got shape (3, 4, 4)"),
    (lambda: F.avg_pool2d(dc.zeros((1, 1, 4, 4)), 3, padding=2),
     "avg_pool2d: padding (2, 2) must be at most half of kernel_size (3, 3)"),
    (lambda: F.max_pool2d(dc.zeros((1, 1, 4, 4)), 5), "max_pool2d: kernel_size (5, 5) is larger than the padded "
                                                      "input (4, 4)"),
    (lambda: F.max_pool2d(dc.zeros((1, 1, 4, 4)), 2, stride=0), "max_pool2d: stride must be >= 1, got (0, 0)"),
    (lambda: F.adaptive_avg_pool2d(dc.zeros((4, 4)), 2), "adaptive_avg_pool2d: expected a 4-D input"),
    (lambda: F.adaptive_avg_pool2d(dc.zeros((1, 1, 4, 4)), 0), "adaptive_avg_pool2d: output_size must be >= 1"),
])
def test_pool_errors(call, message):
    with pytest.raises(ValueError) as info:
        call()
    assert message in str(info.value)


def test_cuda_max_pool_with_indices_is_one_launch_each_way(device):
    import sys
    emulation = sys.modules.get("cupy_emulation")
    if device == "cpu" or emulation is None or not emulation.is_active() or not fastpath.enabled():
        pytest.skip("launch counts of the fast paths exist on the emulated CUDA device only")
    x = dc.randn(2, 3, 8, 8, device=device, requires_grad=True)
    g = dc.randn(2, 3, 4, 4, device=device)
    with emulation.counting() as fwd:
        y = F.max_pool2d(x, 2)
    with emulation.counting() as bwd:
        y.backward(g)
    assert fwd.by_name == {"maxpool_fwd_f32": 1} and bwd.by_name == {"maxpool_bwd_f32": 1}
