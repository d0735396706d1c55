"""Indexing ops (deepcore/ops/indexing.py): gather/scatter, index_select, masks, nonzero, flip/roll, triangles and
diagonals, repeat_interleave, meshgrid and Tensor.unfold; NumPy references and PyTorch calls.

Scatter samples use distinct indices per written position (which duplicate wins is unspecified, as in torch);
scatter_add samples repeat them (they must accumulate).
"""
import numpy as np

import deepcore as dc

from . import OpEntry, Sample

I64 = np.int64


# --- references -------------------------------------------------------------------------------------------
def _grid(index, dim):
    return tuple(index if d == dim else np.arange(index.shape[d]).reshape(
        tuple(-1 if e == d else 1 for e in range(index.ndim))) for d in range(index.ndim))


def _np_gather(a, dim, index):
    return a[_grid(index, dim % a.ndim)]


def _np_scatter(a, dim, index, src=None, value=None):
    out = a.copy()
    vals = np.full(index.shape, value, a.dtype) if src is None or not isinstance(src, np.ndarray) else \
        src[tuple(slice(0, n) for n in index.shape)]
    if src is not None and not isinstance(src, np.ndarray):
        vals = np.full(index.shape, src, a.dtype)
    out[_grid(index, dim % a.ndim)] = vals
    return out


def _np_scatter_add(a, dim, index, src):
    out = a.copy()
    np.add.at(out, _grid(index, dim % a.ndim), src[tuple(slice(0, n) for n in index.shape)])
    return out


def _np_index_select(a, dim, index):
    return np.take(a, index.reshape(-1), axis=dim)


def _np_masked_fill(a, mask, value):
    return np.where(mask, value, a).astype(a.dtype)


def _np_masked_select(a, mask):
    shape = np.broadcast_shapes(a.shape, mask.shape)
    return np.broadcast_to(a, shape)[np.broadcast_to(mask, shape)]


def _np_masked_scatter(a, mask, source):
    shape = np.broadcast_shapes(a.shape, mask.shape)
    out = np.array(np.broadcast_to(a, shape))
    m = np.broadcast_to(mask, shape)
    out[m] = source.reshape(-1)[:int(m.sum())]
    return out


def _np_nonzero(a, as_tuple=False):
    if as_tuple:
        return tuple(np.nonzero(a.reshape(1) if a.ndim == 0 else a))
    return np.stack(np.nonzero(a), axis=1) if a.ndim else np.zeros((int(a != 0), 0), I64)


def _np_roll(a, shifts, dims=None):
    if dims is None:
        return np.roll(a.reshape(-1), shifts).reshape(a.shape)
    return np.roll(a, shifts, axis=dims)


def _np_diag(a, diagonal=0):
    return np.diag(a, diagonal)


def _np_diagonal(a, offset=0, dim1=0, dim2=1):
    return np.diagonal(a, offset, dim1, dim2)


def _np_repeat_interleave(a, repeats, dim=None):
    if isinstance(repeats, np.ndarray):
        repeats = repeats.tolist()
    return np.repeat(a, repeats, axis=dim) if dim is not None else np.repeat(a.reshape(-1), repeats)


def _np_meshgrid(*arrays, indexing="ij"):
    return tuple(np.meshgrid(*[a.reshape(-1) for a in arrays], indexing=indexing))


def _np_unfold(a, dimension, size, step):
    if a.ndim == 0:
        a, dimension = a.reshape(1), 0
    d = dimension % a.ndim
    count = (a.shape[d] - size) // step + 1
    idx = np.arange(count)[:, None] * step + np.arange(size)[None, :]
    y = np.take(a, idx, axis=d)
    return np.moveaxis(y, d + 1, -1)


