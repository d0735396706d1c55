"""``a * x + b`` with Python-number ``a``, ``b`` as one op (hyper-parameters, not tensors).

``tensor * 2.0`` turns the number into a device array (a host-to-device copy), which a CUDA-graph capture
(``fit(capture=True)``) refuses; this op keeps the numbers on the host and passes them to the kernel.
"""
from __future__ import annotations

from ..autograd import Function


class _Affine(Function):
    def forward(self, x):
        y = x * self.a if self.a != 1.0 else x.copy()
        if self.b:
            y += self.b
        return y.astype(x.dtype, copy=False)

    def backward(self, gy):
        return gy * self.a if self.a != 1.0 else gy


def affine(x, a=1.0, b=0.0):
    """``a * x + b`` for Python numbers ``a`` and ``b``."""
    return _Affine.apply(x, a=float(a), b=float(b))


def scale(x, a):
    return affine(x, a, 0.0)


# --- the logits behind a softmax/sigmoid output -------------------------------------------------------------
# A Dense(..., activation="softmax") output remembers its logits, so categorical/binary cross-entropy on it
# can run as one fused op from the logits (as TensorFlow's Keras does), instead of renormalising, clipping
# and taking the log of the probabilities. The results differ only where a probability is below Keras's
# clipping epsilon (1e-7). Tensors have __slots__, hence a side table keyed by id and cleaned by weakref.
_LOGITS: dict = {}


def remember_logits(out, logits, kind):
    """Record that ``out`` is ``softmax(logits)`` (``kind="softmax"``) or ``sigmoid(logits)``."""
    import weakref
    key = id(out)
    _LOGITS[key] = (weakref.ref(out, lambda _, key=key: _LOGITS.pop(key, None)), logits, kind)
    return out


def logits_of(t, kind):
    """The logits ``t`` was computed from by a ``kind`` activation, or None."""
    entry = _LOGITS.get(id(t))
    if entry is None or entry[0]() is not t or entry[2] != kind:
        return None
    return entry[1]
