"""Activations: forward vs NumPy closed forms, gradcheck, torch as an oracle, stability at large logits."""

import numpy as np
import pytest
from harness import check_grad, check_op

import deepcore as dc
from deepcore.backend import fastpath
from deepcore.ops import activation as A

DTYPES = [np.float32, np.float64]
SHAPES = [(), (7,), (3, 4), (2, 3, 4)]


def _np_softplus(x, beta=1.0, threshold=20.0):
    return np.where(x * beta > threshold, x, np.log1p(np.exp(np.minimum(x * beta, threshold))) / beta)


def _np_softmax(x, axis=-1):
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _np_log_softmax(x, axis=-1):
    s = x - np.max(x, axis=axis, keepdims=True)
    return s - np.log(np.exp(s).sum(axis=axis, keepdims=True))


# name -> (deepcore fn, numpy reference); kinks (0, +-1) are avoided by the data below
ELEMENTWISE = {
    "relu": (A.relu, lambda x: np.maximum(x, 0)),
    "sigmoid": (A.sigmoid, lambda x: 1 / (1 + np.exp(-x))),
    "tanh": (A.tanh, np.tanh),
    "leaky_relu": (A.leaky_relu, lambda x: np.where(x > 0, x, 0.01 * x)),
    "leaky_relu_0.2": (lambda x: A.leaky_relu(x, negative_slope=0.2), lambda x: np.where(x > 0, x, 0.2 * x)),
    "elu": (A.elu, lambda x: np.where(x > 0, x, np.expm1(x))),
    "elu_0.5": (lambda x: A.elu(x, alpha=0.5), lambda x: np.where(x > 0, x, 0.5 * np.expm1(x))),
    "elu_neg": (lambda x: A.elu(x, alpha=-0.3), lambda x: np.where(x > 0, x, -0.3 * np.expm1(x))),
    "softplus": (A.softplus, _np_softplus),
    "softplus_beta": (lambda x: A.softplus(x, beta=2.0, threshold=3.0), lambda x: _np_softplus(x, 2.0, 3.0)),
    "softsign": (A.softsign, lambda x: x / (1 + np.abs(x))),
    "hardtanh": (A.hardtanh, lambda x: np.clip(x, -1, 1)),
    "hardtanh_range": (lambda x: A.hardtanh(x, min_val=-0.5, max_val=2.0), lambda x: np.clip(x, -0.5, 2.0)),
    "softmax": (A.softmax, _np_softmax),
    "softmax_axis0": (lambda x: A.softmax(x, axis=0), lambda x: _np_softmax(x, axis=0 if x.ndim else None)),
    "log_softmax": (A.log_softmax, _np_log_softmax),
    "log_softmax_dim0": (lambda x: A.log_softmax(x, dim=0), lambda x: _np_log_softmax(x, axis=0 if x.ndim else None)),
}


