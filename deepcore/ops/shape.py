"""Shape ops: reshape, axis moves, broadcasting, joining/splitting, indexing and padding.

Forward passes return views where NumPy/CuPy do; backward passes keep only shapes (and index arrays for
indexing), never the input data.
"""
from __future__ import annotations

import math
import operator

import numpy as np

from ..autograd import Function
from ..backend import to_device
from ..backend.dtypes import as_dtype
from ..errors import ShapeError
from ..tensor import Tensor
from ._util import as_tensor, normalize_axis, sum_to, tensor_method

__all__ = ["reshape", "transpose", "permute", "squeeze", "unsqueeze", "flatten", "unflatten", "broadcast_to",
           "repeat", "cat", "concatenate", "stack", "split", "chunk", "pad"]


# --- helpers ------------------------------------------------------------------------------------------
def _ints(args, name, what="shape"):
    """``f(2, 3)`` or ``f((2, 3))`` as a tuple of Python ints."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        args = tuple(args[0])
    out = []
    for a in args:
        try:
            out.append(operator.index(a))
        except TypeError:
            raise TypeError(f"{name}: {what} must be integers, got {tuple(args)!r}") from None
    return tuple(out)


def _pick(axis, dim, default):
    """``axis``, or its alias ``dim`` when that is given (``axis`` must then be left at ``default``)."""
    if dim is None:
        return axis
    if axis is not None and axis != default:
        raise TypeError("pass either axis= or dim=, not both")
    return dim


def _int_axis(axis, ndim, name):
    if isinstance(axis, (tuple, list)) or axis is None:
        raise TypeError(f"{name}: axis must be an int, got {axis!r}")
    return normalize_axis(axis, ndim)


def scatter_add(xp, target, index, values):
    """``target[index] += values`` where repeated indices accumulate (np.add.at / cupyx.scatter_add)."""
    if xp is np:
        np.add.at(target, index, values)
    elif target.dtype.name == "bfloat16":  # CuPy's scatter_add has no bfloat16 atomics: add in float32
        acc = target.astype(np.float32)
        scatter_add(xp, acc, index, values.astype(np.float32))
        target[...] = acc.astype(target.dtype)
    else:
        import cupyx
        cupyx.scatter_add(target, index, values)
    return target


# --- functions ----------------------------------------------------------------------------------------
class Reshape(Function):
    def forward(self, x):
        self.in_shape = x.shape
        return x.reshape(self.shape)

    def backward(self, gy):
        return gy.reshape(self.in_shape)


class Permute(Function):
    def forward(self, x):
        return self._xp.transpose(x, self.axes)

    def backward(self, gy):
        inverse = tuple(int(i) for i in np.argsort(self.axes))
        return self._xp.transpose(gy, inverse)


class BroadcastTo(Function):
    def forward(self, x):
        self.in_shape = x.shape
        return self._xp.broadcast_to(x, self.shape)

    def backward(self, gy):
        return sum_to(gy, self.in_shape)


class Repeat(Function):
    def forward(self, x):
        self.in_shape = x.shape
        lead = len(self.repeats) - x.ndim
        return self._xp.tile(x.reshape((1,) * lead + x.shape), self.repeats)

    def backward(self, gy):
        sizes = (1,) * (len(self.repeats) - len(self.in_shape)) + tuple(self.in_shape)
        split = [v for r, s in zip(self.repeats, sizes) for v in (r, s)]  # (r0, s0, r1, s1, ...)
        g = gy.reshape(split).sum(axis=tuple(range(0, len(split), 2)))
        return g.reshape(self.in_shape)


class Cat(Function):
    def forward(self, *xs):
        self.sizes = [x.shape[self.axis] for x in xs]
        self.dtypes = [x.dtype for x in xs]
        return self._xp.concatenate(xs, axis=self.axis)

    def backward(self, gy):
        grads, start = [], 0
        lead = (slice(None),) * self.axis
        for need, n, dtype in zip(self.needs_input_grad, self.sizes, self.dtypes):
            grads.append(gy[lead + (slice(start, start + n),)].astype(dtype, copy=False) if need else None)
            start += n
        return tuple(grads)


class Stack(Function):
    def forward(self, *xs):
        self.dtypes = [x.dtype for x in xs]
        return self._xp.stack(xs, axis=self.axis)

    def backward(self, gy):
        lead = (slice(None),) * self.axis
        return tuple(gy[lead + (i,)].astype(dtype, copy=False) if need else None
                     for i, (need, dtype) in enumerate(zip(self.needs_input_grad, self.dtypes)))


class Split(Function):
    """Pieces of ``x`` along ``axis`` of the given sizes; pieces with no gradient count as zeros."""

    def forward(self, x):
        lead = (slice(None),) * self.axis
        out, start = [], 0
        for n in self.sizes:
            out.append(x[lead + (slice(start, start + n),)])
            start += n
        return tuple(out)

    def backward(self, *gys):
        return self._xp.concatenate(gys, axis=self.axis)


class GetItem(Function):
    """``x[key]``; backward scatters into zeros, adding where integer indices repeat."""

    def forward(self, x):
        self.in_shape = x.shape
        y = x[self.key]
        return y if isinstance(y, self._xp.ndarray) else self._xp.asarray(y)

    def backward(self, gy):
        xp = self._xp
        gx = xp.zeros(self.in_shape, gy.dtype)
        if self.accumulate:
            scatter_add(xp, gx, self.key, gy)
        else:
            gx[self.key] = gy
        return gx


class Pad(Function):
    """Constant padding (negative widths crop): ``y[dst] = x[src]``, the rest is ``value``."""

    def forward(self, x):
        y = self._xp.full(self.out_shape, self.value, dtype=x.dtype)
        y[self.dst] = x[self.src]
        self.in_shape = x.shape
        return y

    def backward(self, gy):
        if self.crops:
            gx = self._xp.zeros(self.in_shape, gy.dtype)
            gx[self.src] = gy[self.dst]
            return gx
        return gy[self.dst]


# --- public API ---------------------------------------------------------------------------------------
def _resolve_shape(in_shape, shape, size, name="reshape"):
    neg = [i for i, s in enumerate(shape) if s == -1]
    known = math.prod(s for s in shape if s != -1)
    ok = len(neg) <= 1 and all(s >= -1 for s in shape)
    if ok and neg:
        ok = known != 0 and size % known == 0
        if ok:
            shape = shape[:neg[0]] + (size // known,) + shape[neg[0] + 1:]
    elif ok:
        ok = known == size
    if not ok:
        raise ShapeError(f"{name}: cannot reshape tensor of shape {tuple(in_shape)} into shape {shape}")
    return shape


@tensor_method()
def reshape(x, *shape):
    """``x`` with a new shape of the same size (one entry may be -1); a view where possible."""
    shape = _resolve_shape(x.shape, _ints(shape, "reshape"), x.numel())
    return Reshape.apply(x, shape=shape)


def _view(x, *shape_or_dtype):
    """torch ``view``: ``x.view(*shape)`` reshapes (as :func:`reshape`); ``x.view(dtype)`` reinterprets the bytes
    as another dtype (no gradient, as in torch): with a different item size the last axis scales."""
    if len(shape_or_dtype) == 1 and not isinstance(shape_or_dtype[0], (tuple, list)):
        try:
            operator.index(shape_or_dtype[0])
        except TypeError:
            return _view_dtype(x, shape_or_dtype[0])
    shape = _resolve_shape(x.shape, _ints(shape_or_dtype, "view"), x.numel(), "view")
    return Reshape.apply(x, shape=shape)


def _view_dtype(x, dtype):
    dtype = as_dtype(dtype)
    old = x.dtype.itemsize
    if dtype.itemsize != old:
        if x.ndim == 0:
            raise ShapeError(f"view: a 0-d tensor cannot be viewed as {dtype}, whose item size differs from "
                             f"{x.dtype}'s")
        n = x.shape[-1]
        if x.data.strides[-1] != old and n > 1:
            raise ShapeError(f"view: viewing {x.dtype} as {dtype} needs a contiguous last axis; call .contiguous() "
                             f"first (tensor of shape {x.shape})")
        if (n * old) % dtype.itemsize:
            raise ShapeError(f"view: the last axis of a tensor of shape {x.shape} ({n} x {old} bytes) cannot be "
                             f"viewed as {dtype} ({dtype.itemsize} bytes per item)")
    return Tensor._make(x.data.view(dtype))


Tensor.view = _view
Tensor.view_as = lambda self, other: _view(self, tuple(other.shape))


@tensor_method()
def permute(x, *axes):
    """Reorder the axes of ``x``: output axis i is input axis ``axes[i]``."""
    axes = _ints(axes, "permute", "axes")
    norm = tuple(normalize_axis(a, x.ndim) for a in axes)
    if sorted(norm) != list(range(x.ndim)):
        raise ShapeError(f"permute: axes {axes} are not a permutation of the axes of a tensor of shape {x.shape}")
    return Permute.apply(x, axes=norm)


@tensor_method()
def transpose(x, a0=None, a1=None, *, dim0=None, dim1=None):
    """Swap axes ``a0`` and ``a1``; with no axes reverse them all (a 2-D tensor is transposed)."""
    a0, a1 = _pick(a0, dim0, None), _pick(a1, dim1, None)
    if isinstance(a0, (tuple, list)) and a1 is None:
        return permute(x, tuple(a0))
    if a0 is None and a1 is None:
        return permute(x, tuple(range(x.ndim))[::-1])
    if a0 is None or a1 is None:
        raise TypeError("transpose: give both axes to swap, or none to reverse all axes")
    i, j = normalize_axis(a0, x.ndim), normalize_axis(a1, x.ndim)
    if x.ndim == 0:
        return permute(x)
    axes = list(range(x.ndim))
    axes[i], axes[j] = axes[j], axes[i]
    return Permute.apply(x, axes=tuple(axes))


Tensor.T = property(lambda self: permute(self, tuple(range(self.ndim))[::-1]),
                    doc="The tensor with all axes reversed (the transpose of a matrix).")


@tensor_method()
def squeeze(x, axis=None, *, dim=None):
    """Remove size-1 axes: all of them, or those among ``axis`` (int or tuple; other sizes are kept, as in torch)."""
    axes = normalize_axis(axis, x.ndim, dim)
    if axes is None:
        axes = tuple(range(x.ndim))
    elif not isinstance(axes, tuple):
        axes = (axes,)
    shape = tuple(s for i, s in enumerate(x.shape) if not (i in axes and s == 1))
    return Reshape.apply(x, shape=shape)


@tensor_method()
def unsqueeze(x, axis=None, *, dim=None):
    """Insert a size-1 axis at position ``axis`` (in the output; a tuple inserts several)."""
    axis = _pick(axis, dim, None)
    if axis is None:
        raise TypeError("unsqueeze: missing the axis to insert")
    many = isinstance(axis, (tuple, list))
    axes = tuple(axis) if many else (axis,)
    out_ndim = x.ndim + len(axes)
    norm = []
    for a in axes:
        a = operator.index(a)
        if not -out_ndim <= a < out_ndim:
            raise IndexError(f"unsqueeze: axis {a} is out of range for a tensor with {x.ndim} dimension(s) "
                             f"(expected -{out_ndim} <= axis < {out_ndim})")
        norm.append(a % out_ndim)
    if len(set(norm)) != len(norm):
        raise ShapeError(f"unsqueeze: repeated axis in {axes}")
    rest = iter(x.shape)
    shape = tuple(1 if i in norm else next(rest) for i in range(out_ndim))
    return Reshape.apply(x, shape=shape)


@tensor_method()
def flatten(x, start_axis=0, end_axis=-1, *, start_dim=None, end_dim=None):
    """Merge axes ``start_axis..end_axis`` (inclusive) into one; a 0-d tensor becomes shape (1,)."""
    start = _pick(start_axis, start_dim, 0)
    end = _pick(end_axis, end_dim, -1)
    if x.ndim == 0:
        normalize_axis(start, 0), normalize_axis(end, 0)
        return Reshape.apply(x, shape=(1,))
    s, e = normalize_axis(start, x.ndim), normalize_axis(end, x.ndim)
    if s > e:
        raise ShapeError(f"flatten: start axis {start} comes after end axis {end} for a tensor of shape {x.shape}")
    shape = x.shape[:s] + (math.prod(x.shape[s:e + 1]),) + x.shape[e + 1:]
    return Reshape.apply(x, shape=shape)


@tensor_method()
def broadcast_to(x, *shape):
    """``x`` broadcast (NumPy rules) to ``shape``, as a read-only view; the gradient sums back."""
    shape = _ints(shape, "broadcast_to")
    lead = len(shape) - x.ndim
    if lead < 0 or any(s < 0 for s in shape) or \
            any(n != s and n != 1 for n, s in zip(x.shape, shape[lead:])):
        raise ShapeError(f"broadcast_to: cannot broadcast tensor of shape {x.shape} to shape {shape}")
    if shape == x.shape:
        return Reshape.apply(x, shape=shape)
    return BroadcastTo.apply(x, shape=shape)


def _expand(x, *shape):
    """torch ``expand``: broadcast_to where -1 keeps the existing size of that axis."""
    shape = _ints(shape, "expand")
    lead = len(shape) - x.ndim
    if lead < 0:
        raise ShapeError(f"expand: cannot expand tensor of shape {x.shape} to shape {shape} (fewer dimensions)")
    for i, s in enumerate(shape):
        if s == -1 and i < lead:
            raise ShapeError(f"expand: -1 is not allowed in a new leading dimension, got shape {shape}")
    full = tuple(x.shape[i - lead] if s == -1 else s for i, s in enumerate(shape))
    return broadcast_to(x, full)


Tensor.expand = _expand


@tensor_method()
def unflatten(x, dim=None, sizes=None, *, axis=None):
    """Split axis ``dim`` into ``sizes`` (one entry may be -1): the inverse of :func:`flatten` (torch order)."""
    axis = _pick(dim, axis, None)
    if axis is None or sizes is None:
        raise TypeError("unflatten: give the axis and the sizes to split it into, e.g. unflatten(1, (2, 3))")
    axis = _int_axis(axis, x.ndim, "unflatten")
    sizes = _ints((sizes,), "unflatten", "sizes")
    if not sizes:
        raise ShapeError("unflatten: sizes must not be empty")
    n = x.shape[axis]
    try:
        sizes = _resolve_shape((n,), sizes, n, "unflatten")
    except ShapeError:
        raise ShapeError(f"unflatten: sizes {sizes} do not multiply to {n}, the size of axis {axis} of a tensor "
                         f"of shape {x.shape}") from None
    return Reshape.apply(x, shape=x.shape[:axis] + tuple(sizes) + x.shape[axis + 1:])


@tensor_method()
def repeat(x, *repeats):
    """Tile ``x`` ``repeats[i]`` times along axis i (torch semantics; extra leading repeats add axes)."""
    repeats = _ints(repeats, "repeat", "repeats")
    if len(repeats) < x.ndim:
        raise ShapeError(f"repeat: {len(repeats)} repeat count(s) given for a tensor with {x.ndim} dimensions "
                         f"(shape {x.shape}); give at least one per dimension")
    if any(r < 0 for r in repeats):
        raise ValueError(f"repeat: repeat counts must be non-negative, got {repeats}")
    return Repeat.apply(x, repeats=repeats)


def _tensor_list(tensors, name):
    if isinstance(tensors, Tensor) or not isinstance(tensors, (list, tuple)):
        raise TypeError(f"{name}: expected a list or tuple of tensors, got {type(tensors).__name__}")
    if not tensors:
        raise ValueError(f"{name}: expected a non-empty list of tensors")
    tensors = [as_tensor(t) for t in tensors]
    first = tensors[0]
    for i, t in enumerate(tensors[1:], 1):
        if t.device != first.device:
            raise RuntimeError(f"{name}: expected all tensors on one device, got {first.device} (tensor 0) and "
                               f"{t.device} (tensor {i})")
    return tensors


def cat(tensors, axis=0, *, dim=None):
    """Join tensors along an existing ``axis``; all other axes must match."""
    tensors = _tensor_list(tensors, "cat")
    first = tensors[0]
    if first.ndim == 0:
        raise ShapeError("cat: zero-dimensional tensors cannot be concatenated (use stack)")
    axis = _int_axis(_pick(axis, dim, 0), first.ndim, "cat")
    for i, t in enumerate(tensors[1:], 1):
        if t.ndim != first.ndim or any(a != b for k, (a, b) in enumerate(zip(first.shape, t.shape)) if k != axis):
            raise ShapeError(f"cat: shapes {first.shape} (tensor 0) and {t.shape} (tensor {i}) must match except "
                             f"along axis {axis}")
    return Cat.apply(*tensors, axis=axis)


concatenate = cat


def stack(tensors, axis=0, *, dim=None):
    """Join tensors of one shape along a new ``axis``."""
    tensors = _tensor_list(tensors, "stack")
    first = tensors[0]
    axis = _pick(axis, dim, 0)
    if isinstance(axis, (tuple, list)):
        raise TypeError(f"stack: axis must be an int, got {axis!r}")
    axis = operator.index(axis)
    if not -(first.ndim + 1) <= axis <= first.ndim:
        raise IndexError(f"stack: axis {axis} is out of range for stacking tensors with {first.ndim} dimension(s)")
    axis %= first.ndim + 1
    for i, t in enumerate(tensors[1:], 1):
        if t.shape != first.shape:
            raise ShapeError(f"stack: all tensors must have the same shape (stacking along axis {axis}), got "
                             f"{first.shape} (tensor 0) and {t.shape} (tensor {i})")
    return Stack.apply(*tensors, axis=axis)


@tensor_method()
def split(x, split_size_or_sections, axis=0, *, dim=None):
    """Cut ``x`` along ``axis``: an int is the piece size (the last may be smaller), a list gives the sizes."""
    if x.ndim == 0:
        raise ShapeError("split: a zero-dimensional tensor cannot be split")
    axis = _int_axis(_pick(axis, dim, 0), x.ndim, "split")
    n = x.shape[axis]
    if isinstance(split_size_or_sections, (list, tuple)):
        sizes = _ints((split_size_or_sections,), "split", "sections")
        if any(s < 0 for s in sizes) or sum(sizes) != n:
            raise ShapeError(f"split: sections {sizes} must be non-negative and sum to {n}, the size of axis "
                             f"{axis} of a tensor of shape {x.shape}")
    else:
        size = operator.index(split_size_or_sections)
        if size <= 0:
            raise ValueError(f"split: split size must be a positive integer, got {size}")
        sizes = (size,) * (n // size) + ((n % size,) if n % size else ())
        sizes = sizes or (0,)
    return Split.apply(x, axis=axis, sizes=tuple(sizes))


@tensor_method()
def chunk(x, chunks, axis=0, *, dim=None):
    """Cut ``x`` into ``chunks`` pieces of size ceil(n / chunks) (torch semantics: maybe fewer pieces)."""
    chunks = operator.index(chunks)
    if chunks <= 0:
        raise ValueError(f"chunk: number of chunks must be a positive integer, got {chunks}")
    if x.ndim == 0:
        raise ShapeError("chunk: a zero-dimensional tensor cannot be chunked")
    axis = _int_axis(_pick(axis, dim, 0), x.ndim, "chunk")
    n = x.shape[axis]
    if n == 0:
        return Split.apply(x, axis=axis, sizes=(0,) * chunks)
    return split(x, -(-n // chunks), axis=axis)


def _index_key(x, key):
    """Normalise an index: Tensors/lists/arrays become arrays on ``x``'s device; report integer arrays."""
    xp = x.device.xp
    items = key if isinstance(key, tuple) else (key,)
    out, has_int_array = [], False
    for k in items:
        if isinstance(k, np.integer):
            k = int(k)
        if isinstance(k, Tensor):
            k = k.data
        if isinstance(k, list) or hasattr(k, "__array_interface__") or hasattr(k, "__cuda_array_interface__"):
            if isinstance(k, list):
                k = np.asarray(k)
                if k.size == 0:
                    k = k.astype(np.int64)
            if k.dtype.kind not in "iub":
                raise IndexError(f"index arrays must be integer or boolean, got dtype {k.dtype}")
            k = to_device(k, x.device) if not isinstance(k, xp.ndarray) else k
            has_int_array |= k.dtype.kind in "iu"
        out.append(k)
    return tuple(out), has_int_array


