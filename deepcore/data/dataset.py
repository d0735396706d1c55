"""Datasets: the map-style ``Dataset`` protocol, ``TensorDataset``, ``Subset`` and ``random_split``."""
from __future__ import annotations

import math
import numbers

import numpy as np

from ..backend import cupy_module
from ..backend import generator as _dc_generator
from ..tensor import Tensor


class Dataset:
    """A map-style dataset: subclasses define ``__getitem__(index)`` and ``__len__()`` (as in PyTorch)."""

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")

    def __len__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __len__")


def _is_array(a) -> bool:
    cp = cupy_module()
    return isinstance(a, (np.ndarray, Tensor)) or (cp is not None and isinstance(a, cp.ndarray))


class TensorDataset(Dataset):
    """Rows of equally long arrays or Tensors; item ``i`` is the tuple ``(a[i], b[i], ...)``.

    NumPy inputs give NumPy rows, Tensor inputs give Tensor rows (cut from any graph). A ``DataLoader``
    over a TensorDataset gathers a whole batch with one fancy index per array instead of row by row.
    """

    def __init__(self, *arrays):
        if not arrays:
            raise ValueError("TensorDataset needs at least one array")
        for i, a in enumerate(arrays):
            if not _is_array(a):
                raise TypeError(f"TensorDataset: argument {i} must be a NumPy array, CuPy array or Tensor, "
                                f"got {type(a).__name__}")
            if a.ndim == 0:
                raise ValueError(f"TensorDataset: argument {i} is 0-d; every array needs a first (sample) "
                                 "dimension")
        lengths = tuple(int(a.shape[0]) for a in arrays)
        if len(set(lengths)) != 1:
            raise ValueError(f"TensorDataset: all arrays must have the same first dimension, got lengths "
                             f"{lengths}")
        self.tensors = tuple(arrays)

    def __getitem__(self, index):
        return tuple(Tensor._make(a.data[index]) if isinstance(a, Tensor) else a[index] for a in self.tensors)

    def __len__(self):
        return int(self.tensors[0].shape[0])


class Subset(Dataset):
    """The items of ``dataset`` at ``indices``, in that order."""

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = [int(i) for i in indices]

    def __getitem__(self, index):
        if isinstance(index, (list, tuple, np.ndarray)):
            return [self.dataset[self.indices[int(i)]] for i in index]
        return self.dataset[self.indices[index]]

    def __len__(self):
        return len(self.indices)


def _split_lengths(lengths, n):
    """Integer lengths summing to ``n`` from ints or from fractions summing to 1 (PyTorch's rule)."""
    lengths = list(lengths)
    if not lengths:
        raise ValueError("random_split: lengths must not be empty")
    if all(isinstance(x, numbers.Integral) for x in lengths):
        lengths = [int(x) for x in lengths]
        if any(x < 0 for x in lengths):
            raise ValueError(f"random_split: lengths must be non-negative, got {lengths}")
        if sum(lengths) != n:
            raise ValueError(f"random_split: lengths {lengths} sum to {sum(lengths)}, but the dataset has "
                             f"{n} items")
        return lengths
    if not all(isinstance(x, numbers.Real) for x in lengths):
        raise TypeError(f"random_split: lengths must be integers or fractions, got {lengths}")
    fracs = [float(x) for x in lengths]
    if any(f < 0 or f > 1 for f in fracs) or not math.isclose(sum(fracs), 1.0, abs_tol=1e-6):
        raise ValueError(f"random_split: fractions {fracs} must lie in [0, 1] and sum to 1 "
                         f"(sum is {sum(fracs)})")
    out = [int(math.floor(n * f)) for f in fracs]
    for i in range(n - sum(out)):  # hand out the remainder round-robin, as torch does
        out[i % len(out)] += 1
    return out


def random_split(dataset, lengths, seed=None, generator=None):
    """Split ``dataset`` into non-overlapping random ``Subset``s of the given lengths (or fractions).

    The permutation comes from ``numpy.random.default_rng(seed)`` when ``seed`` is given, else from
    ``generator`` (a numpy Generator) or deepcore's CPU generator (so ``dc.manual_seed`` fixes it).
    """
    n = len(dataset)
    sizes = _split_lengths(lengths, n)
    rng = np.random.default_rng(seed) if seed is not None else (generator or _dc_generator())
    perm = rng.permutation(n)
    out, start = [], 0
    for size in sizes:
        out.append(Subset(dataset, perm[start:start + size].tolist()))
        start += size
    return out

