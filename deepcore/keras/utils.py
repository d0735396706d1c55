"""``keras.utils``: ``to_categorical``, ``normalize``, ``pad_sequences``, ``set_random_seed``."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from .backend import set_random_seed  # noqa: F401


def to_categorical(x, num_classes=None):
    """One-hot encode integer class labels: shape ``x.shape + (num_classes,)`` (a trailing axis of 1 dropped),
    float64 as Keras 3 returns for NumPy input. ``num_classes`` defaults to ``max(x) + 1``."""
    x = np.asarray(x)
    if x.dtype.kind == "f":
        if not np.all(np.equal(np.mod(x, 1), 0)):
            raise ValueError("to_categorical: labels must be integers")
        x = x.astype(np.int64)
    if x.dtype.kind not in "iu":
        raise TypeError(f"to_categorical: expected integer labels, got dtype {x.dtype}")
    shape = x.shape
    if len(shape) > 1 and shape[-1] == 1:
        shape = shape[:-1]
    flat = x.reshape(-1)
    if num_classes is None:
        num_classes = int(flat.max()) + 1 if flat.size else 0
    if flat.size and (flat.min() < 0 or flat.max() >= num_classes):
        raise ValueError(f"to_categorical: labels must be in [0, {num_classes}), got values in "
                         f"[{int(flat.min())}, {int(flat.max())}]")
    out = np.zeros((flat.size, num_classes), dtype=np.float64)
    out[np.arange(flat.size), flat] = 1
    return out.reshape(shape + (num_classes,))


def normalize(x, axis=-1, order=2):
    """``x`` divided by its ``order``-norm along ``axis`` (zero vectors stay zero)."""
    x = np.asarray(x)
    norm = np.atleast_1d(np.linalg.norm(x, order, axis))
    norm[norm == 0] = 1
    return x / np.expand_dims(norm, axis)


def pad_sequences(sequences, maxlen=None, dtype="int32", padding="pre", truncating="pre", value=0.0):
    """Lists of integer sequences as a ``(N, maxlen)`` array, padded (and truncated) before or after."""
    if padding not in ("pre", "post") or truncating not in ("pre", "post"):
        raise ValueError("pad_sequences: padding and truncating must be 'pre' or 'post'")
    seqs = [list(s) for s in sequences]
    if maxlen is None:
        maxlen = max((len(s) for s in seqs), default=0)
    out = np.full((len(seqs), maxlen), value, dtype=dtype)
    for i, s in enumerate(seqs):
        if not s or maxlen == 0:
            continue
        s = s[-maxlen:] if truncating == "pre" else s[:maxlen]
        if padding == "post":
            out[i, :len(s)] = s
        else:
            out[i, -len(s):] = s
    return out


np_utils = SimpleNamespace(to_categorical=to_categorical, normalize=normalize)  # Keras 1/2: keras.utils.np_utils
