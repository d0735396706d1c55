"""Loss functions with torch.nn.functional semantics; each is one Function with a direct backward.

Every loss computes the per-element loss, then reduces it (``reduction="mean" | "sum" | "none"``); the
backward scales the upstream gradient the same way, so no generic ops are recorded. Fast path
(deepcore.backend.fastpath): cross-entropy of (N, C) logits with class-index targets on the GPU is one
kernel forward (target range check and reduction included) and one backward (``kernels/loss.cu``).
"""
from __future__ import annotations

import numpy as np

from ..autograd import Function
from ..backend import fastpath, index_checks
from ..backend.index_checks import check_range
from ..errors import ShapeError
from ..tensor import Tensor
from . import _cuda
from ._util import as_tensor, sum_to

__all__ = ["mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "kl_div", "binary_cross_entropy",
           "binary_cross_entropy_with_logits", "cross_entropy", "nll_loss"]

_REDUCTIONS = ("mean", "sum", "none")


# --- helpers -----------------------------------------------------------------------------------------
def _check_reduction(name, reduction):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{name}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _input(name, x):
    x = x if isinstance(x, Tensor) else as_tensor(x)
    if x.dtype.kind != "f" and str(x.dtype) != "bfloat16":
        raise TypeError(f"{name}: input must be floating point, got dtype {x.dtype}")
    return x


def _other(x, value):
    """``value`` (Tensor, array, list or scalar) as a Tensor on ``x``'s device; None stays None."""
    if value is None or isinstance(value, Tensor):
        return value
    return as_tensor(value, x)


def _arrays(xp, *grads):
    """Gradients as arrays (NumPy returns scalars from 0-d arithmetic); None stays None."""
    return tuple(None if g is None else xp.asarray(g) for g in grads)


def _reduce(xp, loss, reduction):
    if reduction == "none":
        return xp.asarray(loss)
    with np.errstate(invalid="ignore"):             # the mean of nothing is NaN, as in torch: no warning
        total = loss.sum() if reduction == "sum" else loss.sum() / loss.dtype.type(loss.size)
    return xp.asarray(total, dtype=loss.dtype)


def _expand(xp, gy, shape, reduction, dtype):
    """The upstream gradient of a reduced loss as a per-element gradient of ``shape``."""
    if reduction == "none":
        return gy
    n = int(np.prod(shape)) if reduction == "mean" else 1
    g = gy if n <= 1 else gy * (1.0 / n)            # n = 0: an empty gradient
    return xp.broadcast_to(g.astype(dtype, copy=False), shape)


def _same_shape(name, x, t, what="target"):
    if t.shape != x.shape:
        raise ShapeError(f"{name}: {what} shape {t.shape} does not match input shape {x.shape}")


def _broadcastable_to(name, w, shape, what="weight"):
    try:
        ok = np.broadcast_shapes(w.shape, shape) == tuple(shape)
    except ValueError:
        ok = False
    if not ok:
        raise ShapeError(f"{name}: {what} of shape {w.shape} cannot be broadcast to input shape {tuple(shape)}")


