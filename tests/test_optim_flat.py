"""Optimizers on flat buffers: the fused updates (numba on the CPU, kernels/optim.cu on the GPU) against the
generic per-parameter update and torch.optim, the layout (views, rebuilds, state dicts), zero_grad and
autograd's in-place gradient slots, and on the emulated GPU the launch/sync/copy budget and CUDA-graph replay.
"""
import itertools
import sys

import numpy as np
import pytest

import deepcore as dc
from deepcore import optim
from deepcore.backend import fastpath
from deepcore.optim import _flat
from deepcore.optim.optimizer import push_learning_rates

SHAPES = [(3, 4), (5,), (), (0,), (2, 3, 2)]
STEPS = 5
# which parameters have a gradient at each step: parameter 1 skips steps 2 and 3, parameter 4 step 1
HAS_GRAD = [[True, True, True, True, False], [True, False, True, True, True], [True, False, True, True, True],
            [True, True, True, True, True], [True, True, True, True, True]]
LR_SCALE_AT = 3  # group["lr"] is halved before this step (the device lr scalar must follow)

OPTIONS = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.3, weight_decay=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.2)),
    ("Adam", dict()),
    ("Adam", dict(lr=0.01, betas=(0.8, 0.95), weight_decay=0.1)),
    ("Adam", dict(lr=0.01, amsgrad=True, weight_decay=0.05, eps=1e-6)),
    ("AdamW", dict(lr=0.01, weight_decay=0.1)),
    ("AdamW", dict(lr=0.01, amsgrad=True, betas=(0.5, 0.9))),
    ("Adagrad", dict(lr=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.05, weight_decay=0.1, initial_accumulator_value=0.2, eps=1e-3)),
    ("RMSprop", dict()),
    ("RMSprop", dict(momentum=0.9)),
    ("RMSprop", dict(centered=True)),
    ("RMSprop", dict(centered=True, momentum=0.5, weight_decay=0.1, alpha=0.9, eps=1e-4)),
    ("Adadelta", dict()),
    ("Adadelta", dict(lr=0.5, rho=0.8, weight_decay=0.1, eps=1e-3)),
]
IDS = [f"{name}-{'-'.join(f'{k}={v}' for k, v in kw.items()) or 'defaults'}" for name, kw in OPTIONS]
FUSED_TOL = {np.float64: dict(rtol=1e-12, atol=1e-14), np.float32: dict(rtol=1e-5, atol=1e-6)}
TORCH_TOL = {np.float64: dict(rtol=1e-10, atol=1e-12), np.float32: dict(rtol=2e-5, atol=2e-6)}
OPS = ["optim.sgd", "optim.adam", "optim.rmsprop", "optim.adagrad", "optim.adadelta"]


def _emulation():
    """The cupy_emulation module when deepcore runs on the emulated device, else None."""
    emu = sys.modules.get("cupy_emulation")
    if emu is None or not emu.is_active() or dc.backend.cupy_module() is not sys.modules.get("cupy"):
        return None
    return emu


def _problem(seed=0):
    rng = np.random.default_rng(seed)
    inits = [rng.standard_normal(s) for s in SHAPES]
    grads = [[rng.standard_normal(s) * (0.1 + t) for s in SHAPES] for t in range(STEPS)]
    return inits, grads


def _trajectory(name, kwargs, device, dtype, fast, seed=0):
    """Parameter values after every step and the final state (host copies), stepping through the problem."""
    inits, grads = _problem(seed)
    params = [dc.tensor(np.asarray(x, dtype=dtype), device=device, requires_grad=True) for x in inits]
    opt = getattr(optim, name)(params, **kwargs)
    history = []
    for t in range(STEPS):
        if t == LR_SCALE_AT:
            opt.param_groups[0]["lr"] *= 0.5
        for p, g, has in zip(params, grads[t], HAS_GRAD[t]):
            p.grad = dc.tensor(np.asarray(g, dtype=dtype), device=device) if has else None
        if fast:
            opt.step()
        else:
            with fastpath.disabled():
                opt.step()
        history.append([p.numpy().copy() for p in params])
    sd = opt.state_dict()
    state = {i: {k: (np.asarray(dc.tensor(v).numpy()) if hasattr(v, "shape") else v) for k, v in s.items()}
             for i, s in sd["state"].items()}
    return history, state, params, opt


