"""Batch sources for fit/evaluate/predict: arrays (NumPy, CuPy, Tensors) or any DataLoader-like iterable.

Every batch comes out as ``(inputs, target, n)``: a tuple of Tensors on the training device, a Tensor
(or None) and the number of samples. Floating data takes the model's float dtype and integer data
becomes int64, once per array rather than once per batch.
"""
from __future__ import annotations

import numbers

import numpy as np

from ..backend import CPU, cupy_module, device_of, index_checks, to_device
from ..backend.dtypes import is_floating
from ..tensor import Tensor

# Host arrays up to this size are copied to the GPU once per fit instead of batch by batch.
DEVICE_CACHE_BYTES = 1 << 30


def is_array(a) -> bool:
    cp = cupy_module()
    return isinstance(a, (np.ndarray, Tensor)) or (cp is not None and isinstance(a, cp.ndarray))


def is_loader(x) -> bool:
    """A DataLoader or other iterable of batches (not an array, list or tuple of samples)."""
    if x is None or is_array(x) or isinstance(x, (list, tuple, dict, str, numbers.Number)):
        return False
    return hasattr(x, "__iter__")


def _raw(a, what):
    if isinstance(a, Tensor):
        return a.data
    if is_array(a):
        return _numeric(a, what)
    try:
        arr = np.asarray(a)
    except (TypeError, ValueError):
        raise TypeError(f"{what} must be a NumPy array, a Tensor or a DataLoader, got {type(a).__name__}") from None
    if arr.dtype == object:
        raise TypeError(f"{what} must be a NumPy array, a Tensor or a DataLoader; could not convert "
                        f"{type(a).__name__} to a numeric array")
    return _numeric(arr, what)


def _numeric(arr, what):
    """``arr`` if it holds numbers; strings (e.g. class names as labels) and objects get a clear error."""
    kind = arr.dtype.kind
    if kind in "USa":
        first = arr.reshape(-1)[0] if arr.size else ""
        hint = (" Encode class names as integers 0..C-1 first, e.g. classes, y = np.unique(y, return_inverse=True)."
                if what.startswith("y") or "target" in what else "")
        raise TypeError(f"{what} holds strings (dtype {arr.dtype}, first value {str(first)!r}); deepcore trains "
                        f"on numbers.{hint}")
    if kind in "OV":
        raise TypeError(f"{what} has dtype {arr.dtype}; deepcore needs a numeric array (bool, int or float)")
    return arr


def as_inputs(x, what="x"):
    """A tuple of raw arrays: several for a list/tuple of arrays (a multi-input model), else one."""
    if isinstance(x, (list, tuple)) and x and all(is_array(a) for a in x):
        return tuple(_raw(a, what) for a in x)
    return (_raw(x, what),)


def cast_for_model(a, float_dtype, target=False):
    """Floating arrays take the model's float dtype; integers become int64; bool targets become floats."""
    if is_floating(a.dtype):
        return a if a.dtype == float_dtype else a.astype(float_dtype)
    if a.dtype.kind in "iu":
        return a if a.dtype == np.int64 else a.astype(np.int64)
    if target and a.dtype == np.bool_:
        return a.astype(float_dtype)
    return a


def _to(a, dev):
    return a if device_of(a) == dev else to_device(a, dev)


def check_lengths(xs, y, who):
    lengths = [int(a.shape[0]) if a.ndim else None for a in xs]
    if any(n is None for n in lengths):
        raise ValueError(f"{who}: x must have a first (sample) dimension, got a 0-d array")
    if len(set(lengths)) != 1:
        raise ValueError(f"{who}: the inputs in x have different lengths {tuple(lengths)}")
    if y is not None:
        ny = int(y.shape[0]) if y.ndim else None
        if ny != lengths[0]:
            raise ValueError(f"{who}: x has {lengths[0]} samples but y has {ny}; they must be equal")
    return lengths[0]