# --- regression losses -------------------------------------------------------------------------------
class _Pointwise(Function):
    """Shared frame of mse/l1/smooth_l1/huber: broadcast input and target, loss ``f(d)`` of ``d = x - t``,
    optionally times an elementwise ``w`` (torch's ``weight=``: mse and l1 then average over ``sum(w)``,
    huber over the element count, as torch does)."""

    weighted_mean_by_sum = True

    def forward(self, x, t, w=None):
        xp = self._xp
        t = t.astype(x.dtype, copy=False)
        d = x - t
        self.shapes = (x.shape, t.shape)
        raw = self.loss(xp, d)
        if w is None:
            self.save_for_backward(d, None, None, None)
            return _reduce(xp, raw, self.reduction)
        w = w.astype(x.dtype, copy=False)
        loss = raw * w
        self.by_sum = self.reduction == "mean" and self.weighted_mean_by_sum
        if self.by_sum:
            with np.errstate(invalid="ignore", divide="ignore"):
                out = xp.asarray(loss.sum() / w.sum(), dtype=loss.dtype)
        else:
            out = _reduce(xp, loss, self.reduction)
        self.save_for_backward(d, w, raw if self.needs_input_grad[2] else None, out if self.by_sum else None)
        return out

    def backward(self, gy):
        d, w, raw, out = self.saved_tensors
        xp = self._xp
        if w is not None and self.by_sum:
            with np.errstate(invalid="ignore", divide="ignore"):
                g = xp.broadcast_to(gy / w.sum(), d.shape)
        else:
            g = _expand(xp, gy, d.shape, self.reduction, d.dtype)
        gw = None
        if raw is not None:                            # d(sum(w raw) / sum(w))/dw = (raw - out) / sum(w)
            gw = g * (raw - out) if self.by_sum else g * raw
        gd = g * self.dloss(xp, d) if w is None else g * w * self.dloss(xp, d)
        gx = sum_to(gd, self.shapes[0]) if self.needs_input_grad[0] else None
        gt = sum_to(-gd, self.shapes[1]) if self.needs_input_grad[1] else None
        return _arrays(xp, gx, gt) if w is None else _arrays(xp, gx, gt, gw)


class MSELoss(_Pointwise):
    def loss(self, xp, d):
        return d * d

    def dloss(self, xp, d):
        return d * 2.0


class L1Loss(_Pointwise):
    def loss(self, xp, d):
        return xp.abs(d)

    def dloss(self, xp, d):
        return xp.sign(d)


class SmoothL1Loss(_Pointwise):
    """``0.5 d^2 / beta`` where ``|d| < beta``, else ``|d| - 0.5 beta`` (plain L1 for ``beta = 0``)."""

    def loss(self, xp, d):
        a = xp.abs(d)
        if self.beta == 0:
            return a
        return xp.where(a < self.beta, (0.5 / self.beta) * d * d, a - 0.5 * self.beta)

    def dloss(self, xp, d):
        if self.beta == 0:
            return xp.sign(d)
        return xp.where(xp.abs(d) < self.beta, d * (1.0 / self.beta), xp.sign(d))


class HuberLoss(_Pointwise):
    """``0.5 d^2`` where ``|d| <= delta``, else ``delta (|d| - 0.5 delta)``."""

    weighted_mean_by_sum = False

    def loss(self, xp, d):
        a = xp.abs(d)
        return xp.where(a <= self.delta, 0.5 * d * d, self.delta * (a - 0.5 * self.delta))

    def dloss(self, xp, d):
        return xp.where(xp.abs(d) <= self.delta, d, self.delta * xp.sign(d))


def _pointwise(cls, name, input, target, reduction, weight=None, **params):
    _check_reduction(name, reduction)
    x = _input(name, input)
    t, w = _other(x, target), _other(x, weight)
    _broadcastable(name, x, t)
    if w is None:
        return cls.apply(x, t, reduction=reduction, **params)
    if w.shape != x.shape:                              # torch: weights and input must have the same size
        raise ShapeError(f"{name}: weight shape {w.shape} does not match input shape {x.shape}")
    return cls.apply(x, t, w, reduction=reduction, **params)


def _broadcastable(name, x, t):
    try:
        np.broadcast_shapes(x.shape, t.shape)
    except ValueError:
        raise ShapeError(f"{name}: input shape {x.shape} and target shape {t.shape} cannot be broadcast "
                         "together") from None


def mse_loss(input, target, reduction="mean", *, weight=None):
    """Mean squared error ``(input - target) ** 2``, reduced (torch.nn.functional.mse_loss); ``weight`` (the
    input's shape) weighs each element, and "mean" is then ``sum(weight * loss) / sum(weight)``."""
    return _pointwise(MSELoss, "mse_loss", input, target, reduction, weight)


def l1_loss(input, target, reduction="mean", *, weight=None):
    """Mean absolute error ``|input - target|``, reduced (torch.nn.functional.l1_loss); ``weight`` as in
    :func:`mse_loss`."""
    return _pointwise(L1Loss, "l1_loss", input, target, reduction, weight)


