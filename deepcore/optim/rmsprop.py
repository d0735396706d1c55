"""RMSprop (torch.optim.RMSprop's rule), optionally centered and with momentum."""
import numpy as np

from ..backend import array_module, fastpath
from . import _flat
from .optimizer import Optimizer, _check_number, _l2_grad


class RMSprop(Optimizer):
    """RMSprop: ``v = alpha v + (1-alpha) g^2``; centered subtracts ``mean(g)^2``; step ``g / (sqrt(v) + eps)``,
    through a momentum buffer when ``momentum > 0``."""

    _op = "optim.rmsprop"

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False):
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                                      centered=centered))

    def _check(self, h):
        for key, label in (("lr", "learning rate"), ("eps", "epsilon value"), ("momentum", "momentum value"),
                           ("weight_decay", "weight_decay value"), ("alpha", "alpha value")):
            if key in h:
                _check_number(key, h[key], label=label)

    def _state_keys(self, group):
        keys = (("square_avg", 0.0),)
        if group["momentum"] > 0:
            keys += (("momentum_buffer", 0.0),)
        if group["centered"]:
            keys += (("grad_avg", 0.0),)
        return keys

    def _update(self, p, g, state, group, t, lr):
        xp = array_module(p)
        alpha, eps, wd, momentum = (float(group[k]) for k in ("alpha", "eps", "weight_decay", "momentum"))
        if wd != 0:
            g = _l2_grad(p, g, wd)
        sq = state["square_avg"]
        tmp = xp.multiply(g, g, out=xp.empty_like(p))
        tmp *= 1.0 - alpha
        sq *= alpha
        sq += tmp
        if group["centered"]:
            ga = state["grad_avg"]
            ga *= alpha
            ga += xp.multiply(g, 1.0 - alpha, out=tmp)
            avg = xp.multiply(ga, ga, out=tmp)
            xp.subtract(sq, avg, out=avg)
            xp.sqrt(avg, out=avg)
        else:
            avg = xp.sqrt(sq, out=tmp)
        avg += eps
        if momentum > 0:
            buf = state["momentum_buffer"]
            buf *= momentum
            buf += xp.divide(g, avg, out=avg)
            p += xp.multiply(buf, -lr, out=avg)
        else:
            step = xp.divide(g, avg, out=avg)
            step *= -lr
            p += step


# --- fused updates of a whole flat bucket (the generic path above is their reference) ----------------------
def _rmsprop_args(group):
    return tuple(float(group[k]) for k in ("alpha", "eps", "weight_decay", "momentum"))


@fastpath.override("optim.rmsprop", "cpu", when=_flat.cpu_applies)
def _rmsprop_numba(opt, b, group, grads):
    from . import _fused_cpu
    _fused_cpu.rmsprop(b, grads, *_rmsprop_args(group), bool(group["centered"]))


@fastpath.override("optim.rmsprop", "cuda", when=_flat.cuda_applies)
def _rmsprop_cuda(opt, b, group, grads):
    alpha, eps, wd, momentum = _rmsprop_args(group)
    grad_avg = b.buffers["grad_avg"] if group["centered"] else None
    buf = b.buffers["momentum_buffer"] if momentum > 0 else None
    _flat.launch("rmsprop", b, (b.param, b.grad, b.buffers["square_avg"], grad_avg, buf, b.lr, np.float64(alpha),
                                np.float64(eps), np.float64(wd), np.float64(momentum)))
