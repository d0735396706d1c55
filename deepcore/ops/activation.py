"""Activation functions. Each saves only what its derivative needs (the output where that suffices)."""
from __future__ import annotations

import numpy as np

from ..autograd import Function
from ._util import as_tensor, normalize_axis, numba_kernels, tensor_method

__all__ = ["relu", "sigmoid", "tanh", "softmax", "log_softmax", "leaky_relu", "elu", "softplus", "softsign",
           "hardtanh", "prelu"]


class ReLU(Function):
    def forward(self, x):
        y = self._xp.maximum(x, 0)
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        (y,) = self.saved_tensors
        if _fast_relu_backward(gy, y):
            return numba_kernels().relu_backward(gy, y)
        return gy * (y > 0)


def _fast_relu_backward(gy, y):
    """Whether the numba ReLU backward applies: NumPy float32/float64, same dtype, both contiguous."""
    return (isinstance(gy, np.ndarray) and gy.dtype in (np.float32, np.float64) and gy.dtype == y.dtype
            and gy.flags.c_contiguous and y.flags.c_contiguous and numba_kernels() is not None)


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


class LeakyReLU(Function):
    def forward(self, x):
        mask = x > 0
        self.save_for_backward(mask)
        return self._xp.where(mask, x, x * self.negative_slope)

    def backward(self, gy):
        (mask,) = self.saved_tensors
        return self._xp.where(mask, gy, gy * self.negative_slope)


class ELU(Function):
    """x for x > 0, alpha * (exp(x) - 1) otherwise; backward uses the output when alpha >= 0."""

    def forward(self, x):
        xp = self._xp
        y = xp.where(x > 0, x, xp.expm1(xp.minimum(x, 0)) * self.alpha)
        self.save_for_backward(y if self.alpha >= 0 else x)
        return y

    def backward(self, gy):
        xp = self._xp
        (s,) = self.saved_tensors
        if self.alpha >= 0:  # y > 0 exactly where x > 0, and alpha * exp(x) = y + alpha there
            return xp.where(s > 0, gy, gy * (s + self.alpha))
        return xp.where(s > 0, gy, gy * xp.exp(xp.minimum(s, 0)) * self.alpha)


class Softplus(Function):
    """log(1 + exp(beta x)) / beta, linear above ``threshold`` (PyTorch semantics)."""

    def forward(self, x):
        xp = self._xp
        z = x * self.beta
        linear = z > self.threshold
        y = xp.where(linear, x, xp.log1p(xp.exp(xp.minimum(z, self.threshold))) / self.beta)
        self.save_for_backward(y, linear)
        return y

    def backward(self, gy):
        y, linear = self.saved_tensors
        # sigmoid(beta x) = 1 - exp(-beta y), written with expm1 so it stays accurate for small y
        return self._xp.where(linear, gy, -self._xp.expm1(y * -self.beta) * gy)


class Softsign(Function):
    def forward(self, x):
        y = x / (1 + self._xp.abs(x))
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        (y,) = self.saved_tensors
        s = 1 - self._xp.abs(y)  # = 1 / (1 + |x|)
        return gy * s * s


class Hardtanh(Function):
    def forward(self, x):
        self.save_for_backward((x > self.min_val) & (x < self.max_val))
        return self._xp.clip(x, self.min_val, self.max_val).astype(x.dtype, copy=False)

    def backward(self, gy):
        (mask,) = self.saved_tensors
        return gy * mask


class PReLU(Function):
    """leaky ReLU with a learned slope per channel (axis 1) or one shared slope."""

    def forward(self, x, weight):
        w = weight.reshape(()) if weight.size == 1 else weight.reshape((-1,) + (1,) * (x.ndim - 2))
        self.w_shape = weight.shape
        self.save_for_backward(x, w)
        return self._xp.where(x > 0, x, x * w)

    def backward(self, gy):
        x, w = self.saved_tensors
        xp = self._xp
        pos = x > 0
        gx = xp.where(pos, gy, gy * w) if self.needs_input_grad[0] else None
        gw = None
        if self.needs_input_grad[1]:
            contrib = xp.where(pos, gy.dtype.type(0), gy * x)
            axes = tuple(i for i in range(x.ndim) if not (i == 1 and w.ndim > 0))
            gw = contrib.sum(axis=axes or None).reshape(self.w_shape)
        return gx, gw


