"""Scans and sorts: cumsum cumprod cummax cummin logcumsumexp, sort argsort topk.

Samples cover int / negative axes, ``dim=``, ``axis=None`` (the flattened tensor, as NumPy), 0-d and 0-size
tensors, non-contiguous views, zeros in cumprod's input, ties (equal elements keep their order: sorts are
stable) and NaN. References are NumPy, written from the documented semantics (PyTorch's tie and NaN rules).
"""
import numpy as np

import deepcore as dc

from . import OpEntry, Sample

_INT = np.int64


def _axis(x, kw):
    """``(array, axis)`` with ``dim`` folded into ``axis``; None flattens, a 0-d array becomes (1,)."""
    axis = kw.get("dim", kw.get("axis", -1))
    if axis is None:
        return x.reshape(-1), 0
    if x.ndim == 0:
        return x.reshape(1), 0
    return x, axis


def _tdim(x, kw):
    """torch's ``(input, dim)`` for the same call."""
    axis = kw.get("dim", kw.get("axis", -1))
    return (x.reshape(-1), 0) if axis is None else (x, axis)


def _distinct(rng, shape):
    n = int(np.prod(shape))
    return np.asarray(rng.permutation(n).reshape(shape) * 0.5 - 1.0)


# --- samples ---------------------------------------------------------------------------------------------------
def _scan_samples(rng, data=None):
    data = data or (lambda shape: np.asarray(rng.standard_normal(shape)))
    return [
        Sample((data(5),), {"axis": 0}, name="vector"),
        Sample((data((3, 4)),), {"axis": 1}, name="axis1"),
        Sample((data((3, 4)),), {"dim": -2}, name="neg-dim"),
        Sample((data((2, 3, 4)),), {"axis": 1}, name="3d"),
        Sample((data((2, 3)),), {"axis": None}, name="flat"),
        Sample((data(()),), {"axis": 0}, name="0d"),
        Sample((data((3, 4)),), {"axis": 1}, name="noncontig", noncontig=True),
        Sample((data((0, 3)),), {"axis": 0}, name="empty-axis"),
        Sample((data((0, 3)),), {"axis": 1}, name="empty-other-axis"),
        Sample((data((1, 9)),), {"axis": 1}, name="long"),
    ]


def _cumsum_samples(rng):
    return _scan_samples(rng) + [
        Sample((rng.integers(-5, 6, (3, 4)),), {"axis": 1}, name="int64"),
        Sample((rng.integers(-5, 6, (3, 4)).astype(np.int32),), {"axis": 0}, name="int32"),
        Sample((rng.integers(0, 2, (5,)).astype(bool),), {"axis": 0}, name="bool"),
    ]


def _cumprod_samples(rng):
    zeros = np.array([[2.0, 0.0, 3.0, 0.0, 4.0], [0.0, 1.5, -2.0, 0.5, 1.0], [1.5, -0.5, 2.0, 0.0, -1.0]])
    return _scan_samples(rng, data=lambda s: np.asarray(np.sign(rng.standard_normal(s)) * rng.uniform(0.5, 1.5, s))) + [
        Sample((zeros,), {"axis": 1}, name="zeros"),
        Sample((zeros,), {"axis": 0}, name="zeros-axis0"),
        Sample((np.zeros(4),), {"axis": 0}, name="all-zeros"),
        Sample((rng.integers(-3, 4, (3, 4)),), {"axis": 1}, name="int64"),
    ]


def _cumext_samples(rng):
    ties = np.array([[1.0, 3.0, 3.0, 2.0, 3.0, 0.0], [3.0, 1.0, 1.0, 2.0, 1.0, 5.0]])
    nan = np.array([1.0, 3.0, np.nan, 5.0, np.nan, 0.0])
    return _scan_samples(rng, data=lambda s: _distinct(rng, s)) + [
        Sample((ties,), {"axis": 1}, name="ties", gradcheck=False),
        Sample((nan,), {"axis": 0}, name="nan", gradcheck=False),
        Sample((rng.integers(-3, 4, (3, 5)),), {"axis": 1}, name="int64"),
    ]


def _lcse_samples(rng):
    return _scan_samples(rng) + [
        Sample((np.array([[1.0, -1000.0, 1000.0, 2.0], [-50.0, 60.0, -70.0, 80.0]]),), {"axis": 1}, name="large"),
        Sample((np.array([-np.inf, 0.0, -np.inf, 1.0]),), {"axis": 0}, name="neg-inf", gradcheck=False),
    ]


