"""Adadelta (torch.optim.Adadelta's rule): steps scaled by the ratio of running RMS of updates and gradients."""
import numpy as np

from ..backend import array_module, fastpath
from . import _flat
from .optimizer import Optimizer, _check_number, _l2_grad


class Adadelta(Optimizer):
    """Adadelta: ``v = rho v + (1-rho) g^2``, ``d = sqrt(u + eps) / sqrt(v + eps) * g``,
    ``u = rho u + (1-rho) d^2``, ``p -= lr * d``."""

    _op = "optim.adadelta"

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

    def _state_keys(self, group):
        return (("square_avg", 0.0), ("acc_delta", 0.0))

    def _update(self, p, g, state, group, t, lr):
        xp = array_module(p)
        rho, eps, wd = (float(group[k]) for k in ("rho", "eps", "weight_decay"))
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


# --- fused updates of a whole flat bucket (the generic path above is their reference) ----------------------
def _adadelta_args(group):
    return tuple(float(group[k]) for k in ("rho", "eps", "weight_decay"))


@fastpath.override("optim.adadelta", "cpu", when=_flat.cpu_applies)
def _adadelta_numba(opt, b, group, grads):
    from . import _fused_cpu
    _fused_cpu.adadelta(b, grads, *_adadelta_args(group))


@fastpath.override("optim.adadelta", "cuda", when=_flat.cuda_applies)
def _adadelta_cuda(opt, b, group, grads):
    rho, eps, wd = _adadelta_args(group)
    _flat.launch("adadelta", b, (b.param, b.grad, b.buffers["square_avg"], b.buffers["acc_delta"], b.lr,
                                 np.float64(rho), np.float64(eps), np.float64(wd)))