# --- fused == generic, and both == torch ------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,kwargs", OPTIONS, ids=IDS)
def test_fused_update_matches_generic_update(name, kwargs, dtype, device):
    if not fastpath.enabled():
        pytest.skip("fast paths are switched off (--no-fast-paths)")
    emu = _emulation()
    counter = emu.counting() if emu is not None and device == "cuda" else None
    if counter is not None:
        with counter as c:
            fast_hist, fast_state, params, _ = _trajectory(name, kwargs, device, dtype, fast=True)
        kernel = f"{OPTIONS_KERNEL[name]}_{'f32' if dtype == np.float32 else 'f64'}"
        assert c.by_name[kernel] == STEPS, f"{kernel} launched {c.by_name[kernel]} times in {STEPS} steps"
    else:
        fast_hist, fast_state, params, _ = _trajectory(name, kwargs, device, dtype, fast=True)
    gen_hist, gen_state, _, _ = _trajectory(name, kwargs, device, dtype, fast=False)
    for t in range(STEPS):
        for i in range(len(SHAPES)):
            np.testing.assert_allclose(fast_hist[t][i], gen_hist[t][i], **FUSED_TOL[dtype],
                                       err_msg=f"param {i} after step {t + 1}")
    assert fast_state.keys() == gen_state.keys()
    for i, s in fast_state.items():
        assert s.keys() == gen_state[i].keys()
        for k, v in s.items():
            if k == "step":
                assert v == gen_state[i][k]
            else:
                assert v.dtype == dtype
                np.testing.assert_allclose(v, gen_state[i][k], **FUSED_TOL[dtype], err_msg=f"state {i} {k}")
    assert all(p.dtype == dtype and p.device == dc.device(device) for p in params)


OPTIONS_KERNEL = {"SGD": "sgd", "Adam": "adam", "AdamW": "adam", "Adagrad": "adagrad", "RMSprop": "rmsprop",
                  "Adadelta": "adadelta"}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,kwargs", OPTIONS, ids=IDS)
def test_matches_torch_with_skipped_parameters_and_lr_changes(name, kwargs, dtype, device):
    torch = pytest.importorskip("torch")
    hist, state, _, _ = _trajectory(name, kwargs, device, dtype, fast=fastpath.enabled(), seed=3)
    inits, grads = _problem(3)
    tdtype = torch.float32 if dtype == np.float32 else torch.float64
    tparams = [torch.tensor(np.asarray(x, dtype=dtype), dtype=tdtype, requires_grad=True) for x in inits]
    topt = getattr(torch.optim, name)(tparams, **kwargs)
    for t in range(STEPS):
        if t == LR_SCALE_AT:
            topt.param_groups[0]["lr"] *= 0.5
        for tp, g, has in zip(tparams, grads[t], HAS_GRAD[t]):
            tp.grad = torch.tensor(np.asarray(g, dtype=dtype), dtype=tdtype) if has else None
        topt.step()
        for i, tp in enumerate(tparams):
            np.testing.assert_allclose(hist[t][i], tp.detach().numpy(), **TORCH_TOL[dtype],
                                       err_msg=f"param {i}, step {t + 1}")
    tsd = topt.state_dict()["state"]
    state = {i: s for i, s in state.items() if s}  # SGD without momentum: {} per parameter (torch: none)
    assert sorted(state) == sorted(tsd)
    for i, ts in tsd.items():
        assert set(state[i]) == set(ts), (state[i].keys(), ts.keys())
        for k, v in ts.items():
            if k == "step":
                assert state[i][k] == int(v)
            else:
                np.testing.assert_allclose(state[i][k], v.numpy(), **TORCH_TOL[dtype], err_msg=f"{i} {k}")


def test_every_fused_update_is_registered_for_cpu_and_cuda():
    registered = fastpath.registered()
    for op in OPS:
        assert registered.get((op, "cpu")) and registered.get((op, "cuda")), op


# --- layout ---------------------------------------------------------------------------------------------
def _flat_base(a):
    """The flat buffer behind a view (NumPy, CuPy and the emulated CuPy keep ``.base``)."""
    while getattr(a, "base", None) is not None:
        a = a.base
    return a