class ArraySource:
    """Batches of in-memory arrays, shuffled per epoch from ``np.random.default_rng([seed, epoch, pass])``."""

    def __init__(self, xs, y, batch_size, dev, float_dtype, shuffle=False, seed=0):
        self.n = int(xs[0].shape[0])
        self.batch_size = int(batch_size)
        self.dev = dev
        self.shuffle = bool(shuffle)
        self.seed = int(seed)
        arrays = [cast_for_model(a, float_dtype) for a in xs]
        if y is not None:
            arrays.append(cast_for_model(y, float_dtype, target=True))
        # a host copy of integer targets lets the loss check class ranges without a device sync
        self.host_target = arrays[-1] if y is not None and isinstance(arrays[-1], np.ndarray) \
            and arrays[-1].dtype.kind in "iu" and dev.type != "cpu" else None
        if dev.type != "cpu" and sum(a.nbytes for a in arrays if isinstance(a, np.ndarray)) <= DEVICE_CACHE_BYTES:
            arrays = [_to(a, dev) for a in arrays]
        self.arrays = arrays
        self.has_target = y is not None

    def num_batches(self):
        return -(-self.n // self.batch_size)

    def batches(self, epoch=0, pass_=0):
        order = np.random.default_rng([self.seed, epoch, pass_]).permutation(self.n) if self.shuffle else None
        dev_order = {}
        for start in range(0, self.n, self.batch_size):
            stop = min(start + self.batch_size, self.n)
            parts = []
            for a in self.arrays:
                if order is None:
                    part = a[start:stop].copy()
                else:
                    key = device_of(a)
                    if key not in dev_order:
                        dev_order[key] = order if key.type == "cpu" else to_device(order, key)
                    part = a[dev_order[key][start:stop]]
                parts.append(Tensor._make(_to(part, self.dev)))
            if self.host_target is not None:
                host = self.host_target[start:stop] if order is None else self.host_target[order[start:stop]]
                index_checks.remember_host_copy(parts[-1].data, host)
            if self.has_target:
                yield tuple(parts[:-1]), parts[-1], stop - start
            else:
                yield tuple(parts), None, stop - start


def split_batch(batch, need_target):
    """(inputs tuple, target or None) from a loader batch: the last field is the target, the rest inputs."""
    if isinstance(batch, dict):
        raise TypeError("fit: dict batches are not supported; yield (inputs, targets) tuples")
    if isinstance(batch, (list, tuple)):
        if len(batch) == 0:
            raise ValueError("fit: the data loader yielded an empty batch")
        fields, target = (tuple(batch), None) if len(batch) == 1 else (tuple(batch[:-1]), batch[-1])
    else:
        fields, target = (batch,), None
    if need_target and target is None:
        raise ValueError("fit: each batch from the data loader must be (inputs, targets); got a single field")
    return fields, target


class LoaderSource:
    """Batches from a DataLoader (or any iterable of ``(inputs..., target)`` batches), moved to ``dev``."""

    def __init__(self, loader, dev, float_dtype, need_target=True):
        self.loader = loader
        self.dev = dev
        self.float_dtype = float_dtype
        self.need_target = need_target

    def num_batches(self):
        """Batches per pass, or None for a loader without ``len``."""
        try:
            return len(self.loader)
        except TypeError:
            return None

    def _prep(self, a, target=False):
        raw = cast_for_model(_raw(a, "batch"), self.float_dtype, target)
        out = Tensor._make(_to(raw, self.dev))
        if target and isinstance(raw, np.ndarray) and raw.dtype.kind in "iu" and self.dev.type != "cpu":
            index_checks.remember_host_copy(out.data, raw)  # class ranges checked on the host copy
        return out

    def batches(self, epoch=0, pass_=0):
        for batch in self.loader:
            fields, target = split_batch(batch, self.need_target)
            inputs = tuple(self._prep(f) for f in fields)
            tgt = None if target is None else self._prep(target, target=True)
            first = tgt if tgt is not None else inputs[0]
            yield inputs, tgt, int(first.shape[0]) if first.ndim else 1


def model_device(model):
    for t in model.parameters():
        return t.device
    for t in model.buffers():
        return t.device
    return CPU


def model_float_dtype(model):
    for t in model.parameters():
        if is_floating(t.dtype):
            return t.dtype
    from ..backend.dtypes import default_float
    return np.dtype(default_float)
