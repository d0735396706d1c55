"""dropout: inverted scaling keeps the mean, identity in evaluation, gradient = mask * scale, validation."""
import numpy as np
import pytest

import deepcore as dc
from deepcore.ops.dropout import dropout

DTYPES = [np.float32, np.float64]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_dropout_statistics(p, dtype, device):
    n = 200_000
    x = dc.ones(n, dtype=dtype, device=device)
    y = dropout(x, p=p).numpy()
    assert y.dtype == dtype
    kept = y != 0
    np.testing.assert_allclose(y[kept], 1.0 / (1.0 - p), rtol=1e-6)  # survivors are scaled by 1/(1-p)
    sigma = np.sqrt(p * (1 - p) / n)
    assert abs((1 - kept.mean()) - p) < 5 * sigma  # drop rate is p
    assert abs(y.mean() - 1.0) < 5 * sigma / (1 - p)  # mean preserved


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(3, 4), (2, 3, 5), ()])
def test_dropout_gradient_is_mask_times_scale(shape, dtype, device):
    p = 0.4
    xa = np.random.default_rng(0).uniform(1.0, 2.0, shape).astype(dtype)  # nonzero, so zeros mark drops
    x = dc.tensor(xa, device=device, requires_grad=True)
    y = dropout(x, p=p)
    mask = (y.numpy() != 0)
    np.testing.assert_allclose(y.numpy(), xa * mask / (1 - p), rtol=1e-6)
    g = np.random.default_rng(1).standard_normal(shape).astype(dtype)
    y.backward(dc.tensor(g, device=device))
    assert x.grad.dtype == dtype and x.grad.shape == tuple(shape)
    np.testing.assert_allclose(x.grad.numpy(), g * mask / (1 - p), rtol=1e-6)


def test_dropout_gradcheck_with_fixed_mask(device):
    x = dc.tensor(np.random.default_rng(2).standard_normal((4, 5)), device=device)

    def fn(t):
        dc.manual_seed(3)  # same mask on every finite-difference evaluation
        return dropout(t, p=0.3)
    assert dc.gradcheck(fn, [x])


@pytest.mark.parametrize("dtype", DTYPES)
def test_dropout_eval_and_p0_are_identity(dtype, device):
    x = dc.tensor(np.arange(6.0).reshape(2, 3).astype(dtype), device=device, requires_grad=True)
    for y in (dropout(x, p=0.7, training=False), dropout(x, p=0.0)):
        assert y is x
        np.testing.assert_array_equal(y.numpy(), x.numpy())


def test_dropout_p1_gives_zeros(device):
    x = dc.tensor(np.ones((3, 4), np.float32), device=device, requires_grad=True)
    y = dropout(x, p=1.0)
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y.numpy(), 0.0)
    y.backward(dc.ones(3, 4, device=device))
    np.testing.assert_array_equal(x.grad.numpy(), 0.0)


def test_dropout_reproducible_with_manual_seed(device):
    x = dc.ones(50, device=device)
    dc.manual_seed(11)
    a = dropout(x, 0.5).numpy()
    dc.manual_seed(11)
    b = dropout(x, 0.5).numpy()
    c = dropout(x, 0.5).numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(b, c)  # a fresh mask each call


@pytest.mark.parametrize("p", [-0.1, 1.5, "0.5", None])
def test_dropout_invalid_p(p):
    with pytest.raises(ValueError, match="dropout: probability p must be in"):
        dropout(dc.ones(3), p=p)


# --- the CUDA fast path: mask drawn and applied in one kernel, seed and counter on the device ------------------
def _counting(device):
    import sys
    from deepcore.backend import fastpath
    emulation = sys.modules.get("cupy_emulation")
    if device == "cpu" or emulation is None or not emulation.is_active() or not fastpath.enabled():
        pytest.skip("launch counts of the fast paths exist on the emulated CUDA device only")
    return emulation.counting


def test_cuda_dropout_is_one_launch_each_way_without_host_traffic(device):
    counting = _counting(device)
    x = dc.ones(3000, device=device, requires_grad=True)
    dropout(x, 0.3)                                       # warm-up: seeds the device's dropout state once
    g = dc.ones(3000, device=device)
    with counting() as fwd:
        y = dropout(x, 0.3)
    with counting() as bwd:
        y.backward(g)
    assert fwd.by_name == {"dropout_fwd_f32": 1} and bwd.by_name == {"dropout_bwd_f32": 1}
    assert (fwd.syncs, fwd.copies, bwd.syncs, bwd.copies) == (0, 0, 0, 0)
    np.testing.assert_array_equal(x.grad.numpy(), y.numpy())     # the backward regenerates the same mask


def test_cuda_dropout_draws_fresh_masks_in_graph_replays(device):
    _counting(device)
    if not hasattr(dc.cuda, "graphed"):
        pytest.skip("dc.cuda.graphed is not in this build")
    step = dc.cuda.graphed(lambda t: dropout(t, 0.5))
    x = dc.ones(2000, device=device)
    masks = [step(x).numpy() != 0 for _ in range(5)]     # warm-up, capture, three replays
    for a in range(len(masks)):
        for b in range(a):
            assert (masks[a] != masks[b]).mean() > 0.3, (a, b)
    assert all(abs(m.mean() - 0.5) < 0.05 for m in masks)
