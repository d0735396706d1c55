"""DataLoader: mini-batches of a dataset as Tensors, reshuffled every epoch."""
from __future__ import annotations

import numbers

import numpy as np

from ..backend import cupy_module
from ..backend import generator as _dc_generator
from ..backend.dtypes import default_float
from ..tensor import Tensor
from .dataset import Subset, TensorDataset


def default_collate(items):
    """Stack a list of samples into a batch: arrays/Tensors/numbers -> one Tensor, tuples -> tuple of batches.

    NumPy rows and Python numbers give a CPU Tensor (Python floats become float32, ints int64); Tensor
    rows are stacked on their own device; dicts collate per key; strings stay a list.
    """
    first = items[0]
    cp = cupy_module()
    if isinstance(first, Tensor):
        xp = first.device.xp
        return Tensor._make(xp.stack([t.data for t in items]))
    if isinstance(first, np.ndarray) or (cp is not None and isinstance(first, cp.ndarray)):
        xp = np if isinstance(first, np.ndarray) else cp
        return Tensor._make(xp.stack(items))
    if isinstance(first, np.generic):
        return Tensor._make(np.asarray(items))
    if isinstance(first, bool):
        return Tensor._make(np.asarray(items, dtype=np.bool_))
    if isinstance(first, numbers.Integral):
        return Tensor._make(np.asarray(items, dtype=np.int64))
    if isinstance(first, numbers.Real):
        return Tensor._make(np.asarray(items, dtype=default_float))
    if isinstance(first, str):
        return list(items)
    if isinstance(first, dict):
        return {k: default_collate([it[k] for it in items]) for k in first}
    if isinstance(first, (tuple, list)):
        n = len(first)
        if any(len(it) != n for it in items):
            raise ValueError(f"default_collate: samples have different numbers of fields "
                             f"{sorted({len(it) for it in items})}")
        return tuple(default_collate([it[j] for it in items]) for j in range(n))
    raise TypeError(f"default_collate: cannot batch samples of type {type(first).__name__}; pass collate_fn=")


def _tensor_source(dataset):
    """``(arrays, index_map)`` when batches of ``dataset`` can be gathered by fancy indexing, else None.

    Works for a plain TensorDataset and for (nested) Subsets of one; ``index_map`` maps loader positions
    to rows of the arrays (None for the identity).
    """
    index_map = None
    while isinstance(dataset, Subset):
        idx = np.asarray(dataset.indices, dtype=np.int64)
        index_map = idx if index_map is None else idx[index_map]
        dataset = dataset.dataset
    if isinstance(dataset, TensorDataset) and type(dataset).__getitem__ is TensorDataset.__getitem__:
        return dataset.tensors, index_map
    return None


class DataLoader:
    """Iterate over ``dataset`` in batches of ``batch_size``, optionally shuffled anew every epoch.

    With ``seed`` the sequence of epoch orders is reproducible (one ``numpy.random.default_rng(seed)``
    advanced once per epoch); without it the order comes from deepcore's CPU generator, which
    ``dc.manual_seed`` fixes. ``num_workers`` is accepted for PyTorch compatibility and ignored: loading
    happens in the calling process.
    """

    def __init__(self, dataset, batch_size=1, shuffle=False, drop_last=False, seed=None, collate_fn=None,
                 num_workers=0):
        if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be a positive integer, got {batch_size!r}")
        if collate_fn is not None and not callable(collate_fn):
            raise TypeError(f"DataLoader: collate_fn must be callable, got {type(collate_fn).__name__}")
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.seed = seed
        self.collate_fn = collate_fn
        self.num_workers = num_workers
        self._rng = np.random.default_rng(seed) if seed is not None else None

    def __len__(self):
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def _order(self, n):
        """This epoch's order of sample positions (None means 0..n-1 in order)."""
        if not self.shuffle:
            return None
        rng = self._rng if self._rng is not None else _dc_generator()
        return rng.permutation(n)

    def __iter__(self):
        n = len(self.dataset)
        order = self._order(n)
        stops = range(self.batch_size, n + 1, self.batch_size) if self.drop_last else \
            range(self.batch_size, n + self.batch_size, self.batch_size)
        source = _tensor_source(self.dataset) if self.collate_fn is None else None
        if source is not None:
            yield from self._fast_batches(source, order, n, stops)
            return
        collate = self.collate_fn or default_collate
        for stop in stops:
            start, stop = stop - self.batch_size, min(stop, n)
            positions = range(start, stop) if order is None else order[start:stop].tolist()
            yield collate([self.dataset[i] for i in positions])

    def _fast_batches(self, source, order, n, stops):
        """Gather each batch from the TensorDataset's arrays with one index per array (no per-row work)."""
        arrays, index_map = source
        rows = order if index_map is None else (index_map if order is None else index_map[order])
        raw = [a.data if isinstance(a, Tensor) else a for a in arrays]
        # Row indices go to each array's device once per epoch, not once per batch.
        keys = [None if isinstance(a, np.ndarray) else a.device.id for a in raw]
        dev_rows = {}
        if rows is not None:
            for a, k in zip(raw, keys):
                if k not in dev_rows:
                    if k is None:
                        dev_rows[k] = rows
                    else:
                        with a.device:
                            dev_rows[k] = cupy_module().asarray(rows)
        for stop in stops:
            start, stop = stop - self.batch_size, min(stop, n)
            if rows is None:
                batch = tuple(Tensor._make(a[start:stop].copy()) for a in raw)
            else:
                batch = tuple(Tensor._make(a[dev_rows[k][start:stop]]) for a, k in zip(raw, keys))
            yield batch

    def __repr__(self):
        return (f"DataLoader(len(dataset)={len(self.dataset)}, batch_size={self.batch_size}, "
                f"shuffle={self.shuffle}, drop_last={self.drop_last})")
