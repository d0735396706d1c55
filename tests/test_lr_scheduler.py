"""dc.optim.lr_scheduler: lr sequences against closed forms and torch.optim.lr_scheduler."""
import math

import numpy as np
import pytest

import deepcore as dc
from deepcore import optim
from deepcore.optim import lr_scheduler

BASE_LRS = [0.1, 0.03]
EPOCHS = 16


def make_optimizer(lrs=BASE_LRS, cls=optim.SGD):
    groups = [{"params": [dc.tensor([1.0], requires_grad=True)], "lr": lr} for lr in lrs]
    return cls(groups, lr=lrs[0])


def sequence(sched, epochs=EPOCHS):
    """``get_last_lr()`` at construction and after each of ``epochs`` steps."""
    lrs = [sched.get_last_lr()]
    for _ in range(epochs):
        sched.optimizer.step()
        sched.step()
        lrs.append(sched.get_last_lr())
    return np.array(lrs)


SCHEDULERS = [
    ("StepLR", dict(step_size=3, gamma=0.5), lambda base, e: base * 0.5 ** (e // 3)),
    ("StepLR", dict(step_size=1), lambda base, e: base * 0.1 ** e),
    ("ExponentialLR", dict(gamma=0.9), lambda base, e: base * 0.9 ** e),
    ("CosineAnnealingLR", dict(T_max=5, eta_min=0.01),
     lambda base, e: 0.01 + (base - 0.01) * (1 + math.cos(math.pi * e / 5)) / 2),
    ("CosineAnnealingLR", dict(T_max=10), lambda base, e: base * (1 + math.cos(math.pi * e / 10)) / 2),
    ("MultiStepLR", dict(milestones=[3, 7, 7, 12], gamma=0.5),
     lambda base, e: base * 0.5 ** sum(m <= e for m in [3, 7, 7, 12])),
    ("MultiStepLR", dict(milestones=(10, 2)), lambda base, e: base * 0.1 ** sum(m <= e for m in (2, 10))),
    ("LambdaLR", dict(lr_lambda=lambda e: 0.95 ** e + 0.01 * e), lambda base, e: base * (0.95 ** e + 0.01 * e)),
]
def _short(v):
    return "fn" if callable(v) else v


IDS = [f"{n}-" + "-".join(f"{k}={_short(v)}" for k, v in kw.items()) for n, kw, _ in SCHEDULERS]


@pytest.mark.parametrize("name,kwargs,closed_form", SCHEDULERS, ids=IDS)
def test_matches_closed_form(name, kwargs, closed_form):
    opt = make_optimizer()
    sched = getattr(lr_scheduler, name)(opt, **kwargs)
    got = sequence(sched)
    expect = np.array([[closed_form(base, e) for base in BASE_LRS] for e in range(EPOCHS + 1)])
    np.testing.assert_allclose(got, expect, rtol=1e-12, atol=1e-15)
    assert sched.last_epoch == EPOCHS
    assert [g["lr"] for g in opt.param_groups] == sched.get_last_lr()
    assert [g["initial_lr"] for g in opt.param_groups] == BASE_LRS == sched.base_lrs


@pytest.mark.parametrize("name,kwargs,closed_form", SCHEDULERS, ids=IDS)
def test_matches_torch(name, kwargs, closed_form):
    torch = pytest.importorskip("torch")
    got = sequence(getattr(lr_scheduler, name)(make_optimizer(), **kwargs))
    topt = torch.optim.SGD([{"params": [torch.zeros(1, requires_grad=True)], "lr": lr} for lr in BASE_LRS])
    tsched = getattr(torch.optim.lr_scheduler, name)(topt, **kwargs)
    expect = [tsched.get_last_lr()]
    for _ in range(EPOCHS):
        topt.step()
        tsched.step()
        expect.append(tsched.get_last_lr())
    np.testing.assert_allclose(got, np.array(expect), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name,kwargs,closed_form", SCHEDULERS, ids=IDS)
def test_step_with_epoch_uses_closed_form(name, kwargs, closed_form):
    sched = getattr(lr_scheduler, name)(make_optimizer(), **kwargs)
    sched.step(7)
    assert sched.last_epoch == 7
    np.testing.assert_allclose(sched.get_last_lr(), [closed_form(b, 7) for b in BASE_LRS], rtol=1e-12)


def test_optimizer_uses_scheduled_lr():
    p = dc.tensor([0.0], dtype=dc.float64, requires_grad=True)
    opt = optim.SGD([p], lr=1.0)
    sched = lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    for _ in range(4):  # lrs 1, 1, 0.5, 0.5
        p.grad = dc.tensor([1.0], dtype=dc.float64)
        opt.step()
        sched.step()
    np.testing.assert_allclose(p.numpy(), [-3.0])


@pytest.mark.parametrize("name,kwargs,closed_form", SCHEDULERS, ids=IDS)
def test_state_dict_round_trip(name, kwargs, closed_form):
    cls = getattr(lr_scheduler, name)
    full = sequence(cls(make_optimizer(), **kwargs))
    opt = make_optimizer()
    sched = cls(opt, **kwargs)
    sequence(sched, 5)
    opt_sd, sd = opt.state_dict(), sched.state_dict()
    assert "optimizer" not in sd and sd["last_epoch"] == 5

    opt2 = make_optimizer([0.5, 0.5])  # the usual resume order: build both, then load both
    sched2 = cls(opt2, **kwargs)
    opt2.load_state_dict(opt_sd)  # brings back lr and initial_lr
    sched2.load_state_dict({k: np.asarray(v) for k, v in sd.items()})  # as a flat file gives it back
    assert isinstance(sched2.last_epoch, int) and isinstance(sched2.base_lrs, list)
    rest = sequence(sched2, EPOCHS - 5)
    np.testing.assert_allclose(rest, full[5:], rtol=1e-12)


def test_resume_without_initial_lr_raises():
    with pytest.raises(KeyError, match="initial_lr"):
        lr_scheduler.StepLR(make_optimizer(), step_size=2, last_epoch=3)


def test_invalid_arguments():
    opt = make_optimizer()
    with pytest.raises(ValueError, match="step_size must be a positive integer, got 0"):
        lr_scheduler.StepLR(opt, step_size=0)
    with pytest.raises(ValueError, match="T_max must be a positive integer"):
        lr_scheduler.CosineAnnealingLR(opt, T_max=-1)
    with pytest.raises(TypeError, match="not a deepcore Optimizer"):
        lr_scheduler.ExponentialLR(object(), gamma=0.5)
    with pytest.raises(ValueError, match="Factor should be"):
        lr_scheduler.ReduceLROnPlateau(opt, factor=1.0)
    with pytest.raises(ValueError, match="mode 'avg' is unknown"):
        lr_scheduler.ReduceLROnPlateau(opt, mode="avg")
    with pytest.raises(ValueError, match="threshold mode 'pct' is unknown"):
        lr_scheduler.ReduceLROnPlateau(opt, threshold_mode="pct")
    with pytest.raises(ValueError, match="expected 2 min_lrs, got 3"):
        lr_scheduler.ReduceLROnPlateau(opt, min_lr=[0, 0, 0])
    with pytest.raises(ValueError, match="patience must be a non-negative integer"):
        lr_scheduler.ReduceLROnPlateau(opt, patience=-1)


# --- ReduceLROnPlateau ---------------------------------------------------------------------------------
def test_plateau_hand_computed():
    opt = make_optimizer([1.0, 0.5])
    sched = lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=2, min_lr=[0.0, 0.2])
    metrics = [1.0, 0.9, 0.95, 0.95, 0.95, 0.8, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9]
    lrs = []
    for m in metrics:
        sched.step(m)
        lrs.append(sched.get_last_lr())
    # bad epochs after 0.9: 3 -> reduce at index 4; after 0.8 at index 5: reduce at index 8 and 11
    expect = [[1.0, 0.5]] * 4 + [[0.5, 0.25]] * 4 + [[0.25, 0.2]] * 3 + [[0.125, 0.2]]
    np.testing.assert_allclose(lrs, expect)
    assert sched.last_epoch == len(metrics)


def test_plateau_cooldown_and_tensor_metric():
    opt = make_optimizer([1.0])
    sched = lr_scheduler.ReduceLROnPlateau(opt, mode="max", factor=0.1, patience=0, cooldown=2)
    lrs = []
    for m in [1.0, 1.0, 1.0, 1.0, 1.0, 1.0]:
        sched.step(dc.tensor(m))
        lrs.append(sched.get_last_lr()[0])
    # reduce at the first bad epoch, then two cooldown epochs in which bad epochs do not count
    np.testing.assert_allclose(lrs, [1.0, 0.1, 0.1, 0.1, 0.01, 0.01])


PLATEAU = [dict(), dict(mode="max", patience=1), dict(threshold_mode="abs", threshold=0.05, patience=1),
           dict(mode="max", threshold_mode="abs", threshold=0.1, patience=0, cooldown=1, factor=0.5),
           dict(patience=1, min_lr=0.02, factor=0.3), dict(patience=0, eps=0.05, factor=0.5)]


@pytest.mark.parametrize("kwargs", PLATEAU, ids=[str(k) for k in PLATEAU])
def test_plateau_matches_torch(kwargs):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    metrics = np.concatenate([np.linspace(1, 0.5, 6), 0.5 + 0.02 * rng.standard_normal(30)]).tolist()
    sched = lr_scheduler.ReduceLROnPlateau(make_optimizer(), **kwargs)
    topt = torch.optim.SGD([{"params": [torch.zeros(1, requires_grad=True)], "lr": lr} for lr in BASE_LRS])
    tsched = torch.optim.lr_scheduler.ReduceLROnPlateau(topt, **kwargs)
    for m in metrics:
        sched.step(m)
        tsched.step(m)
        np.testing.assert_allclose(sched.get_last_lr(), tsched.get_last_lr(), rtol=1e-12)
        assert sched.num_bad_epochs == tsched.num_bad_epochs and sched.best == tsched.best


def test_plateau_state_dict_round_trip():
    metrics = [1.0, 0.9, 0.95, 0.95, 0.96, 0.97, 0.98, 0.99, 1.0]
    a = lr_scheduler.ReduceLROnPlateau(make_optimizer(), patience=1, cooldown=1)
    for m in metrics[:4]:
        a.step(m)
    sd = a.state_dict()
    opt_b = make_optimizer()
    opt_b.load_state_dict(a.optimizer.state_dict())
    b = lr_scheduler.ReduceLROnPlateau(opt_b, patience=5)
    b.load_state_dict(sd)
    assert b.patience == 1 and b.best == 0.9 and b.last_epoch == 4
    for m in metrics[4:]:
        a.step(m)
        b.step(m)
        assert a.get_last_lr() == b.get_last_lr()


# --- MultiStepLR, LambdaLR, OneCycleLR ---------------------------------------------------------------------
def test_lambda_lr_per_group_functions_and_callable_state():
    class Warmup:
        def __init__(self, steps):
            self.steps = steps

        def __call__(self, e):
            return min(1.0, (e + 1) / self.steps)

    opt = make_optimizer()
    sched = lr_scheduler.LambdaLR(opt, [Warmup(4), lambda e: 0.5 ** e])
    got = sequence(sched, 6)
    expect = [[0.1 * min(1.0, (e + 1) / 4), 0.03 * 0.5 ** e] for e in range(7)]
    np.testing.assert_allclose(got, expect, rtol=1e-12)
    sd = sched.state_dict()
    assert sd["lr_lambdas"] == [{"steps": 4}, None]          # a callable object's state, not a function's
    other = lr_scheduler.LambdaLR(make_optimizer(), [Warmup(10), lambda e: 0.5 ** e])
    other.load_state_dict(sd)
    assert other.lr_lambdas[0].steps == 4 and other.last_epoch == 6
    with pytest.raises(ValueError, match="expected 2 lr_lambdas"):
        lr_scheduler.LambdaLR(make_optimizer(), [lambda e: 1.0])
    with pytest.raises(TypeError, match="lr_lambda must be callable"):
        lr_scheduler.LambdaLR(make_optimizer(), 0.5)


def test_multistep_lr_argument_errors():
    with pytest.raises(ValueError, match="milestones must be non-negative integers"):
        lr_scheduler.MultiStepLR(make_optimizer(), [2, -1])
    with pytest.raises(TypeError, match="milestones must be a list"):
        lr_scheduler.MultiStepLR(make_optimizer(), 3)


ONECYCLE = [
    ("SGD", dict(momentum=0.9), dict(max_lr=1.0, total_steps=25)),
    ("SGD", dict(momentum=0.9), dict(max_lr=[1.0, 0.2], total_steps=20, anneal_strategy="linear", pct_start=0.4)),
    ("Adam", {}, dict(max_lr=0.01, epochs=4, steps_per_epoch=5, three_phase=True)),
    ("Adam", {}, dict(max_lr=0.01, total_steps=17, cycle_momentum=False, div_factor=10, final_div_factor=100)),
    ("AdamW", {}, dict(max_lr=0.02, total_steps=12, base_momentum=0.8, max_momentum=(0.9, 0.99))),
]


def _momenta(opt):
    return [g["betas"][0] if "betas" in g else g["momentum"] for g in opt.param_groups]


@pytest.mark.parametrize("opt_name,opt_kw,kwargs", ONECYCLE, ids=[f"{o}-{i}" for i, (o, _, _) in enumerate(ONECYCLE)])
def test_one_cycle_matches_torch_lr_and_momentum(opt_name, opt_kw, kwargs):
    torch = pytest.importorskip("torch")
    opt = make_optimizer(cls=getattr(optim, opt_name))
    for g in opt.param_groups:
        g.update(opt_kw)
    sched = lr_scheduler.OneCycleLR(opt, **kwargs)
    topt = getattr(torch.optim, opt_name)([{"params": [torch.zeros(1, requires_grad=True)], "lr": lr, **opt_kw}
                                           for lr in BASE_LRS])
    tsched = torch.optim.lr_scheduler.OneCycleLR(topt, **kwargs)
    total = kwargs.get("total_steps") or kwargs["epochs"] * kwargs["steps_per_epoch"]
    got, expect = [sched.get_last_lr()], [tsched.get_last_lr()]
    got_m, expect_m = [_momenta(opt)], [_momenta(topt)]
    for _ in range(total - 1):
        opt.step()
        topt.step()
        sched.step()
        tsched.step()
        got.append(sched.get_last_lr())
        expect.append(tsched.get_last_lr())
        got_m.append(_momenta(opt))
        expect_m.append(_momenta(topt))
    np.testing.assert_allclose(got, expect, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(got_m, expect_m, rtol=1e-12, atol=1e-15)
    with pytest.raises(ValueError, match=f"Tried to step {total + 1} times"):
        sched.step()
        sched.step()


def test_one_cycle_state_dict_round_trip():
    def build(lrs=BASE_LRS):
        opt = make_optimizer(lrs)
        for g in opt.param_groups:
            g["momentum"] = 0.9
        return opt

    opt = build()
    full = sequence(lr_scheduler.OneCycleLR(opt, max_lr=0.5, total_steps=20), 19)
    opt = build()
    sched = lr_scheduler.OneCycleLR(opt, max_lr=0.5, total_steps=20)
    sequence(sched, 8)
    opt_sd, sd = opt.state_dict(), sched.state_dict()
    opt2 = build([0.7, 0.7])
    sched2 = lr_scheduler.OneCycleLR(opt2, max_lr=0.5, total_steps=20)
    opt2.load_state_dict(opt_sd)
    sched2.load_state_dict(sd)
    np.testing.assert_allclose(sequence(sched2, 11), full[8:], rtol=1e-12)


def test_one_cycle_argument_errors():
    with pytest.raises(ValueError, match="pass total_steps, or both epochs and steps_per_epoch"):
        lr_scheduler.OneCycleLR(make_optimizer(), max_lr=1.0, epochs=3)
    with pytest.raises(ValueError, match="total_steps must be a positive integer"):
        lr_scheduler.OneCycleLR(make_optimizer(), max_lr=1.0, total_steps=0)
    with pytest.raises(ValueError, match="pct_start must be a float between 0 and 1"):
        lr_scheduler.OneCycleLR(make_optimizer(), max_lr=1.0, total_steps=10, pct_start=1.5)
    with pytest.raises(ValueError, match="anneal_strategy must be 'cos' or 'linear'"):
        lr_scheduler.OneCycleLR(make_optimizer(), max_lr=1.0, total_steps=10, anneal_strategy="exp")
    with pytest.raises(ValueError, match="expected 2 values for max_lr"):
        lr_scheduler.OneCycleLR(make_optimizer(), max_lr=[1.0, 2.0, 3.0], total_steps=10)
    with pytest.raises(ValueError, match="optimizer must support momentum or beta1"):
        lr_scheduler.OneCycleLR(make_optimizer(cls=optim.Adagrad), max_lr=1.0, total_steps=10)


@pytest.mark.parametrize("name, kwargs", [("OneCycleLR", dict(max_lr=0.5, total_steps=12)),
                                          ("MultiStepLR", dict(milestones=[2, 5], gamma=0.3)),
                                          ("LambdaLR", dict(lr_lambda=lambda e: 1.0 / (1 + e)))])
def test_scheduled_training_equals_torch(name, kwargs, device):
    """The optimizer's device-side learning rates follow the schedule: SGD with momentum, step for step."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    w0, grads = rng.standard_normal(4), rng.standard_normal((12, 4))
    p = dc.tensor(w0, device=device, requires_grad=True)
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    sched = getattr(lr_scheduler, name)(opt, **kwargs)
    tp = torch.tensor(w0, requires_grad=True)
    topt = torch.optim.SGD([tp], lr=0.1, momentum=0.9)
    tsched = getattr(torch.optim.lr_scheduler, name)(topt, **kwargs)
    for g in grads[:11]:
        p.grad = dc.tensor(g, device=device)
        tp.grad = torch.tensor(g)
        opt.step()
        topt.step()
        sched.step()
        tsched.step()
    np.testing.assert_allclose(p.numpy(), tp.detach().numpy(), rtol=1e-12, atol=1e-14)
