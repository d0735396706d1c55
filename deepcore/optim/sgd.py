"""SGD with optional momentum, dampening, Nesterov momentum and L2 weight decay (torch.optim.SGD's rule)."""
from ..backend import array_module
from .optimizer import Optimizer, _check_number, _fused_kernels, _l2_grad, required


class SGD(Optimizer):
    """Stochastic gradient descent.

    ``d = g + wd * p``; with momentum ``b = momentum * b + (1 - dampening) * d`` (``b = d`` at the first step)
    and ``d = d + momentum * b`` (Nesterov) or ``d = b``; then ``p -= lr * d``.
    """

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

    def _update(self, p, g, state, group):
        xp = array_module(p)
        lr, momentum, dampening = float(group["lr"]), float(group["momentum"]), float(group["dampening"])
        wd = float(group["weight_decay"])
        buf = state.get("momentum_buffer")
        fused = _fused_kernels() if momentum != 0 and buf is not None else None
        if fused is not None and fused.applies(p, g, buf):
            fused.sgd_momentum(p, g, buf, lr=lr, momentum=momentum, dampening=dampening, weight_decay=wd,
                               nesterov=group["nesterov"])
            return
        d = g
        if wd != 0:
            d = _l2_grad(p, g, wd)
        if momentum != 0:
            if buf is None:
                buf = state["momentum_buffer"] = d.copy()
            else:
                buf *= momentum
                if dampening == 0:
                    buf += d
                else:
                    buf += xp.multiply(d, 1.0 - dampening, out=xp.empty_like(p))
            if group["nesterov"]:
                step = xp.multiply(buf, momentum, out=xp.empty_like(p))
                step += d
                d = step
            else:
                d = buf
        step = xp.multiply(d, -lr, out=xp.empty_like(p))
        p += step
