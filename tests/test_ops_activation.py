"""Activations beyond the registry (tests/registry/activation.py drives forward, gradients and PyTorch parity of
every activation): error messages, softmax's axis handling, the nn modules' constructors against torch.nn, the
float32 discipline, and the fused bias + activation paths of linear/conv2d with their fast paths."""

import numpy as np
import pytest
from harness import check_grad

import deepcore as dc
from deepcore.backend import fastpath
from deepcore.ops import activation as A



def test_prelu_weight_shape_error(device):
    with pytest.raises(ValueError, match=r"prelu: weight of shape \(4,\) does not match input of shape \(2, 3\): "
                                         r"expected \(1,\) or \(3,\)"):
        A.prelu(dc.ones(2, 3, device=device), dc.ones(4, device=device))


def test_softmax_rows_sum_to_one_and_methods(device):
    x = dc.tensor(np.random.standard_normal((3, 5)), device=device)
    np.testing.assert_allclose(x.softmax(axis=1).numpy().sum(axis=1), 1.0)
    e = np.exp(x.numpy() - x.numpy().max(axis=0))
    np.testing.assert_allclose(x.softmax(dim=0).numpy(), e / e.sum(axis=0))
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
                 "hardtanh", "prelu", "gelu", "silu", "selu", "celu", "relu6", "hardswish", "hardsigmoid", "mish",
                 "logsigmoid", "softmin"]:
        assert getattr(F, name) is getattr(A, name) and name in F.__all__


def test_softmax_repeated_axis_is_a_clear_error():
    x = dc.ones(2, 3)
    for fn in (dc.softmax, dc.log_softmax, dc.nn.functional.softmin):
        with pytest.raises(ValueError, match=r"axis \(1, 1\) names a dimension more than once"):
            fn(x, axis=(1, -1))


@pytest.mark.parametrize("shape,dim", [((2, 0), 1), ((0, 3), 1), ((0,), 0), ((3, 0, 2), 1)])
@pytest.mark.parametrize("name", ["softmax", "log_softmax", "softmin"])
def test_softmax_over_empty_axis_matches_torch(name, shape, dim, device):
    torch = pytest.importorskip("torch")
    x = dc.zeros(*shape, device=device, requires_grad=True)
    y = getattr(dc.nn.functional, name)(x, dim=dim)
    t = torch.zeros(*shape, requires_grad=True)
    ty = getattr(torch.nn.functional, name)(t, dim=dim)
    assert y.shape == tuple(ty.shape) and y.dtype == dc.float32
    y.sum().backward()
    ty.sum().backward()
    assert x.grad.shape == tuple(t.grad.shape)


def test_softmax_dtype_argument(device):
    x = dc.tensor([1.0, 2.0], device=device)
    assert dc.softmax(x, dim=0, dtype=dc.float64).dtype == dc.float64
    assert dc.softmax(dc.tensor([1, 2], device=device), dim=0).dtype == dc.float32


MODULES = [("SiLU", {}), ("SELU", {}), ("CELU", {"alpha": 0.7}), ("ReLU6", {}), ("Hardswish", {}),
           ("Hardsigmoid", {}), ("Mish", {}), ("LogSigmoid", {}), ("Softmin", {"dim": 0}), ("GELU", {"approximate": "tanh"}),
           ("ReLU", {"inplace": False}), ("SiLU", {"inplace": False})]


@pytest.mark.parametrize("name,kwargs", MODULES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(MODULES)])
def test_activation_modules_match_torch(name, kwargs, device):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(0).uniform(-5, 5, (4, 3))
    ours = getattr(dc.nn, name)(**kwargs)
    theirs = getattr(torch.nn, name)(**kwargs)
    X = dc.tensor(x, device=device, requires_grad=True)
    T = torch.tensor(x, requires_grad=True)
    y, ty = ours(X), theirs(T)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-6, atol=1e-7)
    y.sum().backward()
    ty.sum().backward()
    np.testing.assert_allclose(X.grad.numpy(), T.grad.numpy(), rtol=1e-6, atol=1e-7)
    assert name in dc.nn.__all__


def test_celu_alpha_zero_is_refused():
    with pytest.raises(ValueError, match="alpha must not be 0"):
        dc.nn.functional.celu(dc.ones(2), alpha=0.0)
    with pytest.raises(ValueError, match="alpha must not be 0"):
        dc.nn.CELU(0.0)


FLOAT_ACTIVATIONS = ["relu", "sigmoid", "tanh", "gelu", "leaky_relu", "elu", "softplus", "softsign", "hardtanh",
                     "silu", "selu", "celu", "relu6", "hardswish", "hardsigmoid", "mish", "logsigmoid", "softmax",
                     "log_softmax", "softmin"]


@pytest.mark.parametrize("name", FLOAT_ACTIVATIONS + ["prelu"])
def test_float32_stays_float32(name, device):
    """Outputs and gradients keep float32 (no float64 constant sneaks in)."""
    x = dc.tensor(np.random.uniform(-4, 4, (3, 4)).astype(np.float32), device=device, requires_grad=True)
    if name == "prelu":
        w = dc.tensor(np.full(4, 0.25, np.float32), device=device, requires_grad=True)
        y, inputs = A.prelu(x, w), [x, w]
    else:
        y, inputs = getattr(dc.nn.functional, name)(x), [x]
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
