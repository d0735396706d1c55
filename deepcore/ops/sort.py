"""Sorting along one axis (PyTorch semantics, ``dim=`` alias): sort and topk (named tuples of values and
indices), argsort.

Sorts are always stable (equal elements keep their order, in both directions) and put NaN last ascending,
first descending, as PyTorch does. The gradient of the values scatters back through the indices.
"""
from __future__ import annotations

import operator

from ..errors import ShapeError
from ..tensor import Tensor
from ._util import tensor_method
from .reduce import _INT64, _take_along, _tensor, return_types
from .scan import _prepare as _prepare_axis, _restore

__all__ = ["sort", "argsort", "topk"]


def _order(xp, a, axis, descending):
    """The stable sorting permutation of ``a`` along ``axis``. Descending sorts the reversed axis ascending
    and reverses the result: equal elements keep their original order and NaN comes first."""
    if not descending:
        return xp.argsort(a, axis=axis, kind="stable").astype(_INT64, copy=False)
    rev = xp.argsort(xp.flip(a, axis), axis=axis, kind="stable").astype(_INT64, copy=False)
    return (a.shape[axis] - 1) - xp.flip(rev, axis)


def _prepare(name, x, axis, dim):
    """``(tensor, axis, shape to restore or None)`` as for the scans; here ``axis`` defaults to -1, so a
    ``dim=`` given with the default ``axis`` is the axis."""
    if dim is not None:
        if axis not in (-1, None):
            raise TypeError("pass either axis= or dim=, not both")
        axis, dim = dim, None
    return _prepare_axis(name, x, axis, dim)


@tensor_method()
def sort(x, axis=-1, descending=False, stable=False, *, dim=None):
    """Named tuple ``(values, indices)`` of ``x`` sorted along ``axis`` (ascending unless ``descending``).
    Always stable, so ``stable=`` (accepted for PyTorch code) changes nothing."""
    t, ax, shape = _prepare("sort", x, axis, dim)
    idx = _order(t.device.xp, t.data, ax, descending)
    values = _take_along(t, idx, ax)
    return return_types.sort(_restore(values, shape), _restore(Tensor._make(idx), shape))


@tensor_method()
def argsort(x, axis=-1, descending=False, stable=False, *, dim=None):
    """The indices (int64) that sort ``x`` along ``axis`` (stable, as :func:`sort`); no gradient."""
    t, ax, shape = _prepare("argsort", x, axis, dim)
    return _restore(Tensor._make(_order(t.device.xp, t.data, ax, descending)), shape)


@tensor_method()
def topk(x, k, axis=-1, largest=True, sorted=True, *, dim=None):
    """Named tuple ``(values, indices)`` of the ``k`` largest (``largest=False``: smallest) elements along
    ``axis``, in sorted order (ties: the lower index first). ``sorted=False`` is accepted; the result is
    sorted anyway."""
    x = _tensor(x)
    t, ax, shape = _prepare("topk", x, axis, dim)
    try:
        k = operator.index(k)
    except TypeError:
        raise TypeError(f"topk: k must be an int, got {type(k).__name__}") from None
    n = t.shape[ax]
    if not 0 <= k <= n:
        raise ShapeError(f"topk: k={k} is out of range for axis {ax} of size {n} (tensor of shape {x.shape})")
    idx = _order(t.device.xp, t.data, ax, largest)
    idx = idx[(slice(None),) * ax + (slice(0, k),)]
    values = _take_along(t, idx, ax)
    return return_types.topk(_restore(values, shape), _restore(Tensor._make(idx), shape))
