"""Reductions: forward against NumPy, gradients by finite differences, ties/zeros/stability edge cases."""
import numpy as np
import pytest
from harness import check_forward, check_grad, check_op

import deepcore as dc

DTYPES = [np.float32, np.float64]

# (shape, axis, keepdims)
AXES = [((), None, False), ((), 0, True), ((5,), None, False), ((5,), 0, True), ((3, 4), 1, False),
        ((3, 4), -2, True), ((2, 3, 4), (0, 2), False), ((2, 3, 4), (2, 0), True), ((2, 3, 4), None, True)]


def _np_logsumexp(x, axis=None, keepdims=False):
    m = np.max(x, axis=axis, keepdims=True)
    y = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    return y if keepdims else np.squeeze(y, axis=axis) if axis is not None else y.reshape(())


REDUCTIONS = {
    "sum": np.sum,
    "mean": np.mean,
    "max": np.max,
    "min": np.min,
    "var": np.var,
    "std": np.std,
    "prod": np.prod,
    "logsumexp": _np_logsumexp,
}


def _np_axis(shape, axis):
    return None if len(shape) == 0 else axis  # NumPy rejects axis=0 on 0-d arrays; torch (and we) accept it


def _data(shape, name):
    x = np.random.standard_normal(shape)
    if name == "prod":
        x = np.sign(x) * (0.5 + np.abs(x))  # away from 0 so float32 products stay well conditioned
    if name == "std":
        x = x + np.arange(x.size).reshape(shape) * 0.1  # keep the std away from 0
    return x


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,axis,keepdims", AXES)
@pytest.mark.parametrize("name", list(REDUCTIONS))
def test_reduction(name, shape, axis, keepdims, dtype, device):
    x = _data(shape, name)
    npa = _np_axis(shape, axis)
    np_fn = REDUCTIONS[name]
    grad = not (name == "std" and x.size == 1)  # std of one element is 0: its gradient is nan (as in torch)
    check_op(lambda t: getattr(dc, name)(t, axis=axis, keepdims=keepdims),
             lambda a: np.asarray(np_fn(a, axis=npa, keepdims=keepdims)), [x], device, dtype, grad=grad)


@pytest.mark.parametrize("name", list(REDUCTIONS))
def test_tensor_method_and_dim_alias(name, device):
    x = dc.tensor(_data((3, 4), name), device=device)
    a = getattr(x, name)(dim=1, keepdim=True)
    b = getattr(dc, name)(x, axis=1, keepdims=True)
    assert a.shape == (3, 1)
    np.testing.assert_allclose(a.numpy(), b.numpy())


@pytest.mark.parametrize("ddof", [0, 1, 2])
@pytest.mark.parametrize("name", ["var", "std"])
def test_var_std_ddof(name, ddof, device):
    x = np.random.standard_normal((4, 5))
    np_fn = getattr(np, name)
    check_op(lambda t: getattr(dc, name)(t, axis=1, ddof=ddof), lambda a: np_fn(a, axis=1, ddof=ddof), [x], device,
             np.float64)
    check_forward(lambda t: getattr(t, name)(ddof=ddof), lambda a: np.asarray(np_fn(a, ddof=ddof)), [x], device,
                  np.float32)


def test_var_default_is_population(device):
    x = dc.tensor([1.0, 2.0, 3.0, 4.0], device=device)
    assert x.var().item() == pytest.approx(1.25)
    assert x.std().item() == pytest.approx(1.25 ** 0.5)


@pytest.mark.parametrize("name", ["max", "min"])
def test_max_min_ties_split_gradient(name, device):
    x = dc.tensor([[1.0, 3.0, 3.0, -2.0], [-1.0, -1.0, -1.0, 0.0]], dtype=dc.float64, device=device,
                  requires_grad=True)
    getattr(dc, name)(x, axis=1).sum().backward()
    if name == "max":
        expect = [[0, 0.5, 0.5, 0], [0, 0, 0, 1]]
    else:
        expect = [[0, 0, 0, 1], [1 / 3, 1 / 3, 1 / 3, 0]]
    np.testing.assert_allclose(x.grad.numpy(), expect)
    x.grad = None
    getattr(dc, name)(x).backward()  # global: one winner in the first case, three-way tie in the second
    assert x.grad.numpy().sum() == pytest.approx(1.0)


def test_max_grad_matches_torch_amax(device):
    torch = pytest.importorskip("torch")
    a = np.array([[2.0, 5.0, 5.0], [5.0, 1.0, 0.0]])
    x = dc.tensor(a, dtype=dc.float64, device=device, requires_grad=True)
    dc.max(x, axis=(0, 1)).backward()
    t = torch.tensor(a, requires_grad=True)
    torch.amax(t, dim=(0, 1)).backward()
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy())


@pytest.mark.parametrize("values", [
    [2.0, 0.0, 3.0, -1.5],        # one zero
    [0.0, 4.0, 0.0, 2.0],         # two zeros
    [0.0, 0.0, 0.0, 0.0],         # all zeros
    [0.0],                        # a lone zero
])
def test_prod_grad_with_zeros(values, device):
    torch = pytest.importorskip("torch")
    x = dc.tensor(values, dtype=dc.float64, device=device, requires_grad=True)
    dc.prod(x).backward()
    t = torch.tensor(values, dtype=torch.float64, requires_grad=True)
    torch.prod(t).backward()
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy())
    check_grad(lambda u: dc.prod(u), [np.array(values)], device)