def test_parameters_gradients_and_state_are_views_of_flat_buffers(device):
    params = [dc.tensor(np.full(s, 1.0, np.float32), device=device, requires_grad=True) for s in SHAPES]
    opt = optim.Adam(params, lr=0.1, amsgrad=True)
    for p in params:
        p.grad = dc.ones(p.shape, device=device)
    opt.step()
    (b,) = opt._flats[id(opt.param_groups[0])].buckets
    assert b.param.shape == (sum(int(np.prod(s)) for s in SHAPES),)
    for k, p in enumerate(params):
        assert p.data is b.data_views[k] and p.shape == SHAPES[k] and p.data.flags.c_contiguous
        for name in ("exp_avg", "exp_avg_sq", "max_exp_avg_sq"):
            assert opt.state[p][name] is b.views[name][k]
        if device == "cuda":  # gradients too (on the CPU they stay where backward put them)
            assert p.grad.data is b.grad_views[k]
    if device == "cpu":
        assert b.grad is None and all(np.shares_memory(p.data, b.param) for p in params if p.data.size)


def test_one_bucket_per_dtype_and_device(device):
    a = dc.tensor([1.0, 2.0], dtype=dc.float32, device=device, requires_grad=True)
    b = dc.tensor([3.0], dtype=dc.float64, device=device, requires_grad=True)
    c = dc.tensor([4.0, 5.0, 6.0], dtype=dc.float32, device=device, requires_grad=True)
    opt = optim.SGD([a, b, c], lr=0.5)
    for p in (a, b, c):
        p.grad = dc.ones(p.shape, dtype=p.dtype, device=device)
    opt.step()
    buckets = opt._flats[id(opt.param_groups[0])].buckets
    assert [(bk.dtype, len(bk.params)) for bk in buckets] == [(np.float32, 2), (np.float64, 1)]
    assert a.tolist() == [0.5, 1.5] and b.tolist() == [2.5] and c.tolist() == [3.5, 4.5, 5.5]
    assert a.dtype == np.float32 and b.dtype == np.float64


def test_float16_parameters_use_the_generic_update_on_their_flat_buffer(device):
    p = dc.tensor([1.0, 2.0], dtype=dc.float16, device=device, requires_grad=True)
    opt = optim.SGD([p], lr=0.5, momentum=0.9)
    for _ in range(2):
        p.grad = dc.tensor([1.0, 1.0], dtype=dc.float16, device=device)
        opt.step()
    np.testing.assert_allclose(p.numpy(), [1.0 - 0.5 - 0.5 * 1.9, 2.0 - 0.5 - 0.5 * 1.9], rtol=1e-3)
    assert p.dtype == np.float16


# --- autograd writes into the flat gradient buffer; zero_grad semantics ----------------------------------
def test_backward_writes_into_the_flat_gradient_view(device):
    p = dc.tensor([1.0, -2.0, 3.0], dtype=dc.float64, device=device, requires_grad=True)
    opt = optim.SGD([p], lr=0.1)
    (p * p).sum().backward()
    opt.step()                                     # builds the flat buffers
    np.testing.assert_allclose(p.numpy(), [0.8, -1.6, 2.4])
    bucket = opt._flats[id(opt.param_groups[0])].buckets[0]
    if device == "cpu":                            # the CPU keeps backward's gradient arrays: no copies
        assert bucket.grad is None and p.grad.data is not None
        view = None
    else:                                          # the GPU copied the gradient into the flat buffer
        view = bucket.grad_views[0]
        assert p.grad.data is view
    same = (lambda g: g is view) if view is not None else (lambda g: True)
    opt.zero_grad()                                # set_to_none=True (default): like torch, .grad is None
    assert p.grad is None
    (p * 3).sum().backward()                       # copied into the view
    assert same(p.grad.data) and p.grad.tolist() == [3.0, 3.0, 3.0]
    first = p.grad.data
    (p * 2).sum().backward()                       # accumulated (in place into the view)
    assert same(p.grad.data) and p.grad.tolist() == [5.0, 5.0, 5.0]
    if view is not None:
        assert p.grad.data is first
    kept = p.grad.data
    opt.zero_grad(set_to_none=False)               # zeroed in place (one memset on the GPU)
    assert p.grad.data is kept and p.grad.tolist() == [0.0, 0.0, 0.0]
    p.sum().backward()
    assert same(p.grad.data) and p.grad.tolist() == [1.0, 1.0, 1.0]
    grads = dc.autograd.grad((p * 4).sum(), p)     # autograd.grad never touches .grad
    assert grads[0].tolist() == [4.0, 4.0, 4.0] and p.grad.tolist() == [1.0, 1.0, 1.0]
    with dc.no_grad():
        p.data = dc.tensor([1.0, 1.0, 1.0], dtype=dc.float64, device=device).data  # retires the slot
    opt.zero_grad()
    (p * 7).sum().backward()
    assert (p.grad.data is not view) and p.grad.tolist() == [7.0, 7.0, 7.0]
    opt.step()                                     # p.data is copied back into its view
    assert p.data is bucket.data_views[0] and opt._flats[id(opt.param_groups[0])].buckets[0] is bucket
    np.testing.assert_allclose(p.numpy(), [0.3, 0.3, 0.3])
    assert same(p.grad.data)


