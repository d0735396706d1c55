"""dc.nn.utils.clip_grad_norm_ / clip_grad_value_ against torch.nn.utils, in place and without host syncs."""
import math
import sys

import numpy as np
import pytest

import deepcore as dc
from deepcore import nn, optim


def _params(device, seed=0, scale=1.0):
    rng = np.random.default_rng(seed)
    shapes = [(3, 4), (5,), (2, 1, 3)]
    grads = [rng.standard_normal(s) * scale for s in shapes]
    ps = [dc.tensor(np.zeros(s), device=device, requires_grad=True) for s in shapes]
    for p, g in zip(ps, grads):
        p.grad = dc.tensor(g, device=device)
    return ps, grads


def _torch_params(torch, grads):
    ps = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads]
    for p, g in zip(ps, grads):
        p.grad = torch.tensor(g)
    return ps


@pytest.mark.parametrize("norm_type", [2.0, 1, 3.5, 0.5, math.inf, -math.inf, 0], ids=str)
@pytest.mark.parametrize("max_norm", [0.5, 1e6])
def test_clip_grad_norm_matches_torch(norm_type, max_norm, device):
    torch = pytest.importorskip("torch")
    ps, grads = _params(device)
    tps = _torch_params(torch, grads)
    total = nn.utils.clip_grad_norm_(ps, max_norm, norm_type=norm_type)
    ttotal = torch.nn.utils.clip_grad_norm_(tps, max_norm, norm_type=norm_type)
    assert isinstance(total, dc.Tensor) and total.shape == () and total.device == dc.device(device)
    np.testing.assert_allclose(total.numpy(), ttotal.numpy(), rtol=1e-12)
    for p, tp in zip(ps, tps):
        np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-12, atol=1e-15)
    if max_norm == 1e6:                                  # nothing clipped: gradients unchanged
        for p, g in zip(ps, grads):
            np.testing.assert_allclose(p.grad.numpy(), g, rtol=1e-12)


def test_clip_grad_norm_single_tensor_skips_missing_grads_and_empty(device):
    torch = pytest.importorskip("torch")
    ps, grads = _params(device)
    ps[1].grad = None
    tps = _torch_params(torch, grads)
    tps[1].grad = None
    np.testing.assert_allclose(nn.utils.clip_grad_norm_(ps, 1.0).numpy(),
                               torch.nn.utils.clip_grad_norm_(tps, 1.0).numpy(), rtol=1e-12)
    assert ps[1].grad is None
    one = _params(device)[0][0]
    tone = _torch_params(torch, _params(device)[1])[0]
    np.testing.assert_allclose(nn.utils.clip_grad_norm_(one, 0.1).numpy(),
                               torch.nn.utils.clip_grad_norm_(tone, 0.1).numpy(), rtol=1e-12)
    np.testing.assert_allclose(one.grad.numpy(), tone.grad.numpy(), rtol=1e-12)
    assert float(nn.utils.clip_grad_norm_([dc.zeros(2, requires_grad=True)], 1.0)) == 0.0


def test_clip_grad_norm_non_finite(device):
    ps, _ = _params(device)
    ps[0].grad = dc.tensor(np.full((3, 4), np.inf), device=device)
    with pytest.raises(RuntimeError, match="The total norm of order 2.0 for gradients from `parameters` is "
                                           "non-finite"):
        nn.utils.clip_grad_norm_(ps, 1.0, error_if_nonfinite=True)
    with np.errstate(invalid="ignore"):
        total = nn.utils.clip_grad_norm_(ps, 1.0)        # torch's default: scale by the non-finite norm anyway
    assert math.isinf(float(total))


def test_clip_grad_norm_writes_into_the_optimizer_flat_buffer(device):
    """Gradients that live in an optimizer's flat buffer are clipped there, and the step uses them."""
    torch = pytest.importorskip("torch")
    lin = nn.Linear(3, 2).to(device=device, dtype=dc.float64)
    tlin = torch.nn.Linear(3, 2).double()
    tlin.load_state_dict({k: torch.tensor(v.numpy()) for k, v in lin.state_dict().items()})
    opt, topt = optim.SGD(lin.parameters(), lr=0.5), torch.optim.SGD(tlin.parameters(), lr=0.5)
    x = np.random.default_rng(0).standard_normal((4, 3)) * 10
    for _ in range(3):
        opt.zero_grad()
        topt.zero_grad()
        (lin(dc.tensor(x, device=device)) ** 2).sum().backward()
        (tlin(torch.tensor(x)) ** 2).sum().backward()
        nn.utils.clip_grad_norm_(lin.parameters(), 1.0)
        torch.nn.utils.clip_grad_norm_(tlin.parameters(), 1.0)
        opt.step()
        topt.step()
    np.testing.assert_allclose(lin.weight.numpy(), tlin.weight.detach().numpy(), rtol=1e-10)


@pytest.mark.parametrize("clip", [0.3, 2])
def test_clip_grad_value_matches_torch(clip, device):
    torch = pytest.importorskip("torch")
    ps, grads = _params(device, scale=2.0)
    tps = _torch_params(torch, grads)
    assert nn.utils.clip_grad_value_(ps, clip) is None
    torch.nn.utils.clip_grad_value_(tps, clip)
    for p, tp in zip(ps, tps):
        np.testing.assert_array_equal(p.grad.numpy(), tp.grad.numpy())
    assert abs(ps[0].grad.numpy()).max() <= clip


def test_clipping_makes_no_host_sync(device):
    emulation = sys.modules.get("cupy_emulation")
    if device == "cpu" or emulation is None or not emulation.is_active():
        pytest.skip("sync counters exist on the emulated CUDA device only")
    ps, _ = _params(device)
    with emulation.counting() as counts:
        total = nn.utils.clip_grad_norm_(ps, 0.5)
        nn.utils.clip_grad_value_(ps, 0.1)
    assert counts.syncs == counts.copies == 0, counts
    assert total.device == dc.device(device)


def test_argument_errors():
    ps, _ = _params("cpu")
    with pytest.raises(TypeError, match="clip_grad_norm_: max_norm must be a real number"):
        nn.utils.clip_grad_norm_(ps, None)
    with pytest.raises(TypeError, match="clip_grad_norm_: parameters must be Tensors, got int"):
        nn.utils.clip_grad_norm_([1, 2], 1.0)
    with pytest.raises(TypeError, match="clip_grad_value_: clip_value must be a real number"):
        nn.utils.clip_grad_value_(ps, "1")
