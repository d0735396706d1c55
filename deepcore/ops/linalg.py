"""Linear algebra: matmul with NumPy semantics (1-D operands, broadcast batch dims), dot, outer, and the
fused ``linear`` (x @ weight.T + bias, PyTorch weight layout) used by nn.Linear."""
from __future__ import annotations

from ..autograd import Function
from ..tensor import Tensor
from .activation import FUSABLE, bias_act, bias_act_backward
from ._util import as_tensor, sum_to, tensor_method

__all__ = ["matmul", "dot", "outer"]


def _as_array(xp, y):
    return y if isinstance(y, xp.ndarray) else xp.asarray(y)


def _check_matmul(a_shape, b_shape):
    """Raise a clear error unless ``a @ b`` is defined (NumPy rules)."""
    a_shape, b_shape = tuple(a_shape), tuple(b_shape)
    if not a_shape or not b_shape:
        raise ValueError(f"matmul: both operands need at least one dimension, got shapes {a_shape} and {b_shape}")
    k_b = b_shape[0] if len(b_shape) == 1 else b_shape[-2]
    if a_shape[-1] != k_b:
        raise ValueError(f"matmul: shapes {a_shape} and {b_shape} do not align")
    batch_a, batch_b = a_shape[:-2], b_shape[:-2]
    for sa, sb in zip(reversed(batch_a), reversed(batch_b)):
        if sa != sb and sa != 1 and sb != 1:
            raise ValueError(f"matmul: batch dimensions of shapes {a_shape} and {b_shape} cannot be broadcast "
                             "together")


def _matmul(xp, a, b):
    """``a @ b``; a batched ``a`` times a matrix ``b`` runs as one large GEMM."""
    if a.ndim > 2 and b.ndim <= 2:
        y = xp.matmul(a.reshape(-1, a.shape[-1]), b)
        return y.reshape(a.shape[:-1] + y.shape[1:])
    return _as_array(xp, xp.matmul(a, b))


class MatMul(Function):
    def forward(self, a, b):
        _check_matmul(a.shape, b.shape)
        self.shapes = (a.shape, b.shape)
        self.save_for_backward(a if self.needs_input_grad[1] else None, b if self.needs_input_grad[0] else None)
        return _matmul(self._xp, a, b)

    def backward(self, gy):
        a, b = self.saved_tensors
        xp = self._xp
        a_shape, b_shape = self.shapes
        # view 1-D operands as matrices: a (k,) -> (1, k), b (k,) -> (k, 1), and gy to match
        if len(b_shape) == 1:
            gy = xp.expand_dims(gy, -1)
        if len(a_shape) == 1:
            gy = xp.expand_dims(gy, -2)
        ga = gb = None
        if self.needs_input_grad[0]:
            b2 = b.reshape(-1, 1) if b.ndim == 1 else b
            ga = sum_to(_matmul(xp, gy, xp.swapaxes(b2, -1, -2)), (1,) + a_shape if len(a_shape) == 1 else a_shape)
            ga = ga.reshape(a_shape)
        if self.needs_input_grad[1]:
            a2 = a.reshape(1, -1) if a.ndim == 1 else a
            if len(b_shape) <= 2 and a2.ndim > 2:
                # matrix b shared across the batch: fold the batch into one GEMM instead of summing after
                gb = xp.matmul(a2.reshape(-1, a2.shape[-1]).T, gy.reshape(-1, gy.shape[-1]))
            else:
                gb = sum_to(xp.matmul(xp.swapaxes(a2, -1, -2), gy), b_shape + (1,) if len(b_shape) == 1 else b_shape)
            gb = gb.reshape(b_shape)
        return ga, gb


class Outer(Function):
    def forward(self, a, b):
        self.save_for_backward(a if self.needs_input_grad[1] else None, b if self.needs_input_grad[0] else None)
        return a[:, None] * b[None, :]

    def backward(self, gy):
        a, b = self.saved_tensors
        return (gy @ b if self.needs_input_grad[0] else None, a @ gy if self.needs_input_grad[1] else None)


