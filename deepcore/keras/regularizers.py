"""``keras.regularizers``: weight penalties added to the training loss (``Dense(kernel_regularizer=l2(1e-4))``)."""
from __future__ import annotations


class Regularizer:
    def __call__(self, w):
        raise NotImplementedError


class L1L2(Regularizer):
    """``l1 * sum(|w|) + l2 * sum(w**2)``."""

    def __init__(self, l1=0.0, l2=0.0):
        self.l1, self.l2 = float(l1), float(l2)

    def __call__(self, w):
        from ._ops import scale
        out = None
        if self.l1:
            out = scale(w.abs().sum(), self.l1)
        if self.l2:
            term = scale((w * w).sum(), self.l2)
            out = term if out is None else out + term
        return out if out is not None else scale(w.sum(), 0.0)

    def __repr__(self):
        return f"L1L2(l1={self.l1}, l2={self.l2})"


class L1(L1L2):
    def __init__(self, l1=0.01):
        super().__init__(l1=l1)


class L2(L1L2):
    def __init__(self, l2=0.01):
        super().__init__(l2=l2)


def l1(l1=0.01):
    return L1(l1)


def l2(l2=0.01):
    return L2(l2)


def l1_l2(l1=0.01, l2=0.01):
    return L1L2(l1, l2)


def get(identifier):
    if identifier is None:
        return None
    if isinstance(identifier, str):
        table = {"l1": L1, "l2": L2, "l1_l2": lambda: L1L2(0.01, 0.01)}
        if identifier not in table:
            raise ValueError(f"unknown regularizer {identifier!r}; accepted: l1, l2, l1_l2, or a callable")
        return table[identifier]()
    if callable(identifier):
        return identifier
    raise TypeError(f"regularizer must be a name or a callable, got {type(identifier).__name__}")
