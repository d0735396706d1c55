"""Inverted dropout: zero each element with probability p and scale the rest by 1 / (1 - p) in training.

The generic path draws a Bernoulli mask from the device's generator and keeps it (as booleans) for the
backward. Fast path (deepcore.backend.fastpath) on the GPU, ``kernels/dropout.cu``: one kernel draws the
mask with a counter-based hash and multiplies, one kernel recomputes the mask in the backward. Its seed and
counter live on the device and the kernel itself advances the counter, so no step reads anything back to
the host and a replayed CUDA graph draws new masks; ``manual_seed`` makes the draws repeatable.
"""
from __future__ import annotations

import numbers

import numpy as np

from ..autograd import Function
from ..backend import device_of, fastpath, generator
from ..backend.random import register_device_stream
from ..tensor import Tensor
from . import _cuda
from ._util import as_tensor

__all__ = ["dropout"]


class Dropout(Function):
    """``x * keep / (1 - p)`` with a fresh Bernoulli(1 - p) mask; backward keeps only what regenerates it."""

    def forward(self, x):
        self.fast = fastpath.select("dropout", x, self.p)
        if self.fast is not None:
            y, saved = self.fast.forward(x, self.p, self.scale)
            self.save_for_backward(saved)
            return y
        xp = self._xp
        keep = xp.asarray(generator(device_of(x)).random(x.shape, dtype=np.float32) >= self.p)
        self.save_for_backward(keep)
        y = xp.asarray(x * keep)  # asarray: NumPy turns 0-d results into scalars
        y *= self.scale
        return y

    def backward(self, gy):
        (saved,) = self.saved_tensors
        if self.fast is not None:
            return self.fast.backward(gy, saved, self.p, self.scale)
        g = self._xp.asarray(gy * saved)
        g *= self.scale
        return g


class _DropoutCuda:
    """kernels/dropout.cu: the mask from a hash of (seed, counter), drawn and applied in one launch."""

    MAX_BLOCKS = 512                # grid-stride beyond: the kernel's ticket per block stays cheap
    _states: dict = {}              # device id -> (the generator it was seeded from, uint64 [seed, offset, ticket])

    @staticmethod
    def applies(x, p):
        return _cuda.floats(x) and x.flags.c_contiguous and x.size > 0

    @classmethod
    def state(cls, x):
        """The device's RNG state, seeded on the device from its generator (so ``manual_seed`` resets it)."""
        import cupy
        dev = device_of(x)
        gen = generator(dev)
        entry = cls._states.get(dev.index)
        if entry is None or entry[0] is not gen:
            with x.device:
                state = cupy.zeros((3,), dtype=np.uint64)
                state[:1] = gen.integers(0, 2**62, size=1, dtype=np.int64).astype(np.uint64)
            entry = cls._states[dev.index] = (gen, state)
        return entry[1]

    @staticmethod
    def _threshold(p):
        return np.uint32(min(int(round(p * 2.0**32)), 2**32 - 1))

    @classmethod
    def forward(cls, x, p, scale):
        import cupy
        y = cupy.empty_like(x)
        used = cupy.empty((2,), dtype=np.uint64)     # the seed and offset this launch drew with
        _cuda.launch_1d("dropout.cu", "dropout_fwd_" + _cuda.suffix(x.dtype), x, x.size,
                        (x, y, cls.state(x), used, np.int64(x.size), cls._threshold(p), _cuda.scalar(x.dtype, scale)),
                        max_blocks=cls.MAX_BLOCKS)
        return y, used

    @classmethod
    def backward(cls, gy, used, p, scale):
        import cupy
        gy = cupy.ascontiguousarray(gy).reshape(gy.shape)   # (ascontiguousarray makes 0-d arrays 1-d)
        gx = cupy.empty(gy.shape, dtype=gy.dtype)
        _cuda.launch_1d("dropout.cu", "dropout_bwd_" + _cuda.suffix(gy.dtype), gy, gy.size,
                        (gy, gx, used, np.int64(gy.size), cls._threshold(p), _cuda.scalar(gy.dtype, scale)))
        return gx


fastpath.override("dropout", "cuda", when=_DropoutCuda.applies)(_DropoutCuda)
register_device_stream("dropout", _DropoutCuda._states)  # saved by dc.get_rng_state()


def dropout(x, p=0.5, training=True):
    """Randomly zero elements of ``x`` with probability ``p`` during training; identity in evaluation or p=0."""
    if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 0.0 <= float(p) <= 1.0:
        raise ValueError(f"dropout: probability p must be in [0, 1], got {p!r}")
    x = x if isinstance(x, Tensor) else as_tensor(x)
    p = float(p)
    if not training or p == 0.0:
        return x
    return Dropout.apply(x, p=p, scale=0.0 if p == 1.0 else 1.0 / (1.0 - p))
