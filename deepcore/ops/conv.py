"""2-D convolution (PyTorch layout: x NCHW, weight (out, in/groups, kh, kw)) as im2col + one GEMM per group.

Columns live in ONE contiguous buffer of layout (C, KH, KW, N, OH, OW), i.e. a (C*KH*KW, N*OH*OW) matrix
whose rows come group after group, so forward is ``w_g @ cols_g`` and backward is two more GEMMs plus
col2im. 1x1 convolutions with stride 1 and no padding skip im2col entirely. The bias (and an activation
that follows, ``activation=``) is one step after the GEMM, :func:`~deepcore.ops.activation.bias_act`,
which on the GPU also moves the GEMM's (O, N*OH*OW) result to NCHW in the same kernel.

The generic path runs on numpy and cupy. Fast paths (deepcore.backend.fastpath), tested against it:
"conv2d" on the CPU (stride-1 shifted GEMMs, ``conv_shifted``), "col2im" on the CPU (numba), "im2col" and
"col2im" on the GPU (``kernels/conv.cu``).
"""
from __future__ import annotations

import numpy as np

from ..autograd import Function
from ..backend import fastpath
from ..errors import ShapeError
from ..tensor import Tensor
from . import _cuda, conv_shifted
from ._util import as_tensor, numba_kernels as _numba_kernels
from .activation import FUSABLE, bias_act, bias_act_backward

__all__ = ["conv2d", "conv1d", "conv_transpose2d"]


