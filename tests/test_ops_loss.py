"""Losses: every loss x reduction x dtype x device against an independent NumPy formula and against torch,
gradients by finite differences, plus stability at extreme logits and clear errors."""
import numpy as np
import pytest
from harness import TOL, check_forward, check_grad

import deepcore as dc
from deepcore.ops.loss import (binary_cross_entropy, binary_cross_entropy_with_logits, cross_entropy, l1_loss,
                               mse_loss, nll_loss)

REDUCTIONS = ["mean", "sum", "none"]
DTYPES = [np.float32, np.float64]
RNG = np.random.default_rng(1234)


# --- independent NumPy references ----------------------------------------------------------------
def _np_reduce(loss, reduction, denom=None):
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    return loss.sum() / (loss.size if denom is None else denom)


def _np_log_softmax(x, axis=1):
    m = x.max(axis=axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=axis, keepdims=True))


def _np_class_loss(logp, y, weight, ignore_index, eps, reduction):
    """Per-sample loop: loss_i = -sum_k q_k w_k log p_ik with q = (1-eps) onehot + eps/C (torch's definition)."""
    logp = np.moveaxis(logp, 1, -1)  # (N, d..., C)
    C = logp.shape[-1]
    w = np.ones(C) if weight is None else weight
    flat_lp, flat_y = logp.reshape(-1, C), np.asarray(y).reshape(-1)
    losses, denom = np.zeros(flat_y.size), 0.0
    for i, (lp, k) in enumerate(zip(flat_lp, flat_y)):
        if k == ignore_index:
            continue
        losses[i] = -(w[k] * (1 - eps) * lp[k]) - (eps / C) * (w * lp).sum()
        denom += w[k]
    return _np_reduce(losses.reshape(np.shape(y)), reduction, denom)


def _np_log_sigmoid(x):
    return -np.logaddexp(0.0, -x)


# --- cases: name -> (arrays, deepcore fn(reduction), numpy fn(reduction), torch fn(reduction)) ------------
def _probs(shape):
    return RNG.uniform(0.05, 0.95, shape)


