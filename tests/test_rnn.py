"""Recurrent layers: NumPy step-loop references, PyTorch parity, gradchecks, fast paths vs generic path."""
import contextlib

import numpy as np
import pytest

import deepcore as dc
import deepcore.nn as nn
from deepcore.backend import fastpath
from deepcore.ops import rnn as R

GATES = {"tanh": 1, "relu": 1, "lstm": 4, "gru": 3}


@contextlib.contextmanager
def _fast_paths_on():
    """Fast paths on inside the block, even in a --no-fast-paths run (to compare them with the generic path)."""
    was = fastpath.enabled()
    fastpath.set_enabled(True)
    try:
        yield
    finally:
        fastpath.set_enabled(was)


# --- NumPy references: the PyTorch equations, one step at a time, in float64 ---------------------------
def _sig(a):
    return 1 / (1 + np.exp(-a))


def np_layer(mode, x, h, c, w_ih, w_hh, b_ih, b_hh, reverse=False):
    """One layer, one direction; returns (ys, h_n, c_n)."""
    H = w_hh.shape[1]
    ys = np.zeros(x.shape[:2] + (H,))
    for t in (range(len(x) - 1, -1, -1) if reverse else range(len(x))):
        gi, gh = x[t] @ w_ih.T + b_ih, h @ w_hh.T + b_hh
        if mode == "lstm":
            i, f, g, o = _sig(gi[:, :H] + gh[:, :H]), _sig(gi[:, H:2 * H] + gh[:, H:2 * H]), \
                np.tanh(gi[:, 2 * H:3 * H] + gh[:, 2 * H:3 * H]), _sig(gi[:, 3 * H:] + gh[:, 3 * H:])
            c = f * c + i * g
            h = o * np.tanh(c)
        elif mode == "gru":
            r, z = _sig(gi[:, :H] + gh[:, :H]), _sig(gi[:, H:2 * H] + gh[:, H:2 * H])
            n = np.tanh(gi[:, 2 * H:] + r * gh[:, 2 * H:])
            h = (1 - z) * n + z * h
        else:
            a = gi + gh
            h = np.tanh(a) if mode == "tanh" else np.maximum(a, 0)
        ys[t] = h
    return ys, h, c


def _weights(mode, I, H, rng, bias=True):
    G = GATES[mode] * H
    ws = [rng.uniform(-0.6, 0.6, s) for s in ((G, I), (G, H))]
    bs = [rng.uniform(-0.6, 0.6, (G,)) for _ in range(2)] if bias else [np.zeros(G), np.zeros(G)]
    return ws + bs


MODULES = {"tanh": lambda *a, **k: nn.RNN(*a, **k), "relu": lambda *a, **k: nn.RNN(*a, nonlinearity="relu", **k),
           "lstm": nn.LSTM, "gru": nn.GRU}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mode", ["lstm", "gru", "tanh", "relu"])
def test_layer_matches_numpy_step_loop(device, mode, dtype):
    rng = np.random.default_rng(1)
    T, N, I, H = 5, 3, 4, 6
    m = MODULES[mode](I, H, dtype=dtype).to(device)
    x = rng.standard_normal((T, N, I))
    h0, c0 = rng.standard_normal((1, N, H)), rng.standard_normal((1, N, H))
    xs = dc.tensor(x.astype(dtype), device=device)
    hx = dc.tensor(h0.astype(dtype), device=device)
    if mode == "lstm":
        out, (h_n, c_n) = m(xs, (hx, dc.tensor(c0.astype(dtype), device=device)))
    else:
        out, h_n = m(xs, hx)
    w = [getattr(m, n).numpy().astype(np.float64) for n in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0",
                                                           "bias_hh_l0")]
    ys, h, c = np_layer(mode, x, h0[0], c0[0], *w)
    tol = dict(rtol=1e-4, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-12)
    assert out.dtype == dtype and out.shape == (T, N, H) and h_n.shape == (1, N, H)
    np.testing.assert_allclose(out.numpy(), ys, **tol)
    np.testing.assert_allclose(h_n.numpy()[0], h, **tol)
    if mode == "lstm":
        np.testing.assert_allclose(c_n.numpy()[0], c, **tol)