def _pair(value, name, fn="conv2d", minimum=1):
    """An int or a pair of ints as a validated 2-tuple."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"{fn}: {name} must be an int or a pair of ints, got {tuple(value)}")
        pair = tuple(value)
    else:
        pair = (value, value)
    try:
        pair = tuple(int(v) for v in pair)
    except (TypeError, ValueError):
        raise TypeError(f"{fn}: {name} must be an int or a pair of ints, got {value!r}") from None
    if any(v < minimum for v in pair):
        raise ValueError(f"{fn}: {name} must be >= {minimum}, got {pair}")
    return pair


# ---------------------------------------------------------------------------------------------------------
# im2col / col2im: generic xp code (numpy and cupy) and the fast paths.

def _im2col_xp(xp, x, kh, kw, oh, ow, stride, padding, dilation):
    """Columns (C, KH, KW, N, OH, OW) of ``x`` (N, C, H, W): one strided copy per kernel offset."""
    n, c, h, w = x.shape
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    if ph or pw:
        xpad = xp.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=x.dtype)
        xpad[:, :, ph:ph + h, pw:pw + w] = x
    else:
        xpad = x
    cols = xp.empty((c, kh, kw, n, oh, ow), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            win = xpad[:, :, i * dh:i * dh + sh * (oh - 1) + 1:sh, j * dw:j * dw + sw * (ow - 1) + 1:sw]
            cols[:, i, j] = win.transpose(1, 0, 2, 3)
    return cols


def _col2im_xp(xp, gcols, x_shape, stride, padding, dilation):
    """Adjoint of :func:`_im2col_xp`: add every column entry back onto the input cell it was read from."""
    n, c, h, w = x_shape
    _, kh, kw, _, oh, ow = gcols.shape
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    gpad = xp.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=gcols.dtype)
    for i in range(kh):
        for j in range(kw):
            gpad[:, :, i * dh:i * dh + sh * (oh - 1) + 1:sh, j * dw:j * dw + sw * (ow - 1) + 1:sw] += \
                gcols[:, i, j].transpose(1, 0, 2, 3)
    if ph or pw:
        gpad = gpad[:, :, ph:ph + h, pw:pw + w]
    return xp.ascontiguousarray(gpad)


def _im2col(xp, x, kh, kw, oh, ow, stride, padding, dilation):
    fast = fastpath.select("im2col", x, kh, kw, oh, ow, stride, padding, dilation)
    if fast is not None:
        return fast(x, kh, kw, oh, ow, stride, padding, dilation)
    return _im2col_xp(xp, x, kh, kw, oh, ow, stride, padding, dilation)


def _col2im(xp, gcols, x_shape, stride, padding, dilation):
    fast = fastpath.select("col2im", gcols, x_shape, stride, padding, dilation)
    if fast is not None:
        return fast(gcols, x_shape, stride, padding, dilation)
    return _col2im_xp(xp, gcols, x_shape, stride, padding, dilation)


def _conv_args(x_shape, kh, kw, oh, ow, stride, padding, dilation, total):
    n, c, h, w = x_shape
    ints = (n, c, h, w, kh, kw, oh, ow, *stride, *padding, *dilation)
    return tuple(np.int32(v) for v in ints) + (np.int64(total),)


def _floats(a, *_):
    return _cuda.floats(a)


@fastpath.override("im2col", "cuda", when=_floats)
def _im2col_cuda(x, kh, kw, oh, ow, stride, padding, dilation):
    import cupy
    x = cupy.ascontiguousarray(x)
    n, c = x.shape[:2]
    cols = cupy.empty((c, kh, kw, n, oh, ow), dtype=x.dtype)
    _cuda.launch_1d("conv.cu", "im2col_" + _cuda.suffix(x.dtype), x, cols.size,
                    (x, cols) + _conv_args(x.shape, kh, kw, oh, ow, stride, padding, dilation, cols.size))
    return cols


@fastpath.override("col2im", "cuda", when=_floats)
def _col2im_cuda(gcols, x_shape, stride, padding, dilation):
    import cupy
    gcols = cupy.ascontiguousarray(gcols)
    _, kh, kw, _, oh, ow = gcols.shape
    gx = cupy.empty(x_shape, dtype=gcols.dtype)
    _cuda.launch_1d("conv.cu", "col2im_" + _cuda.suffix(gcols.dtype), gcols, gx.size,
                    (gcols, gx) + _conv_args(x_shape, kh, kw, oh, ow, stride, padding, dilation, gx.size))
    return gx


@fastpath.override("col2im", "cpu", when=lambda gcols, *_: gcols.dtype in _cuda.FLOATS and _numba_kernels())
def _col2im_numba(gcols, x_shape, stride, padding, dilation):
    return _numba_kernels().col2im(gcols, *x_shape, *stride, *padding, *dilation)


# ---------------------------------------------------------------------------------------------------------
# The convolution: how the GEMMs are arranged is a strategy (forward + backward) chosen per call.

class _Im2col:
    """The generic path: columns and one GEMM per group (1x1 stride-1 convolutions: no columns)."""

    @staticmethod
    def forward(fn, x, w, b):
        """(z, layout, saved, bias): the convolution in a layout :func:`bias_act` understands, what backward
        needs of x and w, and the bias still to add (None when already added)."""
        xp = fn._xp
        n, c, h, wd = x.shape
        o, cg, kh, kw = w.shape
        g = fn.groups
        oh, ow = fn.out_hw
        saved = (x if fn.needs_input_grad[1] else None, w if fn.needs_input_grad[0] else None)
        if fn.pointwise:
            # (G, Og, Cg) @ (N, G, Cg, H*W) -> (N, G, Og, H*W): NCHW directly, no columns.
            return xp.matmul(w.reshape(g, o // g, cg), x.reshape(n, g, cg, h * wd)), "nchw", saved, b
        cols = _im2col(xp, x, kh, kw, oh, ow, fn.stride, fn.padding, fn.dilation)
        z = xp.matmul(w.reshape(g, o // g, cg * kh * kw), cols.reshape(g, cg * kh * kw, n * oh * ow))
        return z, "cnhw", saved, b

    @staticmethod
    def backward(fn, gy, need_b):
        xp = fn._xp
        x, w = fn.saved_tensors[:2]
        n, c, h, wd = fn.x_shape
        g = fn.groups
        oh, ow = fn.out_hw
        need_x, need_w = fn.needs_input_grad[0], fn.needs_input_grad[1]
        gx = gw = None
        if fn.pointwise:
            gz, gb = fn.bias_act_backward(gy, "nchw", need_b)
            o, cg = gz.shape[1], c // g
            gy_r = gz.reshape(n, g, o // g, oh * ow)
            if need_x:
                wt = w.reshape(g, o // g, cg).transpose(0, 2, 1)
                gx = xp.matmul(wt, gy_r).reshape(fn.x_shape)
            if need_w:
                gy_t = gy_r.transpose(1, 2, 0, 3).reshape(g, o // g, n * oh * ow)
                x_t = x.reshape(n, g, cg, h * wd).transpose(1, 0, 3, 2).reshape(g, n * h * wd, cg)
                gw = xp.matmul(gy_t, x_t).reshape(o, cg, 1, 1)
            return gx, gw, gb
        gz, gb = fn.bias_act_backward(gy, "cnhw", need_b)
        o = gz.shape[0]
        kh, kw = fn.kernel
        ckk = c // g * kh * kw
        gy_t = gz.reshape(g, o // g, n * oh * ow)
        if need_w:
            cols = _im2col(xp, x, kh, kw, oh, ow, fn.stride, fn.padding, fn.dilation)
            dest = fn.grad_buffer(1)  # the optimizer's gradient slot of the weight, when it may be written
            gw = xp.matmul(gy_t, cols.reshape(g, ckk, n * oh * ow).transpose(0, 2, 1),
                           out=None if dest is None else dest.reshape(g, o // g, ckk))
            gw = gw.reshape(o, c // g, kh, kw) if dest is None else dest
            del cols
        if need_x:
            gcols = xp.matmul(w.reshape(g, o // g, ckk).transpose(0, 2, 1), gy_t)
            gx = _col2im(xp, gcols.reshape(c, kh, kw, n, oh, ow), fn.x_shape, fn.stride, fn.padding, fn.dilation)
        return gx, gw, gb


@fastpath.override("conv2d", "cpu", when=lambda fn, x, w: not fn.pointwise and conv_shifted.applies(
    x, w, fn.stride, fn.groups))
class _Shifted:
    """CPU stride-1 convolutions as kh*kw shifted GEMMs (``conv_shifted``): the input saved on its grid."""

    @staticmethod
    def forward(fn, x, w, b):
        n = x.shape[0]
        fn.grid = conv_shifted.grid_of(x.shape, fn.kernel, fn.padding, fn.dilation, fn.out_hw)
        x_grid = conv_shifted.to_grid(x, fn.grid, fn.grid.base)
        saved = (x_grid if fn.needs_input_grad[1] else None, w if fn.needs_input_grad[0] else None)
        return conv_shifted.forward(x_grid, fn.grid, w, n, fn.out_hw, b), "nchw", saved, None  # bias added

    @staticmethod
    def backward(fn, gy, need_b):
        x_grid, w = fn.saved_tensors[:2]
        need_x, need_w = fn.needs_input_grad[0], fn.needs_input_grad[1]
        gz, gb = fn.bias_act_backward(gy, "nchw", need_b)
        gy_grid = conv_shifted.grad_output_on_grid(gz, fn.grid)
        gw = conv_shifted.weight_grad(gy_grid, x_grid, fn.grid, fn.kernel) if need_w else None
        gx = conv_shifted.input_grad(gy_grid, fn.grid, w, fn.x_shape) if need_x else None
        return gx, gw, gb


class Conv2d(Function):
    """y[n, o] = act(sum_{c in group(o), i, j} w[o, c, i, j] * xpad[n, c, oh*s + i*d, ow*s + j*d] + b[o]).

    Saves x and w (x only if the weight needs a gradient, w only if the input does) and what the
    activation's derivative needs; the columns are rebuilt in backward rather than kept, trading one
    im2col for kh*kw times less memory. The GEMMs follow a strategy: :class:`_Im2col` (generic) or a fast
    path registered as "conv2d" (on the CPU, stride-1 convolutions take :class:`_Shifted`).
    """

    activation = None

    def forward(self, x, w, b=None):
        self.x_shape = x.shape
        self.impl = fastpath.select("conv2d", self, x, w) or _Im2col
        z, layout, (x_saved, w_saved), b = self.impl.forward(self, x, w, b)
        y, act_saved = bias_act(z, b, self.activation, layout, (x.shape[0], w.shape[0]) + tuple(self.out_hw))
        self.save_for_backward(x_saved, w_saved, act_saved)
        return y

    def bias_act_backward(self, gy, layout, need_b):
        """(gz, gb): the gradient before the bias and activation, in the strategy's ``layout``, and of the bias."""
        return bias_act_backward(gy, self.saved_tensors[2], self.activation, layout, need_b,
                                 gb_out=self.grad_buffer(2))

    def backward(self, gy):
        need_b = len(self.needs_input_grad) > 2 and self.needs_input_grad[2]
        gx, gw, gb = self.impl.backward(self, gy, need_b)
        return (gx, gw, gb)[:len(self.needs_input_grad)]


