"""Elementwise ops beyond the registry (tests/registry/elementwise.py drives forward, gradients and PyTorch parity
of every op): type promotion against ``torch.result_type``, PyTorch's gradient conventions at the singular
points, error messages, and the operators' Python protocol details."""
import numpy as np
import pytest

import deepcore as dc
from deepcore.errors import ShapeError


def _pair(torch, device, a, b):
    """The same operands for deepcore and torch: arrays become tensors (dtype kept), other values pass through."""
    def conv(v, lib):
        if isinstance(v, np.ndarray):
            return dc.tensor(v, device=device) if lib == "dc" else torch.from_numpy(v.copy())
        return v
    return (conv(a, "dc"), conv(b, "dc")), (conv(a, "torch"), conv(b, "torch"))


I64, I32, U8 = np.array([1, 2, 3]), np.array([1, 2, 3], np.int32), np.array([1, 2, 250], np.uint8)
F32, F64 = np.array([0.5, 1.5, -2.0], np.float32), np.array([0.5, 1.5, -2.0])
BOOL = np.array([True, False, True])

PROMOTION = [
    ("int+pyfloat", I64, 2.5, "add"), ("int32+pyfloat", I32, 2.5, "mul"), ("bool*pyfloat", BOOL, 1.5, "mul"),
    ("int/int", I64, I64, "truediv"), ("int/pyint", I64, 2, "truediv"), ("pyint/int", 3, I64, "truediv"),
    ("int+pyint", I64, 1, "add"), ("int32+pyint", I32, 7, "add"), ("uint8+pyint-wraps", U8, 300, "add"),
    ("int32+int64", I32, I64, "add"), ("int32+f64-0d", I32, np.array(1.5), "add"),
    ("f32+f64-0d", F32, np.array(1.5), "add"), ("f32+f64", F32, F64, "add"), ("int+f32", I64, F32, "sub"),
    ("bool+bool", BOOL, BOOL, "add"), ("bool+pybool", BOOL, True, "add"), ("bool+int", BOOL, I64, "mul"),
    ("int**pyfloat", I64, 2.5, "pow"), ("pyfloat**int", 2.5, I64, "pow"), ("pyint**int", 2, I64, "pow"),
    ("int%pyfloat", I64, 1.5, "mod"), ("int//pyfloat", I64, 0.7, "floordiv"), ("int==pyfloat", I64, 2.0, "eq"),
    ("f32<int-0d", F32, np.array(1), "lt"),
]


@pytest.mark.parametrize("a,b,op", [p[1:] for p in PROMOTION], ids=[p[0] for p in PROMOTION])
def test_binary_promotion_matches_torch(a, b, op, device):
    torch = pytest.importorskip("torch")
    import operator
    fn = getattr(operator, op)
    (da, db), (ta, tb) = _pair(torch, device, a, b)
    got, want = fn(da, db), fn(ta, tb)
    assert str(got.dtype) == str(want.dtype).replace("torch.", ""), f"{got.dtype} vs torch {want.dtype}"
    np.testing.assert_allclose(got.numpy().astype(np.float64), want.numpy().astype(np.float64), rtol=1e-6)


FLOAT_OPS = ["exp", "log", "sqrt", "sin", "cos", "tan", "tanh", "sigmoid", "rsqrt", "log2", "log10", "exp2", "erf",
             "atan", "asinh", "sinh", "cosh"]


@pytest.mark.parametrize("name", FLOAT_OPS)
@pytest.mark.parametrize("values", [[1, 2, 3], [True, False]], ids=["int", "bool"])
def test_floating_ops_on_integers_give_float32(name, values, device):
    torch = pytest.importorskip("torch")
    x = dc.tensor(values, device=device)
    y, ty = getattr(dc, name)(x), getattr(torch, name)(torch.tensor(values))
    assert y.dtype == dc.float32 and ty.dtype == torch.float32
    np.testing.assert_allclose(y.numpy(), ty.numpy(), rtol=1e-6, atol=1e-7)


def test_sigmoid_of_int_tensor_is_not_truncated(device):
    # the old behaviour: the result was cast back to int64, so sigmoid(tensor([1, 2])) was [0, 0]
    y = dc.sigmoid(dc.tensor([1, 2], device=device))
    assert y.dtype == dc.float32
    np.testing.assert_allclose(y.numpy(), 1 / (1 + np.exp(-np.array([1.0, 2.0]))), rtol=1e-6)


