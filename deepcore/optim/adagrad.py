"""Adagrad (torch.optim.Adagrad's rule): per-element step sizes shrink with the sum of squared gradients."""
from ..backend import array_module
from .optimizer import Optimizer, _check_number, _l2_grad


class Adagrad(Optimizer):
    """Adagrad: ``s += g^2``, ``p -= lr / (1 + (t-1) lr_decay) * g / (sqrt(s) + eps)``; ``s`` starts at
    ``initial_accumulator_value``."""

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

    def _init_state(self, p, group):
        xp = array_module(p)
        return {"step": 0, "sum": xp.full_like(p, float(group["initial_accumulator_value"]))}

    def _update(self, p, g, state, group):
        xp = array_module(p)
        lr, lr_decay, eps, wd = (float(group[k]) for k in ("lr", "lr_decay", "eps", "weight_decay"))
        state["step"] += 1
        if wd != 0:
            g = _l2_grad(p, g, wd)
        clr = lr / (1.0 + (state["step"] - 1) * lr_decay)
        total = state["sum"]
        tmp = xp.multiply(g, g, out=xp.empty_like(p))
        total += tmp
        std = xp.sqrt(total, out=tmp)
        std += eps
        step = xp.divide(g, std, out=tmp)
        step *= -clr
        p += step