# --- gradients: the fused op in float64 against finite differences --------------------------------------
@pytest.mark.parametrize("fast", [True, False])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("mode", ["lstm", "gru", "tanh", "relu"])
def test_recurrent_op_gradcheck(device, mode, reverse, fast):
    if fast and not fastpath.enabled():
        pytest.skip("fast paths are switched off (--no-fast-paths)")
    rng = np.random.default_rng(2)
    T, N, I, H = 3, 2, 3, 4
    x = rng.standard_normal((T, N, I))
    h0, c0 = rng.standard_normal((N, H)), rng.standard_normal((N, H))
    arrays = [x, h0] + ([c0] if mode == "lstm" else []) + _weights(mode, I, H, rng)
    if mode == "relu":  # keep pre-activations away from the kink at 0
        arrays[0] = np.abs(x) + 0.5
        arrays[1] = np.abs(h0)
        arrays[2:] = [np.abs(a) * 0.5 + 0.05 for a in arrays[2:]]
    tensors = [dc.tensor(a, device=device, requires_grad=True) for a in arrays]

    def f(x, h0, *rest):
        c0 = rest[0] if mode == "lstm" else None
        w_ih, w_hh, b_ih, b_hh = rest[-4:]
        return R.recurrent(x, h0, w_ih, w_hh, b_ih, b_hh, c0=c0, mode=mode, reverse=reverse)

    with (contextlib.nullcontext() if fast else fastpath.disabled()):
        assert dc.gradcheck(f, tensors)


@pytest.mark.parametrize("mode", ["lstm", "gru"])
def test_recurrent_op_without_bias_and_partial_grads(device, mode):
    rng = np.random.default_rng(3)
    T, N, I, H = 3, 2, 3, 4
    w_ih, w_hh, _, _ = _weights(mode, I, H, rng)
    x = dc.tensor(rng.standard_normal((T, N, I)), device=device)            # no grad for x: dx is skipped
    h0 = dc.tensor(rng.standard_normal((N, H)), device=device, requires_grad=True)
    c0 = dc.tensor(rng.standard_normal((N, H)), device=device) if mode == "lstm" else None
    ws = [dc.tensor(w, device=device, requires_grad=True) for w in (w_ih, w_hh)]

    def f(h0, w_ih, w_hh):
        return R.recurrent(x, h0, w_ih, w_hh, c0=c0, mode=mode)
    assert dc.gradcheck(f, [h0] + ws)


def test_module_gradcheck_through_stacking(device):
    """x and (h0, c0) through a 2-layer bidirectional batch_first LSTM: exercises the stacking ops."""
    rng = np.random.default_rng(4)
    m = nn.LSTM(3, 2, num_layers=2, batch_first=True, bidirectional=True, dtype=dc.float64).to(device)
    x = dc.tensor(rng.standard_normal((2, 3, 3)), device=device, requires_grad=True)
    h0 = dc.tensor(rng.standard_normal((4, 2, 2)), device=device, requires_grad=True)
    c0 = dc.tensor(rng.standard_normal((4, 2, 2)), device=device, requires_grad=True)

    def f(x, h0, c0):
        out, (h, c) = m(x, (h0, c0))
        return out, h, c
    assert dc.gradcheck(f, [x, h0, c0])
    xu = dc.tensor(rng.standard_normal((3, 3)), device=device, requires_grad=True)   # unbatched
    g = nn.GRU(3, 2, bidirectional=True, dtype=dc.float64).to(device)
    assert dc.gradcheck(lambda x, h: g(x, h), [xu, dc.tensor(rng.standard_normal((2, 2)), device=device,
                                                              requires_grad=True)])


