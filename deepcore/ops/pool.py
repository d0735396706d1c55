"""Pooling over NCHW (and NCL) tensors: max, average and adaptive average, with PyTorch's options.

The generic paths visit the kh*kw window offsets, each a strided view of the (padded) input, so they
run unchanged on numpy and cupy; they handle every option (``dilation``, ``ceil_mode``,
``count_include_pad``, ``divisor_override``, ``return_indices``). Fast paths (deepcore.backend.fastpath),
compared with the generic path in the tests, serve the plain geometry (no dilation, no ceil-mode windows
beyond the padding, the default divisor): numba for max-pool forward and backward on the CPU, CUDA kernels
(``kernels/pool.cu``, one launch each) for max/avg pooling forward and backward on the GPU. Max pooling
records each window's argmax as its offset i * KW + j inside the window, in every implementation;
``return_indices`` turns that into PyTorch's flat index h * W + w into each input plane.

1-D pooling is 2-D pooling of an (N, C, 1, L) view; unbatched inputs ((C, H, W), (C, L)) get a batch of one.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..autograd import Function
from ..backend import fastpath
from ..errors import ShapeError
from ..tensor import Tensor
from . import _cuda
from ._util import as_tensor, numba_kernels as _numba_kernels
from .conv import _pair

__all__ = ["max_pool2d", "avg_pool2d", "adaptive_avg_pool2d", "max_pool1d", "avg_pool1d"]


class _Geom(NamedTuple):
    """Where the windows of one pooling call lie. ``extra``: cells beyond the right/bottom padding that
    ceil_mode windows reach (read as padding). ``plain``: the geometry the fast paths handle."""
    kernel: tuple
    stride: tuple
    padding: tuple
    dilation: tuple
    out_hw: tuple
    extra: tuple
    plain: bool


def _window(a, i, j, g):
    """The (N, C, OH, OW) view of ``a`` seen by kernel offset (i, j) of every window."""
    (sh, sw), (dh, dw), (oh, ow) = g.stride, g.dilation, g.out_hw
    return a[:, :, i * dh:i * dh + sh * (oh - 1) + 1:sh, j * dw:j * dw + sw * (ow - 1) + 1:sw]


def _padded(xp, x, g, fill):
    (ph, pw), (eh, ew) = g.padding, g.extra
    if not (ph or pw or eh or ew):
        return x
    n, c, h, w = x.shape
    out = xp.full((n, c, h + 2 * ph + eh, w + 2 * pw + ew), fill, dtype=x.dtype)
    out[:, :, ph:ph + h, pw:pw + w] = x
    return out


def _grad_canvas(xp, x_shape, g, dtype):
    n, c, h, w = x_shape
    (ph, pw), (eh, ew) = g.padding, g.extra
    return xp.zeros((n, c, h + 2 * ph + eh, w + 2 * pw + ew), dtype=dtype)


def _crop(xp, gpad, x_shape, g):
    (ph, pw), (h, w) = g.padding, x_shape[2:]
    return xp.ascontiguousarray(gpad[:, :, ph:ph + h, pw:pw + w])


def _pool_args(x_shape, kernel, out_hw, stride, padding, total):
    h, w = x_shape[2:]
    ints = (h, w, *kernel, *out_hw, *stride, *padding)
    return tuple(np.int32(v) for v in ints) + (np.int64(total),)


def _cuda_pool(name, arrays, like, total, x_shape, kernel, out_hw, stride, padding):
    """Launch pool.cu's ``name`` (dtype suffix added) over ``total`` elements."""
    _cuda.launch_1d("pool.cu", f"{name}_{_cuda.suffix(like.dtype)}", like, total,
                    tuple(arrays) + _pool_args(x_shape, kernel, out_hw, stride, padding, total))


def _floats(a, *_):
    return _cuda.floats(a)


# ---------------------------------------------------------------------------------------------------------
# max pooling

