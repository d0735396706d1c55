"""Loss resolution for ``compile``: Keras/PyTorch names -> a callable ``loss(pred, target) -> scalar Tensor``.

The built-in wrappers line targets up with predictions the way Keras users expect: a target of shape
``(N,)`` meets a prediction of shape ``(N, 1)``, integer 0/1 targets become floats for regression and binary
losses, and class labels become int64 for cross-entropy.

``"categorical_crossentropy"`` and ``"sparse_categorical_crossentropy"`` are refused here: Keras means
probabilities with the classes on the last axis, deepcore's ``"cross_entropy"`` (PyTorch's) means logits with
the classes on axis 1, and guessing silently gave wrong losses. Models built with ``deepcore.keras`` take the
Keras names with Keras's meaning; a plain Module can use ``"cross_entropy"`` or a ``deepcore.keras.losses``
object (``CategoricalCrossentropy()``), whose ``(y_true, y_pred)`` argument order is handled here.
"""
from __future__ import annotations

import numpy as np

from ..backend.dtypes import is_floating
from ..tensor import Tensor

# name -> (canonical name, kind); kind tells the accuracy metric how to read predictions.
_ALIASES = {
    "mse": "mse", "mean_squared_error": "mse", "mse_loss": "mse",
    "l1": "l1", "mae": "l1", "mean_absolute_error": "l1", "l1_loss": "l1",
    "cross_entropy": "cross_entropy", "crossentropy": "cross_entropy",
    "binary_cross_entropy": "binary_cross_entropy", "binary_crossentropy": "binary_cross_entropy",
    "bce": "binary_cross_entropy",
    "bce_with_logits": "bce_with_logits", "binary_cross_entropy_with_logits": "bce_with_logits",
    "nll": "nll", "nll_loss": "nll",
}
ACCEPTED = tuple(sorted(_ALIASES))

# Keras names whose Keras meaning (probabilities, classes on the last axis) differs from deepcore's.
_KERAS_ONLY = {
    "categorical_crossentropy": ("CategoricalCrossentropy", "one-hot or probability targets of the output's shape"),
    "sparse_categorical_crossentropy": ("SparseCategoricalCrossentropy", "integer class labels"),
}


def _keras_only_error(name):
    cls, targets = _KERAS_ONLY[name]
    return ValueError(
        f"loss={name!r} is ambiguous for a deepcore Module: in Keras it takes probabilities (the output of a "
        f"softmax) with the classes on the LAST axis, while deepcore's 'cross_entropy' (PyTorch's) takes logits "
        f"with the classes on axis 1. Use loss='cross_entropy' if the model outputs logits ({targets} work too), "
        f"or loss=deepcore.keras.losses.{cls}() if it outputs probabilities; models built with deepcore.keras "
        f"(keras.Sequential, keras.Model) accept {name!r} with its Keras meaning.")


class KerasLossAdapter:
    """A Keras loss (``loss(y_true, y_pred)``) called the deepcore way, ``loss(pred, target)``."""

    def __init__(self, loss):
        self.loss = loss
        self.name = self.__name__ = getattr(loss, "name", None) or getattr(loss, "__name__", type(loss).__name__)
        key = self.name.lower()
        logits = bool(getattr(loss, "from_logits", False))
        if "binary" in key:
            self.kind = "binary_logits" if logits else "binary"
        elif "categorical" in key:
            self.kind = "categorical"
        elif key in ("mean_squared_error", "mean_absolute_error", "mse", "mae"):
            self.kind = "regression"
        else:
            self.kind = "unknown"

    def __call__(self, pred, target):
        return self.loss(target, pred)

    def __repr__(self):
        return f"KerasLossAdapter({self.loss!r})"
_KIND = {"mse": "regression", "l1": "regression", "cross_entropy": "categorical", "nll": "categorical",
         "binary_cross_entropy": "binary", "bce_with_logits": "binary_logits"}


def _same_shape_float(pred: Tensor, target: Tensor) -> Tensor:
    """The target reshaped to the prediction's shape (when sizes agree) and cast to its float dtype."""
    if target.shape != pred.shape and target.numel() == pred.numel():
        target = Tensor._make(target.data.reshape(pred.shape))
    if target.dtype != pred.dtype and is_floating(pred.dtype):
        target = Tensor._make(target.data.astype(pred.dtype))
    return target