def _sort_samples(rng):
    d = lambda s: _distinct(rng, s)
    ties = np.array([[3.0, 1.0, 3.0, 1.0, 2.0], [0.0, 0.0, -1.0, 0.0, 2.0]])
    nan = np.array([3.0, 1.0, np.nan, 1.0, 2.0, np.nan])
    return [
        Sample((d(5),), name="vector"),
        Sample((d((3, 4)),), name="default-last-axis"),
        Sample((d((3, 4)),), {"dim": 0}, name="dim0"),
        Sample((d((3, 4)),), {"axis": -2, "descending": True}, name="descending"),
        Sample((d((2, 3, 4)),), {"axis": 1, "descending": True}, name="3d-descending"),
        Sample((d(()),), {"axis": 0}, name="0d"),
        Sample((d((3, 4)),), {"axis": 1}, name="noncontig", noncontig=True),
        Sample((d((0, 3)),), {"axis": 0}, name="empty-axis"),
        Sample((d((0, 3)),), {"axis": 1, "descending": True}, name="empty-other-axis"),
        Sample((ties,), {"axis": 1}, name="ties", gradcheck=False),
        Sample((ties,), {"axis": 1, "descending": True}, name="ties-descending", gradcheck=False),
        Sample((ties,), {"axis": 1, "descending": True, "stable": True}, name="stable", gradcheck=False),
        Sample((nan,), {"axis": 0}, name="nan", gradcheck=False),
        Sample((nan,), {"axis": 0, "descending": True}, name="nan-descending", gradcheck=False),
        Sample((rng.integers(-3, 4, (3, 6)),), {"axis": 1, "descending": True}, name="int64"),
    ]


def _topk_samples(rng):
    d = lambda s: _distinct(rng, s)
    # ties where whole groups of equal values are taken: which of several equal values PyTorch's topk picks
    # when only some fit is not specified (it need not be the lowest index)
    ties = np.array([3.0, 1.0, 3.0, 1.0, 2.0])
    return [
        Sample((d(6), 3), name="vector"),
        Sample((d((3, 5)), 2), name="matrix"),
        Sample((d((3, 5)), 2), {"largest": False}, name="smallest"),
        Sample((d((4, 3)), 3), {"dim": 0}, name="dim0-all"),
        Sample((d((2, 5, 3)), 1), {"axis": -2}, name="3d"),
        Sample((d((3, 5)), 0), name="k0"),
        Sample((d(()), 1), name="0d"),
        Sample((d((3, 5)), 4), {"sorted": False}, name="unsorted"),
        Sample((d((3, 5)), 2), name="noncontig", noncontig=True),
        Sample((d((0, 4)), 2), name="empty-other-axis"),
        Sample((ties, 3), name="ties", gradcheck=False),
        Sample((ties, 3), {"largest": False}, name="ties-smallest", gradcheck=False),
        Sample((np.array([3.0, np.nan, 1.0, 2.0]), 2), name="nan", gradcheck=False),
        Sample((rng.permutation(18).reshape(3, 6) - 9, 2), name="int64"),
    ]


# --- references ---------------------------------------------------------------------------------------------
def _cum_ref(fn):
    def ref(x, **kw):
        a, axis = _axis(x, kw)
        out = fn(a, axis=axis, dtype=_INT if a.dtype.kind in "biu" else None)
        return out.reshape(x.shape) if x.ndim == 0 else out
    return ref


def _lcse_ref(x, **kw):
    """Each prefix's logsumexp, shifted by that prefix's max."""
    a, axis = _axis(x, kw)
    moved = np.moveaxis(a, axis, -1)
    out = np.empty_like(moved)
    with np.errstate(divide="ignore"):
        for i in range(moved.shape[-1]):
            head = moved[..., :i + 1]
            m = head.max(axis=-1, keepdims=True)
            m = np.where(np.isfinite(m), m, 0)
            out[..., i] = (np.log(np.exp(head - m).sum(axis=-1, keepdims=True)) + m)[..., 0]
    out = np.moveaxis(out, -1, axis)
    return out.reshape(x.shape) if x.ndim == 0 else out


