"""``keras.metrics``: Keras's metrics, usable in ``compile(metrics=[...])`` and on their own.

Each metric computes per-sample values on the raw device arrays (no gradient, no host synchronisation)
and averages them over every value it has seen: ``update_state(y_true, y_pred)`` then ``result()``, as in
Keras. ``"accuracy"`` in ``compile`` picks binary, sparse-categorical or categorical accuracy from the shapes
of the targets and predictions, as Keras does (see ``infer_accuracy``).
"""
from __future__ import annotations

from ..autograd import no_grad
from ..backend import array_module
from ..training.metrics import Metric as _DcMetric
from . import backend as K
from . import losses as _losses


def _xp_pair(y_true, y_pred):
    from .engine import as_tensor
    p = as_tensor(y_pred)
    t = as_tensor(y_true)
    if t.device != p.device:
        t = t.to(device=p.device)
    return t.data, p.data


def infer_accuracy(true_shape, pred_shape):
    """``"binary"``, ``"sparse"`` or ``"categorical"``: Keras's choice for ``metrics=["accuracy"]``."""
    if pred_shape[-1] == 1:
        return "binary"
    if len(true_shape) < len(pred_shape) or (true_shape[-1] == 1 and pred_shape[-1] > 1):
        return "sparse"
    return "categorical"


# --- value functions on raw arrays (xp) ---------------------------------------------------------------------
def _squeeze_last(a, like_ndim):
    return a.reshape(a.shape[:-1]) if a.ndim == like_ndim + 1 and a.shape[-1] == 1 else a


def _binary_values(t, p, threshold=0.5):
    if t.ndim == p.ndim + 1:
        t = _squeeze_last(t, p.ndim)
    elif p.ndim == t.ndim + 1:
        p = _squeeze_last(p, t.ndim)
    guess = p > threshold
    truth = t > 0.5 if t.dtype.kind == "f" else t.astype(bool)
    return (guess == truth)


def _categorical_values(t, p):
    return array_module(p).argmax(p, axis=-1) == array_module(t).argmax(t, axis=-1)


def _sparse_values(t, p):
    if t.ndim == p.ndim:
        t = _squeeze_last(t, p.ndim - 1)
    if t.dtype.kind == "f":
        t = t.astype("int64")
    return array_module(p).argmax(p, axis=-1) == t


def binary_accuracy(y_true, y_pred, threshold=0.5):
    t, p = _xp_pair(y_true, y_pred)
    return _binary_values(t, p, threshold).astype("float32")


def categorical_accuracy(y_true, y_pred):
    t, p = _xp_pair(y_true, y_pred)
    return _categorical_values(t, p).astype("float32")


def sparse_categorical_accuracy(y_true, y_pred):
    t, p = _xp_pair(y_true, y_pred)
    return _sparse_values(t, p).astype("float32")


def top_k_categorical_accuracy(y_true, y_pred, k=5):
    t, p = _xp_pair(y_true, y_pred)
    xp = array_module(p)
    target = xp.argmax(t, axis=-1)
    score = xp.take_along_axis(p, target[..., None], axis=-1)
    return ((p > score).sum(axis=-1) < k).astype("float32")


# --- metric objects ----------------------------------------------------------------------------------------
class Metric(_DcMetric):
    """A Keras metric: ``update_state(y_true, y_pred, sample_weight=None)``, ``result()``, ``reset_state()``.

    It is also a ``dc.training.Metric`` (``batch_sum(pred, target)``), so plain deepcore models can use it.
    """

    def __init__(self, name=None, dtype=None):
        self.name = name or K.to_snake_case(type(self).__name__)
        self.reset_state()

    def values(self, t, p):
        """Per-sample values on raw arrays (``t`` targets, ``p`` predictions)."""
        raise NotImplementedError

    def batch_sum(self, pred, target):
        v = self.values(target, pred)
        return v.sum(dtype="float64"), int(v.size)

    def weighted_sum(self, t, p, w=None):
        v = self.values(t, p).astype("float64")
        if w is None:
            return v.sum(), float(v.size)
        w = w.astype("float64")
        while w.ndim < v.ndim:
            w = w.reshape(w.shape + (1,))
        w = array_module(v).broadcast_to(w, v.shape)
        return (v * w).sum(), w.sum()

    def update_state(self, y_true, y_pred, sample_weight=None):
        t, p = _xp_pair(y_true, y_pred)
        w = None
        if sample_weight is not None:
            w = _xp_pair(sample_weight, y_pred)[0]
        s, c = self.weighted_sum(t, p, w)
        self._total = self._total + float(s)
        self._count = self._count + float(c)

    def result(self):
        return self._total / self._count if self._count else 0.0

    def reset_state(self):
        self._total, self._count = 0.0, 0.0

    reset_states = reset_state

    def __call__(self, y_true, y_pred, sample_weight=None):
        self.update_state(y_true, y_pred, sample_weight)
        return self.result()


class MeanMetricWrapper(Metric):
    """The mean of a per-sample function ``fn(y_true, y_pred)`` (Tensors or arrays in, values out)."""

    def __init__(self, fn, name=None, dtype=None, **kwargs):
        self.fn, self.fn_kwargs = fn, kwargs
        super().__init__(name or getattr(fn, "__name__", "metric"), dtype)

    def values(self, t, p):
        from ..tensor import Tensor
        with no_grad():
            v = self.fn(Tensor._make(t), Tensor._make(p), **self.fn_kwargs)
        return v.data if isinstance(v, Tensor) else v


