"""Losses beyond what the operator registry checks (tests/registry/loss.py holds every loss x reduction x dtype
x device against NumPy and torch, with gradients): stability at extreme logits, 0-class and value checks
(BCE's [0, 1] range, on the device without a sync), torch's edge gradients, clear errors, and the CUDA fast
path of cross_entropy."""
import numpy as np
import pytest
from registry.loss import np_class_loss as _np_class_loss
from registry.loss import np_log_softmax as _np_log_softmax

import deepcore as dc
from deepcore.errors import ShapeError
from deepcore.ops.loss import (binary_cross_entropy, binary_cross_entropy_with_logits, cross_entropy, huber_loss,
                               kl_div, l1_loss, mse_loss, nll_loss, smooth_l1_loss)

REDUCTIONS = ["mean", "sum", "none"]
DTYPES = [np.float32, np.float64]
RNG = np.random.default_rng(1234)


# --- stability and special values ------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_extreme_logits(dtype, device):
    x = dc.tensor(np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 0.0], [0.0, 0.0, 0.0]], dtype), device=device,
                  requires_grad=True)
    y = dc.tensor(np.array([1, 1, 2]), device=device)
    loss = cross_entropy(x, y, reduction="none")
    np.testing.assert_allclose(loss.numpy(), [2e4, 0.0, np.log(3.0)], rtol=1e-6)
    mean = cross_entropy(x, y)
    assert np.isfinite(mean.item())
    mean.backward()
    g = x.grad.numpy()
    assert np.all(np.isfinite(g))
    np.testing.assert_allclose(g[0], np.array([1.0, -1.0, 0.0]) / 3, atol=1e-6)
    np.testing.assert_allclose(g[2], np.array([1.0, 1.0, -2.0]) / 9, atol=1e-6)


def test_binary_losses_extreme_values(device):
    x = dc.tensor([1e4, -1e4, 0.0], device=device, requires_grad=True)
    loss = binary_cross_entropy_with_logits(x, dc.tensor([0.0, 1.0, 1.0], device=device), reduction="none")
    np.testing.assert_allclose(loss.numpy(), [1e4, 1e4, np.log(2.0)], rtol=1e-6)
    loss.backward(dc.ones(3, device=device))
    assert np.all(np.isfinite(x.grad.numpy()))
    p = dc.tensor([0.0, 1.0, 0.5], device=device)
    t = dc.tensor([1.0, 0.0, 1.0], device=device)
    np.testing.assert_allclose(binary_cross_entropy(p, t, reduction="none").numpy(),
                               [100.0, 100.0, np.log(2.0)], rtol=1e-6)


def test_cross_entropy_is_one_fused_node(device):
    x = dc.tensor(RNG.standard_normal((3, 4)), device=device, requires_grad=True)
    out = cross_entropy(x, dc.tensor([0, 1, 2], device=device))
    assert type(out.grad_fn).__name__ == "CrossEntropy"
    assert all(e is None or e[0] is x for e in out.grad_fn._edges)


@pytest.mark.parametrize("target", [np.array([2, 0, 1], np.int32), np.array([2, 0, 1], np.int64), [2, 0, 1]])
def test_cross_entropy_target_kinds(target, device):
    x = RNG.standard_normal((3, 4)).astype(np.float32)
    expect = _np_class_loss(_np_log_softmax(x.astype(np.float64)), np.array([2, 0, 1]))
    kinds = [dc.tensor(np.asarray(target), device=device)]
    if device == "cpu":  # raw host data is accepted next to a CPU tensor (refused next to a CUDA one, tested below)
        kinds.insert(0, target)
    for t in kinds:
        out = cross_entropy(dc.tensor(x, device=device), t)
        assert out.dtype == np.float32
        np.testing.assert_allclose(out.item(), expect, rtol=1e-5)


def test_host_target_and_weight_next_to_cuda_input_are_refused(device):
    if device == "cpu":
        pytest.skip("host data is only refused next to a CUDA tensor")
    x = dc.zeros(3, 4, device=device, requires_grad=True)
    y = dc.tensor([2, 0, 1], device=device)
    for call in (lambda: cross_entropy(x, np.array([2, 0, 1])), lambda: cross_entropy(x, [2, 0, 1]),
                 lambda: cross_entropy(x, y, weight=np.ones(4))):
        with pytest.raises(RuntimeError) as err:
            call()
        assert "cpu" in str(err.value) and "cuda:0" in str(err.value), str(err.value)


