"""Adam and AdamW (torch.optim.Adam / AdamW rules, with optional AMSGrad)."""

import numpy as np

from ..backend import array_module, fastpath
from . import _flat
from .optimizer import Optimizer, _check_number, _l2_grad


class Adam(Optimizer):
    """Adam: bias-corrected first and second moment estimates; ``weight_decay`` adds ``wd * p`` to the gradient.

    ``m = b1 m + (1-b1) g``, ``v = b2 v + (1-b2) g^2`` (AMSGrad: ``v_max = max(v_max, v)``),
    ``p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)``.
    """

    _decoupled = False
    _op = "optim.adam"

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

    def _state_keys(self, group):
        if group["amsgrad"]:
            return (("exp_avg", 0.0), ("exp_avg_sq", 0.0), ("max_exp_avg_sq", 0.0))
        return (("exp_avg", 0.0), ("exp_avg_sq", 0.0))

    def _update(self, p, g, state, group, t, lr):
        xp = array_module(p)
        eps, wd = float(group["eps"]), float(group["weight_decay"])
        beta1, beta2 = (float(b) for b in group["betas"])
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
            v = xp.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
        denom = xp.sqrt(v, out=tmp)
        denom /= (1.0 - beta2 ** t) ** 0.5
        denom += eps
        step = xp.divide(m, denom, out=tmp)
        step *= -lr / (1.0 - beta1 ** t)
        p += step


class AdamW(Adam):
    """Adam with decoupled weight decay: ``p *= 1 - lr * wd`` before the Adam step (Loshchilov & Hutter)."""

    _decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad)


# --- fused updates of a whole flat bucket (the generic path above is their reference) ----------------------
def _adam_args(b, group):
    beta1, beta2 = (float(x) for x in group["betas"])
    return beta1, beta2, float(group["eps"]), float(group["weight_decay"])


@fastpath.override("optim.adam", "cpu", when=_flat.cpu_applies)
def _adam_numba(opt, b, group, grads):
    from . import _fused_cpu
    beta1, beta2, eps, wd = _adam_args(b, group)
    _fused_cpu.adam(b, grads, beta1, beta2, eps, wd, opt._decoupled, bool(group["amsgrad"]))


@fastpath.override("optim.adam", "cuda", when=_flat.cuda_applies)
def _adam_cuda(opt, b, group, grads):
    beta1, beta2, eps, wd = _adam_args(b, group)
    m, v = b.buffers["exp_avg"], b.buffers["exp_avg_sq"]
    vmax = b.buffers["max_exp_avg_sq"] if group["amsgrad"] else None
    _flat.launch("adam", b, (b.param, b.grad, m, v, vmax, b.lr, np.float64(beta1), np.float64(beta2),
                             np.float64(eps), np.float64(wd), np.int32(opt._decoupled)))
