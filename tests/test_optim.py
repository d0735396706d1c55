"""dc.optim: every optimizer and option against a NumPy re-implementation of the published rule, and torch.optim."""
import copy

import numpy as np
import pytest

import deepcore as dc
from deepcore import optim

SHAPES = [(3, 4), (5,), ()]
STEPS = 6
SCALES = [1.0, 3.0, 0.1, 0.1, 2.0, 0.05]  # shrinking then growing gradients, so AMSGrad's max matters
TOL = {np.float64: dict(rtol=1e-10, atol=1e-12), np.float32: dict(rtol=2e-5, atol=2e-6)}


# --- closed-form NumPy references (float64, one parameter, list of values after each step) -------------
def ref_sgd(p, grads, lr, momentum=0, dampening=0, weight_decay=0, nesterov=False):
    out, buf = [], None
    for g in grads:
        d = g + weight_decay * p
        if momentum:
            buf = d.copy() if buf is None else momentum * buf + (1 - dampening) * d
            d = d + momentum * buf if nesterov else buf
        p = p - lr * d
        out.append(p)
    return out


def _ref_adam(p, grads, lr, betas, eps, weight_decay, amsgrad, decoupled):
    b1, b2 = betas
    m = v = vmax = np.zeros_like(p)
    out = []
    for t, g in enumerate(grads, 1):
        if decoupled:
            p = p * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * p
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        vmax = np.maximum(vmax, v)
        m_hat = m / (1 - b1 ** t)
        v_hat = (vmax if amsgrad else v) / (1 - b2 ** t)
        p = p - lr * m_hat / (np.sqrt(v_hat) + eps)
        out.append(p)
    return out


def ref_adam(p, grads, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False):
    return _ref_adam(p, grads, lr, betas, eps, weight_decay, amsgrad, decoupled=False)


def ref_adamw(p, grads, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False):
    return _ref_adam(p, grads, lr, betas, eps, weight_decay, amsgrad, decoupled=True)


def ref_adagrad(p, grads, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10):
    s = np.full_like(p, initial_accumulator_value)
    out = []
    for t, g in enumerate(grads, 1):
        g = g + weight_decay * p
        s = s + g * g
        p = p - lr / (1 + (t - 1) * lr_decay) * g / (np.sqrt(s) + eps)
        out.append(p)
    return out


def ref_rmsprop(p, grads, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False):
    v = mean_g = buf = np.zeros_like(p)
    out = []
    for g in grads:
        g = g + weight_decay * p
        v = alpha * v + (1 - alpha) * g * g
        mean_g = alpha * mean_g + (1 - alpha) * g
        denom = np.sqrt(v - mean_g ** 2 if centered else v) + eps
        if momentum > 0:
            buf = momentum * buf + g / denom
            p = p - lr * buf
        else:
            p = p - lr * g / denom
        out.append(p)
    return out


def ref_adadelta(p, grads, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0):
    v = u = np.zeros_like(p)
    out = []
    for g in grads:
        g = g + weight_decay * p
        v = rho * v + (1 - rho) * g * g
        delta = np.sqrt(u + eps) / np.sqrt(v + eps) * g
        u = rho * u + (1 - rho) * delta * delta
        p = p - lr * delta
        out.append(p)
    return out


