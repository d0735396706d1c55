"""Activations (``dc.relu/sigmoid/tanh/softmax/log_softmax`` and every activation in ``F``).

Smooth samples keep away from the kinks (0, the clamp bounds, softplus's threshold); a ``kinks`` sample
with the exact kink values and large magnitudes has no finite-difference check but is compared with
PyTorch's forward and gradient. ``[int]`` entries check that integer inputs give float32 (PyTorch's
promotion for floating ops) or keep their dtype where PyTorch does (relu, relu6, hardtanh).
The fused bias + activation paths of linear/conv2d are tested in tests/test_ops_activation.py.
"""
from __future__ import annotations

import math

import numpy as np

import deepcore as dc
import deepcore.nn.functional as F

from . import OpEntry, Sample

KINKS = (0.0, 0.5, -0.5, 1.0, -1.0, 1.5, 2.0, 3.0, -3.0, 6.0)
INT_TOL = dict(rtol=1e-6, atol=1e-6)
_SELU_ALPHA, _SELU_SCALE = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946


def _smooth(x):
    """Values spread over [-4, 7], at least 0.05 away from every kink."""
    for k in KINKS:
        x = np.where(np.abs(x - k) < 0.05, k + 0.1, x)
    return x


def _samples(kwargs=None, axis_ok=True):
    kwargs = kwargs or {}

    def samples(rng):
        u = lambda s: _smooth(rng.uniform(-4, 7, s))
        out = [Sample((u((3, 4)),), kwargs, name="matrix"), Sample((np.asarray(u(())),), kwargs, name="0d"),
               Sample((u((2, 3, 4)),), kwargs, name="3d"), Sample((u((0, 3)),), kwargs, name="empty"),
               Sample((u((3, 5)),), kwargs, name="noncontig", noncontig=True),
               Sample((np.array([0.0, -0.5, 0.5, 1.0, -1.0, 1.5, 3.0, -3.0, 6.0, 30.0, -30.0, 10.0]),), kwargs,
                      name="kinks", gradcheck=False)]
        return out
    return samples


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _softplus(x, beta=1.0, threshold=20.0):
    return np.where(x * beta > threshold, x, np.log1p(np.exp(np.minimum(x * beta, threshold))) / beta)


def _elu(x, alpha=1.0):
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0)))


def _erf(x):
    return np.vectorize(math.erf, otypes=[np.float64])(x) if np.size(x) else np.zeros(np.shape(x))


def _gelu(x, approximate="none"):
    if approximate == "tanh":
        return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))
    return 0.5 * x * (1 + _erf(x / math.sqrt(2)))


def _softmax(x, axis=-1, dim=None):
    axis = dim if dim is not None else axis
    if x.ndim == 0:
        return np.ones_like(x)
    if x.size == 0:
        return np.zeros_like(x)
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _log_softmax(x, axis=-1, dim=None):
    axis = dim if dim is not None else axis
    if x.ndim == 0:
        return np.zeros_like(x)
    if x.size == 0:
        return np.zeros_like(x)
    s = x - x.max(axis=axis, keepdims=True)
    return s - np.log(np.exp(s).sum(axis=axis, keepdims=True))


def _hardswish(x):
    return x * np.clip(x / 6 + 0.5, 0, 1)


def _mish(x):
    return x * np.tanh(np.logaddexp(0, x))


def _tf(name):
    """The torch.nn.functional call of the same name (``dim`` passed on as PyTorch spells it)."""
    def call(torch, x, **kw):
        if "axis" in kw:
            kw["dim"] = kw.pop("axis")
        return getattr(torch.nn.functional, name)(x, **kw)
    return call


