"""``keras.losses``: Keras's losses with Keras's meanings and argument order ``loss(y_true, y_pred)``.

* ``categorical_crossentropy`` / ``sparse_categorical_crossentropy`` / ``binary_crossentropy`` take
  probabilities (the output of ``softmax``/``sigmoid``) unless ``from_logits=True``; classes are on the LAST
  axis, so ``(N, T, C)`` sequence outputs with ``(N, T, C)`` one-hot or ``(N, T)`` integer targets work.
* A loss function returns one value per sample (the last axis reduced: ``mse`` is the mean over it, the
  cross-entropies the sum over the classes); a ``Loss`` object then weights those values by
  ``sample_weight`` and reduces them: ``"sum_over_batch_size"`` (default: sum / number of values), ``"sum"``,
  ``"mean_with_sample_weight"`` (sum / sum of weights) or ``"none"``.

Loss objects also work in ``compile`` of a plain ``dc.nn.Module``: they are marked
``_keras_argument_order = True`` and deepcore swaps the arguments for them.
"""
from __future__ import annotations

import numpy as np

from ..ops import activation as _A
from ..ops import elementwise as _E
from ..ops import loss as _L
from ..ops.shape import broadcast_to, permute, reshape
from ..tensor import Tensor
from . import backend as K
from ._ops import affine, logits_of, scale

_REDUCTIONS = ("sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", "none", None)


def _as_pair(y_true, y_pred):
    """``y_pred`` as a Tensor and ``y_true`` as a Tensor on its device."""
    from .engine import as_tensor
    y_pred = as_tensor(y_pred)
    if not isinstance(y_true, Tensor):
        y_true = as_tensor(y_true)
    if y_true.device != y_pred.device:
        y_true = y_true.to(device=y_pred.device)
    return y_true, y_pred


def _float_like(y, pred):
    return y if y.dtype == pred.dtype else y.astype(pred.dtype)


def _same_rank(a, b):
    """Keras's alignment of two ranks that differ by one with a trailing axis of size 1."""
    if a.ndim == b.ndim + 1 and a.shape[-1] == 1:
        a = reshape(a, a.shape[:-1])
    elif b.ndim == a.ndim + 1 and b.shape[-1] == 1:
        b = reshape(b, b.shape[:-1])
    return a, b


def _regression_pair(y_true, y_pred):
    y_true, y_pred = _as_pair(y_true, y_pred)
    y_true, y_pred = _same_rank(_float_like(y_true, y_pred), y_pred)
    if y_true.shape != y_pred.shape and y_true.numel() == y_pred.numel():
        y_true = reshape(y_true, y_pred.shape)
    return y_true, y_pred


# --- per-sample loss functions (last axis reduced) ----------------------------------------------------------
def mean_squared_error(y_true, y_pred):
    y_true, y_pred = _regression_pair(y_true, y_pred)
    d = y_pred - y_true
    return (d * d).mean(axis=-1)


def mean_absolute_error(y_true, y_pred):
    y_true, y_pred = _regression_pair(y_true, y_pred)
    return (y_pred - y_true).abs().mean(axis=-1)


def mean_absolute_percentage_error(y_true, y_pred):
    y_true, y_pred = _regression_pair(y_true, y_pred)
    return scale(((y_true - y_pred) / _E.clip(y_true.abs(), K.epsilon(), None)).abs().mean(axis=-1), 100.0)


def mean_squared_logarithmic_error(y_true, y_pred):
    y_true, y_pred = _regression_pair(y_true, y_pred)
    d = _E.log(affine(_E.clip(y_pred, K.epsilon(), None), 1.0, 1.0)) - \
        _E.log(affine(_E.clip(y_true, K.epsilon(), None), 1.0, 1.0))
    return (d * d).mean(axis=-1)


def huber(y_true, y_pred, delta=1.0):
    y_true, y_pred = _regression_pair(y_true, y_pred)
    err = (y_pred - y_true).abs()
    quad = _E.clip(err, None, delta)
    return (scale(quad * quad, 0.5) + scale(err - quad, delta)).mean(axis=-1)


