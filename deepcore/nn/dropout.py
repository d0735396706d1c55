"""Dropout layer."""
from __future__ import annotations

from ..ops.dropout import dropout
from .module import Module


class Dropout(Module):
    """Inverted dropout: zero each element with probability p in training, scale the rest by 1/(1-p)."""

    def __init__(self, p: float = 0.5):
        super().__init__()
        if not 0 <= p <= 1:
            raise ValueError(f"Dropout: p must be in [0, 1], got {p}")
        self.p = p

    def forward(self, x):
        return dropout(x, self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}"