# --- fast paths (numba on CPU, CUDA kernels on GPU) equal the generic path -------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mode", ["lstm", "gru"])
def test_fast_path_matches_generic(device, mode, dtype):
    """Both directions, outputs and every gradient (tests/test_fastpaths.py covers the registry as a whole)."""
    rng = np.random.default_rng(5)
    T, N, I, H = 6, 5, 7, 9
    arrays = [rng.standard_normal((T, N, I)), rng.standard_normal((N, H)), rng.standard_normal((N, H))] + \
        _weights(mode, I, H, rng)
    projections = [rng.standard_normal(s) for s in ((T, N, H), (N, H), (N, H))]
    sample = dc.zeros(1, dtype=dtype, device=device).data
    with _fast_paths_on():
        kernels = R._step_kernels(dc.device(device).xp, sample)
    assert type(kernels).__name__ == ("_Numba" if device == "cpu" else "_Cuda")

    def run():
        ts = [dc.tensor(a.astype(dtype), device=device, requires_grad=True) for a in arrays]
        values = []
        for reverse in (False, True):
            outs = R.recurrent(ts[0], ts[1], *ts[3:], c0=ts[2] if mode == "lstm" else None, mode=mode,
                               reverse=reverse)
            sum((o * dc.tensor(p.astype(dtype), device=device)).sum() for o, p in zip(outs, projections)).backward()
            values += [o.numpy() for o in outs]
        return values + [t.grad.numpy() for t in ts if t.grad is not None]

    tol = dict(rtol=1e-4, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-12)
    with _fast_paths_on():
        fast = run()
    with fastpath.disabled():
        generic = run()
    assert len(fast) == len(generic) == (6 if mode == "lstm" else 4) + (7 if mode == "lstm" else 6)
    for a, b in zip(fast, generic):
        assert a.dtype == dtype
        np.testing.assert_allclose(a, b, **tol)


# --- PyTorch parity: same state dict, same outputs, states and gradients --------------------------------
def _port(torch_module, module):
    module.load_state_dict({k: v.detach().numpy() for k, v in torch_module.state_dict().items()})


PARITY = [
    ("RNN", dict(num_layers=2)),
    ("RNN", dict(nonlinearity="relu", batch_first=True)),
    ("RNN", dict(bidirectional=True, bias=False)),
    ("LSTM", dict(num_layers=2, batch_first=True)),
    ("LSTM", dict(num_layers=2, bidirectional=True)),
    ("LSTM", dict(bias=False, batch_first=True, bidirectional=True)),
    ("GRU", dict(num_layers=2)),
    ("GRU", dict(num_layers=3, bidirectional=True, batch_first=True)),
]


@pytest.mark.parametrize("with_hx", [False, True])
@pytest.mark.parametrize("name,kw", PARITY)
def test_matches_torch(name, kw, with_hx):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    I, H, T, N = 4, 5, 6, 3
    tm = getattr(torch.nn, name)(I, H, **kw).double()
    m = getattr(nn, name)(I, H, dtype=dc.float64, **kw)
    assert [n for n, _ in m.named_parameters()] == [n for n, _ in tm.named_parameters()]
    _port(tm, m)
    rng = np.random.default_rng(7)
    x = rng.standard_normal((N, T, I) if kw.get("batch_first") else (T, N, I))
    L = kw.get("num_layers", 1) * (2 if kw.get("bidirectional") else 1)
    states = [rng.standard_normal((L, N, H)) for _ in range(2 if name == "LSTM" else 1)]
    tx, dx = torch.tensor(x, requires_grad=True), dc.tensor(x, requires_grad=True)
    ts = [torch.tensor(s, requires_grad=True) for s in states]
    ds = [dc.tensor(s, requires_grad=True) for s in states]
    thx = (tuple(ts) if name == "LSTM" else ts[0]) if with_hx else None
    dhx = (tuple(ds) if name == "LSTM" else ds[0]) if with_hx else None
    to, th = tm(tx, thx)
    do, dh = m(dx, dhx)
    th, dh = (list(th), list(dh)) if name == "LSTM" else ([th], [dh])
    np.testing.assert_allclose(do.numpy(), to.detach().numpy(), rtol=1e-9, atol=1e-10)
    for a, b in zip(dh, th):
        np.testing.assert_allclose(a.numpy(), b.detach().numpy(), rtol=1e-9, atol=1e-10)
    gos = [rng.standard_normal(to.shape)] + [rng.standard_normal(b.shape) for b in th]
    sum((o * torch.tensor(g)).sum() for o, g in zip([to] + th, gos)).backward()
    sum((o * dc.tensor(g)).sum() for o, g in zip([do] + dh, gos)).backward()
    np.testing.assert_allclose(dx.grad.numpy(), tx.grad.numpy(), rtol=1e-8, atol=1e-10)
    if with_hx:
        for a, b in zip(ds, ts):
            np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-8, atol=1e-10)
    for n, p in tm.named_parameters():
        np.testing.assert_allclose(getattr(m, n).grad.numpy(), p.grad.numpy(), rtol=1e-8, atol=1e-10, err_msg=n)


