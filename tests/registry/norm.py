"""Normalisation: ``F.batch_norm`` (training and evaluation) and ``F.layer_norm``, against the NumPy formulas
and PyTorch.

Samples cover (N, C), (N, C, L) and (N, C, H, W) batch norms with and without affine parameters, running
statistics in evaluation, layer norms over one and two trailing axes, constant rows (exactly 0, as torch),
empty batches and non-contiguous views. The running-statistics updates, the errors and the layers stay in
tests/test_ops_norm.py and tests/test_nn_layers.py.
"""
import numpy as np

import deepcore.nn.functional as F

from . import OpEntry, Sample


def _bn_ref(x, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
    shape = (1, -1) + (1,) * (x.ndim - 2)
    axes = (0,) + tuple(range(2, x.ndim))
    if training and x.size:
        mean, var = x.mean(axis=axes), x.var(axis=axes)
    elif training:
        mean, var = np.zeros(x.shape[1]), np.ones(x.shape[1])
    else:
        mean, var = running_mean, running_var
    y = (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + eps)
    if weight is not None:
        y = y * weight.reshape(shape)
    if bias is not None:
        y = y + bias.reshape(shape)
    return y


def _bn_samples(rng):
    r, u = rng.standard_normal, rng.uniform
    out = []
    for shape in ((4, 3), (3, 2, 5), (2, 3, 3, 2)):
        C = shape[1]
        for training in (True, False):
            tag = f"{len(shape)}d-{'train' if training else 'eval'}"
            out.append(Sample((r(shape) * 2 + 1, r(C), u(0.5, 2.0, C), u(0.5, 1.5, C), r(C)),
                              {"training": training, "momentum": 0.2, "eps": 1e-3}, name=tag, grad_args=(0, 3, 4)))
    out += [
        Sample((r((5, 2, 3)), np.zeros(2), np.ones(2)), {"training": True}, name="no-affine", grad_args=(0,)),
        Sample((r((0, 3)), np.zeros(3), np.ones(3), u(0.5, 1.5, 3), r(3)), {"training": True}, name="empty-batch",
               grad_args=(0, 3, 4)),
        Sample((r((2, 3, 0, 2)), np.zeros(3), np.ones(3), u(0.5, 1.5, 3), r(3)), {"training": True},
               name="empty-spatial", grad_args=(0, 3, 4)),
        Sample((r((0, 3)), r(3), u(0.5, 2, 3), u(0.5, 1.5, 3), r(3)), {"training": False}, name="empty-eval",
               grad_args=(0, 3, 4)),
        Sample((r((3, 4, 2)), np.zeros(4), np.ones(4), u(0.5, 1.5, 4), r(4)), {"training": True}, name="noncontig",
               grad_args=(0, 3, 4), noncontig=True),
    ]
    return out


def _ln_ref(x, normalized_shape, weight=None, bias=None, eps=1e-5):
    k = 1 if isinstance(normalized_shape, int) else len(normalized_shape)
    axes = tuple(range(x.ndim - k, x.ndim))
    if x.size == 0:
        return x.copy()
    y = (x - x.mean(axis=axes, keepdims=True)) / np.sqrt(x.var(axis=axes, keepdims=True) + eps)
    if weight is not None:
        y = y * weight
    return y if bias is None else y + bias


def _ln_samples(rng):
    r, u = rng.standard_normal, rng.uniform

    def affine(ns):
        return u(0.5, 1.5, ns), r(ns)

    const = np.full((3, 7), 0.1)
    const[1] = 1234.567                               # far from 0: a naive mean leaves ~1e-4 in float32
    return [
        Sample((r((4, 5)) * 2 + 0.5, 5, *affine(5)), name="last-axis"),
        Sample((r((2, 3, 4)), (4,), *affine(4)), name="3d-last"),
        Sample((r((2, 3, 4)), (3, 4), *affine((3, 4))), {"eps": 1e-4}, name="two-axes"),
        Sample((r(3), 3, *affine(3)), name="1d"),
        Sample((r((3, 4)), (4,)), name="no-affine"),
        Sample((r((3, 4)), (4,), u(0.5, 1.5, 4), None), name="weight-only"),
        Sample((const, 7), name="constant-rows", grad_args=()),     # exactly 0: the tolerance is only atol
        Sample((r((0, 4)), 4, *affine(4)), name="empty-batch"),
        Sample((r((4, 3)), (3,), *affine(3)), name="noncontig", noncontig=True),
    ]


def _bn_torch(torch, x, running_mean, running_var, weight=None, bias=None, **kw):
    return torch.nn.functional.batch_norm(x, running_mean, running_var, weight, bias, **kw)


def _ln_torch(torch, x, normalized_shape, weight=None, bias=None, **kw):
    ns = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    return torch.nn.functional.layer_norm(x, ns, weight, bias, **kw)


ENTRIES = [
    OpEntry("batch_norm", F.batch_norm, _bn_samples, covers=("F.batch_norm",), ref=_bn_ref, torch_fn=_bn_torch),
    OpEntry("layer_norm", F.layer_norm, _ln_samples, covers=("F.layer_norm",), ref=_ln_ref, torch_fn=_ln_torch,
            tol={np.float32: dict(rtol=1e-4, atol=2e-5), np.float64: dict(rtol=1e-7, atol=1e-9)}),
]

EXEMPT: dict[str, str] = {}