class Linear(Function):
    """y = act(x @ weight.T + bias) with weight (out, in): one GEMM forward, one GEMM per needed gradient.

    ``activation`` (None or one of ``activation.FUSABLE``) is applied in the same step as the bias
    (:func:`deepcore.ops.activation.bias_act`: one kernel on the GPU, forward and backward).
    """

    activation = None

    def forward(self, x, weight, bias=None):
        self.x_shape = x.shape
        z = self._xp.matmul(x.reshape(-1, x.shape[-1]), weight.T)
        y, saved = bias_act(z, bias, self.activation, "rows", z.shape)
        self.save_for_backward(x if self.needs_input_grad[1] else None, weight if self.needs_input_grad[0] else None,
                               saved)
        return y.reshape(x.shape[:-1] + (weight.shape[0],))

    def backward(self, gy):
        x, weight, saved = self.saved_tensors
        need_x, need_w, need_b = (tuple(self.needs_input_grad) + (False,))[:3]
        gz, gb = bias_act_backward(gy.reshape(-1, gy.shape[-1]), saved, self.activation, "rows", need_b,
                                   gb_out=self.grad_buffer(2))
        gx = self._xp.matmul(gz, weight).reshape(self.x_shape) if need_x else None
        gw = self._xp.matmul(gz.T, x.reshape(-1, x.shape[-1]), out=self.grad_buffer(1)) if need_w else None
        return (gx, gw, gb)[:len(self.needs_input_grad)]


# --- public functions ------------------------------------------------------------------------------
def _pair(a, b):
    if not isinstance(a, Tensor):
        a = as_tensor(a, b if isinstance(b, Tensor) else None)
    return a, as_tensor(b, a)


@tensor_method()
def matmul(a, b):
    """Matrix product with NumPy semantics: 1-D operands, batched broadcasting ``(B, n, k) @ (k, m)``."""
    a, b = _pair(a, b)
    return MatMul.apply(a, b)


@tensor_method()
def dot(a, b):
    """Inner product of two 1-D tensors (a 0-d result)."""
    a, b = _pair(a, b)
    if a.ndim != 1 or b.ndim != 1:
        raise ValueError(f"dot: expected two 1-D tensors, got shapes {a.shape} and {b.shape}")
    if a.shape != b.shape:
        raise ValueError(f"dot: shapes {a.shape} and {b.shape} do not align")
    return MatMul.apply(a, b)


@tensor_method()
def outer(a, b):
    """Outer product of two 1-D tensors: ``out[i, j] = a[i] * b[j]``."""
    a, b = _pair(a, b)
    if a.ndim != 1 or b.ndim != 1:
        raise ValueError(f"outer: expected two 1-D tensors, got shapes {a.shape} and {b.shape}")
    return Outer.apply(a, b)


def linear(x, weight, bias=None, *, activation=None):
    """``x @ weight.T + bias`` with PyTorch's layout ``weight (out_features, in_features)``, ``bias (out,)``.

    ``activation`` (deepcore extension: "relu", "gelu", "gelu_tanh", "tanh" or "sigmoid") applies that
    activation in the same op, with the same result and gradients as applying it afterwards but fewer
    kernel launches on the GPU; ``nn.Sequential`` uses it for a Linear followed by an activation.
    """
    if activation is not None and activation not in FUSABLE:
        raise ValueError(f"linear: activation must be None or one of {', '.join(FUSABLE)}, got {activation!r}")
    if not isinstance(x, Tensor):
        x = as_tensor(x, weight if isinstance(weight, Tensor) else None)
    weight = as_tensor(weight, x)
    if bias is not None:
        bias = as_tensor(bias, x)
    if weight.ndim != 2:
        raise ValueError(f"linear: weight must be 2-D (out_features, in_features), got shape {weight.shape}")
    if x.ndim == 0 or x.shape[-1] != weight.shape[1]:
        raise ValueError(f"linear: input of shape {x.shape} does not match weight of shape {weight.shape} "
                         f"(expected input of shape (..., {weight.shape[1]}))")
    if bias is not None and bias.shape != (weight.shape[0],):
        raise ValueError(f"linear: bias of shape {bias.shape} does not match weight of shape {weight.shape} "
                         f"(expected ({weight.shape[0]},))")
    if bias is None:
        return Linear.apply(x, weight, activation=activation)
    return Linear.apply(x, weight, bias, activation=activation)


Tensor.__matmul__ = lambda a, b: matmul(a, b)
Tensor.__rmatmul__ = lambda a, b: matmul(b, a)