def test_layers_write_parameter_gradients_straight_into_the_flat_buffer(device):
    """Linear and Conv2d backward write weight and bias gradients into the optimizer's slots (no copy
    launches on the GPU); a parameter used twice still gets the sum of both uses."""
    model = dc.nn.Sequential(dc.nn.Conv2d(2, 3, 3, padding=1), dc.nn.ReLU(), dc.nn.Flatten(),
                             dc.nn.Linear(3 * 4 * 4, 5), dc.nn.ReLU(), dc.nn.Linear(5, 5)).to(device)
    tied = model[5]
    x = dc.randn(4, 2, 4, 4, device=device)
    params = list(model.parameters())

    def loss_fn():
        h = model(x)
        return (tied(h) * h).sum()            # model[5] used twice: its gradients add up

    opt = optim.Adam(params, lr=1e-3)
    loss_fn().backward()
    opt.step()                                # builds the flat buffers and the slots
    opt.zero_grad()
    expect = [g.numpy() for g in dc.autograd.grad(loss_fn(), params)]   # never touches slots
    counting = getattr(sys.modules.get("cupy_emulation"), "counting", None)
    if (device == "cuda" and counting is not None and fastpath.enabled()
            and dc.backend.cupy_module() is sys.modules.get("cupy")):
        loss = loss_fn()
        with counting() as counts:
            loss.backward()
        # only the tied layer's two contributions are summed and copied into its slots (weight, bias)
        assert counts.by_name.get("setitem", 0) == 2, counts.by_name
    else:
        loss_fn().backward()
    views = [v for b in opt._flats[id(opt.param_groups[0])].buckets for v in (b.grad_views or []) if v is not None]
    for p, e, name in zip(params, expect, [n for n, _ in model.named_parameters()]):
        np.testing.assert_allclose(p.grad.numpy(), e, rtol=1e-5, atol=1e-6, err_msg=name)
        if views:
            assert any(p.grad.data is v for v in views), name


@pytest.mark.parametrize("mode", ["LSTM", "GRU"])
def test_recurrent_layers_write_weight_gradients_into_the_flat_buffer(mode, device):
    """The recurrent backward writes W_ih, W_hh and both biases into the optimizer's slots (equal gradients,
    no copies); GRU's b_hh differs from b_ih, LSTM's is the same sum."""
    rnn = getattr(dc.nn, mode)(3, 4, batch_first=True).to(device)
    x = dc.randn(2, 5, 3, device=device)
    params = list(rnn.parameters())

    def loss_fn():
        out, _ = rnn(x)
        return (out * out).sum()

    opt = optim.Adam(params, lr=1e-3)
    loss_fn().backward()
    opt.step()
    opt.zero_grad()
    expect = [g.numpy() for g in dc.autograd.grad(loss_fn(), params)]
    loss_fn().backward()
    views = [v for b in opt._flats[id(opt.param_groups[0])].buckets for v in (b.grad_views or []) if v is not None]
    for p, e, (name, _) in zip(params, expect, rnn.named_parameters()):
        np.testing.assert_allclose(p.grad.numpy(), e, rtol=1e-5, atol=1e-6, err_msg=name)
        if views:
            assert any(p.grad.data is v for v in views), name