def smooth_l1_loss(input, target, reduction="mean", beta=1.0):
    """Smooth L1: quadratic for ``|input - target| < beta``, linear beyond (torch.nn.functional.smooth_l1_loss)."""
    beta = float(beta)
    if not beta >= 0:
        raise ValueError(f"smooth_l1_loss: beta must be >= 0, got {beta}")
    return _pointwise(SmoothL1Loss, "smooth_l1_loss", input, target, reduction, beta=beta)


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    """Huber loss: quadratic for ``|input - target| <= delta``, linear with slope ``delta`` beyond; ``weight``
    (the input's shape) weighs each element ("mean" stays the mean over the elements, as in torch)."""
    delta = float(delta)
    if not delta > 0:
        raise ValueError(f"huber_loss: delta must be > 0, got {delta}")
    return _pointwise(HuberLoss, "huber_loss", input, target, reduction, weight, delta=delta)


class KLDiv(Function):
    """``t (log t - x)`` (or ``exp(t) (t - x)`` for log-probability targets) with log-probability input ``x``;
    ``0 log 0 = 0`` as in torch."""

    def forward(self, x, t):
        xp = self._xp
        t = t.astype(x.dtype, copy=False)
        with np.errstate(divide="ignore", invalid="ignore"):
            if self.log_target:
                coef = xp.exp(t)
                loss = coef * (t - x)
            else:
                coef = t
                loss = xp.where(t == 0, xp.zeros((), dtype=x.dtype), t * xp.log(t)) - t * x
        self.shapes = (x.shape, t.shape)
        need_t = self.needs_input_grad[1]
        self.save_for_backward(coef, t if need_t else None, x if need_t else None)
        if self.reduction != "batchmean":
            return _reduce(xp, loss, self.reduction)
        return xp.asarray(loss.sum() * self.scale, dtype=loss.dtype)

    def backward(self, gy):
        coef, t, x = self.saved_tensors
        xp = self._xp
        shape = np.broadcast_shapes(*self.shapes)
        if self.reduction == "batchmean":
            g = _expand(xp, gy * self.scale, shape, "sum", coef.dtype)
        else:
            g = _expand(xp, gy, shape, self.reduction, coef.dtype)
        gx = sum_to(-g * coef, self.shapes[0]) if self.needs_input_grad[0] else None
        gt = None
        if t is not None:
            with np.errstate(divide="ignore", invalid="ignore"):
                if self.log_target:
                    d = coef * (t - x + 1)
                else:                                    # torch: NaN where the target is 0 (d/dt of t log t)
                    d = xp.where(t == 0, xp.full((), np.nan, dtype=t.dtype), xp.log(t) + 1 - x)
                gt = sum_to(g * d, self.shapes[1])
        return _arrays(xp, gx, gt)


def kl_div(input, target, reduction="mean", log_target=False):
    """Kullback-Leibler divergence ``sum t (log t - input)`` of log-probabilities ``input`` from ``target``
    (probabilities, or log-probabilities with ``log_target=True``); ``reduction="batchmean"`` divides the sum
    by the batch size, the mathematically correct mean (torch.nn.functional.kl_div)."""
    name = "kl_div"
    if reduction != "batchmean":
        _check_reduction(name, reduction)
    x = _input(name, input)
    t = _other(x, target)
    _broadcastable(name, x, t)
    batch = x.shape[0] if x.ndim else 1
    return KLDiv.apply(x, t, reduction=reduction, log_target=bool(log_target),
                       scale=1.0 / batch if batch else float("nan"))