def hinge(y_true, y_pred):
    y_true, y_pred = _regression_pair(y_true, y_pred)
    if y_true.numel() and bool(((y_true.data == 0) | (y_true.data == 1)).all()):
        y_true = affine(y_true, 2.0, -1.0)   # Keras converts {0, 1} labels to {-1, 1}
    return _E.clip(affine(y_true * y_pred, -1.0, 1.0), 0.0, None).mean(axis=-1)


def kl_divergence(y_true, y_pred):
    y_true, y_pred = _regression_pair(y_true, y_pred)
    t = _E.clip(y_true, K.epsilon(), 1.0)
    p = _E.clip(y_pred, K.epsilon(), 1.0)
    return (t * _E.log(t / p)).sum(axis=-1)


def poisson(y_true, y_pred):
    y_true, y_pred = _regression_pair(y_true, y_pred)
    return (y_pred - y_true * _E.log(affine(y_pred, 1.0, K.epsilon()))).mean(axis=-1)


def _log_probs(y_pred, from_logits, axis):
    if from_logits:
        return _A.log_softmax(y_pred, axis=axis)
    p = y_pred / y_pred.sum(axis=axis, keepdims=True)
    eps = K.epsilon()
    return _E.log(_E.clip(p, eps, 1.0 - eps))


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """``-sum(y_true * log(p))`` over the class axis (last by default); ``y_pred`` probabilities unless
    ``from_logits``. Probabilities are renormalised to sum to one and clipped to [eps, 1 - eps] as in Keras."""
    y_true, y_pred = _as_pair(y_true, y_pred)
    y_true = _float_like(y_true, y_pred)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"categorical_crossentropy: targets of shape {y_true.shape} do not match predictions "
                         f"of shape {y_pred.shape}; give one-hot targets (keras.utils.to_categorical) or use "
                         "sparse_categorical_crossentropy for integer labels")
    if label_smoothing:
        n = y_pred.shape[axis]
        y_true = affine(y_true, 1.0 - label_smoothing, label_smoothing / n)
    y_pred, from_logits = _softmax_logits(y_pred, from_logits, axis)
    if from_logits and y_pred.ndim == 2:
        return _L.cross_entropy(y_pred, y_true, reduction="none")       # one fused op
    return -(y_true * _log_probs(y_pred, from_logits, axis)).sum(axis=axis)


def _softmax_logits(y_pred, from_logits, axis):
    """The logits behind a softmax output (a Dense(activation="softmax") made it), to use them instead."""
    if not from_logits and axis in (-1, y_pred.ndim - 1):
        logits = logits_of(y_pred, "softmax")
        if logits is not None:
            return logits, True
    return y_pred, from_logits


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, ignore_class=None, axis=-1):
    """Cross-entropy against integer labels: ``y_pred (..., C)`` probabilities (or logits), ``y_true (...)``
    (or ``(..., 1)``) class indices."""
    if ignore_class is not None:
        raise NotImplementedError("sparse_categorical_crossentropy: ignore_class is not supported")
    if axis not in (-1, None):
        raise NotImplementedError("sparse_categorical_crossentropy: only the last axis holds the classes here")
    y_true, y_pred = _as_pair(y_true, y_pred)
    if y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1:
        y_true = reshape(y_true, y_true.shape[:-1])
    if y_true.shape != y_pred.shape[:-1]:
        raise ValueError(f"sparse_categorical_crossentropy: labels of shape {y_true.shape} do not match "
                         f"predictions of shape {y_pred.shape} (expected labels of shape {y_pred.shape[:-1]})")
    labels = y_true if y_true.dtype == np.int64 else y_true.astype("int64")
    y_pred, from_logits = _softmax_logits(y_pred, from_logits, -1)
    if from_logits and y_pred.ndim == 2:
        return _L.cross_entropy(y_pred, labels, reduction="none")       # one fused op
    lp = _log_probs(y_pred, from_logits, -1)
    if lp.ndim > 2:                       # classes to axis 1 for nll_loss
        lp = permute(lp, (0, lp.ndim - 1) + tuple(range(1, lp.ndim - 1)))
    return _L.nll_loss(lp, labels, reduction="none")


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """Binary cross-entropy per element, averaged over the last axis; probabilities clipped to [eps, 1-eps]."""
    y_true, y_pred = _regression_pair(y_true, y_pred)
    if label_smoothing:
        y_true = affine(y_true, 1.0 - label_smoothing, 0.5 * label_smoothing)
    if not from_logits:
        logits = logits_of(y_pred, "sigmoid")
        if logits is not None and logits.shape == y_pred.shape:
            y_pred, from_logits = logits, True
    if from_logits:
        values = _L.binary_cross_entropy_with_logits(y_pred, y_true, reduction="none")
    else:
        eps = K.epsilon()
        values = _L.binary_cross_entropy(_E.clip(y_pred, eps, 1.0 - eps), y_true, reduction="none")
    return values.mean(axis=axis)


mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error
mape = MAPE = mean_absolute_percentage_error
msle = MSLE = mean_squared_logarithmic_error
kld = KLD = kullback_leibler_divergence = kl_divergence


# --- Loss objects -------------------------------------------------------------------------------------------
def _expand_weight(w, values):
    while w.ndim < values.ndim:
        w = reshape(w, w.shape + (1,))
    while w.ndim > values.ndim and w.shape[-1] == 1:
        w = reshape(w, w.shape[:-1])
    return w


def reduce_weighted(values, sample_weight=None, reduction="sum_over_batch_size"):
    """Weight per-sample loss ``values`` by ``sample_weight`` and reduce them as Keras does."""
    if sample_weight is not None:
        from .engine import as_tensor
        w = as_tensor(sample_weight)
        if w.device != values.device:
            w = w.to(device=values.device)
        w = _expand_weight(_float_like(w, values), values)
        values = values * w
    if reduction in (None, "none") or values.ndim == 0:
        return values
    if reduction == "sum":
        return values.sum()
    if reduction == "mean_with_sample_weight" and sample_weight is not None:
        return values.sum() / broadcast_to(w, values.shape).sum()
    return values.mean()                  # "sum_over_batch_size": the sum over the number of values


class Loss:
    """Base class: ``call(y_true, y_pred)`` gives per-sample values; ``__call__`` weights and reduces them."""

    _keras_argument_order = True

    def __init__(self, name=None, reduction="sum_over_batch_size", dtype=None):
        if reduction not in _REDUCTIONS:
            raise ValueError(f"{type(self).__name__}: reduction must be one of "
                             f"{', '.join(repr(r) for r in _REDUCTIONS)}, got {reduction!r}")
        self.name = name or K.to_snake_case(type(self).__name__)
        self.reduction = reduction

    def call(self, y_true, y_pred):
        raise NotImplementedError

    def __call__(self, y_true, y_pred, sample_weight=None):
        return reduce_weighted(self.call(y_true, y_pred), sample_weight, self.reduction)

    def get_config(self):
        return {"name": self.name, "reduction": self.reduction}

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}>"


class LossFunctionWrapper(Loss):
    """A loss function ``fn(y_true, y_pred, **kwargs)`` (per-sample values) as a Loss object."""

    def __init__(self, fn, name=None, reduction="sum_over_batch_size", **kwargs):
        super().__init__(name or getattr(fn, "__name__", "loss"), reduction)
        self.fn, self.fn_kwargs = fn, kwargs

    def call(self, y_true, y_pred):
        return self.fn(y_true, y_pred, **self.fn_kwargs)

    def __getattr__(self, name):
        kwargs = self.__dict__.get("fn_kwargs", {})
        if name in kwargs:
            return kwargs[name]
        raise AttributeError(name)


class MeanSquaredError(LossFunctionWrapper):
    def __init__(self, reduction="sum_over_batch_size", name="mean_squared_error"):
        super().__init__(mean_squared_error, name, reduction)


class MeanAbsoluteError(LossFunctionWrapper):
    def __init__(self, reduction="sum_over_batch_size", name="mean_absolute_error"):
        super().__init__(mean_absolute_error, name, reduction)