CASES = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.3)),
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True)),
    ("SGD", dict(lr=0.1, momentum=0.5, weight_decay=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.9, weight_decay=0.2, nesterov=True)),
    ("SGD", dict(lr=0.1, weight_decay=0.3)),
    ("Adam", dict()),
    ("Adam", dict(lr=0.01, betas=(0.8, 0.95))),
    ("Adam", dict(lr=0.01, weight_decay=0.1)),
    ("Adam", dict(lr=0.01, amsgrad=True)),
    ("Adam", dict(lr=0.01, amsgrad=True, weight_decay=0.05, eps=1e-6)),
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.01, weight_decay=0.1, amsgrad=True)),
    ("AdamW", dict(lr=0.01, weight_decay=0, betas=(0.5, 0.9))),
    ("Adagrad", dict()),
    ("Adagrad", dict(lr=0.1, lr_decay=0.05)),
    ("Adagrad", dict(lr=0.1, weight_decay=0.1)),
    ("Adagrad", dict(lr=0.1, initial_accumulator_value=0.5)),
    ("Adagrad", dict(lr=0.1, eps=1e-3, lr_decay=0.1, weight_decay=0.05, initial_accumulator_value=0.2)),
    ("RMSprop", dict()),
    ("RMSprop", dict(momentum=0.9)),
    ("RMSprop", dict(centered=True)),
    ("RMSprop", dict(centered=True, momentum=0.5, weight_decay=0.1)),
    ("RMSprop", dict(alpha=0.9, eps=1e-4, weight_decay=0.05)),
    ("Adadelta", dict()),
    ("Adadelta", dict(lr=0.5, rho=0.8)),
    ("Adadelta", dict(weight_decay=0.1)),
    ("Adadelta", dict(eps=1e-3, rho=0.95)),
]
REFS = {"SGD": ref_sgd, "Adam": ref_adam, "AdamW": ref_adamw, "Adagrad": ref_adagrad, "RMSprop": ref_rmsprop,
        "Adadelta": ref_adadelta}
IDS = [f"{name}-{'-'.join(f'{k}={v}' for k, v in kw.items()) or 'defaults'}" for name, kw in CASES]


def make_problem(seed=0):
    """Initial values and a fixed gradient sequence for each shape in SHAPES (float64)."""
    rng = np.random.default_rng(seed)
    inits = [rng.standard_normal(s) for s in SHAPES]
    grads = [[rng.standard_normal(s) * SCALES[t] for s in SHAPES] for t in range(STEPS)]
    return inits, grads


def make_params(inits, device="cpu", dtype=np.float64):
    return [dc.tensor(np.asarray(x, dtype=dtype), device=device, requires_grad=True) for x in inits]


def set_grads(params, grads, dtype):
    for p, g in zip(params, grads):
        p.grad = dc.tensor(np.asarray(g, dtype=dtype), device=p.device)


def run(opt, params, grads, dtype, steps=None):
    """Step ``opt`` through ``grads``; the parameter values (host copies) after each step."""
    history = []
    for step_grads in grads[:steps]:
        set_grads(params, step_grads, dtype)
        opt.step()
        history.append([p.numpy().copy() for p in params])
    return history


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,kwargs", CASES, ids=IDS)
def test_matches_closed_form(name, kwargs, dtype, device):
    inits, grads = make_problem()
    params = make_params(inits, device, dtype)
    opt = getattr(optim, name)(params, **kwargs)
    history = run(opt, params, grads, dtype)
    for i, x0 in enumerate(inits):
        # the reference sees the same (rounded) inputs as the optimizer
        expect = REFS[name](x0.astype(dtype).astype(np.float64),
                            [np.asarray(g[i], dtype=dtype).astype(np.float64) for g in grads], **kwargs)
        for t in range(STEPS):
            np.testing.assert_allclose(history[t][i], expect[t], **TOL[dtype], err_msg=f"param {i}, step {t + 1}")
    for p in params:
        assert p.dtype == dtype and p.device == dc.device(device)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,kwargs", CASES, ids=IDS)
def test_matches_torch(name, kwargs, dtype):
    torch = pytest.importorskip("torch")
    inits, grads = make_problem(1)
    params = make_params(inits, "cpu", dtype)
    history = run(getattr(optim, name)(params, **kwargs), params, grads, dtype)
    tdtype = torch.float32 if dtype == np.float32 else torch.float64
    tparams = [torch.tensor(np.asarray(x, dtype=dtype), dtype=tdtype, requires_grad=True) for x in inits]
    topt = getattr(torch.optim, name)(tparams, **kwargs)
    for t in range(STEPS):
        for tp, g in zip(tparams, grads[t]):
            tp.grad = torch.tensor(np.asarray(g, dtype=dtype), dtype=tdtype)
        topt.step()
        for i, tp in enumerate(tparams):
            np.testing.assert_allclose(history[t][i], tp.detach().numpy(), **TOL[dtype],
                                       err_msg=f"param {i}, step {t + 1}")


