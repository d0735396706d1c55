"""Loss modules with torch.nn's names and arguments: thin wrappers of the functional losses (deepcore.ops.loss).

Class weights (``weight``, ``pos_weight``) are buffers, so ``.to(device)`` moves them and ``state_dict`` holds
them, as in torch. Arguments after ``weight`` are keyword-only: torch's positional slots there are its
deprecated ``size_average``/``reduce``, so a positional call would mean something else in each library.
"""
from __future__ import annotations

import numbers

from ..backend.dtypes import default_float
from ..ops import loss as L
from ..tensor import Tensor, tensor
from ._checks import number
from .module import Module

__all__ = ["L1Loss", "MSELoss", "SmoothL1Loss", "HuberLoss", "KLDivLoss", "BCELoss", "BCEWithLogitsLoss",
           "CrossEntropyLoss", "NLLLoss"]


class _Loss(Module):
    _reductions = ("mean", "sum", "none")

    def __init__(self, reduction: str = "mean"):
        super().__init__()
        if reduction not in self._reductions:
            allowed = ", ".join(repr(r) for r in self._reductions)
            raise ValueError(f"{type(self).__name__}: reduction must be one of {allowed}, got {reduction!r}")
        self.reduction = reduction

    def extra_repr(self):
        return f"reduction={self.reduction!r}" if self.reduction != "mean" else ""


def _buffer(owner, name, value):
    """``value`` (None, Tensor, array or list) as a floating Tensor buffer."""
    if value is None or isinstance(value, Tensor):
        return value
    try:
        t = tensor(value)
    except (TypeError, ValueError) as e:
        raise TypeError(f"{owner}: {name} must be a Tensor, array or list of numbers, got {type(value).__name__}") \
            from e
    return t if t.dtype.kind == "f" else tensor(value, dtype=default_float)


class _WeightedLoss(_Loss):
    def __init__(self, weight=None, reduction: str = "mean"):
        super().__init__(reduction)
        self.register_buffer("weight", _buffer(type(self).__name__, "weight", weight))


def _ignore_index(owner, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{owner}: ignore_index must be an integer, got {value!r}")
    return int(value)


class L1Loss(_Loss):
    """Mean absolute error (torch.nn.L1Loss)."""

    def __init__(self, *, reduction: str = "mean"):
        super().__init__(reduction)

    def forward(self, input, target):
        return L.l1_loss(input, target, reduction=self.reduction)


class MSELoss(_Loss):
    """Mean squared error (torch.nn.MSELoss)."""

    def __init__(self, *, reduction: str = "mean"):
        super().__init__(reduction)

    def forward(self, input, target):
        return L.mse_loss(input, target, reduction=self.reduction)


class SmoothL1Loss(_Loss):
    """Quadratic below ``beta``, linear above (torch.nn.SmoothL1Loss)."""

    def __init__(self, *, reduction: str = "mean", beta: float = 1.0):
        super().__init__(reduction)
        self.beta = number("SmoothL1Loss", "beta", beta, low=0.0)

    def forward(self, input, target):
        return L.smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)


class HuberLoss(_Loss):
    """Quadratic up to ``delta``, then linear with slope ``delta`` (torch.nn.HuberLoss)."""

    def __init__(self, *, reduction: str = "mean", delta: float = 1.0):
        super().__init__(reduction)
        self.delta = number("HuberLoss", "delta", delta, low=0.0, low_open=True)

    def forward(self, input, target):
        return L.huber_loss(input, target, reduction=self.reduction, delta=self.delta)


class KLDivLoss(_Loss):
    """KL divergence of log-probability input from a target distribution (torch.nn.KLDivLoss);
    ``reduction="batchmean"`` is the true KL divergence per sample."""
    _reductions = ("mean", "sum", "none", "batchmean")

    def __init__(self, *, reduction: str = "mean", log_target: bool = False):
        super().__init__(reduction)
        self.log_target = bool(log_target)

    def forward(self, input, target):
        return L.kl_div(input, target, reduction=self.reduction, log_target=self.log_target)


class BCELoss(_WeightedLoss):
    """Binary cross-entropy of probabilities (torch.nn.BCELoss); ``weight`` rescales each element."""

    def __init__(self, weight=None, *, reduction: str = "mean"):
        super().__init__(weight, reduction)

    def forward(self, input, target):
        return L.binary_cross_entropy(input, target, weight=self.weight, reduction=self.reduction)


class BCEWithLogitsLoss(_WeightedLoss):
    """Sigmoid + binary cross-entropy in one stable step (torch.nn.BCEWithLogitsLoss); ``pos_weight`` weighs
    the positive term (per class, broadcast over the last axis)."""

    def __init__(self, weight=None, *, reduction: str = "mean", pos_weight=None):
        super().__init__(weight, reduction)
        self.register_buffer("pos_weight", _buffer("BCEWithLogitsLoss", "pos_weight", pos_weight))

    def forward(self, input, target):
        return L.binary_cross_entropy_with_logits(input, target, weight=self.weight, pos_weight=self.pos_weight,
                                                  reduction=self.reduction)


class CrossEntropyLoss(_WeightedLoss):
    """Log-softmax + negative log-likelihood of logits (N, C, d...) with class indices or class probabilities
    (torch.nn.CrossEntropyLoss)."""

    def __init__(self, weight=None, *, ignore_index: int = -100, reduction: str = "mean",
                 label_smoothing: float = 0.0):
        super().__init__(weight, reduction)
        self.ignore_index = _ignore_index("CrossEntropyLoss", ignore_index)
        self.label_smoothing = number("CrossEntropyLoss", "label_smoothing", label_smoothing, low=0.0, high=1.0)

    def forward(self, input, target):
        return L.cross_entropy(input, target, weight=self.weight, ignore_index=self.ignore_index,
                               reduction=self.reduction, label_smoothing=self.label_smoothing)


class NLLLoss(_WeightedLoss):
    """Negative log-likelihood of log-probabilities at integer class targets (torch.nn.NLLLoss)."""

    def __init__(self, weight=None, *, ignore_index: int = -100, reduction: str = "mean"):
        super().__init__(weight, reduction)
        self.ignore_index = _ignore_index("NLLLoss", ignore_index)

    def forward(self, input, target):
        return L.nll_loss(input, target, weight=self.weight, ignore_index=self.ignore_index,
                          reduction=self.reduction)