@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU"])
def test_unbatched_matches_torch_float32(name):
    torch = pytest.importorskip("torch")
    torch.manual_seed(1)
    tm = getattr(torch.nn, name)(3, 4, num_layers=2, bidirectional=True)
    m = getattr(nn, name)(3, 4, num_layers=2, bidirectional=True)
    _port(tm, m)
    x = np.random.default_rng(8).standard_normal((5, 3)).astype(np.float32)
    to, th = tm(torch.tensor(x))
    do, dh = m(dc.tensor(x))
    assert do.shape == (5, 8) and do.dtype == np.float32
    np.testing.assert_allclose(do.numpy(), to.detach().numpy(), rtol=1e-4, atol=1e-5)
    th, dh = (th, dh) if name == "LSTM" else ((th,), (dh,))
    for a, b in zip(dh, th):
        assert a.shape == (4, 4)
        np.testing.assert_allclose(a.numpy(), b.detach().numpy(), rtol=1e-4, atol=1e-5)


# --- the benchmark workload, parameters, init, dropout, errors -------------------------------------------
def test_benchmark_lstm_forward_backward(device):
    m = nn.LSTM(16, 128, batch_first=True).to(device)
    x = dc.randn(64, 32, 16).to(device)
    out, (h, c) = m(x)
    assert out.shape == (64, 32, 128) and h.shape == (1, 64, 128) and c.shape == (1, 64, 128)
    (out.mean() + h.sum() * 0.1).backward()
    for name, p in m.named_parameters():
        assert p.grad is not None and p.grad.shape == p.shape and p.grad.dtype == np.float32, name
        assert np.isfinite(p.grad.numpy()).all() and np.abs(p.grad.numpy()).sum() > 0, name


def test_parameters_names_shapes_and_init():
    m = nn.LSTM(10, 20, num_layers=2, bidirectional=True)
    shapes = dict((n, p.shape) for n, p in m.named_parameters())
    assert shapes["weight_ih_l0"] == (80, 10) and shapes["weight_hh_l0"] == (80, 20)
    assert shapes["weight_ih_l1_reverse"] == (80, 40) and shapes["bias_hh_l1_reverse"] == (80,)
    assert len(shapes) == 16 and len(m.all_weights) == 4
    bound = 1 / np.sqrt(20)
    for n, p in m.named_parameters():
        v = p.numpy()
        assert v.dtype == np.float32 and np.abs(v).max() <= bound and v.std() > bound / 3, n
    g = nn.GRU(4, 6, bias=False)
    assert [n for n, _ in g.named_parameters()] == ["weight_ih_l0", "weight_hh_l0"]
    assert g.weight_ih_l0.shape == (18, 4)
    r = nn.RNN(4, 6, 1, "relu")
    assert r.nonlinearity == "relu" and r.weight_hh_l0.shape == (6, 6)
    assert "nonlinearity='relu'" in repr(r)


def test_dropout_between_layers():
    m = nn.GRU(3, 4, num_layers=2, dropout=0.5)
    x = dc.randn(5, 2, 3, requires_grad=True)
    m.eval()
    a, _ = m(x)
    b, _ = m(x)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    m.train()
    c, _ = m(x)
    assert not np.allclose(c.numpy(), a.numpy())
    c.sum().backward()
    assert x.grad is not None and np.isfinite(x.grad.numpy()).all()
    with pytest.warns(UserWarning, match="no effect"):
        nn.LSTM(3, 4, dropout=0.2)


def test_no_grad_and_hidden_state_not_requiring_grad():
    m = nn.LSTM(3, 4)
    x = dc.randn(4, 2, 3)
    with dc.no_grad():
        out, (h, c) = m(x)
    assert not out.requires_grad and not h.requires_grad
    out, (h, c) = m(x, (dc.zeros(1, 2, 4), dc.zeros(1, 2, 4)))
    out.sum().backward()
    assert m.weight_hh_l0.grad is not None


