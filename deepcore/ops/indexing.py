"""Indexing ops with PyTorch's names and semantics: gather/scatter, index_select, masks, flips and rolls,
triangles and diagonals, repeat_interleave, meshgrid and Tensor.unfold.

Each op is written once against ``xp`` (NumPy or CuPy). Gathers scatter-add their gradient, so repeated
indices accumulate. Only the ops whose output size depends on the data (``nonzero``, ``masked_select``,
``masked_scatter``, ``repeat_interleave`` with a tensor of counts) read device values back, as in PyTorch.
"""
from __future__ import annotations

import math
import operator

import numpy as np

from ..autograd import Function
from ..backend import index_checks
from ..errors import ShapeError
from ..tensor import Tensor
from ._util import as_tensor, normalize_axis, sum_to, tensor_method
from .shape import _ints, _pick, broadcast_to, permute
from .shape import scatter_add as _scatter_add_at

__all__ = [
    "diag",
    "diagonal",
    "flip",
    "gather",
    "index_select",
    "masked_fill",
    "masked_scatter",
    "masked_select",
    "meshgrid",
    "nonzero",
    "repeat_interleave",
    "roll",
    "scatter",
    "scatter_add",
    "tril",
    "triu",
]


# --- helpers ------------------------------------------------------------------------------------------
def _dim(x, dim, axis, name):
    if dim is not None and axis is not None:
        raise TypeError("pass either axis= or dim=, not both")
    d = axis if dim is None else dim
    if d is None:
        raise TypeError(f"{name}: missing the dimension (dim=)")
    if isinstance(d, (tuple, list)):
        raise TypeError(f"{name}: dim must be an int, got {d!r}")
    return normalize_axis(operator.index(d), x.ndim, name=f"{name}: dim")


def _index_tensor(index, x, name):
    """``index`` as an integer Tensor on ``x``'s device (lists are copied there; tensors must already be)."""
    if not isinstance(index, Tensor):
        index = as_tensor(index if not isinstance(index, (list, tuple)) or index else np.zeros(0, np.int64), x)
    if index.dtype.kind not in "iu":
        raise TypeError(f"{name}: index must be an integer tensor, got dtype {index.dtype}")
    if index.device != x.device:
        raise RuntimeError(f"{name}: index on {index.device} but input on {x.device}; move it first")
    return index


def _check_range(xp, idx, n, name, dim):
    index_checks.check_range(
        xp, idx, n, what=lambda bad: f"{name}: {'an index' if bad is None else f'index {bad}'} is out of bounds "
                                     f"for dimension {dim} with size {n}")


def _grid(xp, index, dim):
    """An advanced-index tuple addressing ``target[..., index[i], ...]`` at every position i of ``index``
    (``index`` on axis ``dim``, the position itself on the other axes)."""
    nd = index.ndim
    return tuple(index if d == dim else
                 xp.arange(index.shape[d]).reshape(tuple(-1 if e == d else 1 for e in range(nd)))
                 for d in range(nd))


def _check_like(name, index, dim, shapes):
    """torch's rule for gather/scatter: ``index`` has the inputs' rank and is no larger apart from ``dim``."""
    for what, shape, skip in shapes:
        if len(shape) != index.ndim:
            raise ShapeError(f"{name}: index of shape {tuple(index.shape)} must have as many dimensions as the "
                             f"{what} of shape {tuple(shape)}")
        if any(i > s for d, (i, s) in enumerate(zip(index.shape, shape)) if not (skip and d == dim)):
            raise ShapeError(f"{name}: index of shape {tuple(index.shape)} is larger than the {what} of shape "
                             f"{tuple(shape)}" + (f" apart from dimension {dim}" if skip else ""))


# --- gather / scatter ---------------------------------------------------------------------------------
class Gather(Function):
    """``out[p] = x[p with p[dim] replaced by index[p]]``; the gradient scatter-adds back."""

    def forward(self, x, index):
        self.x_shape = x.shape
        self.save_for_backward(index)
        return x[_grid(self._xp, index, self.dim)]

    def backward(self, gy):
        (index,) = self.saved_tensors
        gx = self._xp.zeros(self.x_shape, gy.dtype)
        return _scatter_add_at(self._xp, gx, _grid(self._xp, index, self.dim), gy), None