def test_zero_grad_keeps_none_and_user_gradients(device):
    a = dc.tensor([1.0, 2.0], device=device, requires_grad=True)
    b = dc.tensor([3.0], device=device, requires_grad=True)
    opt = optim.Adam([a, b])
    a.grad = dc.tensor([1.0, 1.0], device=device)
    opt.step()
    assert b.grad is None and b not in opt.state
    mine = dc.tensor([2.0, 2.0], device=device)
    a.grad = mine
    opt.zero_grad(set_to_none=False)               # a hand-set gradient is zeroed in place; None stays None
    assert a.grad is mine and mine.tolist() == [0.0, 0.0] and b.grad is None


def test_user_assigned_gradient_of_another_dtype(device):
    p = dc.tensor([1.0, 2.0], dtype=dc.float32, device=device, requires_grad=True)
    opt = optim.SGD([p], lr=1.0)
    p.grad = dc.tensor([0.5, 0.25], dtype=dc.float64, device=device)
    opt.step()
    assert p.tolist() == [0.5, 1.75] and p.dtype == np.float32
    # on the GPU the gradient now lives in the flat (float32) buffer; the CPU leaves the user's tensor
    assert p.grad.dtype == (np.float32 if device == "cuda" else np.float64)


# --- rebuilds ---------------------------------------------------------------------------------------------
def test_replaced_data_of_same_layout_is_copied_into_its_view(device):
    torch = pytest.importorskip("torch")
    inits, grads = _problem(5)
    params = [dc.tensor(x, device=device, requires_grad=True) for x in inits]
    tparams = [torch.tensor(x, requires_grad=True) for x in inits]
    opt, topt = optim.Adam(params, lr=0.05), torch.optim.Adam(tparams, lr=0.05)
    for t in range(STEPS):
        if t == 2:  # user assignment and load_state_dict-like replacement of one parameter's data
            new = np.linspace(-1, 1, 12).reshape(3, 4)
            params[0].data = dc.tensor(new, device=device).data
            tparams[0].data = torch.tensor(new)
        for p, tp, g in zip(params, tparams, grads[t]):
            p.grad = dc.tensor(g, device=device)
            tp.grad = torch.tensor(g)
        opt.step()
        topt.step()
        for p, tp in zip(params, tparams):
            np.testing.assert_allclose(p.numpy(), tp.detach().numpy(), rtol=1e-10, atol=1e-12)
    b = opt._flats[id(opt.param_groups[0])].buckets[0]
    assert all(p.data is v for p, v in zip(params, b.data_views))


def test_module_to_another_dtype_rebuilds_and_carries_the_state(device):
    model = dc.nn.Linear(4, 3).to(device)
    opt = optim.Adam(model.parameters(), lr=0.01)
    x = dc.randn(5, 4, device=device)
    model(x).sum().backward()
    opt.step()
    before = {k: v.copy() for k, v in opt.state[model.weight].items() if k != "step"}
    old_buffer = opt._flats[id(opt.param_groups[0])].buckets[0].param
    model.to(dc.float64)
    opt.zero_grad()
    model(x.to(dc.float64)).sum().backward()
    g = model.weight.grad.numpy().copy()
    opt.step()
    (b,) = opt._flats[id(opt.param_groups[0])].buckets
    assert b.dtype == np.float64 and b.param is not old_buffer
    assert model.weight.data is b.data_views[0] and model.weight.dtype == np.float64
    s = opt.state[model.weight]
    assert s["step"] == 2 and s["exp_avg"].dtype == np.float64
    expect = 0.9 * dc.tensor(before["exp_avg"]).numpy().astype(np.float64) + 0.1 * g
    np.testing.assert_allclose(dc.tensor(s["exp_avg"]).numpy(), expect, rtol=1e-6)


