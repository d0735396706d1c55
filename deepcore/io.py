"""Saving and loading tensors, arrays and (nested) state dicts as ``.npz``, with atomic writes.

Arrays are stored as ``.npy`` entries and the surrounding structure (dicts with any JSON-scalar or tuple
keys, lists, tuples, Python and NumPy scalars, strings) as one JSON entry, so nothing is pickled and a
file loads with ``allow_pickle=False``. Writes go to a temporary file beside the target, then
``os.replace``: a crash never leaves a half-written file, and a failed save keeps the previous one.
"""
from __future__ import annotations

import contextlib
import json
import os
import struct
import tempfile
import zipfile
import zlib

import numpy as np

from .backend import CPU, cupy_module, to_device
from .backend import device as as_device
from .backend.dtypes import as_dtype, is_floating
from .tensor import Tensor

__all__ = ["save", "load", "atomic_write"]

_STRUCTURE = "__deepcore_structure__"
_FORMAT = "deepcore.npz"
_VERSION = 1


# --- atomic writes ---------------------------------------------------------------------------------
@contextlib.contextmanager
def atomic_write(path, mode="wb", **open_kw):
    """Context manager yielding a file open on a temp file beside ``path``; renamed onto ``path`` on success.

    On any exception the temp file is removed and an existing file at ``path`` is left untouched.
    ``mode`` is ``"wb"`` or ``"w"`` (text, with ``open_kw`` such as ``encoding=``/``newline=``).
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_write: mode must be 'w' or 'wb', got {mode!r}")
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"cannot write {path!r}: directory {directory!r} does not exist")
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=directory)
    try:
        try:
            f = os.fdopen(fd, mode, **open_kw)
        except BaseException:
            os.close(fd)
            raise
        with f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        _chmod_like_open(tmp, path)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(directory)


def _chmod_like_open(tmp, path):
    """mkstemp makes files 0600; give the result the mode a plain ``open`` (or the old file) would have."""
    try:
        mode = os.stat(path).st_mode & 0o777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    with contextlib.suppress(OSError):
        os.chmod(tmp, mode)


def _fsync_dir(directory):
    """Make the rename durable (POSIX); a no-op where directories cannot be opened (Windows)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# --- encoding --------------------------------------------------------------------------------------
def _host(array):
    """A host NumPy copy/view of a numpy or cupy array."""
    cp = cupy_module()
    if cp is not None and isinstance(array, cp.ndarray):
        return cp.asnumpy(array)
    return array


def _encode(obj, arrays, where):
    """JSON-able description of ``obj``; arrays are appended to ``arrays`` and referred to by index."""
    cp = cupy_module()
    if isinstance(obj, Tensor):
        return {"tensor": _add_array(obj.numpy(), arrays, where), "requires_grad": bool(obj.requires_grad)}
    if isinstance(obj, np.ndarray) or (cp is not None and isinstance(obj, cp.ndarray)):
        return {"ndarray": _add_array(_host(obj), arrays, where)}
    if isinstance(obj, np.generic):  # before float: np.float64 is a float subclass
        if obj.dtype.kind not in "biuf":
            raise TypeError(f"save: cannot store NumPy scalar of dtype {obj.dtype} at {where}")
        return {"scalar": obj.item(), "dtype": obj.dtype.str}
    if obj is None or isinstance(obj, (bool, str, int, float)):
        return obj
    if isinstance(obj, np.dtype):
        return {"dtype": str(obj)}
    if isinstance(obj, list):
        return [_encode(v, arrays, f"{where}[{i}]") for i, v in enumerate(obj)]
    if isinstance(obj, tuple):
        return {"tuple": [_encode(v, arrays, f"{where}[{i}]") for i, v in enumerate(obj)]}
    if isinstance(obj, dict):
        return {"dict": [[_encode_key(k, where), _encode(v, arrays, f"{where}[{k!r}]")] for k, v in obj.items()]}
    raise TypeError(f"save: cannot store an object of type {type(obj).__name__} at {where}; supported: "
                    "Tensor, NumPy/CuPy array, dict, list, tuple, str, int, float, bool, None")


def _encode_key(key, where):
    if key is None or isinstance(key, (bool, str, int, float)):
        return key
    if isinstance(key, np.integer):
        return int(key)
    if isinstance(key, tuple):
        return {"tuple": [_encode_key(k, where) for k in key]}
    raise TypeError(f"save: dict key {key!r} at {where} has type {type(key).__name__}; keys must be str, int, "
                    "float, bool, None or tuples of these")


def _add_array(array, arrays, where):
    if _is_bfloat16(array.dtype):  # ml_dtypes' bfloat16 has no .npy type code: store its bits
        arrays.append(array.view(np.uint16))
        return [len(arrays) - 1, "bfloat16"]
    if array.dtype.kind not in "biufcUSmM":
        raise TypeError(f"save: cannot store an array of dtype {array.dtype} at {where} without pickle")
    arrays.append(array)
    return [len(arrays) - 1, array.dtype.str]