# --- samples ----------------------------------------------------------------------------------------------
def _gather_samples(rng):
    r = rng.standard_normal
    return [
        Sample((r((3, 4)), 1, np.array([[0, 0], [3, 1], [2, 2]])), name="dim1-repeated"),
        Sample((r((3, 4)), 0, np.array([[2, 0, 1, 2], [0, 0, 0, 0]])), name="dim0"),
        Sample((r((3, 4)), 0, np.array([[2, 1], [1, 1]])), name="smaller"),
        Sample((r((2, 3, 4)), -1, rng.integers(0, 4, (2, 3, 5))), name="neg-dim-larger-along-dim"),
        Sample((r((3, 4)), 1, np.zeros((3, 0), I64)), name="empty-index"),
        Sample((r(5), 0, np.array([4, 0, 4])), name="1d"),
        Sample((r((3, 4)), 1, np.array([[1, 0, 3], [3, 3, 2], [0, 1, 2]])), name="noncontig", noncontig=True),
    ]


def _scatter_samples(rng):
    r = rng.standard_normal
    return [
        Sample((r((3, 4)), 1, np.array([[0, 2], [3, 1], [1, 0]]), r((3, 3))), name="src-larger"),
        Sample((r((3, 4)), 0, np.array([[2, 0, 1, 1], [0, 1, 2, 0]]), r((2, 4))), name="dim0"),
        Sample((r((3, 4)), 1, np.array([[3], [0]]), 2.5), name="value", grad_args=(0,)),
        Sample((r((3, 4)), -1, np.zeros((3, 0), I64), r((3, 2))), name="empty-index"),
        Sample((r((3, 4)), 1, np.array([[1, 0], [2, 3], [0, 3]]), r((3, 2))), name="noncontig", noncontig=True),
    ]


def _scatter_add_samples(rng):
    r = rng.standard_normal
    return [
        Sample((r((3, 4)), 1, np.array([[0, 0, 2], [3, 3, 3], [1, 0, 1]]), r((3, 3))), name="repeated"),
        Sample((r((3, 4)), 0, np.array([[2, 2, 2, 2], [2, 0, 1, 2]]), r((3, 4))), name="dim0-src-larger"),
        Sample((r(5), 0, np.array([1, 1, 4, 1]), r(4)), name="1d"),
        Sample((r((3, 4)), 1, np.zeros((3, 0), I64), r((3, 2))), name="empty-index"),
        Sample((r((3, 4)), 1, np.array([[1, 1], [2, 3], [0, 0]]), r((3, 2))), name="noncontig", noncontig=True),
    ]


def _index_select_samples(rng):
    r = rng.standard_normal
    return [
        Sample((r((3, 4)), 0, np.array([2, 0, 2])), name="dim0-repeated"),
        Sample((r((3, 4)), 1, np.array([3, 1])), name="dim1"),
        Sample((r((2, 3, 4)), -1, np.array([0, 0, 3, 1])), name="neg-dim"),
        Sample((r((3, 4)), 0, np.array(1)), name="0d-index"),
        Sample((r((3, 4)), 1, np.zeros(0, I64)), name="empty-index"),
        Sample((r((3, 4)), 0, np.array([1, 2, 1])), name="noncontig", noncontig=True),
    ]


def _masked_fill_samples(rng):
    r = rng.standard_normal
    m = np.array([[True, False, True], [False, False, True]])
    return [
        Sample((r((2, 3)), m, 2.5), name="number"),
        Sample((r((2, 3)), np.array([False, True, True]), -1.0), name="broadcast-mask"),
        Sample((r(3), m, 0.5), name="broadcast-input"),
        Sample((r((2, 3)), m, r(())), name="0d-tensor-value"),
        Sample((r((0, 3)), np.zeros((0, 3), bool), 1.0), name="empty"),
        Sample((r((2, 3)), m, 3.0), name="noncontig", noncontig=True),
    ]


def _masked_select_samples(rng):
    r = rng.standard_normal
    m = np.array([[True, False, True], [False, False, True]])
    return [
        Sample((r((2, 3)), m), name="same-shape"),
        Sample((r((2, 3)), np.array([True, False, True])), name="broadcast-mask"),
        Sample((r(3), m), name="broadcast-input"),
        Sample((r((0, 3)), np.zeros((0, 3), bool)), name="empty"),
        Sample((r((2, 3)), m), name="noncontig", noncontig=True),
    ]