def test_parameters_added_to_a_group_rebuild_its_buffers(device):
    torch = pytest.importorskip("torch")
    inits, grads = _problem(6)
    params = [dc.tensor(x, device=device, requires_grad=True) for x in inits]
    tparams = [torch.tensor(x, requires_grad=True) for x in inits]
    opt = optim.RMSprop(params[:2], lr=0.01, momentum=0.9, centered=True)
    topt = torch.optim.RMSprop(tparams[:2], lr=0.01, momentum=0.9, centered=True)
    for t in range(STEPS):
        if t == 2:
            opt.param_groups[0]["params"].append(params[2])
            topt.param_groups[0]["params"].append(tparams[2])
            opt.add_param_group({"params": params[3:], "lr": 0.02})
            topt.add_param_group({"params": tparams[3:], "lr": 0.02})
        n = 2 if t < 2 else len(params)
        for p, tp, g in zip(params[:n], tparams[:n], grads[t][:n]):
            p.grad = dc.tensor(g, device=device)
            tp.grad = torch.tensor(g)
        opt.step()
        topt.step()
        for i, (p, tp) in enumerate(zip(params, tparams)):
            np.testing.assert_allclose(p.numpy(), tp.detach().numpy(), rtol=1e-10, atol=1e-12, err_msg=f"{i} {t}")
    assert len(opt._flats) == 2


def test_load_state_dict_into_existing_buffers_continues_identically(device):
    inits, grads = _problem(7)
    def make():
        return [dc.tensor(x, device=device, requires_grad=True) for x in inits]

    def steps(opt, params, gs):
        for g_t in gs:
            for p, g in zip(params, g_t):
                p.grad = dc.tensor(g, device=device)
            opt.step()

    a_params = make()
    a = optim.Adagrad(a_params, lr=0.1, lr_decay=0.1, initial_accumulator_value=0.3)
    steps(a, a_params, grads[:3])
    sd = a.state_dict()
    assert sd["state"][0]["step"] == 3
    b_params = make()
    b = optim.Adagrad(b_params, lr=0.5)
    steps(b, b_params, grads[3:] + grads[3:])    # its flat buffers exist and hold other values
    views = [p.data for p in b_params]
    b.load_state_dict(sd)
    for p, q in zip(b_params, a_params):
        p.data[...] = q.data
    steps(a, a_params, grads[3:])
    steps(b, b_params, grads[3:])
    for p, q in zip(b_params, a_params):
        np.testing.assert_array_equal(p.numpy(), q.numpy())
    assert all(p.data is v for p, v in zip(b_params, views))  # loaded in place: no rebuild
    assert b.state_dict()["state"][0]["step"] == a.state_dict()["state"][0]["step"] == 5


# --- the GPU budget: one launch per step and dtype, no sync, no copy ------------------------------------
def _emulated_or_skip(device):
    emu = _emulation()
    if device != "cuda" or emu is None:
        pytest.skip("launch counters exist only on the emulated CUDA device (--emulate-cuda)")
    return emu


@pytest.mark.parametrize("name,kwargs", OPTIONS, ids=IDS)
def test_cuda_step_is_one_launch_per_dtype_without_sync_or_copy(name, kwargs, device):
    emu = _emulated_or_skip(device)
    if not fastpath.enabled():
        pytest.skip("fast paths are switched off (--no-fast-paths)")
    params = [dc.randn(*s, device=device, requires_grad=True) for s in [(4, 3), (3,)]]
    params += [dc.randn(2, 2, dtype=dc.float64, device=device, requires_grad=True)]
    opt = getattr(optim, name)(params, **kwargs)

    def backward():
        sum(((p * p).sum().astype(dc.float32) for p in params), dc.zeros((), device=device)).backward()

    backward()
    opt.step()                                     # warm-up: builds the flat buffers
    for _ in range(2):
        with emu.counting() as zero:
            opt.zero_grad()
        assert zero.launches == 0 and all(p.grad is None for p in params)
        backward()
        with emu.counting() as c:
            opt.step()
        kernel = OPTIONS_KERNEL[name]
        assert (c.launches, c.syncs, c.copies) == (2, 0, 0), str(c)
        assert c.by_name[f"{kernel}_f32"] == 1 and c.by_name[f"{kernel}_f64"] == 1
    opt.param_groups[0]["lr"] *= 0.5               # a scheduler's change: one fill per bucket, no copy
    with emu.counting() as c:
        opt.step()
    assert (c.launches, c.syncs, c.copies) == (4, 0, 0) and c.by_name["fill"] == 2, str(c)
    with emu.counting() as c:
        opt.zero_grad(set_to_none=False)
    assert (c.launches, c.syncs, c.copies) == (2, 0, 0)
    assert all(p.grad is not None and not p.grad.numpy().any() for p in params)


