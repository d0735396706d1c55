"""Dropout layer."""
from __future__ import annotations

from ..ops.dropout import dropout
from ._checks import number
from .module import Module


class Dropout(Module):
    """Inverted dropout: zero each element with probability p in training, scale the rest by 1/(1-p)."""

    def __init__(self, p: float = 0.5):
        super().__init__()
        self.p = number("Dropout", "p", p, low=0.0, high=1.0)

    def forward(self, x):
        return dropout(x, self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}"