def test_clip_int_tensor_with_float_bound_matches_torch(device):
    torch = pytest.importorskip("torch")
    for kw in ({"max": 2.5}, {"min": 1.5}, {"min": 1, "max": 2}, {"min": -0.5, "max": 2}):
        got = dc.clip(dc.tensor([1, 2, 3], device=device), **kw)
        want = torch.clamp(torch.tensor([1, 2, 3]), **kw)
        assert str(got.dtype) == str(want.dtype).replace("torch.", ""), kw
        np.testing.assert_array_equal(got.numpy(), want.numpy())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_scalars_keep_tensor_dtype(dtype, device):
    x = dc.ones(3, dtype=dtype, device=device)
    for y in (x + 1.5, 2.0 * x, x / 3, 1 - x, x ** 2, 2 ** x, np.float64(2.0) * x, x % 0.7, 5 // x):
        assert y.dtype == dtype


# --- gradients at the singular points, as PyTorch ---------------------------------------------------------------
def _grads(lib, fn, *values, device="cpu"):
    if lib == "dc":
        ts = [dc.tensor(v, dtype=dc.float64, device=device, requires_grad=True) for v in values]
    else:
        import torch
        ts = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in values]
    out = fn(*ts)
    out.sum().backward()
    return [out.detach().numpy() if lib == "torch" else out.numpy()] + [t.grad.numpy() for t in ts]


@pytest.mark.parametrize("case", ["x**0", "0**y", "x**y", "2**y", "maximum", "minimum"])
def test_gradient_conventions_match_torch(case, device):
    pytest.importorskip("torch")
    fns = {
        "x**0": (lambda x: x ** 0, [[0.0, 1.0, -2.0]]),  # was NaN at 0: 0 * 0 ** -1
        "0**y": (lambda y: 0.0 ** y, [[-1.0, 0.0, 2.0, -0.5]]),  # 0 ** -1 = inf, gradient -inf
        "x**y": (lambda x, y: x ** y, [[0.0, 0.0, 0.0, 2.0, -2.0], [0.0, -1.0, 1.0, 2.0, 2.0]]),
        "2**y": (lambda y: 2.0 ** y, [[0.0, -1.0, 3.0]]),
        "maximum": (lambda a, b: a.maximum(b), [[1.0, 2.0, float("nan"), 3.0, 5.0], [1.0, 3.0, 1.0, float("nan"), 5.0]]),
        "minimum": (lambda a, b: a.minimum(b), [[1.0, 2.0, float("nan"), 3.0, 5.0], [1.0, 3.0, 1.0, float("nan"), 5.0]]),
    }
    fn, values = fns[case]
    ours = _grads("dc", fn, *values, device=device)
    theirs = _grads("torch", fn, *values)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-12, equal_nan=True)


def test_maximum_ties_split_the_gradient(device):
    a = dc.tensor([1.0, 2.0], device=device, requires_grad=True)
    b = dc.tensor([1.0, 1.0], device=device, requires_grad=True)
    dc.maximum(a, b).sum().backward()
    assert a.grad.tolist() == [0.5, 1.0] and b.grad.tolist() == [0.5, 0.0]


# --- errors ------------------------------------------------------------------------------------------------------
def test_broadcast_error_names_shapes():
    with pytest.raises(ShapeError, match=r"add: shapes \(2, 3\) and \(4,\) cannot be broadcast"):
        dc.ones(2, 3) + dc.ones(4)
    with pytest.raises(ValueError, match=r"where: shapes \(2,\), \(3,\) and \(4,\) cannot be broadcast"):
        dc.where(dc.ones(2) > 0, dc.ones(3), dc.ones(4))
    with pytest.raises(RuntimeError, match=r"lt: shapes \(2,\) and \(3,\) cannot be broadcast"):
        _ = dc.ones(2) < dc.ones(3)


def test_int_to_negative_int_power_is_refused_like_torch(device):
    torch = pytest.importorskip("torch")
    with pytest.raises(RuntimeError, match="Integers to negative integer powers are not allowed"):
        torch.tensor([2, 3]) ** -1
    with pytest.raises(RuntimeError, match="Integers to negative integer powers are not allowed") as info:
        dc.tensor([2, 3], device=device) ** -1
    assert "broadcast" not in str(info.value)
    # float bases and tensor exponents are fine (tensor exponents: C integer semantics, as PyTorch)
    assert (dc.tensor([2.0, 4.0], device=device) ** -1).tolist() == [0.5, 0.25]
    assert (dc.tensor([2, 1, -1], device=device) ** dc.tensor([-1, -2, -3], device=device)).tolist() == [0, 1, -1]


