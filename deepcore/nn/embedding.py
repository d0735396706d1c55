"""Embedding layer: a trainable lookup table."""
from __future__ import annotations

from ..backend import device as as_device
from ..backend.dtypes import as_dtype, default_float
from ..ops.embedding import embedding
from ..tensor import empty
from . import init
from ._checks import integer
from .module import Module
from .parameter import Parameter


class Embedding(Module):
    """A lookup table: integer indices -> rows of ``weight (num_embeddings, embedding_dim)`` (init N(0, 1))."""

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None, device=None,
                 dtype=None):
        super().__init__()
        num_embeddings = integer("Embedding", "num_embeddings", num_embeddings)
        embedding_dim = integer("Embedding", "embedding_dim", embedding_dim)
        padding_idx = integer("Embedding", "padding_idx", padding_idx, low=None, none_ok=True)
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        if padding_idx is not None and padding_idx < 0:
            padding_idx += num_embeddings
        if padding_idx is not None and not 0 <= padding_idx < num_embeddings:
            raise ValueError(f"Embedding: padding_idx must be within num_embeddings ({num_embeddings})")
        self.padding_idx = padding_idx
        self.weight = Parameter(empty(num_embeddings, embedding_dim, device=as_device(device),
                                      dtype=as_dtype(dtype) or default_float))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.normal_(self.weight)
        if self.padding_idx is not None:
            self.weight.data[self.padding_idx] = 0

    def forward(self, indices):
        return embedding(indices, self.weight, self.padding_idx)

    def extra_repr(self):
        return f"{self.num_embeddings}, {self.embedding_dim}"