class MeanAbsolutePercentageError(LossFunctionWrapper):
    def __init__(self, reduction="sum_over_batch_size", name="mean_absolute_percentage_error"):
        super().__init__(mean_absolute_percentage_error, name, reduction)


class MeanSquaredLogarithmicError(LossFunctionWrapper):
    def __init__(self, reduction="sum_over_batch_size", name="mean_squared_logarithmic_error"):
        super().__init__(mean_squared_logarithmic_error, name, reduction)


class Huber(LossFunctionWrapper):
    def __init__(self, delta=1.0, reduction="sum_over_batch_size", name="huber_loss"):
        super().__init__(huber, name, reduction, delta=delta)


class Hinge(LossFunctionWrapper):
    def __init__(self, reduction="sum_over_batch_size", name="hinge"):
        super().__init__(hinge, name, reduction)


class KLDivergence(LossFunctionWrapper):
    def __init__(self, reduction="sum_over_batch_size", name="kl_divergence"):
        super().__init__(kl_divergence, name, reduction)


class Poisson(LossFunctionWrapper):
    def __init__(self, reduction="sum_over_batch_size", name="poisson"):
        super().__init__(poisson, name, reduction)


class BinaryCrossentropy(LossFunctionWrapper):
    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1, reduction="sum_over_batch_size",
                 name="binary_crossentropy"):
        super().__init__(binary_crossentropy, name, reduction, from_logits=from_logits,
                         label_smoothing=label_smoothing, axis=axis)


class CategoricalCrossentropy(LossFunctionWrapper):
    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1, reduction="sum_over_batch_size",
                 name="categorical_crossentropy"):
        super().__init__(categorical_crossentropy, name, reduction, from_logits=from_logits,
                         label_smoothing=label_smoothing, axis=axis)


class SparseCategoricalCrossentropy(LossFunctionWrapper):
    def __init__(self, from_logits=False, ignore_class=None, reduction="sum_over_batch_size",
                 name="sparse_categorical_crossentropy"):
        super().__init__(sparse_categorical_crossentropy, name, reduction, from_logits=from_logits,
                         ignore_class=ignore_class)


_BY_NAME = {
    "mean_squared_error": MeanSquaredError, "mse": MeanSquaredError,
    "mean_absolute_error": MeanAbsoluteError, "mae": MeanAbsoluteError,
    "mean_absolute_percentage_error": MeanAbsolutePercentageError, "mape": MeanAbsolutePercentageError,
    "mean_squared_logarithmic_error": MeanSquaredLogarithmicError, "msle": MeanSquaredLogarithmicError,
    "huber": Huber, "huber_loss": Huber, "hinge": Hinge, "kl_divergence": KLDivergence,
    "kullback_leibler_divergence": KLDivergence, "kld": KLDivergence, "poisson": Poisson,
    "binary_crossentropy": BinaryCrossentropy, "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
}
ACCEPTED = tuple(sorted(_BY_NAME))


def get(identifier):
    """A Loss object for a Keras name (``"categorical_crossentropy"``), a Loss, or a function
    ``fn(y_true, y_pred)`` (wrapped, so it is reduced like Keras's own losses)."""
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, str):
        key = identifier.strip()
        if key not in _BY_NAME:
            raise ValueError(f"unknown loss {identifier!r}; accepted: {', '.join(ACCEPTED)}, a keras.losses.Loss "
                             "or a function loss(y_true, y_pred)")
        return _BY_NAME[key]()
    if isinstance(identifier, type) and issubclass(identifier, Loss):
        return identifier()
    if callable(identifier):
        return LossFunctionWrapper(identifier)
    raise TypeError(f"loss must be a name, a keras.losses.Loss or a function, got {type(identifier).__name__}")


def serialize(loss):
    return getattr(loss, "name", None) or getattr(loss, "__name__", type(loss).__name__)


for _fn in (mean_squared_error, mean_absolute_error, mean_absolute_percentage_error, mean_squared_logarithmic_error,
            huber, hinge, kl_divergence, poisson, categorical_crossentropy, sparse_categorical_crossentropy,
            binary_crossentropy):
    _fn._keras_argument_order = True    # lets a plain dc Module's compile call them as loss(pred, target)
del _fn