def test_all_ignored_gives_nan_like_torch():
    out = cross_entropy(dc.tensor(np.zeros((2, 3), np.float32)), [-100, -100])
    assert np.isnan(out.item())


def test_no_grad_on_targets_and_weights_for_class_losses():
    x = dc.tensor(RNG.standard_normal((3, 4)), requires_grad=True)
    cross_entropy(x, [0, 1, 3], weight=np.ones(4)).backward()
    assert x.grad is not None and x.grad.shape == (3, 4)


# --- errors ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fn, args", [
    (mse_loss, ([1.0], [1.0])), (l1_loss, ([1.0], [1.0])), (binary_cross_entropy, ([0.5], [1.0])),
    (binary_cross_entropy_with_logits, ([0.5], [1.0])), (cross_entropy, ([[0.5, 1.0]], [1])),
    (nll_loss, ([[0.5, 1.0]], [1]))])
def test_invalid_reduction(fn, args):
    with pytest.raises(ValueError, match="'average'"):
        fn(*[dc.tensor(a) for a in args], reduction="average")


def test_cross_entropy_errors():
    x = dc.tensor(np.zeros((4, 3), np.float32))
    with pytest.raises(ValueError, match=r"cross_entropy: target shape \(5,\) does not match logits batch \(4,\)"):
        cross_entropy(x, np.zeros(5, np.int64))
    with pytest.raises(IndexError, match="target class 7 is out of range for 3 classes"):
        cross_entropy(x, [0, 7, 1, 2])
    with pytest.raises(IndexError, match="target class -1"):
        cross_entropy(x, [0, -1, 1, 2])
    with pytest.raises(ValueError, match=r"probability target shape \(4, 2\) does not match logits shape \(4, 3\)"):
        cross_entropy(x, np.zeros((4, 2), np.float32))
    with pytest.raises(TypeError, match="must be integers"):
        cross_entropy(x, np.zeros(4, np.float32))
    with pytest.raises(ValueError, match=r"weight of shape \(2,\) does not match 3 classes"):
        cross_entropy(x, [0, 1, 2, 0], weight=np.ones(2))
    with pytest.raises(ValueError, match="label_smoothing"):
        cross_entropy(x, [0, 1, 2, 0], label_smoothing=1.5)
    with pytest.raises(IndexError, match="nll_loss: target class 3"):
        nll_loss(x, [0, 1, 3, 0])


def test_binary_shape_errors():
    with pytest.raises(ValueError, match=r"target shape \(3,\) does not match input shape \(2, 3\)"):
        binary_cross_entropy(dc.tensor(np.full((2, 3), 0.5)), np.ones(3))
    with pytest.raises(ValueError, match=r"pos_weight of shape \(2,\) cannot be broadcast"):
        binary_cross_entropy_with_logits(dc.zeros(2, 3), np.ones((2, 3)), pos_weight=np.ones(2))
    with pytest.raises(ValueError, match=r"input shape \(2, 3\) and target shape \(2,\) cannot be broadcast"):
        mse_loss(dc.zeros(2, 3), np.ones(2))


# --- the CUDA fast path: one kernel forward (range check and reduction inside), one backward -------------------
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cuda_cross_entropy_is_one_launch_each_way(reduction, device):
    import sys
    from deepcore.backend import fastpath
    emulation = sys.modules.get("cupy_emulation")
    if device == "cpu" or emulation is None or not emulation.is_active() or not fastpath.enabled():
        pytest.skip("launch counts of the fast paths exist on the emulated CUDA device only")
    x = dc.tensor(RNG.standard_normal((300, 7)).astype(np.float32), device=device, requires_grad=True)
    y = dc.tensor(RNG.integers(0, 7, 300), device=device)
    w = dc.tensor(RNG.uniform(0.5, 1.5, 7).astype(np.float32), device=device)
    cross_entropy(x, y, weight=w, reduction=reduction).sum().backward()      # warm-up: the persistent flag
    x.grad = None                                                             # (no accumulation counted below)
    g = dc.ones(300 if reduction == "none" else (), device=device)
    with emulation.counting() as fwd:
        loss = cross_entropy(x, y, weight=w, reduction=reduction, label_smoothing=0.1)
    with emulation.counting() as bwd:
        loss.backward(g)
    assert fwd.by_name == {"ce_fwd_f32_i64": 1} and bwd.by_name == {"ce_bwd_f32_i64": 1}, (fwd.by_name, bwd.by_name)
    assert (fwd.syncs, fwd.copies, bwd.syncs, bwd.copies) == (0, 0, 0, 0)
    want = _np_class_loss(_np_log_softmax(x.numpy().astype(np.float64)), y.numpy(), w.numpy(), reduction=reduction,
                          label_smoothing=0.1)
    np.testing.assert_allclose(loss.numpy(), want, rtol=1e-5, atol=1e-6)