class Scatter(Function):
    """``out = x`` with ``out[index[p] on dim] = src[p]`` (``add``: ``+=``, repeated indices accumulate)."""

    def forward(self, x, index, src=None):
        xp = self._xp
        grid = _grid(xp, index, self.dim)
        out = x.copy()
        if src is None:
            vals = xp.full(index.shape, self.value, dtype=x.dtype)
        else:
            vals = src[tuple(slice(0, n) for n in index.shape)].astype(x.dtype, copy=False)
        if self.add:
            _scatter_add_at(xp, out, grid, vals)
        else:
            out[grid] = vals
        self.save_for_backward(index)
        self.src_shape = None if src is None else src.shape
        return out

    def backward(self, gy):
        (index,) = self.saved_tensors
        xp = self._xp
        grid = _grid(xp, index, self.dim)
        gx = None
        if self.needs_input_grad[0]:
            gx = gy
            if not self.add:  # overwritten positions get no gradient
                gx = gy.copy()
                gx[grid] = 0
        gsrc = None
        if self.src_shape is not None and self.needs_input_grad[2]:
            gsrc = xp.zeros(self.src_shape, gy.dtype)
            gsrc[tuple(slice(0, n) for n in index.shape)] = gy[grid]
        return (gx, None) if self.src_shape is None else (gx, None, gsrc)


@tensor_method()
def gather(x, dim=None, index=None, *, axis=None):
    """torch ``gather``: ``out[i][j] = x[index[i][j]][j]`` for ``dim=0`` (likewise for other dims); ``index`` has
    ``x``'s rank and is no larger than ``x`` apart from ``dim``."""
    if index is None:
        raise TypeError("gather: missing the index tensor")
    d = _dim(x, dim, axis, "gather")
    index = _index_tensor(index, x, "gather")
    _check_like("gather", index, d, [("input", x.shape, True)])
    _check_range(x.device.xp, index.data, x.shape[d] if x.ndim else 1, "gather", d)
    if x.ndim == 0:
        return Gather.apply(x.reshape(1), index.reshape(1), dim=0).reshape(())
    return Gather.apply(x, index, dim=d)


def _scatter(name, x, dim, index, src, value, add):
    if src is None and value is None:
        raise TypeError(f"{name}: give src (a tensor or a number) or value=")
    if src is not None and value is not None:
        raise TypeError(f"{name}: give src or value=, not both")
    if value is None and not isinstance(src, Tensor):
        src, value = None, src
    d = _dim(x, dim, None, name)
    index = _index_tensor(index, x, name)
    shapes = [("input", x.shape, True)]
    if src is not None:
        src = as_tensor(src, x)
        if src.device != x.device:
            raise RuntimeError(f"{name}: src on {src.device} but input on {x.device}; move it first")
        shapes.append(("src", src.shape, False))
    elif add:
        raise TypeError(f"{name}: src must be a tensor")
    _check_like(name, index, d, shapes)
    _check_range(x.device.xp, index.data, x.shape[d] if x.ndim else 1, name, d)
    if x.ndim == 0:
        return _scatter(name, x.reshape(1), 0, index.reshape(1), None if src is None else src.reshape(1), value,
                        add).reshape(())
    if src is None:
        return Scatter.apply(x, index, dim=d, add=add, value=value)
    return Scatter.apply(x, index, src, dim=d, add=add, value=None)


@tensor_method()
def scatter(x, dim, index, src=None, *, value=None):
    """torch ``scatter`` (not in place): a copy of ``x`` with ``out[index[i][j]][j] = src[i][j]`` for ``dim=0``;
    ``src`` may be a number (or give ``value=``). Where indices repeat, one of the values wins."""
    return _scatter("scatter", x, dim, index, src, value, add=False)


@tensor_method()
def scatter_add(x, dim, index, src):
    """torch ``scatter_add`` (not in place): a copy of ``x`` with ``src`` added at ``index`` along ``dim``;
    repeated indices accumulate."""
    return _scatter("scatter_add", x, dim, index, src, None, add=True)


# --- index_select -------------------------------------------------------------------------------------
class IndexSelect(Function):
    def forward(self, x, index):
        self.x_shape = x.shape
        self.save_for_backward(index)
        return self._xp.take(x, index, axis=self.dim)

    def backward(self, gy):
        (index,) = self.saved_tensors
        gx = self._xp.zeros(self.x_shape, gy.dtype)
        return _scatter_add_at(self._xp, gx, (slice(None),) * self.dim + (index,), gy), None


