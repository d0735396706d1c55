"""Activation functions. Each saves only what its derivative needs (the output where that suffices).

ReLU, GELU, tanh and sigmoid are also written as raw-array helpers (:func:`act_forward`,
:func:`act_backward`) shared by their Functions and by :func:`bias_act` / :func:`bias_act_backward`, the
bias + activation step that linear and conv2d fuse into themselves when an activation follows them
(``nn.Sequential`` asks for it), so fused and unfused layers compute the same numbers. Fast paths
(deepcore.backend.fastpath): numba for ReLU's backward on the CPU; one CUDA kernel each for the fused
bias + activation forward and backward (``kernels/activation.cu``).
"""
from __future__ import annotations

import math

import numpy as np

from ..autograd import Function
from ..backend import fastpath
from . import _cuda
from ._util import as_tensor, normalize_axis, numba_kernels, tensor_method, xp_of
from .elementwise import float_input
from .math import _erf_fit as _erf  # erf with array ops only (the CUDA kernels use the device's erf)

__all__ = ["relu", "sigmoid", "tanh", "gelu", "softmax", "log_softmax", "softmin", "leaky_relu", "elu", "softplus",
           "softsign", "hardtanh", "prelu", "silu", "selu", "celu", "relu6", "hardsigmoid", "hardswish", "mish",
           "logsigmoid"]

#: Activations that linear/conv2d can fuse (``activation=``), with their code in kernels/activation.cu.
FUSABLE = {"relu": 1, "gelu": 2, "gelu_tanh": 3, "tanh": 4, "sigmoid": 5}
_FROM_INPUT = ("gelu", "gelu_tanh")   # derivative needs the input, not the output
_INV_SQRT2, _INV_SQRT_2PI, _SQRT_2_OVER_PI, _GELU_CUBIC = (1 / math.sqrt(2), 1 / math.sqrt(2 * math.pi),
                                                           math.sqrt(2 / math.pi), 0.044715)


# --- raw-array activations ---------------------------------------------------------------------------


def _gelu_tanh_inner(xp, u):
    return xp.tanh(_SQRT_2_OVER_PI * (u + _GELU_CUBIC * u * u * u))


def act_forward(xp, act, u, out=None):
    """``act(u)`` (``act`` one of FUSABLE); with ``out=u`` in place where the result allows it."""
    if act == "relu":
        return xp.maximum(u, 0) if out is None else xp.maximum(u, 0, out=out)
    if act == "tanh":
        return xp.tanh(u) if out is None else xp.tanh(u, out=out)
    if act == "sigmoid":  # via tanh: stable for large |u|, the same value as 1 / (1 + exp(-u))
        if out is None:
            return (xp.tanh(u * 0.5) * 0.5 + 0.5).astype(u.dtype, copy=False)
        xp.multiply(u, 0.5, out=out)
        xp.tanh(out, out=out)
        out *= 0.5
        out += 0.5
        return out
    if act == "gelu":
        return (0.5 * u * (1.0 + _erf(xp, u * _INV_SQRT2))).astype(u.dtype, copy=False)
    if act == "gelu_tanh":
        return (0.5 * u * (1.0 + _gelu_tanh_inner(xp, u))).astype(u.dtype, copy=False)
    raise ValueError(f"unknown activation {act!r}; expected one of {', '.join(FUSABLE)}")


def act_backward(xp, act, gy, s):
    """The gradient of ``act`` times ``gy``; ``s`` is the output (relu, tanh, sigmoid) or the input (gelus)."""
    if act == "relu":
        fast = fastpath.select("relu_backward", gy, s)
        return fast(gy, s) if fast is not None else gy * (s > 0)
    if act == "tanh":
        return gy * (1 - s * s)
    if act == "sigmoid":
        return gy * s * (1 - s)
    if act == "gelu":
        cdf = 0.5 * (1.0 + _erf(xp, s * _INV_SQRT2))
        pdf = xp.exp(-0.5 * s * s) * _INV_SQRT_2PI
        return (gy * (cdf + s * pdf)).astype(gy.dtype, copy=False)
    if act == "gelu_tanh":
        t = _gelu_tanh_inner(xp, s)
        dinner = _SQRT_2_OVER_PI * (1.0 + 3 * _GELU_CUBIC * s * s)
        return (gy * (0.5 * (1.0 + t) + 0.5 * s * (1.0 - t * t) * dinner)).astype(gy.dtype, copy=False)
    raise ValueError(f"unknown activation {act!r}; expected one of {', '.join(FUSABLE)}")