def _cases():
    c = {}
    x, t = RNG.standard_normal((3, 4)), RNG.standard_normal((3, 4))
    c["mse"] = ([x, t], lambda r: lambda a, b: mse_loss(a, b, reduction=r),
                lambda r: lambda a, b: _np_reduce((a - b) ** 2, r),
                lambda F, r: lambda a, b: F.mse_loss(a, b, reduction=r))
    c["mse_broadcast"] = ([RNG.standard_normal((2, 3)), RNG.standard_normal((3,))],
                          lambda r: lambda a, b: mse_loss(a, b, reduction=r),
                          lambda r: lambda a, b: _np_reduce((a - b) ** 2, r), None)
    c["mse_scalar"] = ([np.array(0.7), np.array(-0.2)], lambda r: lambda a, b: mse_loss(a, b, reduction=r),
                       lambda r: lambda a, b: _np_reduce((a - b) ** 2, r),
                       lambda F, r: lambda a, b: F.mse_loss(a, b, reduction=r))
    c["l1"] = ([RNG.standard_normal((2, 3, 2)), RNG.standard_normal((2, 3, 2))],
               lambda r: lambda a, b: l1_loss(a, b, reduction=r),
               lambda r: lambda a, b: _np_reduce(np.abs(a - b), r),
               lambda F, r: lambda a, b: F.l1_loss(a, b, reduction=r))

    def np_bce(w=None):
        def ref(p, t, *ws):
            ww = ws[0] if ws else (1.0 if w is None else w)
            return -ww * (t * np.maximum(np.log(p), -100) + (1 - t) * np.maximum(np.log(1 - p), -100))
        return ref
    c["bce"] = ([_probs((4, 3)), _probs((4, 3))],
                lambda r: lambda p, t: binary_cross_entropy(p, t, reduction=r),
                lambda r: lambda p, t: _np_reduce(np_bce()(p, t), r),
                lambda F, r: lambda p, t: F.binary_cross_entropy(p, t, reduction=r))
    c["bce_weight"] = ([_probs((4, 3)), _probs((4, 3)), RNG.uniform(0.5, 2.0, (3,))],
                       lambda r: lambda p, t, w: binary_cross_entropy(p, t, weight=w, reduction=r),
                       lambda r: lambda p, t, w: _np_reduce(np_bce()(p, t, w), r),
                       lambda F, r: lambda p, t, w: F.binary_cross_entropy(p, t, weight=w, reduction=r))

    def np_bcewl(x, t, w=1.0, pw=1.0):
        return -w * (pw * t * _np_log_sigmoid(x) + (1 - t) * _np_log_sigmoid(-x))
    c["bce_logits"] = ([RNG.standard_normal((5, 2)) * 3, _probs((5, 2))],
                       lambda r: lambda x, t: binary_cross_entropy_with_logits(x, t, reduction=r),
                       lambda r: lambda x, t: _np_reduce(np_bcewl(x, t), r),
                       lambda F, r: lambda x, t: F.binary_cross_entropy_with_logits(x, t, reduction=r))
    c["bce_logits_weights"] = (
        [RNG.standard_normal((3, 4)) * 3, _probs((3, 4)), RNG.uniform(0.5, 2, (3, 1)), RNG.uniform(0.5, 3, (4,))],
        lambda r: lambda x, t, w, pw: binary_cross_entropy_with_logits(x, t, weight=w, pos_weight=pw, reduction=r),
        lambda r: lambda x, t, w, pw: _np_reduce(np_bcewl(x, t, w, pw), r),
        lambda F, r: lambda x, t, w, pw: F.binary_cross_entropy_with_logits(x, t, weight=w, pos_weight=pw,
                                                                            reduction=r))

    y = RNG.integers(0, 5, (6,))
    c["ce"] = ([RNG.standard_normal((6, 5)) * 2, y],
               lambda r: lambda x, t: cross_entropy(x, t, reduction=r),
               lambda r: lambda x, t: _np_class_loss(_np_log_softmax(x), t, None, -100, 0.0, r),
               lambda F, r: lambda x, t: F.cross_entropy(x, t, reduction=r))
    w5 = RNG.uniform(0.2, 2.0, 5)
    y_ign = y.copy()
    y_ign[[1, 4]] = 2
    c["ce_weight_ignore_smooth"] = (
        [RNG.standard_normal((6, 5)), y_ign.astype(np.int32)],
        lambda r: lambda x, t: cross_entropy(x, t, weight=dc.tensor(w5, device=x.device), ignore_index=2,
                                             label_smoothing=0.15, reduction=r),
        lambda r: lambda x, t: _np_class_loss(_np_log_softmax(x), t, w5, 2, 0.15, r),
        lambda F, r: lambda x, t: F.cross_entropy(x, t.long(), weight=_torch_const(w5, x), ignore_index=2,
                                                  label_smoothing=0.15, reduction=r))
    ys = RNG.integers(0, 3, (2, 2, 3))
    ys[0, 1, 2] = -100
    c["ce_spatial"] = ([RNG.standard_normal((2, 3, 2, 3)), ys],
                       lambda r: lambda x, t: cross_entropy(x, t, reduction=r),
                       lambda r: lambda x, t: _np_class_loss(_np_log_softmax(x), t, None, -100, 0.0, r),
                       lambda F, r: lambda x, t: F.cross_entropy(x, t, reduction=r))
    c["ce_unbatched"] = ([RNG.standard_normal((4,)), np.array(3)],
                         lambda r: lambda x, t: cross_entropy(x, t, reduction=r),
                         lambda r: lambda x, t: _np_class_loss(_np_log_softmax(x[None]), t[None], None, -100, 0.0,
                                                               r).reshape(()),
                         lambda F, r: lambda x, t: F.cross_entropy(x, t, reduction=r))
    q = RNG.random((4, 3))
    q /= q.sum(axis=1, keepdims=True)
    w3 = RNG.uniform(0.5, 2.0, 3)

    def np_ce_probs(x, t, r, w=None, eps=0.0):
        tt = t * (1 - eps) + eps / x.shape[1]
        return _np_reduce(-((np.ones(3) if w is None else w) * tt * _np_log_softmax(x)).sum(axis=1), r)
    c["ce_probs"] = ([RNG.standard_normal((4, 3)), q],
                     lambda r: lambda x, t: cross_entropy(x, t, reduction=r),
                     lambda r: lambda x, t: np_ce_probs(x, t, r),
                     lambda F, r: lambda x, t: F.cross_entropy(x, t, reduction=r))
    c["ce_probs_weight_smooth"] = (
        [RNG.standard_normal((4, 3)), q],
        lambda r: lambda x, t: cross_entropy(x, t, weight=dc.tensor(w3, device=x.device), label_smoothing=0.1,
                                             reduction=r),
        lambda r: lambda x, t: np_ce_probs(x, t, r, w3, 0.1),
        lambda F, r: lambda x, t: F.cross_entropy(x, t, weight=_torch_const(w3, x), label_smoothing=0.1, reduction=r))
    lp = _np_log_softmax(RNG.standard_normal((5, 4)))
    yn = RNG.integers(0, 4, (5,))
    yn[2] = -100
    c["nll"] = ([lp, yn], lambda r: lambda x, t: nll_loss(x, t, reduction=r),
                lambda r: lambda x, t: _np_class_loss(x, t, None, -100, 0.0, r),
                lambda F, r: lambda x, t: F.nll_loss(x, t, reduction=r))
    w4 = RNG.uniform(0.2, 2.0, 4)
    c["nll_weight_spatial"] = (
        [_np_log_softmax(RNG.standard_normal((2, 4, 3))), RNG.integers(0, 4, (2, 3))],
        lambda r: lambda x, t: nll_loss(x, t, weight=dc.tensor(w4, device=x.device), reduction=r),
        lambda r: lambda x, t: _np_class_loss(x, t, w4, -100, 0.0, r),
        lambda F, r: lambda x, t: F.nll_loss(x, t, weight=_torch_const(w4, x), reduction=r))
    return c


