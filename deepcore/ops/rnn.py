"""Fused recurrent layers (tanh/relu RNN, LSTM, GRU): one Function per layer and direction.

Forward projects the inputs of ALL time steps with one GEMM, then each step does only the recurrent
product plus the gate math; backward runs BPTT in reverse and gets every weight gradient from one GEMM
over the stacked steps. The per-step work of LSTM and GRU is a set of step kernels with one signature:
generic ``xp`` code (the reference, :class:`_Generic`) and the fast paths registered as "rnn_steps"
(deepcore.backend.fastpath): numba kernels on the CPU, the CUDA kernels of ``kernels/rnn.cu`` on the GPU,
where for small H an LSTM step, recurrent product included, is one launch.
Gate orders follow PyTorch: LSTM (i, f, g, o), GRU (r, z, n).
"""
from __future__ import annotations

import numpy as np

from ..autograd import Function
from ..backend import device_of, fastpath, get_kernel
from . import _cuda

MODES = ("tanh", "relu", "lstm", "gru")
GATES = {"tanh": 1, "relu": 1, "lstm": 4, "gru": 3}


# --- generic step math (numpy or cupy), the reference for the fast paths ------------------------------
def _sigmoid_(a, xp):
    """In-place logistic sigmoid via tanh (stable for large |a|, keeps the dtype)."""
    a *= 0.5
    xp.tanh(a, out=a)
    a *= 0.5
    a += 0.5


class _Generic:
    """Step kernels written with array ops. ``act`` holds x @ W_ih.T + b on entry, gate activations on exit.

    The LSTM steps take the recurrent product's operands: forward ``h_prev`` and ``w_t`` = W_hh.T (the
    step adds h_prev @ w_t), backward either ``dh`` (the gradient of h from after the step) or ``dg_next``
    and ``w`` = W_hh (then dh = dg_next @ w). The GRU steps take ``hw`` = h @ W_hh.T + b_hh precomputed.
    """

    def __init__(self, xp):
        self.xp = xp

    def lstm_weight_t(self, w_hh):
        """W_hh.T as ``lstm_fwd`` wants it (computed once per sequence)."""
        return w_hh.T

    def lstm_fwd(self, h_prev, w_t, act, c_prev, c, h):
        self.lstm_gates(h_prev @ w_t, act, c_prev, c, h)

    def lstm_gates(self, hw, act, c_prev, c, h):
        xp, H = self.xp, h.shape[1]
        act += hw
        _sigmoid_(act[:, :2 * H], xp)
        xp.tanh(act[:, 2 * H:3 * H], out=act[:, 2 * H:3 * H])
        _sigmoid_(act[:, 3 * H:], xp)
        i, f, g, o = act[:, :H], act[:, H:2 * H], act[:, 2 * H:3 * H], act[:, 3 * H:]
        xp.multiply(f, c_prev, out=c)
        c += i * g
        xp.tanh(c, out=h)
        h *= o

    def lstm_bwd(self, act, c_prev, c, dh, dg_next, w, gy, dc, dg, dc_out):
        self.lstm_gates_bwd(act, c_prev, c, dg_next @ w if dh is None else dh, gy, dc, dg, dc_out)

    def lstm_gates_bwd(self, act, c_prev, c, dh, gy, dc, dg, dc_out):
        xp, H = self.xp, c.shape[1]
        i, f, g, o = act[:, :H], act[:, H:2 * H], act[:, 2 * H:3 * H], act[:, 3 * H:]
        dh = dh + gy
        tc = xp.tanh(c)
        dct = dc + dh * o * (1 - tc * tc)
        dg[:, :H] = dct * g * i * (1 - i)
        dg[:, H:2 * H] = dct * c_prev * f * (1 - f)
        dg[:, 2 * H:3 * H] = dct * i * (1 - g * g)
        dg[:, 3 * H:] = dh * tc * o * (1 - o)
        xp.multiply(dct, f, out=dc_out)

    def gru_fwd(self, hw, act, h_prev, hn, h):
        xp, H = self.xp, h.shape[1]
        act[:, :2 * H] += hw[:, :2 * H]
        _sigmoid_(act[:, :2 * H], xp)
        r, z, n = act[:, :H], act[:, H:2 * H], act[:, 2 * H:]
        hn[...] = hw[:, 2 * H:]
        n += r * hn
        xp.tanh(n, out=n)
        xp.subtract(h_prev, n, out=h)
        h *= z
        h += n                                    # h' = (1 - z) * n + z * h

    def gru_bwd(self, act, hn, h_prev, dh, gy, dgx, dgh, dh_direct):
        H = hn.shape[1]
        r, z, n = act[:, :H], act[:, H:2 * H], act[:, 2 * H:]
        dh = dh + gy
        dn = dh * (1 - z) * (1 - n * n)
        dgx[:, :H] = dn * hn * r * (1 - r)
        dgx[:, H:2 * H] = dh * (h_prev - n) * z * (1 - z)
        dgx[:, 2 * H:] = dn
        dgh[:, :2 * H] = dgx[:, :2 * H]
        dgh[:, 2 * H:] = dn * r
        self.xp.multiply(dh, z, out=dh_direct)


