"""Every registered fast path against the generic path it overrides (deepcore.backend.fastpath).

For each ``(op, device type)`` in ``fastpath.registered()`` a case below runs public ops that reach it,
once with fast paths on (and checks that every override registered for it was really chosen) and once
with them off, and compares outputs and gradients. CPU overrides run on the CPU, CUDA overrides on the
GPU (or the emulated device: ``pytest --emulate-cuda``). A newly registered override without a case here
fails ``test_every_override_has_a_case``. The comparison runs whatever ``--no-fast-paths`` says: it
switches fast paths on for its own first run.
"""

import numpy as np
import pytest

import deepcore as dc
import deepcore.nn as nn
import deepcore.nn.functional as F
from deepcore.backend import fastpath

DTYPES = [np.float32, np.float64]


def _t(a, device, dtype, grad=True):
    return dc.tensor(np.asarray(a).astype(dtype), device=device, requires_grad=grad)


def _rng(seed=0):
    return np.random.default_rng(seed)


def _grads(outs, leaves, device, dtype, seed=1):
    """Backward of a random projection of ``outs``; returns the outputs' values and the leaves' gradients."""
    rng = _rng(seed)
    total = None
    for o in outs:
        term = (o * dc.tensor(rng.standard_normal(o.shape).astype(dtype), device=device)).sum()
        total = term if total is None else total + term
    total.backward()
    return [o.numpy() for o in outs] + [leaf.grad.numpy() for leaf in leaves if leaf.grad is not None]


# --- cases: op -> fn(device, dtype) returning arrays; the first run chooses the op's fast paths -------------

def _activations(device, dtype):
    rng = _rng()
    x = rng.standard_normal((5, 7))
    x[0, :3] = [0.0, -0.0, 1e-30]                      # ReLU's kink
    outs, leaves = [], []
    for fn in (dc.relu, dc.tanh, dc.sigmoid, F.gelu, lambda t: F.gelu(t, approximate="tanh")):
        X = _t(x, device, dtype)
        outs.append(fn(X))
        leaves.append(X)
    return _grads(outs, leaves, device, dtype)


def _bias_act(device, dtype):
    """linear (rows), conv2d (columns -> NCHW) and 1x1 conv2d (NCHW) with every fusable activation."""
    rng = _rng(2)
    outs, leaves = [], []
    for act in (None, "relu", "gelu", "gelu_tanh", "tanh", "sigmoid"):
        x = _t(rng.standard_normal((6, 9)), device, dtype)
        w, b = _t(rng.standard_normal((11, 9)) * 0.4, device, dtype), _t(rng.standard_normal(11), device, dtype)
        outs.append(F.linear(x, w, b, activation=act))
        leaves += [x, w, b]
        x = _t(rng.standard_normal((2, 3, 6, 5)), device, dtype)
        w = _t(rng.standard_normal((4, 3, 3, 3)) * 0.3, device, dtype)
        b = _t(rng.standard_normal(4), device, dtype)
        outs.append(F.conv2d(x, w, b, stride=(2, 1), padding=1, activation=act))
        leaves += [x, w, b]
        w1 = _t(rng.standard_normal((4, 3, 1, 1)), device, dtype)
        outs.append(F.conv2d(x, w1, None, activation=act))
        leaves.append(w1)
    return _grads(outs, leaves, device, dtype)


def _conv_im2col(device, dtype):
    """Strided, padded, dilated and grouped convolutions: im2col + GEMM, col2im in the backward."""
    rng = _rng(3)
    outs, leaves = [], []
    for xs, ws, s, p, d, g in [((2, 4, 9, 8), (6, 2, 3, 2), (2, 1), (1, 2), (1, 2), 2),
                               ((1, 3, 7, 7), (5, 3, 3, 3), 2, 0, 1, 1)]:
        x, w, b = _t(rng.standard_normal(xs), device, dtype), _t(rng.standard_normal(ws), device, dtype), \
            _t(rng.standard_normal(ws[0]), device, dtype)
        outs.append(F.conv2d(x, w, b, s, p, d, g))
        leaves += [x, w, b]
    return _grads(outs, leaves, device, dtype)


