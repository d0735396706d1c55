"""Shape ops (deepcore/ops/shape.py): reshape/view, axis moves, broadcasting, joining/splitting, padding and
``__getitem__`` (basic keys, index tensors, host keys and masks), with NumPy references and PyTorch calls.

Torch-specific indexing (an int next to an index array is a basic index) is referenced by ``_torch_index``:
the ints (and slices) are applied first, the arrays next, as PyTorch does.
"""
import numpy as np

import deepcore as dc
import deepcore.nn.functional as F

from . import OpEntry, Sample

S = slice(None)


# --- references -------------------------------------------------------------------------------------------
def _np_squeeze(a, axis=None):
    """torch squeeze on numpy: only size-1 axes among ``axis`` go."""
    if axis is None:
        return a.reshape(tuple(s for s in a.shape if s != 1))
    axes = tuple(i % max(a.ndim, 1) for i in ((axis,) if isinstance(axis, int) else axis))
    return a.reshape(tuple(s for i, s in enumerate(a.shape) if not (i in axes and s == 1)))


def _np_unsqueeze(a, axis):
    return np.expand_dims(a, axis)


def _np_flatten(a, start=0, end=-1):
    if a.ndim == 0:
        return a.reshape(1)
    s, e = start % a.ndim, end % a.ndim
    return a.reshape(a.shape[:s] + (-1,) + a.shape[e + 1:]) if a.size else \
        a.reshape(a.shape[:s] + (int(np.prod(a.shape[s:e + 1])),) + a.shape[e + 1:])


def _np_repeat(a, *reps):
    return np.tile(a.reshape((1,) * (len(reps) - a.ndim) + a.shape), reps)


def _np_split(a, size_or_sections, axis=0):
    n = a.shape[axis]
    if isinstance(size_or_sections, int):
        bounds = list(range(size_or_sections, n, size_or_sections))
    else:
        bounds = list(np.cumsum(size_or_sections)[:-1])
    return tuple(np.split(a, bounds, axis=axis))