def _maxpool_forward_xp(xp, x, g):
    """Generic max-pool forward: window maxima and each window's argmax offset i * KW + j."""
    kh, kw = g.kernel
    low = -np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min
    xpad = _padded(xp, x, g, low)
    y = _window(xpad, 0, 0, g).copy()
    arg = xp.zeros(y.shape, dtype=np.int32)
    for k in range(1, kh * kw):
        v = _window(xpad, k // kw, k % kw, g)
        better = v > y
        if x.dtype.kind == "f":
            better |= v != v  # NaN wins, as in PyTorch
        xp.copyto(y, v, where=better)
        xp.copyto(arg, k, where=better)
    return y, arg


def _maxpool_backward_xp(xp, arg, gy, x_shape, g):
    """Generic max-pool backward: ``arg`` holds each window's argmax offset i * KW + j."""
    kh, kw = g.kernel
    gpad = _grad_canvas(xp, x_shape, g, gy.dtype)
    zero = xp.zeros((), dtype=gy.dtype)
    for i in range(kh):
        for j in range(kw):
            _window(gpad, i, j, g)[...] += xp.where(arg == i * kw + j, gy, zero)
    return _crop(xp, gpad, x_shape, g)


def _maxpool_forward(xp, x, g):
    fast = fastpath.select("max_pool2d", x, g.kernel, g.out_hw, g.stride, g.padding) if g.plain else None
    if fast is not None:
        return fast(x, g.kernel, g.out_hw, g.stride, g.padding)
    return _maxpool_forward_xp(xp, x, g)


def _maxpool_backward(xp, arg, gy, x_shape, g):
    fast = fastpath.select("max_pool2d_backward", arg, gy, x_shape, g.kernel, g.stride, g.padding) if g.plain else None
    if fast is not None:
        return fast(arg, gy, x_shape, g.kernel, g.stride, g.padding)
    return _maxpool_backward_xp(xp, arg, gy, x_shape, g)


def _plain_geom(kernel, out_hw, stride, padding):
    return _Geom(tuple(kernel), tuple(stride), tuple(padding), (1, 1), tuple(out_hw), (0, 0), True)


@fastpath.override("max_pool2d", "cpu", when=lambda x, *_: x.dtype in _cuda.FLOATS and _numba_kernels())
def _maxpool_forward_numba(x, kernel, out_hw, stride, padding):
    """Copy each kernel offset's window view into one (K, P) buffer, reduce it with numba."""
    kh, kw = kernel
    g = _plain_geom(kernel, out_hw, stride, padding)
    xpad = _padded(np, x, g, -np.inf)
    taps = np.empty((kh * kw, x.shape[0], x.shape[1]) + tuple(out_hw), dtype=x.dtype)
    for k in range(kh * kw):
        taps[k] = _window(xpad, k // kw, k % kw, g)
    y = np.empty(taps.shape[1:], dtype=x.dtype)
    arg = np.empty(y.shape, dtype=np.int32)
    _numba_kernels().max_over_taps(taps.reshape(kh * kw, -1), y.reshape(-1), arg.reshape(-1))
    return y, arg


@fastpath.override("max_pool2d_backward", "cpu",
                   when=lambda arg, gy, *_: gy.dtype in _cuda.FLOATS and _numba_kernels())
def _maxpool_backward_numba(arg, gy, x_shape, kernel, stride, padding):
    return _numba_kernels().maxpool_backward(arg, gy, x_shape[2], x_shape[3], kernel[1], *stride, *padding)


@fastpath.override("max_pool2d", "cuda", when=_floats)
def _maxpool_forward_cuda(x, kernel, out_hw, stride, padding):
    """One launch: window maxima and argmax offsets."""
    import cupy
    x = cupy.ascontiguousarray(x)
    y = cupy.empty(x.shape[:2] + tuple(out_hw), dtype=x.dtype)
    arg = cupy.empty(y.shape, dtype=np.int32)
    _cuda_pool("maxpool_fwd", (x, y, arg), x, y.size, x.shape, kernel, out_hw, stride, padding)
    return y, arg


@fastpath.override("max_pool2d_backward", "cuda", when=lambda arg, gy, *_: _cuda.floats(gy))
def _maxpool_backward_cuda(arg, gy, x_shape, kernel, stride, padding):
    """One launch, a gather over the input: each element sums the windows whose argmax it is."""
    import cupy
    gy, arg = cupy.ascontiguousarray(gy), cupy.ascontiguousarray(arg)
    gx = cupy.empty(x_shape, dtype=gy.dtype)
    _cuda_pool("maxpool_bwd", (gy, arg, gx), gy, gx.size, x_shape, kernel, gy.shape[2:], stride, padding)
    return gx


def _flat_indices(xp, arg, x_shape, g):
    """PyTorch's max-pool indices: h * W + w of each window's argmax in its input plane (int64)."""
    kw = g.kernel[1]
    (sh, sw), (ph, pw), (dh, dw), (oh, ow) = g.stride, g.padding, g.dilation, g.out_hw
    arg = arg.astype(np.int64)
    h = (xp.arange(oh, dtype=np.int64) * sh - ph).reshape(oh, 1) + (arg // kw) * dh
    w = (xp.arange(ow, dtype=np.int64) * sw - pw).reshape(1, ow) + (arg % kw) * dw
    return h * x_shape[3] + w


class MaxPool2d(Function):
    """y = max over each window (padding counts as -inf); backward sends gy to the argmax of its window.

    With ``return_indices`` forward also leaves the flat indices in ``self.indices``."""

    return_indices = False

    def forward(self, x):
        self.x_shape = x.shape
        y, arg = _maxpool_forward(self._xp, x, self.geom)
        if self.return_indices:
            self.indices = _flat_indices(self._xp, arg, x.shape, self.geom)
        self.save_for_backward(arg)
        return y

    def backward(self, gy):
        (arg,) = self.saved_tensors
        return _maxpool_backward(self._xp, arg, gy, self.x_shape, self.geom)


# ---------------------------------------------------------------------------------------------------------
# average pooling

def _avg_divisor(xp, x_shape, g, count_include_pad, divisor_override, dtype):
    """What each window's sum is divided by: a number, or an (OH, OW) array where windows differ."""
    if divisor_override is not None:
        return float(divisor_override)
    if g.plain and count_include_pad:
        return float(g.kernel[0] * g.kernel[1])
    counts = []
    for size, k, s, p, o in zip(x_shape[2:], g.kernel, g.stride, g.padding, g.out_hw):
        start = xp.arange(o, dtype=np.int64) * s - p
        end = xp.minimum(start + k, size + p)          # windows stop at the padding's end (ceil_mode)
        if count_include_pad:
            counts.append(end - start)
        else:
            counts.append(xp.minimum(end, size) - xp.maximum(start, 0))
    return (counts[0].reshape(-1, 1) * counts[1].reshape(1, -1)).astype(dtype)


def _avgpool_forward_xp(xp, x, g, divisor):
    kh, kw = g.kernel
    xpad = _padded(xp, x, g, 0)
    y = _window(xpad, 0, 0, g).copy()
    for k in range(1, kh * kw):
        y += _window(xpad, k // kw, k % kw, g)
    if isinstance(divisor, float):
        y *= 1.0 / divisor
    else:
        y /= divisor
    return y


def _avgpool_backward_xp(xp, gy, x_shape, g, divisor):
    kh, kw = g.kernel
    gpad = _grad_canvas(xp, x_shape, g, gy.dtype)
    share = gy * (1.0 / divisor) if isinstance(divisor, float) else gy / divisor
    for i in range(kh):
        for j in range(kw):
            _window(gpad, i, j, g)[...] += share
    return _crop(xp, gpad, x_shape, g)


@fastpath.override("avg_pool2d", "cuda", when=_floats)
def _avgpool_forward_cuda(x, kernel, out_hw, stride, padding):
    import cupy
    x = cupy.ascontiguousarray(x)
    y = cupy.empty(x.shape[:2] + tuple(out_hw), dtype=x.dtype)
    _cuda_pool("avgpool_fwd", (x, y), x, y.size, x.shape, kernel, out_hw, stride, padding)
    return y


@fastpath.override("avg_pool2d_backward", "cuda", when=_floats)
def _avgpool_backward_cuda(gy, x_shape, kernel, stride, padding):
    import cupy
    gy = cupy.ascontiguousarray(gy)
    gx = cupy.empty(x_shape, dtype=gy.dtype)
    _cuda_pool("avgpool_bwd", (gy, gx), gy, gx.size, x_shape, kernel, gy.shape[2:], stride, padding)
    return gx


class AvgPool2d(Function):
    """y = sum of each window / divisor: the window's size within the padded input (count_include_pad),
    its number of input cells, or ``divisor_override``. The CUDA kernels serve the plain case (kh * kw)."""

    def _fast_ok(self):
        return self.geom.plain and self.count_include_pad and self.divisor_override is None

    def forward(self, x):
        g = self.geom
        self.x_shape = x.shape
        if self._fast_ok():
            fast = fastpath.select("avg_pool2d", x, g.kernel, g.out_hw, g.stride, g.padding)
            if fast is not None:
                return fast(x, g.kernel, g.out_hw, g.stride, g.padding)
        div = _avg_divisor(self._xp, x.shape, g, self.count_include_pad, self.divisor_override, x.dtype)
        return _avgpool_forward_xp(self._xp, x, g, div)

    def backward(self, gy):
        g = self.geom
        if self._fast_ok():
            fast = fastpath.select("avg_pool2d_backward", gy, self.x_shape, g.kernel, g.stride, g.padding)
            if fast is not None:
                return fast(gy, self.x_shape, g.kernel, g.stride, g.padding)
        div = _avg_divisor(self._xp, self.x_shape, g, self.count_include_pad, self.divisor_override, gy.dtype)
        return _avgpool_backward_xp(self._xp, gy, self.x_shape, g, div)


# ---------------------------------------------------------------------------------------------------------
# adaptive average pooling

def _bins(xp, size, out):
    """torch's adaptive bins of an axis of ``size`` cut into ``out``: bin i is [floor(i*size/out),
    ceil((i+1)*size/out)). Returns (idx, mask, count): idx (out, m) the cells of each bin (padded with
    the last cell), mask (out, m) which of them belong to it, count (out,) their number."""
    m = max(-((-(i + 1) * size) // out) - (i * size) // out for i in range(out))
    i = xp.arange(out, dtype=np.int64)
    start = (i * size) // out
    end = -((-(i + 1) * size) // out)
    idx = start.reshape(-1, 1) + xp.arange(m, dtype=np.int64).reshape(1, -1)
    mask = idx < end.reshape(-1, 1)
    return xp.minimum(idx, size - 1), mask, end - start


def _bin_sum(xp, a, axis, size, out):
    """Sum ``a`` over torch's adaptive bins along ``axis`` (of length ``size``) into ``out`` bins: a gather
    and a masked sum, so a NaN or inf reaches only the bins that contain it. Also returns the counts."""
    idx, mask, count = _bins(xp, size, out)
    taken = xp.take(a, idx, axis=axis)                          # a.shape[:axis] + (out, m) + a.shape[axis+1:]
    mask = mask.reshape(mask.shape + (1,) * (a.ndim - axis - 1))
    return xp.where(mask, taken, xp.zeros((), dtype=a.dtype)).sum(axis=axis + 1), count


def _per_bin(count, axis, ndim, dtype):
    return count.astype(dtype).reshape(count.shape + (1,) * (ndim - axis - 1))


class AdaptiveAvgPool2d(Function):
    """Average over torch's adaptive bins, one axis after the other (rows, then columns).

    Backward is the same gather with the roles of input and output swapped: input cell r lies in the
    bins [floor(r*out/size), ceil((r+1)*out/size)), again contiguous ranges of torch's form."""

    def forward(self, x):
        xp = self._xp
        n, c, h, w = self.x_shape = x.shape
        oh, ow = self.out_hw
        if h % oh == 0 and w % ow == 0:  # equal, non-overlapping bins: a reshape and a mean
            return x.reshape(n, c, oh, h // oh, ow, w // ow).mean(axis=(3, 5))
        rows, count = _bin_sum(xp, x, 2, h, oh)
        rows /= _per_bin(count, 2, 4, x.dtype)
        y, count = _bin_sum(xp, rows, 3, w, ow)
        y /= _per_bin(count, 3, 4, x.dtype)
        return y

    def backward(self, gy):
        xp = self._xp
        n, c, h, w = self.x_shape
        oh, ow = self.out_hw
        if h % oh == 0 and w % ow == 0:
            bh, bw = h // oh, w // ow
            gx = xp.empty(self.x_shape, dtype=gy.dtype)   # each bin's share, broadcast: one elementwise pass
            xp.multiply(xp.broadcast_to(gy.reshape(n, c, oh, 1, ow, 1), (n, c, oh, bh, ow, bw)), 1.0 / (bh * bw),
                        out=gx.reshape(n, c, oh, bh, ow, bw))
            return gx
        count = _bins(xp, w, ow)[2]
        g_rows = _bin_sum(xp, gy / _per_bin(count, 3, 4, gy.dtype), 3, ow, w)[0]
        count = _bins(xp, h, oh)[2]
        return _bin_sum(xp, g_rows / _per_bin(count, 2, 4, gy.dtype), 2, oh, h)[0]


# ---------------------------------------------------------------------------------------------------------
# public functions

def _out_len(size, k, s, p, d, ceil_mode):
    """PyTorch's pooling output length (a ceil_mode window must start inside the input or left padding)."""
    span = size + 2 * p - d * (k - 1) - 1
    out = (span + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1
    return out


def _as_nchw(name, x, nd):
    """x as a 4-D (N, C, H, W) tensor and the shape to give the result's leading axes back."""
    if not isinstance(x, Tensor):
        x = as_tensor(x)
    if nd == 2:
        if x.ndim == 4:
            return x, None
        if x.ndim == 3:
            return x.reshape((1,) + x.shape), ()
        raise ShapeError(f"{name}: expected a 3-D (C, H, W) or 4-D (N, C, H, W) input, got shape {x.shape}")
    if x.ndim == 3:
        return x.reshape(x.shape[:2] + (1, x.shape[2])), x.shape[:2]
    if x.ndim == 2:
        return x.reshape((1, x.shape[0], 1, x.shape[1])), x.shape[:1]
    raise ShapeError(f"{name}: expected a 2-D (C, L) or 3-D (N, C, L) input, got shape {x.shape}")


def _restore(t, lead):
    """Undo :func:`_as_nchw` on a result (N, C, OH, OW)."""
    if lead is None:
        return t
    if lead == ():
        return t.reshape(t.shape[1:])
    return t.reshape(tuple(lead) + (t.shape[3],))


def _int_pair(value, name, fn, nd, minimum):
    if nd == 2:
        return _pair(value, name, fn, minimum)
    if isinstance(value, (tuple, list)):
        if len(value) != 1:
            raise ValueError(f"{fn}: {name} must be an int or a 1-tuple, got {tuple(value)}")
        value = value[0]
    return (1 if name != "padding" else 0,) + _pair(value, name, fn, minimum)[1:]


def _check_pool(name, x, kernel_size, stride, padding, dilation=1, ceil_mode=False, nd=2):
    """(x as NCHW, how to restore the result, geometry); raises ShapeError/ValueError on bad arguments."""
    x, lead = _as_nchw(name, x, nd)
    kernel = _int_pair(kernel_size, "kernel_size", name, nd, 1)
    stride = kernel if stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0) \
        else _int_pair(stride, "stride", name, nd, 1)
    padding = _int_pair(padding, "padding", name, nd, 0)
    dilation = _int_pair(dilation, "dilation", name, nd, 1)
    eff = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))
    if padding[0] > eff[0] // 2 or padding[1] > eff[1] // 2:
        shown = kernel if dilation == (1, 1) else eff
        what = "kernel_size" if dilation == (1, 1) else "the dilated kernel"
        raise ValueError(f"{name}: padding {padding if nd == 2 else padding[1]} must be at most half of {what} "
                         f"{shown if nd == 2 else shown[1]}")
    h, w = x.shape[2:]
    hp, wp = h + 2 * padding[0], w + 2 * padding[1]
    if eff[0] > hp or eff[1] > wp:
        shown = (kernel, (hp, wp)) if nd == 2 else (kernel[1], wp)
        raise ShapeError(f"{name}: kernel_size {shown[0]} is larger than the padded input {shown[1]}")
    ceil_mode = bool(ceil_mode)
    out_hw = tuple(_out_len(*a, ceil_mode) for a in zip((h, w), kernel, stride, padding, dilation))
    floor_hw = tuple(_out_len(*a, False) for a in zip((h, w), kernel, stride, padding, dilation))
    extra = tuple(max(0, (o - 1) * s + e - (size + 2 * p))
                  for o, s, e, size, p in zip(out_hw, stride, eff, (h, w), padding))
    plain = dilation == (1, 1) and out_hw == floor_hw
    return x, lead, _Geom(kernel, stride, padding, dilation, out_hw, extra, plain)


def _max_pool(name, nd, x, kernel_size, stride, padding, dilation, ceil_mode, return_indices):
    x, lead, geom = _check_pool(name, x, kernel_size, stride, padding, dilation, ceil_mode, nd)
    fn = MaxPool2d(geom=geom, return_indices=bool(return_indices))
    y = _restore(fn._run((x,)), lead)
    if not return_indices:
        return y
    indices = Tensor._make(fn.__dict__.pop("indices"))
    return y, _restore(indices, lead)


def _avg_pool(name, nd, x, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override):
    x, lead, geom = _check_pool(name, x, kernel_size, stride, padding, 1, ceil_mode, nd)
    if x.dtype.kind != "f":
        raise TypeError(f"{name}: expected a floating-point input, got {x.dtype}")
    if divisor_override is not None:
        if isinstance(divisor_override, bool) or not isinstance(divisor_override, (int, np.integer)) \
                or divisor_override == 0:
            raise ValueError(f"{name}: divisor_override must be a non-zero int or None, got {divisor_override!r}")
        divisor_override = int(divisor_override)
    y = AvgPool2d.apply(x, geom=geom, count_include_pad=bool(count_include_pad), divisor_override=divisor_override)
    return _restore(y, lead)


def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """Max over kernel_size windows of an (N, C, H, W) or (C, H, W) tensor, as torch's ``max_pool2d``.

    stride defaults to kernel_size; padding counts as -inf; ``return_indices=True`` also returns, per
    output, the flat index h * W + w of its maximum in the input plane (int64)."""
    return _max_pool("max_pool2d", 2, x, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool1d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """Max over windows of an (N, C, L) or (C, L) tensor, as torch's ``max_pool1d``."""
    return _max_pool("max_pool1d", 1, x, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """Mean over kernel_size windows of an (N, C, H, W) or (C, H, W) tensor, as torch's ``avg_pool2d``:
    zero padding counts unless ``count_include_pad=False``; ``divisor_override`` replaces the divisor."""
    return _avg_pool("avg_pool2d", 2, x, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override)


def avg_pool1d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """Mean over windows of an (N, C, L) or (C, L) tensor, as torch's ``avg_pool1d``."""
    return _avg_pool("avg_pool1d", 1, x, kernel_size, stride, padding, ceil_mode, count_include_pad, None)


def adaptive_avg_pool2d(x, output_size):
    """Average an (N, C, H, W) or (C, H, W) tensor down to ``output_size`` (int or pair; None keeps that
    size) with torch's bins: bin i of an axis of length H covers [floor(i*H/out), ceil((i+1)*H/out))."""
    if not isinstance(x, Tensor):
        x = as_tensor(x)
    if x.ndim not in (3, 4):
        raise ShapeError(f"adaptive_avg_pool2d: expected a 3-D (C, H, W) or 4-D (N, C, H, W) input, "
                         f"got shape {x.shape}")
    if x.dtype.kind != "f":
        raise TypeError(f"adaptive_avg_pool2d: expected a floating-point input, got {x.dtype}")
    empty = [i for i in range(x.ndim - 3, x.ndim) if x.shape[i] == 0]
    if empty:
        raise ShapeError(f"adaptive_avg_pool2d: expected an input with non-zero size in its non-batch "
                         f"dimensions, got shape {x.shape} (dimension {empty[0]} is empty)")
    h, w = x.shape[-2:]
    if isinstance(output_size, (tuple, list)):
        if len(output_size) != 2:
            raise ValueError(f"adaptive_avg_pool2d: output_size must be an int or a pair, got {tuple(output_size)}")
        output_size = (h if output_size[0] is None else output_size[0], w if output_size[1] is None else output_size[1])
    elif output_size is None:
        output_size = (h, w)
    out_hw = _pair(output_size, "output_size", "adaptive_avg_pool2d")
    if x.ndim == 3:
        return AdaptiveAvgPool2d.apply(x.reshape((1,) + x.shape), out_hw=out_hw).reshape((x.shape[0],) + out_hw)
    return AdaptiveAvgPool2d.apply(x, out_hw=out_hw)
