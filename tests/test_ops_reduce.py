"""Reductions: what the operator registry (tests/registry/reduce.py) cannot express.

Forward against NumPy, float64 gradchecks, dtypes, devices and PyTorch parity of every reduction run from the
registry (tests/test_registry.py). Here: the shape of the API (named tuples, ``max(a, b)``, keyword aliases),
gradient tie rules written out, constant inputs of std/var, zero-size inputs and their errors, dtype rules.
"""
import warnings

import numpy as np
import pytest

import deepcore as dc
from deepcore.errors import ShapeError


# --- max / min: PyTorch's API --------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["max", "min"])
def test_max_with_axis_is_a_named_tuple(name, device):
    a = np.array([[1.0, 5.0, 2.0], [7.0, 0.0, 7.0]], dtype=np.float32)
    x = dc.tensor(a, device=device)
    out = getattr(x, name)(1)
    values, indices = out                      # unpacks like torch.return_types.max
    assert out.values is values and out.indices is indices
    assert type(out).__name__ == name and repr(out).startswith(f"{name}(values=")
    np.testing.assert_array_equal(values.numpy(), getattr(np, name)(a, axis=1))
    np.testing.assert_array_equal(indices.numpy(), getattr(np, f"arg{name}")(a, axis=1))
    assert indices.dtype == dc.int64 and values.dtype == dc.float32
    _, pred = getattr(x, name)(dim=1, keepdim=True)   # the MNIST example's `_, pred = out.max(1)`
    assert pred.shape == (2, 1)
    whole = getattr(dc, name)(x)
    assert isinstance(whole, dc.Tensor) and whole.shape == ()


def test_max_of_two_tensors_is_maximum(device):
    a = dc.tensor([[1.0, 5.0], [3.0, -1.0]], device=device)
    b = dc.tensor([2.0, 0.0], device=device)
    np.testing.assert_array_equal(dc.max(a, b).numpy(), [[2.0, 5.0], [3.0, 0.0]])
    np.testing.assert_array_equal(a.min(b).numpy(), [[1.0, 0.0], [2.0, -1.0]])


def test_max_axis_errors(device):
    x = dc.ones(2, 3, device=device)
    with pytest.raises(TypeError, match=r"max: axis must be an int .* amax reduces over several axes"):
        dc.max(x, axis=(0, 1))
    with pytest.raises(TypeError, match="either axis= or dim="):
        dc.max(x, axis=0, dim=0)
    with pytest.raises(IndexError, match="out of range"):
        x.min(2)


def test_max_of_0d_tensor_along_axis_0(device):
    v, i = dc.max(dc.tensor(2.5, device=device), 0)
    assert v.shape == i.shape == () and v.item() == 2.5 and i.item() == 0


# --- gradient tie rules (the registry compares them with PyTorch when torch is installed) -------------------
@pytest.mark.parametrize("name", ["max", "min"])
def test_tie_rules(name, device):
    a = [[1.0, 3.0, 3.0, -2.0], [-1.0, -1.0, -1.0, 0.0]]
    x = dc.tensor(a, dtype=dc.float64, device=device, requires_grad=True)
    getattr(x, name)(1).values.sum().backward()             # along an axis: all to the returned (first) index
    if name == "max":
        assert x.grad.tolist() == [[0, 1, 0, 0], [0, 0, 0, 1]]
    else:
        assert x.grad.tolist() == [[0, 0, 0, 1], [1, 0, 0, 0]]
    x.grad = None
    getattr(dc, "a" + name)(x, axis=1).sum().backward()    # amax/amin: split evenly between ties
    expect = [[0, 0.5, 0.5, 0], [0, 0, 0, 1]] if name == "max" else [[0, 0, 0, 1], [1 / 3, 1 / 3, 1 / 3, 0]]
    np.testing.assert_allclose(x.grad.numpy(), expect)
    x.grad = None
    y = dc.tensor([[2.0, 5.0, 5.0], [5.0, 1.0, 0.0]], dtype=dc.float64, device=device, requires_grad=True)
    dc.max(y).backward()                                    # no axis: split evenly as well
    np.testing.assert_allclose(y.grad.numpy(), [[0, 1 / 3, 1 / 3], [1 / 3, 0, 0]])


def test_max_tie_rules_match_torch(device):
    torch = pytest.importorskip("torch")
    a = np.array([[2.0, 5.0, 5.0], [5.0, 1.0, np.nan]])
    for call, tcall in [(lambda t: t.max(1).values, lambda t: t.max(1).values),
                        (lambda t: t.max(), lambda t: t.max()),
                        (lambda t: t.amax((0, 1)), lambda t: t.amax((0, 1))),
                        (lambda t: t[:, :2].max(), lambda t: t[:, :2].max())]:
        x = dc.tensor(a, dtype=dc.float64, device=device, requires_grad=True)
        t = torch.tensor(a, requires_grad=True)
        call(x).sum().backward()
        tcall(t).sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), equal_nan=True)