def test_cuda_kernels_are_right_with_any_grid_and_block(device, monkeypatch):
    _emulated_or_skip(device)
    if not fastpath.enabled():
        pytest.skip("fast paths are switched off (--no-fast-paths)")
    from cupy_emulation import _raw
    expect = {}
    for name, kwargs in OPTIONS:
        expect[name, str(kwargs)] = _trajectory(name, kwargs, device, np.float64, fast=False)[0][-1]
    for block, blocks in [(256, 1), (37, 2), (64, 3), (1, 5)]:
        monkeypatch.setattr(_flat, "BLOCK", block)
        with _raw.shrunk_grid(blocks):
            for name, kwargs in OPTIONS:
                got = _trajectory(name, kwargs, device, np.float64, fast=True)[0][-1]
                for i in range(len(SHAPES)):
                    np.testing.assert_allclose(got[i], expect[name, str(kwargs)][i], **FUSED_TOL[np.float64],
                                               err_msg=f"{name} {kwargs} block {block} x {blocks}: param {i}")


def test_captured_step_replays_exactly_with_device_steps_and_lrs(device):
    _emulated_or_skip(device)
    if not fastpath.enabled():
        pytest.skip("fast paths are switched off (--no-fast-paths): the generic update reads host values")
    cp = dc.backend.cupy_module()
    inits, grads = _problem(8)
    runs = {}
    for mode in ("eager", "graph"):
        params = [dc.tensor(x.astype(np.float32), device=device, requires_grad=True) for x in inits]
        opt = optim.Adam(params, lr=0.1, weight_decay=0.01)
        sched = optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
        for p, g in zip(params, grads[0]):
            p.grad = dc.tensor(g.astype(np.float32), device=device)
        opt.step()                                 # warm-up: flat buffers, gradients adopted as views
        opt.param_groups[0]["lr"] = 0.05           # changed right before the capture: not recorded
        if mode == "eager":
            for _ in range(4):
                opt.step()
                sched.step()
        else:
            stream = cp.cuda.Stream(non_blocking=True)
            with stream:
                stream.begin_capture()
                opt.step()
                graph = stream.end_capture()
            push_learning_rates()                  # what dc.cuda.graphed does before a replay
            for _ in range(4):
                graph.launch()
                sched.step()                       # writes the device lr at once
        dc.cuda.synchronize()
        runs[mode] = ([p.numpy().copy() for p in params], opt.state_dict())
    (p_eager, sd_eager), (p_graph, sd_graph) = runs["eager"], runs["graph"]
    for a, b in zip(p_eager, p_graph):
        np.testing.assert_array_equal(a, b)
    for i, s in sd_eager["state"].items():
        assert sd_graph["state"][i]["step"] == s["step"] == 5
        for k in ("exp_avg", "exp_avg_sq"):
            np.testing.assert_array_equal(s[k].get(), sd_graph["state"][i][k].get())


# --- kernels/optim.cu on the emulated runtime, in every run (no --emulate-cuda needed) --------------------
class _DeviceArray:
    """What the emulated RawKernel takes for a device array: an object named ndarray holding ``_a``."""

    def __init__(self, a):
        self._a = a


_DeviceArray.__name__ = "ndarray"


class _KernelBucket:
    """The attributes of a _flat.Bucket the CUDA launchers read, over emulated-runtime device arrays."""

    def __init__(self, arrays, seg_end, active, steps, lr):
        self.dtype = arrays["param"].dtype
        self.n, self.nseg = arrays["param"].size, len(seg_end)
        self.device = dc.backend.CPU  # no device context to enter: the runtime is the emulated one
        self.param, self.grad = _DeviceArray(arrays["param"]), _DeviceArray(arrays["grad"])
        self.buffers = {k: _DeviceArray(v) for k, v in arrays.items() if k not in ("param", "grad")}
        self.seg_end = _DeviceArray(np.asarray(seg_end, np.int64))
        self.active = _DeviceArray(np.asarray(active, np.int32))
        self.steps = _DeviceArray(np.asarray(steps, np.int64))
        self.done = _DeviceArray(np.zeros(1, np.uint32))
        self.lr = _DeviceArray(np.array([lr], np.float64))