def _tensors(fn, x, weight, bias):
    if not isinstance(weight, Tensor):
        weight = as_tensor(weight, x if isinstance(x, Tensor) else None)
    if not isinstance(x, Tensor):
        x = as_tensor(x, weight)
    if bias is not None and not isinstance(bias, Tensor):
        bias = as_tensor(bias, weight)
    if x.dtype != weight.dtype or (bias is not None and bias.dtype != weight.dtype):
        got = f"input {x.dtype}, weight {weight.dtype}" + ("" if bias is None else f", bias {bias.dtype}")
        raise TypeError(f"{fn}: input, weight and bias must have the same dtype, got {got}")
    return x, weight, bias


def _string_padding(fn, x, padding, stride, dilation, kernel):
    """torch's ``padding="valid"|"same"``: (x, symmetric padding). "same" (stride 1 only) pads
    dilation * (k - 1) in all, the odd cell on the right/bottom (an explicit pad of x then)."""
    if padding == "valid":
        return x, (0,) * len(kernel)
    if padding != "same":
        raise ValueError(f"{fn}: invalid padding string {padding!r}; expected 'valid', 'same' or ints")
    if any(s != 1 for s in stride):
        raise ValueError(f"{fn}: padding='same' is not supported for strided convolutions (stride={stride})")
    totals = [d * (k - 1) for d, k in zip(dilation, kernel)]
    sym = tuple(t // 2 for t in totals)
    extra = [t - 2 * (t // 2) for t in totals]
    if any(extra):
        from .shape import pad
        widths = []
        for e in reversed(extra):                       # torch's F.pad order: last axis first
            widths += [0, e]
        x = pad(x, tuple(widths))
    return x, sym


def _groups(fn, groups):
    if isinstance(groups, bool) or not isinstance(groups, (int, np.integer)) or groups < 1:
        raise ValueError(f"{fn}: groups must be a positive int, got {groups!r}")
    return int(groups)


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, *, activation=None):
    """2-D convolution with PyTorch semantics: x (N, C, H, W) or (C, H, W), weight (out, C/groups, kh, kw),
    bias (out,); ``padding`` an int, a pair, or "valid"/"same" (stride 1).

    ``activation`` (deepcore extension, as in :func:`deepcore.ops.linalg.linear`) applies "relu", "gelu",
    "gelu_tanh", "tanh" or "sigmoid" in the same op; ``nn.Sequential`` uses it for a Conv2d followed by one.
    """
    if activation is not None and activation not in FUSABLE:
        raise ValueError(f"conv2d: activation must be None or one of {', '.join(FUSABLE)}, got {activation!r}")
    x, weight, bias = _tensors("conv2d", x, weight, bias)
    stride = _pair(stride, "stride")
    dilation = _pair(dilation, "dilation")
    groups = _groups("conv2d", groups)
    if isinstance(padding, str):
        if weight.ndim != 4:
            raise ShapeError(f"conv2d: expected a 4-D weight (out_channels, in_channels/groups, kh, kw), "
                             f"got shape {weight.shape}")
        x, padding = _string_padding("conv2d", x, padding, stride, dilation, weight.shape[2:])
    padding = _pair(padding, "padding", minimum=0)
    if x.ndim == 3 and weight.ndim == 4:            # unbatched (C, H, W), as in PyTorch
        y = conv2d(x.reshape((1,) + x.shape), weight, bias, stride, padding, dilation, groups, activation=activation)
        return y.reshape(y.shape[1:])
    if x.ndim != 4:
        raise ShapeError(f"conv2d: expected a 4-D input (N, C, H, W), got shape {x.shape}")
    if weight.ndim != 4:
        raise ShapeError(f"conv2d: expected a 4-D weight (out_channels, in_channels/groups, kh, kw), "
                         f"got shape {weight.shape}")
    n, c, h, w = x.shape
    o, cg, kh, kw = weight.shape
    if c % groups:
        raise ShapeError(f"conv2d: in_channels ({c}) is not divisible by groups ({groups})")
    if o % groups:
        raise ShapeError(f"conv2d: out_channels ({o}) is not divisible by groups ({groups})")
    if cg * groups != c:
        raise ShapeError(f"conv2d: input has {c} channels but weight expects {cg * groups} (groups={groups}); "
                         f"input shape {x.shape}, weight shape {weight.shape}")
    if bias is not None and bias.shape != (o,):
        raise ShapeError(f"conv2d: bias must have shape {(o,)}, got {bias.shape}")
    ekh, ekw = dilation[0] * (kh - 1) + 1, dilation[1] * (kw - 1) + 1
    hp, wp = h + 2 * padding[0], w + 2 * padding[1]
    if ekh > hp or ekw > wp:
        raise ShapeError(f"conv2d: kernel size {(ekh, ekw)} (after dilation) is larger than the padded input "
                         f"{(hp, wp)}")
    out_hw = ((hp - ekh) // stride[0] + 1, (wp - ekw) // stride[1] + 1)
    pointwise = kh == 1 and kw == 1 and stride == (1, 1) and padding == (0, 0)
    inputs = (x, weight) if bias is None else (x, weight, bias)
    return Conv2d.apply(*inputs, stride=stride, padding=padding, dilation=dilation, groups=groups,
                        kernel=(kh, kw), out_hw=out_hw, pointwise=pointwise, activation=activation)


def _single(value, name, fn, minimum=1):
    if isinstance(value, (tuple, list)):
        if len(value) != 1:
            raise ValueError(f"{fn}: {name} must be an int or a 1-tuple, got {tuple(value)}")
        value = value[0]
    return _pair(value, name, fn, minimum)[0]


def conv1d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D convolution with PyTorch semantics: x (N, C, L) or (C, L), weight (out, C/groups, k), bias (out,).

    It is :func:`conv2d` on (N, C, 1, L) views, so it shares conv2d's paths and gradients."""
    x, weight, bias = _tensors("conv1d", x, weight, bias)
    stride, dilation = _single(stride, "stride", "conv1d"), _single(dilation, "dilation", "conv1d")
    groups = _groups("conv1d", groups)
    if weight.ndim != 3:
        raise ShapeError(f"conv1d: expected a 3-D weight (out_channels, in_channels/groups, k), got shape "
                         f"{weight.shape}")
    if isinstance(padding, str):
        x, (padding,) = _string_padding("conv1d", x, padding, (stride,), (dilation,), weight.shape[2:])
    padding = _single(padding, "padding", "conv1d", minimum=0)
    if x.ndim == 2:
        y = conv1d(x.reshape((1,) + x.shape), weight, bias, stride, padding, dilation, groups)
        return y.reshape(y.shape[1:])
    if x.ndim != 3:
        raise ShapeError(f"conv1d: expected a 3-D input (N, C, L), got shape {x.shape}")
    n, c, length = x.shape
    o, cg, k = weight.shape
    if cg * groups != c:
        raise ShapeError(f"conv1d: input has {c} channels but weight expects {cg * groups} (groups={groups}); "
                         f"input shape {x.shape}, weight shape {weight.shape}")
    ek = dilation * (k - 1) + 1
    if ek > length + 2 * padding:
        raise ShapeError(f"conv1d: kernel size {ek} (after dilation) is larger than the padded input "
                         f"{length + 2 * padding}")
    y = conv2d(x.reshape(n, c, 1, length), weight.reshape(o, cg, 1, k), bias, (1, stride), (0, padding),
               (1, dilation), groups)
    return y.reshape(n, o, y.shape[3])


class ConvTranspose2d(Function):
    """The adjoint of conv2d with respect to its input: x (N, Cin, H, W), w (Cin, Cout/g, kh, kw).

    Forward spreads every input pixel over a window of the output: per group the GEMM w_g^T @ x_g gives
    columns (Cout, kh, kw, N, H, W), and col2im adds them onto the (N, Cout, OH, OW) output. Backward is a
    convolution of gy: im2col(gy), then gx_g = w_g @ cols_g and gw_g = x_g @ cols_g^T. Saves x and w."""

    def forward(self, x, w, b=None):
        xp = self._xp
        n, cin, h, wd = self.x_shape = x.shape
        g = self.groups
        cout_g, kh, kw = w.shape[1:]
        self.save_for_backward(x if self.needs_input_grad[1] else None, w if self.needs_input_grad[0] else None)
        x_t = x.transpose(1, 0, 2, 3).reshape(g, cin // g, n * h * wd)
        w_t = w.reshape(g, cin // g, cout_g * kh * kw).transpose(0, 2, 1)
        cols = xp.matmul(w_t, x_t).reshape(g * cout_g, kh, kw, n, h, wd)
        y = _col2im(xp, cols, (n, g * cout_g) + tuple(self.out_hw), self.stride, self.padding, self.dilation)
        if b is not None:
            y += b.reshape(1, -1, 1, 1)
        return y

    def backward(self, gy):
        xp = self._xp
        x, w = self.saved_tensors
        n, cin, h, wd = self.x_shape
        g = self.groups
        cout_g, kh, kw = self.w_shape[1:]
        need = self.needs_input_grad
        gx = gw = gb = None
        if need[0] or need[1]:
            cols = _im2col(xp, xp.ascontiguousarray(gy), kh, kw, h, wd, self.stride, self.padding, self.dilation)
            cols = cols.reshape(g, cout_g * kh * kw, n * h * wd)
            if need[0]:
                gx = xp.matmul(w.reshape(g, cin // g, cout_g * kh * kw), cols)
                gx = xp.ascontiguousarray(gx.reshape(cin, n, h, wd).transpose(1, 0, 2, 3))
            if need[1]:
                x_t = x.transpose(1, 0, 2, 3).reshape(g, cin // g, n * h * wd)
                gw = xp.matmul(x_t, cols.transpose(0, 2, 1)).reshape(self.w_shape)
        if len(need) > 2 and need[2]:
            gb = gy.sum(axis=(0, 2, 3))
        return (gx, gw, gb)[:len(need)]


def conv_transpose2d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Transposed 2-D convolution with PyTorch semantics (argument order as torch's): x (N, Cin, H, W) or
    (Cin, H, W), weight (Cin, Cout/groups, kh, kw), bias (Cout,); the output is
    (H - 1) * stride - 2 * padding + dilation * (kh - 1) + output_padding + 1 high (and the same across)."""
    x, weight, bias = _tensors("conv_transpose2d", x, weight, bias)
    fn = "conv_transpose2d"
    stride = _pair(stride, "stride", fn)
    padding = _pair(padding, "padding", fn, minimum=0)
    output_padding = _pair(output_padding, "output_padding", fn, minimum=0)
    dilation = _pair(dilation, "dilation", fn)
    groups = _groups(fn, groups)
    if x.ndim == 3 and weight.ndim == 4:
        y = conv_transpose2d(x.reshape((1,) + x.shape), weight, bias, stride, padding, output_padding, groups,
                             dilation)
        return y.reshape(y.shape[1:])
    if x.ndim != 4:
        raise ShapeError(f"{fn}: expected a 4-D input (N, C, H, W), got shape {x.shape}")
    if weight.ndim != 4:
        raise ShapeError(f"{fn}: expected a 4-D weight (in_channels, out_channels/groups, kh, kw), got shape "
                         f"{weight.shape}")
    n, c, h, w = x.shape
    cin, cout_g, kh, kw = weight.shape
    if cin % groups:
        raise ShapeError(f"{fn}: in_channels ({cin}) is not divisible by groups ({groups})")
    if c != cin:
        raise ShapeError(f"{fn}: input has {c} channels but weight expects {cin}; input shape {x.shape}, "
                         f"weight shape {weight.shape}")
    for op, s, d in zip(output_padding, stride, dilation):
        if op >= s and op >= d:
            raise ValueError(f"{fn}: output_padding must be smaller than either stride or dilation, got "
                             f"output_padding={output_padding}, stride={stride}, dilation={dilation}")
    out_hw = tuple((size - 1) * s - 2 * p + d * (k - 1) + op + 1
                   for size, s, p, d, k, op in zip((h, w), stride, padding, dilation, (kh, kw), output_padding))
    if out_hw[0] < 1 or out_hw[1] < 1:
        raise ShapeError(f"{fn}: the output would be {out_hw} for input shape {x.shape}, weight shape "
                         f"{weight.shape}, stride {stride}, padding {padding}; it must be at least 1 x 1")
    if bias is not None and bias.shape != (cout_g * groups,):
        raise ShapeError(f"{fn}: bias must have shape {(cout_g * groups,)}, got {bias.shape}")
    inputs = (x, weight) if bias is None else (x, weight, bias)
    return ConvTranspose2d.apply(*inputs, stride=stride, padding=padding, dilation=dilation, groups=groups,
                                 out_hw=out_hw, w_shape=weight.shape)
