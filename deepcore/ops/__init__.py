"""Differentiable ops, one family per module; importing this package attaches Tensor methods."""
from . import activation, conv, dropout, elementwise, embedding, indexing, linalg, loss, math, norm, pool, reduce, rnn, scan, shape, sort  # noqa: F401