def test_cuda_cross_entropy_flag_reports_each_bad_batch(device):
    """The kernel's range check writes a persistent device flag: reported at the next sync, then cleared."""
    if device == "cpu":
        pytest.skip("device-side checks concern CUDA tensors only")
    x = dc.randn(4, 3, device=device)
    for _ in range(2):
        cross_entropy(x, dc.tensor([0, 3, 1, 2], device=device))
        with pytest.raises(IndexError, match="cross_entropy: a target class was out of range for 3 classes"):
            dc.cuda.synchronize()
        cross_entropy(x, dc.tensor([0, 1, 1, 2], device=device)).item()      # good targets: nothing reported


# --- issue 14: zero-size inputs, value checks, torch's edge gradients, shape errors -------------------------
def test_cross_entropy_with_no_classes_matches_torch(device):
    """(N, 0) logits: a real target is out of range (torch: IndexError); all targets ignored give NaN / zeros."""
    x = dc.zeros(3, 0, device=device)
    y = dc.tensor([0, 0, 0], device=device)
    for fn in (cross_entropy, nll_loss):
        if device == "cpu":
            with pytest.raises(IndexError, match="0 classes"):
                fn(x, y)
        else:                                             # found on the device, reported at the next sync
            fn(x, y)
            with pytest.raises(IndexError, match="0 classes"):
                dc.cuda.synchronize()
        ignored = dc.tensor([-100, -100, -100], device=device)
        assert np.isnan(fn(x, ignored).item())
        np.testing.assert_array_equal(fn(x, ignored, reduction="none").numpy(), np.zeros(3))
    xg = dc.zeros(3, 0, device=device, requires_grad=True)
    loss = cross_entropy(xg, dc.zeros(3, 0, device=device), reduction="sum")   # probability targets
    assert loss.item() == 0.0
    loss.backward()
    assert xg.grad.shape == (3, 0)


@pytest.mark.parametrize("p, t, what", [([0.2, 1.5], [0.0, 1.0], "input"), ([-0.1, 0.5], [0.0, 1.0], "input"),
                                        ([0.2, float("nan")], [0.0, 1.0], "input"),
                                        ([0.2, 0.5], [0.0, 1.2], "target")])
def test_bce_refuses_values_outside_0_1_like_torch(p, t, what, device):
    msg = f"binary_cross_entropy: all elements of {what} should be between 0 and 1"
    pt, tt = dc.tensor(p, device=device), dc.tensor(t, device=device)
    if device == "cpu":
        with pytest.raises(RuntimeError, match=msg):
            binary_cross_entropy(pt, tt)
        return
    import sys
    emulation = sys.modules.get("cupy_emulation")
    counting = emulation.counting() if emulation is not None and emulation.is_active() else None
    if counting is not None:
        with counting as counts:                          # checked on the device: no sync, no copy
            binary_cross_entropy(pt, tt)
        assert counts.syncs == counts.copies == 0, counts
    else:
        binary_cross_entropy(pt, tt)
    with pytest.raises(RuntimeError, match=msg):
        dc.cuda.synchronize()
    binary_cross_entropy(dc.tensor([0.2, 0.5], device=device), dc.tensor([0.0, 1.0], device=device)).item()


def test_bce_target_gradient_at_0_and_1_matches_torch(device):
    """torch clamps the logs at -100 in the loss, but d/dt = log(1 - p) - log(p) is unclamped: +-inf at 0, 1."""
    p = dc.tensor([0.0, 1.0, 0.0, 1.0, 0.5], device=device, requires_grad=True)
    t = dc.tensor([0.3, 0.3, 1.0, 0.0, 0.2], device=device, requires_grad=True)
    loss = binary_cross_entropy(p, t, reduction="sum")
    np.testing.assert_allclose(loss.item(), 0.3 * 100 + 0.7 * 100 + 100 + 100 + -(0.2 * np.log(0.5) + 0.8 *
                                                                                   np.log(0.5)), rtol=1e-5)
    loss.backward()
    np.testing.assert_array_equal(t.grad.numpy(), np.array([np.inf, -np.inf, np.inf, -np.inf, 0.0], np.float32))
    np.testing.assert_allclose(p.grad.numpy(), [-0.3e12, 0.7e12, -1e12, 1e12, 1.2], rtol=1e-5)


