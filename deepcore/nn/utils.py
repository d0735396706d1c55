"""``dc.nn.utils``: gradient clipping with torch.nn.utils' semantics.

Both work in place on the gradients' own arrays (so gradients that live in an optimizer's flat buffer stay
there) and, on a GPU, without a host synchronisation: the total norm stays a device scalar and scales the
gradients by ``min(1, max_norm / (norm + 1e-6))``, as torch does. Only ``error_if_nonfinite=True`` reads
the norm back to the host, to raise.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from ..tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_"]


def _grads(parameters, fn):
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    try:
        params = list(parameters)
    except TypeError:
        raise TypeError(f"{fn}: parameters must be a Tensor or an iterable of Tensors, "
                        f"got {type(parameters).__name__}") from None
    for p in params:
        if not isinstance(p, Tensor):
            raise TypeError(f"{fn}: parameters must be Tensors, got {type(p).__name__}")
    grads = [p.grad for p in params if p.grad is not None]
    devices = {g.device for g in grads}
    if len(devices) > 1:
        raise RuntimeError(f"{fn}: gradients are on several devices ({', '.join(sorted(map(str, devices)))}); "
                           f"clip each device's parameters separately")
    return grads


def _real(fn, name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{fn}: {name} must be a real number, got {type(value).__name__}")
    return float(value)


def _vector_norm(xp, a, p):
    """The p-norm of all entries of ``a`` as a 0-d array of a's dtype (torch.linalg.vector_norm's orders)."""
    mag = xp.abs(a)
    if p == math.inf:
        return mag.max() if a.size else xp.zeros((), dtype=a.dtype)
    if p == -math.inf:
        return mag.min() if a.size else xp.full((), np.inf, dtype=a.dtype)
    if p == 0:
        return (mag != 0).sum().astype(a.dtype)
    if p == 1:
        return mag.sum()
    if p == 2:
        return xp.sqrt((mag * mag).sum())
    return ((mag ** p).sum()) ** (1.0 / p)


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """Scale the gradients of ``parameters`` in place so that their total ``norm_type``-norm (of all gradients
    together) is at most ``max_norm``; returns that total norm (before clipping) as a 0-d Tensor on the
    gradients' device. ``norm_type`` may be any real, ``inf`` or ``-inf``; ``foreach`` is accepted for
    PyTorch compatibility and ignored."""
    fn = "clip_grad_norm_"
    max_norm = _real(fn, "max_norm", max_norm)
    norm_type = _real(fn, "norm_type", norm_type)
    grads = _grads(parameters, fn)
    if not grads:
        from ..tensor import tensor
        return tensor(0.0)
    xp = grads[0].device.xp
    norms = xp.stack([_vector_norm(xp, g.data, norm_type).astype(grads[0].dtype) for g in grads])
    total = _vector_norm(xp, norms, norm_type)
    if error_if_nonfinite and not bool(xp.isfinite(total)):   # the one place that reads the norm back
        raise RuntimeError(f"The total norm of order {norm_type} for gradients from `parameters` is non-finite, so "
                           f"it cannot be clipped. To disable this error and scale the gradients by the non-finite "
                           f"norm anyway, set `error_if_nonfinite=False`")
    coef = xp.minimum(max_norm / (total + 1e-6), 1.0)
    for g in grads:
        a = g.data
        a *= coef.astype(a.dtype)
    return Tensor._make(total)


def clip_grad_value_(parameters, clip_value, foreach=None):
    """Clamp every gradient of ``parameters`` into [-clip_value, clip_value], in place."""
    fn = "clip_grad_value_"
    clip_value = _real(fn, "clip_value", clip_value)
    for g in _grads(parameters, fn):
        a = g.data
        a.clip(-clip_value, clip_value, out=a)