def test_param_groups_with_different_hyperparameters(device):
    inits, grads = make_problem()
    params = make_params(inits, device)
    opt = optim.SGD([{"params": params[:2], "lr": 0.5, "momentum": 0.9},
                     {"params": params[2:], "nesterov": True}], lr=0.1, momentum=0.5)
    assert [g["lr"] for g in opt.param_groups] == [0.5, 0.1]
    assert [g["momentum"] for g in opt.param_groups] == [0.9, 0.5]
    history = run(opt, params, grads, np.float64)
    settings = [dict(lr=0.5, momentum=0.9), dict(lr=0.5, momentum=0.9), dict(lr=0.1, momentum=0.5, nesterov=True)]
    for i, kw in enumerate(settings):
        expect = ref_sgd(inits[i], [g[i] for g in grads], **kw)
        np.testing.assert_allclose(history[-1][i], expect[-1], **TOL[np.float64])


def test_param_groups_match_torch():
    torch = pytest.importorskip("torch")
    inits, grads = make_problem(2)
    params = make_params(inits)
    opt = optim.Adam([{"params": params[:1], "lr": 0.05, "amsgrad": True}, {"params": params[1:]}], lr=0.01)
    history = run(opt, params, grads, np.float64)
    tparams = [torch.tensor(x, requires_grad=True) for x in inits]
    topt = torch.optim.Adam([{"params": tparams[:1], "lr": 0.05, "amsgrad": True}, {"params": tparams[1:]}], lr=0.01)
    for step_grads in grads:
        for tp, g in zip(tparams, step_grads):
            tp.grad = torch.tensor(g)
        topt.step()
    for i, tp in enumerate(tparams):
        np.testing.assert_allclose(history[-1][i], tp.detach().numpy(), **TOL[np.float64])


def test_add_param_group_uses_defaults():
    inits, grads = make_problem()
    params = make_params(inits)
    opt = optim.RMSprop(params[:1], lr=0.05, momentum=0.9)
    opt.add_param_group({"params": params[1:], "alpha": 0.8})
    assert opt.param_groups[1]["lr"] == 0.05 and opt.param_groups[1]["alpha"] == 0.8
    history = run(opt, params, grads, np.float64)
    expect = ref_rmsprop(inits[2], [g[2] for g in grads], lr=0.05, momentum=0.9, alpha=0.8)
    np.testing.assert_allclose(history[-1][2], expect[-1], **TOL[np.float64])
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [params[0]]})


def test_lr_change_between_steps_takes_effect():
    p = dc.tensor([1.0, 2.0], dtype=dc.float64, requires_grad=True)
    opt = optim.SGD([p], lr=0.1)
    p.grad = dc.tensor([1.0, 1.0], dtype=dc.float64)
    opt.step()
    opt.param_groups[0]["lr"] = 0.5
    opt.step()
    np.testing.assert_allclose(p.numpy(), [1.0 - 0.6, 2.0 - 0.6])


