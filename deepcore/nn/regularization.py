"""L1 and L2 penalties to add to a loss (``weight_decay=`` on the optimizers is the L2 alternative)."""
from __future__ import annotations

from ..ops.reduce import sum as _sum
from ..ops.elementwise import abs as _abs


def l1_penalty(params, weight: float = 1.0):
    """``weight * sum(|p|)`` over all parameters, differentiable."""
    return _penalty(params, lambda p: _sum(_abs(p)), weight, "l1_penalty")


def l2_penalty(params, weight: float = 1.0):
    """``weight * sum(p ** 2)`` over all parameters, differentiable (note: no 1/2 factor)."""
    return _penalty(params, lambda p: _sum(p * p), weight, "l2_penalty")


def _penalty(params, term, weight, name):
    params = list(params)
    if not params:
        raise ValueError(f"{name}: got no parameters")
    total = term(params[0])
    for p in params[1:]:
        total = total + term(p)
    return total * weight
