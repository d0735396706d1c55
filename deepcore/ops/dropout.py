"""Inverted dropout: zero each element with probability p and scale the rest by 1 / (1 - p) in training."""
from __future__ import annotations

import numbers

import numpy as np

from ..autograd import Function
from ..backend import device_of, generator
from ..tensor import Tensor
from ._util import as_tensor

__all__ = ["dropout"]


class Dropout(Function):
    """``x * keep / (1 - p)`` with a fresh Bernoulli(1 - p) mask; only the boolean mask is kept for backward."""

    def forward(self, x):
        xp = self._xp
        keep = xp.asarray(generator(device_of(x)).random(x.shape, dtype=np.float32) >= self.p)
        self.save_for_backward(keep)
        y = xp.asarray(x * keep)  # asarray: NumPy turns 0-d results into scalars
        y *= self.scale
        return y

    def backward(self, gy):
        (keep,) = self.saved_tensors
        g = self._xp.asarray(gy * keep)
        g *= self.scale
        return g


def dropout(x, p=0.5, training=True):
    """Randomly zero elements of ``x`` with probability ``p`` during training; identity in evaluation or p=0."""
    if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 0.0 <= float(p) <= 1.0:
        raise ValueError(f"dropout: probability p must be in [0, 1], got {p!r}")
    x = x if isinstance(x, Tensor) else as_tensor(x)
    p = float(p)
    if not training or p == 0.0:
        return x
    return Dropout.apply(x, p=p, scale=0.0 if p == 1.0 else 1.0 / (1.0 - p))
