"""Recurrent layers RNN, LSTM and GRU with PyTorch's signatures, parameter names and layouts.

Each layer and direction is one fused op (:class:`deepcore.ops.rnn.Recurrent`); the layer only stacks
them: directions are concatenated on the feature axis, dropout goes between layers in training.
"""
from __future__ import annotations

import math
import warnings

from ..backend import device as as_device
from ..backend.dtypes import as_dtype, default_float
from ..errors import DTypeError, ShapeError
from ..ops import rnn as _ops
from ..ops.dropout import dropout as _dropout
from ..ops.shape import cat, reshape, stack, transpose
from ..tensor import Tensor, empty
from . import init
from ._checks import check_dtype, integer, number
from .module import Module
from .parameter import Parameter


class _RNNBase(Module):
    """Shared parameters, validation and layer stacking of RNN, LSTM and GRU."""

    _name = "RNN"

    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, device=None, dtype=None):
        super().__init__()
        name = type(self).__name__
        input_size = integer(name, "input_size", input_size)
        hidden_size = integer(name, "hidden_size", hidden_size)
        num_layers = integer(name, "num_layers", num_layers)
        dropout = number(name, "dropout", dropout, low=0.0, high=1.0)
        if dropout > 0 and num_layers == 1:
            warnings.warn(f"{name}: dropout={dropout} has no effect with num_layers=1 (dropout is applied "
                          "between stacked layers only)", stacklevel=3)
        self._mode = mode
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.bidirectional = bool(bias), bool(batch_first), bool(bidirectional)
        self.dropout = float(dropout)
        factory = dict(device=as_device(device), dtype=as_dtype(dtype) or default_float)
        gh = _ops.GATES[mode] * hidden_size
        dirs = 2 if bidirectional else 1
        self._flat_weights_names = []
        for layer in range(num_layers):
            layer_in = input_size if layer == 0 else hidden_size * dirs
            for d in range(dirs):
                sfx = f"_l{layer}" + ("_reverse" if d == 1 else "")
                shapes = [("weight_ih", (gh, layer_in)), ("weight_hh", (gh, hidden_size))]
                if bias:
                    shapes += [("bias_ih", (gh,)), ("bias_hh", (gh,))]
                for pname, shape in shapes:
                    setattr(self, pname + sfx, Parameter(empty(*shape, **factory)))
                    self._flat_weights_names.append(pname + sfx)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's default: every weight and bias ~ U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for name in self._flat_weights_names:
            init.uniform_(getattr(self, name), -bound, bound)

    def flatten_parameters(self) -> None:
        """No-op, kept for PyTorch compatibility (weights are always used in place)."""

    @property
    def all_weights(self):
        per = 4 if self.bias else 2
        names = self._flat_weights_names
        return [[getattr(self, n) for n in names[i:i + per]] for i in range(0, len(names), per)]

    def _layer_params(self, layer, d):
        sfx = f"_l{layer}" + ("_reverse" if d == 1 else "")
        get = lambda p: getattr(self, p + sfx) if self.bias or p.startswith("weight") else None  # noqa: E731
        return get("weight_ih"), get("weight_hh"), get("bias_ih"), get("bias_hh")

    # --- validation -----------------------------------------------------------------------
    def forward(self, x, hx=None):
        """``(output, h_n)`` for RNN and GRU (LSTM overrides this for its (h, c) state)."""
        self._check_input(x)
        if hx is not None:
            self._check_state(hx, "hx", x.ndim == 3, _batch(self, x))
        out, h_n, _ = self._run(x, None if hx is None else [hx])
        return out, h_n

    def _check_input(self, x):
        name = type(self).__name__
        if not isinstance(x, Tensor):
            raise TypeError(f"{name}: expected the input to be a Tensor, got {type(x).__name__}")
        if x.ndim not in (2, 3):
            raise ShapeError(f"{name}: expected input of 3 dimensions ((T, N, features), or (N, T, features) with "
                             f"batch_first) or 2 dimensions (T, features) unbatched, got shape {x.shape}")
        if x.shape[-1] != self.input_size:
            raise ShapeError(f"{name}: expected input with {self.input_size} features (last axis), "
                             f"got shape {x.shape}")
        w = self.weight_ih_l0
        check_dtype(name, x, w)
        if x.device != w.device:
            raise RuntimeError(f"{name}: input is on {x.device} but the parameters are on {w.device}")
        steps = x.shape[1] if (x.ndim == 3 and self.batch_first) else x.shape[0]
        if steps == 0:
            raise ValueError(f"{name}: expected a sequence of at least one step, got shape {x.shape}")

    def _check_state(self, s, label, batched, batch):
        name = type(self).__name__
        dirs = 2 if self.bidirectional else 1
        expected = (self.num_layers * dirs, batch, self.hidden_size) if batched else \
            (self.num_layers * dirs, self.hidden_size)
        if not isinstance(s, Tensor):
            raise TypeError(f"{name}: expected {label} to be a Tensor, got {type(s).__name__}")
        if s.shape != expected:
            kind = "" if batched else " (unbatched input)"
            raise ShapeError(f"{name}: expected {label} of shape {expected}{kind}, got {s.shape}")
        if s.dtype != self.weight_ih_l0.dtype:
            raise DTypeError(f"{name}: {label} dtype {s.dtype} does not match the weight dtype "
                             f"{self.weight_ih_l0.dtype}")

    # --- forward --------------------------------------------------------------------------
    def _run(self, x, states):
        """``x`` Tensor of shape (T, N, in) or (N, T, in); ``states`` list of (L*D, N, H) Tensors or None."""
        batched = x.ndim == 3
        lstm = self._mode == "lstm"
        dirs = 2 if self.bidirectional else 1
        L, H = self.num_layers, self.hidden_size
        if not batched:
            x = reshape(x, (x.shape[0], 1, x.shape[1]))
            if states is not None:
                states = [reshape(s, (s.shape[0], 1, H)) for s in states]
        elif self.batch_first:
            x = transpose(x, 0, 1)
        N = x.shape[1]
        if states is None:
            zeros = x.device.xp.zeros((N, H), dtype=x.dtype)
            h0s = [zeros] * (L * dirs)
            c0s = [zeros] * (L * dirs) if lstm else [None] * (L * dirs)
        else:
            h0s = _unstack(states[0])
            c0s = _unstack(states[1]) if lstm else [None] * (L * dirs)

        hn, cn = [], []
        inp = x
        for layer in range(L):
            outs = []
            for d in range(dirs):
                k = layer * dirs + d
                w_ih, w_hh, b_ih, b_hh = self._layer_params(layer, d)
                res = _ops.Recurrent.apply(inp, h0s[k], c0s[k], w_ih, w_hh, b_ih, b_hh,
                                           mode=self._mode, reverse=d == 1)
                outs.append(res[0])
                hn.append(res[1])
                if lstm:
                    cn.append(res[2])
            inp = outs[0] if dirs == 1 else cat(outs, axis=-1)
            if self.training and self.dropout > 0 and layer < L - 1:
                inp = _dropout(inp, self.dropout, training=True)

        out = inp
        h_n = stack(hn)
        c_n = stack(cn) if lstm else None
        if not batched:
            out = reshape(out, (out.shape[0], out.shape[2]))
            h_n = reshape(h_n, (L * dirs, H))
            c_n = reshape(c_n, (L * dirs, H)) if lstm else None
        elif self.batch_first:
            out = transpose(out, 0, 1)
        return out, h_n, c_n

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self._mode == "relu":
            s += f", nonlinearity={self._mode!r}"
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        return s