@fastpath.override("relu_backward", "cpu",
                   when=lambda gy, y: (gy.dtype in _cuda.FLOATS and gy.dtype == y.dtype and gy.flags.c_contiguous
                                       and y.flags.c_contiguous and numba_kernels() is not None))
def _relu_backward_numba(gy, y):
    """``gy * (y > 0)`` in one numba pass (NumPy builds the boolean mask first: ~2.5x slower)."""
    return numba_kernels().relu_backward(gy, y)


# --- bias + activation, the step linear and conv2d fuse --------------------------------------------------
# ``layout`` says where z (the GEMM output, before the bias) keeps element (n, c, p) of the output ``shape``
# (N, C, *spatial): "rows" z (N, C) (linear), "nchw" z of ``shape``, "cnhw" z (C, N * P) (conv2d's columns).

def _bias_shape(shape):
    return (1, shape[1]) + (1,) * (len(shape) - 2)


def bias_act(z, b, act, layout, shape):
    """``y = act(z + b)`` of ``shape`` (act None: no activation), and what :func:`bias_act_backward` needs."""
    fast = fastpath.select("bias_act", z, b, act, layout, shape)
    if fast is not None:
        return fast(z, b, act, layout, shape)
    xp = xp_of(z)
    if layout == "cnhw":
        u = xp.ascontiguousarray(xp.moveaxis(z.reshape((shape[1], shape[0]) + tuple(shape[2:])), 0, 1))
    else:
        u = z.reshape(shape)
    if b is not None:
        u += b if layout == "rows" else b.reshape(_bias_shape(shape))
    if act is None:
        return u, None
    if act in _FROM_INPUT:
        return act_forward(xp, act, u), u
    return act_forward(xp, act, u, out=u), u


def bias_act_backward(gy, saved, act, layout, need_bias, gb_out=None):
    """(gz, gb): the gradient of z in its ``layout`` (see :func:`bias_act`) and of the bias (or None).

    ``gb_out``: where to write the bias gradient (e.g. the optimizer's flat gradient slot, see
    ``Function.grad_buffer``); gb is then that array."""
    fast = fastpath.select("bias_act_backward", gy, saved, act, layout, need_bias)
    if fast is not None:
        return fast(gy, saved, act, layout, need_bias, gb_out=gb_out)
    xp = xp_of(gy)
    gu = gy if act is None else act_backward(xp, act, gy, saved)
    if layout == "cnhw":
        gz = xp.ascontiguousarray(xp.moveaxis(gu, 1, 0)).reshape(gu.shape[1], -1)
        return gz, (gz.sum(axis=1, out=gb_out) if need_bias else None)
    axes = 0 if layout == "rows" else (0,) + tuple(range(2, gu.ndim))
    return gu, (gu.sum(axis=axes, out=gb_out) if need_bias else None)


def _layout_strides(layout, shape):
    """(N, C, P, stride of n, stride of c) of z's ``layout`` for the CUDA kernels."""
    n, c = shape[0], shape[1]
    p = int(np.prod(shape[2:], dtype=np.int64)) if len(shape) > 2 else 1
    return n, c, p, {"rows": (c, 1), "nchw": (c * p, p), "cnhw": (p, n * p)}[layout]


@fastpath.override("bias_act", "cuda",
                   when=lambda z, b, act, layout, shape: (_cuda.floats(z, b) and z.flags.c_contiguous
                                                          and (b is None or b.flags.c_contiguous)))
def _bias_act_cuda(z, b, act, layout, shape):
    """One kernel: bias, activation and (``cnhw``) the transpose to the output layout."""
    import cupy
    if b is None and act is None and layout != "cnhw":
        return z.reshape(shape), None
    n, c, p, (zs_n, zs_c) = _layout_strides(layout, shape)
    from_input = act in _FROM_INPUT
    y = z.reshape(shape) if layout != "cnhw" and not from_input else cupy.empty(shape, dtype=z.dtype)
    u = cupy.empty(shape, dtype=z.dtype) if from_input else None
    _cuda.launch_1d("activation.cu", "bias_act_fwd_" + _cuda.suffix(z.dtype), z, y.size,
                    (z, b, y, u, np.int64(n), np.int32(c), np.int64(p), np.int64(zs_n), np.int64(zs_c),
                     np.int32(FUSABLE.get(act, 0))))
    return y, (u if from_input else (y if act is not None else None))