class Softmax(Function):
    """exp(x - max) normalised along ``axis``; backward y * (gy - sum(gy * y))."""

    def forward(self, x):
        xp = self._xp
        e = xp.exp(x - xp.max(x, axis=self.axis, keepdims=True))
        y = e / xp.sum(e, axis=self.axis, keepdims=True)
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        (y,) = self.saved_tensors
        gyy = gy * y
        return gyy - y * gyy.sum(axis=self.axis, keepdims=True)


class LogSoftmax(Function):
    """x - max - log(sum(exp(x - max))) along ``axis``; backward gy - softmax * sum(gy)."""

    def forward(self, x):
        xp = self._xp
        s = x - xp.max(x, axis=self.axis, keepdims=True)
        y = s - xp.log(xp.sum(xp.exp(s), axis=self.axis, keepdims=True))
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        (y,) = self.saved_tensors
        return gy - self._xp.exp(y) * gy.sum(axis=self.axis, keepdims=True)


@tensor_method()
def relu(x):
    return ReLU.apply(x)


@tensor_method()
def sigmoid(x):
    return Sigmoid.apply(x)


@tensor_method()
def tanh(x):
    return Tanh.apply(x)


def leaky_relu(x, negative_slope=0.01):
    """x where x > 0, else ``negative_slope * x``."""
    return LeakyReLU.apply(x, negative_slope=float(negative_slope))


def elu(x, alpha=1.0):
    """x where x > 0, else ``alpha * (exp(x) - 1)``."""
    return ELU.apply(x, alpha=float(alpha))


def softplus(x, beta=1.0, threshold=20.0):
    """Smooth ReLU ``log(1 + exp(beta * x)) / beta``; returns x where ``beta * x > threshold`` (as PyTorch)."""
    return Softplus.apply(x, beta=float(beta), threshold=float(threshold))


def softsign(x):
    """``x / (1 + |x|)``."""
    return Softsign.apply(x)


def hardtanh(x, min_val=-1.0, max_val=1.0):
    """Clamp to [min_val, max_val]; the gradient passes strictly inside the range."""
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val ({min_val}) must not exceed max_val ({max_val})")
    return Hardtanh.apply(x, min_val=float(min_val), max_val=float(max_val))


def prelu(x, weight):
    """Leaky ReLU with learned slopes: ``weight`` of shape (1,) (shared) or (C,) for the channel axis 1."""
    weight = as_tensor(weight, x)
    channels = x.shape[1] if x.ndim >= 2 else 1
    if weight.size != 1 and (weight.ndim != 1 or weight.shape[0] != channels):
        raise ValueError(f"prelu: weight of shape {weight.shape} does not match input of shape {x.shape}: "
                         f"expected (1,) or ({channels},)")
    return PReLU.apply(x, weight)


def _softmax_axis(x, axis, dim):
    axis = normalize_axis(axis, x.ndim, dim=dim)
    return None if x.ndim == 0 else axis  # a 0-d tensor is its own (single-element) slice


@tensor_method()
def softmax(x, axis=-1, *, dim=None):
    """exp(x) / sum(exp(x)) along ``axis`` (``dim`` alias), computed stably."""
    return Softmax.apply(x, axis=_softmax_axis(x, None if dim is not None else axis, dim))


@tensor_method()
def log_softmax(x, axis=-1, *, dim=None):
    """log(softmax(x)) along ``axis``, computed directly so it stays finite for large logits."""
    return LogSoftmax.apply(x, axis=_softmax_axis(x, None if dim is not None else axis, dim))
