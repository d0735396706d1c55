"""Pooling: ``F.max_pool2d``, ``F.avg_pool2d``, ``F.max_pool1d``, ``F.avg_pool1d``, ``F.adaptive_avg_pool2d``.

References are direct loops over PyTorch's window definitions: window r of an axis starts at r*stride -
padding and reads cells start + i*dilation; with ``ceil_mode`` a last window that starts inside the input
or the left padding is kept; average pooling divides by the window's extent within the padded input
(``count_include_pad``), by its number of input cells, or by ``divisor_override``; adaptive bin i covers
[floor(i*H/out), ceil((i+1)*H/out)). ``return_indices`` gives the first maximum's h * W + w (NaN wins).
Fast-path specifics (numba and CUDA kernels against the generic path, launch counts) stay in
tests/test_ops_pool.py.
"""
import numpy as np

import deepcore.nn.functional as F

from . import OpEntry, Sample


def _pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def _out_len(size, k, s, p, d, ceil_mode):
    span = size + 2 * p - d * (k - 1) - 1
    out = (span + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1
    return out


def _batched(x, nd):
    """x as (N, C, H, W) and a function giving a result its original leading shape back."""
    if nd == 2:
        if x.ndim == 3:
            return x[None], lambda y: y[0]
        return x, lambda y: y
    if x.ndim == 2:
        return x[None, :, None], lambda y: y[0, :, 0]
    return x[:, :, None], lambda y: y[:, :, 0]


def _geometry(kernel, stride, padding, dilation, nd):
    if nd == 1:
        one = lambda v, fill: (fill, v[0] if isinstance(v, (tuple, list)) else v)  # noqa: E731
        kernel, padding, dilation = one(kernel, 1), one(padding, 0), one(dilation, 1)
        stride = kernel if stride is None else one(stride, 1)
    else:
        kernel, padding, dilation = _pair(kernel), _pair(padding), _pair(dilation)
        stride = kernel if stride is None else _pair(stride)
    return kernel, stride, padding, dilation


def naive_max_pool(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False, nd=2):
    x4, back = _batched(x, nd)
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = _geometry(kernel_size, stride, padding, dilation, nd)
    n, c, h, w = x4.shape
    oh, ow = _out_len(h, kh, sh, ph, dh, ceil_mode), _out_len(w, kw, sw, pw, dw, ceil_mode)
    y = np.empty((n, c, oh, ow))
    idx = np.empty((n, c, oh, ow), dtype=np.int64)
    for r in range(oh):
        for q in range(ow):
            cells = [(r * sh - ph + i * dh, q * sw - pw + j * dw) for i in range(kh) for j in range(kw)]
            cells = [(a, b) for a, b in cells if 0 <= a < h and 0 <= b < w]
            vals = np.stack([x4[:, :, a, b] for a, b in cells], axis=-1)
            k = np.argmax(vals, axis=-1)                     # the first maximum; NaN counts as the maximum
            y[:, :, r, q] = np.take_along_axis(vals, k[..., None], -1)[..., 0]
            flat = np.array([a * w + b for a, b in cells])
            idx[:, :, r, q] = flat[k]
    return (back(y), back(idx)) if return_indices else back(y)


def naive_avg_pool(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                   divisor_override=None, nd=2):
    x4, back = _batched(x, nd)
    (kh, kw), (sh, sw), (ph, pw), _ = _geometry(kernel_size, stride, padding, 1, nd)
    n, c, h, w = x4.shape
    oh, ow = _out_len(h, kh, sh, ph, 1, ceil_mode), _out_len(w, kw, sw, pw, 1, ceil_mode)
    y = np.empty((n, c, oh, ow))
    for r in range(oh):
        for q in range(ow):
            h0, w0 = r * sh - ph, q * sw - pw
            h1, w1 = min(h0 + kh, h + ph), min(w0 + kw, w + pw)
            pool = (h1 - h0) * (w1 - w0)
            h0, w0, h1, w1 = max(h0, 0), max(w0, 0), min(h1, h), min(w1, w)
            total = x4[:, :, h0:h1, w0:w1].sum(axis=(2, 3))
            div = divisor_override or (pool if count_include_pad else (h1 - h0) * (w1 - w0))
            y[:, :, r, q] = total / div
    return back(y)


def naive_adaptive_avg(x, output_size):
    x4, back = _batched(x, 2)
    h, w = x4.shape[2:]
    oh, ow = _pair(output_size)
    oh, ow = h if oh is None else oh, w if ow is None else ow
    y = np.empty(x4.shape[:2] + (oh, ow))
    for i in range(oh):
        for j in range(ow):
            hs, he = (i * h) // oh, -(-((i + 1) * h) // oh)
            ws, we = (j * w) // ow, -(-((j + 1) * w) // ow)
            y[:, :, i, j] = x4[:, :, hs:he, ws:we].mean(axis=(2, 3))
    return back(y)


def _ties(rng, shape):
    """Values with repeated maxima inside windows (the first one wins, in every implementation)."""
    return rng.integers(-2, 3, size=shape).astype(np.float64) + 0.5


def _max2d_samples(rng):
    r = rng.standard_normal
    return [
        Sample((r((2, 3, 6, 6)), 2), name="basic"),
        Sample((r((2, 3, 7, 5)), 3, 2, 1), name="overlap-padding"),
        Sample((r((1, 2, 6, 7)), (3, 2), (1, 2), (1, 1)), name="pairs"),
        Sample((r((2, 2, 7, 8)), 3), {"stride": 2, "padding": 1, "dilation": 2}, name="dilation"),
        Sample((r((2, 2, 7, 6)), 3), {"stride": 2, "ceil_mode": True}, name="ceil"),
        Sample((r((1, 2, 5, 7)), 3), {"stride": 2, "padding": 1, "dilation": (2, 1), "ceil_mode": True},
               name="dilation-ceil"),
        Sample((r((2, 3, 7, 5)), 3, 2, 1), {"return_indices": True}, name="indices"),
        Sample((r((1, 2, 7, 8)), 2), {"stride": 3, "dilation": 2, "ceil_mode": True, "return_indices": True},
               name="indices-dilation-ceil"),
        Sample((r((3, 6, 6)), 2), {"return_indices": True}, name="unbatched"),
        Sample((r((0, 2, 4, 4)), 2), name="empty-batch"),
        Sample((r((2, 3, 6, 5)), 2), {"stride": 1}, name="noncontig", noncontig=True),
        Sample((_ties(rng, (2, 2, 6, 6)), 3), {"stride": 1, "return_indices": True}, name="ties", gradcheck=False),
    ]


def _avg2d_samples(rng):
    r = rng.standard_normal
    return [
        Sample((r((2, 3, 6, 6)), 2), name="basic"),
        Sample((r((2, 3, 7, 5)), 3, 2, 1), name="overlap-padding"),
        Sample((r((1, 2, 6, 7)), (3, 2), (1, 2), (1, 1)), name="pairs"),
        Sample((r((2, 2, 7, 5)), 3, 2, 1), {"count_include_pad": False}, name="exclude-pad"),
        Sample((r((2, 2, 5, 7)), 3, 2, 1), {"ceil_mode": True}, name="ceil"),
        Sample((r((2, 2, 5, 7)), 3, 2, 1), {"ceil_mode": True, "count_include_pad": False}, name="ceil-exclude-pad"),
        Sample((r((2, 2, 6, 6)), 2), {"divisor_override": 3}, name="divisor"),
        Sample((r((2, 2, 5, 7)), 3, 2, 1), {"ceil_mode": True, "divisor_override": 2}, name="ceil-divisor"),
        Sample((r((3, 5, 6)), 2), name="unbatched"),
        Sample((r((0, 2, 4, 4)), 2), name="empty-batch"),
        Sample((r((2, 3, 6, 5)), 3), {"stride": 1, "padding": 1}, name="noncontig", noncontig=True),
    ]


def _max1d_samples(rng):
    r = rng.standard_normal
    return [
        Sample((r((2, 3, 9)), 2), name="basic"),
        Sample((r((2, 3, 9)), 3, 2, 1), {"dilation": 2, "ceil_mode": True}, name="options"),
        Sample((r((2, 3, 10)), (3,), (2,), (1,)), {"return_indices": True}, name="tuples-indices"),
        Sample((r((3, 8)), 2), {"return_indices": True}, name="unbatched"),
        Sample((r((2, 4, 7)), 3), {"stride": 1}, name="noncontig", noncontig=True),
    ]


def _avg1d_samples(rng):
    r = rng.standard_normal
    return [
        Sample((r((2, 3, 9)), 2), name="basic"),
        Sample((r((2, 3, 9)), 3, 2, 1), {"ceil_mode": True, "count_include_pad": False}, name="options"),
        Sample((r((3, 8)), 3, 1, 1), name="unbatched"),
        Sample((r((2, 4, 7)), 3), {"stride": 1}, name="noncontig", noncontig=True),
    ]


def _adaptive_samples(rng):
    r = rng.standard_normal
    return [
        Sample((r((2, 3, 6, 6)), 3), name="divides"),
        Sample((r((2, 3, 6, 8)), (2, 4)), name="divides-pair"),
        Sample((r((2, 3, 7, 5)), (3, 2)), name="uneven"),
        Sample((r((1, 2, 5, 7)), 1), name="global"),
        Sample((r((1, 2, 3, 4)), (5, 6)), name="upsampling"),
        Sample((r((1, 2, 6, 5)), (None, 3)), name="none"),
        Sample((r((3, 7, 5)), (4, 3)), name="unbatched"),
        Sample((r((0, 2, 5, 5)), 3), name="empty-batch"),
        Sample((r((2, 3, 7, 6)), (4, 4)), name="noncontig", noncontig=True),
    ]


def _torch(name):
    return lambda torch, *a, **k: getattr(torch.nn.functional, name)(*a, **k)


ENTRIES = [
    OpEntry("max_pool2d", F.max_pool2d, _max2d_samples, covers=("F.max_pool2d",), ref=naive_max_pool,
            torch_fn=_torch("max_pool2d")),
    OpEntry("avg_pool2d", F.avg_pool2d, _avg2d_samples, covers=("F.avg_pool2d",), ref=naive_avg_pool,
            torch_fn=_torch("avg_pool2d")),
    OpEntry("max_pool1d", F.max_pool1d, _max1d_samples, covers=("F.max_pool1d",),
            ref=lambda x, *a, **k: naive_max_pool(x, *a, nd=1, **k), torch_fn=_torch("max_pool1d")),
    OpEntry("avg_pool1d", F.avg_pool1d, _avg1d_samples, covers=("F.avg_pool1d",),
            ref=lambda x, *a, **k: naive_avg_pool(x, *a, nd=1, **k), torch_fn=_torch("avg_pool1d")),
    OpEntry("adaptive_avg_pool2d", F.adaptive_avg_pool2d, _adaptive_samples, covers=("F.adaptive_avg_pool2d",),
            ref=naive_adaptive_avg, torch_fn=_torch("adaptive_avg_pool2d")),
]

EXEMPT: dict[str, str] = {}
