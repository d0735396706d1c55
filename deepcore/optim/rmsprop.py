"""RMSprop (torch.optim.RMSprop's rule), optionally centered and with momentum."""
from ..backend import array_module
from .optimizer import Optimizer, _check_number, _l2_grad


class RMSprop(Optimizer):
    """RMSprop: ``v = alpha v + (1-alpha) g^2``; centered subtracts ``mean(g)^2``; step ``g / (sqrt(v) + eps)``,
    through a momentum buffer when ``momentum > 0``."""

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False):
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                                      centered=centered))

    def _check(self, h):
        for key, label in (("lr", "learning rate"), ("eps", "epsilon value"), ("momentum", "momentum value"),
                           ("weight_decay", "weight_decay value"), ("alpha", "alpha value")):
            if key in h:
                _check_number(key, h[key], label=label)

    def _init_state(self, p, group):
        xp = array_module(p)
        state = {"step": 0, "square_avg": xp.zeros_like(p)}
        if group["momentum"] > 0:
            state["momentum_buffer"] = xp.zeros_like(p)
        if group["centered"]:
            state["grad_avg"] = xp.zeros_like(p)
        return state

    def _update(self, p, g, state, group):
        xp = array_module(p)
        lr, alpha, eps, wd, momentum = (float(group[k]) for k in ("lr", "alpha", "eps", "weight_decay", "momentum"))
        state["step"] += 1
        if wd != 0:
            g = _l2_grad(p, g, wd)
        sq = state["square_avg"]
        tmp = xp.multiply(g, g, out=xp.empty_like(p))
        tmp *= 1.0 - alpha
        sq *= alpha
        sq += tmp
        if group["centered"]:
            ga = state.setdefault("grad_avg", xp.zeros_like(p))
            ga *= alpha
            ga += xp.multiply(g, 1.0 - alpha, out=tmp)
            avg = xp.multiply(ga, ga, out=tmp)
            xp.subtract(sq, avg, out=avg)
            xp.sqrt(avg, out=avg)
        else:
            avg = xp.sqrt(sq, out=tmp)
        avg += eps
        if momentum > 0:
            buf = state.setdefault("momentum_buffer", xp.zeros_like(p))
            buf *= momentum
            buf += xp.divide(g, avg, out=avg)
            p += xp.multiply(buf, -lr, out=avg)
        else:
            step = xp.divide(g, avg, out=avg)
            step *= -lr
            p += step
