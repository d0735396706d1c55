"""Adagrad (torch.optim.Adagrad's rule): per-element step sizes shrink with the sum of squared gradients."""
import numpy as np

from ..backend import array_module, fastpath
from . import _flat
from .optimizer import Optimizer, _check_number, _l2_grad


class Adagrad(Optimizer):
    """Adagrad: ``s += g^2``, ``p -= lr / (1 + (t-1) lr_decay) * g / (sqrt(s) + eps)``; ``s`` starts at
    ``initial_accumulator_value``."""

    _op = "optim.adagrad"

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10):
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value, eps=eps))

    def _check(self, h):
        for key, label in (("lr", "learning rate"), ("lr_decay", "lr_decay value"),
                           ("weight_decay", "weight_decay value"),
                           ("initial_accumulator_value", "initial_accumulator_value value"),
                           ("eps", "epsilon value")):
            if key in h:
                _check_number(key, h[key], label=label)

    def _state_keys(self, group):
        return (("sum", float(group["initial_accumulator_value"])),)

    def _update(self, p, g, state, group, t, lr):
        xp = array_module(p)
        lr_decay, eps, wd = (float(group[k]) for k in ("lr_decay", "eps", "weight_decay"))
        if wd != 0:
            g = _l2_grad(p, g, wd)
        clr = lr / (1.0 + (t - 1) * lr_decay)
        total = state["sum"]
        tmp = xp.multiply(g, g, out=xp.empty_like(p))
        total += tmp
        std = xp.sqrt(total, out=tmp)
        std += eps
        step = xp.divide(g, std, out=tmp)
        step *= -clr
        p += step


# --- fused updates of a whole flat bucket (the generic path above is their reference) ----------------------
def _adagrad_args(group):
    return tuple(float(group[k]) for k in ("lr_decay", "eps", "weight_decay"))


@fastpath.override("optim.adagrad", "cpu", when=_flat.cpu_applies)
def _adagrad_numba(opt, b, group, grads):
    from . import _fused_cpu
    _fused_cpu.adagrad(b, grads, *_adagrad_args(group))


@fastpath.override("optim.adagrad", "cuda", when=_flat.cuda_applies)
def _adagrad_cuda(opt, b, group, grads):
    lr_decay, eps, wd = _adagrad_args(group)
    _flat.launch("adagrad", b, (b.param, b.grad, b.buffers["sum"], b.lr, np.float64(lr_decay), np.float64(eps),
                                np.float64(wd)))
