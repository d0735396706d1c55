"""Fused numba optimizer updates for the CPU: one pass over parameter, gradient and state instead of
NumPy's chain of in-place ufuncs (~8 passes for Adam). Overrides of the generic ``_update`` code, which the
tests use as the reference. Imported lazily (numba's import is slow).

The loops vectorise because they use the numpy error model (Python's checks every division for zero) and
scalars of the arrays' own dtype (a float64 scalar would promote float32 arithmetic).
"""
from __future__ import annotations

import numpy as np
from numba import njit

_JIT = dict(cache=True, nogil=True, error_model="numpy", fastmath={"contract", "arcp", "nsz"})


def applies(p, *others) -> bool:
    """A NumPy float32/float64 parameter and its gradient and state arrays: same dtype, all contiguous."""
    arrays = (p,) + others
    return (p.dtype in (np.float32, np.float64) and all(isinstance(a, np.ndarray) and a.dtype == p.dtype
                                                         and a.flags.c_contiguous for a in arrays))


@njit(**_JIT)
def _adam(p, g, m, v, decay, l2, beta1, one_minus_beta1, beta2, one_minus_beta2, step_size, inv_sqrt_bc2, eps):
    for k in range(p.size):
        pk = p[k] * decay                                   # decoupled weight decay (AdamW), else decay = 1
        gk = g[k] + l2 * p[k]                               # L2 weight decay (Adam), else l2 = 0
        mk = beta1 * m[k] + one_minus_beta1 * gk
        vk = beta2 * v[k] + one_minus_beta2 * gk * gk
        m[k] = mk
        v[k] = vk
        p[k] = pk - step_size * mk / (np.sqrt(vk) * inv_sqrt_bc2 + eps)


def adam(p, g, m, v, *, lr, beta1, beta2, eps, weight_decay, decoupled, step):
    """One Adam/AdamW step in place on ``p``, ``m`` (exp_avg) and ``v`` (exp_avg_sq); no AMSGrad."""
    s = p.dtype.type
    decay, l2 = (1.0 - lr * weight_decay, 0.0) if decoupled else (1.0, weight_decay)
    step_size = lr / (1.0 - beta1 ** step)
    inv_sqrt_bc2 = 1.0 / np.sqrt(1.0 - beta2 ** step)
    _adam(p.reshape(-1), g.reshape(-1), m.reshape(-1), v.reshape(-1), s(decay), s(l2), s(beta1), s(1.0 - beta1),
          s(beta2), s(1.0 - beta2), s(step_size), s(inv_sqrt_bc2), s(eps))


@njit(**_JIT)
def _sgd_momentum(p, g, buf, l2, momentum, one_minus_dampening, lr, nesterov):
    for k in range(p.size):
        d = g[k] + l2 * p[k]
        b = momentum * buf[k] + one_minus_dampening * d
        buf[k] = b
        p[k] -= lr * (d + momentum * b if nesterov else b)


def sgd_momentum(p, g, buf, *, lr, momentum, dampening, weight_decay, nesterov):
    """One SGD step with an existing momentum buffer, in place on ``p`` and ``buf``."""
    s = p.dtype.type
    _sgd_momentum(p.reshape(-1), g.reshape(-1), buf.reshape(-1), s(weight_decay), s(momentum),
                  s(1.0 - dampening), s(lr), bool(nesterov))