# --- numba step kernels (CPU fast path): ops/_rnn_kernels.py, imported on first use -------------------
class _Numba(_Generic):
    """The numba-compiled gate kernels (the products stay NumPy/BLAS GEMMs)."""

    def __init__(self):
        super().__init__(np)
        from . import _rnn_kernels as nb
        self.lstm_gates, self.lstm_gates_bwd, self.gru_fwd, self.gru_bwd = (nb.lstm_fwd, nb.lstm_bwd, nb.gru_fwd,
                                                                            nb.gru_bwd)


def _numba_available():
    try:
        import numba  # noqa: F401
        return True
    except Exception:  # pragma: no cover - numba is a dependency, but stay usable without it
        return False


def _fast_dtype(sample):
    return sample.dtype in _cuda.FLOATS


@fastpath.override("rnn_steps", "cpu", when=lambda sample: _fast_dtype(sample) and _numba_available())
def _numba_steps(sample):
    return _Numba()


# --- CUDA step kernels (GPU fast path), kernels/rnn.cu ------------------------------------------------
class _Cuda:
    """Launch the fused gate kernels of kernels/rnn.cu: a 1-D grid-stride loop over the N * H units.

    With H <= ``FUSE_MAX_H`` an LSTM step computes its recurrent product itself (one launch per step);
    beyond, cuBLAS does the product (one thread's dot product of length H per gate would be slower).
    """

    FUSE_MAX_H = 256

    def __init__(self, sample):
        self.dev = device_of(sample)
        self.suffix = _cuda.suffix(sample.dtype)

    def _launch(self, name, N, H, *arrays):
        _cuda.launch("rnn.cu", f"{name}_{self.suffix}", arrays[-1], (_cuda.blocks_for(N * H, 256, 65535),),
                     (256,), arrays + (np.int32(N), np.int32(H)), get=get_kernel)

    def lstm_weight_t(self, w_hh):
        return w_hh.T if w_hh.shape[1] > self.FUSE_MAX_H else _cuda_contiguous(w_hh.T)

    def lstm_fwd(self, h_prev, w_t, act, c_prev, c, h):
        N, H = h.shape
        if H <= self.FUSE_MAX_H:
            self._launch("lstm_fwd", N, H, None, h_prev, w_t, act, c_prev, c, h)
        else:
            self._launch("lstm_fwd", N, H, h_prev @ w_t, None, None, act, c_prev, c, h)

    def lstm_bwd(self, act, c_prev, c, dh, dg_next, w, gy, dc, dg, dc_out):
        N, H = c.shape
        if dh is None and H > self.FUSE_MAX_H:
            dh, dg_next = dg_next @ w, None
        self._launch("lstm_bwd", N, H, act, c_prev, c, dh, dg_next, w, gy, dc, dg, dc_out)

    def gru_fwd(self, hw, act, h_prev, hn, h):
        self._launch("gru_fwd", *h.shape, hw, act, h_prev, hn, h)

    def gru_bwd(self, act, hn, h_prev, dh, gy, dgx, dgh, dh_direct):
        self._launch("gru_bwd", *hn.shape, act, hn, h_prev, dh, gy, dgx, dgh, dh_direct)


def _cuda_contiguous(a):
    import cupy
    return cupy.ascontiguousarray(a)


@fastpath.override("rnn_steps", "cuda", when=_fast_dtype)
def _cuda_steps(sample):
    return _Cuda(sample)


def _step_kernels(xp, sample):
    """The step-kernel set for ``sample``'s device and dtype: a fast path where one applies, else generic."""
    fast = fastpath.select("rnn_steps", sample)
    return fast(sample) if fast is not None else _Generic(xp)


def _contig(xp, a):
    return None if a is None else xp.ascontiguousarray(a)