def _masked_scatter_samples(rng):
    r = rng.standard_normal
    m = np.array([[True, False, True], [False, False, True]])
    return [
        Sample((r((2, 3)), m, r(5)), name="longer-source"),
        Sample((r((2, 3)), np.array([True, False, True]), r((2, 2))), name="broadcast-mask"),
        Sample((r((2, 3)), np.zeros((2, 3), bool), r(2)), name="none-selected"),
        Sample((r((2, 3)), m, r((2, 3))), name="noncontig", noncontig=True),
    ]


def _nonzero_samples(rng):
    a = rng.integers(-1, 2, (3, 4)).astype(np.float64)
    return [
        Sample((a,), name="2d"),
        Sample((a,), {"as_tuple": True}, name="as-tuple"),
        Sample((np.array([0.0, 2.0, 0.0, -1.0]),), name="1d"),
        Sample((np.zeros((0, 3)),), name="empty"),
        Sample((np.array(3.0),), name="0d"),
        Sample((np.array(3.0),), {"as_tuple": True}, name="0d-as-tuple"),
        Sample((a,), name="noncontig", noncontig=True),
    ]


def _flip_samples(rng):
    r = rng.standard_normal
    return [
        Sample((r((2, 3)), (0,)), name="dim0"),
        Sample((r((2, 3, 4)), (0, 2)), name="two-dims"),
        Sample((r((2, 3)), -1), name="int-neg"),
        Sample((r((0, 3)), (1,)), name="empty"),
        Sample((r((3, 4)), (0, 1)), name="noncontig", noncontig=True),
    ]


def _roll_samples(rng):
    r = rng.standard_normal
    return [
        Sample((r((2, 3)), 1), name="flat"),
        Sample((r((2, 3)), (1, 2), (0, 1)), name="two-dims"),
        Sample((r((2, 3)), -4, 1), name="neg-shift"),
        Sample((r((0, 3)), 2, 1), name="empty"),
        Sample((r((3, 4)), 5), name="noncontig-flat", noncontig=True),
        Sample((r((3, 4)), 1, 0), name="noncontig", noncontig=True),
    ]


def _tri_samples(rng):
    r = rng.standard_normal
    return [
        Sample((r((3, 4)),), name="main"),
        Sample((r((3, 4)), 1), name="above"),
        Sample((r((4, 3)), -1), name="below"),
        Sample((r((2, 3, 3)),), {"diagonal": 2}, name="batched-kw"),
        Sample((r((0, 3)),), name="empty"),
        Sample((r((3, 4)), 1), name="noncontig", noncontig=True),
    ]


def _diag_samples(rng):
    r = rng.standard_normal
    return [
        Sample((r(3),), name="vector"),
        Sample((r(3), 1), name="vector-above"),
        Sample((r(2), -2), name="vector-below"),
        Sample((r((3, 4)),), name="matrix"),
        Sample((r((3, 4)), 2), name="matrix-above"),
        Sample((r((4, 3)), -1), name="matrix-below"),
        Sample((r(0),), name="empty"),
        Sample((r(4), 1), name="noncontig-vector", noncontig=True),
        Sample((r((3, 4)), 1), name="noncontig", noncontig=True),
    ]


def _diagonal_samples(rng):
    r = rng.standard_normal
    return [
        Sample((r((3, 4)),), name="main"),
        Sample((r((3, 4)),), {"offset": -1}, name="below"),
        Sample((r((2, 3, 4)),), {"offset": 1, "dim1": 2, "dim2": 0}, name="3d-dims"),
        Sample((r((2, 3, 4)),), {"dim1": -1, "dim2": -2}, name="neg-dims"),
        Sample((r((3, 4)),), {"offset": 5}, name="empty-diagonal"),
        Sample((r((3, 4, 2)),), {"offset": 1, "dim1": 0, "dim2": 1}, name="noncontig", noncontig=True),
    ]


