"""Batch and layer normalisation, each one Function with the closed-form backward.

Both normalise ``xhat = (x - mean) / sqrt(var + eps)`` (biased variance) and apply an optional affine
``xhat * weight + bias``. With batch statistics the input gradient is
``invstd * (gxhat - mean(gxhat) - xhat * mean(gxhat * xhat))`` over the reduced axes.
"""
from __future__ import annotations

import math
import numbers

from ..autograd import Function
from ..errors import ShapeError
from ..tensor import Tensor
from ._util import as_tensor

__all__ = ["batch_norm", "layer_norm"]


def _normalized_backward(gxhat, xhat, invstd, axes):
    """Gradient through ``xhat = (x - mean(x)) * invstd`` where mean and variance are over ``axes``."""
    return invstd * (gxhat - gxhat.mean(axis=axes, keepdims=True)
                     - xhat * (gxhat * xhat).mean(axis=axes, keepdims=True))


def _centered_stats(x, axes, first):
    """``(x - mean, mean, biased variance)`` over ``axes``, computed from ``x - x[first]``.

    Shifting by one element of each group first makes a constant group exactly 0 (its mean is exactly its
    value), and keeps the variance accurate when the values sit far from 0.
    """
    shift = x[first]
    d = x - shift
    m = d.mean(axis=axes, keepdims=True)
    d -= m
    return d, shift + m, (d * d).mean(axis=axes, keepdims=True)


def _affine_grads(needs, gy, xhat, axes, shape):
    gw = (gy * xhat).sum(axis=axes).reshape(shape) if needs[1] else None
    gb = gy.sum(axis=axes).reshape(shape) if needs[2] else None
    return gw, gb