# --- the fused layer op ------------------------------------------------------------------------------
class Recurrent(Function):
    """One recurrent layer, one direction, over a whole sequence.

    Inputs ``x (T, N, in), h0 (N, H), c0 (N, H) or None, w_ih (G*H, in), w_hh (G*H, H), b_ih, b_hh``
    (biases may be None); hyper-parameters ``mode`` (tanh|relu|lstm|gru), ``reverse`` (run from the last
    step to the first; outputs stay in time order). Outputs ``y (T, N, H)``, ``h_n (N, H)`` and, for LSTM,
    ``c_n (N, H)``.
    """

    mode = "tanh"
    reverse = False

    def _order(self, T):
        return range(T - 1, -1, -1) if self.reverse else range(T)

    def forward(self, x, h0, c0, w_ih, w_hh, b_ih, b_hh):
        xp, mode = self._xp, self.mode
        T, N, I = x.shape
        G, H = w_hh.shape
        for name, a in (("h0", h0), ("c0", c0), ("w_ih", w_ih), ("w_hh", w_hh), ("b_ih", b_ih), ("b_hh", b_hh)):
            if a is not None and a.dtype != x.dtype:
                raise TypeError(f"recurrent ({mode}): {name} has dtype {a.dtype} but x has dtype {x.dtype}")
        h0, c0 = _contig(xp, h0), _contig(xp, c0)
        xw = x.reshape(T * N, I) @ w_ih.T             # every step's input projection in one GEMM
        bias = b_ih
        if b_hh is not None and mode != "gru":       # GRU keeps b_hh inside r * (W_hn h + b_hn)
            bias = b_hh if bias is None else bias + b_hh
        if bias is not None:
            xw += bias
        xw = xw.reshape(T, N, G)
        w_hh_t = w_hh.T
        ys = xp.empty((T, N, H), dtype=x.dtype)
        k = _step_kernels(xp, x)
        h, c = h0, c0
        if mode == "lstm":
            cs = xp.empty((T, N, H), dtype=x.dtype)
            w_t = k.lstm_weight_t(w_hh)
            for t in self._order(T):
                k.lstm_fwd(h, w_t, xw[t], c, cs[t], ys[t])
                h, c = ys[t], cs[t]
            extra = (c0, cs)
        elif mode == "gru":
            hns = xp.empty((T, N, H), dtype=x.dtype)
            for t in self._order(T):
                hw = h @ w_hh_t
                if b_hh is not None:
                    hw += b_hh
                k.gru_fwd(hw, xw[t], h, hns[t], ys[t])
                h = ys[t]
            extra = (hns,)
        else:
            for t in self._order(T):
                a = xw[t]
                a += h @ w_hh_t
                if mode == "tanh":
                    xp.tanh(a, out=ys[t])
                else:
                    xp.maximum(a, 0, out=ys[t])
                h = ys[t]
            xw = None                                 # the outputs alone give the derivative
            extra = ()
        need_x, need_w_ih = self.needs_input_grad[0], self.needs_input_grad[3]
        self.save_for_backward(x if need_w_ih else None, w_ih if need_x else None, w_hh, h0, ys, xw, *extra)
        if mode == "lstm":
            return ys, h.copy(), c.copy()
        return ys, h.copy()

    def backward(self, gys, ghn, gcn=None):
        xp, mode = self._xp, self.mode
        x, w_ih, w_hh, h0, ys, act, *extra = self.saved_tensors
        T, N, H = ys.shape
        G = w_hh.shape[0]
        gys = xp.ascontiguousarray(gys, dtype=ys.dtype)  # the step kernels need contiguous, same-dtype arrays
        dh = xp.ascontiguousarray(ghn, dtype=ys.dtype)
        k = _step_kernels(xp, ys)
        order = list(self._order(T))
        dg = xp.empty((T, N, G), dtype=ys.dtype)     # gradient w.r.t. the pre-activations of every step
        dgh = dg                                      # ... as seen by W_hh (differs for GRU's n gate)
        if mode == "lstm":
            c0, cs = extra
            dc = xp.ascontiguousarray(gcn, dtype=ys.dtype)
            w_c = xp.ascontiguousarray(w_hh)
            for s in range(T - 1, -1, -1):    # each step gets dh, or the later step's dg to take it from
                t = order[s]
                c_prev = c0 if s == 0 else cs[order[s - 1]]
                dc_out = xp.empty_like(dc)
                later = None if s == T - 1 else dg[order[s + 1]]
                k.lstm_bwd(act[t], c_prev, cs[t], dh if later is None else None, later, w_c, gys[t], dc, dg[t],
                           dc_out)
                dc = dc_out
            dh = dg[order[0]] @ w_hh if self.needs_input_grad[1] else None
            gc0 = dc
        elif mode == "gru":
            (hns,) = extra
            dgh = xp.empty((T, N, G), dtype=ys.dtype)
            for s in range(T - 1, -1, -1):
                t = order[s]
                h_prev = h0 if s == 0 else ys[order[s - 1]]
                direct = xp.empty_like(dh)
                k.gru_bwd(act[t], hns[t], h_prev, dh, gys[t], dg[t], dgh[t], direct)
                dh = dgh[t] @ w_hh
                dh += direct
            gc0 = None
        else:
            for s in range(T - 1, -1, -1):
                t = order[s]
                d = dh + gys[t]
                y = ys[t]
                if mode == "tanh":
                    xp.multiply(d, 1 - y * y, out=dg[t])
                else:
                    xp.multiply(d, y > 0, out=dg[t])
                dh = dg[t] @ w_hh
            gc0 = None

        need = self.needs_input_grad
        dg2, dgh2 = dg.reshape(T * N, G), dgh.reshape(T * N, G)
        gx = (dg2 @ w_ih).reshape(T, N, w_ih.shape[1]) if need[0] else None
        # weight and bias gradients go straight into the optimizer's flat buffer when it offers one
        gw_ih = xp.matmul(dg2.T, x.reshape(T * N, x.shape[2]), out=self.grad_buffer(3)) if need[3] else None
        gw_hh = None
        if need[4]:                                   # step s consumed h of step s-1 (h0 for s = 0)
            first, rest, prev = (T - 1, slice(0, T - 1), slice(1, T)) if self.reverse else \
                (0, slice(1, T), slice(0, T - 1))
            gw_hh = xp.matmul(dgh[rest].reshape(-1, G).T, ys[prev].reshape(-1, H), out=self.grad_buffer(4))
            gw_hh += dgh[first].T @ h0
        gb_ih = dg2.sum(axis=0, out=self.grad_buffer(5)) if need[5] else None
        gb_hh = None
        if need[6]:                                   # the same sum unless GRU's n gate made them differ
            dest = self.grad_buffer(6)
            if gb_ih is not None and dgh is dg and dest is None:
                gb_hh = gb_ih.copy()
            elif gb_ih is not None and dgh is dg:
                dest[...] = gb_ih
                gb_hh = dest
            else:
                gb_hh = dgh2.sum(axis=0, out=dest)
        return (gx, dh if need[1] else None, gc0 if need[2] else None, gw_ih, gw_hh, gb_ih, gb_hh)