def _is_int_like(k):
    """An int or a 0-d integer array: PyTorch applies these as basic indices (they select, not gather)."""
    if isinstance(k, bool):
        return False
    return isinstance(k, int) or (hasattr(k, "dtype") and k.ndim == 0 and k.dtype.kind in "iu")


def _is_advanced(k):
    return hasattr(k, "dtype") and not _is_int_like(k)


@tensor_method("__getitem__")
def _getitem(x, key):
    """Index with ints, slices, None, ..., integer arrays and boolean masks, placing dimensions as PyTorch does.

    PyTorch differs from NumPy in one case: an int next to an index array is a basic index (it removes its
    dimension first), while NumPy counts it as an advanced index, which can move the gathered dimensions to
    the front (``x[0, :, idx]``). Such keys run in two steps: the ints (and slices) first, the arrays next.
    """
    key, accumulate = _index_key(x, key)
    if not (any(_is_int_like(k) for k in key) and any(_is_advanced(k) for k in key)):
        return GetItem.apply(x, key=key, accumulate=accumulate)
    first, second = [], []
    for k in key:
        if _is_int_like(k):
            first.append(k)
        elif k is None:
            first.append(None)
            second.append(slice(None))
        elif k is Ellipsis:
            first.append(Ellipsis)
            second.append(Ellipsis)
        elif isinstance(k, slice):
            first.append(k)
            second.append(slice(None))
        else:  # an index array: a boolean mask covers as many dimensions as it has
            first.extend([slice(None)] * (k.ndim if k.dtype.kind == "b" else 1))
            second.append(k)
    first_acc = any(hasattr(k, "dtype") for k in first)
    y = GetItem.apply(x, key=tuple(first), accumulate=first_acc)
    return GetItem.apply(y, key=tuple(second), accumulate=accumulate)