def _torch_const(array, like):
    import torch
    return torch.tensor(array, dtype=like.dtype)


CASES = _cases()


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(CASES))
def test_loss_vs_numpy(name, reduction, dtype, device):
    arrays, dc_fn, np_fn, _ = CASES[name]
    out = check_forward(dc_fn(reduction), np_fn(reduction), arrays, device, dtype)
    assert out.dtype == dtype
    if dtype == np.float64:  # gradients are checked in float64 whatever the forward dtype
        check_grad(dc_fn(reduction), arrays, device)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", [n for n, case in CASES.items() if case[3] is not None])
def test_loss_vs_torch(name, reduction, dtype, device):
    torch = pytest.importorskip("torch")
    arrays, dc_fn, _, torch_fn = CASES[name]
    tdt = torch.float32 if dtype == np.float32 else torch.float64
    # torch differentiates the input (not every loss's target/weight); those are covered by gradcheck
    tt = [torch.tensor(a, dtype=tdt, requires_grad=(i == 0)) if a.dtype.kind == "f" else torch.tensor(a)
          for i, a in enumerate(arrays)]
    dt = [dc.tensor(a.astype(dtype), device=device, requires_grad=(i == 0)) if a.dtype.kind == "f"
          else dc.tensor(a, device=device) for i, a in enumerate(arrays)]
    expect = torch_fn(torch.nn.functional, reduction)(*tt)
    got = dc_fn(reduction)(*dt)
    tol = TOL[dtype]
    np.testing.assert_allclose(got.numpy(), expect.detach().numpy(), **tol)
    seed = np.random.default_rng(5).standard_normal(got.shape)
    got.backward(dc.tensor(seed.astype(dtype), device=device))
    expect.backward(torch.tensor(seed, dtype=tdt))
    np.testing.assert_allclose(dt[0].grad.numpy(), tt[0].grad.numpy(), rtol=tol["rtol"] * 10,
                               atol=tol["atol"] * 10)


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
    expect = _np_class_loss(_np_log_softmax(x.astype(np.float64)), np.array([2, 0, 1]), None, -100, 0.0, "mean")
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
    want = _np_class_loss(_np_log_softmax(x.numpy().astype(np.float64)), y.numpy(), w.numpy(), -100, 0.1, reduction)
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
