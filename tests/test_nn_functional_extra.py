"""F.one_hot, F.normalize and F.interpolate beyond the registry (tests/registry/functional.py holds forward,
gradcheck and PyTorch parity): range checks, errors, and behaviour at the edges."""
import sys

import numpy as np
import pytest

import deepcore as dc
import deepcore.nn.functional as F
from deepcore.errors import ShapeError


def test_one_hot_is_int64_and_carries_no_gradient(device):
    y = F.one_hot(dc.tensor(np.array([2, 0], dtype=np.int32), device=device), 3)
    assert y.dtype == np.int64 and not y.requires_grad and y.device == dc.device(device)
    np.testing.assert_array_equal(y.numpy(), [[0, 0, 1], [1, 0, 0]])


def test_one_hot_out_of_range_cpu():
    with pytest.raises(IndexError, match=r"one_hot: class values must be in \[0, num_classes\) = \[0, 3\) \(got 5\)"):
        F.one_hot(dc.tensor([1, 5]), 3)
    with pytest.raises(IndexError, match=r"\(got -1\)"):
        F.one_hot(dc.tensor([-1, 0]), 3)
    with pytest.raises(RuntimeError, match="class values must be non-negative"):
        F.one_hot(dc.tensor([-1, 0]))


def test_one_hot_out_of_range_on_the_device_is_reported_at_the_next_sync(device):
    emulation = sys.modules.get("cupy_emulation")
    if device == "cpu" or emulation is None or not emulation.is_active():
        pytest.skip("the deferred device check is exercised on the emulated CUDA device")
    idx = dc.tensor([1, 7], device=device)
    with emulation.counting() as counts:
        F.one_hot(idx, 3)
    assert counts.syncs == counts.copies == 0
    with pytest.raises(IndexError, match=r"one_hot: class values must be in \[0, num_classes\) = \[0, 3\)"):
        dc.cuda.synchronize()


def test_one_hot_argument_errors():
    with pytest.raises(TypeError, match="one_hot: expected an integer"):
        F.one_hot(dc.tensor([1.0, 2.0]), 3)
    with pytest.raises(ValueError, match="num_classes must be a non-negative int or -1"):
        F.one_hot(dc.tensor([1]), -2)
    with pytest.raises(RuntimeError, match="cannot infer the number of classes from an empty tensor"):
        F.one_hot(dc.zeros(0, dtype=dc.int64))


def test_normalize_zero_vector_stays_zero_with_finite_gradient(device):
    torch = pytest.importorskip("torch")
    x = np.zeros((2, 3))
    x[1] = [3.0, 4.0, 0.0]
    X = dc.tensor(x, device=device, requires_grad=True)
    y = F.normalize(X)
    y.backward(dc.ones(y.shape, dtype=dc.float64, device=device))
    tx = torch.tensor(x, requires_grad=True)
    ty = torch.nn.functional.normalize(tx)
    ty.backward(torch.ones_like(ty))
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-12)
    assert np.isfinite(X.grad.numpy()).all()
    np.testing.assert_allclose(X.grad.numpy(), tx.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_normalize_errors():
    with pytest.raises(IndexError, match="dim 1 is out of range"):
        F.normalize(dc.randn(3))
    with pytest.raises(ValueError, match="p must be a positive number or inf"):
        F.normalize(dc.randn(2, 3), p=0)
    with pytest.raises(TypeError, match="normalize: expected a floating-point input"):
        F.normalize(dc.tensor([[1, 2]]))


def test_interpolate_non_finite_input_stays_local(device):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(0).standard_normal((1, 1, 4, 5))
    x[0, 0, 1, 2] = np.nan
    for kw in (dict(scale_factor=2), dict(size=(7, 9), mode="bilinear")):
        y = F.interpolate(dc.tensor(x, device=device), **kw).numpy()
        ty = torch.nn.functional.interpolate(torch.tensor(x), **kw).numpy()
        np.testing.assert_allclose(y, ty, rtol=1e-12, atol=1e-12, equal_nan=True)
        assert 0 < np.isnan(y).sum() < y.size // 4


@pytest.mark.parametrize("call, error, message", [
    (lambda: F.interpolate(dc.randn(2, 3), size=4), ShapeError, "interpolate: expected a 3-D (N, C, L) or 4-D"),
    (lambda: F.interpolate(dc.randn(1, 2, 4), size=4, mode="bilinear"), ValueError,
     "interpolate: mode 'bilinear' is not available for a 3-D input; use one of nearest, nearest-exact, linear, area"),
    (lambda: F.interpolate(dc.randn(1, 2, 4, 4), size=4, mode="bicubic"), ValueError, "mode 'bicubic' is not"),
    (lambda: F.interpolate(dc.randn(1, 2, 4, 4), size=4, align_corners=True), ValueError,
     "align_corners can only be set with the interpolating modes"),
    (lambda: F.interpolate(dc.randn(1, 2, 4, 4)), ValueError, "pass exactly one of size and scale_factor"),
    (lambda: F.interpolate(dc.randn(1, 2, 4, 4), size=4, scale_factor=2), ValueError, "pass exactly one"),
    (lambda: F.interpolate(dc.randn(1, 2, 4, 4), size=(4, 4, 4)), ValueError,
     "interpolate: size must be one int or 2 of them for a 4-D input"),
    (lambda: F.interpolate(dc.randn(1, 2, 4, 4), scale_factor=0.1), ValueError, "gives an empty output (0, 0)"),
    (lambda: F.interpolate(dc.randn(1, 2, 4, 4), scale_factor=-1), ValueError, "scale_factor must be positive"),
    (lambda: F.interpolate(dc.zeros((1, 2, 0, 4)), size=(2, 2)), ShapeError, "input has an empty spatial dimension"),
    (lambda: F.interpolate(dc.tensor(np.ones((1, 1, 2, 2), dtype=np.int64)), size=3), TypeError,
     "interpolate: expected a floating-point input"),
])
def test_interpolate_errors(call, error, message):
    with pytest.raises(error) as info:
        call()
    assert message in str(info.value)