def test_errors():
    m = nn.LSTM(16, 8, num_layers=2)
    with pytest.raises(ValueError, match=r"LSTM: expected input with 16 features \(last axis\), got shape \(5, 3, 8\)"):
        m(dc.zeros(5, 3, 8))
    with pytest.raises(ValueError, match=r"expected input of 3 dimensions"):
        m(dc.zeros(2, 5, 3, 16))
    with pytest.raises(ValueError, match=r"expected h_0 of shape \(2, 3, 8\), got \(1, 3, 8\)"):
        m(dc.zeros(5, 3, 16), (dc.zeros(1, 3, 8), dc.zeros(2, 3, 8)))
    with pytest.raises(TypeError, match="tuple"):
        m(dc.zeros(5, 3, 16), dc.zeros(2, 3, 8))
    with pytest.raises(ValueError, match=r"\(unbatched input\)"):
        m(dc.zeros(5, 16), (dc.zeros(2, 3, 8), dc.zeros(2, 3, 8)))
    with pytest.raises(TypeError, match="dtype float64 does not match"):
        m(dc.zeros(5, 3, 16, dtype=dc.float64))
    with pytest.raises(ValueError, match="GRU: expected hx of shape"):
        nn.GRU(2, 3, batch_first=True)(dc.zeros(4, 5, 2), dc.zeros(1, 5, 3))
    with pytest.raises(ValueError, match="nonlinearity"):
        nn.RNN(2, 3, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="hidden_size must be a positive integer"):
        nn.GRU(2, 0)
    with pytest.raises(ValueError, match="dropout"):
        nn.GRU(2, 3, num_layers=2, dropout=1.5)
    with pytest.raises(ValueError, match="mode must be one of"):
        R.recurrent(dc.zeros(2, 1, 3), dc.zeros(1, 4), dc.zeros(4, 3), dc.zeros(4, 4), mode="lstmx")
    with pytest.raises(ValueError, match=r"w_ih \(4, 3\)"):
        R.recurrent(dc.zeros(2, 1, 3), dc.zeros(1, 4), dc.zeros(4, 3), dc.zeros(4, 4), mode="gru")


# --- the numba kernels' float32 tanh: accurate, saturating and NaN-propagating ----------------------------
@pytest.mark.parametrize("mode", ["lstm", "gru"])
def test_numba_float32_step_kernels_at_extremes_match_generic(mode):
    from deepcore.ops import _rnn_kernels as K
    rng = np.random.default_rng(0)
    N, H = 3, 41                                           # a ragged tail after the SIMD lanes
    G = (4 if mode == "lstm" else 3) * H
    hw = (rng.standard_normal((N, G)) * np.logspace(-3, 4, G)).astype(np.float32)   # up to +-1e4
    act = (rng.standard_normal((N, G)) * 10).astype(np.float32)
    act[1, 7] = np.nan                                     # input gate / r gate of unit (1, 7)
    hw[2, 2 * H + 3] = -np.inf                             # the cell candidate of unit (2, 3)
    state = rng.standard_normal((N, H)).astype(np.float32)
    outs = {}
    for name, k in (("numba", K), ("generic", R._Generic(np))):
        a, s1, s2 = act.copy(), np.empty_like(state), np.empty_like(state)
        step = getattr(k, "lstm_gates") if (mode, name) == ("lstm", "generic") else getattr(k, f"{mode}_fwd")
        step(hw, a, state, s1, s2)
        outs[name] = (a, s1, s2)
    for fast, ref in zip(outs["numba"], outs["generic"]):
        np.testing.assert_allclose(fast, ref, rtol=0, atol=1e-5, equal_nan=True)   # GRU: r error x |hn| up to 1e4
    h = outs["numba"][2]
    assert np.isnan(h[1, 7]) and np.isfinite(np.delete(h[1], 7)).all()


def test_cuda_lstm_step_is_one_launch(device):
    """With small H each LSTM step (recurrent product included) is one kernel, forward and backward."""
    import sys
    emulation = sys.modules.get("cupy_emulation")
    if device == "cpu" or emulation is None or not emulation.is_active() or not fastpath.enabled():
        pytest.skip("launch counts of the fast paths exist on the emulated CUDA device only")
    T = 9
    lstm = nn.LSTM(3, 8).to(device)
    x = dc.randn(T, 2, 3, device=device, requires_grad=True)
    with emulation.counting() as fwd:
        out, (h, c) = lstm(x)
    with emulation.counting() as bwd:
        (out.sum() + h.sum()).backward()
    assert fwd.by_name["lstm_fwd_f32"] == T and fwd.launches <= T + 10, fwd.by_name
    assert bwd.by_name["lstm_bwd_f32"] == T and bwd.by_name["matmul"] == 4, bwd.by_name  # dh0, dx, dW_ih, dW_hh
    assert (fwd.syncs, fwd.copies, bwd.syncs, bwd.copies) == (0, 0, 0, 0)
