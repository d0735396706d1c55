"""``F.one_hot``: class indices to one-hot rows (int64), as torch.nn.functional.one_hot."""
from __future__ import annotations

import numbers

import numpy as np

from ..backend import index_checks
from ..tensor import Tensor
from ._util import as_tensor

__all__ = ["one_hot"]


def one_hot(tensor, num_classes=-1):
    """``out[..., k] = 1`` where ``tensor[...] == k``: an int64 tensor of shape ``tensor.shape + (num_classes,)``.

    ``num_classes=-1`` uses ``max + 1``, which reads the maximum back to the host (as in PyTorch); pass the
    number of classes to stay free of host synchronisation on a GPU (out-of-range values are then reported
    at the next host sync, see :mod:`deepcore.backend.index_checks`). Carries no gradient."""
    if not isinstance(tensor, Tensor):
        tensor = as_tensor(tensor)
    if tensor.dtype.kind not in "iu":
        raise TypeError(f"one_hot: expected an integer (class index) tensor, got {tensor.dtype}")
    if isinstance(num_classes, bool) or not isinstance(num_classes, numbers.Integral) or num_classes < -1:
        raise ValueError(f"one_hot: num_classes must be a non-negative int or -1, got {num_classes!r}")
    xp = tensor.device.xp
    idx = tensor.data
    if num_classes == -1:
        if idx.size == 0:
            raise RuntimeError("one_hot: cannot infer the number of classes from an empty tensor; pass num_classes")
        num_classes = int(idx.max()) + 1
        if int(idx.min()) < 0:
            raise RuntimeError(f"one_hot: class values must be non-negative, got {int(idx.min())}")
    else:
        def what(bad):
            value = "" if bad is None else f" (got {bad})"
            return (f"one_hot: class values must be in [0, num_classes) = [0, {int(num_classes)}){value}")
        index_checks.check_range(xp, idx, int(num_classes), what=what)
    classes = xp.arange(int(num_classes), dtype=np.int64)
    return Tensor._make((idx[..., None] == classes).astype(np.int64))