_PAD_MODES = ("constant", "reflect", "replicate", "circular")


def _pad_index(xp, n, left, right, mode, axis, shape):
    """Source index of every output position along one axis for the non-constant pad modes (made on the
    tensor's device: no host->device copy)."""
    if mode == "reflect" and (left >= n or right >= n):
        raise ShapeError(f"pad: reflect padding ({left}, {right}) must be smaller than the size {n} of axis {axis} "
                         f"(tensor of shape {shape})")
    if mode == "circular" and (left > n or right > n):
        raise ShapeError(f"pad: circular padding ({left}, {right}) must not exceed the size {n} of axis {axis} "
                         f"(tensor of shape {shape})")
    if mode == "replicate" and n == 0 and (left > 0 or right > 0):
        raise ShapeError(f"pad: cannot replicate-pad the empty axis {axis} of a tensor of shape {shape}")
    if mode == "circular":  # as torch: negative widths crop first, then the rest wraps around
        lo, m = max(-left, 0), n - max(-left, 0) - max(-right, 0)
        if m <= 0 and (left > 0 or right > 0):
            raise ShapeError(f"pad: circular padding ({left}, {right}) crops all of axis {axis} (size {n}) of a "
                             f"tensor of shape {shape}, leaving nothing to wrap around")
        return lo + xp.arange(-max(left, 0), m + max(right, 0)) % max(m, 1)
    pos = xp.arange(-left, n + right)
    if mode == "replicate":
        return xp.clip(pos, 0, n - 1)
    period = 2 * (n - 1)
    pos = xp.abs(pos) % period if period else xp.zeros_like(pos)
    return xp.where(pos > n - 1, period - pos, pos)