# --- binary classification ---------------------------------------------------------------------------
class BinaryCrossEntropy(Function):
    """``-w (t log p + (1 - t) log(1 - p))`` on probabilities, logs clamped to >= -100 like torch."""

    def forward(self, p, t, w):
        xp = self._xp
        t = t.astype(p.dtype, copy=False)
        with np.errstate(divide="ignore", invalid="ignore"):
            log_p, log_1mp = xp.log(p), xp.log1p(-p)
            raw = -(t * xp.maximum(log_p, -100.0) + (1 - t) * xp.maximum(log_1mp, -100.0))
            # d/dt uses the logs unclamped (as torch): +-inf where p is exactly 0 or 1
            dt = (log_1mp - log_p) if self.needs_input_grad[1] else None
        loss = raw if w is None else raw * w.astype(p.dtype, copy=False)
        need_w = w is not None and self.needs_input_grad[2]
        self.save_for_backward(p, t, w, raw if need_w else None, dt)
        return _reduce(xp, loss, self.reduction)

    def backward(self, gy):
        p, t, w, raw, dt = self.saved_tensors
        xp = self._xp
        g = _expand(xp, gy, p.shape, self.reduction, p.dtype)
        gw = sum_to(g * raw, w.shape) if raw is not None else None
        if w is not None:
            g = g * w.astype(p.dtype, copy=False)
        gp = None
        if self.needs_input_grad[0]:
            gp = g * (p - t) / xp.maximum(p * (1 - p), 1e-12)
        gt = None
        if dt is not None:
            with np.errstate(invalid="ignore"):
                gt = g * dt
        return _arrays(xp, gp, gt, gw)


def binary_cross_entropy(input, target, weight=None, reduction="mean"):
    """Binary cross-entropy between probabilities ``input`` and ``target`` of the same shape."""
    name = "binary_cross_entropy"
    _check_reduction(name, reduction)
    p = _input(name, input)
    t, w = _other(p, target), _other(p, weight)
    _same_shape(name, p, t)
    if w is not None:
        _broadcastable_to(name, w, p.shape)
    _check_unit_interval(name, p, "input", " (probabilities; for logits use binary_cross_entropy_with_logits)")
    _check_unit_interval(name, t, "target")
    return BinaryCrossEntropy.apply(p, t, w, reduction=reduction)


def _check_unit_interval(name, x, what, hint=""):
    """Values outside [0, 1] (NaN included) are an error, as in torch: raised at once on the CPU, and at the
    next host sync on a GPU (a device flag, index_checks.flag: no sync here)."""
    a = x.data
    if a.size == 0:
        return
    xp = x.device.xp
    bad = ~((a >= 0) & (a <= 1))
    message = f"{name}: all elements of {what} should be between 0 and 1{hint}"
    if xp is np:
        if bad.any():
            first = a.reshape(-1)[int(np.argmax(bad.reshape(-1)))]
            raise RuntimeError(f"{message}; found {first.item()!r}")
        return
    index_checks.flag(xp, bad.any(), a.device.id, message + " (found on the device)", RuntimeError)


class BinaryCrossEntropyWithLogits(Function):
    """``-w (pw t log s(x) + (1 - t) log(1 - s(x)))`` computed stably from logits ``x``.

    With ``lw = 1 + (pw - 1) t`` the loss is ``(1 - t) x + lw softplus(-x)``, and
    ``softplus(-x) = log1p(exp(-|x|)) + max(-x, 0)`` never overflows.
    """

    def forward(self, x, t, w, pw):
        xp = self._xp
        t = t.astype(x.dtype, copy=False)
        sp = xp.log1p(xp.exp(-xp.abs(x))) + xp.maximum(-x, 0)  # softplus(-x)
        if pw is None:
            raw = (1 - t) * x + sp
        else:
            lw = (pw.astype(x.dtype, copy=False) - 1) * t + 1
            raw = (1 - t) * x + lw * sp
        loss = raw if w is None else raw * w.astype(x.dtype, copy=False)
        need = self.needs_input_grad
        self.save_for_backward(x, t, w, pw, raw if w is not None and need[2] else None,
                               sp if (need[1] and pw is not None) or (pw is not None and need[3]) else None)
        return _reduce(xp, loss, self.reduction)

    def backward(self, gy):
        x, t, w, pw, raw, sp = self.saved_tensors
        xp = self._xp
        need = self.needs_input_grad
        g = _expand(xp, gy, x.shape, self.reduction, x.dtype)
        gw = sum_to(g * raw, w.shape) if raw is not None else None
        if w is not None:
            g = g * w.astype(x.dtype, copy=False)
        gx = gt = gpw = None
        if need[0]:
            s = (xp.tanh(x * 0.5) * 0.5 + 0.5).astype(x.dtype, copy=False)  # sigmoid(x), stable
            if pw is None:
                gx = g * (s - t)
            else:
                lw = (pw.astype(x.dtype, copy=False) - 1) * t + 1
                gx = g * ((1 - t) - lw * (1 - s))
        if need[1]:
            gt = g * (-x) if pw is None else g * ((pw.astype(x.dtype, copy=False) - 1) * sp - x)
        if pw is not None and need[3]:
            gpw = sum_to(g * t * sp, pw.shape)
        return _arrays(xp, gx, gt, gw, gpw)