def _repeat_interleave_samples(rng):
    r = rng.standard_normal
    return [
        Sample((r((2, 3)), 2), name="flat"),
        Sample((r((2, 3)), 3, 0), name="dim0"),
        Sample((r((2, 3)), 2, -1), name="neg-dim"),
        Sample((r((2, 3)), 0, 1), name="zero"),
        Sample((r(()), 3), name="scalar"),
        Sample((r((2, 3)), 2, 1), name="noncontig", noncontig=True),
    ]


def _repeat_interleave_counts_samples(rng):
    r = rng.standard_normal
    return [
        Sample((r((2, 3)), np.array([1, 2]), 0), name="dim0"),
        Sample((r((2, 3)), np.array([0, 3, 1]), 1), name="dim1-zero"),
        Sample((r(3), np.array([2, 0, 2])), name="flat"),
        Sample((r((2, 3)), np.array([2, 1, 1]), 1), name="noncontig", noncontig=True),
    ]


def _meshgrid_samples(rng):
    r = rng.standard_normal
    return [
        Sample((r(2), r(3)), name="ij-default"),
        Sample((r(2), r(3), r(4)), {"indexing": "xy"}, name="xy-3"),
        Sample((r(2), r(3)), {"indexing": "ij"}, name="ij"),
        Sample((r(2), r(())), name="0d"),
        Sample((r(0), r(3)), name="empty"),
        Sample((r(4), r(3)), {"indexing": "xy"}, name="noncontig", noncontig=True),
    ]


def _unfold_samples(rng):
    r = rng.standard_normal
    return [
        Sample((r(10), 0, 3, 2), name="1d"),
        Sample((r((2, 5, 3)), 1, 2, 1), name="overlap"),
        Sample((r((2, 5, 3)), -1, 3, 1), name="whole"),
        Sample((r((4, 3)), 0, 2, 3), name="gaps"),
        Sample((r((0, 4)), 1, 2, 2), name="empty"),
        Sample((r((4, 6)), 1, 3, 2), name="noncontig", noncontig=True),
    ]


def _torch_meshgrid(torch, *ts, indexing="ij"):
    return torch.meshgrid(*[t.reshape(-1) for t in ts], indexing=indexing)


def _torch_repeat_interleave(torch, t, repeats, dim=None):
    if isinstance(repeats, torch.Tensor) or not isinstance(repeats, int):
        repeats = torch.as_tensor(repeats)
    return torch.repeat_interleave(t, repeats, dim=dim)


def _head(src, index):
    """torch's scatter backward needs src cut to the index's shape (its gradient is wrong-shaped otherwise)."""
    return src[tuple(slice(0, n) for n in index.shape)]


def _torch_scatter(torch, t, dim, index, src):
    if isinstance(src, torch.Tensor):
        return torch.scatter(t, dim, index, _head(src, index))
    return t.scatter(dim, index, src)


