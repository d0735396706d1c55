"""``cupy.random`` on the emulated device: generators whose state lives "on the device".

A draw is one kernel launch and never synchronises; replaying a captured graph draws fresh numbers
(the generator state advances), as CuPy's device-side generators do.
"""
from __future__ import annotations

import numpy as np

from ._array import _poison, memory, _wrap
from ._runtime import runtime


class _BitGenerator:
    """Stands in for CuPy's XORWOW: as there, the whole state is one device array, ``_state`` (here NumPy's
    PCG64 state as six uint64 words), read and advanced by every draw, so copying it saves the stream."""

    def __init__(self, seed):
        self._state = _wrap(np.zeros(6, dtype=np.uint64))
        memory.malloc(self._state._a)
        self._store(np.random.PCG64(seed))

    def _load(self):
        w = [int(v) for v in self._state._a]
        pcg = np.random.PCG64()
        pcg.state = {"bit_generator": "PCG64", "state": {"state": (w[0] << 64) | w[1], "inc": (w[2] << 64) | w[3]},
                     "has_uint32": w[4], "uinteger": w[5]}
        return pcg

    def _store(self, pcg):
        st, m = pcg.state, (1 << 64) - 1
        s, inc = st["state"]["state"], st["state"]["inc"]
        self._state._a[...] = [s >> 64, s & m, inc >> 64, inc & m, st["has_uint32"], st["uinteger"]]


class Generator:
    """cupy.random.Generator (its default bit generator is XORWOW; here NumPy's PCG64 stands in)."""

    def __init__(self, bit_generator):
        self.bit_generator = _BitGenerator(bit_generator)

    def _draw(self, name, fn, shape, dtype):
        out = np.empty(() if shape is None else shape, dtype=dtype)
        memory.malloc(out)
        bits = self.bit_generator

        def draw():
            pcg = bits._load()
            self._rng = np.random.Generator(pcg)
            out[...] = fn()
            bits._store(pcg)

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
