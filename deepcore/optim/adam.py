"""Adam and AdamW (torch.optim.Adam / AdamW rules, with optional AMSGrad)."""
import math

from ..backend import array_module
from .optimizer import Optimizer, _check_number, _fused_kernels, _l2_grad


class Adam(Optimizer):
    """Adam: bias-corrected first and second moment estimates; ``weight_decay`` adds ``wd * p`` to the gradient.

    ``m = b1 m + (1-b1) g``, ``v = b2 v + (1-b2) g^2`` (AMSGrad: ``v_max = max(v_max, v)``),
    ``p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)``.
    """

    _decoupled = False

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad))

    def _check(self, h):
        if "lr" in h:
            _check_number("lr", h["lr"], label="learning rate")
        if "eps" in h:
            _check_number("eps", h["eps"], label="epsilon value")
        if "betas" in h:
            betas = h["betas"]
            if not isinstance(betas, (tuple, list)) or len(betas) != 2:
                raise ValueError(f"Invalid betas: {betas!r}; expected a pair (beta1, beta2)")
            for i, b in enumerate(betas):
                _check_number("beta", b, high=1.0, label=f"beta parameter at index {i}")
        if "weight_decay" in h:
            _check_number("weight_decay", h["weight_decay"], label="weight_decay value")

    def _init_state(self, p, group):
        xp = array_module(p)
        state = {"step": 0, "exp_avg": xp.zeros_like(p), "exp_avg_sq": xp.zeros_like(p)}
        if group["amsgrad"]:
            state["max_exp_avg_sq"] = xp.zeros_like(p)
        return state

    def _update(self, p, g, state, group):
        xp = array_module(p)
        lr, eps, wd = float(group["lr"]), float(group["eps"]), float(group["weight_decay"])
        beta1, beta2 = (float(b) for b in group["betas"])
        state["step"] += 1
        t = state["step"]
        fused = _fused_kernels() if not group["amsgrad"] else None
        if fused is not None and fused.applies(p, g, state["exp_avg"], state["exp_avg_sq"]):
            fused.adam(p, g, state["exp_avg"], state["exp_avg_sq"], lr=lr, beta1=beta1, beta2=beta2, eps=eps,
                       weight_decay=wd, decoupled=self._decoupled, step=t)
            return
        if wd != 0:
            if self._decoupled:
                p *= 1.0 - lr * wd
            else:
                g = _l2_grad(p, g, wd)
        m, v = state["exp_avg"], state["exp_avg_sq"]
        tmp = xp.empty_like(p)
        m *= beta1
        m += xp.multiply(g, 1.0 - beta1, out=tmp)
        v *= beta2
        xp.multiply(g, g, out=tmp)
        tmp *= 1.0 - beta2
        v += tmp
        if group["amsgrad"]:
            if "max_exp_avg_sq" not in state:
                state["max_exp_avg_sq"] = xp.zeros_like(p)
            v = xp.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
        denom = xp.sqrt(v, out=tmp)
        denom /= math.sqrt(1.0 - beta2 ** t)
        denom += eps
        step = xp.divide(m, denom, out=tmp)
        step *= -lr / (1.0 - beta1 ** t)
        p += step


class AdamW(Adam):
    """Adam with decoupled weight decay: ``p *= 1 - lr * wd`` before the Adam step (Loshchilov & Hutter)."""

    _decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad)