def binary_cross_entropy_with_logits(input, target, weight=None, pos_weight=None, reduction="mean"):
    """Sigmoid + binary cross-entropy in one numerically stable step (logits ``input``)."""
    name = "binary_cross_entropy_with_logits"
    _check_reduction(name, reduction)
    x = _input(name, input)
    t, w, pw = _other(x, target), _other(x, weight), _other(x, pos_weight)
    _same_shape(name, x, t)
    if w is not None:
        _broadcastable_to(name, w, x.shape)
    if pw is not None:
        _broadcastable_to(name, pw, x.shape, what="pos_weight")
    return BinaryCrossEntropyWithLogits.apply(x, t, w, pw, reduction=reduction)


# --- multi-class classification ----------------------------------------------------------------------
def _class_targets(xp, y, weight, ignore_index, dtype):
    """(safe indices, kept mask, per-element weight ``w[y]`` that is 0 where ignored) for class targets."""
    keep = y != ignore_index
    safe = xp.where(keep, y, 0)
    if weight is None or weight.size == 0:        # no classes: every target is ignore_index (or was refused)
        wy = keep.astype(dtype) if weight is None else xp.zeros(y.shape, dtype=dtype)
    else:
        wy = xp.take(weight, safe) * keep
    return safe, keep, wy


def _picked(xp, logp, safe):
    """``logp[i, safe[i], ...]`` along the class axis 1 (zeros where there are no classes)."""
    if logp.shape[1] == 0:
        return xp.zeros(safe.shape, dtype=logp.dtype)
    return xp.take_along_axis(logp, xp.expand_dims(safe, 1), axis=1)[:, 0]


def _onehot(xp, safe, n_classes, dtype):
    """One-hot of class indices ``safe`` (N, d...) along axis 1: shape (N, C, d...)."""
    classes = xp.arange(n_classes).reshape((1, n_classes) + (1,) * (safe.ndim - 1))
    return (xp.expand_dims(safe, 1) == classes).astype(dtype)


def _per_class(w, ndim):
    """Class weights (C,) shaped to broadcast along axis 1 of an (N, C, d...) array."""
    return None if w is None else w.reshape((1, -1) + (1,) * (ndim - 2))


def _reduce_class_loss(xp, loss, reduction, denom):
    if reduction == "none":
        return loss
    total = loss.sum()
    if reduction == "mean":
        with np.errstate(invalid="ignore", divide="ignore"):
            total = total / denom
    return xp.asarray(total, dtype=loss.dtype)


def _class_grad_scale(xp, gy, reduction, denom, unbatched):
    """Upstream gradient per batch element, shaped (N, 1, d...) or a scalar."""
    if reduction == "none":
        return xp.expand_dims(gy.reshape(1) if unbatched else gy, 1)
    if reduction == "mean":
        with np.errstate(invalid="ignore", divide="ignore"):
            return gy / denom
    return gy