# name, deepcore fn, ref, torch name, covers, sample kwargs variants
ACTIVATIONS = [
    ("relu", dc.relu, lambda x: np.maximum(x, 0), "relu", ("dc.relu", "Tensor.relu", "F.relu"), [{}]),
    ("sigmoid", dc.sigmoid, _sigmoid, "sigmoid", ("dc.sigmoid", "Tensor.sigmoid", "F.sigmoid"), [{}]),
    ("tanh", dc.tanh, np.tanh, "tanh", ("dc.tanh", "Tensor.tanh", "F.tanh"), [{}]),
    ("gelu", F.gelu, _gelu, "gelu", ("F.gelu",), [{}, {"approximate": "tanh"}]),
    ("leaky_relu", F.leaky_relu, lambda x, negative_slope=0.01: np.where(x > 0, x, negative_slope * x), "leaky_relu",
     ("F.leaky_relu",), [{}, {"negative_slope": 0.2}]),
    ("elu", F.elu, _elu, "elu", ("F.elu",), [{}, {"alpha": 0.5}, {"alpha": -0.3}]),
    ("softplus", F.softplus, _softplus, "softplus", ("F.softplus",), [{}, {"beta": 2.0, "threshold": 3.0}]),
    ("softsign", F.softsign, lambda x: x / (1 + np.abs(x)), "softsign", ("F.softsign",), [{}]),
    ("hardtanh", F.hardtanh, lambda x, min_val=-1.0, max_val=1.0: np.clip(x, min_val, max_val), "hardtanh",
     ("F.hardtanh",), [{}, {"min_val": -0.5, "max_val": 2.0}]),
    ("silu", F.silu, lambda x: x * _sigmoid(x), "silu", ("F.silu",), [{}]),
    ("selu", F.selu, lambda x: _SELU_SCALE * _elu(x, _SELU_ALPHA), "selu", ("F.selu",), [{}]),
    ("celu", F.celu, lambda x, alpha=1.0: np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0) / alpha)), "celu",
     ("F.celu",), [{}, {"alpha": 0.5}, {"alpha": 2.0}]),
    ("relu6", F.relu6, lambda x: np.clip(x, 0, 6), "relu6", ("F.relu6",), [{}]),
    ("hardsigmoid", F.hardsigmoid, lambda x: np.clip(x / 6 + 0.5, 0, 1), "hardsigmoid", ("F.hardsigmoid",), [{}]),
    ("hardswish", F.hardswish, _hardswish, "hardswish", ("F.hardswish",), [{}]),
    ("mish", F.mish, _mish, "mish", ("F.mish",), [{}]),
    ("logsigmoid", F.logsigmoid, lambda x: -np.logaddexp(0, -x), "logsigmoid", ("F.logsigmoid",), [{}]),
]


def _variants(kw_list):
    def samples(rng):
        out = []
        for i, kw in enumerate(kw_list):
            for s in _samples(kw)(rng):
                out.append(Sample(s.args, s.kwargs, name=s.name + (f"-{i}" if i else ""), noncontig=s.noncontig,
                                  gradcheck=s.gradcheck))
        return out
    return samples


TOL = {"gelu": {np.float64: dict(rtol=2e-6, atol=2e-7)}}  # the generic erf is a 1.2e-7 fit (NumPy has none)

ENTRIES: list[OpEntry] = []
for _name, _fn, _ref, _tname, _covers, _kws in ACTIVATIONS:
    ENTRIES.append(OpEntry(_name, _fn, _variants(_kws), covers=_covers, ref=_ref, torch_fn=_tf(_tname),
                           tol=TOL.get(_name)))


def _int_samples(rng):
    v = np.array([-4, -1, 0, 1, 2, 7])
    return [Sample((v,), name="int64"), Sample((v.astype(np.int32).reshape(2, 3),), name="int32"),
            Sample((v > 0,), name="bool")]


# integer inputs: floating activations give float32; relu, relu6 and hardtanh keep the integer dtype (as PyTorch;
# PyTorch itself refuses integers for most of the others, deepcore promotes them like every floating op)
for _name, _fn, _ref, _tname, _covers, _kws in ACTIVATIONS:
    keeps = _name in ("relu", "relu6", "hardtanh")
    torch_ok = _name in ("relu", "relu6", "hardtanh", "sigmoid", "tanh")
    ENTRIES.append(OpEntry(f"{_name}[int]", _fn, (lambda rng: _int_samples(rng)[:2]) if keeps else _int_samples,
                           covers=_covers[:1], ref=(lambda x, _r=_ref, _k=keeps: _r(x) if _k else _r(x.astype(np.float64))),
                           torch_fn=_tf(_tname) if torch_ok else None, dtypes=(np.int64,), grad=False,
                           tol=INT_TOL if _name != "gelu" else dict(rtol=2e-6, atol=2e-7),
                           extra={"out_dtype": None if keeps else np.float32,
                                  **({} if torch_ok else {"no_torch": "PyTorch refuses integer input here"})}))


