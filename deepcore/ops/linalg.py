"""Linear algebra: matmul with NumPy semantics (1-D operands, broadcast batch dims), dot, outer, and the
fused ``linear`` (x @ weight.T + bias, PyTorch weight layout) used by nn.Linear."""
from __future__ import annotations

import math
import string

from ..autograd import Function
from ..errors import ShapeError
from ..tensor import Tensor
from .activation import FUSABLE, bias_act, bias_act_backward
from ._util import as_tensor, sum_to, tensor_method

__all__ = ["matmul", "dot", "outer", "einsum"]


def _as_array(xp, y):
    return y if isinstance(y, xp.ndarray) else xp.asarray(y)


def _check_matmul(a_shape, b_shape):
    """Raise a clear error unless ``a @ b`` is defined (NumPy rules)."""
    a_shape, b_shape = tuple(a_shape), tuple(b_shape)
    if not a_shape or not b_shape:
        raise ShapeError(f"matmul: both operands need at least one dimension, got shapes {a_shape} and {b_shape}")
    k_b = b_shape[0] if len(b_shape) == 1 else b_shape[-2]
    if a_shape[-1] != k_b:
        raise ShapeError(f"matmul: shapes {a_shape} and {b_shape} do not align")
    batch_a, batch_b = a_shape[:-2], b_shape[:-2]
    for sa, sb in zip(reversed(batch_a), reversed(batch_b)):
        if sa != sb and sa != 1 and sb != 1:
            raise ShapeError(f"matmul: batch dimensions of shapes {a_shape} and {b_shape} cannot be broadcast "
                             "together")


def _rows(shape):
    """The number of rows of ``shape`` folded into a matrix (explicit: ``reshape(-1, 0)`` is ambiguous)."""
    return math.prod(shape[:-1])


def _matmul(xp, a, b):
    """``a @ b``; a batched ``a`` times a matrix ``b`` runs as one large GEMM."""
    if a.ndim > 2 and b.ndim <= 2:
        y = xp.matmul(a.reshape(_rows(a.shape), a.shape[-1]), b)
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
                gb = xp.matmul(a2.reshape(_rows(a2.shape), a2.shape[-1]).T, gy.reshape(_rows(gy.shape), gy.shape[-1]))
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
        z = self._xp.matmul(x.reshape(_rows(x.shape), x.shape[-1]), weight.T)
        y, saved = bias_act(z, bias, self.activation, "rows", z.shape)
        self.save_for_backward(x if self.needs_input_grad[1] else None, weight if self.needs_input_grad[0] else None,
                               saved)
        return y.reshape(x.shape[:-1] + (weight.shape[0],))

    def backward(self, gy):
        x, weight, saved = self.saved_tensors
        need_x, need_w, need_b = (tuple(self.needs_input_grad) + (False,))[:3]
        gz, gb = bias_act_backward(gy.reshape(_rows(gy.shape), gy.shape[-1]), saved, self.activation, "rows", need_b,
                                   gb_out=self.grad_buffer(2))
        gx = self._xp.matmul(gz, weight).reshape(self.x_shape) if need_x else None
        gw = self._xp.matmul(gz.T, x.reshape(_rows(x.shape), x.shape[-1]), out=self.grad_buffer(1)) if need_w else None
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
        raise ShapeError(f"dot: expected two 1-D tensors, got shapes {a.shape} and {b.shape}")
    if a.shape != b.shape:
        raise ShapeError(f"dot: shapes {a.shape} and {b.shape} do not align")
    return MatMul.apply(a, b)


@tensor_method()
def outer(a, b):
    """Outer product of two 1-D tensors: ``out[i, j] = a[i] * b[j]``."""
    a, b = _pair(a, b)
    if a.ndim != 1 or b.ndim != 1:
        raise ShapeError(f"outer: expected two 1-D tensors, got shapes {a.shape} and {b.shape}")
    return Outer.apply(a, b)


class Einsum(Function):
    """``xp.einsum`` over explicit subscripts (no ellipsis, sizes already equal); the gradient of each operand
    is another einsum of the output gradient with the other operands (identity matrices rebuild repeated
    subscripts such as ``"ii->i"``; subscripts summed within one operand alone are broadcast back)."""

    def forward(self, *xs):
        self.save_for_backward(*xs)
        return self._xp.einsum(",".join(self.inputs) + "->" + self.output, *xs)

    def backward(self, gy):
        xs = self.saved_tensors
        xp = self._xp
        grads = []
        for k, (need, term) in enumerate(zip(self.needs_input_grad, self.inputs)):
            if not need:
                grads.append(None)
                continue
            spare = iter(self.spare)
            terms, arrays = [self.output], [gy]
            for j, t in enumerate(self.inputs):
                if j != k:
                    terms.append(t)
                    arrays.append(xs[j])
            target, seen = [], {}
            for letter, n in zip(term, xs[k].shape):
                if letter in seen:  # a repeated subscript: a fresh one tied to the first by an identity
                    fresh = next(spare)
                    terms.append(letter + fresh)
                    arrays.append(xp.eye(n, dtype=gy.dtype))
                    letter = fresh
                seen.setdefault(letter, n)
                target.append(letter)
            available = set("".join(terms))
            kept = "".join(c for c in target if c in available)
            g = xp.einsum(",".join(terms) + "->" + kept, *arrays)
            if len(kept) != len(target):  # summed in this operand alone: the gradient is constant along it
                g = g.reshape(tuple(n if c in available else 1 for c, n in zip(target, xs[k].shape)))
                g = xp.ascontiguousarray(xp.broadcast_to(g, xs[k].shape))
            grads.append(g.astype(xs[k].dtype, copy=False))
        return tuple(grads)