# --- std / var -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("ddof", [0, 1])
@pytest.mark.parametrize("name", ["std", "var"])
@pytest.mark.parametrize("dtype", [dc.float32, dc.float64])
def test_constant_input_has_finite_zero_gradient(name, ddof, dtype, device):
    x = dc.full((3, 4), 2.5, dtype=dtype, device=device, requires_grad=True)
    y = getattr(dc, name)(x, axis=1, ddof=ddof)
    assert y.tolist() == [0.0, 0.0, 0.0]
    y.sum().backward()
    assert np.all(x.grad.numpy() == 0.0)
    x.grad = None
    getattr(x, name)(ddof=ddof).backward()
    assert np.all(x.grad.numpy() == 0.0)


def test_constant_input_gradient_matches_torch(device):
    torch = pytest.importorskip("torch")
    for name in ["std", "var"]:
        for ddof, shape in [(0, (4,)), (1, (4,)), (0, (1,)), (1, (1,))]:   # (1,) with ddof 1: nan, as in torch
            x = dc.full(shape, 1.0, dtype=dc.float64, device=device, requires_grad=True)
            getattr(dc, name)(x, ddof=ddof).backward()
            t = torch.full(shape, 1.0, dtype=torch.float64, requires_grad=True)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                getattr(torch, name)(t, correction=ddof).backward()
            np.testing.assert_array_equal(x.grad.numpy(), t.grad.numpy(), err_msg=f"{name} ddof={ddof} {shape}")


def test_var_default_is_population_and_torch_keywords(device):
    x = dc.tensor([[1.0, 2.0, 3.0, 4.0]], device=device)
    assert x.var().item() == pytest.approx(1.25)
    assert x.std().item() == pytest.approx(1.25 ** 0.5)
    unbiased = 5 / 3
    for v in [x.var(ddof=1), x.var(correction=1), x.var(unbiased=True), x.var(True), dc.var(x, dim=1, ddof=1)]:
        assert v.numpy().ravel()[0] == pytest.approx(unbiased)
    assert x.std(False).item() == pytest.approx(1.25 ** 0.5)      # torch's x.std(unbiased) spelling
    with pytest.raises(TypeError, match="only one of ddof=, correction= and unbiased="):
        x.var(ddof=1, correction=1)
    with pytest.raises(ValueError, match="correction must be a number >= 0"):
        x.std(correction=-1)


def test_std_mean_var_mean(device):
    a = np.random.default_rng(0).standard_normal((3, 5))
    x = dc.tensor(a, dtype=dc.float64, device=device)
    for fn, np_fn in [(dc.std_mean, np.std), (dc.var_mean, np.var)]:
        out = fn(x, axis=1, ddof=1, keepdims=True)
        assert isinstance(out, tuple) and len(out) == 2
        np.testing.assert_allclose(out[0].numpy(), np_fn(a, axis=1, ddof=1, keepdims=True))
        np.testing.assert_allclose(out[1].numpy(), a.mean(axis=1, keepdims=True))
        s, m = fn(x, dim=0, correction=0)
        np.testing.assert_allclose(s.numpy(), np_fn(a, axis=0))
        np.testing.assert_allclose(m.numpy(), a.mean(axis=0))


# --- zero-size inputs (issue 14.6) -----------------------------------------------------------------------------
def test_reductions_over_empty_axes_match_torch(device):
    x = dc.zeros(0, 3, device=device)
    with warnings.catch_warnings():
        warnings.simplefilter("error")                       # no NumPy "mean of empty slice" warnings either
        assert dc.sum(x, axis=1).shape == (0,) and dc.mean(x, axis=1).shape == (0,)
        assert dc.sum(x, axis=0).tolist() == [0.0, 0.0, 0.0] and dc.sum(x).item() == 0.0
        assert dc.prod(x, axis=0).tolist() == [1.0, 1.0, 1.0] and dc.prod(x).item() == 1.0
        assert np.isnan(dc.mean(x, axis=0).numpy()).all() and np.isnan(dc.mean(x).item())
        assert np.isnan(dc.var(x, axis=0).numpy()).all() and np.isnan(dc.std(x).item())
        assert dc.logsumexp(x, axis=0).tolist() == [-np.inf] * 3
        v, i = dc.max(x, axis=1)
        assert v.shape == i.shape == (0,)
        assert dc.amin(x, axis=1).shape == (0,) and dc.argmax(x, axis=1).shape == (0,)
        assert dc.any(x).item() is False and dc.all(x).item() is True


