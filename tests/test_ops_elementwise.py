"""Elementwise ops: forward against NumPy, gradients against finite differences, broadcasting, dtypes."""
import numpy as np
import pytest

import deepcore as dc
from harness import check_op

SHAPE_PAIRS = [((), ()), ((3,), ()), ((2, 3), (3,)), ((2, 1, 4), (3, 1)), ((4, 1), (1, 5))]
DTYPES = [np.float32, np.float64]
rng = np.random.default_rng(0)

BINARY = {
    "add": (lambda a, b: a + b, np.add),
    "sub": (lambda a, b: a - b, np.subtract),
    "mul": (lambda a, b: a * b, np.multiply),
    "div": (lambda a, b: a / b, np.divide),
    "pow": (lambda a, b: a ** b, np.power),
    "maximum": (dc.maximum, np.maximum),
    "minimum": (dc.minimum, np.minimum),
}


def _inputs(name, sa, sb):
    a, b = rng.standard_normal(sa), rng.standard_normal(sb)
    if name in ("div", "pow"):
        b = np.abs(b) + 0.5 if name == "div" else b
        a = np.abs(a) + 0.5 if name == "pow" else a
    if name in ("maximum", "minimum"):
        b = b + 0.3  # keep ties away from the finite-difference step
    return [np.asarray(a), np.asarray(b)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shapes", SHAPE_PAIRS)
@pytest.mark.parametrize("name", list(BINARY))
def test_binary(name, shapes, dtype, device):
    dc_fn, np_fn = BINARY[name]
    check_op(dc_fn, np_fn, _inputs(name, *shapes), device, dtype)


UNARY = {
    "exp": (dc.exp, np.exp, None), "log": (dc.log, np.log, "pos"), "sqrt": (dc.sqrt, np.sqrt, "pos"),
    "sin": (dc.sin, np.sin, None), "cos": (dc.cos, np.cos, None), "tanh": (dc.tanh, np.tanh, None),
    "sigmoid": (dc.sigmoid, lambda x: 1 / (1 + np.exp(-x)), None), "relu": (dc.relu, lambda x: np.maximum(x, 0), "nz"),
    "abs": (dc.abs, np.abs, "nz"), "neg": (lambda x: -x, np.negative, None),
    "clip": (lambda x: dc.clip(x, -0.5, 0.5), lambda x: np.clip(x, -0.5, 0.5), "clip"),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(), (5,), (2, 3, 4)])
@pytest.mark.parametrize("name", list(UNARY))
def test_unary(name, shape, dtype, device):
    dc_fn, np_fn, domain = UNARY[name]
    x = np.asarray(rng.standard_normal(shape))
    if domain == "pos":
        x = np.abs(x) + 0.3
    elif domain == "nz":
        x = np.where(np.abs(x) < 0.1, 0.3, x)
    elif domain == "clip":
        x = np.where(np.abs(np.abs(x) - 0.5) < 0.05, 0.2, x)
    check_op(dc_fn, np_fn, [x], device, dtype)


def test_where(device):
    cond = rng.standard_normal((3, 4)) > 0
    a, b = rng.standard_normal((3, 4)), rng.standard_normal((4,))
    check_op(lambda x, y: dc.where(dc.tensor(cond, device=device), x, y), lambda x, y: np.where(cond, x, y),
             [a, b], device)


@pytest.mark.parametrize("dtype", DTYPES)
def test_scalars_keep_tensor_dtype(dtype, device):
    x = dc.ones(3, dtype=dtype, device=device)
    for y in (x + 1.5, 2.0 * x, x / 3, 1 - x, x ** 2, 2 ** x, np.float64(2.0) * x):
        assert y.dtype == dtype


def test_broadcast_error_names_shapes():
    with pytest.raises(ValueError, match=r"add: shapes \(2, 3\) and \(4,\) cannot be broadcast"):
        dc.ones(2, 3) + dc.ones(4)


def test_comparisons_give_bool_without_grad(device):
    x = dc.tensor([1.0, 2.0, 3.0], device=device, requires_grad=True)
    for m in (x > 1.5, x >= 2, x < 2, x <= 2, x == 2, x != 2):
        assert m.dtype == dc.bool and not m.requires_grad
    assert (x > 1.5).tolist() == [False, True, True]
    assert ((x > 1) & (x < 3)).tolist() == [False, True, False]
    assert (~(x > 1)).tolist() == [True, False, False]


def test_numpy_array_on_left(device):
    if device != "cpu":
        pytest.skip("mixing a host array with a GPU tensor is an error by design")
    x = dc.tensor([1.0, 2.0], requires_grad=True)
    y = np.array([3.0, 4.0], dtype=np.float32) * x
    assert isinstance(y, dc.Tensor) and y.tolist() == [3.0, 8.0]