def test_dtype_errors_name_the_problem():
    with pytest.raises(ShapeError):
        dc.ones(2, 3) * dc.ones(3, 2)
    x = dc.tensor([1, 2, 3])
    with pytest.raises(TypeError, match=r"bitwise_and: expected integer or bool tensors, got float32"):
        x.float() & x
    with pytest.raises(TypeError, match=r"~ is only defined for integer and bool tensors"):
        ~x.float()
    with pytest.raises(TypeError, match="bitwise_left_shift: expected integer tensors"):
        dc.tensor([True]) << dc.tensor([True])


def test_bool_arithmetic_refusals_match_torch():
    torch = pytest.importorskip("torch")
    m = dc.tensor([True, False])
    for dc_call, torch_call in [(lambda: m - m, lambda: torch.tensor([True]) - torch.tensor([True])),
                                (lambda: -m, lambda: -torch.tensor([True]))]:
        with pytest.raises(RuntimeError):
            torch_call()
        with pytest.raises(TypeError, match="bool"):
            dc_call()


def test_integer_division_by_zero_raises_on_cpu():
    torch = pytest.importorskip("torch")
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        torch.tensor([1, 2]) // 0
    for call in (lambda x: x // 0, lambda x: x % 0, lambda x: dc.fmod(x, 0), lambda x: dc.div(x, 0, rounding_mode="trunc")):
        with pytest.raises(ZeroDivisionError, match="integer division by zero"):
            call(dc.tensor([1, 2]))
    assert (dc.tensor([1.0, -1.0]) // 0).tolist() == [np.inf, -np.inf]


def test_div_rounding_mode_is_validated():
    with pytest.raises(ValueError, match="rounding_mode must be None, 'trunc' or 'floor', got 'round'"):
        dc.div(dc.ones(2), 2, rounding_mode="round")


def test_round_decimals_and_python_round(device):
    x = dc.tensor([1.25, 2.5, -0.125], device=device)
    assert round(x).tolist() == [1.0, 2.0, -0.0]
    np.testing.assert_allclose(x.round(decimals=1).numpy(), [1.2, 2.5, -0.1], rtol=1e-6)
    with pytest.raises(TypeError, match="decimals is only supported for floating tensors"):
        dc.round(dc.tensor([1, 2]), decimals=1)


def test_allclose_returns_python_bool(device):
    a = dc.tensor([1.0, float("nan")], device=device)
    assert dc.allclose(a, a, equal_nan=True) is True
    assert a.allclose(a) is False
    assert dc.isclose(a, 1.0).tolist() == [True, False]


def test_comparisons_give_bool_without_grad(device):
    x = dc.tensor([1.0, 2.0, 3.0], device=device, requires_grad=True)
    for m in (x > 1.5, x >= 2, x < 2, x <= 2, x == 2, x != 2):
        assert m.dtype == dc.bool and not m.requires_grad
    assert (x > 1.5).tolist() == [False, True, True]
    assert ((x > 1) & (x < 3)).tolist() == [False, True, False]
    assert (~(x > 1)).tolist() == [True, False, False]
    assert (x == None) is False and (x != None) is True  # Python's protocol, as torch


def test_unsupported_operand_types_fall_back_to_python(device):
    x = dc.ones(2, device=device)
    with pytest.raises(TypeError):
        x + "a"
    with pytest.raises(TypeError):
        x & object()


def test_numpy_array_on_left(device):
    if device != "cpu":
        pytest.skip("mixing a host array with a GPU tensor is an error by design")
    x = dc.tensor([1.0, 2.0], requires_grad=True)
    y = np.array([3.0, 4.0], dtype=np.float32) * x
    assert isinstance(y, dc.Tensor) and y.tolist() == [3.0, 8.0]


def test_python_scalars_make_no_host_copies(device):
    import sys
    emulation = sys.modules.get("cupy_emulation")
    if device == "cpu" or emulation is None or not emulation.is_active():
        pytest.skip("copies are counted on the emulated CUDA device only (--emulate-cuda)")
    x = dc.tensor([1, 2, 3], device=device)
    with emulation.counting() as c:
        for y in (x + 2.5, x / 2, x // 2, x % 2, 2 ** x, x << 1, x & 1, x == 2.0, dc.clip(x, max=2.5), dc.erf(x)):
            pass
    assert c.copies == c.syncs == 0, c