class BatchNorm(Function):
    """Normalise per channel (axis 1) over the batch and spatial axes; updates running stats in training."""

    def forward(self, x, w, b):
        xp = self._xp
        axes = (0,) + tuple(range(2, x.ndim))
        bshape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
        if self.training and x.size:
            centered, mean, var = _centered_stats(x, axes, (slice(0, 1), slice(None)) + (slice(0, 1),) * (x.ndim - 2))
            self._update_running(mean, var, x.size // x.shape[1])
        elif self.training:                            # an empty batch: empty output, running stats kept (torch)
            centered, var = x, xp.ones(bshape, dtype=x.dtype)
        else:
            mean = self.running_mean.reshape(bshape).astype(x.dtype, copy=False)
            var = self.running_var.reshape(bshape).astype(x.dtype, copy=False)
            centered = x - mean
        invstd = 1.0 / xp.sqrt(var + self.eps)
        xhat = centered * invstd
        y = xhat if w is None else xhat * w.reshape(bshape)
        if b is not None:
            y = y + b.reshape(bshape)
        need_xhat = self.training or self.needs_input_grad[1]
        self.axes, self.bshape = axes, bshape
        self.save_for_backward(xhat if need_xhat else None, invstd, w)
        return y.astype(x.dtype, copy=False)

    def _update_running(self, mean, var, n):
        """running = (1 - momentum) * running + momentum * batch stat, unbiased variance, in place."""
        m = self.momentum
        if self.running_mean is not None:
            rm = self.running_mean
            rm[...] = (rm * (1.0 - m) + mean.reshape(-1).astype(rm.dtype) * m).astype(rm.dtype, copy=False)
        if self.running_var is not None:
            rv = self.running_var
            unbiased = var.reshape(-1).astype(rv.dtype) * (n / (n - 1))
            rv[...] = (rv * (1.0 - m) + unbiased * m).astype(rv.dtype, copy=False)

    def backward(self, gy):
        xhat, invstd, w = self.saved_tensors
        gxhat = gy if w is None else gy * w.reshape(self.bshape)
        gx = None
        if self.needs_input_grad[0]:
            if self.training and gy.size:
                gx = _normalized_backward(gxhat, xhat, invstd, self.axes)
            elif self.training:                        # an empty batch
                gx = gxhat
            else:
                gx = gxhat * invstd
        gw, gb = _affine_grads(self.needs_input_grad, gy, xhat, self.axes, (-1,))
        return gx, gw, gb


def _raw(name, what, value, x, shape):
    """The array of ``value`` (Tensor or array) checked to have ``shape``; None stays None."""
    if value is None:
        return None
    arr = value.data if isinstance(value, Tensor) else value
    if tuple(arr.shape) != tuple(shape):
        raise ShapeError(f"{name}: {what} has shape {tuple(arr.shape)} but input of shape {x.shape} needs "
                         f"{tuple(shape)}")
    return arr


def batch_norm(x, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
    """Batch normalisation of (N, C), (N, C, L) or (N, C, H, W) input over every axis but the channel axis 1.

    Training uses the batch statistics and updates ``running_mean``/``running_var`` in place (momentum,
    unbiased variance); evaluation uses the running statistics (torch.nn.functional.batch_norm).
    """
    name = "batch_norm"
    x = x if isinstance(x, Tensor) else as_tensor(x)
    if x.ndim < 2:
        raise ShapeError(f"batch_norm: expected input of shape (N, C, ...) with at least 2 dimensions, "
                         f"got shape {x.shape}")
    C = x.shape[1]
    w = _other_tensor(x, weight)
    b = _other_tensor(x, bias)
    for what, t in (("weight", w), ("bias", b)):
        if t is not None and t.shape != (C,):
            raise ShapeError(f"{name}: {what} has shape {t.shape} but input of shape {x.shape} has {C} "
                             f"channels; expected ({C},)")
    rm = _raw(name, "running_mean", running_mean, x, (C,))
    rv = _raw(name, "running_var", running_var, x, (C,))
    for what, arr in (("running_mean", rm), ("running_var", rv)):
        if arr is not None and type(arr) is not type(x.data):
            raise RuntimeError(f"{name}: {what} is on a different device than the input ({x.device})")
    if training:
        if C and math.prod(x.shape) // C == 1:            # torch: one value per channel has no variance; 0 is fine
            raise ValueError(f"{name}: expected more than 1 value per channel when training, got input of "
                             f"shape {x.shape}")
    elif rm is None or rv is None:
        raise ValueError(f"{name}: running_mean and running_var are required when training=False")
    return BatchNorm.apply(x, w, b, running_mean=rm, running_var=rv, training=bool(training),
                           momentum=float(momentum), eps=float(eps))


def _other_tensor(x, value):
    if value is None or isinstance(value, Tensor):
        return value
    return as_tensor(value, x)


class LayerNorm(Function):
    """Normalise over the trailing ``len(normalized_shape)`` axes of each sample."""

    def forward(self, x, w, b):
        xp = self._xp
        axes = tuple(range(x.ndim - self.k, x.ndim))
        if x.size:
            centered, _, var = _centered_stats(x, axes, (Ellipsis,) + (slice(0, 1),) * self.k)
        else:                                          # nothing to normalise: an empty result, as torch
            centered, var = x, xp.ones(x.shape[:x.ndim - self.k] + (1,) * self.k, dtype=x.dtype)
        invstd = 1.0 / xp.sqrt(var + self.eps)
        xhat = centered * invstd
        y = xhat if w is None else xhat * w
        if b is not None:
            y = y + b
        self.axes = axes
        self.save_for_backward(xhat, invstd, w)
        return y.astype(x.dtype, copy=False)

    def backward(self, gy):
        xhat, invstd, w = self.saved_tensors
        lead = tuple(range(gy.ndim - self.k))
        gx = None
        if self.needs_input_grad[0]:
            gxhat = gy if w is None else gy * w
            gx = _normalized_backward(gxhat, xhat, invstd, self.axes) if gy.size else gxhat
        shape = gy.shape[gy.ndim - self.k:]
        gw, gb = _affine_grads(self.needs_input_grad, gy, xhat, lead, shape)
        return gx, gw, gb


def layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Layer normalisation over the trailing dimensions ``normalized_shape`` (torch.nn.functional.layer_norm)."""
    name = "layer_norm"
    x = x if isinstance(x, Tensor) else as_tensor(x)
    if isinstance(normalized_shape, numbers.Integral):
        shape = (int(normalized_shape),)
    else:
        shape = tuple(int(s) for s in normalized_shape)
    k = len(shape)
    if k == 0 or k > x.ndim or x.shape[x.ndim - k:] != shape:
        raise ShapeError(f"{name}: normalized_shape {shape} does not match the last dimension(s) of input shape "
                         f"{x.shape}")
    w = _other_tensor(x, weight)
    b = _other_tensor(x, bias)
    for what, t in (("weight", w), ("bias", b)):
        if t is not None and t.shape != shape:
            raise ShapeError(f"{name}: {what} has shape {t.shape} but normalized_shape is {shape}")
    return LayerNorm.apply(x, w, b, k=k, eps=float(eps))