def _class_target(pred: Tensor, target: Tensor) -> Tensor:
    """Integer labels as int64; class-probability targets (the prediction's shape) in its float dtype."""
    if target.shape == pred.shape and target.ndim >= 2:
        return _same_shape_float(pred, target)
    if target.ndim == pred.ndim and target.ndim >= 2 and target.shape[-1] == 1 and pred.shape[1] > 1:
        target = Tensor._make(target.data.reshape(target.shape[:-1]))  # (N, 1) labels -> (N,)
    if target.dtype != "int64":
        if is_floating(target.dtype):
            _check_integral(target.data)
        target = Tensor._make(target.data.astype("int64"))
    return target


def _check_integral(labels) -> None:
    """Float class labels must be whole numbers (casting would silently truncate 0.7 to 0): raised at once
    on the CPU or where fit kept a host copy, else flagged on the device and raised at the next sync."""
    from ..backend import array_module, index_checks
    xp = array_module(labels)
    host = labels if xp is np else index_checks.host_copy(labels)
    if host is not None:
        flat = host.reshape(-1)
        bad = ~np.isfinite(flat) | (flat != np.floor(flat))
        if bad.any():
            i = int(np.argmax(bad))
            raise ValueError(_NOT_INTEGRAL.format(f"{flat[i]!r} at index {i}"))
        return
    seen = xp.any(labels != xp.floor(labels))
    index_checks.flag(xp, seen, labels.device.id, _NOT_INTEGRAL.format("a value"), error=ValueError)


_NOT_INTEGRAL = ("class-index loss: the targets hold {}, which is not an integer; class labels must be whole "
                 "numbers 0..C-1")


class BuiltinLoss:
    """A named built-in loss; calls the functional form after aligning the target with the prediction."""

    def __init__(self, name: str):
        self.name = name
        self.kind = _KIND[name]

    def __call__(self, pred, target):
        from ..ops import loss as L
        if self.name == "mse":
            return L.mse_loss(pred, _same_shape_float(pred, target))
        if self.name == "l1":
            return L.l1_loss(pred, _same_shape_float(pred, target))
        if self.name == "binary_cross_entropy":
            return L.binary_cross_entropy(pred, _same_shape_float(pred, target))
        if self.name == "bce_with_logits":
            return L.binary_cross_entropy_with_logits(pred, _same_shape_float(pred, target))
        if self.name == "cross_entropy":
            return L.cross_entropy(pred, _class_target(pred, target))
        return L.nll_loss(pred, _class_target(pred, target))

    def __repr__(self):
        return f"BuiltinLoss({self.name!r})"


def get(identifier):
    """Resolve a loss given as a string (see ``ACCEPTED``) or a callable ``loss(pred, target)``."""
    if isinstance(identifier, str):
        key = identifier.strip().lower()
        if key in _KERAS_ONLY:
            raise _keras_only_error(key)
        if key not in _ALIASES:
            raise ValueError(f"unknown loss {identifier!r}; accepted: {', '.join(ACCEPTED)}, or a callable "
                             "loss(pred, target)")
        return BuiltinLoss(_ALIASES[key])
    if identifier is None:
        raise ValueError("compile: loss is required (a name such as 'cross_entropy' or a callable "
                         "loss(pred, target))")
    if not callable(identifier):
        raise TypeError(f"loss must be a string or a callable loss(pred, target), got {type(identifier).__name__}")
    if getattr(identifier, "_keras_argument_order", False):
        return KerasLossAdapter(identifier)
    return identifier


def kind_of(loss) -> str:
    """'binary', 'binary_logits', 'categorical', 'regression' or 'unknown', for choosing accuracy's rule."""
    if isinstance(loss, (BuiltinLoss, KerasLossAdapter)):
        return loss.kind
    name = getattr(loss, "__name__", None) or type(loss).__name__
    key = name.lower()
    if "with_logits" in key or "bcewithlogits" in key:
        return "binary_logits"
    if key in ("binary_cross_entropy", "bceloss"):
        return "binary"
    if key in ("cross_entropy", "nll_loss", "crossentropyloss", "nllloss"):
        return "categorical"
    return "unknown"


def name_of(loss) -> str:
    if isinstance(loss, (BuiltinLoss, KerasLossAdapter)):
        return loss.name
    return getattr(loss, "__name__", None) or type(loss).__name__
