"""Convolutions: ``F.conv2d``, ``F.conv1d``, ``F.conv_transpose2d``, against direct NumPy loops and PyTorch.

The references are the definitions (one dot product per output element; the transposed convolution as a
scatter of every input pixel over its output window), independent of im2col/col2im. Samples cover stride,
padding, dilation, groups (grouped, depthwise), 1x1 kernels (the no-column path), a kernel covering the
whole input, no bias, unbatched input, an empty batch and non-contiguous views. Fast-path specifics (the
CUDA im2col/col2im kernels, the CPU shifted-GEMM path, launch counts) stay in tests/test_ops_conv.py.
"""
import warnings

import numpy as np

import deepcore.nn.functional as F

from . import OpEntry, Sample


def _pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def naive_conv2d(x, w, b=None, stride=1, padding=0, dilation=1, groups=1, activation=None):
    """Direct definition: one dot product per output element and group, padding by np.pad ("same": the
    dilated kernel's reach minus one in all, the odd cell after)."""
    unbatched = x.ndim == 3
    if unbatched:
        x = x[None]
    if isinstance(padding, str):
        reach = [d * (k - 1) for d, k in zip(_pair(dilation), w.shape[2:])]
        widths = [(t // 2, t - t // 2) for t in reach] if padding == "same" else [(0, 0), (0, 0)]
        x = np.pad(x, ((0, 0), (0, 0), *widths))
        padding = 0
    (sh, sw), (ph, pw), (dh, dw) = _pair(stride), _pair(padding), _pair(dilation)
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    og = o // groups
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    oh = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    ow = (wd + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    y = np.zeros((n, o, oh, ow))
    for g in range(groups):
        xs = xp[:, g * cg:(g + 1) * cg]
        ws = w[g * og:(g + 1) * og]
        for i in range(oh):
            for j in range(ow):
                patch = xs[:, :, i * sh:i * sh + dh * (kh - 1) + 1:dh, j * sw:j * sw + dw * (kw - 1) + 1:dw]
                y[:, g * og:(g + 1) * og, i, j] = np.einsum("nckl,ockl->no", patch, ws)
    if b is not None:
        y += b.reshape(1, -1, 1, 1)
    if activation == "relu":
        y = np.maximum(y, 0)
    return y[0] if unbatched else y


def naive_conv1d(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    unbatched = x.ndim == 2
    x = x[None] if unbatched else x
    stride, padding, dilation = (v[0] if isinstance(v, (tuple, list)) else v for v in (stride, padding, dilation))
    if isinstance(padding, str):
        reach = dilation * (w.shape[2] - 1) if padding == "same" else 0
        x = np.pad(x, ((0, 0), (0, 0), (reach // 2, reach - reach // 2)))
        padding = 0
    y = naive_conv2d(x[:, :, None], w[:, :, None], b, (1, stride), (0, padding), (1, dilation), groups)[:, :, 0]
    return y[0] if unbatched else y


def naive_conv_transpose2d(x, w, b=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Every input pixel, times the kernel, added onto its output window (cropped by the padding)."""
    unbatched = x.ndim == 3
    if unbatched:
        x = x[None]
    (sh, sw), (ph, pw), (oph, opw), (dh, dw) = _pair(stride), _pair(padding), _pair(output_padding), _pair(dilation)
    n, cin, h, wd = x.shape
    _, cout_g, kh, kw = w.shape
    cin_g = cin // groups
    oh = (h - 1) * sh - 2 * ph + dh * (kh - 1) + oph + 1
    ow = (wd - 1) * sw - 2 * pw + dw * (kw - 1) + opw + 1
    y = np.zeros((n, cout_g * groups, oh, ow))
    for ci in range(cin):
        g = ci // cin_g
        for r in range(h):
            for c in range(wd):
                for i in range(kh):
                    for j in range(kw):
                        orow, ocol = r * sh - ph + i * dh, c * sw - pw + j * dw
                        if 0 <= orow < oh and 0 <= ocol < ow:
                            y[:, g * cout_g:(g + 1) * cout_g, orow, ocol] += x[:, ci, r, c, None] * w[ci, :, i, j]
    if b is not None:
        y += b.reshape(1, -1, 1, 1)
    return y[0] if unbatched else y


def _conv2d_samples(rng):
    r = rng.standard_normal
    return [
        Sample((r((2, 3, 6, 5)), r((4, 3, 3, 3)), r(4)), name="basic"),
        Sample((r((2, 3, 6, 5)), r((4, 3, 3, 3)), r(4), 1, 1), name="padding"),
        Sample((r((2, 4, 7, 6)), r((6, 2, 3, 2)), r(6), 2, 1, 1, 2), name="stride-groups"),
        Sample((r((1, 2, 7, 7)), r((3, 2, 2, 3)), r(3)), {"stride": (2, 1), "padding": (1, 0), "dilation": (2, 1)},
               name="pairs-dilation"),
        Sample((r((2, 4, 6, 6)), r((4, 1, 3, 3)), r(4), 1, 1, 1, 4), name="depthwise"),
        Sample((r((2, 4, 5, 6)), r((6, 4, 1, 1)), r(6)), name="1x1"),
        Sample((r((2, 4, 5, 6)), r((6, 2, 1, 1)), r(6)), {"groups": 2}, name="1x1-groups"),
        Sample((r((2, 3, 6, 6)), r((2, 3, 1, 1)), r(2), 2, 1), name="1x1-strided"),
        Sample((r((1, 2, 5, 5)), r((2, 2, 5, 5)), r(2)), name="whole-input"),
        Sample((r((2, 3, 5, 5)), r((4, 3, 3, 3)), None, 1, 1), name="nobias"),
        Sample((r((3, 6, 5)), r((4, 3, 3, 3)), r(4)), {"padding": 1}, name="unbatched"),
        Sample((r((0, 3, 5, 5)), r((4, 3, 3, 3)), r(4)), name="empty-batch"),
        Sample((r((2, 3, 5, 6)), r((4, 3, 3, 2)), r(4)), {"padding": 1}, name="noncontig", noncontig=True),
        Sample((r((2, 16, 5, 4)), r((3, 16, 3, 3)) * 0.3, r(3)), {"padding": 1}, name="16ch-stride1"),
        Sample((r((2, 3, 5, 5)), r((4, 3, 3, 3)), r(4)), {"padding": 1, "activation": "relu"}, name="relu"),
        Sample((r((2, 2, 6, 5)), r((3, 2, 2, 3)), r(3)), {"padding": "same", "dilation": (1, 2)}, name="same-uneven"),
        Sample((r((2, 2, 5, 5)), r((3, 2, 3, 3)), r(3)), {"padding": "same"}, name="same"),
        Sample((r((2, 2, 5, 5)), r((3, 2, 3, 3)), r(3)), {"padding": "valid"}, name="valid"),
    ]


def _conv2d_torch(torch, x, w, b=None, stride=1, padding=0, dilation=1, groups=1, activation=None):
    with warnings.catch_warnings():          # "same" with an even reach: torch notes it copies the input
        warnings.simplefilter("ignore", UserWarning)
        y = torch.nn.functional.conv2d(x, w, b, stride, padding, dilation, groups)
    return torch.relu(y) if activation == "relu" else y


def _conv1d_samples(rng):
    r = rng.standard_normal
    return [
        Sample((r((2, 3, 9)), r((4, 3, 3)), r(4)), name="basic"),
        Sample((r((2, 4, 9)), r((6, 2, 3)), r(6), 2, 1, 2, 2), name="stride-pad-dilation-groups"),
        Sample((r((2, 4, 7)), r((4, 1, 3)), None), {"padding": 1, "groups": 4}, name="depthwise-nobias"),
        Sample((r((2, 3, 6)), r((5, 3, 1)), r(5)), name="1x1"),
        Sample((r((3, 8)), r((2, 3, 4)), r(2)), {"stride": (2,), "padding": (1,)}, name="unbatched-tuples"),
        Sample((r((0, 3, 6)), r((2, 3, 3)), r(2)), name="empty-batch"),
        Sample((r((2, 3, 7)), r((4, 3, 4)), r(4)), {"padding": "same"}, name="same-even-kernel"),
        Sample((r((2, 3, 8)), r((4, 3, 2)), r(4)), {"padding": 1}, name="noncontig", noncontig=True),
    ]


def _convt_samples(rng):
    r = rng.standard_normal
    return [
        Sample((r((2, 4, 4, 5)), r((4, 3, 3, 3)), r(3)), name="basic"),
        Sample((r((2, 4, 4, 5)), r((4, 3, 3, 2)), r(3), 2, 1, 1), name="stride-pad-outpad"),
        Sample((r((2, 4, 3, 4)), r((4, 2, 3, 3)), r(4)),
               {"stride": (2, 1), "padding": (1, 0), "output_padding": (1, 0), "groups": 2, "dilation": (1, 2)},
               name="groups-dilation"),
        Sample((r((1, 3, 3, 3)), r((3, 2, 1, 1)), None), {"stride": 2}, name="1x1-nobias"),
        Sample((r((2, 4, 4)), r((2, 3, 2, 2)), r(3)), {"stride": 2}, name="unbatched"),
        Sample((r((0, 2, 3, 3)), r((2, 3, 2, 2)), r(3)), name="empty-batch"),
        Sample((r((2, 3, 4, 3)), r((3, 2, 2, 3)), r(2)), {"stride": 2, "padding": 1}, name="noncontig",
               noncontig=True),
    ]


ENTRIES = [
    OpEntry("conv2d", F.conv2d, _conv2d_samples, covers=("F.conv2d",), ref=naive_conv2d, torch_fn=_conv2d_torch),
    OpEntry("conv1d", F.conv1d, _conv1d_samples, covers=("F.conv1d",), ref=naive_conv1d,
            torch_fn=lambda torch, *a, **k: torch.nn.functional.conv1d(*a, **k)),
    OpEntry("conv_transpose2d", F.conv_transpose2d, _convt_samples, covers=("F.conv_transpose2d",),
            ref=naive_conv_transpose2d, torch_fn=lambda torch, *a, **k: torch.nn.functional.conv_transpose2d(*a, **k)),
]

EXEMPT: dict[str, str] = {}