# --- dtype, in-place, skipping -------------------------------------------------------------------------
ALL_OPTIONS = [("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1)),
               ("Adam", dict(amsgrad=True, weight_decay=0.1)), ("AdamW", dict(amsgrad=True)),
               ("Adagrad", dict(lr_decay=0.1, weight_decay=0.1, initial_accumulator_value=0.1)),
               ("RMSprop", dict(momentum=0.9, centered=True, weight_decay=0.1)),
               ("Adadelta", dict(weight_decay=0.1))]


@pytest.mark.parametrize("name,kwargs", ALL_OPTIONS, ids=[c[0] for c in ALL_OPTIONS])
def test_float32_stays_float32_and_updates_in_place(name, kwargs, device):
    inits, grads = make_problem()
    params = make_params(inits, device, np.float32)
    opt = getattr(optim, name)(params, **kwargs)
    set_grads(params, grads[0], np.float32)
    opt.step()  # the first step moves the parameters into the group's flat buffer: .data become views of it
    arrays = [p.data for p in params]
    for step_grads in grads[1:3]:
        set_grads(params, step_grads, np.float32)
        opt.step()
    for p, a in zip(params, arrays):
        assert p.data is a, "the update must write into the existing array"
        assert p.dtype == np.float32
        for key, value in opt.state[p].items():
            if key == "step":
                assert isinstance(value, int) and value == 3
            else:
                assert value.dtype == np.float32 and value.shape == p.shape, key
    # a float64 gradient does not promote a float32 parameter either
    params[0].grad = dc.tensor(np.ones(SHAPES[0]), dtype=dc.float64, device=device)
    opt.step()
    assert params[0].dtype == np.float32 and params[0].data is arrays[0]


@pytest.mark.parametrize("name,kwargs", ALL_OPTIONS, ids=[c[0] for c in ALL_OPTIONS])
def test_params_without_grad_are_skipped(name, kwargs):
    a = dc.tensor([1.0, 2.0], requires_grad=True)
    b = dc.tensor([3.0, 4.0], requires_grad=True)
    opt = getattr(optim, name)([a, b], **kwargs)
    a.grad = dc.tensor([0.5, -0.5])
    opt.step()
    assert b.tolist() == [3.0, 4.0] and b not in opt.state and a in opt.state
    assert a.tolist() != [1.0, 2.0]


def test_step_after_autograd_backward():
    p = dc.tensor([1.0, -2.0, 3.0], dtype=dc.float64, requires_grad=True)
    opt = optim.SGD([p], lr=0.1)
    (p * p).backward(dc.ones_like(p))  # d/dp p^2 = 2p
    opt.step()
    np.testing.assert_allclose(p.numpy(), [0.8, -1.6, 2.4])


def test_zero_grad():
    p = dc.tensor([1.0, 2.0], requires_grad=True)
    opt = optim.SGD([p], lr=0.1)
    p.grad = dc.tensor([3.0, 4.0])
    grad = p.grad
    opt.zero_grad(set_to_none=False)
    assert p.grad is grad and p.grad.tolist() == [0.0, 0.0]
    opt.zero_grad()
    assert p.grad is None
    opt.zero_grad()  # no gradient: nothing to do


def test_step_closure_returns_loss():
    p = dc.tensor([2.0], dtype=dc.float64, requires_grad=True)
    opt = optim.SGD([p], lr=0.25)
    calls = []

    def closure():
        opt.zero_grad()
        loss = p * p
        loss.backward(dc.ones_like(p))
        calls.append(1)
        return loss

    loss = opt.step(closure)
    assert calls == [1] and loss.tolist() == [4.0]
    np.testing.assert_allclose(p.numpy(), [1.0])


def test_step_rejects_grad_of_wrong_shape_before_changing_anything():
    a = dc.tensor([1.0, 2.0], requires_grad=True)
    b = dc.tensor([1.0, 2.0], requires_grad=True)
    opt = optim.Adam([a, b])
    a.grad = dc.tensor([1.0, 1.0])
    b.grad = dc.tensor([1.0, 1.0, 1.0])
    with pytest.raises(RuntimeError, match=r"gradient of shape \(3,\) does not match .* shape \(2,\)"):
        opt.step()
    assert a.tolist() == [1.0, 2.0] and not opt.state


# --- construction errors -------------------------------------------------------------------------------
def _p():
    return dc.tensor([1.0], requires_grad=True)


@pytest.mark.parametrize("make,message", [
    (lambda: optim.SGD([_p()], lr=-0.1), "Invalid learning rate: -0.1"),
    (lambda: optim.SGD([_p()], lr=0.1, momentum=-0.5), "Invalid momentum value: -0.5"),
    (lambda: optim.SGD([_p()], lr=0.1, weight_decay=-1), "Invalid weight_decay value: -1"),
    (lambda: optim.SGD([_p()], lr=0.1, nesterov=True), "Nesterov momentum requires a momentum and zero dampening"),
    (lambda: optim.SGD([_p()], lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), "Nesterov momentum requires"),
    (lambda: optim.SGD([_p()]), "required optimization parameter lr"),
    (lambda: optim.SGD([{"params": [_p()], "lr": -1.0}], lr=0.1), "Invalid learning rate: -1.0"),
    (lambda: optim.Adam([_p()], lr=-1e-3), "Invalid learning rate: -0.001"),
    (lambda: optim.Adam([_p()], betas=(1.0, 0.999)), "Invalid beta parameter at index 0: 1.0"),
    (lambda: optim.Adam([_p()], betas=(0.9, -0.1)), "Invalid beta parameter at index 1: -0.1"),
    (lambda: optim.Adam([_p()], eps=-1e-8), "Invalid epsilon value: -1e-08"),
    (lambda: optim.Adam([_p()], weight_decay=-0.1), "Invalid weight_decay value: -0.1"),
    (lambda: optim.AdamW([_p()], betas=(0.9, 1.5)), "Invalid beta parameter at index 1: 1.5"),
    (lambda: optim.Adagrad([_p()], lr_decay=-1), "Invalid lr_decay value: -1"),
    (lambda: optim.Adagrad([_p()], initial_accumulator_value=-0.5), "Invalid initial_accumulator_value value"),
    (lambda: optim.Adagrad([_p()], eps=-1.0), "Invalid epsilon value: -1.0"),
    (lambda: optim.RMSprop([_p()], alpha=-0.1), "Invalid alpha value: -0.1"),
    (lambda: optim.RMSprop([_p()], momentum=-0.1), "Invalid momentum value: -0.1"),
    (lambda: optim.Adadelta([_p()], rho=1.5), "Invalid rho value: 1.5"),
    (lambda: optim.Adadelta([_p()], lr=float("nan")), "Invalid learning rate: nan"),
    (lambda: optim.SGD([], lr=0.1), "empty parameter list"),
    (lambda: optim.SGD([dc.tensor([1.0], requires_grad=True) * 2], lr=0.1), "non-leaf"),
])
def test_invalid_arguments_raise_value_error(make, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace("+", r"\+")):
        make()


def test_duplicate_and_invalid_params_rejected():
    p = _p()
    with pytest.raises(ValueError, match="appears twice"):
        optim.SGD([p, p], lr=0.1)
    with pytest.raises(ValueError, match="more than one parameter group"):
        optim.SGD([{"params": [p]}, {"params": [p]}], lr=0.1)
    with pytest.raises(TypeError, match="single Tensor"):
        optim.SGD(p, lr=0.1)
    with pytest.raises(TypeError, match="not a set"):
        optim.SGD({p}, lr=0.1)
    with pytest.raises(TypeError, match="only optimize Tensors"):
        optim.SGD([np.ones(2)], lr=0.1)
    with pytest.raises(TypeError):
        optim.SGD([p, {"params": [_p()]}], lr=0.1)
    gen = (q for q in [_p(), _p()])  # a generator (like model.parameters()) is fine
    assert len(optim.SGD(gen, lr=0.1).param_groups[0]["params"]) == 2


# --- state dicts ---------------------------------------------------------------------------------------
def _stringly(sd):
    """What a round trip through a flat file (.npz) may give back: str keys, 0-d arrays, lists for tuples."""
    def conv(v):
        if isinstance(v, dict):
            return {str(k): conv(x) for k, x in v.items()}
        if isinstance(v, list) and v and isinstance(v[0], dict):
            return [conv(x) for x in v]
        if isinstance(v, (list, tuple)):
            return np.asarray(v)
        if isinstance(v, (bool, int, float)):
            return np.asarray(v)
        return v
    return conv(sd)


@pytest.mark.parametrize("via_file", [False, True], ids=["direct", "stringly"])
@pytest.mark.parametrize("name,kwargs", ALL_OPTIONS, ids=[c[0] for c in ALL_OPTIONS])
def test_state_dict_round_trip_continues_identically(name, kwargs, via_file, device):
    inits, grads = make_problem()
    cls = getattr(optim, name)
    params = make_params(inits, device)
    full = run(cls(params, **kwargs), params, grads, np.float64)

    params = make_params(inits, device)
    opt = cls(params, **kwargs)
    run(opt, params, grads, np.float64, steps=3)
    sd = opt.state_dict()
    assert sorted(sd["state"]) == [0, 1, 2] and sd["param_groups"][0]["params"] == [0, 1, 2]
    sd = copy.deepcopy(sd)
    run(opt, params, grads[3:], np.float64, steps=1)  # the saved dict holds copies, not live arrays
    if via_file:
        sd = _stringly(sd)

    resumed = make_params([p.numpy() for p in params], device)
    for p, value in zip(resumed, full[2]):
        p.data[...] = dc.tensor(value, dtype=dc.float64, device=device).data
    fresh = cls(resumed, lr=0.123)  # hyper-parameters come back from the state dict
    fresh.load_state_dict(sd)
    assert {k: v for k, v in fresh.param_groups[0].items() if k != "params"} == \
        {k: v for k, v in opt.param_groups[0].items() if k != "params"}
    rest = run(fresh, resumed, grads[3:], np.float64)
    for t in range(3):
        for i in range(len(SHAPES)):
            np.testing.assert_array_equal(rest[t][i], full[3 + t][i])


def test_load_state_dict_casts_to_param_dtype_and_keeps_step_int():
    inits, grads = make_problem()
    p64 = make_params(inits)
    opt = optim.Adam(p64, amsgrad=True)
    run(opt, p64, grads, np.float64, steps=2)
    p32 = make_params(inits, dtype=np.float32)
    opt32 = optim.Adam(p32)
    opt32.load_state_dict(_stringly(opt.state_dict()))
    state = opt32.state[p32[0]]
    assert state["step"] == 2 and isinstance(state["step"], int)
    assert all(state[k].dtype == np.float32 for k in ("exp_avg", "exp_avg_sq", "max_exp_avg_sq"))
    assert opt32.param_groups[0]["amsgrad"] is True and opt32.param_groups[0]["betas"] == (0.9, 0.999)
    run(opt32, p32, grads[2:], np.float32)
    assert all(p.dtype == np.float32 for p in p32)


def test_load_state_dict_mismatch_raises_and_changes_nothing():
    inits, grads = make_problem()
    src_params = make_params(inits)
    src = optim.Adam(src_params, lr=0.5)
    run(src, src_params, grads, np.float64, steps=2)
    sd = src.state_dict()

    wrong = make_params([np.zeros((4, 3)), np.zeros(5), np.zeros(())])
    dst = optim.Adam(wrong, lr=0.01)
    run(dst, wrong, [[np.ones((4, 3)), np.ones(5), np.ones(())]], np.float64)
    before = copy.deepcopy({i: dst.state[p] for i, p in enumerate(wrong)})
    with pytest.raises(ValueError, match=r"'exp_avg' of parameter 0 has shape \(3, 4\), but the parameter has "
                                         r"shape \(4, 3\)"):
        dst.load_state_dict(sd)
    assert dst.param_groups[0]["lr"] == 0.01
    for i, p in enumerate(wrong):
        assert dst.state[p]["step"] == before[i]["step"] == 1
        np.testing.assert_array_equal(dst.state[p]["exp_avg"], before[i]["exp_avg"])

    two_groups = optim.Adam([{"params": wrong[:1]}, {"params": wrong[1:]}])
    with pytest.raises(ValueError, match="1 parameter group"):
        two_groups.load_state_dict(sd)
    fewer = optim.Adam(make_params(inits[:2]))
    with pytest.raises(ValueError, match="doesn't match the size"):
        fewer.load_state_dict(sd)
    with pytest.raises(ValueError, match="'state' and 'param_groups'"):
        fewer.load_state_dict({"state": {}})
    bad_hyper = copy.deepcopy(sd)
    bad_hyper["param_groups"][0]["lr"] = -1.0
    ok = optim.Adam(make_params(inits), lr=0.01)
    with pytest.raises(ValueError, match="Invalid learning rate: -1.0"):
        ok.load_state_dict(bad_hyper)
    assert ok.param_groups[0]["lr"] == 0.01


def test_state_dict_keys_are_indices_not_ids():
    p, q = _p(), _p()
    opt = optim.SGD([{"params": [p]}, {"params": [q], "lr": 0.2}], lr=0.1, momentum=0.9)
    q.grad = dc.tensor([1.0])
    opt.step()
    sd = opt.state_dict()
    assert list(sd["state"]) == [1] and [g["params"] for g in sd["param_groups"]] == [[0], [1]]
    assert isinstance(sd["state"][1]["momentum_buffer"], np.ndarray)
    assert "SGD (" in repr(opt) and "lr: 0.2" in repr(opt)


# --- the fused numba updates (CPU fast path) equal the generic NumPy updates --------------------------
# (tests/test_optim_flat.py covers every optimizer and option, on the CPU and the emulated GPU)
FUSED = [("Adam", dict(lr=0.01), "adam"), ("Adam", dict(lr=0.01, weight_decay=0.1), "adam"),
         ("AdamW", dict(lr=0.01, weight_decay=0.1, betas=(0.8, 0.99)), "adam"),
         ("SGD", dict(lr=0.1, momentum=0.9), "sgd"),
         ("SGD", dict(lr=0.1, momentum=0.8, dampening=0.3, weight_decay=0.05), "sgd"),
         ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01), "sgd")]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,kwargs,kernel", FUSED, ids=[f"{n}-{i}" for i, (n, _, _) in enumerate(FUSED)])
