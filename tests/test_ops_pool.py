"""Pooling beyond the operator registry (tests/registry/pool.py holds forward, gradcheck and PyTorch parity of
max/avg pooling 1-D/2-D with every option, and adaptive average pooling): the numba and CUDA kernels
against the generic path, which options reach the fast paths, NaN/inf locality of adaptive pooling,
the nn layers, and errors."""

import numpy as np
import pytest

import deepcore as dc
import deepcore.nn as nn
import deepcore.nn.functional as F
from deepcore.backend import fastpath
from deepcore.errors import ShapeError
from deepcore.ops import pool as pool_mod

# (x shape, kernel_size, stride, padding): geometries for the kernel-level tests
POOL_CASES = [
    ((2, 3, 6, 6), 2, None, 0),
    ((2, 3, 7, 5), 3, 2, 1),          # overlapping windows with padding
    ((1, 2, 6, 7), (3, 2), (1, 2), (1, 1)),
    ((2, 2, 5, 5), 3, 1, 0),          # heavy overlap
    ((1, 2, 5, 6), 5, 1, 2),          # padding = kernel // 2
]
POOL_IDS = [f"x{c[0]}k{c[1]}s{c[2]}p{c[3]}".replace(" ", "") for c in POOL_CASES]


def _x(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def _geom(xs, k, s, p, **kw):
    return pool_mod._check_pool("max_pool2d", dc.zeros(xs), k, s, p, **kw)[2]


def test_max_pool_gradient_accumulates_over_overlapping_windows(device):
    x = np.zeros((1, 1, 4, 4))
    x[0, 0, 1, 2] = 5.0  # inside all 4 overlapping 3x3 windows of stride 1
    X = dc.tensor(x, device=device, requires_grad=True)
    F.max_pool2d(X, 3, stride=1).sum().backward()
    expect = np.zeros_like(x)
    expect[0, 0, 1, 2] = 4.0
    np.testing.assert_array_equal(X.grad.numpy(), expect)


@pytest.mark.parametrize("kw", [{}, {"dilation": 2}, {"ceil_mode": True}], ids=["plain", "dilation", "ceil"])
def test_max_pool_propagates_nan(kw, device):
    torch = pytest.importorskip("torch")
    x = np.arange(49.0).reshape(1, 1, 7, 7)
    x[0, 0, 2, 4] = np.nan                             # read by a window in every geometry here
    y, idx = F.max_pool2d(dc.tensor(x, device=device), 2, return_indices=True, **kw)
    ty, tidx = torch.nn.functional.max_pool2d(torch.tensor(x), 2, return_indices=True, **kw)
    assert np.isnan(y.numpy()).any()
    np.testing.assert_array_equal(y.numpy(), ty.numpy())        # NaN where torch has NaN
    np.testing.assert_array_equal(idx.numpy(), tidx.numpy())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", POOL_CASES[1:4], ids=POOL_IDS[1:4])
def test_numba_maxpool_backward_matches_generic(case, dtype):
    xs, k, s, p = case
    g = _geom(xs, k, s, p)
    rng = np.random.default_rng(0)
    kh, kw = g.kernel
    arg = rng.integers(0, kh * kw, size=xs[:2] + g.out_hw).astype(np.int32)
    gy = rng.standard_normal(arg.shape).astype(dtype)
    with fastpath.forced(True):
        fast = pool_mod._maxpool_backward(np, arg, gy, xs, g)
    generic = pool_mod._maxpool_backward_xp(np, arg, gy, xs, g)
    assert fast.dtype == dtype
    np.testing.assert_allclose(fast, generic, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", POOL_CASES, ids=POOL_IDS)
def test_numba_maxpool_forward_matches_generic(case, dtype):
    xs, k, s, p = case
    g = _geom(xs, k, s, p)
    x = _x(xs).astype(dtype)
    x.reshape(-1)[::7] = np.nan      # NaN handling must agree too
    x.reshape(-1)[1::5] = 0.25       # and ties: the first maximum of a window wins
    with fastpath.forced(True):
        y_fast, arg_fast = pool_mod._maxpool_forward(np, x, g)
    y_gen, arg_gen = pool_mod._maxpool_forward_xp(np, x, g)
    assert y_fast.dtype == dtype and arg_fast.dtype == arg_gen.dtype
    np.testing.assert_array_equal(y_fast, y_gen)
    np.testing.assert_array_equal(arg_fast, arg_gen)


def test_cuda_max_pool_indices_point_at_the_maximum(device):
    if device == "cpu":
        pytest.skip("checks the argmax offsets written by the CUDA kernel")
    import cupy
    x = _x((2, 3, 7, 5)).astype(np.float32)
    g = _geom(x.shape, 3, 2, 1)
    with fastpath.forced(True):
        y, arg = pool_mod._maxpool_forward(cupy, cupy.asarray(x), g)
    arg = cupy.asnumpy(arg)                             # offset i * KW + j inside each window
    oh, ow = np.arange(y.shape[2])[:, None], np.arange(y.shape[3])[None, :]
    h, w = oh * 2 - 1 + arg // 3, ow * 2 - 1 + arg % 3
    assert (h >= 0).all() and (w >= 0).all() and (h < 7).all() and (w < 5).all()
    picked = x[np.arange(2)[:, None, None, None], np.arange(3)[None, :, None, None], h, w]
    np.testing.assert_array_equal(picked, cupy.asnumpy(y))


@pytest.fixture
def chosen(monkeypatch):
    """The fast-path ops handed out by ``fastpath.select`` during the test."""
    seen = []
    real = fastpath.select

    def spy(op, *args, **kwargs):
        fn = real(op, *args, **kwargs)
        if fn is not None:
            seen.append(op)
        return fn

    monkeypatch.setattr(fastpath, "select", spy)
    return seen


@pytest.mark.parametrize("fn, kw, fast", [
    (F.max_pool2d, {}, True),
    (F.max_pool2d, {"return_indices": True}, True),
    (F.max_pool2d, {"ceil_mode": True}, True),            # 6 = 2*3: ceil_mode adds no window here
    (F.max_pool2d, {"dilation": 2}, False),
    (F.max_pool2d, {"stride": 2, "ceil_mode": True, "kernel_size": 3}, False),  # a window beyond the padding
    (F.avg_pool2d, {}, "cuda"),
    (F.avg_pool2d, {"count_include_pad": False, "padding": 1}, False),
    (F.avg_pool2d, {"divisor_override": 3}, False),
    (F.avg_pool2d, {"stride": 2, "ceil_mode": True, "kernel_size": 3}, False),
])
def test_fast_paths_take_only_the_geometry_they_handle(fn, kw, fast, device, chosen):
    """The numba/CUDA kernels know no dilation, ceil-mode windows or other divisors: those run generic."""
    kw = dict(kw)
    k = kw.pop("kernel_size", 2)
    with fastpath.forced(True):
        X = dc.tensor(_x((2, 3, 6, 6)), device=device, requires_grad=True)
        out = fn(X, k, **kw)
        out = out[0] if isinstance(out, tuple) else out
        out.sum().backward()
    expect = fast if isinstance(fast, bool) else device == fast
    if expect and not (device == "cpu" and fn is F.max_pool2d and pool_mod._numba_kernels() is None):
        assert chosen, "the plain geometry should reach the fast path"
    if not expect:
        assert not chosen, f"{chosen} chosen for options the kernels do not handle"


# ---------------------------------------------------------------------------------------------------------
# adaptive average pooling (issue 14.7): uneven bins, non-finite inputs, empty axes

@pytest.mark.parametrize("bad", [np.inf, np.nan])
@pytest.mark.parametrize("xs, out", [((1, 1, 7, 5), (3, 2)), ((2, 2, 10, 10), (3, 4)), ((1, 1, 3, 4), (5, 6))])
def test_adaptive_avg_pool_non_finite_pixel_stays_in_its_bins(xs, out, bad, device):
    torch = pytest.importorskip("torch")
    x = _x(xs)
    x[0, 0, 1, 2] = bad
    X = dc.tensor(x, device=device, requires_grad=True)
    y = F.adaptive_avg_pool2d(X, out)
    tx = torch.tensor(x, requires_grad=True)
    ty = torch.nn.functional.adaptive_avg_pool2d(tx, out)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-12, atol=1e-12, equal_nan=True)
    h, w = xs[2:]
    hit = np.zeros(out, dtype=bool)                    # bins whose range holds the bad pixel (row 1, column 2)
    for i in range(out[0]):
        for j in range(out[1]):
            hit[i, j] = (i * h) // out[0] <= 1 < -(-((i + 1) * h) // out[0]) and \
                (j * w) // out[1] <= 2 < -(-((j + 1) * w) // out[1])
    assert np.isfinite(y.numpy()[0, 0][~hit]).all() and not np.isfinite(y.numpy()[0, 0][hit]).any()
    gy = _x(y.shape, seed=1)
    gy[0, 0, 0, 0] = bad                               # a non-finite upstream gradient: only its bin's cells
    y.backward(dc.tensor(gy, device=device))
    ty.backward(torch.tensor(gy))
    np.testing.assert_allclose(X.grad.numpy(), tx.grad.numpy(), rtol=1e-12, atol=1e-12, equal_nan=True)


@pytest.mark.parametrize("shape", [(1, 1, 0, 4), (2, 3, 4, 0), (1, 0, 4, 4), (3, 0, 4)])
def test_adaptive_avg_pool_empty_spatial_axis_is_a_clear_error(shape):
    with pytest.raises(ShapeError, match=r"adaptive_avg_pool2d: expected an input with non-zero size in its "
                                         r"non-batch dimensions, got shape \(.*\) \(dimension \d is empty\)"):
        F.adaptive_avg_pool2d(dc.zeros(shape), 2)


def test_adaptive_avg_pool_empty_batch_is_fine(device):
    y = F.adaptive_avg_pool2d(dc.zeros((0, 2, 5, 7), device=device, requires_grad=True), (2, 3))
    assert y.shape == (0, 2, 2, 3)


# ---------------------------------------------------------------------------------------------------------
# nn layers

LAYERS = [
    (lambda: nn.MaxPool2d(3, 2, 1, dilation=1, ceil_mode=True), lambda t: t.nn.MaxPool2d(3, 2, 1, ceil_mode=True)),
    (lambda: nn.MaxPool2d(2, dilation=2), lambda t: t.nn.MaxPool2d(2, dilation=2)),
    (lambda: nn.AvgPool2d(3, 2, 1, ceil_mode=True, count_include_pad=False),
     lambda t: t.nn.AvgPool2d(3, 2, 1, ceil_mode=True, count_include_pad=False)),
    (lambda: nn.AvgPool2d(2, divisor_override=3), lambda t: t.nn.AvgPool2d(2, divisor_override=3)),
    (lambda: nn.MaxPool1d(3, 2, 1), lambda t: t.nn.MaxPool1d(3, 2, 1)),
    (lambda: nn.AvgPool1d(3, 2, 1, count_include_pad=False),
     lambda t: t.nn.AvgPool1d(3, 2, 1, count_include_pad=False)),
    (lambda: nn.AdaptiveAvgPool2d((3, None)), lambda t: t.nn.AdaptiveAvgPool2d((3, None))),
]


@pytest.mark.parametrize("make, make_torch", LAYERS, ids=[f"layer{i}" for i in range(len(LAYERS))])
def test_pool_layers_match_torch(make, make_torch, device):
    torch = pytest.importorskip("torch")
    tm = make_torch(torch)
    shape = (2, 3, 9) if "1d" in type(tm).__name__ else (2, 3, 7, 6)
    x = _x(shape)
    tx = torch.tensor(x, requires_grad=True)
    ty = tm(tx)
    ty.backward(torch.ones_like(ty))
    X = dc.tensor(x, device=device, requires_grad=True)
    y = make()(X)
    y.backward(dc.ones(y.shape, dtype=dc.float64, device=device))
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(X.grad.numpy(), tx.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_max_pool_layer_return_indices(device):
    torch = pytest.importorskip("torch")
    x = _x((2, 3, 6, 7))
    y, idx = nn.MaxPool2d(2, return_indices=True, ceil_mode=True)(dc.tensor(x, device=device))
    ty, tidx = torch.nn.MaxPool2d(2, return_indices=True, ceil_mode=True)(torch.tensor(x))
    assert idx.dtype == np.int64 and not idx.requires_grad
    np.testing.assert_array_equal(idx.numpy(), tidx.numpy())
    np.testing.assert_array_equal(y.numpy(), ty.numpy())


# ---------------------------------------------------------------------------------------------------------
# errors

@pytest.mark.parametrize("call, error, message", [
    (lambda: F.max_pool2d(dc.zeros((4, 4)), 2), ShapeError,
     "max_pool2d: expected a 3-D (C, H, W) or 4-D (N, C, H, W) input, got shape (4, 4)"),
    (lambda: F.max_pool1d(dc.zeros((1, 2, 4, 4)), 2), ShapeError,
     "max_pool1d: expected a 2-D (C, L) or 3-D (N, C, L) input, got shape (1, 2, 4, 4)"),
    (lambda: F.avg_pool2d(dc.zeros((1, 1, 4, 4)), 3, padding=2), ValueError,
     "avg_pool2d: padding (2, 2) must be at most half of kernel_size (3, 3)"),
    (lambda: F.max_pool2d(dc.zeros((1, 1, 9, 9)), 3, padding=3, dilation=2), ValueError,
     "max_pool2d: padding (3, 3) must be at most half of the dilated kernel (5, 5)"),
    (lambda: F.max_pool2d(dc.zeros((1, 1, 4, 4)), 5), ShapeError,
     "max_pool2d: kernel_size (5, 5) is larger than the padded input (4, 4)"),
    (lambda: F.max_pool1d(dc.zeros((1, 1, 4)), 3, dilation=2), ShapeError,
     "max_pool1d: kernel_size 3 is larger than the padded input 4"),
    (lambda: F.max_pool2d(dc.zeros((1, 1, 4, 4)), 2, stride=0), ValueError,
     "max_pool2d: stride must be >= 1, got (0, 0)"),
    (lambda: F.max_pool2d(dc.zeros((1, 1, 4, 4)), 2, dilation=0), ValueError,
     "max_pool2d: dilation must be >= 1, got (0, 0)"),
    (lambda: F.avg_pool2d(dc.zeros((1, 1, 4, 4)), 2, divisor_override=0), ValueError,
     "avg_pool2d: divisor_override must be a non-zero int or None, got 0"),
    (lambda: F.adaptive_avg_pool2d(dc.zeros((4, 4)), 2), ShapeError, "adaptive_avg_pool2d: expected a 3-D"),
    (lambda: F.adaptive_avg_pool2d(dc.zeros((1, 1, 4, 4)), 0), ValueError,
     "adaptive_avg_pool2d: output_size must be >= 1"),
])
def test_pool_errors(call, error, message):
    with pytest.raises(error) as info:
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
