"""Adadelta (torch.optim.Adadelta's rule): steps scaled by the ratio of running RMS of updates and gradients."""
from ..backend import array_module
from .optimizer import Optimizer, _check_number, _l2_grad


class Adadelta(Optimizer):
    """Adadelta: ``v = rho v + (1-rho) g^2``, ``d = sqrt(u + eps) / sqrt(v + eps) * g``,
    ``u = rho u + (1-rho) d^2``, ``p -= lr * d``."""

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0):
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay))

    def _check(self, h):
        if "lr" in h:
            _check_number("lr", h["lr"], label="learning rate")
        if "rho" in h:
            _check_number("rho", h["rho"], high=1.0, high_open=False, label="rho value")
        if "eps" in h:
            _check_number("eps", h["eps"], label="epsilon value")
        if "weight_decay" in h:
            _check_number("weight_decay", h["weight_decay"], label="weight_decay value")

    def _init_state(self, p, group):
        xp = array_module(p)
        return {"step": 0, "square_avg": xp.zeros_like(p), "acc_delta": xp.zeros_like(p)}

    def _update(self, p, g, state, group):
        xp = array_module(p)
        lr, rho, eps, wd = (float(group[k]) for k in ("lr", "rho", "eps", "weight_decay"))
        state["step"] += 1
        if wd != 0:
            g = _l2_grad(p, g, wd)
        sq, acc = state["square_avg"], state["acc_delta"]
        tmp = xp.multiply(g, g, out=xp.empty_like(p))
        tmp *= 1.0 - rho
        sq *= rho
        sq += tmp
        std = xp.add(sq, eps, out=tmp)
        xp.sqrt(std, out=std)
        delta = xp.add(acc, eps, out=xp.empty_like(p))
        xp.sqrt(delta, out=delta)
        delta /= std
        delta *= g
        acc *= rho
        sq_delta = xp.multiply(delta, delta, out=tmp)
        sq_delta *= 1.0 - rho
        acc += sq_delta
        delta *= -lr
        p += delta