@tensor_method()
def index_select(x, dim=None, index=None, *, axis=None):
    """The entries of ``x`` at positions ``index`` (a 1-D integer tensor) along ``dim``."""
    if index is None:
        raise TypeError("index_select: missing the index tensor")
    d = _dim(x, dim, axis, "index_select")
    index = _index_tensor(index, x, "index_select")
    if index.ndim > 1:
        raise ShapeError(f"index_select: index must be 1-D (or 0-d), got shape {index.shape}")
    index = index.reshape(-1)
    if x.ndim == 0:
        return x.reshape(1)[index].reshape(index.shape if index.numel() != 1 else ())
    _check_range(x.device.xp, index.data, x.shape[d], "index_select", d)
    return IndexSelect.apply(x, index, dim=d)


# --- masks --------------------------------------------------------------------------------------------
def _mask(mask, x, name):
    mask = as_tensor(mask, x) if not isinstance(mask, Tensor) else mask
    if mask.dtype != np.bool_:
        raise TypeError(f"{name}: mask must be a bool tensor, got dtype {mask.dtype}")
    if mask.device != x.device:
        raise RuntimeError(f"{name}: mask on {mask.device} but input on {x.device}; move it first")
    return mask


def _broadcast_shape(name, a, b):
    try:
        return tuple(np.broadcast_shapes(a, b))
    except ValueError:
        raise ShapeError(f"{name}: mask of shape {tuple(b)} cannot be broadcast with input of shape {tuple(a)}") \
            from None


class MaskedFill(Function):
    def forward(self, x, mask, value=None):
        self.x_shape = x.shape
        self.save_for_backward(mask)
        v = self.value if value is None else value.astype(x.dtype, copy=False)
        return self._xp.where(mask, v, x).astype(x.dtype, copy=False)

    def backward(self, gy):
        (mask,) = self.saved_tensors
        xp = self._xp
        gx = sum_to(xp.where(mask, 0, gy).astype(gy.dtype, copy=False), self.x_shape) \
            if self.needs_input_grad[0] else None
        if len(self.needs_input_grad) == 2:
            return gx, None
        gv = xp.where(mask, gy, 0).astype(gy.dtype, copy=False).sum(keepdims=True).reshape(()) \
            if self.needs_input_grad[2] else None
        return gx, None, gv


@tensor_method()
def masked_fill(x, mask, value):
    """``x`` with ``value`` (a number or a 0-d tensor) where the bool ``mask`` (broadcast against ``x``) is True."""
    mask = _mask(mask, x, "masked_fill")
    _broadcast_shape("masked_fill", x.shape, mask.shape)
    if isinstance(value, Tensor):
        if value.ndim != 0:
            raise ShapeError(f"masked_fill: value must be a number or a 0-d tensor, got shape {value.shape}")
        return MaskedFill.apply(x, mask, value)
    if not isinstance(value, (int, float, bool, np.generic)):
        raise TypeError(f"masked_fill: value must be a number or a 0-d tensor, got {type(value).__name__}")
    return MaskedFill.apply(x, mask, value=value)


@tensor_method()
def masked_select(x, mask):
    """The entries of ``x`` where the bool ``mask`` is True, as a 1-D tensor (``x`` and ``mask`` broadcast)."""
    mask = _mask(mask, x, "masked_select")
    shape = _broadcast_shape("masked_select", x.shape, mask.shape)
    if x.shape != shape:
        x = broadcast_to(x, shape)
    if mask.shape != shape:
        mask = Tensor._make(mask.device.xp.broadcast_to(mask.data, shape))
    return x[mask]


class MaskedScatter(Function):
    """``out = x``; ``out[mask] = source.flatten()[:mask.sum()]`` in row-major order."""

    def forward(self, x, mask, source):
        xp = self._xp
        out = xp.broadcast_to(x, mask.shape).copy()
        self.x_shape, self.src_shape = x.shape, source.shape
        self.save_for_backward(mask)
        n = self.count
        out[mask] = source.reshape(-1)[:n].astype(x.dtype, copy=False)
        return out

    def backward(self, gy):
        (mask,) = self.saved_tensors
        xp = self._xp
        gx = sum_to(xp.where(mask, 0, gy).astype(gy.dtype, copy=False), self.x_shape) \
            if self.needs_input_grad[0] else None
        gs = None
        if self.needs_input_grad[2]:
            gs = xp.zeros(math.prod(self.src_shape), gy.dtype)
            gs[:self.count] = gy[mask]
            gs = gs.reshape(self.src_shape)
        return gx, None, gs


