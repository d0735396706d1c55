"""DataLoader: mini-batches of a dataset as Tensors, reshuffled every epoch (PyTorch's options and defaults)."""
from __future__ import annotations

import collections
import itertools
import numbers
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ..backend import cupy_module
from ..backend import generator as _dc_generator
from ..backend.dtypes import default_float
from ..backend.random import generator_state, set_generator_state
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
    """Iterate over ``dataset`` in batches of ``batch_size``: PyTorch's ``torch.utils.data.DataLoader``.

    - ``shuffle``: a new order every epoch, drawn from ``generator`` (a ``numpy.random.Generator``), from
      ``numpy.random.default_rng(seed)`` when ``seed`` is given, else from deepcore's CPU generator (which
      ``dc.manual_seed`` fixes and ``dc.get_rng_state`` saves). A loader's own generator is saved by
      ``state_dict()`` (``fit``'s checkpoints do that), so a resumed run sees the same orders.
    - ``sampler``: an iterable of dataset indices (read once per epoch, e.g. a list or a custom sampler
      object); it replaces the order, so it cannot be combined with ``shuffle=True``.
    - ``collate_fn``: turns a list of samples into a batch; the default stacks them into Tensors
      (:func:`default_collate`). Batches of a ``TensorDataset`` (and Subsets of one) are gathered with one
      index per array instead, unless ``collate_fn`` is given.
    - ``num_workers > 0``: batches are loaded by that many worker **threads** (not processes: no pickling,
      nothing to fork, and NumPy releases the GIL in its copies) while the caller consumes earlier ones,
      ``prefetch_factor`` batches ahead per worker. Batches come out in the same order and with the same
      contents as with ``num_workers=0``; a dataset whose ``__getitem__`` draws random numbers should use
      its own per-index generator for that to hold. A TensorDataset's gathered batches need no workers.
    - ``persistent_workers``: keep the worker threads between epochs (needs ``num_workers > 0``).
    - ``pin_memory``: with a CUDA device present, CPU batches are copied into page-locked host memory
      (``cupy.cuda.alloc_pinned_memory``), from which copies to the GPU are faster; without CUDA it does
      nothing.
    - ``drop_last``: drop the last batch when it is smaller than ``batch_size``.
    """

    def __init__(self, dataset, batch_size=1, shuffle=False, sampler=None, num_workers=0, collate_fn=None,
                 pin_memory=False, drop_last=False, persistent_workers=False, generator=None, seed=None,
                 prefetch_factor=None):
        if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be a positive integer, got {batch_size!r}")
        if collate_fn is not None and not callable(collate_fn):
            raise TypeError(f"DataLoader: collate_fn must be callable, got {type(collate_fn).__name__}")
        if sampler is not None:
            if not hasattr(sampler, "__iter__"):
                raise TypeError(f"DataLoader: sampler must be an iterable of dataset indices, got "
                                f"{type(sampler).__name__}")
            if shuffle:
                raise ValueError("DataLoader: sampler option is mutually exclusive with shuffle; the sampler "
                                 "decides the order (shuffle inside it, or pass shuffle=False)")
        if isinstance(num_workers, bool) or not isinstance(num_workers, numbers.Integral) or num_workers < 0:
            raise ValueError(f"DataLoader: num_workers must be an integer >= 0, got {num_workers!r}")
        if persistent_workers and num_workers == 0:
            raise ValueError("DataLoader: persistent_workers option needs num_workers > 0")
        if prefetch_factor is not None:
            if num_workers == 0:
                raise ValueError("DataLoader: prefetch_factor option could only be specified with num_workers > 0")
            if isinstance(prefetch_factor, bool) or not isinstance(prefetch_factor, numbers.Integral) \
                    or prefetch_factor < 1:
                raise ValueError(f"DataLoader: prefetch_factor must be a positive integer, got {prefetch_factor!r}")
        if generator is not None and not isinstance(generator, np.random.Generator):
            raise TypeError(f"DataLoader: generator must be a numpy.random.Generator (np.random.default_rng(seed)), "
                            f"got {type(generator).__name__}")
        if generator is not None and seed is not None:
            raise ValueError("DataLoader: give generator= or seed=, not both")
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.sampler = sampler
        self.num_workers = int(num_workers)
        self.collate_fn = collate_fn
        self.pin_memory = bool(pin_memory)
        self.drop_last = bool(drop_last)
        self.persistent_workers = bool(persistent_workers)
        self.prefetch_factor = int(prefetch_factor) if prefetch_factor is not None else (2 if num_workers else None)
        self.seed = seed
        self.generator = generator
        self._rng = generator if generator is not None else (np.random.default_rng(seed) if seed is not None else None)
        self._pool = None

    def __len__(self):
        n = len(self.sampler) if self.sampler is not None else len(self.dataset)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    # --- state (for exact resume) --------------------------------------------------------------
    def state_dict(self) -> dict:
        """The loader's own shuffle generator (None when it draws from deepcore's generator)."""
        return {"generator": generator_state(self._rng) if self._rng is not None else None}

    def load_state_dict(self, state: dict) -> None:
        """Restore the shuffle generator saved by :meth:`state_dict` (checked before it changes)."""
        if not isinstance(state, dict) or "generator" not in state:
            raise ValueError("DataLoader.load_state_dict: expected the dict returned by state_dict(), got "
                             f"{state!r:.200}")
        saved = state["generator"]
        if saved is None:
            return
        if self._rng is None:
            raise ValueError("DataLoader.load_state_dict: the state holds a shuffle generator, but this loader "
                             "has none (create it with generator= or seed= as the saved one was)")
        set_generator_state(self._rng, saved, "DataLoader.load_state_dict: state['generator']")

    # --- iteration --------------------------------------------------------------------------------
    def _order(self):
        """This epoch's dataset indices in order (None means 0..n-1)."""
        if self.sampler is not None:
            return np.asarray(list(self.sampler), dtype=np.int64)
        if not self.shuffle:
            return None
        rng = self._rng if self._rng is not None else _dc_generator()
        return rng.permutation(len(self.dataset))

    def _spans(self, n):
        stops = range(self.batch_size, n + 1, self.batch_size) if self.drop_last else \
            range(self.batch_size, n + self.batch_size, self.batch_size)
        return [(stop - self.batch_size, min(stop, n)) for stop in stops]

    def __iter__(self):
        order = self._order()
        n = len(order) if order is not None else len(self.dataset)
        spans = self._spans(n)
        source = _tensor_source(self.dataset) if self.collate_fn is None else None
        if source is not None:
            batches = self._fast_batches(source, order, spans)
        else:
            positions = (range(a, b) if order is None else order[a:b].tolist() for a, b in spans)
            batches = self._worker_batches(positions) if self.num_workers else map(self._load, positions)
        if self.pin_memory and cupy_module() is not None and _cuda_present():
            batches = map(_pin, batches)
        yield from batches

    def _load(self, positions):
        return (self.collate_fn or default_collate)([self.dataset[i] for i in positions])

    def _worker_batches(self, positions):
        """Batches loaded by ``num_workers`` threads, handed out in order, ``prefetch_factor`` per worker ahead."""
        pool = self._pool
        if pool is None:
            pool = ThreadPoolExecutor(self.num_workers, thread_name_prefix="deepcore-dataloader")
            if self.persistent_workers:
                self._pool = pool
        pending = collections.deque()
        try:
            for pos in itertools.islice(positions, self.num_workers * self.prefetch_factor):
                pending.append(pool.submit(self._load, pos))
            while pending:
                batch = pending.popleft().result()
                for pos in itertools.islice(positions, 1):
                    pending.append(pool.submit(self._load, pos))
                yield batch
        finally:
            for fut in pending:
                fut.cancel()
            if pool is not self._pool:
                pool.shutdown(wait=True, cancel_futures=True)

    def _fast_batches(self, source, order, spans):
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
        for start, stop in spans:
            if rows is None:
                batch = tuple(Tensor._make(a[start:stop].copy()) for a in raw)
            else:
                batch = tuple(Tensor._make(a[dev_rows[k][start:stop]]) for a, k in zip(raw, keys))
            yield batch

    def __del__(self):
        pool = self.__dict__.get("_pool")
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    def __repr__(self):
        return (f"DataLoader(len(dataset)={len(self.dataset)}, batch_size={self.batch_size}, "
                f"shuffle={self.shuffle}, drop_last={self.drop_last}, num_workers={self.num_workers})")


def _cuda_present() -> bool:
    from ..backend import cuda_available
    return cuda_available()


def _pin(batch):
    """``batch`` with every CPU Tensor's data copied into page-locked host memory."""
    if isinstance(batch, Tensor):
        a = batch.data
        if not isinstance(a, np.ndarray):
            return batch
        mem = cupy_module().cuda.alloc_pinned_memory(max(a.nbytes, 1))
        pinned = np.frombuffer(mem, dtype=a.dtype, count=a.size).reshape(a.shape)
        pinned[...] = a
        return Tensor._make(pinned)
    if isinstance(batch, tuple):
        return tuple(_pin(b) for b in batch)
    if isinstance(batch, list):
        return [_pin(b) for b in batch]
    if isinstance(batch, dict):
        return {k: _pin(v) for k, v in batch.items()}
    return batch