_BWD_BLOCK = (32, 8)   # kernels/activation.cu bias_act_bwd: 32 channels (or p values) x 8 lanes


@fastpath.override("bias_act_backward", "cuda",
                   when=lambda gy, saved, act, layout, need_bias: (
                       _cuda.floats(gy, saved) and gy.flags.c_contiguous
                       and (saved is None or saved.flags.c_contiguous) and (act is not None or layout == "cnhw")))
def _bias_act_backward_cuda(gy, saved, act, layout, need_bias, gb_out=None):
    """One kernel: the activation's gradient, written in z's layout, and the bias gradient (summed in it)."""
    import cupy
    shape = gy.shape
    n, c, p, (gs_n, gs_c) = _layout_strides(layout, shape)
    gz = cupy.empty((c, n * p) if layout == "cnhw" else shape, dtype=gy.dtype)
    gb = (gb_out if gb_out is not None else cupy.empty((c,), dtype=gy.dtype)) if need_bias else None
    if gz.size:
        tiles = -(-c // _BWD_BLOCK[0]) if p == 1 else c
        _cuda.launch("activation.cu", "bias_act_bwd_" + _cuda.suffix(gy.dtype), gy,
                     (min(tiles, _cuda.MAX_BLOCKS),), _BWD_BLOCK,
                     (gy, gy if saved is None else saved, gz, gb, np.int64(n), np.int32(c), np.int64(p),
                      np.int64(gs_n), np.int64(gs_c), np.int32(FUSABLE.get(act, 0))))
    elif gb is not None:
        gb.fill(0)
    return gz, gb


# --- activation Functions ----------------------------------------------------------------------------------
class _Fusable(Function):
    """ReLU, GELU, tanh, sigmoid: the raw-array helpers above, saving the output (or, for GELU, the input)."""

    act = None

    def forward(self, x):
        y = act_forward(self._xp, self.act, x)
        self.save_for_backward(x if self.act in _FROM_INPUT else y)
        return y

    def backward(self, gy):
        (s,) = self.saved_tensors
        return act_backward(self._xp, self.act, gy, s)


class ReLU(_Fusable):
    act = "relu"


class Sigmoid(_Fusable):
    act = "sigmoid"


class Tanh(_Fusable):
    act = "tanh"


class GELU(_Fusable):
    """x * Phi(x) (``approximate="none"``) or its tanh approximation (``act = "gelu_tanh"``)."""
    act = "gelu"


class LeakyReLU(Function):
    def forward(self, x):
        mask = x > 0
        self.save_for_backward(mask)
        return self._xp.where(mask, x, x * self.negative_slope)

    def backward(self, gy):
        (mask,) = self.saved_tensors
        return self._xp.where(mask, gy, gy * self.negative_slope)


class ELU(Function):
    """``scale * x`` for x > 0, ``scale * alpha * (exp(input_scale * x) - 1)`` otherwise (ELU; SELU and CELU set
    ``scale``/``input_scale``); backward uses the output when alpha >= 0."""
    scale = 1.0
    input_scale = 1.0

    def forward(self, x):
        xp = self._xp
        neg = xp.expm1(xp.minimum(x, 0) * self.input_scale) * (self.alpha * self.scale)
        y = xp.where(x > 0, x * self.scale if self.scale != 1 else x, neg)
        self.save_for_backward(y if self.alpha >= 0 else x)
        return y

    def backward(self, gy):
        xp = self._xp
        (s,) = self.saved_tensors
        pos = gy * self.scale if self.scale != 1 else gy
        if self.alpha >= 0:  # y > 0 exactly where x > 0, and scale * alpha * exp(x) = y + scale * alpha there
            return xp.where(s > 0, pos, gy * ((s + self.alpha * self.scale) * self.input_scale))
        return xp.where(s > 0, pos, gy * xp.exp(xp.minimum(s, 0) * self.input_scale)
                        * (self.alpha * self.scale * self.input_scale))


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


class SiLU(Function):
    """x * sigmoid(x); derivative s * (1 + x * (1 - s))."""

    def forward(self, x):
        s = act_forward(self._xp, "sigmoid", x)
        self.save_for_backward(x, s)
        return x * s

    def backward(self, gy):
        x, s = self.saved_tensors
        return gy * (s * (1 + x * (1 - s)))


class Hardsigmoid(Function):
    """clip(x / 6 + 1/2, 0, 1); derivative 1/6 strictly between -3 and 3 (as PyTorch)."""

    def forward(self, x):
        self.save_for_backward((x > -3) & (x < 3))
        return self._xp.clip(x / 6 + 0.5, 0, 1).astype(x.dtype, copy=False)

    def backward(self, gy):
        (inside,) = self.saved_tensors
        return self._xp.where(inside, gy / 6, gy.dtype.type(0))


class Hardswish(Function):
    """x * hardsigmoid(x); derivative 0 up to -3, x / 3 + 1/2 strictly between -3 and 3, 1 from 3 on
    (PyTorch's values at the boundaries)."""

    def forward(self, x):
        self.save_for_backward(x)
        return x * self._xp.clip(x / 6 + 0.5, 0, 1).astype(x.dtype, copy=False)

    def backward(self, gy):
        (x,) = self.saved_tensors
        xp = self._xp
        zero = gy.dtype.type(0)
        return xp.where(x <= -3, zero, xp.where(x < 3, gy * (x / 3 + 0.5), gy))


def _softplus_stable(xp, x):
    """log(1 + exp(x)) without overflow: max(x, 0) + log1p(exp(-|x|))."""
    return xp.maximum(x, 0) + xp.log1p(xp.exp(-xp.abs(x)))


class Mish(Function):
    """x * tanh(softplus(x)); derivative t + x * sigmoid(x) * (1 - t^2) with t = tanh(softplus(x))."""

    def forward(self, x):
        xp = self._xp
        t = xp.tanh(_softplus_stable(xp, x))
        self.save_for_backward(x, t)
        return x * t

    def backward(self, gy):
        x, t = self.saved_tensors
        return gy * (t + x * act_forward(self._xp, "sigmoid", x) * (1 - t * t))


class LogSigmoid(Function):
    """log(sigmoid(x)) = min(x, 0) - log1p(exp(-|x|)); derivative sigmoid(-x)."""

    def forward(self, x):
        xp = self._xp
        self.save_for_backward(x)
        return xp.minimum(x, 0) - xp.log1p(xp.exp(-xp.abs(x)))

    def backward(self, gy):
        (x,) = self.saved_tensors
        return gy * act_forward(self._xp, "sigmoid", -x)


class Softmax(Function):
    """exp(x - max) normalised along ``axis``; backward y * (gy - sum(gy * y))."""

    def forward(self, x):
        xp = self._xp
        if x.size == 0:  # an empty axis (or batch): an empty result, as PyTorch
            y = xp.zeros_like(x)
        else:
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
        if x.size == 0:
            y = xp.zeros_like(x)
        else:
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
    """1 / (1 + exp(-x)); integer and bool inputs give float32."""
    return Sigmoid.apply(float_input(x))


@tensor_method()
def tanh(x):
    """Hyperbolic tangent; integer and bool inputs give float32."""
    return Tanh.apply(float_input(x))


_GELU_APPROXIMATIONS = {"none": "gelu", "tanh": "gelu_tanh"}


def gelu_activation(approximate="none"):
    """The fused-activation name of GELU with PyTorch's ``approximate`` ("none" | "tanh")."""
    try:
        return _GELU_APPROXIMATIONS[approximate]
    except (KeyError, TypeError):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}") from None