def _einsum_terms(equation, shapes):
    """Explicit subscripts for ``equation``: ellipses become letters, an implicit output is made explicit.
    Returns (input terms, output term, the letter each ellipsis dimension got)."""
    if not isinstance(equation, str):
        raise TypeError(f"einsum: the equation must be a string, got {type(equation).__name__}")
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(shapes):
        raise ValueError(f"einsum: equation {equation!r} has {len(terms)} operand(s) but {len(shapes)} were given")
    used = {c for c in eq if c.isalpha()}
    bad = set(eq) - used - set(".,->")
    if bad:
        raise ValueError(f"einsum: invalid subscript(s) {''.join(sorted(bad))!r} in {equation!r}: use letters")
    free = [c for c in string.ascii_letters if c not in used]
    n_ell = 0
    for t, shape in zip(terms, shapes):
        letters = t.replace("...", "")
        if "." in letters:
            raise ValueError(f"einsum: invalid ellipsis in {equation!r}")
        if "..." in t:
            n_ell = max(n_ell, len(shape) - len(letters))
    ell = "".join(free[:n_ell])
    inputs = []
    for i, (t, shape) in enumerate(zip(terms, shapes)):
        letters = t.replace("...", "")
        if "..." in t:
            e = len(shape) - len(letters)
            if e < 0:
                raise ShapeError(f"einsum: operand {i} of shape {tuple(shape)} has fewer dimensions than subscripts "
                                 f"{t!r}")
            t = t.replace("...", ell[n_ell - e:])
        elif len(t) != len(shape):
            raise ShapeError(f"einsum: subscripts {t!r} name {len(t)} dimension(s) but operand {i} has shape "
                             f"{tuple(shape)}")
        inputs.append(t)
    if arrow:
        if rhs.count("...") > 1 or "." in rhs.replace("...", ""):
            raise ValueError(f"einsum: invalid output subscripts in {equation!r}")
        output = rhs.replace("...", ell)
        if len(set(output)) != len(output):
            raise ValueError(f"einsum: a subscript repeats in the output of {equation!r}")
        missing = set(output) - set("".join(inputs))
        if missing:
            raise ValueError(f"einsum: output subscript(s) {''.join(sorted(missing))!r} of {equation!r} appear in no "
                             "operand")
    else:
        counts = {}
        for c in "".join(terms).replace("...", ""):
            counts[c] = counts.get(c, 0) + 1
        output = ell + "".join(sorted(c for c, n in counts.items() if n == 1))
    return inputs, output, ell, free[n_ell:]


def einsum(equation, *operands):
    """Einstein summation, as ``torch.einsum``: ``einsum("bij,bjk->bik", a, b)``; ``...`` stands for the
    broadcast leading dimensions and an equation without ``->`` sums the subscripts that appear twice."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not operands:
        raise TypeError("einsum: expected at least one operand")
    first = next((o for o in operands if isinstance(o, Tensor)), None)
    ts = [as_tensor(o, first) for o in operands]
    for i, t in enumerate(ts[1:], 1):
        if t.device != ts[0].device:
            raise RuntimeError(f"einsum: expected all tensors on one device, got {ts[0].device} (operand 0) and "
                               f"{t.device} (operand {i})")
    inputs, output, ell, spare = _einsum_terms(equation, [t.shape for t in ts])
    sizes = {}
    for i, (term, t) in enumerate(zip(inputs, ts)):
        for c, n in zip(term, t.shape):
            if c in ell and n == 1:
                continue  # a broadcast dimension
            if sizes.setdefault(c, n) != n:
                raise ShapeError(f"einsum: subscript {c!r} has size {sizes[c]} in one operand and {n} in operand {i} "
                                 f"(shapes {', '.join(str(u.shape) for u in ts)}, equation {equation!r})")
    for i, (term, t) in enumerate(zip(inputs, ts)):
        full = tuple(sizes.get(c, 1) for c in term)
        if full != t.shape:
            ts[i] = t.broadcast_to(full)
    return Einsum.apply(*ts, inputs=tuple(inputs), output=output, spare=tuple(spare))


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
        raise ShapeError(f"linear: weight must be 2-D (out_features, in_features), got shape {weight.shape}")
    if x.ndim == 0 or x.shape[-1] != weight.shape[1]:
        raise ShapeError(f"linear: input of shape {x.shape} does not match weight of shape {weight.shape} "
                         f"(expected input of shape (..., {weight.shape[1]}))")
    if bias is not None and bias.shape != (weight.shape[0],):
        raise ShapeError(f"linear: bias of shape {bias.shape} does not match weight of shape {weight.shape} "
                         f"(expected ({weight.shape[0]},))")
    if bias is None:
        return Linear.apply(x, weight, activation=activation)
    return Linear.apply(x, weight, bias, activation=activation)


Tensor.__matmul__ = lambda a, b: matmul(a, b)
Tensor.__rmatmul__ = lambda a, b: matmul(b, a)
