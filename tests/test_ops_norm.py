"""batch_norm and layer_norm: forward against NumPy formulas and torch, running-stat updates, gradients of
input, weight and bias by finite differences, and channel/shape errors."""
import numpy as np
import pytest
from harness import TOL, check_forward, check_grad

import deepcore as dc
from deepcore.ops.norm import batch_norm, layer_norm

DTYPES = [np.float32, np.float64]
BN_SHAPES = [(4, 3), (3, 2, 5), (2, 3, 3, 2)]
RNG = np.random.default_rng(7)


def _np_batch_norm(x, mean, var, w, b, eps=1e-5):
    shape = (1, -1) + (1,) * (x.ndim - 2)
    return (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + eps) * w.reshape(shape) + b.reshape(shape)


def _axes(x):
    return (0,) + tuple(range(2, x.ndim))


def _np_layer_norm(x, k, w, b, eps=1e-5):
    axes = tuple(range(x.ndim - k, x.ndim))
    mean = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * w + b


def _bn_arrays(shape):
    C = shape[1]
    return [RNG.standard_normal(shape) * 2 + 1, RNG.uniform(0.5, 1.5, C), RNG.standard_normal(C)]


# --- batch_norm ------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", BN_SHAPES)
def test_batch_norm_training(shape, dtype, device):
    arrays = _bn_arrays(shape)
    C = shape[1]

    def fn(x, w, b):
        return batch_norm(x, dc.zeros(C, device=device), dc.ones(C, device=device), w, b, training=True)

    def ref(x, w, b):
        return _np_batch_norm(x, x.mean(axis=_axes(x)), x.var(axis=_axes(x)), w, b)
    check_forward(fn, ref, arrays, device, dtype)
    if dtype == np.float64:
        check_grad(fn, arrays, device)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", BN_SHAPES)
def test_batch_norm_eval(shape, dtype, device):
    arrays = _bn_arrays(shape)
    C = shape[1]
    rm, rv = RNG.standard_normal(C), RNG.uniform(0.5, 2.0, C)

    def fn(x, w, b):
        return batch_norm(x, dc.tensor(rm, device=device), dc.tensor(rv, device=device), w, b, training=False)
    check_forward(fn, lambda x, w, b: _np_batch_norm(x, rm, rv, w, b), arrays, device, dtype)
    if dtype == np.float64:
        check_grad(fn, arrays, device)


def test_batch_norm_without_affine(device):
    x = RNG.standard_normal((5, 2, 3))
    fn = lambda t: batch_norm(t, None, None, training=True)  # noqa: E731
    check_forward(fn, lambda a: _np_batch_norm(a, a.mean(axis=(0, 2)), a.var(axis=(0, 2)), np.ones(2),
                                                 np.zeros(2)), [x], device, np.float64)
    check_grad(fn, [x], device)