def test_fused_update_matches_generic_update(name, kwargs, kernel, dtype, monkeypatch):
    from deepcore.backend import fastpath
    from deepcore.optim import _fused_cpu
    if not fastpath.enabled():
        pytest.skip("fast paths are switched off (--no-fast-paths)")
    calls = []
    fused = getattr(_fused_cpu, kernel)
    monkeypatch.setattr(_fused_cpu, kernel, lambda *a, **k: calls.append(1) or fused(*a, **k))
    inits, grads = make_problem()
    histories = {}
    for fast in (True, False):
        params = make_params(inits, "cpu", dtype)
        opt = getattr(optim, name)(params, **kwargs)
        if fast:
            histories[fast] = run(opt, params, grads, dtype)
        else:
            with fastpath.disabled():
                histories[fast] = run(opt, params, grads, dtype)
        histories[fast].append([a for p in params for a in opt.state[p].values() if isinstance(a, np.ndarray)])
    tol = dict(rtol=2e-6, atol=1e-7) if dtype == np.float32 else dict(rtol=1e-13, atol=1e-15)
    for fast_step, generic_step in zip(histories[True], histories[False]):
        assert len(fast_step) == len(generic_step)
        for a, b in zip(fast_step, generic_step):
            assert a.dtype == dtype
            np.testing.assert_allclose(a, b, **tol)
    # the fast run took the fused update at every step: one call for the whole group
    assert len(calls) == len(grads)