def _cumext_ref(better):
    """Running extreme and its index: the latest element that is NaN or not ``better`` than it (PyTorch)."""
    def one(v):
        vals, idx = np.empty_like(v), np.zeros(v.shape, _INT)
        best, at = None, 0
        for i, e in enumerate(v):
            if best is None or np.isnan(e) or (not np.isnan(best) and not better(best, e)):
                best, at = e, i
            vals[i], idx[i] = best, at
        return vals, idx

    def ref(x, **kw):
        a, axis = _axis(x, kw)
        moved = np.moveaxis(a, axis, -1)
        vals, idx = np.empty_like(moved), np.zeros(moved.shape, _INT)
        for pos in np.ndindex(moved.shape[:-1]):
            vals[pos], idx[pos] = one(moved[pos])
        vals, idx = np.moveaxis(vals, -1, axis), np.moveaxis(idx, -1, axis)
        return (vals.reshape(x.shape), idx.reshape(x.shape)) if x.ndim == 0 else (vals, idx)
    return ref


def _order(a, axis, descending):
    """Stable order; descending puts NaN first and keeps equal elements in their original order."""
    if not descending:
        return np.argsort(a, axis=axis, kind="stable")
    key = np.where(np.isnan(a), -np.inf, -a.astype(np.float64)) if a.dtype.kind == "f" else -a
    return np.argsort(key, axis=axis, kind="stable")


def _sort_ref(x, descending=False, stable=False, **kw):
    a, axis = _axis(x, kw)
    idx = _order(a, axis, descending)
    out = np.take_along_axis(a, idx, axis), idx.astype(_INT)
    return tuple(o.reshape(x.shape) for o in out) if x.ndim == 0 else out


def _argsort_ref(x, **kw):
    return _sort_ref(x, **kw)[1]


def _topk_ref(x, k, largest=True, sorted=True, **kw):
    kw.setdefault("axis", -1)
    a, axis = _axis(x, kw)
    idx = np.take(_order(a, axis, largest), np.arange(k), axis=axis)
    out = np.take_along_axis(a, idx, axis), idx.astype(_INT)
    return tuple(o.reshape(()) for o in out) if x.ndim == 0 else out


def _torch_scan(name):
    def call(torch, x, **kw):
        t, dim = _tdim(x, kw)
        return getattr(torch, name)(t, dim)
    return call


def _torch_sort(torch, x, descending=False, stable=False, **kw):
    t, dim = _tdim(x, kw)
    return torch.sort(t, dim=dim, descending=descending, stable=True)


def _torch_argsort(torch, x, descending=False, stable=False, **kw):
    t, dim = _tdim(x, kw)
    return torch.argsort(t, dim=dim, descending=descending, stable=True)


def _torch_topk(torch, x, k, largest=True, sorted=True, **kw):
    t, dim = _tdim(x, kw)
    return torch.topk(t, k, dim=dim, largest=largest, sorted=True)


ENTRIES = [
    OpEntry("cumsum", dc.cumsum, _cumsum_samples, covers=("dc.cumsum", "Tensor.cumsum"), ref=_cum_ref(np.cumsum),
            torch_fn=_torch_scan("cumsum")),
    OpEntry("cumprod", dc.cumprod, _cumprod_samples, covers=("dc.cumprod", "Tensor.cumprod"),
            ref=_cum_ref(np.cumprod), torch_fn=_torch_scan("cumprod")),
    OpEntry("cummax", dc.cummax, _cumext_samples, covers=("dc.cummax", "Tensor.cummax"),
            ref=_cumext_ref(lambda best, e: best > e), torch_fn=_torch_scan("cummax")),
    OpEntry("cummin", dc.cummin, _cumext_samples, covers=("dc.cummin", "Tensor.cummin"),
            ref=_cumext_ref(lambda best, e: best < e), torch_fn=_torch_scan("cummin")),
    OpEntry("logcumsumexp", dc.logcumsumexp, _lcse_samples, covers=("dc.logcumsumexp", "Tensor.logcumsumexp"),
            ref=_lcse_ref, torch_fn=_torch_scan("logcumsumexp")),
    OpEntry("sort", dc.sort, _sort_samples, covers=("dc.sort", "Tensor.sort"), ref=_sort_ref, torch_fn=_torch_sort),
    OpEntry("argsort", dc.argsort, _sort_samples, covers=("dc.argsort", "Tensor.argsort"), ref=_argsort_ref,
            torch_fn=_torch_argsort, grad=False),
    OpEntry("topk", dc.topk, _topk_samples, covers=("dc.topk", "Tensor.topk"), ref=_topk_ref, torch_fn=_torch_topk),
]

EXEMPT: dict[str, str] = {}
