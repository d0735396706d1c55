"""Differentiable ops, one family per module; importing this package attaches Tensor methods."""
from . import activation, conv, dropout, elementwise, embedding, linalg, loss, norm, pool, reduce, rnn, shape  # noqa: F401
