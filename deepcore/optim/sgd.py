"""SGD with optional momentum, dampening, Nesterov momentum and L2 weight decay (torch.optim.SGD's rule)."""
import numpy as np

from ..backend import array_module, fastpath
from . import _flat
from .optimizer import Optimizer, _check_number, _l2_grad, required


class SGD(Optimizer):
    """Stochastic gradient descent.

    ``d = g + wd * p``; with momentum ``b = momentum * b + (1 - dampening) * d`` (``b = d`` at the first step)
    and ``d = d + momentum * b`` (Nesterov) or ``d = b``; then ``p -= lr * d``.

    Like torch, ``state[p]`` holds only ``momentum_buffer`` (no step count); internally a parameter's step
    count is the number of steps taken with momentum, so the first of them copies ``d`` into the buffer.
    """

    _op = "optim.sgd"
    _has_step = False

    def __init__(self, params, lr=required, momentum=0, dampening=0, weight_decay=0, nesterov=False):
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov))

    def _check(self, h):
        if "lr" in h:
            _check_number("lr", h["lr"], label="learning rate")
        if "momentum" in h:
            _check_number("momentum", h["momentum"], label="momentum value")
        if "dampening" in h:
            _check_number("dampening", h["dampening"], low=None, label="dampening value")
        if "weight_decay" in h:
            _check_number("weight_decay", h["weight_decay"], label="weight_decay value")
        if h.get("nesterov") and (h.get("momentum", 0) <= 0 or h.get("dampening", 0) != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening "
                             f"(got momentum={h.get('momentum', 0)}, dampening={h.get('dampening', 0)})")

    def _state_keys(self, group):
        return (("momentum_buffer", 0.0),) if group["momentum"] != 0 else ()

    def _count(self, group):
        return 1 if group["momentum"] != 0 else 0

    def _host_step(self, state):
        return 1 if state is not None and "momentum_buffer" in state else 0

    def _update(self, p, g, state, group, t, lr):
        xp = array_module(p)
        momentum, dampening = float(group["momentum"]), float(group["dampening"])
        wd = float(group["weight_decay"])
        d = g
        if wd != 0:
            d = _l2_grad(p, g, wd)
        if momentum != 0:
            buf = state["momentum_buffer"]
            running = xp.multiply(buf, momentum, out=xp.empty_like(p))
            running += d if dampening == 0 else xp.multiply(d, 1.0 - dampening, out=xp.empty_like(p))
            buf[...] = xp.where(t == 1, d, running)   # as torch: the first step's buffer is d itself
            if group["nesterov"]:
                step = xp.multiply(buf, momentum, out=xp.empty_like(p))
                step += d
                d = step
            else:
                d = buf
        step = xp.multiply(d, -lr, out=xp.empty_like(p))
        p += step


# --- fused updates of a whole flat bucket (the generic path above is their reference) ----------------------
def _sgd_args(group):
    return (float(group["momentum"]), float(group["dampening"]), float(group["weight_decay"]),
            bool(group["nesterov"]))


@fastpath.override("optim.sgd", "cpu", when=_flat.cpu_applies)
def _sgd_numba(opt, b, group, grads):
    from . import _fused_cpu
    _fused_cpu.sgd(b, grads, *_sgd_args(group))


@fastpath.override("optim.sgd", "cuda", when=_flat.cuda_applies)
def _sgd_cuda(opt, b, group, grads):
    momentum, dampening, wd, nesterov = _sgd_args(group)
    buf = b.buffers["momentum_buffer"] if momentum != 0 else None
    _flat.launch("sgd", b, (b.param, b.grad, buf, b.lr, np.float64(momentum), np.float64(dampening),
                            np.float64(wd), np.int32(nesterov)))