def test_bce_target_gradient_vs_torch_float32_extremes():
    torch = pytest.importorskip("torch")
    p = np.array([0.0, 1.0, 1e-30, 1 - 6e-8, 0.5], np.float32)
    t = np.array([0.3, 0.3, 0.2, 0.9, 0.1], np.float32)
    dp, dt = dc.tensor(p, requires_grad=True), dc.tensor(t, requires_grad=True)
    tp, tt = torch.tensor(p, requires_grad=True), torch.tensor(t, requires_grad=True)
    binary_cross_entropy(dp, dt, reduction="sum").backward()
    torch.nn.functional.binary_cross_entropy(tp, tt, reduction="sum").backward()
    np.testing.assert_allclose(dt.grad.numpy(), tt.grad.numpy(), rtol=1e-5)
    np.testing.assert_allclose(dp.grad.numpy(), tp.grad.numpy(), rtol=1e-5)


def test_probability_targets_with_ignore_index_raise_like_torch():
    x, q = dc.zeros(2, 3), dc.full((2, 3), 1 / 3)
    with pytest.raises(RuntimeError, match="ignore_index is not supported for probability"):
        cross_entropy(x, q, ignore_index=1)
    for ignore in (-100, -1):                              # torch accepts negative ones (nothing to ignore)
        np.testing.assert_allclose(cross_entropy(x, q, ignore_index=ignore).item(), np.log(3), rtol=1e-6)


def test_class_loss_shape_errors_are_shape_errors():
    """RuntimeError (torch) and ValueError (NumPy) both catch them; messages name the shapes."""
    x = dc.zeros(4, 3)
    cases = [(lambda: cross_entropy(x, np.zeros(5, np.int64)),
              r"target shape \(5,\) does not match logits batch \(4,\)"),
             (lambda: cross_entropy(x, np.zeros((4, 2), np.float32)),
              r"probability target shape \(4, 2\) does not match logits shape \(4, 3\)"),
             (lambda: cross_entropy(x, [0, 1, 2, 0], weight=np.ones(2)), r"weight of shape \(2,\) does not match 3"),
             (lambda: cross_entropy(dc.tensor(1.0), np.array(0)), "class dimension"),
             (lambda: nll_loss(x, np.zeros((4, 1), np.int64)), r"target shape \(4, 1\)"),
             (lambda: binary_cross_entropy(dc.full((2, 3), 0.5), np.ones(3)), r"target shape \(3,\)"),
             (lambda: mse_loss(dc.zeros(2, 3), np.ones(2)), r"input shape \(2, 3\) and target shape \(2,\)")]
    for call, msg in cases:
        for kind in (ShapeError, RuntimeError, ValueError):
            with pytest.raises(kind, match=msg):
                call()


def test_new_regression_loss_arguments_are_checked():
    x = dc.zeros(2, 3)
    with pytest.raises(ValueError, match="beta must be >= 0"):
        smooth_l1_loss(x, x, beta=-1.0)
    with pytest.raises(ValueError, match="delta must be > 0"):
        huber_loss(x, x, delta=0.0)
    with pytest.raises(ValueError, match="'avg'"):
        kl_div(x, x, reduction="avg")
    with pytest.raises(ShapeError, match=r"huber_loss: input shape \(2, 3\) and target shape \(2,\)"):
        huber_loss(x, dc.zeros(2))
    with pytest.raises(ShapeError, match=r"mse_loss: weight shape \(3,\) does not match input shape \(2, 3\)"):
        mse_loss(x, x, weight=dc.ones(3))                 # torch: weights and input must have the same size


def test_empty_means_are_nan_without_warnings():
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for fn in (mse_loss, l1_loss, smooth_l1_loss, huber_loss):
            x = dc.zeros(0, 3, requires_grad=True)
            out = fn(x, dc.zeros(0, 3))
            assert np.isnan(out.item())
            out.backward()
            assert x.grad.shape == (0, 3)