def gelu(x, approximate="none"):
    """Gaussian error linear unit ``x * Phi(x)``; ``approximate="tanh"`` uses PyTorch's tanh form."""
    return GELU.apply(float_input(x), act=gelu_activation(approximate))


def leaky_relu(x, negative_slope=0.01):
    """x where x > 0, else ``negative_slope * x``."""
    return LeakyReLU.apply(float_input(x), negative_slope=float(negative_slope))


def elu(x, alpha=1.0):
    """x where x > 0, else ``alpha * (exp(x) - 1)``."""
    return ELU.apply(float_input(x), alpha=float(alpha))


def softplus(x, beta=1.0, threshold=20.0):
    """Smooth ReLU ``log(1 + exp(beta * x)) / beta``; returns x where ``beta * x > threshold`` (as PyTorch)."""
    return Softplus.apply(float_input(x), beta=float(beta), threshold=float(threshold))


def softsign(x):
    """``x / (1 + |x|)``."""
    return Softsign.apply(float_input(x))


def hardtanh(x, min_val=-1.0, max_val=1.0):
    """Clamp to [min_val, max_val]; the gradient passes strictly inside the range."""
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val ({min_val}) must not exceed max_val ({max_val})")
    return Hardtanh.apply(x, min_val=float(min_val), max_val=float(max_val))


