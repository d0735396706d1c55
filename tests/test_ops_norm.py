"""batch_norm and layer_norm beyond the operator registry (tests/registry/norm.py holds forward against NumPy
and torch and the gradients): running-statistics updates, empty batches, exact zeros for constant rows, and
channel/shape errors."""
import numpy as np
import pytest

import deepcore as dc
from deepcore.errors import ShapeError
from deepcore.ops.norm import batch_norm, layer_norm

BN_SHAPES = [(4, 3), (3, 2, 5), (2, 3, 3, 2)]
RNG = np.random.default_rng(7)


def _axes(x):
    return (0,) + tuple(range(2, x.ndim))


# --- batch_norm ------------------------------------------------------------------------------------


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


def test_layer_norm_errors():
    x = dc.zeros(2, 3)
    with pytest.raises(ValueError, match=r"normalized_shape \(4,\) does not match the last dimension\(s\) of input "
                                         r"shape \(2, 3\)"):
        layer_norm(x, 4)
    with pytest.raises(ValueError, match=r"normalized_shape \(2, 2, 3\)"):
        layer_norm(x, (2, 2, 3))
    with pytest.raises(ValueError, match=r"weight has shape \(2,\) but normalized_shape is \(3,\)"):
        layer_norm(x, 3, weight=dc.ones(2))


# --- issue 14: zero-size batches, exact zeros, shape errors ---------------------------------------------------
@pytest.mark.parametrize("shape", [(0, 3), (0, 3, 4), (2, 3, 0, 2)])
def test_batch_norm_of_an_empty_batch_matches_torch(shape, device):
    """torch: an empty result, running statistics unchanged (only one value per channel is refused)."""
    x = dc.zeros(*shape, device=device, requires_grad=True)
    w = dc.ones(3, device=device, requires_grad=True)
    b = dc.zeros(3, device=device, requires_grad=True)
    rm, rv = dc.full((3,), 0.5, device=device), dc.full((3,), 2.0, device=device)
    y = batch_norm(x, rm, rv, w, b, training=True)
    assert y.shape == shape
    y.sum().backward()
    assert x.grad.shape == shape
    np.testing.assert_array_equal(w.grad.numpy(), 0)
    np.testing.assert_array_equal(b.grad.numpy(), 0)
    np.testing.assert_array_equal(rm.numpy(), 0.5)
    np.testing.assert_array_equal(rv.numpy(), 2.0)


def test_batch_norm_module_on_an_empty_batch(device):
    bn = dc.nn.BatchNorm1d(3).to(device)
    assert bn(dc.zeros(0, 3, device=device)).shape == (0, 3)
    assert int(bn.num_batches_tracked.item()) == 1                # as torch: the batch is counted
    np.testing.assert_array_equal(bn.running_mean.numpy(), 0)
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        bn(dc.zeros(1, 3, device=device))
    assert int(bn.num_batches_tracked.item()) == 1                # a refused batch changes nothing


@pytest.mark.parametrize("value", [0.1, 1234.567, -3e4, 7.0])
@pytest.mark.parametrize("normalized", [(7,), (2, 7)])
def test_layer_norm_of_a_constant_row_is_exactly_zero(value, normalized, device):
    """torch gives exactly 0; a mean rounded in float32 left up to 7.5e-5 here."""
    x = dc.full((3, 2, 7), value, device=device)
    np.testing.assert_array_equal(layer_norm(x, normalized).numpy(), 0)
    ln = dc.nn.LayerNorm(normalized).to(device)
    np.testing.assert_array_equal(ln(x).numpy(), 0)


def test_layer_norm_stays_accurate_far_from_zero(device):
    """Centered statistics: rows with a large offset normalise as well as rows near 0 (float32 vs float64)."""
    base = RNG.standard_normal((4, 16))
    x = base + 3e4
    got = layer_norm(dc.tensor(x.astype(np.float32), device=device), 16).numpy()
    xs = x.astype(np.float32).astype(np.float64)
    want = (xs - xs.mean(-1, keepdims=True)) / np.sqrt(xs.var(-1, keepdims=True) + 1e-5)
    np.testing.assert_allclose(got, want, atol=2e-3)


def test_layer_norm_of_empty_input(device):
    x = dc.zeros(0, 4, device=device, requires_grad=True)
    y = layer_norm(x, 4, dc.ones(4, device=device), dc.zeros(4, device=device))
    assert y.shape == (0, 4)
    y.sum().backward()
    assert x.grad.shape == (0, 4)


def test_norm_shape_errors_are_shape_errors():
    for call in (lambda: batch_norm(dc.zeros(2, 4, 5), dc.zeros(3), dc.ones(4)),
                 lambda: batch_norm(dc.zeros(4), dc.zeros(4), dc.ones(4)),
                 lambda: layer_norm(dc.zeros(2, 3), 4),
                 lambda: layer_norm(dc.zeros(2, 3), 3, weight=dc.ones(2))):
        for kind in (ShapeError, RuntimeError, ValueError):
            with pytest.raises(kind):
                call()