def test_prod_grad_with_zeros_along_axis(device):
    a = np.array([[0.0, 2.0, 3.0], [1.0, 0.0, 0.0], [1.5, -2.0, 0.5]])
    check_grad(lambda u: dc.prod(u, axis=1), [a], device)
    check_grad(lambda u: dc.prod(u, axis=0, keepdims=True), [a], device)


@pytest.mark.parametrize("scale", [1e4, -1e4])
@pytest.mark.parametrize("dtype", DTYPES)
def test_logsumexp_stable(scale, dtype, device):
    a = np.array([[1.0, 0.5, -0.25], [0.0, 0.0, 0.0]]) * scale
    x = dc.tensor(a.astype(dtype), device=device, requires_grad=True)
    y = dc.logsumexp(x, axis=1)
    assert y.dtype == dtype
    assert np.all(np.isfinite(y.numpy()))
    np.testing.assert_allclose(y.numpy(), _np_logsumexp(a, axis=1), rtol=1e-5)
    y.sum().backward()
    g = x.grad.numpy()
    assert np.all(np.isfinite(g))
    np.testing.assert_allclose(g.sum(axis=1), 1.0, rtol=1e-5)


def test_logsumexp_matches_torch(device):
    torch = pytest.importorskip("torch")
    a = np.random.standard_normal((3, 5)) * 10
    y = dc.logsumexp(dc.tensor(a, device=device), axis=-1)
    np.testing.assert_allclose(y.numpy(), torch.logsumexp(torch.tensor(a), dim=-1).numpy(), rtol=1e-12)


@pytest.mark.parametrize("shape,axis,keepdims", [((5,), None, False), ((5,), 0, True), ((3, 4), 1, False),
                                                 ((3, 4), 0, True), ((2, 3, 4), None, True), ((2, 3, 4), -1, False)])
@pytest.mark.parametrize("name", ["argmax", "argmin"])
def test_argmax_argmin(name, shape, axis, keepdims, device):
    a = np.random.standard_normal(shape).astype(np.float32)
    x = dc.tensor(a, device=device, requires_grad=True)
    idx = getattr(dc, name)(x, axis=axis, keepdims=keepdims)
    expect = getattr(np, name)(a, axis=axis, keepdims=keepdims)
    assert idx.dtype == dc.int64
    assert idx.shape == np.shape(expect)
    assert not idx.requires_grad
    np.testing.assert_array_equal(idx.numpy(), expect)
    np.testing.assert_array_equal(getattr(x, name)(dim=axis, keepdim=keepdims).numpy(), expect)


def test_argmax_scalar_and_errors(device):
    assert dc.argmax(dc.tensor(3.0, device=device)).item() == 0
    with pytest.raises(TypeError, match="argmax: axis must be None or an int"):
        dc.argmax(dc.ones(2, 3, device=device), axis=(0, 1))
    with pytest.raises(ValueError, match="empty"):
        dc.argmin(dc.zeros(0, device=device))


def test_axis_errors(device):
    x = dc.ones(2, 3, device=device)
    with pytest.raises(IndexError, match="out of range"):
        dc.sum(x, axis=2)
    with pytest.raises(ValueError, match="repeated axis"):
        dc.mean(x, axis=(0, -2))
    with pytest.raises(TypeError, match="either axis= or dim="):
        dc.max(x, axis=0, dim=0)
    with pytest.raises(ValueError, match=r"max: cannot reduce an empty tensor of shape \(0, 3\)"):
        dc.max(dc.zeros(0, 3, device=device), axis=0)


def test_integer_inputs(device):
    x = dc.tensor([[1, 2, 3], [4, 5, 6]], device=device)
    assert dc.sum(x).dtype == dc.int64 and dc.sum(x).item() == 21
    assert dc.max(x, axis=0).tolist() == [4, 5, 6]
    assert dc.prod(x, axis=1).tolist() == [6, 120]
    m = dc.mean(x, axis=1)
    assert m.dtype == dc.float32 and m.tolist() == [2.0, 5.0]


def test_sum_gradient_is_writable(device):
    x = dc.ones(2, 3, device=device, requires_grad=True)
    dc.sum(x).backward()
    x.grad.data[0, 0] = 5.0  # optimizers update grads in place; a broadcast view would be read-only
    assert x.grad.numpy()[1, 1] == 1.0


@pytest.mark.parametrize("name", list(REDUCTIONS) + ["argmax", "argmin"])
def test_float32_stays_float32(name, device):
    x = dc.tensor(_data((3, 4), name).astype(np.float32), device=device, requires_grad=True)
    y = getattr(dc, name)(x, axis=1)
    if name.startswith("arg"):
        assert y.dtype == dc.int64
        return
    assert y.dtype == dc.float32
    (g,) = dc.autograd.grad(y, x, dc.ones(y.shape, device=device))  # the raw gradient, before any leaf cast
    assert g.dtype == dc.float32
    y2 = getattr(dc, name)(x)
    assert y2.dtype == dc.float32 and y2.shape == ()