def _unstack(s):
    return [s[i] for i in range(s.shape[0])]


class RNN(_RNNBase):
    """Elman RNN: h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh) (or relu); returns ``(output, h_n)``."""

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, device=None, dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        super().__init__(nonlinearity, input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, device, dtype)
        self.nonlinearity = nonlinearity


class LSTM(_RNNBase):
    """Long short-term memory, gates (i, f, g, o): c' = f c + i g, h' = o tanh(c'); returns
    ``(output, (h_n, c_n))``."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, device=None, dtype=None):
        super().__init__("lstm", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, device, dtype)

    def forward(self, x, hx=None):
        self._check_input(x)
        if hx is not None:
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                dirs = 2 if self.bidirectional else 1
                batch = _batch(self, x)
                shape = (self.num_layers * dirs, self.hidden_size) if batch is None else \
                    (self.num_layers * dirs, batch, self.hidden_size)
                got = (f"a {type(hx).__name__} of {len(hx)} element(s)" if isinstance(hx, (tuple, list))
                       else f"a {type(hx).__name__}")
                raise TypeError(f"LSTM: expected hx to be a tuple (h_0, c_0) of two tensors, each of shape {shape}, "
                                f"got {got}")
            for s, label in zip(hx, ("h_0", "c_0")):
                self._check_state(s, label, x.ndim == 3, _batch(self, x))
        out, h_n, c_n = self._run(x, None if hx is None else list(hx))
        return out, (h_n, c_n)


class GRU(_RNNBase):
    """Gated recurrent unit, gates (r, z, n): n = tanh(W_in x + b_in + r (W_hn h + b_hn)),
    h' = (1 - z) n + z h; returns ``(output, h_n)``."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, device=None, dtype=None):
        super().__init__("gru", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, device, dtype)


def _batch(module, x):
    return None if x.ndim == 2 else (x.shape[0] if module.batch_first else x.shape[1])