@tensor_method()
def masked_scatter(x, mask, source):
    """``x`` with the positions where ``mask`` is True filled, in order, from the elements of ``source``."""
    mask = _mask(mask, x, "masked_scatter")
    source = as_tensor(source, x)
    shape = _broadcast_shape("masked_scatter", x.shape, mask.shape)
    if mask.shape != shape:
        mask = Tensor._make(mask.device.xp.broadcast_to(mask.data, shape))
    count = int(mask.data.sum())  # the output's layout depends on it (a host read, as in torch)
    if count > source.numel():
        raise ShapeError(f"masked_scatter: mask selects {count} positions but source of shape {source.shape} has "
                         f"only {source.numel()} elements")
    return MaskedScatter.apply(x, mask, source, count=count)


@tensor_method()
def nonzero(x, *, as_tuple=False):
    """Indices of the non-zero entries: an (n, ndim) int64 tensor, or with ``as_tuple=True`` one 1-D tensor per
    dimension (a 0-d input counts as 1-D). Reads the count back from the device, as in torch."""
    xp = x.device.xp
    if x.ndim == 0 and not as_tuple:
        n = int(xp.count_nonzero(x.data))
        return Tensor._make(xp.zeros((n, 0), dtype=np.int64))
    idx = xp.nonzero(x.data.reshape(1) if x.ndim == 0 else x.data)
    if as_tuple:
        return tuple(Tensor._make(i.astype(np.int64, copy=False)) for i in idx)
    return Tensor._make(xp.stack(idx, axis=1).astype(np.int64, copy=False))


# --- flips, rolls, triangles, diagonals --------------------------------------------------------------
def _dims(x, dims, name):
    if dims is None:
        raise TypeError(f"{name}: missing the dimensions (dims=)")
    dims = _ints((dims,) if not isinstance(dims, (tuple, list)) else (tuple(dims),), name, "dims")
    norm = tuple(normalize_axis(d, x.ndim, name=f"{name}: dim") for d in dims)
    if len(set(norm)) != len(norm):
        raise ValueError(f"{name}: repeated dimension in {dims}")
    return norm


@tensor_method()
def flip(x, dims=None, *, axis=None):
    """``x`` reversed along each of ``dims``."""
    dims = _dims(x, _pick(dims, axis, None), "flip")
    if x.ndim == 0:
        return x[()]
    key = tuple(slice(None, None, -1) if d in dims else slice(None) for d in range(x.ndim))
    return x[key]


class Roll(Function):
    def forward(self, x):
        return self._roll(x, self.shifts)

    def backward(self, gy):
        return self._roll(gy, tuple(-s for s in self.shifts))

    def _roll(self, a, shifts):
        if self.dims is None:
            return self._xp.roll(a.reshape(-1), shifts[0]).reshape(a.shape)
        return self._xp.roll(a, shifts, axis=self.dims)


@tensor_method()
def roll(x, shifts, dims=None):
    """Shift the entries of ``x`` cyclically by ``shifts`` along ``dims`` (flattened when ``dims`` is None)."""
    shifts = _ints((shifts,) if not isinstance(shifts, (tuple, list)) else (tuple(shifts),), "roll", "shifts")
    if dims is None:
        if len(shifts) != 1:
            raise ValueError(f"roll: {len(shifts)} shifts given without dims; give one shift, or dims for each")
        return Roll.apply(x, shifts=shifts, dims=None)
    dims = _ints((dims,) if not isinstance(dims, (tuple, list)) else (tuple(dims),), "roll", "dims")
    if len(dims) != len(shifts):
        raise ValueError(f"roll: shifts {shifts} and dims {dims} must have the same length")
    dims = tuple(normalize_axis(d, x.ndim, name="roll: dim") for d in dims)
    return Roll.apply(x, shifts=shifts, dims=dims)


class _Triangle(Function):
    def forward(self, x):
        return self._fn(x)

    def backward(self, gy):
        return self._fn(gy)

    def _fn(self, a):
        return (self._xp.tril if self.lower else self._xp.triu)(a, self.k)


def _triangle(name, x, diagonal, lower):
    if x.ndim < 2:
        raise ShapeError(f"{name}: input must have at least 2 dimensions, got shape {x.shape}")
    return _Triangle.apply(x, k=operator.index(diagonal), lower=lower)


@tensor_method()
def tril(x, diagonal=0):
    """The lower triangle of the last two dimensions (entries above ``diagonal`` zeroed)."""
    return _triangle("tril", x, diagonal, True)


@tensor_method()
def triu(x, diagonal=0):
    """The upper triangle of the last two dimensions (entries below ``diagonal`` zeroed)."""
    return _triangle("triu", x, diagonal, False)