@pytest.mark.parametrize("call", [
    lambda x: dc.max(x, axis=0), lambda x: dc.min(x, 0), lambda x: dc.max(x), lambda x: x.amax(),
    lambda x: dc.amin(x, axis=(0, 1)), lambda x: dc.argmax(x), lambda x: dc.argmin(x, axis=0),
], ids=["max-axis", "min-axis", "max", "amax", "amin-tuple", "argmax", "argmin-axis"])
def test_max_over_an_empty_axis_is_a_clear_error(call, device):
    x = dc.zeros(0, 3, device=device)
    with pytest.raises(ShapeError, match=r"cannot reduce an empty tensor of shape \(0, 3\)") as info:
        call(x)
    # PyTorch raises IndexError or RuntimeError here, NumPy ValueError: each `except` catches ours
    assert isinstance(info.value, (IndexError, RuntimeError, ValueError))
    assert isinstance(info.value, IndexError) and isinstance(info.value, RuntimeError)


def test_empty_reduction_errors_match_torch_exception_types(device):
    torch = pytest.importorskip("torch")
    for name, kw in [("max", {"dim": 0}), ("amax", {}), ("argmax", {"dim": 0}), ("min", {})]:
        with pytest.raises(Exception) as theirs:
            getattr(torch, name)(torch.zeros(0, 3), **kw)
        with pytest.raises(Exception) as ours:
            getattr(dc, name)(dc.zeros(0, 3, device=device), **kw)
        assert isinstance(ours.value, type(theirs.value)), f"{name}: torch raises {type(theirs.value).__name__}"


# --- dtypes ----------------------------------------------------------------------------------------------------
def test_integer_and_bool_inputs(device):
    x = dc.tensor([[1, 2, 3], [4, 5, 6]], device=device)
    assert dc.sum(x).dtype == dc.int64 and dc.sum(x).item() == 21
    assert dc.amax(x, axis=0).tolist() == [4, 5, 6] and x.max(0).values.tolist() == [4, 5, 6]
    assert dc.prod(x, axis=1).tolist() == [6, 120]
    m = dc.mean(x, axis=1)
    assert m.dtype == dc.float32 and m.tolist() == [2.0, 5.0]
    assert dc.std(x).dtype == dc.var(x).dtype == dc.logsumexp(x).dtype == dc.float32
    small = dc.tensor(np.array([1, 2], dtype=np.int32), device=device)
    assert dc.sum(small).dtype == dc.prod(small).dtype == dc.int64          # as torch
    b = dc.tensor([True, True, False], device=device)
    assert dc.sum(b).dtype == dc.int64 and dc.sum(b).item() == 2


def test_dtype_keyword(device):
    x = dc.tensor([[1.5, 2.5], [3.0, 4.0]], device=device, requires_grad=True)
    s = dc.sum(x, dtype=dc.float64)
    assert s.dtype == dc.float64 and s.item() == 11.0
    s.backward()
    assert x.grad.dtype == dc.float32 and x.grad.tolist() == [[1.0, 1.0], [1.0, 1.0]]
    assert x.prod(dim=1, dtype="float64").dtype == dc.float64
    assert dc.mean(dc.tensor([1, 2], device=device), dtype=dc.float64).dtype == dc.float64


def test_any_all(device):
    x = dc.tensor([[0.0, 1.5], [0.0, 0.0]], device=device, requires_grad=True)
    assert x.any().item() is True and x.all().item() is False
    assert dc.any(x, axis=1).tolist() == [True, False] and dc.all(x, dim=0, keepdim=True).tolist() == [[False, False]]
    y = dc.any(x)
    assert y.dtype == dc.bool and not y.requires_grad


def test_axis_errors(device):
    x = dc.ones(2, 3, device=device)
    with pytest.raises(IndexError, match="out of range"):
        dc.sum(x, axis=2)
    with pytest.raises(ValueError, match="repeated axis"):
        dc.mean(x, axis=(0, -2))
    with pytest.raises(TypeError, match="argmax: axis must be None or an int"):
        dc.argmax(x, axis=(0, 1))


def test_sum_gradient_is_writable(device):
    x = dc.ones(2, 3, device=device, requires_grad=True)
    dc.sum(x).backward()
    x.grad.data[0, 0] = 5.0  # optimizers update grads in place; a broadcast view would be read-only
    assert x.grad.numpy()[1, 1] == 1.0


@pytest.mark.parametrize("name", ["sum", "mean", "amax", "amin", "var", "std", "prod", "logsumexp"])
def test_float32_gradient_stays_float32(name, device):
    x = dc.tensor(np.random.default_rng(0).uniform(0.5, 1.5, (3, 4)).astype(np.float32), device=device,
                  requires_grad=True)
    y = getattr(dc, name)(x, axis=1)
    assert y.dtype == dc.float32
    (g,) = dc.autograd.grad(y, x, dc.ones(y.shape, device=device))  # the raw gradient, before any leaf cast
    assert g.dtype == dc.float32


def test_logsumexp_float32_stays_finite(device):
    a = np.array([[1.0, 0.5, -0.25], [0.0, 0.0, 0.0]], dtype=np.float32) * 1e4
    x = dc.tensor(a, device=device, requires_grad=True)
    y = dc.logsumexp(x, axis=1)
    assert np.all(np.isfinite(y.numpy()))
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy().sum(axis=1), 1.0, rtol=1e-5)