def _np_chunk(a, chunks, axis=0):
    n = a.shape[axis]
    return _np_split(a, -(-n // chunks), axis) if n else tuple(np.split(a, chunks, axis=axis))


_NP_MODE = {"constant": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def _np_pad(a, pad, mode="constant", value=0):
    """F.pad on numpy: (left, right) pairs from the last axis; negative widths crop first."""
    widths = [(0, 0)] * a.ndim
    crop = [S] * a.ndim
    for k in range(len(pad) // 2):
        ax = a.ndim - 1 - k
        left, right = pad[2 * k], pad[2 * k + 1]
        crop[ax] = slice(max(-left, 0), a.shape[ax] - max(-right, 0))
        widths[ax] = (max(left, 0), max(right, 0))
    a = a[tuple(crop)]
    kw = {"constant_values": value} if mode == "constant" else {}
    return np.pad(a, widths, mode=_NP_MODE[mode], **kw)


def _torch_index(a, key):
    """``a[key]`` with PyTorch's placement: ints first (basic), then the arrays and slices."""
    key = key if isinstance(key, tuple) else (key,)
    is_int = [isinstance(k, (int, np.integer)) and not isinstance(k, bool) or
              (isinstance(k, np.ndarray) and k.ndim == 0 and k.dtype.kind in "iu") for k in key]
    if not (any(is_int) and any(isinstance(k, (np.ndarray, list)) and not i for k, i in zip(key, is_int))):
        return a[key]
    first, second = [], []
    for k, i in zip(key, is_int):
        if i:
            first.append(k)
        elif k is None:
            first.append(None)
            second.append(S)
        elif k is Ellipsis:
            first.append(Ellipsis)
            second.append(Ellipsis)
        elif isinstance(k, slice):
            first.append(k)
            second.append(S)
        else:
            k = np.asarray(k)
            first.extend([S] * (k.ndim if k.dtype == bool else 1))
            second.append(k)
    return a[tuple(first)][tuple(second)]


def _fill(key, arrays):
    """``key`` with the placeholders "I0", "I1"... replaced by ``arrays``."""
    return tuple(arrays[int(k[1:])] if isinstance(k, str) and k.startswith("I") else k for k in key)


def _torch_key(torch, key):
    return tuple(torch.from_numpy(k) if isinstance(k, np.ndarray) else k for k in key)


# --- samples ----------------------------------------------------------------------------------------------
def _reshape_samples(rng):
    r = rng.standard_normal
    return [
        Sample((r((2, 3)), 3, 2), name="2d"),
        Sample((r((2, 3, 2)), (2, -1)), name="tuple-neg1"),
        Sample((r(()), 1, 1), name="from-scalar"),
        Sample((r((1, 1)), ()), name="to-scalar"),
        Sample((r((0, 3)), 3, 0), name="empty"),
        Sample((r((0, 3)), -1), name="empty-neg1"),
        Sample((r((3, 4)), 2, 6), name="noncontig", noncontig=True),
    ]


def _transpose_samples(rng):
    r = rng.standard_normal
    return [
        Sample((r((2, 3)),), name="2d-default"),
        Sample((r((2, 3, 4)), 0, 2), name="axes"),
        Sample((r((2, 3, 4)), -1, 0), name="neg"),
        Sample((r((2, 3)),), {"dim0": 1, "dim1": 0}, name="dim-kw"),
        Sample((r((0, 3)), 0, 1), name="empty"),
        Sample((r((3, 4, 2)), 1, 2), name="noncontig", noncontig=True),
    ]


def _np_transpose(a, a0=None, a1=None, dim0=None, dim1=None):
    a0, a1 = (a0, a1) if dim0 is None else (dim0, dim1)
    return a.T if a0 is None else np.swapaxes(a, a0, a1)


def _torch_transpose(torch, t, a0=None, a1=None, dim0=None, dim1=None):
    a0, a1 = (a0, a1) if dim0 is None else (dim0, dim1)
    return t.t() if a0 is None else t.transpose(a0, a1)


def _permute_samples(rng):
    r = rng.standard_normal
    return [
        Sample((r((2, 3, 4)), 2, 0, 1), name="3d"),
        Sample((r((3, 2)), (1, 0)), name="tuple"),
        Sample((r(()),), name="scalar"),
        Sample((r((2, 0, 3)), -1, 0, 1), name="empty-neg"),
        Sample((r((2, 3, 4)), 1, 2, 0), name="noncontig", noncontig=True),
    ]


def _axes(axes):
    return tuple(axes[0]) if len(axes) == 1 and isinstance(axes[0], tuple) else axes


def _T_samples(rng):
    r = rng.standard_normal
    return [Sample((r((2, 3)),), name="2d"), Sample((r((2, 3, 4)),), name="3d"), Sample((r(4),), name="1d"),
            Sample((r(()),), name="scalar"), Sample((r((0, 2)),), name="empty"),
            Sample((r((3, 2)),), name="noncontig", noncontig=True)]


def _squeeze_samples(rng):
    r = rng.standard_normal
    return [
        Sample((r((1, 3, 1)),), name="all"),
        Sample((r((1, 3, 1)), 0), name="axis"),
        Sample((r((1, 3, 1)), (0, -1)), name="tuple"),
        Sample((r((1, 3, 1)),), {"dim": 2}, name="dim-kw"),
        Sample((r((1, 3, 1)), 1), name="noop"),
        Sample((r(()),), name="scalar"),
        Sample((r((1, 0, 1)),), name="empty"),
        Sample((r((1, 3, 1)), 2), name="noncontig", noncontig=True),
    ]


def _np_squeeze_kw(a, axis=None, dim=None):
    return _np_squeeze(a, dim if dim is not None else axis)


def _torch_squeeze(torch, t, axis=None, dim=None):
    axis = dim if dim is not None else axis
    return t.squeeze() if axis is None else t.squeeze(axis)


def _unsqueeze_samples(rng):
    r = rng.standard_normal
    return [
        Sample((r((2, 3)), 0), name="front"),
        Sample((r((2, 3)), -1), name="neg"),
        Sample((r((2, 3)),), {"dim": 1}, name="dim-kw"),
        Sample((r(()), 0), name="scalar"),
        Sample((r((0, 3)), 1), name="empty"),
        Sample((r((2, 3)), 1), name="noncontig", noncontig=True),
    ]


def _unsqueeze_tuple_samples(rng):
    return [Sample((rng.standard_normal((2, 3)), (0, 3)), name="tuple")]


def _flatten_samples(rng):
    r = rng.standard_normal
    return [
        Sample((r((2, 3, 4)),), name="all"),
        Sample((r((2, 3, 4)), 1), name="start"),
        Sample((r((2, 3, 4)),), {"start_dim": 0, "end_dim": 1}, name="range-kw"),
        Sample((r(()),), name="scalar"),
        Sample((r((2, 0, 3)), 1), name="empty"),
        Sample((r((2, 3, 4)), 0, 1), name="noncontig", noncontig=True),
    ]


def _np_flatten_kw(a, start=0, end=-1, start_dim=None, end_dim=None):
    return _np_flatten(a, start if start_dim is None else start_dim, end if end_dim is None else end_dim)


def _torch_flatten(torch, t, start=0, end=-1, start_dim=None, end_dim=None):
    return t.flatten(start if start_dim is None else start_dim, end if end_dim is None else end_dim)


def _unflatten_samples(rng):
    r = rng.standard_normal
    return [
        Sample((r((3, 4)), 1, (2, 2)), name="last"),
        Sample((r((6, 2)), 0, (-1, 3)), name="neg1"),
        Sample((r((2, 6, 1)), -2, (3, 1, 2)), name="neg-dim"),
        Sample((r((0, 4)), 1, (2, 2)), name="empty"),
        Sample((r((3, 4)), 1, (4, 1)), name="noncontig", noncontig=True),
    ]


def _np_unflatten(a, dim, sizes):
    d = dim % a.ndim
    sizes = list(sizes)
    if -1 in sizes:
        sizes[sizes.index(-1)] = a.shape[d] // -int(np.prod(sizes))
    return a.reshape(a.shape[:d] + tuple(sizes) + a.shape[d + 1:])


def _broadcast_samples(rng):
    r = rng.standard_normal
    return [
        Sample((r(3), (2, 3)), name="lead"),
        Sample((r((2, 1)), (4, 2, 3)), name="ones"),
        Sample((r(()), (2, 2)), name="scalar"),
        Sample((r((2, 3)), (2, 3)), name="same"),
        Sample((r((1, 3)), (0, 3)), name="to-empty"),
        Sample((r((3, 1)), (2, 3, 4)), name="noncontig", noncontig=True),
    ]


def _expand_samples(rng):
    r = rng.standard_normal
    return [
        Sample((r((2, 1)), -1, 4), name="keep"),
        Sample((r((1, 3)), (3, 2, -1)), name="lead"),
        Sample((r((1, 3)), 0, 3), name="to-empty"),
        Sample((r((3, 1)), 2, 3, 2), name="noncontig", noncontig=True),
    ]


def _np_expand(a, *shape):
    shape = _axes(shape)
    lead = len(shape) - a.ndim
    return np.broadcast_to(a, tuple(a.shape[i - lead] if s == -1 else s for i, s in enumerate(shape)))


def _repeat_samples(rng):
    r = rng.standard_normal
    return [
        Sample((r((2, 3)), 2, 1), name="2d"),
        Sample((r((2, 3)), (1, 2, 2)), name="lead"),
        Sample((r(2), 3), name="1d"),
        Sample((r(()), 3, 2), name="scalar"),
        Sample((r((2, 3)), 0, 2), name="zero"),
        Sample((r((0, 3)), 2, 1), name="empty"),
        Sample((r((2, 3)), 2, 2), name="noncontig", noncontig=True),
    ]


def _split_samples(rng):
    r = rng.standard_normal
    return [
        Sample((r((5, 3)), 2), name="int"),
        Sample((r((2, 3)), [1, 2]), {"axis": 1}, name="list"),
        Sample((r((3, 2)), 1), {"dim": -1}, name="dim-kw"),
        Sample((r((0, 2)), 2), name="empty"),
        Sample((r((4, 3)), [3, 0, 1]), name="zero-section"),
        Sample((r((4, 6)), 4), {"dim": 1}, name="noncontig", noncontig=True),
    ]


def _kw_axis(axis=0, dim=None):
    return axis if dim is None else dim


def _np_split_kw(a, s, axis=0, dim=None):
    return _np_split(a, s, _kw_axis(axis, dim))


def _torch_split(torch, t, s, axis=0, dim=None):
    return torch.split(t, s, dim=_kw_axis(axis, dim))


def _chunk_samples(rng):
    r = rng.standard_normal
    return [
        Sample((r(5), 3), name="uneven"),
        Sample((r((2, 6)), 4), {"axis": 1}, name="fewer"),
        Sample((r((6, 2)), 3), {"dim": 0}, name="dim-kw"),
        Sample((r((0, 2)), 3), name="empty"),
        Sample((r((4, 6)), 2), {"dim": 1}, name="noncontig", noncontig=True),
    ]


def _np_chunk_kw(a, c, axis=0, dim=None):
    return _np_chunk(a, c, _kw_axis(axis, dim))


def _pad_samples(rng):
    r = rng.standard_normal
    return [
        Sample((r((2, 3)), (1, 2)), name="last"),
        Sample((r((2, 3)), (1, 0, 2, 1)), name="2axes"),
        Sample((r((2, 3, 2)), (0, 1, 1, 0, 2, 2)), {"value": 1.5}, name="3d-value"),
        Sample((r((2, 3)), (-1, 2)), name="crop"),
        Sample((r((2, 4)), (-1, -1, 1, 0)), name="crop-both"),
        Sample((r((2, 3)), (2, 1)), {"mode": "reflect"}, name="reflect"),
        Sample((r((5, 6, 3)), (2, 2, 1, 3)), {"mode": "reflect"}, name="reflect-2axes"),
        Sample((r((2, 2, 3)), (1, 3, 2, 0)), {"mode": "replicate"}, name="replicate"),
        Sample((r((2, 3)), (3, 1)), {"mode": "circular"}, name="circular"),
        Sample((r((5, 6, 3)), (3, 1, 2, 0)), {"mode": "circular"}, name="circular-2axes"),
        Sample((r((2, 6)), (-1, 2)), {"mode": "circular"}, name="circular-crop-left"),
        Sample((r((2, 6)), (2, -1)), {"mode": "circular"}, name="circular-crop-right"),
        Sample((r((2, 6)), (-2, 4)), {"mode": "circular"}, name="circular-crop-wrap"),
        Sample((r((1, 2, 3, 4)), (-1, 2, 1, -2)), {"mode": "circular"}, name="circular-crop-2axes"),
        Sample((r((0, 3)), (1, 1)), name="empty"),
        Sample((r((3, 4)), (1, 2, 0, 1)), name="noncontig", noncontig=True),
        Sample((r((3, 4)), (1, 2)), {"mode": "circular"}, name="noncontig-circular", noncontig=True),
    ]


def _torch_pad(torch, t, pad, mode="constant", value=None):
    return torch.nn.functional.pad(t, pad, mode=mode, value=value)


def _getitem_basic_samples(rng):
    r = rng.standard_normal
    return [
        Sample((r((3, 4)), 1), name="int"),
        Sample((r((3, 4)), (-1, 2)), name="neg-int"),
        Sample((r(4), 2), name="scalar-elem"),
        Sample((r(()), ()), name="empty-tuple"),
        Sample((r((3, 4)), (slice(1, None), slice(None, None, 2))), name="slice"),
        Sample((r((2, 3, 4)), (None, Ellipsis, None, 0)), name="none-ellipsis"),
        Sample((r((2, 3, 4)), (Ellipsis, slice(1, None))), name="ellipsis"),
        Sample((r((0, 4)), (S, 1)), name="empty"),
        Sample((r((3, 4)), (slice(1, 3), -1)), name="noncontig", noncontig=True),
    ]


def _getitem_negstep_samples(rng):
    """Negative steps (NumPy's, not in torch: no PyTorch call)."""
    r = rng.standard_normal
    return [Sample((r(4), slice(None, None, -1)), name="neg-step"),
            Sample((r((3, 4)), (slice(None, None, -2), slice(3, 0, -1))), name="neg-step-2d"),
            Sample((r((3, 4)), (slice(None, None, -1), 1)), name="noncontig", noncontig=True)]


def _getitem_index_samples(rng):
    """Index tensors on the device (sample args): no host copy, gradients scatter-add."""
    r = rng.standard_normal
    i3, i2 = np.array([0, 2, 0, 2]), np.array([[3, 3], [0, 1]])
    return [
        Sample((r((3, 4)), np.array([1, 1, 2])), {"key": ("I0",)}, name="rows-repeated"),
        Sample((r((3, 4)), i2), {"key": (S, "I0")}, name="2d-index"),
        Sample((r((3, 4)), np.array([0, 1, 0]), np.array([2, 0, 2])), {"key": ("I0", "I1")}, name="two-arrays"),
        Sample((r((2, 3, 2)), np.array([0, 1, 1]), np.array([1, 0, 1])), {"key": ("I0", S, "I1")},
               name="adv-slice-adv"),
        Sample((r((2, 3, 4, 5)), np.array([0, 1])), {"key": (0, S, "I0")}, name="int-slice-adv"),
        Sample((r((2, 3, 4, 5)), np.array([1, 2])), {"key": (S, 0, S, "I0")}, name="slice-int-slice-adv"),
        Sample((r((2, 3, 4, 5)), np.array([1, 2])), {"key": (Ellipsis, 0, "I0")}, name="ellipsis-int-adv"),
        Sample((r((2, 3, 4, 5)), np.array([[1, 0], [2, 2]])), {"key": (1, S, 0, "I0")}, name="ints-2d-adv"),
        Sample((r((2, 3, 4, 5)), np.array(1), np.array([0, 2])), {"key": ("I0", S, "I1")}, name="0d-tensor-int"),
        Sample((r((2, 3, 4)), np.array([0, 1])), {"key": (None, 0, S, "I0")}, name="none-int-adv"),
        Sample((r((3, 4)), np.zeros(0, dtype=np.int64)), {"key": ("I0",)}, name="empty-index"),
        Sample((r((4, 3)), i3), {"key": (1, "I0")}, name="noncontig", noncontig=True),
    ]


def _getitem_index(x, *idx, key):
    return x[_fill(key, idx)]


def _getitem_index_ref(a, *idx, key):
    return _torch_index(a, _fill(key, idx))


def _getitem_index_torch(torch, t, *idx, key):
    return t[_fill(key, idx)]


MASK = np.array([[True, False, True], [False, False, True]])


def _getitem_host_samples(rng):
    """Keys holding host data (lists, NumPy arrays) or boolean masks: a host->device copy or a sync on a GPU."""
    r = rng.standard_normal
    return [
        Sample((r((3, 4)), [0, 2, 0]), name="list"),
        Sample((r((3, 4)), (S, np.array([[3, 3], [0, 1]]))), name="ndarray"),
        Sample((r((3, 4)), ([0, 1, 0], [2, 0, 2])), name="two-lists"),
        Sample((r((2, 3, 2)), ([0, 1, 1], S, [1, 0, 1])), name="adv-slice-adv"),
        Sample((r((3, 4)), (slice(1, None), [0, 0])), name="slice-list"),
        Sample((r((2, 3, 4, 5)), (0, S, [0, 1])), name="int-slice-list"),
        Sample((r((2, 3)), MASK), name="mask-np"),
        Sample((r((5, 6, 3)), (Ellipsis, np.array([True, False, True]))), name="mask-last"),
        Sample((r((3, 2)), np.array([True, False, True])), name="mask-rows"),
        Sample((r((2, 3)), MASK), name="noncontig", noncontig=True),
    ]


def _getitem_host_torch(torch, t, key):
    key = key if isinstance(key, tuple) else (key,)
    return t[_torch_key(torch, key)]


def _getitem_mask_samples(rng):
    r = rng.standard_normal
    return [Sample((r((2, 3)), MASK), name="mask-tensor"), Sample((r((3, 4)), r((3, 4)) > 0), name="random-mask"),
            Sample((r((0, 3)), np.zeros((0, 3), bool)), name="empty"),
            Sample((r((2, 3)), MASK), name="noncontig", noncontig=True)]


def _cat_samples(rng):
    r = rng.standard_normal
    return [
        Sample((r((2, 3)), r((1, 3))), name="axis0"),
        Sample((r((2, 3)), r((2, 1)), r((2, 2))), {"axis": 1}, name="axis1"),
        Sample((r((2, 2, 1)), r((2, 2, 3))), {"dim": -1}, name="neg-dim"),
        Sample((r(1), r(3)), name="1d"),
        Sample((r((0, 3)), r((2, 3))), name="empty-part"),
        Sample((r((2, 3)), r((4, 3))), name="noncontig", noncontig=True),
    ]


def _stack_samples(rng):
    r = rng.standard_normal
    return [
        Sample((r((2, 3)), r((2, 3))), name="axis0"),
        Sample((r((2, 3)), r((2, 3)), r((2, 3))), {"axis": 1}, name="axis1"),
        Sample((r((2, 3)), r((2, 3))), {"dim": -1}, name="last"),
        Sample((r(()), r(())), name="scalars"),
        Sample((r((0, 3)), r((0, 3))), name="empty"),
        Sample((r((2, 3)), r((2, 3))), {"dim": 1}, name="noncontig", noncontig=True),
    ]


def _torch_cat(torch, *ts, axis=0, dim=None):
    return torch.cat(ts, dim=_kw_axis(axis, dim))


def _torch_stack(torch, *ts, axis=0, dim=None):
    return torch.stack(ts, dim=_kw_axis(axis, dim))


def _view_dtype_samples(rng):
    r = rng.standard_normal
    return [Sample((r((2, 4)), "int32"), name="same-size"), Sample((r((2, 4)), "int16"), name="smaller"),
            Sample((r((3, 2)), "uint8"), name="bytes"), Sample((r((0, 4)), "int32"), name="empty")]


def _view_dtype(x, dtype):
    return x.view(getattr(dc, {"int32": "int32", "int16": "int16", "uint8": "uint8"}[dtype]))


def _view_dtype_torch(torch, t, dtype):
    return t.view(getattr(torch, dtype))


def _view_dtype_ref(a, dtype):
    return a.view(dtype)


ENTRIES = [
    OpEntry("reshape", lambda x, *s: dc.reshape(x, *s), _reshape_samples, covers=("dc.reshape", "Tensor.reshape"),
            ref=lambda a, *s: a.reshape(_axes(s)), torch_fn=lambda torch, t, *s: t.reshape(_axes(s))),
    OpEntry("view", lambda x, *s: x.view(*s), _reshape_samples, covers=("Tensor.view",),
            ref=lambda a, *s: a.reshape(_axes(s)), torch_fn=lambda torch, t, *s: t.reshape(_axes(s))),
    OpEntry("view_as", lambda x, y: x.view_as(y), lambda rng: [
        Sample((rng.standard_normal((2, 3)), rng.standard_normal((3, 2))), grad_args=(0,), name="2d"),
        Sample((rng.standard_normal((0, 3)), rng.standard_normal((3, 0))), grad_args=(0,), name="empty")],
        covers=("Tensor.view_as",), ref=lambda a, b: a.reshape(b.shape),
        torch_fn=lambda torch, t, u: t.reshape(u.shape)),
    # view(dtype) reinterprets bits: compared with NumPy's and torch's bytes (floats only: view of float bits)
    OpEntry("view-dtype", _view_dtype, _view_dtype_samples, covers=("Tensor.view",), ref=None,
            torch_fn=_view_dtype_torch, dtypes=(np.float32,), grad=False, extra={"out_dtype": None}),
    OpEntry("transpose", lambda x, *a, **k: dc.transpose(x, *a, **k), _transpose_samples,
            covers=("dc.transpose", "Tensor.transpose"), ref=_np_transpose, torch_fn=_torch_transpose),
    OpEntry("permute", lambda x, *a: x.permute(*a), _permute_samples, covers=("dc.permute", "Tensor.permute"),
            ref=lambda a, *ax: a.transpose(_axes(ax)) if ax else a,
            torch_fn=lambda torch, t, *ax: t.permute(_axes(ax))),
    OpEntry("T", lambda x: x.T, _T_samples, covers=("Tensor.T",), ref=lambda a: a.T,
            torch_fn=lambda torch, t: t.permute(tuple(reversed(range(t.ndim))))),
    OpEntry("squeeze", lambda x, *a, **k: dc.squeeze(x, *a, **k), _squeeze_samples,
            covers=("dc.squeeze", "Tensor.squeeze"), ref=_np_squeeze_kw, torch_fn=_torch_squeeze),
    OpEntry("unsqueeze", lambda x, *a, **k: x.unsqueeze(*a, **k), _unsqueeze_samples,
            covers=("dc.unsqueeze", "Tensor.unsqueeze"), ref=lambda a, axis=None, dim=None: _np_unsqueeze(
                a, axis if dim is None else dim),
            torch_fn=lambda torch, t, axis=None, dim=None: t.unsqueeze(axis if dim is None else dim)),
    OpEntry("unsqueeze-tuple", lambda x, a: dc.unsqueeze(x, a), _unsqueeze_tuple_samples, covers=("dc.unsqueeze",),
            ref=_np_unsqueeze, extra={"no_torch": "PyTorch's unsqueeze takes one dim (NumPy-style extension)"}),
    OpEntry("flatten", lambda x, *a, **k: dc.flatten(x, *a, **k), _flatten_samples,
            covers=("dc.flatten", "Tensor.flatten"), ref=_np_flatten_kw, torch_fn=_torch_flatten),
    OpEntry("unflatten", lambda x, d, s: dc.unflatten(x, d, s), _unflatten_samples,
            covers=("dc.unflatten", "Tensor.unflatten"), ref=_np_unflatten,
            torch_fn=lambda torch, t, d, s: t.unflatten(d, s)),
    OpEntry("broadcast_to", lambda x, s: x.broadcast_to(s), _broadcast_samples,
            covers=("dc.broadcast_to", "Tensor.broadcast_to"), ref=np.broadcast_to,
            torch_fn=lambda torch, t, s: torch.broadcast_to(t, s)),
    OpEntry("expand", lambda x, *s: x.expand(*s), _expand_samples, covers=("Tensor.expand",), ref=_np_expand,
            torch_fn=lambda torch, t, *s: t.expand(*s)),
    OpEntry("repeat", lambda x, *r: dc.repeat(x, *r), _repeat_samples, covers=("dc.repeat", "Tensor.repeat"),
            ref=lambda a, *r: _np_repeat(a, *_axes(r)), torch_fn=lambda torch, t, *r: t.repeat(*r)),
    OpEntry("split", lambda x, s, **k: x.split(s, **k), _split_samples, covers=("dc.split", "Tensor.split"),
            ref=_np_split_kw, torch_fn=_torch_split),
    OpEntry("chunk", lambda x, c, **k: dc.chunk(x, c, **k), _chunk_samples, covers=("dc.chunk", "Tensor.chunk"),
            ref=_np_chunk_kw, torch_fn=lambda torch, t, c, axis=0, dim=None: t.chunk(c, dim=_kw_axis(axis, dim))),
    OpEntry("pad", lambda x, p, **k: dc.pad(x, p, **k), _pad_samples, covers=("dc.pad", "Tensor.pad", "F.pad"),
            ref=_np_pad, torch_fn=_torch_pad),
    OpEntry("F.pad", lambda x, p, **k: F.pad(x, p, **k), lambda rng: _pad_samples(rng)[:3],
            covers=("F.pad",), ref=_np_pad, torch_fn=_torch_pad),
    OpEntry("getitem", lambda x, key: x[key], _getitem_basic_samples, covers=("Tensor.__getitem__",),
            ref=lambda a, key: a[key], torch_fn=lambda torch, t, key: t[key]),
    OpEntry("getitem-negstep", lambda x, key: x[key], _getitem_negstep_samples, covers=("Tensor.__getitem__",),
            ref=lambda a, key: a[key], extra={"no_torch": "PyTorch refuses negative slice steps"}),
    OpEntry("getitem-index", _getitem_index, _getitem_index_samples, covers=("Tensor.__getitem__",),
            ref=_getitem_index_ref, torch_fn=_getitem_index_torch),
    OpEntry("getitem-host", lambda x, key: x[key], _getitem_host_samples, covers=("Tensor.__getitem__",),
            ref=lambda a, key: _torch_index(a, key), torch_fn=_getitem_host_torch, extra={"host_sync": True}),
    OpEntry("getitem-mask", lambda x, m: x[m], _getitem_mask_samples, covers=("Tensor.__getitem__",),
            ref=lambda a, m: a[m], torch_fn=lambda torch, t, m: t[m], extra={"host_sync": True}),
    OpEntry("cat", lambda *xs, **k: dc.cat(list(xs), **k), _cat_samples, covers=("dc.cat",),
            ref=lambda *a, axis=0, dim=None: np.concatenate(a, _kw_axis(axis, dim)), torch_fn=_torch_cat),
    OpEntry("concatenate", lambda *xs, **k: dc.concatenate(xs, **k), lambda rng: _cat_samples(rng)[:2],
            covers=("dc.concatenate",), ref=lambda *a, axis=0, dim=None: np.concatenate(a, _kw_axis(axis, dim)),
            torch_fn=_torch_cat),
    OpEntry("stack", lambda *xs, **k: dc.stack(list(xs), **k), _stack_samples, covers=("dc.stack",),
            ref=lambda *a, axis=0, dim=None: np.stack(a, _kw_axis(axis, dim)), torch_fn=_torch_stack),
]

EXEMPT: dict[str, str] = {}