ENTRIES = [
    OpEntry("gather", lambda x, d, i: dc.gather(x, d, i), _gather_samples, covers=("dc.gather", "Tensor.gather"),
            ref=_np_gather, torch_fn=lambda torch, t, d, i: torch.gather(t, d, i)),
    OpEntry("scatter", lambda x, d, i, s: x.scatter(d, i, s), _scatter_samples,
            covers=("dc.scatter", "Tensor.scatter"), ref=_np_scatter, torch_fn=_torch_scatter),
    OpEntry("scatter_add", lambda x, d, i, s: dc.scatter_add(x, d, i, s), _scatter_add_samples,
            covers=("dc.scatter_add", "Tensor.scatter_add"), ref=_np_scatter_add,
            torch_fn=lambda torch, t, d, i, s: torch.scatter_add(t, d, i, _head(s, i))),
    OpEntry("index_select", lambda x, d, i: x.index_select(d, i), _index_select_samples,
            covers=("dc.index_select", "Tensor.index_select"), ref=_np_index_select,
            torch_fn=lambda torch, t, d, i: torch.index_select(t, d, i)),
    OpEntry("masked_fill", lambda x, m, v: dc.masked_fill(x, m, v), _masked_fill_samples,
            covers=("dc.masked_fill", "Tensor.masked_fill"), ref=_np_masked_fill,
            torch_fn=lambda torch, t, m, v: torch.masked_fill(t, m, v)),
    OpEntry("masked_select", lambda x, m: x.masked_select(m), _masked_select_samples,
            covers=("dc.masked_select", "Tensor.masked_select"), ref=_np_masked_select,
            torch_fn=lambda torch, t, m: torch.masked_select(t, m), extra={"host_sync": True}),
    OpEntry("masked_scatter", lambda x, m, s: dc.masked_scatter(x, m, s), _masked_scatter_samples,
            covers=("dc.masked_scatter", "Tensor.masked_scatter"), ref=_np_masked_scatter,
            torch_fn=lambda torch, t, m, s: t.masked_scatter(m, s), extra={"host_sync": True}),
    OpEntry("nonzero", lambda x, **k: dc.nonzero(x, **k), _nonzero_samples, covers=("dc.nonzero", "Tensor.nonzero"),
            ref=_np_nonzero, torch_fn=lambda torch, t, **k: torch.nonzero(t, **k),
            dtypes=(np.float32, np.float64, np.int64, np.bool_), grad=False,
            extra={"host_sync": True, "out_dtype": np.int64}),
    OpEntry("flip", lambda x, d: x.flip(d), _flip_samples, covers=("dc.flip", "Tensor.flip"),
            ref=lambda a, d: np.flip(a, d), torch_fn=lambda torch, t, d: torch.flip(t, d if isinstance(d, tuple)
                                                                                        else (d,))),
    OpEntry("roll", lambda x, *a: dc.roll(x, *a), _roll_samples, covers=("dc.roll", "Tensor.roll"), ref=_np_roll,
            torch_fn=lambda torch, t, *a: torch.roll(t, *a)),
    OpEntry("tril", lambda x, *a, **k: dc.tril(x, *a, **k), _tri_samples, covers=("dc.tril", "Tensor.tril"),
            ref=lambda a, k=0, diagonal=None: np.tril(a, k if diagonal is None else diagonal),
            torch_fn=lambda torch, t, *a, **k: torch.tril(t, *a, **k)),
    OpEntry("triu", lambda x, *a, **k: x.triu(*a, **k), _tri_samples, covers=("dc.triu", "Tensor.triu"),
            ref=lambda a, k=0, diagonal=None: np.triu(a, k if diagonal is None else diagonal),
            torch_fn=lambda torch, t, *a, **k: torch.triu(t, *a, **k)),
    OpEntry("diag", lambda x, *a: dc.diag(x, *a), _diag_samples, covers=("dc.diag", "Tensor.diag"), ref=_np_diag,
            torch_fn=lambda torch, t, *a: torch.diag(t, *a)),
    OpEntry("diagonal", lambda x, **k: x.diagonal(**k), _diagonal_samples, covers=("dc.diagonal", "Tensor.diagonal"),
            ref=_np_diagonal, torch_fn=lambda torch, t, **k: torch.diagonal(t, **k)),
    OpEntry("repeat_interleave", lambda x, r, *d: dc.repeat_interleave(x, r, *d), _repeat_interleave_samples,
            covers=("dc.repeat_interleave", "Tensor.repeat_interleave"), ref=_np_repeat_interleave,
            torch_fn=_torch_repeat_interleave),
    OpEntry("repeat_interleave-counts", lambda x, r, *d: x.repeat_interleave(r, *d), _repeat_interleave_counts_samples,
            covers=("dc.repeat_interleave", "Tensor.repeat_interleave"), ref=_np_repeat_interleave,
            torch_fn=_torch_repeat_interleave, extra={"host_sync": True}),
    OpEntry("meshgrid", lambda *xs, **k: dc.meshgrid(*xs, **k), _meshgrid_samples, covers=("dc.meshgrid",),
            ref=_np_meshgrid, torch_fn=_torch_meshgrid),
    OpEntry("unfold", lambda x, d, s, st: x.unfold(d, s, st), _unfold_samples, covers=("Tensor.unfold",),
            ref=_np_unfold, torch_fn=lambda torch, t, d, s, st: t.unfold(d, s, st)),
]

EXEMPT: dict[str, str] = {}
