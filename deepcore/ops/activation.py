"""Activation functions. Each saves only what its derivative needs (the output where that suffices)."""
from __future__ import annotations

from ..autograd import Function
from ._util import tensor_method


class ReLU(Function):
    def forward(self, x):
        y = self._xp.maximum(x, 0)
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        (y,) = self.saved_tensors
        return gy * (y > 0)


class Sigmoid(Function):
    def forward(self, x):
        xp = self._xp
        y = xp.tanh(x * 0.5) * 0.5 + 0.5  # stable for large |x|, same value as 1 / (1 + exp(-x))
        y = y.astype(x.dtype, copy=False)
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        (y,) = self.saved_tensors
        return gy * y * (1 - y)


class Tanh(Function):
    def forward(self, x):
        y = self._xp.tanh(x)
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        (y,) = self.saved_tensors
        return gy * (1 - y * y)


@tensor_method()
def relu(x):
    return ReLU.apply(x)


@tensor_method()
def sigmoid(x):
    return Sigmoid.apply(x)


@tensor_method()
def tanh(x):
    return Tanh.apply(x)
__all__ = ["relu", "sigmoid", "tanh"]