class CrossEntropy(Function):
    """Log-softmax over axis 1 and negative log-likelihood, fused; backward is ``(p * sum(c) - c) * g``.

    ``c[i, k]`` is the coefficient of ``-log p[i, k]`` in the loss of element ``i``: the (smoothed,
    weighted) one-hot of the class index, or the (smoothed, weighted) probability target; for a plain
    one-hot this is the familiar ``softmax - onehot``.
    """

    def forward(self, x, y, w):
        xp = self._xp
        self.fast = None if self.probs else fastpath.select("cross_entropy", x, y, w, self)
        if self.fast is not None:
            out, saved = self.fast.forward(self, x, y, w)
            self.save_for_backward(x, y, w, saved)
            return out
        if not self.probs:
            self.check_targets(xp, y)
        if self.unbatched:
            x, y = x[None], y[None]
        work = x if x.dtype.itemsize >= 4 else x.astype(np.float32)  # half precision: reduce in float32
        dt, C, eps = work.dtype, x.shape[1], self.label_smoothing
        wc = _per_class(None if w is None else w.astype(dt, copy=False), x.ndim)
        if C:
            z = work - work.max(axis=1, keepdims=True)
            logp = z - xp.log(xp.exp(z).sum(axis=1, keepdims=True))
        else:                                           # no classes: an empty log-softmax (torch's 0-class rules)
            logp = work
        if self.probs:
            y = y.astype(dt, copy=False)
            coef = y * (1.0 - eps) + eps / C if eps else y
            loss = -((coef if wc is None else coef * wc) * logp).sum(axis=1)
            self.denom = float(loss.size) if C else float("nan")
            saved = y
        else:
            safe, keep, wy = _class_targets(xp, y, None if w is None else w.astype(dt, copy=False),
                                            self.ignore_index, dt)
            loss = -_picked(xp, logp, safe) * wy
            if eps:
                smooth = -(logp if wc is None else logp * wc).sum(axis=1) * keep
                loss = loss * (1.0 - eps) + smooth * (eps / C)
            self.denom = wy.sum(dtype=dt)
            saved = (safe, keep, wy)
        self.save_for_backward(logp, saved, wc)
        out = _reduce_class_loss(xp, loss, self.reduction, self.denom)
        if self.unbatched and self.reduction == "none":
            out = out.reshape(())
        return out.astype(self.in_dtype, copy=False)

    def check_targets(self, xp, y):
        _range_check("cross_entropy", xp, y, self.n_classes, self.ignore_index)

    def backward(self, gy):
        if self.fast is not None:
            return self.fast.backward(self, gy, *self.saved_tensors), None, None
        logp, saved, wc = self.saved_tensors
        xp = self._xp
        dt, C, eps = logp.dtype, logp.shape[1], self.label_smoothing
        g = _class_grad_scale(xp, gy.astype(dt, copy=False), self.reduction, self.denom, self.unbatched)
        gx = gt = None
        if self.probs:
            coef = saved * (1.0 - eps) + eps / C if eps else saved
            if wc is not None:
                coef = coef * wc
            if self.needs_input_grad[1]:
                gt = -logp * (1.0 - eps) * g
                gt = gt if wc is None else gt * wc
        else:
            safe, keep, wy = saved
            coef = _onehot(xp, safe, C, dt) * xp.expand_dims(wy, 1)
            if eps:
                smooth = xp.expand_dims(keep.astype(dt), 1)
                coef = coef * (1.0 - eps) + (smooth if wc is None else smooth * wc) * (eps / C)
        if self.needs_input_grad[0]:
            gx = ((xp.exp(logp) * coef.sum(axis=1, keepdims=True) - coef) * g).astype(self.in_dtype, copy=False)
        if self.unbatched:
            gx = None if gx is None else gx[0]
            gt = None if gt is None else gt[0]
        return gx, gt, None