@pytest.mark.parametrize("shape", BN_SHAPES)
def test_batch_norm_running_stats_closed_form(shape, device):
    x = RNG.standard_normal(shape).astype(np.float32) * 3 + 2
    C = shape[1]
    rm0, rv0 = RNG.standard_normal(C).astype(np.float32), RNG.uniform(0.5, 2, C).astype(np.float32)
    rm, rv = dc.tensor(rm0, device=device), dc.tensor(rv0, device=device)
    arr_m, arr_v = rm.data, rv.data
    batch_norm(dc.tensor(x, device=device), rm, rv, training=True, momentum=0.3)
    n = x.size // C
    np.testing.assert_allclose(rm.numpy(), 0.7 * rm0 + 0.3 * x.mean(axis=_axes(x)), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(rv.numpy(), 0.7 * rv0 + 0.3 * x.var(axis=_axes(x)) * n / (n - 1), rtol=1e-5)
    assert rm.data is arr_m and rv.data is arr_v  # updated in place
    assert rm.dtype == np.float32 and rv.dtype == np.float32
    before = rm.numpy().copy()
    batch_norm(dc.tensor(x, device=device), rm, rv, training=False)
    np.testing.assert_array_equal(rm.numpy(), before)  # evaluation leaves them alone


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", BN_SHAPES)
def test_batch_norm_vs_torch(shape, dtype, training, device):
    torch = pytest.importorskip("torch")
    x, w, b = (a.astype(dtype) for a in _bn_arrays(shape))
    C = shape[1]
    rm, rv = RNG.standard_normal(C).astype(dtype), RNG.uniform(0.5, 2, C).astype(dtype)
    trm, trv = torch.tensor(rm), torch.tensor(rv)
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    ty = torch.nn.functional.batch_norm(tx, trm, trv, tw, tb, training=training, momentum=0.2, eps=1e-3)
    drm, drv = dc.tensor(rm, device=device), dc.tensor(rv, device=device)
    dx, dw, db = (dc.tensor(a, device=device, requires_grad=True) for a in (x, w, b))
    dy = batch_norm(dx, drm, drv, dw, db, training=training, momentum=0.2, eps=1e-3)
    tol = TOL[dtype]
    np.testing.assert_allclose(dy.numpy(), ty.detach().numpy(), **tol)
    np.testing.assert_allclose(drm.numpy(), trm.numpy(), **tol)
    np.testing.assert_allclose(drv.numpy(), trv.numpy(), **tol)
    seed = RNG.standard_normal(shape)
    ty.backward(torch.tensor(seed.astype(dtype)))
    dy.backward(dc.tensor(seed.astype(dtype), device=device))
    for d, t in ((dx, tx), (dw, tw), (db, tb)):
        np.testing.assert_allclose(d.grad.numpy(), t.grad.numpy(), rtol=tol["rtol"] * 10, atol=tol["atol"] * 100)


def test_batch_norm_errors():
    x = dc.zeros(2, 4, 5)
    with pytest.raises(ValueError, match=r"running_mean has shape \(3,\) but input of shape \(2, 4, 5\)"):
        batch_norm(x, dc.zeros(3), dc.ones(4))
    with pytest.raises(ValueError, match=r"weight has shape \(3,\) but input of shape \(2, 4, 5\) has 4 channels"):
        batch_norm(x, dc.zeros(4), dc.ones(4), weight=dc.ones(3))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        batch_norm(dc.zeros(1, 4), dc.zeros(4), dc.ones(4), training=True)
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        batch_norm(dc.zeros(4), dc.zeros(4), dc.ones(4))
    with pytest.raises(ValueError, match="required when training=False"):
        batch_norm(x, None, None, training=False)
    rm = dc.zeros(4)
    with pytest.raises(ValueError):
        batch_norm(x, rm, dc.ones(4), bias=dc.zeros(5), training=True)
    np.testing.assert_array_equal(rm.numpy(), 0)  # validation happens before any state changes


# --- layer_norm ------------------------------------------------------------------------------------
LN_CASES = [((4, 5), 5), ((2, 3, 4), (4,)), ((2, 3, 4), (3, 4)), ((3,), 3)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, normalized", LN_CASES)
def test_layer_norm(shape, normalized, dtype, device):
    ns = (normalized,) if isinstance(normalized, int) else normalized
    arrays = [RNG.standard_normal(shape) * 2 + 0.5, RNG.uniform(0.5, 1.5, ns), RNG.standard_normal(ns)]
    fn = lambda x, w, b: layer_norm(x, normalized, w, b)  # noqa: E731
    check_forward(fn, lambda x, w, b: _np_layer_norm(x, len(ns), w, b), arrays, device, dtype)
    if dtype == np.float64:
        check_grad(fn, arrays, device)


def test_layer_norm_without_affine(device):
    x = RNG.standard_normal((3, 4))
    fn = lambda t: layer_norm(t, (4,))  # noqa: E731
    check_forward(fn, lambda a: _np_layer_norm(a, 1, 1.0, 0.0), [x], device, np.float64)
    check_grad(fn, [x], device)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, normalized", LN_CASES)
def test_layer_norm_vs_torch(shape, normalized, dtype, device):
    torch = pytest.importorskip("torch")
    ns = (normalized,) if isinstance(normalized, int) else normalized
    x, w, b = (a.astype(dtype) for a in (RNG.standard_normal(shape), RNG.uniform(0.5, 1.5, ns),
                                         RNG.standard_normal(ns)))
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    ty = torch.nn.functional.layer_norm(tx, ns, tw, tb, eps=1e-4)
    dx, dw, db = (dc.tensor(a, device=device, requires_grad=True) for a in (x, w, b))
    dy = layer_norm(dx, normalized, dw, db, eps=1e-4)
    tol = TOL[dtype]
    np.testing.assert_allclose(dy.numpy(), ty.detach().numpy(), **tol)
    seed = RNG.standard_normal(shape).astype(dtype)
    ty.backward(torch.tensor(seed))
    dy.backward(dc.tensor(seed, device=device))
    for d, t in ((dx, tx), (dw, tw), (db, tb)):
        np.testing.assert_allclose(d.grad.numpy(), t.grad.numpy(), rtol=tol["rtol"] * 10, atol=tol["atol"] * 100)


def test_layer_norm_errors():
    x = dc.zeros(2, 3)
    with pytest.raises(ValueError, match=r"normalized_shape \(4,\) does not match the last dimension\(s\) of input "
                                         r"shape \(2, 3\)"):
        layer_norm(x, 4)
    with pytest.raises(ValueError, match=r"normalized_shape \(2, 2, 3\)"):
        layer_norm(x, (2, 2, 3))
    with pytest.raises(ValueError, match=r"weight has shape \(2,\) but normalized_shape is \(3,\)"):
        layer_norm(x, 3, weight=dc.ones(2))
