"""``keras.initializers``: Keras's weight initializers, drawn from deepcore's generator (``dc.manual_seed``).

Fans follow Keras: for a kernel of shape ``(..., in, out)`` (Dense ``(in, out)``, Conv2D ``(kh, kw, in, out)``)
``fan_in = prod(shape[:-1])`` and ``fan_out = prod(shape[:-2]) * out``. An initializer is called as
``init(shape, dtype="float32")`` and returns a NumPy array (layers move it to their device).
"""
from __future__ import annotations

import math

import numpy as np

from ..backend import generator


def _fans(shape):
    shape = tuple(int(s) for s in shape)
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = int(np.prod(shape[:-2]))
    return shape[-2] * receptive, shape[-1] * receptive


class Initializer:
    """Base class: ``__call__(shape, dtype)`` -> NumPy array."""

    def __init__(self, seed=None):
        self.seed = seed

    def _rng(self):
        if self.seed is None:
            return generator()
        return np.random.default_rng(self.seed)

    def __call__(self, shape, dtype="float32"):
        raise NotImplementedError

    def get_config(self):
        return {"seed": self.seed}

    def __repr__(self):
        return f"{type(self).__name__}()"


class Zeros(Initializer):
    def __call__(self, shape, dtype="float32"):
        return np.zeros(shape, dtype=dtype)


class Ones(Initializer):
    def __call__(self, shape, dtype="float32"):
        return np.ones(shape, dtype=dtype)


class Constant(Initializer):
    def __init__(self, value=0.0):
        super().__init__()
        self.value = value

    def __call__(self, shape, dtype="float32"):
        return np.full(shape, self.value, dtype=dtype)


class RandomUniform(Initializer):
    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        super().__init__(seed)
        self.minval, self.maxval = minval, maxval

    def __call__(self, shape, dtype="float32"):
        return self._rng().uniform(self.minval, self.maxval, size=shape).astype(dtype)


class RandomNormal(Initializer):
    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        super().__init__(seed)
        self.mean, self.stddev = mean, stddev

    def __call__(self, shape, dtype="float32"):
        return self._rng().normal(self.mean, self.stddev, size=shape).astype(dtype)


def _truncated(rng, shape, mean, stddev):
    """Normal samples redrawn until within two standard deviations of the mean."""
    out = rng.normal(0.0, 1.0, size=shape)
    bad = np.abs(out) > 2.0
    while bad.any():
        out[bad] = rng.normal(0.0, 1.0, size=int(bad.sum()))
        bad = np.abs(out) > 2.0
    return out * stddev + mean


class TruncatedNormal(Initializer):
    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        super().__init__(seed)
        self.mean, self.stddev = mean, stddev

    def __call__(self, shape, dtype="float32"):
        return _truncated(self._rng(), shape, self.mean, self.stddev).astype(dtype)


class VarianceScaling(Initializer):
    """Samples with variance ``scale / n`` where ``n`` is fan_in, fan_out or their average (``mode``)."""

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None):
        super().__init__(seed)
        if mode not in ("fan_in", "fan_out", "fan_avg"):
            raise ValueError(f"VarianceScaling: mode must be 'fan_in', 'fan_out' or 'fan_avg', got {mode!r}")
        if distribution not in ("truncated_normal", "untruncated_normal", "normal", "uniform"):
            raise ValueError(f"VarianceScaling: unknown distribution {distribution!r}")
        self.scale, self.mode, self.distribution = float(scale), mode, distribution

    def __call__(self, shape, dtype="float32"):
        fan_in, fan_out = _fans(shape)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[self.mode]
        var = self.scale / max(1.0, n)
        rng = self._rng()
        if self.distribution == "uniform":
            limit = math.sqrt(3.0 * var)
            return rng.uniform(-limit, limit, size=shape).astype(dtype)
        if self.distribution == "truncated_normal":
            # 0.8796... is the standard deviation of a unit normal truncated to [-2, 2]
            return _truncated(rng, shape, 0.0, math.sqrt(var) / 0.87962566103423978).astype(dtype)
        return rng.normal(0.0, math.sqrt(var), size=shape).astype(dtype)


class GlorotUniform(VarianceScaling):
    def __init__(self, seed=None):
        super().__init__(1.0, "fan_avg", "uniform", seed)


class GlorotNormal(VarianceScaling):
    def __init__(self, seed=None):
        super().__init__(1.0, "fan_avg", "truncated_normal", seed)


class HeUniform(VarianceScaling):
    def __init__(self, seed=None):
        super().__init__(2.0, "fan_in", "uniform", seed)


class HeNormal(VarianceScaling):
    def __init__(self, seed=None):
        super().__init__(2.0, "fan_in", "truncated_normal", seed)


class LecunUniform(VarianceScaling):
    def __init__(self, seed=None):
        super().__init__(1.0, "fan_in", "uniform", seed)


class LecunNormal(VarianceScaling):
    def __init__(self, seed=None):
        super().__init__(1.0, "fan_in", "truncated_normal", seed)


class Orthogonal(Initializer):
    """A (semi-)orthogonal matrix over ``(prod(shape[:-1]), shape[-1])``, times ``gain``."""

    def __init__(self, gain=1.0, seed=None):
        super().__init__(seed)
        self.gain = float(gain)

    def __call__(self, shape, dtype="float32"):
        rows, cols = int(np.prod(shape[:-1])), int(shape[-1])
        a = self._rng().normal(0.0, 1.0, size=(max(rows, cols), min(rows, cols)))
        q, r = np.linalg.qr(a)
        q = q * np.sign(np.diag(r))
        if rows < cols:
            q = q.T
        return (self.gain * q[:rows, :cols]).reshape(shape).astype(dtype)


class Identity(Initializer):
    def __init__(self, gain=1.0):
        super().__init__()
        self.gain = gain

    def __call__(self, shape, dtype="float32"):
        if len(shape) != 2:
            raise ValueError(f"Identity initializer needs a 2-D shape, got {tuple(shape)}")
        return (self.gain * np.eye(*shape)).astype(dtype)


_BY_NAME = {
    "zeros": Zeros, "zero": Zeros, "ones": Ones, "one": Ones, "constant": Constant,
    "random_uniform": RandomUniform, "uniform": RandomUniform, "random_normal": RandomNormal,
    "normal": RandomNormal, "truncated_normal": TruncatedNormal, "variance_scaling": VarianceScaling,
    "glorot_uniform": GlorotUniform, "glorot_normal": GlorotNormal, "he_uniform": HeUniform,
    "he_normal": HeNormal, "lecun_uniform": LecunUniform, "lecun_normal": LecunNormal,
    "orthogonal": Orthogonal, "identity": Identity,
}


def get(identifier):
    """An initializer from a name (``"glorot_uniform"``), an Initializer, a callable ``fn(shape, dtype)``."""
    if isinstance(identifier, str):
        key = identifier.strip().lower()
        if key not in _BY_NAME:
            raise ValueError(f"unknown initializer {identifier!r}; accepted: {', '.join(sorted(_BY_NAME))}")
        return _BY_NAME[key]()
    if isinstance(identifier, type) and issubclass(identifier, Initializer):
        return identifier()
    if callable(identifier):
        return identifier
    raise TypeError(f"initializer must be a name, an Initializer or a callable, got {type(identifier).__name__}")