class BinaryAccuracy(Metric):
    def __init__(self, name="binary_accuracy", dtype=None, threshold=0.5):
        self.threshold = threshold
        super().__init__(name, dtype)

    def values(self, t, p):
        return _binary_values(t, p, self.threshold)


class CategoricalAccuracy(Metric):
    def __init__(self, name="categorical_accuracy", dtype=None):
        super().__init__(name, dtype)

    def values(self, t, p):
        return _categorical_values(t, p)


class SparseCategoricalAccuracy(Metric):
    def __init__(self, name="sparse_categorical_accuracy", dtype=None):
        super().__init__(name, dtype)

    def values(self, t, p):
        return _sparse_values(t, p)


class Accuracy(Metric):
    """How often predictions equal targets exactly (Keras's ``keras.metrics.Accuracy``)."""

    def __init__(self, name="accuracy", dtype=None):
        super().__init__(name, dtype)

    def values(self, t, p):
        if t.shape != p.shape and t.size == p.size:
            t = t.reshape(p.shape)
        return t == p


class TopKCategoricalAccuracy(Metric):
    def __init__(self, k=5, name="top_k_categorical_accuracy", dtype=None):
        self.k = k
        super().__init__(name, dtype)

    def values(self, t, p):
        xp = array_module(p)
        target = xp.argmax(t, axis=-1)
        score = xp.take_along_axis(p, target[..., None], axis=-1)
        return (p > score).sum(axis=-1) < self.k


class _AutoAccuracy(Metric):
    """``"accuracy"``: binary, sparse or categorical, decided from the first batch's shapes (Keras's rule)."""

    def __init__(self, name="accuracy"):
        self.kind = None
        super().__init__(name)

    def values(self, t, p):
        if self.kind is None:
            self.kind = infer_accuracy(t.shape, p.shape)
        if self.kind == "binary":
            return _binary_values(t, p)
        if self.kind == "sparse":
            return _sparse_values(t, p)
        return _categorical_values(t, p)


def _loss_metric(loss_cls):
    class _LossMetric(Metric):
        def __init__(self, name=None, dtype=None, **kwargs):
            self.loss = loss_cls(**kwargs)
            super().__init__(name or self.loss.name, dtype)

        def values(self, t, p):
            from ..tensor import Tensor
            with no_grad():
                return self.loss.call(Tensor._make(t), Tensor._make(p)).data
    _LossMetric.__name__ = loss_cls.__name__
    return _LossMetric


MeanSquaredError = _loss_metric(_losses.MeanSquaredError)
MeanAbsoluteError = _loss_metric(_losses.MeanAbsoluteError)
MeanAbsolutePercentageError = _loss_metric(_losses.MeanAbsolutePercentageError)
BinaryCrossentropy = _loss_metric(_losses.BinaryCrossentropy)
CategoricalCrossentropy = _loss_metric(_losses.CategoricalCrossentropy)
SparseCategoricalCrossentropy = _loss_metric(_losses.SparseCategoricalCrossentropy)
KLDivergence = _loss_metric(_losses.KLDivergence)


class Mean(Metric):
    """The (weighted) mean of the values given to ``update_state(values, sample_weight=None)``."""

    def update_state(self, values, sample_weight=None):
        from .engine import as_tensor
        v = as_tensor(values).data
        w = None if sample_weight is None else as_tensor(sample_weight).data
        s, c = Metric.weighted_sum(self, v, v, w)
        self._total += float(s)
        self._count += float(c)

    def values(self, t, p):
        return p


_BY_NAME = {
    "binary_accuracy": BinaryAccuracy, "categorical_accuracy": CategoricalAccuracy,
    "sparse_categorical_accuracy": SparseCategoricalAccuracy,
    "top_k_categorical_accuracy": TopKCategoricalAccuracy,
    "mse": MeanSquaredError, "mean_squared_error": MeanSquaredError,
    "mae": MeanAbsoluteError, "mean_absolute_error": MeanAbsoluteError,
    "mape": MeanAbsolutePercentageError, "mean_absolute_percentage_error": MeanAbsolutePercentageError,
    "binary_crossentropy": BinaryCrossentropy, "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy, "kl_divergence": KLDivergence,
}
ACCEPTED = tuple(sorted(set(_BY_NAME) | {"accuracy", "acc"}))


def get(identifier):
    """A metric object from a name, a Metric, or a function ``fn(y_true, y_pred)`` (its mean is reported).

    The name given is the name reported (``"acc"`` logs as ``acc``), as in Keras.
    """
    if isinstance(identifier, _DcMetric):
        return identifier
    if isinstance(identifier, str):
        key = identifier.strip()
        if key.lower() in ("accuracy", "acc"):
            return _AutoAccuracy(key)
        if key not in _BY_NAME:
            raise ValueError(f"unknown metric {identifier!r}; accepted: {', '.join(ACCEPTED)}, a "
                             "keras.metrics.Metric or a function fn(y_true, y_pred)")
        m = _BY_NAME[key]()
        m.name = key
        return m
    if isinstance(identifier, type) and issubclass(identifier, _DcMetric):
        return identifier()
    if isinstance(identifier, _losses.Loss):
        return MeanMetricWrapper(identifier.call, name=identifier.name)
    if callable(identifier):
        return MeanMetricWrapper(identifier)
    raise TypeError(f"metric must be a name, a Metric or a function, got {type(identifier).__name__}")