def _diag_positions(xp, rows, cols, offset):
    """Row and column indices of diagonal ``offset`` of a (rows, cols) matrix."""
    n = max(0, min(rows + min(offset, 0), cols - max(offset, 0)))
    i = xp.arange(n)
    return i + max(-offset, 0), i + max(offset, 0)


class Diagonal(Function):
    """The diagonal ``offset`` of the plane (dim1, dim2), as the last dimension (as torch/NumPy)."""

    def forward(self, x):
        self.x_shape = x.shape
        return self._xp.diagonal(x, self.offset, self.dim1, self.dim2)

    def backward(self, gy):
        xp = self._xp
        gx = xp.zeros(self.x_shape, gy.dtype)
        plane = xp.moveaxis(gx, (self.dim1, self.dim2), (-2, -1))  # a view: writes land in gx
        r, c = _diag_positions(xp, self.x_shape[self.dim1], self.x_shape[self.dim2], self.offset)
        plane[..., r, c] = gy
        return gx


@tensor_method()
def diagonal(x, offset=0, dim1=0, dim2=1):
    """The diagonal ``offset`` (> 0 above, < 0 below the main one) of the plane spanned by ``dim1`` and ``dim2``;
    those dimensions go and the diagonal becomes the last one."""
    if x.ndim < 2:
        raise ShapeError(f"diagonal: input must have at least 2 dimensions, got shape {x.shape}")
    d1, d2 = (normalize_axis(d, x.ndim, name="diagonal: dim") for d in (dim1, dim2))
    if d1 == d2:
        raise ValueError(f"diagonal: dim1 and dim2 must differ, got {dim1} and {dim2}")
    return Diagonal.apply(x, offset=operator.index(offset), dim1=d1, dim2=d2)


class DiagEmbed(Function):
    """A square matrix with the 1-D input on diagonal ``offset`` and zeros elsewhere."""

    def forward(self, v):
        xp = self._xp
        n = v.shape[0] + abs(self.offset)
        out = xp.zeros((n, n), v.dtype)
        r, c = _diag_positions(xp, n, n, self.offset)
        out[r, c] = v
        return out

    def backward(self, gy):
        return self._xp.diagonal(gy, self.offset).copy()


@tensor_method()
def diag(x, diagonal=0):
    """torch ``diag``: a 1-D input becomes a square matrix with it on diagonal ``diagonal``; a 2-D input gives
    that diagonal as a 1-D tensor."""
    k = operator.index(diagonal)
    if x.ndim == 1:
        return DiagEmbed.apply(x, offset=k)
    if x.ndim == 2:
        return Diagonal.apply(x, offset=k, dim1=0, dim2=1)
    raise ShapeError(f"diag: input must be 1-D or 2-D, got shape {x.shape}")


# --- repeat_interleave, meshgrid, unfold --------------------------------------------------------------
class RepeatInterleave(Function):
    """Each slice of ``x`` along ``dim`` repeated ``repeats`` times (an int, or one host count per slice)."""

    def forward(self, x):
        self.x_shape = x.shape
        return self._xp.repeat(x, self.repeats, axis=self.dim)

    def backward(self, gy):
        xp, d, n = self._xp, self.dim, self.x_shape[self.dim]
        if isinstance(self.repeats, int):
            shape = self.x_shape[:d] + (n, self.repeats) + self.x_shape[d + 1:]
            return gy.reshape(shape).sum(axis=d + 1)
        owner = xp.repeat(xp.arange(n), self.repeats)  # which input slice each output slice came from
        gx = xp.zeros(self.x_shape, gy.dtype)
        return _scatter_add_at(xp, gx, (slice(None),) * d + (owner,), gy)