def recurrent(x, h0, w_ih, w_hh, b_ih=None, b_hh=None, c0=None, mode="tanh", reverse=False):
    """One recurrent layer in one direction: ``(y, h_n)``, or ``(y, h_n, c_n)`` for ``mode="lstm"``.

    ``x (T, N, in)``, ``h0``/``c0 (N, H)``, weights in PyTorch's layout (``(G*H, in)``, ``(G*H, H)``).
    """
    if mode not in MODES:
        raise ValueError(f"recurrent: mode must be one of {', '.join(MODES)}, got {mode!r}")
    G, H = tuple(w_hh.shape)
    if x.ndim != 3 or tuple(w_ih.shape) != (G, x.shape[2]) or G != GATES[mode] * H:
        raise ValueError(f"recurrent ({mode}): shapes x {tuple(x.shape)}, w_ih {tuple(w_ih.shape)}, "
                         f"w_hh {tuple(w_hh.shape)} do not fit (expected x (T, N, in), w_ih "
                         f"({GATES[mode]}*H, in), w_hh ({GATES[mode]}*H, H))")
    state_shape = (x.shape[1], H)
    for name, s in (("h0", h0), ("c0", c0)):
        if s is not None and tuple(s.shape) != state_shape:
            raise ValueError(f"recurrent ({mode}): expected {name} of shape {state_shape}, got {tuple(s.shape)}")
    if (mode == "lstm") != (c0 is not None):
        raise ValueError(f"recurrent ({mode}): c0 is required for lstm and only for lstm")
    for name, b in (("b_ih", b_ih), ("b_hh", b_hh)):
        if b is not None and tuple(b.shape) != (G,):
            raise ValueError(f"recurrent ({mode}): expected {name} of shape {(G,)}, got {tuple(b.shape)}")
    return Recurrent.apply(x, h0, c0, w_ih, w_hh, b_ih, b_hh, mode=mode, reverse=bool(reverse))
