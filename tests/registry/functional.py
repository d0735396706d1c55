"""``F.one_hot``, ``F.normalize`` and ``F.interpolate`` against NumPy definitions and PyTorch.

``interpolate``'s reference follows PyTorch's documented source positions: nearest reads
floor(dst * in/out) computed in float32 (1/scale_factor when a scale is given), "nearest-exact"
floor((dst + 0.5) * scale), linear modes blend the two neighbours of (dst + 0.5) * scale - 0.5 (clamped at
0), or dst * (in - 1)/(out - 1) with ``align_corners``; "area" is adaptive averaging.
"""
import math

import numpy as np

import deepcore.nn.functional as F

from . import OpEntry, Sample
from .pool import naive_adaptive_avg


def _one_hot_ref(idx, num_classes=-1):
    k = int(idx.max()) + 1 if num_classes == -1 else num_classes
    return (idx[..., None] == np.arange(k)).astype(np.int64)


def _one_hot_samples(rng):
    return [
        Sample((np.array([0, 3, 1, 3]), 5), name="vector"),
        Sample((rng.integers(0, 4, (2, 3)),), {"num_classes": 4}, name="matrix"),
        Sample((np.array(2), 3), name="scalar"),
        Sample((np.zeros((0, 2), dtype=np.int64), 3), name="empty"),
        Sample((np.array([[1, 0], [2, 2]]), 3), name="noncontig", noncontig=True),
    ]


def _one_hot_infer_samples(rng):
    return [Sample((np.array([0, 3, 1]),), name="infer"), Sample((np.array([[2, 0], [1, 1]]), -1), name="infer-2d")]


def _normalize_ref(x, p=2.0, dim=1, eps=1e-12):
    mag = np.abs(x)
    n = mag.max(axis=dim, keepdims=True) if p == math.inf else (mag ** p).sum(axis=dim, keepdims=True) ** (1 / p)
    return x / np.maximum(n, eps)


def _normalize_samples(rng):
    r = rng.standard_normal
    x = r((3, 4))
    x[1] = 0.0                                     # a zero row: eps keeps it 0, its gradient finite
    return [
        Sample((r((3, 4)),), name="default"),
        Sample((x,), {"dim": 1}, name="zero-row", gradcheck=False),
        Sample((r((2, 3, 4)),), {"p": 1.0, "dim": -1}, name="p1"),
        Sample((r((2, 3, 4)),), {"p": 3, "dim": 0}, name="p3"),
        Sample((r((2, 5)) + 3,), {"p": math.inf, "dim": 1}, name="inf"),
        Sample((r((4, 3)) * 1e-3,), {"eps": 1e-2, "dim": 0}, name="eps-clamps"),
        Sample((r((2, 0)),), name="empty"),
        Sample((r((3, 4)),), {"dim": 0}, name="noncontig", noncontig=True),
    ]


def _sources(mode, size, out, scale, align_corners):
    dst = np.arange(out)
    if mode in ("nearest", "nearest-exact"):
        s = np.float32(1.0 / scale) if scale is not None else np.float32(size) / np.float32(out)
        pos = dst.astype(np.float32) + (np.float32(0.5) if mode == "nearest-exact" else np.float32(0))
        i0 = np.minimum(np.floor(pos * s).astype(np.int64), size - 1)
        return i0, i0, np.zeros(out)
    if align_corners:
        src = dst * ((size - 1) / (out - 1) if out > 1 else 0.0)
    else:
        s = 1.0 / scale if scale is not None else size / out
        src = np.maximum((dst + 0.5) * s - 0.5, 0.0)
    i0 = np.floor(src).astype(np.int64)
    return i0, np.minimum(i0 + 1, size - 1), src - i0


