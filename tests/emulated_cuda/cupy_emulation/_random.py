"""``cupy.random`` on the emulated device: generators whose state lives "on the device".

A draw is one kernel launch and never synchronises; replaying a captured graph draws fresh numbers
(the generator state advances), as CuPy's device-side generators do.
"""
from __future__ import annotations

import numpy as np

from ._array import _poison, memory, _wrap
from ._runtime import runtime


class Generator:
    """cupy.random.Generator (its default bit generator is XORWOW; here NumPy's PCG64 stands in)."""

    def __init__(self, bit_generator):
        self._rng = np.random.default_rng(bit_generator)

    def _draw(self, name, fn, shape, dtype):
        out = np.empty(() if shape is None else shape, dtype=dtype)
        memory.malloc(out)

        def draw():
            out[...] = fn()

        if runtime.capture is not None:
            _poison(out)
            runtime.launch(f"Generator.{name}", draw)
        else:
            runtime.launch(f"Generator.{name}", draw)
        return _wrap(out)

    def random(self, size=None, dtype=np.float64, out=None):
        dtype = np.dtype(dtype)
        if dtype not in (np.float32, np.float64):
            raise TypeError(f"Unsupported dtype {dtype.name} for random")
        return self._draw("random", lambda: self._rng.random(size, dtype=dtype), size, dtype)

    def standard_normal(self, size=None, dtype=np.float64, out=None):
        dtype = np.dtype(dtype)
        if dtype not in (np.float32, np.float64):
            raise TypeError(f"Unsupported dtype {dtype.name} for standard_normal")
        return self._draw("standard_normal", lambda: self._rng.standard_normal(size, dtype=dtype), size, dtype)

    def uniform(self, low=0.0, high=1.0, size=None, dtype=np.float64):
        dtype = np.dtype(dtype)
        return self._draw("uniform", lambda: self._rng.uniform(low, high, size).astype(dtype), size, dtype)

    def integers(self, low, high=None, size=None, dtype=np.int64, endpoint=False):
        dtype = np.dtype(dtype)
        return self._draw("integers", lambda: self._rng.integers(low, high, size, dtype=dtype,
                                                                  endpoint=endpoint), size, dtype)


def default_rng(seed=None):
    return Generator(seed)
