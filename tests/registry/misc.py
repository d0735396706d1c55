"""Ops no other family covers: ``F.linear``, ``F.dropout`` (its deterministic cases), ``F.embedding``, device
transfers (``cpu()``/``cuda()``, differentiable) and the integer protocols ``int()``/``operator.index()``."""
import math
import operator

import numpy as np

import deepcore.nn.functional as F

from . import OpEntry, Sample

_erf = np.vectorize(math.erf, otypes=[np.float64])
_ACTS = {None: lambda z: z, "relu": lambda z: np.maximum(z, 0), "tanh": np.tanh,
         "sigmoid": lambda z: 1 / (1 + np.exp(-z)), "gelu": lambda z: 0.5 * z * (1 + _erf(z / np.sqrt(2))),
         "gelu_tanh": lambda z: 0.5 * z * (1 + np.tanh(np.sqrt(2 / np.pi) * (z + 0.044715 * z ** 3)))}
_TORCH_ACTS = {"relu": lambda t, z: t.relu(z), "tanh": lambda t, z: t.tanh(z), "sigmoid": lambda t, z: t.sigmoid(z),
               "gelu": lambda t, z: t.nn.functional.gelu(z),
               "gelu_tanh": lambda t, z: t.nn.functional.gelu(z, approximate="tanh")}


def _linear_ref(x, w, b=None, activation=None):
    z = x @ w.T + (0 if b is None else b)
    return _ACTS[activation](z)


def _linear_torch(torch, x, w, b=None, activation=None):
    z = torch.nn.functional.linear(x, w, b)
    return z if activation is None else _TORCH_ACTS[activation](torch, z)


def _linear_samples(rng):
    r = rng.standard_normal
    return [
        Sample((r((4, 3)), r((5, 3)), r(5)), name="bias"),
        Sample((r((4, 3)), r((5, 3)), None), name="nobias"),
        Sample((r((2, 3, 4)), r((2, 4)), r(2)), name="batched"),
        Sample((r(3), r((2, 3)), r(2)), name="vector"),
        Sample((r((0, 3)), r((2, 3)), r(2)), name="empty"),
        Sample((r((4, 3)), r((5, 3)), r(5)), name="noncontig", noncontig=True),
        Sample((r((3, 4)), r((2, 4)), r(2)), {"activation": "relu"}, name="relu"),
        Sample((r((3, 4)), r((2, 4)), r(2)), {"activation": "tanh"}, name="tanh"),
        Sample((r((3, 4)), r((2, 4)), r(2)), {"activation": "sigmoid"}, name="sigmoid"),
        Sample((r((3, 4)), r((2, 4)), r(2)), {"activation": "gelu_tanh"}, name="gelu-tanh"),
        Sample((r((4, 3)), r((5, 3)), r(5)), name="x-only", grad_args=(0,)),
    ]


def _linear_gelu_samples(rng):
    r = rng.standard_normal
    return [Sample((r((3, 4)), r((2, 4)), r(2)), {"activation": "gelu"}, name="gelu"),
            Sample((r((3, 4)), r((2, 4)), r(2)), {"activation": "gelu"}, name="noncontig", noncontig=True)]


def _dropout_samples(rng):
    r = rng.standard_normal
    return [
        Sample((r((3, 4)),), {"p": 0.5, "training": False}, name="eval"),
        Sample((r((3, 4)),), {"p": 0.0, "training": True}, name="p0"),
        Sample((r((3, 4)),), {"p": 1.0, "training": True}, name="p1"),
        Sample((r((2, 0, 3)),), {"p": 0.3, "training": False}, name="empty"),
        Sample((r((3, 4)),), {"p": 0.2, "training": False}, name="noncontig", noncontig=True),
        Sample((np.array(1.5),), {"p": 0.5, "training": False}, name="scalar"),
    ]


def _dropout_ref(x, p=0.5, training=True):
    return np.zeros_like(x) if (training and p == 1.0) else x


def _embedding_samples(rng):
    w = rng.standard_normal
    return [
        Sample((np.array([[0, 2, 4], [4, 1, 0]]), w((5, 3))), name="2d"),
        Sample((np.array([1, 1, 3, 1]), w((4, 2))), name="repeated"),
        Sample((np.array(2), w((3, 4))), name="scalar"),
        Sample((np.zeros((0, 2), dtype=np.int64), w((3, 4))), name="empty"),
        Sample((np.array([0, 2, 2, 1], dtype=np.int32), w((3, 4))), {"padding_idx": 2}, name="padding-int32",
               gradcheck=False),
        Sample((np.array([[0, 1], [2, 0]]), w((3, 5))), name="noncontig", noncontig=True),
    ]


def _embedding_ref(idx, w, padding_idx=None):
    return w[idx]


def _transfer(x):
    """``cpu()`` and back: on the cuda device both transfers and their gradients, on the cpu a no-op."""
    return x.cpu().cuda() if x.device.type == "cuda" else x.cpu()


def _transfer_samples(rng):
    r = rng.standard_normal
    return [Sample((r((2, 3)),), name="matrix"), Sample((np.array(0.5),), name="scalar"),
            Sample((r((0, 3)),), name="empty"), Sample((r((3, 2)),), name="noncontig", noncontig=True),
            Sample((np.array([1, 4, 2]),), name="int")]


def _int_samples(rng):
    return [Sample((np.array(7),), name="scalar"), Sample((np.array([-3], dtype=np.int32),), name="one-element"),
            Sample((np.array([[5]], dtype=np.uint8),), name="uint8")]


ENTRIES = [
    OpEntry("linear", F.linear, _linear_samples, covers=("F.linear",), ref=_linear_ref, torch_fn=_linear_torch),
    # exact GELU: the generic path's erf is a 1.2e-7 fit (as in tests/registry/activation.py's gelu entry)
    OpEntry("linear[gelu]", F.linear, _linear_gelu_samples, covers=("F.linear",), ref=_linear_ref,
            torch_fn=_linear_torch, tol={np.float64: {"rtol": 2e-6, "atol": 2e-7}}),
    OpEntry("dropout", F.dropout, _dropout_samples, covers=("F.dropout",), ref=_dropout_ref,
            torch_fn=lambda torch, x, p=0.5, training=True: torch.nn.functional.dropout(x, p, training)),
    OpEntry("embedding", F.embedding, _embedding_samples, covers=("F.embedding",), ref=_embedding_ref,
            torch_fn=lambda torch, idx, w, padding_idx=None: torch.nn.functional.embedding(idx, w, padding_idx)),
    OpEntry("transfer", _transfer, _transfer_samples, covers=("Tensor.cpu", "Tensor.cuda"), ref=lambda x: x,
            torch_fn=lambda torch, x: x.cpu(), extra={"host_sync": True}),
    OpEntry("__int__", int, _int_samples, covers=("Tensor.__int__",), ref=lambda x: int(x.reshape(-1)[0]),
            torch_fn=lambda torch, x: int(x), dtypes=(np.int64,), grad=False, extra={"host_sync": True}),
    OpEntry("__index__", operator.index, _int_samples, covers=("Tensor.__index__",), ref=lambda x: int(x.reshape(-1)[0]),
            torch_fn=lambda torch, x: operator.index(x), dtypes=(np.int64,), grad=False, extra={"host_sync": True}),
]

EXEMPT: dict[str, str] = {}