def _interpolate_ref(x, size=None, scale_factor=None, mode="nearest", align_corners=None,
                     recompute_scale_factor=None):
    n = x.ndim - 2
    if size is not None:
        sizes = size if isinstance(size, (tuple, list)) else (size,) * n
        scales = (None,) * n
    else:
        scales = scale_factor if isinstance(scale_factor, (tuple, list)) else (scale_factor,) * n
        sizes = tuple(int(math.floor(d * s)) for d, s in zip(x.shape[2:], scales))
        if recompute_scale_factor:
            scales = (None,) * n
    if mode == "area":
        if n == 2:
            return naive_adaptive_avg(x, sizes)
        return naive_adaptive_avg(x[:, :, None], (1, sizes[0]))[:, :, 0]
    y = x
    for k in range(n):
        i0, i1, w1 = _sources(mode, x.shape[2 + k], sizes[k], scales[k], bool(align_corners))
        shape = (-1,) + (1,) * (n - 1 - k)
        y = np.take(y, i0, axis=2 + k) * (1 - w1).reshape(shape) + np.take(y, i1, axis=2 + k) * w1.reshape(shape)
    return y


def _interpolate_samples(rng):
    r = rng.standard_normal
    return [
        Sample((r((2, 3, 5, 7)),), {"size": (8, 4)}, name="nearest-size"),
        Sample((r((2, 3, 5, 7)),), {"scale_factor": 2}, name="nearest-x2"),
        Sample((r((1, 2, 5, 7)),), {"scale_factor": (1.7, 0.6)}, name="nearest-scales"),
        Sample((r((1, 2, 3, 3)),), {"scale_factor": 3}, name="nearest-x3"),
        Sample((r((2, 3, 9)),), {"scale_factor": 1.5}, name="nearest-1d"),
        Sample((r((2, 2, 5, 7)),), {"size": (7, 3), "mode": "nearest-exact"}, name="nearest-exact"),
        Sample((r((2, 3, 5, 7)),), {"size": (3, 9), "mode": "bilinear"}, name="bilinear"),
        Sample((r((2, 3, 5, 7)),), {"size": (3, 9), "mode": "bilinear", "align_corners": True}, name="align-corners"),
        Sample((r((1, 2, 4, 5)),), {"scale_factor": 2.5, "mode": "bilinear"}, name="bilinear-scale"),
        Sample((r((1, 2, 4, 5)),), {"scale_factor": 1.3, "mode": "bilinear", "recompute_scale_factor": True},
               name="recompute-scale"),
        Sample((r((2, 3, 9)),), {"size": 4, "mode": "linear"}, name="linear"),
        Sample((r((2, 3, 4)),), {"size": 7, "mode": "linear", "align_corners": True}, name="linear-align"),
        Sample((r((2, 3, 5, 7)),), {"size": (3, 4), "mode": "area"}, name="area"),
        Sample((r((2, 3, 9)),), {"size": 4, "mode": "area"}, name="area-1d"),
        Sample((r((0, 2, 3, 3)),), {"size": (4, 5), "mode": "bilinear"}, name="empty-batch"),
        Sample((r((2, 3, 5, 4)),), {"size": (7, 6), "mode": "bilinear"}, name="noncontig", noncontig=True),
    ]


ENTRIES = [
    OpEntry("one_hot", F.one_hot, _one_hot_samples, covers=("F.one_hot",), ref=_one_hot_ref,
            torch_fn=lambda torch, idx, num_classes=-1: torch.nn.functional.one_hot(idx, num_classes),
            dtypes=(np.int64,), grad=False),
    OpEntry("one_hot_infer", F.one_hot, _one_hot_infer_samples, covers=("F.one_hot",), ref=_one_hot_ref,
            torch_fn=lambda torch, idx, num_classes=-1: torch.nn.functional.one_hot(idx, num_classes),
            dtypes=(np.int64,), grad=False, extra={"host_sync": True}),
    OpEntry("normalize", F.normalize, _normalize_samples, covers=("F.normalize",), ref=_normalize_ref,
            torch_fn=lambda torch, *a, **k: torch.nn.functional.normalize(*a, **k)),
    OpEntry("interpolate", F.interpolate, _interpolate_samples, covers=("F.interpolate",), ref=_interpolate_ref,
            torch_fn=lambda torch, *a, **k: torch.nn.functional.interpolate(*a, **k)),
]

EXEMPT: dict[str, str] = {}