def _conv_stride1(device, dtype):
    """Stride-1 convolutions with enough channels for the CPU's shifted-GEMM path."""
    rng = _rng(4)
    x = _t(rng.standard_normal((2, 16, 6, 5)), device, dtype)
    w = _t(rng.standard_normal((4, 16, 3, 3)) * 0.2, device, dtype)
    b = _t(rng.standard_normal(4), device, dtype)
    return _grads([F.conv2d(x, w, b, 1, 1), F.conv2d(x, w, None, 1, (0, 1), (2, 1), activation="relu")],
                  [x, w, b], device, dtype)


def _pooling(device, dtype):
    rng = _rng(5)
    xa = rng.standard_normal((2, 3, 7, 6))
    xa[0, 1, 2, 2] = np.nan                              # NaN wins its windows
    xa[1, 0, :3, :3] = 0.25                              # ties: the first maximum wins
    x = _t(xa, device, dtype)
    outs = [F.max_pool2d(x, 3, 2, 1), F.max_pool2d(x, 2), F.avg_pool2d(x, (3, 2), (2, 1), (1, 1)),
            F.avg_pool2d(x, 2)]
    return _grads(outs, [x], device, dtype)


def _recurrent(device, dtype):
    rng = _rng(6)
    outs, leaves = [], []
    # (H = 260: beyond the CUDA LSTM step's own recurrent product, cuBLAS does it)
    for mod in (nn.LSTM(5, 7, bidirectional=True), nn.GRU(5, 7, bidirectional=True), nn.LSTM(5, 260)):
        mod = mod.to(device=device, dtype=dtype)
        x = _t(rng.standard_normal((4, 3, 5)), device, dtype)
        out, state = mod(x)
        outs += [out] + (list(state) if isinstance(state, tuple) else [state])
        leaves += [x] + list(mod.parameters())
    return _grads(outs, leaves, device, dtype)


def _cross_entropy(device, dtype):
    rng = _rng(7)
    outs, leaves = [], []
    y64 = np.array([0, 3, 2, 4, 1, 3, 2, 0, 4, 1, 2])
    y64[2] = -100
    w = dc.tensor(rng.uniform(0.5, 2.0, 5).astype(dtype), device=device)
    for reduction in ("mean", "sum", "none"):
        for weight, smoothing, ydt in ((None, 0.0, np.int64), (w, 0.1, np.int64), (w, 0.0, np.int32),
                                       (None, 0.2, np.int32)):
            x = _t(rng.standard_normal((11, 5)) * 3, device, dtype)
            y = dc.tensor(y64.astype(ydt), device=device)
            outs.append(F.cross_entropy(x, y, weight=weight, reduction=reduction, label_smoothing=smoothing))
            leaves.append(x)
    x = _t(rng.standard_normal((40, 37)), device, dtype)      # several blocks of rows, C > 32 lanes
    outs.append(F.cross_entropy(x, dc.tensor(rng.integers(0, 37, 40), device=device)))
    leaves.append(x)
    return _grads(outs, leaves, device, dtype)


def _dropout_check(device, dtype):
    """Random masks differ between paths: check each path's own consistency and statistics instead."""
    x = _t(_rng(8).uniform(1.0, 2.0, (64, 50)), device, dtype)     # nonzero, so zeros mark drops
    p = 0.3
    y = F.dropout(x, p)
    g = _rng(9).standard_normal(x.shape).astype(dtype)
    y.backward(dc.tensor(g, device=device))
    yv, gx = y.numpy(), x.grad.numpy()
    keep = yv != 0
    np.testing.assert_allclose(yv, x.numpy() * keep / (1 - p), rtol=1e-6)
    np.testing.assert_allclose(gx, g * keep / (1 - p), rtol=1e-6)
    assert abs(keep.mean() - (1 - p)) < 0.03
    y2 = F.dropout(x, p).numpy()
    assert ((y2 != 0) != keep).mean() > 0.2                        # a fresh mask on every call
    return []