class _CrossEntropyCuda:
    """(N, C) logits, class indices, float32/float64: kernels/loss.cu, one launch forward, one backward.

    The forward kernel checks the targets' range itself (the persistent flag of index_checks) and reduces
    "sum"/"mean" in the same launch; it keeps only the per-row log-sum-exp for the backward, which
    recomputes the softmax from the logits.
    """

    REDUCTIONS = {"none": 0, "sum": 1, "mean": 2}
    ROWS_PER_BLOCK = 8           # kernels/loss.cu: CE_ROWS groups of 32 lanes per block of 256 threads
    MAX_BLOCKS = 1024
    _tickets: dict = {}          # device id -> persistent uint32 ticket counter (reset by the kernel)

    @staticmethod
    def applies(x, y, w, fn):
        return (x.ndim == 2 and x.shape[0] > 0 and x.shape[1] > 0 and _cuda.floats(x, w) and x.flags.c_contiguous
                and y.dtype in (np.dtype(np.int32), np.dtype(np.int64)) and y.flags.c_contiguous)

    @classmethod
    def _ticket(cls, xp, dev_id):
        t = cls._tickets.get(dev_id)
        if t is None:
            with xp.cuda.Device(dev_id):
                t = cls._tickets[dev_id] = xp.zeros((1,), dtype=np.uint32)
        return t

    @classmethod
    def _args(cls, fn, x, y):
        n, c = x.shape
        name = f"{_cuda.suffix(x.dtype)}_{'i64' if y.dtype == np.int64 else 'i32'}"
        return name, n, c, (np.int64(fn.ignore_index), _cuda.scalar(x.dtype, fn.label_smoothing),
                            np.int32(cls.REDUCTIONS[fn.reduction]))

    @classmethod
    def forward(cls, fn, x, y, w):
        import cupy
        name, n, c, tail = cls._args(fn, x, y)
        dev_id = x.device.id
        blocks = min(-(-n // cls.ROWS_PER_BLOCK), cls.MAX_BLOCKS)
        lse = cupy.empty((n,), dtype=x.dtype)
        out = cupy.empty((3,), dtype=x.dtype)          # reduced loss, sum of target weights, sum of weights
        rows = cupy.empty((n,), dtype=x.dtype) if fn.reduction == "none" else None
        partials = None if fn.reduction == "none" else cupy.empty((2 * blocks,), dtype=x.dtype)
        if index_checks.host_copy(y) is not None:       # fit's batches: exact and free on the host copy
            _range_check("cross_entropy", cupy, y, c, fn.ignore_index)
        flag = index_checks.device_flag(cupy, dev_id, _range_messages("cross_entropy", c, fn.ignore_index)(None))
        _cuda.launch("loss.cu", "ce_fwd_" + name, x, (blocks,), (256,),
                     (x, y, w, lse, rows, partials, cls._ticket(cupy, dev_id), out, flag, np.int64(n), np.int32(c))
                     + tail)
        return (rows if rows is not None else out[:1].reshape(())), (lse, out)   # a view: no launch

    @classmethod
    def backward(cls, fn, gy, x, y, w, saved):
        import cupy
        lse, out = saved
        name, n, c, tail = cls._args(fn, x, y)
        gx = cupy.empty(x.shape, dtype=x.dtype)
        _cuda.launch_1d("loss.cu", "ce_bwd_" + name, x, gx.size,
                        (x, y, w, lse, cupy.ascontiguousarray(gy, dtype=x.dtype), out, gx, np.int64(n), np.int32(c))
                        + tail)
        return gx


fastpath.override("cross_entropy", "cuda", when=_CrossEntropyCuda.applies)(_CrossEntropyCuda)


def _classification_args(name, input, target, weight, reduction):
    """Validate the input (N, C, d...) or (C,), the reduction and the class weights."""
    _check_reduction(name, reduction)
    x = _input(name, input)
    if x.ndim == 0:
        raise ShapeError(f"{name}: input must have a class dimension, got a scalar")
    y, w = _other(x, target), _other(x, weight)
    n_classes = x.shape[1] if x.ndim > 1 else x.shape[0]
    if w is not None and w.shape != (n_classes,):
        raise ShapeError(f"{name}: weight of shape {w.shape} does not match {n_classes} classes of input shape "
                         f"{x.shape}; expected shape ({n_classes},)")
    return x, y, w, n_classes


def _batch_shape(x):
    return (x.shape[:1] + x.shape[2:]) if x.ndim > 1 else ()


def _check_class_targets(name, x, y, n_classes, ignore_index, check_range_now=True):
    """Validate class-index targets: dtype and shape here, their range (``check_range_now``) too, or later by
    the op (cross_entropy checks it in its forward, where the GPU fast path does it inside its kernel)."""
    batch = _batch_shape(x)
    if y.dtype.kind not in "iu":
        hint = f"; probability targets must have the logits' shape {x.shape}" if name == "cross_entropy" else ""
        raise TypeError(f"{name}: class-index targets must be integers, got dtype {y.dtype} with shape "
                        f"{y.shape}{hint}")
    if y.shape != batch:
        raise ShapeError(f"{name}: target shape {y.shape} does not match logits batch {batch}")
    if y.device == x.device and check_range_now:
        _range_check(name, x.device.xp, y.data, n_classes, ignore_index)


def _range_messages(name, n_classes, ignore_index):
    expected = (f"{n_classes} classes (expected 0..{n_classes - 1} or ignore_index={ignore_index})" if n_classes
                else f"0 classes (the input's class axis is empty: every target must be ignore_index={ignore_index})")
    return (lambda bad: f"{name}: target class {bad} is out of range for {expected}" if bad is not None
            else f"{name}: a target class was out of range for {expected} (found on the device)")


def _range_check(name, xp, y, n_classes, ignore_index):
    check_range(xp, y, n_classes, ignore=ignore_index, what=_range_messages(name, n_classes, ignore_index))


def cross_entropy(input, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    """Cross-entropy of logits (N, C, d...) or (C,) with class indices (N, d...) or class probabilities.

    One fused log-softmax + NLL, stable for any finite logits; ``weight`` rescales classes, targets equal
    to ``ignore_index`` are skipped, ``label_smoothing`` mixes in the uniform distribution (as in torch).
    """
    name = "cross_entropy"
    x, y, w, n_classes = _classification_args(name, input, target, weight, reduction)
    label_smoothing = float(label_smoothing)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{name}: label_smoothing must be in [0, 1], got {label_smoothing}")
    probs = y.dtype.kind == "f" or str(y.dtype) == "bfloat16"
    if probs and int(ignore_index) >= 0:            # torch: a class index to ignore means nothing for probabilities
        raise RuntimeError(f"{name}: ignore_index is not supported for probability (floating point) targets, got "
                           f"ignore_index={ignore_index}; leave it at its default -100, or pass integer class targets")
    if probs and y.shape != x.shape:
        if y.shape == _batch_shape(x):
            raise TypeError(f"{name}: class-index targets must be integers, got dtype {y.dtype} with shape "
                            f"{y.shape}; probability targets must have the logits' shape {x.shape}")
        raise ShapeError(f"{name}: probability target shape {y.shape} does not match logits shape {x.shape} "
                         f"(class-index targets are integers of shape {_batch_shape(x)})")
    if not probs:
        _check_class_targets(name, x, y, n_classes, ignore_index, check_range_now=False)
    return CrossEntropy.apply(x, y, w, reduction=reduction, ignore_index=int(ignore_index), probs=probs,
                              label_smoothing=label_smoothing, unbatched=x.ndim == 1, in_dtype=x.dtype,
                              n_classes=n_classes)


class NLLLoss(Function):
    """``-w[y] * input[i, y]`` on log-probabilities; backward puts ``-w[y] * g`` at the target positions."""

    def forward(self, logp, y, w):
        xp = self._xp
        if self.unbatched:
            logp, y = logp[None], y[None]
        dt = logp.dtype
        safe, _, wy = _class_targets(xp, y, None if w is None else w.astype(dt, copy=False), self.ignore_index, dt)
        loss = -_picked(xp, logp, safe) * wy
        self.denom = wy.sum(dtype=dt)
        self.save_for_backward(safe, wy)
        self.n_classes = logp.shape[1]
        out = _reduce_class_loss(xp, loss, self.reduction, self.denom)
        return out.reshape(()) if self.unbatched and self.reduction == "none" else out

    def backward(self, gy):
        safe, wy = self.saved_tensors
        xp = self._xp
        g = _class_grad_scale(xp, gy, self.reduction, self.denom, self.unbatched)
        with np.errstate(invalid="ignore"):             # every target ignored: NaN scale, as the forward's mean
            gx = _onehot(xp, safe, self.n_classes, wy.dtype) * (-xp.expand_dims(wy, 1) * g)
        return (gx[0] if self.unbatched else gx), None, None


def nll_loss(input, target, weight=None, ignore_index=-100, reduction="mean"):
    """Negative log-likelihood of log-probabilities (N, C, d...) or (C,) at integer class targets."""
    name = "nll_loss"
    x, y, w, n_classes = _classification_args(name, input, target, weight, reduction)
    _check_class_targets(name, x, y, n_classes, ignore_index)
    return NLLLoss.apply(x, y, w, reduction=reduction, ignore_index=int(ignore_index), unbatched=x.ndim == 1)
