"""Embedding lookup: gather rows of a weight matrix; the backward scatter-adds into the rows used."""
from __future__ import annotations

from ..autograd import Function
from ..backend.index_checks import check_range
from ..errors import DTypeError, ShapeError
from ..tensor import Tensor
from ._util import as_tensor
from .shape import scatter_add

__all__ = ["embedding"]


class Embedding(Function):
    """``weight[indices]``; only the indices are kept for backward."""

    def forward(self, weight, indices):
        self.save_for_backward(indices)
        self.num = weight.shape
        return self._xp.take(weight, indices, axis=0)

    def backward(self, gy):
        (indices,) = self.saved_tensors
        xp = self._xp
        n, dim = self.num
        gw = xp.zeros((n, dim), dtype=gy.dtype)
        scatter_add(xp, gw, indices.reshape(-1), gy.reshape(-1, dim))
        if self.padding_idx is not None:
            gw[self.padding_idx] = 0
        return gw, None


def embedding(indices, weight, padding_idx=None):
    """Rows of ``weight`` (num_embeddings, dim) picked by integer ``indices``: output ``indices.shape + (dim,)``.

    Repeated indices accumulate gradient; the ``padding_idx`` row gets none (as in torch.nn.functional).
    """
    if not isinstance(weight, Tensor):
        weight = as_tensor(weight)
    if weight.ndim != 2:
        raise ShapeError(f"embedding: weight must be 2-D (num_embeddings, embedding_dim), got shape {weight.shape}")
    indices = as_tensor(indices, weight) if not isinstance(indices, Tensor) else indices
    if indices.dtype.kind not in "iu":
        raise DTypeError(f"embedding: indices must be integers (int64 or int32), got dtype {indices.dtype}")
    num = weight.shape[0]
    if padding_idx is not None:
        padding_idx = int(padding_idx)
        if not -num <= padding_idx < num:
            raise ValueError(f"embedding: padding_idx {padding_idx} is out of range for num_embeddings={num}")
        padding_idx %= num
    if indices.device == weight.device:
        check_range(weight.device.xp, indices.data, num,
                    what=lambda bad: f"embedding: index {bad} is out of range for num_embeddings={num}"
                    if bad is not None else
                    f"embedding: an index was out of range for num_embeddings={num} (found on the device)")
    return Embedding.apply(weight, indices, padding_idx=padding_idx)