def _is_bfloat16(dtype):
    return dtype.kind == "V" and dtype.itemsize == 2 and str(dtype) == "bfloat16"


# --- decoding --------------------------------------------------------------------------------------
class _Corrupt(Exception):
    pass


def _decode(node, arrays, dev):
    if node is None or isinstance(node, (bool, str, int, float)):
        return node
    if isinstance(node, list):
        return [_decode(v, arrays, dev) for v in node]
    if not isinstance(node, dict) or len(node) == 0:
        raise _Corrupt(f"unexpected structure node {node!r}")
    if "tensor" in node:
        t = Tensor._make(to_device(_get_array(node["tensor"], arrays), dev))
        if node.get("requires_grad") and is_floating(t.dtype):
            t.requires_grad_(True)
        return t
    if "ndarray" in node:
        return _get_array(node["ndarray"], arrays)
    if "tuple" in node:
        return tuple(_decode(v, arrays, dev) for v in node["tuple"])
    if "dict" in node:
        return {_decode_key(k): _decode(v, arrays, dev) for k, v in node["dict"]}
    if "scalar" in node:
        return np.dtype(node["dtype"]).type(node["scalar"])
    if "dtype" in node:
        return as_dtype(node["dtype"]) if node["dtype"] == "bfloat16" else np.dtype(node["dtype"])
    raise _Corrupt(f"unexpected structure node {node!r}")


def _decode_key(key):
    if isinstance(key, dict):
        return tuple(_decode_key(k) for k in key["tuple"])
    return key


def _get_array(ref, arrays):
    index, dtype = ref
    array = arrays[f"a{index}"]
    if dtype == "bfloat16":
        return array.view(as_dtype("bfloat16"))
    if array.dtype.str != dtype:
        raise _Corrupt(f"entry a{index} has dtype {array.dtype}, the structure says {dtype}")
    return array


# --- public API ------------------------------------------------------------------------------------
def save(obj, path, compress=False) -> None:
    """Save a Tensor, array or nested dict/list/tuple of them (e.g. a state dict) to ``path`` as ``.npz``.

    The file is written exactly at ``path`` (no suffix is added), atomically. Tensors on a GPU are stored
    via host copies. ``compress=True`` uses zip deflate.
    """
    arrays = []
    root = _encode(obj, arrays, "the top level")  # validate everything before touching the disk
    meta = json.dumps({"format": _FORMAT, "version": _VERSION, "root": root}, allow_nan=True)
    entries = {f"a{i}": a for i, a in enumerate(arrays)}
    entries[_STRUCTURE] = np.frombuffer(meta.encode("utf-8"), dtype=np.uint8)
    writer = np.savez_compressed if compress else np.savez
    if hasattr(path, "write"):
        writer(path, **entries)
        return
    with atomic_write(path) as f:
        writer(f, **entries)


def load(path, device=None):
    """Load what ``save`` wrote; Tensors come back on ``device`` (default cpu), arrays as NumPy arrays.

    A missing file raises FileNotFoundError and a corrupt or truncated one ValueError, both naming the
    path. A plain ``.npz`` not written by deepcore loads as a dict of name -> Tensor.
    """
    dev = as_device(device) if device is not None else CPU
    if not hasattr(path, "read"):
        path = os.fspath(path)
        if not os.path.exists(path):
            raise FileNotFoundError(f"no such file: {path!r}")
    try:
        npz = np.load(path, allow_pickle=False)
        if not hasattr(npz, "files"):
            raise _Corrupt("a single .npy array, not an .npz archive")
        with npz:
            arrays = {name: npz[name] for name in npz.files}
        if _STRUCTURE not in arrays:
            return {name: Tensor._make(to_device(a, dev)) for name, a in arrays.items()}
        meta = json.loads(arrays.pop(_STRUCTURE).tobytes().decode("utf-8"))
        if not isinstance(meta, dict) or meta.get("format") != _FORMAT or "root" not in meta:
            raise _Corrupt("structure entry is not deepcore's")
        if meta.get("version", 0) > _VERSION:
            raise _Corrupt(f"written by a newer deepcore (format version {meta['version']})")
        return _decode(meta["root"], arrays, dev)
    except (_Corrupt, ValueError, KeyError, IndexError, TypeError, EOFError, zipfile.BadZipFile, zlib.error,
            struct.error, UnicodeDecodeError) as e:
        name = path if isinstance(path, str) else getattr(path, "name", repr(path))
        raise ValueError(f"{name!r} is not a valid deepcore .npz file (corrupt or truncated): "
                         f"{type(e).__name__}: {e}") from e