@tensor_method()
def pad(x, pad, mode="constant", value=0):
    """torch ``F.pad``: ``pad`` is (left, right) pairs starting from the LAST axis; negative widths crop."""
    widths = _ints((pad,), "pad", "pad widths")
    if len(widths) % 2:
        raise ValueError(f"pad: padding must be (left, right) pairs, got {len(widths)} value(s): {widths}")
    if len(widths) // 2 > x.ndim:
        raise ShapeError(f"pad: {len(widths) // 2} pairs of padding given for a tensor with {x.ndim} "
                         f"dimension(s) (shape {x.shape})")
    if mode not in _PAD_MODES:
        raise ValueError(f"pad: mode must be one of {_PAD_MODES}, got {mode!r}")
    value = 0 if value is None else value
    if mode != "constant" and value != 0:
        raise ValueError(f"pad: mode {mode!r} takes no fill value, got value={value!r}")
    pairs = {x.ndim - 1 - k: (widths[2 * k], widths[2 * k + 1]) for k in range(len(widths) // 2)}
    if mode != "constant":
        out = x
        for axis, (left, right) in sorted(pairs.items()):
            if left == right == 0:
                continue
            if x.shape[axis] + left + right < 0:
                raise ShapeError(f"pad: padding ({left}, {right}) leaves a negative size on axis {axis} of a tensor "
                                 f"of shape {x.shape}")
            idx = _pad_index(x.device.xp, x.shape[axis], left, right, mode, axis, x.shape)
            out = out[(slice(None),) * axis + (Tensor._make(idx),)]
        return out
    out_shape, src, dst = [], [], []
    for axis, n in enumerate(x.shape):
        left, right = pairs.get(axis, (0, 0))
        size = n + left + right
        if size < 0:
            raise ShapeError(f"pad: padding ({left}, {right}) leaves a negative size on axis {axis} of a tensor of "
                             f"shape {x.shape}")
        start = max(-left, 0)
        length = max(n - max(-right, 0) - start, 0)
        out_shape.append(size)
        src.append(slice(start, start + length))
        dst.append(slice(max(left, 0), max(left, 0) + length))
    crops = any(w < 0 for w in widths)
    return Pad.apply(x, out_shape=tuple(out_shape), src=tuple(src), dst=tuple(dst), value=value, crops=crops)