def _data(shape):
    """Values spread over [-3, 3], at least 0.05 away from the kinks at 0, +-0.5, +-1, 1.5 (softplus_beta)."""
    x = np.random.uniform(-3, 3, shape)
    for kink in (0.0, 0.5, -0.5, 1.0, -1.0, 1.5, 2.0):
        near = np.abs(x - kink) < 0.05
        x = np.where(near, kink + 0.1, x)
    return x


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name", list(ELEMENTWISE))
def test_activation(name, shape, dtype, device):
    dc_fn, np_fn = ELEMENTWISE[name]
    check_op(dc_fn, np_fn, [_data(shape)], device, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("xshape,wshape", [((5,), (1,)), ((4, 3), (3,)), ((4, 3), (1,)), ((2, 3, 4, 5), (3,)),
                                           ((), (1,))])
def test_prelu(xshape, wshape, dtype, device):
    def np_prelu(x, w):
        wb = w.reshape(()) if w.size == 1 else w.reshape((-1,) + (1,) * (x.ndim - 2))
        return np.where(x > 0, x, wb * x)
    x, w = _data(xshape), np.random.uniform(0.05, 0.5, wshape)
    check_op(A.prelu, np_prelu, [x, w], device, dtype)


def test_prelu_matches_torch(device):
    torch = pytest.importorskip("torch")
    x, w = np.random.standard_normal((2, 3, 4)), np.array([0.1, 0.25, -0.3])
    g = np.random.standard_normal(x.shape)
    dx, dw = dc.tensor(x, device=device, requires_grad=True), dc.tensor(w, device=device, requires_grad=True)
    tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    A.prelu(dx, dw).backward(dc.tensor(g, device=device))
    torch.nn.functional.prelu(tx, tw).backward(torch.tensor(g))
    np.testing.assert_allclose(dx.grad.numpy(), tx.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(dw.grad.numpy(), tw.grad.numpy(), rtol=1e-12)


def test_prelu_weight_shape_error(device):
    with pytest.raises(ValueError, match=r"prelu: weight of shape \(4,\) does not match input of shape \(2, 3\): "
                                         r"expected \(1,\) or \(3,\)"):
        A.prelu(dc.ones(2, 3, device=device), dc.ones(4, device=device))


TORCH_CASES = [
    ("leaky_relu", dict(negative_slope=0.1)), ("elu", dict(alpha=0.7)), ("softplus", dict(beta=2.0, threshold=3.0)),
    ("softplus", dict()), ("softsign", dict()), ("hardtanh", dict(min_val=-0.5, max_val=1.5)),
    ("softmax", dict(dim=1)), ("log_softmax", dict(dim=0)), ("relu", dict()), ("sigmoid", dict()), ("tanh", dict()),
]


@pytest.mark.parametrize("name,kw", TORCH_CASES)
def test_matches_torch(name, kw, device):
    """Forward and backward equal torch.nn.functional, including exactly at the kinks (0, the clamp bounds)."""
    torch = pytest.importorskip("torch")
    x = np.concatenate([np.random.standard_normal(12) * 4, [0.0, -0.5, 1.5, 1.0, -1.0, 30.0, -30.0, 10.0]])
    x = x.reshape(4, 5)
    g = np.random.standard_normal(x.shape)
    t = torch.tensor(x, requires_grad=True)
    tf = getattr(torch, name) if name in ("sigmoid", "tanh") else getattr(torch.nn.functional, name)
    yt = tf(t, **kw)
    yt.backward(torch.tensor(g))
    d = dc.tensor(x, device=device, requires_grad=True)
    y = getattr(A, name)(d, **kw)
    y.backward(dc.tensor(g, device=device))
    np.testing.assert_allclose(y.numpy(), yt.detach().numpy(), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(d.grad.numpy(), t.grad.numpy(), rtol=1e-10, atol=1e-15)


@pytest.mark.parametrize("scale", [1e4, -1e4])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_stable_at_large_logits(name, scale, dtype, device):
    a = np.array([[1.0, 0.5, -0.25, 0.0], [0.0, 0.0, 0.0, 0.0]]) * scale
    x = dc.tensor(a.astype(dtype), device=device, requires_grad=True)
    y = getattr(A, name)(x, axis=1)
    assert y.dtype == dtype
    assert np.all(np.isfinite(y.numpy()))
    ref = _np_softmax(a) if name == "softmax" else _np_log_softmax(a)
    np.testing.assert_allclose(y.numpy(), ref, rtol=1e-6, atol=1e-6)
    (y * dc.tensor(np.random.standard_normal(a.shape).astype(dtype), device=device)).sum().backward()
    assert np.all(np.isfinite(x.grad.numpy()))


def test_softmax_rows_sum_to_one_and_methods(device):
    x = dc.tensor(np.random.standard_normal((3, 5)), device=device)
    np.testing.assert_allclose(x.softmax(axis=1).numpy().sum(axis=1), 1.0)
    np.testing.assert_allclose(x.softmax(dim=0).numpy(), _np_softmax(x.numpy(), axis=0))
    np.testing.assert_allclose(x.log_softmax().numpy(), np.log(x.softmax().numpy()), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(dc.softmax(x).numpy(), x.softmax(axis=-1).numpy())
    assert x.relu().shape == x.sigmoid().shape == x.tanh().shape == (3, 5)
    with pytest.raises(IndexError, match="out of range"):
        x.softmax(axis=2)


def test_softmax_is_a_single_function(device):
    x = dc.tensor(np.random.standard_normal((2, 3)), device=device, requires_grad=True)
    assert type(A.softmax(x).grad_fn).__name__ == "Softmax"
    assert type(A.log_softmax(x).grad_fn).__name__ == "LogSoftmax"


def test_softplus_large_inputs_finite(device):
    x = dc.tensor([-1e4, -50.0, 0.0, 50.0, 1e4], dtype=dc.float32, device=device, requires_grad=True)
    y = A.softplus(x)
    assert np.all(np.isfinite(y.numpy()))
    np.testing.assert_allclose(y.numpy(), [0.0, np.exp(-50.0), np.log(2.0), 50.0, 1e4], rtol=1e-6)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [0.0, np.exp(-50.0), 0.5, 1.0, 1.0], rtol=1e-6)


def test_hardtanh_bad_range():
    with pytest.raises(ValueError, match="min_val"):
        A.hardtanh(dc.ones(2), min_val=1.0, max_val=-1.0)


def test_exports():
    import deepcore.nn.functional as F
    for name in ["relu", "sigmoid", "tanh", "softmax", "log_softmax"]:
        assert getattr(dc, name) is getattr(A, name)
    for name in ["relu", "sigmoid", "tanh", "softmax", "log_softmax", "leaky_relu", "elu", "softplus", "softsign",
                 "hardtanh", "prelu"]:
        assert getattr(F, name) is getattr(A, name)


@pytest.mark.parametrize("name", list(ELEMENTWISE) + ["prelu"])
def test_float32_stays_float32(name, device):
    x = dc.tensor(_data((3, 4)).astype(np.float32), device=device, requires_grad=True)
    if name == "prelu":
        w = dc.tensor(np.full(4, 0.25, np.float32), device=device, requires_grad=True)
        y, inputs = A.prelu(x, w), [x, w]
    else:
        y, inputs = ELEMENTWISE[name][0](x), [x]
    assert y.dtype == dc.float32
    grads = dc.autograd.grad(y, inputs, dc.ones(y.shape, device=device))
    assert all(g.dtype == dc.float32 for g in grads)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_numba_relu_backward_matches_generic(dtype):
    from deepcore.ops import activation as act_mod
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 5, 7)).astype(dtype)
    x[0, 0, :3] = [0.0, np.nan, -0.0]
    gy = rng.standard_normal(x.shape).astype(dtype)
    gy[1, 1, :2] = [np.inf, np.nan]                       # NaN/inf gradients must not be masked to 0
    y = np.maximum(x, 0)

    def grad():
        X = dc.tensor(x, requires_grad=True)
        dc.relu(X).backward(dc.tensor(gy))
        return X.grad.numpy()

    with fastpath.forced(True):
        assert fastpath.select("relu_backward", gy, y) is act_mod._relu_backward_numba
        fast = grad()
    with fastpath.forced(False):
        generic = grad()
    assert fast.dtype == dtype
    np.testing.assert_array_equal(fast, generic)
    np.testing.assert_array_equal(generic, gy * (y > 0))


# --- GELU ---------------------------------------------------------------------------------------------------
def _np_gelu(x, approximate="none"):
    from math import erf, pi, sqrt
    if approximate == "tanh":
        return 0.5 * x * (1 + np.tanh(sqrt(2 / pi) * (x + 0.044715 * x ** 3)))
    return 0.5 * x * (1 + np.vectorize(erf)(x / sqrt(2)))


@pytest.mark.parametrize("approximate", ["none", "tanh"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_gelu(approximate, dtype, device):
    # the generic path's erf is a 1.2e-7 fit (NumPy has no erf), the CUDA kernels use the device's erf
    check_op(lambda x: A.gelu(x, approximate=approximate), lambda x: _np_gelu(x, approximate),
             [np.random.default_rng(0).uniform(-5, 5, (4, 9))], device, dtype,
             tol=dict(rtol=2e-6, atol=2e-7) if dtype == np.float64 else None)


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_matches_torch(approximate, device):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(1).standard_normal((5, 6)) * 3
    X = dc.tensor(x, device=device, requires_grad=True)
    y = dc.nn.GELU(approximate=approximate)(X)
    g = np.random.default_rng(2).standard_normal(x.shape)
    y.backward(dc.tensor(g, device=device))
    T = torch.tensor(x, requires_grad=True)
    ty = torch.nn.functional.gelu(T, approximate=approximate)
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-6, atol=2e-7)
    np.testing.assert_allclose(X.grad.numpy(), T.grad.numpy(), rtol=1e-6, atol=2e-7)


def test_gelu_rejects_unknown_approximation():
    with pytest.raises(ValueError, match="approximate must be 'none' or 'tanh', got 'erf'"):
        A.gelu(dc.zeros(3), approximate="erf")
    with pytest.raises(ValueError, match="approximate must be 'none' or 'tanh'"):
        dc.nn.GELU("fast")


# --- bias + activation fused into linear / conv2d -------------------------------------------------------------
@pytest.mark.parametrize("act", [None, "relu", "gelu", "gelu_tanh", "tanh", "sigmoid"])
def test_linear_with_fused_activation_equals_linear_then_activation(act, device):
    rng = np.random.default_rng(3)
    arrays = [rng.standard_normal((6, 5)), rng.standard_normal((4, 5)), rng.standard_normal(4)]
    g = rng.standard_normal((6, 4)).astype(np.float32)
    then = {None: lambda t: t, "relu": A.relu, "tanh": A.tanh, "sigmoid": A.sigmoid, "gelu": A.gelu,
            "gelu_tanh": lambda t: A.gelu(t, approximate="tanh")}[act]

    def run(fused):
        x, w, b = (dc.tensor(a.astype(np.float32), device=device, requires_grad=True) for a in arrays)
        y = dc.nn.functional.linear(x, w, b, activation=act) if fused else then(dc.nn.functional.linear(x, w, b))
        y.backward(dc.tensor(g, device=device))
        return [y.numpy(), x.grad.numpy(), w.grad.numpy(), b.grad.numpy()]

    for a, b in zip(run(True), run(False)):
        if device == "cpu":
            np.testing.assert_array_equal(a, b)                  # the same NumPy operations, in the same order
        else:
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    check_grad(lambda x, w, b: dc.nn.functional.linear(x, w, b, activation=act), arrays, device)


def test_fused_activation_is_validated():
    with pytest.raises(ValueError, match="activation must be None or one of relu, gelu, gelu_tanh, tanh, sigmoid"):
        dc.nn.functional.linear(dc.zeros(2, 3), dc.zeros(4, 3), activation="softplus")
    with pytest.raises(ValueError, match="conv2d: activation must be None or one of"):
        dc.nn.functional.conv2d(dc.zeros(1, 1, 3, 3), dc.zeros(1, 1, 2, 2), activation="elu")


def _counting(device):
    import sys
    emulation = sys.modules.get("cupy_emulation")
    if device == "cpu" or emulation is None or not emulation.is_active():
        pytest.skip("launch counts exist on the emulated CUDA device only (--emulate-cuda)")
    if not fastpath.enabled():
        pytest.skip("counts the fast paths (--no-fast-paths is set)")
    return emulation.counting


def test_linear_relu_is_one_gemm_and_one_kernel_each_way(device):
    counting = _counting(device)
    x = dc.randn(8, 5, device=device, requires_grad=True)
    w, b = dc.randn(3, 5, device=device, requires_grad=True), dc.randn(3, device=device, requires_grad=True)
    g = dc.randn(8, 3, device=device)
    with counting() as fwd:
        y = dc.nn.functional.linear(x, w, b, activation="relu")
    with counting() as bwd:
        y.backward(g)
    assert fwd.by_name == {"matmul": 1, "bias_act_fwd_f32": 1}, fwd.by_name
    assert bwd.by_name == {"bias_act_bwd_f32": 1, "matmul": 2}, bwd.by_name   # input and weight gradients
    assert (fwd.syncs, fwd.copies, bwd.syncs, bwd.copies) == (0, 0, 0, 0)