KERNEL_SIZES = [12, 5, 1, 0, 7, 40]
KERNEL_ACTIVE = [1, 0, 1, 1, 1, 1]
KERNEL_STEPS = [3, 2, 0, 1, 0, 9]   # SGD: 0 = the momentum buffer is not initialised yet
KERNEL_GRIDS = [(256, None), (256, 1), (64, 3), (37, None), (33, 2), (1, 4)]


def _kernel_problem(name, kwargs, dtype, seed=0):
    rng = np.random.default_rng(seed)
    n = sum(KERNEL_SIZES)
    holder = dc.tensor([0.0], requires_grad=True)
    opt = getattr(optim, name)([holder], **kwargs)       # the generic _update and the group's settings
    group = opt.param_groups[0]
    arrays = {"param": rng.standard_normal(n), "grad": rng.standard_normal(n)}
    for key, _ in opt._state_keys(group):
        arrays[key] = rng.standard_normal(n) if key in ("exp_avg", "momentum_buffer", "grad_avg") else \
            rng.random(n) + 0.5
    if "grad_avg" in arrays:
        arrays["square_avg"] += arrays["grad_avg"] ** 2     # centered RMSprop: square_avg >= grad_avg^2
    if "max_exp_avg_sq" in arrays:
        arrays["max_exp_avg_sq"] = arrays["exp_avg_sq"] + rng.random(n) - 0.5
    return opt, group, {k: v.astype(dtype) for k, v in arrays.items()}


@pytest.mark.parametrize("grid", KERNEL_GRIDS, ids=[f"block{b}-cap{c}" for b, c in KERNEL_GRIDS])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("name,kwargs", OPTIONS, ids=IDS)
def test_cuda_kernel_matches_generic_update(name, kwargs, dtype, grid, monkeypatch):
    from cupy_emulation import _raw  # tests/emulated_cuda is on sys.path (conftest.py)
    if _raw.shutil.which("g++") is None:
        pytest.skip("g++ not on PATH: the emulated CUDA runtime cannot compile kernels/optim.cu")
    from deepcore.backend import kernel_dir
    module = _raw.RawModule(code=(kernel_dir() / "optim.cu").read_text(), options=("-std=c++17",))
    monkeypatch.setattr(_flat, "get_kernel", lambda filename, kname, dev: module.get_function(kname))
    block, cap = grid
    monkeypatch.setattr(_flat, "BLOCK", block)
    opt, group, arrays = _kernel_problem(name, kwargs, dtype)
    bounds = np.cumsum([0] + KERNEL_SIZES)
    # the reference: the generic per-parameter update of every active parameter, on copies
    ref = {k: v.copy() for k, v in arrays.items()}
    count = opt._count(group)
    for j, (lo, hi) in enumerate(itertools.pairwise(bounds)):
        if KERNEL_ACTIVE[j]:
            state = {k: ref[k][lo:hi] for k, _ in opt._state_keys(group)}
            opt._update(ref["param"][lo:hi], ref["grad"][lo:hi], state, group, KERNEL_STEPS[j] + 1, group["lr"])
    bucket = _KernelBucket(arrays, bounds[1:], KERNEL_ACTIVE, KERNEL_STEPS, group["lr"])
    (launcher,) = fastpath.registered()[(opt._op, "cuda")]
    for _ in range(2):  # the second launch shows the finished-blocks counter was reset
        if cap is None:
            launcher(opt, bucket, group, None)
        else:
            with _raw.shrunk_grid(cap):
                launcher(opt, bucket, group, None)
        if _ == 0:
            got = {k: v.copy() for k, v in arrays.items()}
            np.testing.assert_array_equal(bucket.done._a, [0])
            np.testing.assert_array_equal(bucket.steps._a, np.add(KERNEL_STEPS, np.multiply(KERNEL_ACTIVE, count)))
    np.testing.assert_array_equal(bucket.steps._a, np.add(KERNEL_STEPS, np.multiply(KERNEL_ACTIVE, 2 * count)))
    tol = dict(rtol=2e-6, atol=2e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-13)
    for key in arrays:
        np.testing.assert_allclose(got[key], ref[key], **tol, err_msg=key)