# The optimizers' fused updates (deepcore/optim): a few steps of a small model, every parameter compared.
_OPTIMIZERS = {
    "optim.sgd": [("SGD", dict(lr=0.1, momentum=0.9, weight_decay=0.01)), ("SGD", dict(lr=0.1, momentum=0.9,
                                                                                        nesterov=True)),
                  ("SGD", dict(lr=0.1))],
    "optim.adam": [("Adam", dict(lr=0.01, weight_decay=0.01)), ("AdamW", dict(lr=0.01)),
                   ("Adam", dict(lr=0.01, amsgrad=True))],
    "optim.rmsprop": [("RMSprop", dict(lr=0.01)), ("RMSprop", dict(lr=0.01, momentum=0.9, centered=True))],
    "optim.adagrad": [("Adagrad", dict(lr=0.1, lr_decay=0.01, weight_decay=0.01))],
    "optim.adadelta": [("Adadelta", dict(lr=1.0, weight_decay=0.01))],
}


def _optimizer_case(op):
    def run(device, dtype):
        values = []
        x = dc.tensor(_rng(10).standard_normal((6, 4)).astype(dtype), device=device)
        for cls, kwargs in _OPTIMIZERS[op]:
            dc.manual_seed(0)
            model = nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 3)).to(device=device, dtype=dtype)
            opt = getattr(dc.optim, cls)(model.parameters(), **kwargs)
            for _ in range(3):
                opt.zero_grad()
                (model(x) ** 2).mean().backward()
                opt.step()
            values += [prm.numpy() for prm in model.parameters()]
        return values
    return run


CASES = {
    "relu_backward": _activations,
    "bias_act": _bias_act,
    "bias_act_backward": _bias_act,
    "im2col": _conv_im2col,
    "col2im": _conv_im2col,
    "conv2d": _conv_stride1,
    "max_pool2d": _pooling,
    "max_pool2d_backward": _pooling,
    "avg_pool2d": _pooling,
    "avg_pool2d_backward": _pooling,
    "rnn_steps": _recurrent,
    "cross_entropy": _cross_entropy,
    "dropout": _dropout_check,
    **{op: _optimizer_case(op) for op in _OPTIMIZERS},
}
# Generic paths computing with a different formula than the fast path (GELU's erf: a 1.2e-7 fit in the generic
# path, the device's erf in the kernel) or order (dot products in the fused LSTM step): float64 tolerances.
_LOOSE64 = {"bias_act", "bias_act_backward", "relu_backward", "rnn_steps"}


def _registered():
    return sorted(fastpath.registered())


def _tolerance(op, dtype):
    if dtype == np.float32:
        return {"rtol": 2e-4, "atol": 2e-5}
    return {"rtol": 1e-5, "atol": 1e-6} if op in _LOOSE64 else {"rtol": 1e-10, "atol": 1e-12}


def test_every_override_has_a_case():
    missing = sorted({op for op, _ in _registered()} - set(CASES))
    assert not missing, f"fast paths without a comparison case in tests/test_fastpaths.py: {missing}"


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("key", _registered(), ids=[f"{op}-{dev}" for op, dev in _registered()])
def test_override_matches_generic_path(key, dtype, monkeypatch):
    op, device_type = key
    if op not in CASES:
        pytest.fail(f"no comparison case for the fast path {op!r} ({device_type})")
    if device_type == "cuda" and not dc.cuda.is_available():
        pytest.skip("no CUDA device (run with --emulate-cuda to use the emulated one)")
    device = "cuda" if device_type == "cuda" else "cpu"
    chosen = set()
    real_select = fastpath.select

    def spy(name, *args, **kwargs):
        fn = real_select(name, *args, **kwargs)
        if name == op and fn is not None:
            chosen.add(fn)
        return fn

    monkeypatch.setattr(fastpath, "select", spy)
    with fastpath.forced(True):
        dc.manual_seed(0)
        fast = CASES[op](device, dtype)
    expected = set(fastpath.registered()[key])
    assert chosen == expected, f"{op} ({device_type}): the case reached {chosen or 'no override'}, not {expected}"
    with fastpath.forced(False):
        dc.manual_seed(0)
        generic = CASES[op](device, dtype)
    assert len(fast) == len(generic)
    for i, (a, b) in enumerate(zip(fast, generic)):
        assert a.dtype == b.dtype and a.shape == b.shape, (i, a.dtype, b.dtype, a.shape, b.shape)
        np.testing.assert_allclose(a, b, **_tolerance(op, dtype), equal_nan=True, err_msg=f"array {i} of {op}")