def _prelu_ref(x, w):
    wb = w.reshape(()) if w.size == 1 else w.reshape((-1,) + (1,) * (x.ndim - 2))
    return np.where(x > 0, x, wb * x)


def _prelu_samples(rng):
    u = lambda s: _smooth(rng.uniform(-3, 3, s))
    w = lambda s: rng.uniform(0.05, 0.5, s)
    return [Sample((u((5,)), w((1,))), name="vector-shared"), Sample((u((4, 3)), w((3,))), name="channels"),
            Sample((u((4, 3)), w((1,))), name="shared"), Sample((u((2, 3, 4, 5)), w((3,))), name="nchw"),
            Sample((np.asarray(u(())), w((1,))), name="0d"), Sample((u((0, 3)), w((3,))), name="empty"),
            Sample((u((4, 3)), w((3,))), name="noncontig", noncontig=True),
            Sample((np.array([[0.0, -1.0, 2.0]]), np.array([0.1, 0.25, -0.3])), name="kinks", gradcheck=False)]


ENTRIES.append(OpEntry("prelu", F.prelu, _prelu_samples, covers=("F.prelu",), ref=_prelu_ref,
                       torch_fn=lambda torch, x, w: torch.nn.functional.prelu(x, w)))


# --- softmax family ----------------------------------------------------------------------------------------------
def _softmax_samples(rng):
    r = rng.standard_normal
    big = np.array([[1.0, 0.5, -0.25, 0.0], [0.0, 0.0, 0.0, 0.0]])
    return [Sample((r((3, 5)),), name="last"), Sample((r((3, 5)),), {"axis": 0}, name="axis0"),
            Sample((r((2, 3, 4)),), {"dim": 1}, name="dim1"), Sample((np.asarray(r(())),), name="0d"),
            Sample((r((2, 0)),), {"dim": 1}, name="empty-axis"), Sample((r((0, 3)),), {"dim": 1}, name="empty-batch"),
            Sample((r((3, 5)),), {"dim": -1}, name="noncontig", noncontig=True),
            Sample((big * 1e4,), {"dim": 1}, name="large-positive"), Sample((big * -1e4,), {"dim": 1}, name="large-negative")]


def _softmax_tuple_samples(rng):
    r = rng.standard_normal
    return [Sample((r((2, 3, 4)),), {"axis": (0, 2)}, name="axis-tuple"), Sample((r((2, 3)),), {"axis": (0, 1)},
                                                                                   name="all-axes")]


def _torch_softmax(name):
    def call(torch, x, axis=-1, dim=None):
        d = dim if dim is not None else axis
        if x.ndim == 0:
            d = 0
        return getattr(torch.nn.functional, name)(x, dim=d)
    return call


def _softmin_ref(x, axis=-1, dim=None):
    return _softmax(-x, axis, dim)


ENTRIES += [
    OpEntry("softmax", dc.softmax, _softmax_samples, covers=("dc.softmax", "Tensor.softmax", "F.softmax"),
            ref=_softmax, torch_fn=_torch_softmax("softmax")),
    OpEntry("log_softmax", dc.log_softmax, _softmax_samples, covers=("dc.log_softmax", "Tensor.log_softmax",
                                                                     "F.log_softmax"),
            ref=_log_softmax, torch_fn=_torch_softmax("log_softmax")),
    OpEntry("softmin", F.softmin, _softmax_samples, covers=("F.softmin",), ref=_softmin_ref,
            torch_fn=_torch_softmax("softmin")),
    # several axes at once: deepcore's NumPy-style extension (PyTorch takes one dim), against NumPy only
    OpEntry("softmax[axes]", dc.softmax, _softmax_tuple_samples, covers=("dc.softmax",), ref=_softmax,
            extra={"no_torch": "PyTorch's softmax takes one dim"}),
    OpEntry("log_softmax[axes]", dc.log_softmax, _softmax_tuple_samples, covers=("dc.log_softmax",),
            ref=_log_softmax, extra={"no_torch": "PyTorch's log_softmax takes one dim"}),
]

EXEMPT: dict[str, str] = {}
