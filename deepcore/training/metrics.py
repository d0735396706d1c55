"""Metrics for ``compile(metrics=[...])``: each turns one batch into (sum, count) on the device.

A metric never leaves the device per batch: ``batch_sum`` returns a device scalar and a host count, the
training loop adds them up, and the host sees the average once per epoch (or when a progress bar asks).
"""
from __future__ import annotations

from ..backend import array_module
from ..backend.dtypes import is_floating
from ..tensor import Tensor


class Metric:
    """Base class: ``batch_sum(pred, target)`` on raw arrays -> (device scalar sum, int count)."""

    name = "metric"

    def batch_sum(self, pred, target):
        raise NotImplementedError(f"{type(self).__name__} must define batch_sum(pred, target)")

    def __repr__(self):
        return f"{type(self).__name__}(name={self.name!r})"


def _aligned(pred, target, what):
    """The target reshaped to the prediction's shape; the sizes must agree."""
    if target.shape == pred.shape:
        return target
    if target.size != pred.size:
        raise ValueError(f"{what}: predictions of shape {tuple(pred.shape)} and targets of shape "
                         f"{tuple(target.shape)} do not match")
    return target.reshape(pred.shape)


class Accuracy(Metric):
    """Fraction of correct predictions.

    ``mode``: ``"categorical"`` (argmax over the class axis 1 against integer labels, or against the argmax
    of one-hot/probability targets), ``"binary"`` (threshold every output: at 0 when ``from_logits``,
    else at 0.5) or ``"auto"`` (categorical when the class axis has more than one entry, else binary).
    """

    def __init__(self, name="accuracy", mode="auto", from_logits=False):
        if mode not in ("auto", "binary", "categorical"):
            raise ValueError(f"Accuracy: unknown mode {mode!r}; accepted: 'auto', 'binary', 'categorical'")
        self.name, self.mode, self.from_logits = name, mode, bool(from_logits)

    def batch_sum(self, pred, target):
        xp = array_module(pred)
        multi_class = pred.ndim >= 2 and pred.shape[1] > 1
        mode = self.mode
        if mode == "auto":
            labels = target.size != pred.size
            soft = target.shape == pred.shape and is_floating(target.dtype)
            mode = "categorical" if multi_class and (labels or soft) else "binary"
        if mode == "categorical":
            if not multi_class:
                raise ValueError(f"{self.name}: categorical accuracy needs predictions of shape (N, C, ...) "
                                 f"with C > 1, got shape {tuple(pred.shape)}")
            guess = xp.argmax(pred, axis=1)
            if target.shape == pred.shape:
                target = xp.argmax(target, axis=1)
            elif target.ndim == pred.ndim and target.shape[1] == 1:
                target = target.reshape(guess.shape)
            if target.shape != guess.shape:
                raise ValueError(f"{self.name}: predictions of shape {tuple(pred.shape)} and targets of shape "
                                 f"{tuple(target.shape)} do not match (expected labels of shape "
                                 f"{tuple(guess.shape)})")
            hit = guess == target
        else:
            target = _aligned(pred, target, self.name)
            guess = pred > (0 if self.from_logits else 0.5)
            truth = target if target.dtype == bool else target > 0.5
            hit = guess == truth
        return hit.sum(), int(hit.size)


class MeanAbsoluteError(Metric):
    """Mean of |pred - target| over every element."""

    def __init__(self, name="mae"):
        self.name = name

    def batch_sum(self, pred, target):
        xp = array_module(pred)
        diff = pred - _aligned(pred, target, self.name).astype(pred.dtype, copy=False)
        return xp.abs(diff).sum(dtype="float64"), int(diff.size)


class MeanSquaredError(Metric):
    """Mean of (pred - target)**2 over every element."""

    def __init__(self, name="mse"):
        self.name = name

    def batch_sum(self, pred, target):
        diff = (pred - _aligned(pred, target, self.name).astype(pred.dtype, copy=False)).astype("float64")
        return (diff * diff).sum(), int(diff.size)


class FunctionMetric(Metric):
    """A user callable ``fn(pred, target)`` (Tensors) returning a batch mean, weighted by batch size."""

    def __init__(self, fn, name=None):
        self.fn = fn
        self.name = name or getattr(fn, "__name__", None) or type(fn).__name__

    def batch_sum(self, pred, target):
        value = self.fn(Tensor._make(pred), Tensor._make(target))
        if isinstance(value, Tensor):
            value = value.data
            if value.ndim:
                value = value.mean()
        n = int(pred.shape[0]) if pred.ndim else 1
        return value * n, n


_NAMES = {"accuracy": "accuracy", "acc": "accuracy", "mae": "mae", "mean_absolute_error": "mae",
          "mse": "mse", "mean_squared_error": "mse"}
ACCEPTED = tuple(sorted(_NAMES))


def get(identifier, loss_kind="unknown") -> Metric:
    """Resolve a metric given as a name (see ``ACCEPTED``), a ``Metric`` or a callable ``fn(pred, target)``.

    ``loss_kind`` (from ``losses.kind_of``) picks accuracy's rule: binary losses threshold every output
    (logits at 0), categorical losses take the argmax.
    """
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, str):
        key = identifier.strip().lower()
        if key not in _NAMES:
            raise ValueError(f"unknown metric {identifier!r}; accepted: {', '.join(ACCEPTED)}, a Metric or a "
                             "callable fn(pred, target)")
        kind = _NAMES[key]
        if kind == "accuracy":
            mode = {"binary": "binary", "binary_logits": "binary", "categorical": "categorical"}.get(loss_kind,
                                                                                                   "auto")
            return Accuracy(identifier, mode=mode, from_logits=loss_kind == "binary_logits")
        return MeanAbsoluteError(identifier) if kind == "mae" else MeanSquaredError(identifier)
    if callable(identifier):
        if getattr(identifier, "_keras_argument_order", False):   # a Keras function fn(y_true, y_pred)
            name = getattr(identifier, "__name__", None) or type(identifier).__name__
            return FunctionMetric(lambda pred, target: identifier(target, pred), name=name)
        return FunctionMetric(identifier)
    raise TypeError(f"metric must be a string, a Metric or a callable fn(pred, target), got "
                    f"{type(identifier).__name__}")