@tensor_method()
def repeat_interleave(x, repeats=None, dim=None, *, axis=None, output_size=None):
    """Repeat each element (or each slice along ``dim``) ``repeats`` times, as torch: ``repeats`` is an int or a
    1-D tensor of counts (that form reads the counts back from the device). Without ``dim`` the input is
    flattened. ``repeat_interleave(counts)`` alone gives ``arange(len(counts))`` repeated by ``counts``."""
    if repeats is None:
        counts = x
        if counts.ndim != 1 or counts.dtype.kind not in "iu":
            raise TypeError("repeat_interleave(counts): counts must be a 1-D integer tensor")
        ar = Tensor._make(counts.device.xp.arange(counts.shape[0], dtype=np.int64))
        return repeat_interleave(ar, counts, 0)
    d = _pick(dim, axis, None)
    if d is None:
        x, d = x.reshape(-1), 0
    else:
        d = normalize_axis(operator.index(d), x.ndim, name="repeat_interleave: dim")
    if x.ndim == 0:
        x = x.reshape(1)
    n = x.shape[d]
    if isinstance(repeats, Tensor) and repeats.numel() == 1 and repeats.ndim <= 1:
        repeats = int(repeats.item())
    if isinstance(repeats, (Tensor, list, tuple, np.ndarray)):
        counts = repeats.numpy() if isinstance(repeats, Tensor) else np.asarray(repeats)
        if counts.ndim != 1 or counts.dtype.kind not in "iu":
            raise TypeError(f"repeat_interleave: repeats must be an int or a 1-D integer tensor, got "
                            f"shape {tuple(counts.shape)} of dtype {counts.dtype}")
        if counts.shape[0] != n:
            raise ShapeError(f"repeat_interleave: {counts.shape[0]} repeat counts given for dimension {d} of size "
                             f"{n} (tensor of shape {x.shape})")
        if (counts < 0).any():
            raise ValueError("repeat_interleave: repeat counts must be non-negative")
        repeats = [int(c) for c in counts]
    else:
        repeats = operator.index(repeats)
        if repeats < 0:
            raise ValueError(f"repeat_interleave: repeats must be non-negative, got {repeats}")
    out = RepeatInterleave.apply(x, repeats=repeats, dim=d)
    if output_size is not None and out.shape[d] != output_size:
        raise ShapeError(f"repeat_interleave: output_size={output_size} but the result has {out.shape[d]} entries "
                         f"along dimension {d}")
    return out


def meshgrid(*tensors, indexing="ij"):
    """Coordinate grids from 1-D tensors (0-d count as 1-D): with ``indexing="ij"`` (the default, as in torch)
    output i varies along dimension i; ``"xy"`` swaps the first two dimensions (Cartesian, as NumPy's default).
    The outputs are broadcast views; gradients sum back."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if indexing not in ("ij", "xy"):
        raise ValueError(f"meshgrid: indexing must be 'ij' or 'xy', got {indexing!r}")
    if not tensors:
        raise TypeError("meshgrid: expected at least one tensor")
    ts = []
    for i, t in enumerate(tensors):
        t = as_tensor(t, ts[0] if ts else None)
        if t.ndim > 1:
            raise ShapeError(f"meshgrid: expected 0-d or 1-D tensors, got shape {t.shape} (tensor {i})")
        if ts and t.device != ts[0].device:
            raise RuntimeError(f"meshgrid: expected all tensors on one device, got {ts[0].device} (tensor 0) and "
                               f"{t.device} (tensor {i})")
        ts.append(t.reshape(-1))
    order = list(range(len(ts)))
    if indexing == "xy" and len(ts) >= 2:
        order[0], order[1] = 1, 0   # output dimension k holds input order[k]
    shape = tuple(ts[j].shape[0] for j in order)
    out = []
    for i, t in enumerate(ts):
        pos = order.index(i)
        view = t.reshape(tuple(-1 if k == pos else 1 for k in range(len(ts))))
        out.append(broadcast_to(view, shape))
    return tuple(out)


def _unfold(x, dimension, size, step):
    """torch ``Tensor.unfold``: every window of ``size`` entries, ``step`` apart, along ``dimension``; the windows
    replace that dimension and their entries form a new last dimension. Overlapping windows add gradients."""
    size, step = operator.index(size), operator.index(step)
    if x.ndim == 0:
        if size > 1:
            raise ShapeError(f"unfold: size {size} is larger than a 0-d tensor's single element")
        x = x.reshape(1)
        dimension = 0
    d = normalize_axis(operator.index(dimension), x.ndim, name="unfold: dimension")
    if step <= 0:
        raise ValueError(f"unfold: step must be positive, got {step}")
    if size < 0 or size > x.shape[d]:
        raise ShapeError(f"unfold: size {size} does not fit dimension {d} of size {x.shape[d]} "
                         f"(tensor of shape {x.shape})")
    xp = x.device.xp
    count = (x.shape[d] - size) // step + 1
    idx = xp.arange(count)[:, None] * step + xp.arange(size)[None, :]   # (count, size) window positions
    y = x[(slice(None),) * d + (Tensor._make(idx),)]                      # (..., count, size, ...)
    axes = tuple(a for a in range(y.ndim) if a != d + 1) + (d + 1,)
    return permute(y, axes)


Tensor.unfold = _unfold