def prelu(x, weight):
    """Leaky ReLU with learned slopes: ``weight`` of shape (1,) (shared) or (C,) for the channel axis 1."""
    x = float_input(x)
    weight = as_tensor(weight, x)
    channels = x.shape[1] if x.ndim >= 2 else 1
    if weight.numel() != 1 and (weight.ndim != 1 or weight.shape[0] != channels):
        raise ValueError(f"prelu: weight of shape {weight.shape} does not match input of shape {x.shape}: "
                         f"expected (1,) or ({channels},)")
    return PReLU.apply(x, weight)


_SELU_ALPHA, _SELU_SCALE = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946


def silu(x, inplace=False):
    """x * sigmoid(x) (swish). ``inplace`` is accepted for PyTorch compatibility; the result is a new tensor."""
    return SiLU.apply(float_input(x))


def selu(x, inplace=False):
    """scale * elu(x, alpha) with the self-normalising constants (alpha 1.6733, scale 1.0507)."""
    return ELU.apply(float_input(x), alpha=_SELU_ALPHA, scale=_SELU_SCALE)


def celu(x, alpha=1.0, inplace=False):
    """max(0, x) + min(0, alpha * (exp(x / alpha) - 1))."""
    if alpha == 0:
        raise ValueError("celu: alpha must not be 0 (it divides the input)")
    return ELU.apply(float_input(x), alpha=float(alpha), input_scale=1.0 / float(alpha))


def relu6(x, inplace=False):
    """min(max(x, 0), 6); integer tensors stay integer."""
    return Hardtanh.apply(x, min_val=0.0, max_val=6.0)


def hardsigmoid(x, inplace=False):
    """clip(x / 6 + 1/2, 0, 1)."""
    return Hardsigmoid.apply(float_input(x))


def hardswish(x, inplace=False):
    """x * hardsigmoid(x)."""
    return Hardswish.apply(float_input(x))


def mish(x, inplace=False):
    """x * tanh(softplus(x))."""
    return Mish.apply(float_input(x))


def logsigmoid(x):
    """log(sigmoid(x)), finite for large |x|."""
    return LogSigmoid.apply(float_input(x))


def _softmax_axis(x, axis, dim, name):
    axis = normalize_axis(axis, x.ndim, dim=dim)
    if isinstance(axis, tuple) and len(set(axis)) != len(axis):
        raise ValueError(f"{name}: axis {axis} names a dimension more than once")
    return None if x.ndim == 0 else axis  # a 0-d tensor is its own (single-element) slice


def _softmax_input(x, dtype):
    x = float_input(x)
    return x if dtype is None else x.to(dtype=dtype)


@tensor_method()
def softmax(x, axis=-1, *, dim=None, dtype=None):
    """exp(x) / sum(exp(x)) along ``axis`` (``dim`` alias), computed stably; ``dtype`` casts the input first."""
    x = _softmax_input(x, dtype)
    return Softmax.apply(x, axis=_softmax_axis(x, None if dim is not None else axis, dim, "softmax"))


@tensor_method()
def log_softmax(x, axis=-1, *, dim=None, dtype=None):
    """log(softmax(x)) along ``axis``, computed directly so it stays finite for large logits."""
    x = _softmax_input(x, dtype)
    return LogSoftmax.apply(x, axis=_softmax_axis(x, None if dim is not None else axis, dim, "log_softmax"))


def softmin(x, axis=-1, *, dim=None, dtype=None):
    """softmax(-x) along ``axis``: weights that favour the smallest entries."""
    x = _softmax_input(x, dtype)
    axis = _softmax_axis(x, None if dim is not None else axis, dim, "softmin")
    return Softmax.apply(-x, axis=axis)
