"""Saving and loading tensors and (nested) state dicts, with atomic writes; three file formats.

- ``.npz`` (the default): arrays as ``.npy`` entries and the surrounding structure (dicts with any
  JSON-scalar or tuple keys, lists, tuples, Python and NumPy scalars, strings) as one JSON entry, so
  nothing is pickled and a file loads with ``allow_pickle=False``.
- ``.pt``/``.pth``/``.bin``: PyTorch's ``torch.save`` format, read by a restricted unpickler that never
  runs code from the file and written so that ``torch.load(..., weights_only=True)`` reads it
  (``deepcore.formats``); torch itself is not needed.
- ``.safetensors``: a flat dict of name -> tensor, via the ``safetensors`` package.

``save`` picks the format by the path's suffix; ``load`` by the file's content, so a file loads whatever
it is called. Writes go to a temporary file beside the target (through a symlink: beside the link's
target), then ``os.replace``: a crash never leaves a half-written file, and a failed save keeps the
previous one.
"""
from __future__ import annotations

import contextlib
import json
import os
import pickle
import struct
import tempfile
import zipfile
import zlib

import numpy as np

from .backend import CPU, cupy_module, to_device
from .backend import device as as_device
from .backend.dtypes import as_dtype, is_floating
from .formats import safetensors_io, torch_read, torch_write
from .formats.errors import CorruptFileError, UnsafeFileError
from .tensor import Tensor

__all__ = ["atomic_path", "atomic_write", "load", "save"]

_TORCH_SUFFIXES = (".pt", ".pth", ".bin")
_SAFETENSORS_SUFFIXES = (".safetensors",)

_STRUCTURE = "__deepcore_structure__"
_FORMAT = "deepcore.npz"
_VERSION = 1


# --- atomic writes ---------------------------------------------------------------------------------
@contextlib.contextmanager
def atomic_path(path):
    """Context manager yielding the name of a temp file beside ``path``; renamed onto ``path`` on success.

    For writers that need a file name (h5py). A symlink at ``path`` is written through: the temp file goes
    beside the link's target and replaces the target, so the link stays a link. On any exception the temp
    file is removed and an existing file at ``path`` is left untouched.
    """
    target = os.path.realpath(os.fspath(path))
    directory = os.path.dirname(target)
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"cannot write {os.fspath(path)!r}: directory {directory!r} does not exist")
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(target) + ".", suffix=".tmp", dir=directory)
    os.close(fd)
    try:
        yield tmp
        _fsync_file(tmp)
        _chmod_like_open(tmp, target)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(directory)


@contextlib.contextmanager
def atomic_write(path, mode="wb", **open_kw):
    """Context manager yielding a file open on a temp file beside ``path``; renamed onto ``path`` on success.

    As ``atomic_path`` (symlinks written through, nothing left behind on failure). ``mode`` is ``"wb"`` or
    ``"w"`` (text, with ``open_kw`` such as ``encoding=``/``newline=``).
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_write: mode must be 'w' or 'wb', got {mode!r}")
    with atomic_path(path) as tmp, open(tmp, mode, **open_kw) as f:
        yield f


def _fsync_file(name):
    """Flush the written file to disk before the rename makes it visible."""
    fd = os.open(name, os.O_RDWR)  # Windows' fsync needs write access
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


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


# --- choosing a format --------------------------------------------------------------------------
def _suffix(path):
    name = getattr(path, "name", "") if hasattr(path, "write") else os.fspath(path)
    return os.path.splitext(name)[1].lower() if isinstance(name, str) else ""


def _host_array(value):
    """``(host array, requires_grad)`` of a Tensor or NumPy/CuPy array, None for anything else."""
    if isinstance(value, Tensor):
        return _host(value.data), bool(value.requires_grad)
    cp = cupy_module()
    if isinstance(value, np.ndarray) or (cp is not None and isinstance(value, cp.ndarray)):
        return _host(value), False
    return None


def _tensor_maker(dev):
    def make(array, requires_grad):
        t = Tensor._make(to_device(array, dev))
        if requires_grad and is_floating(t.dtype):
            t.requires_grad_(True)
        return t
    return make


def _sniff(f, name):
    """``"zip"`` (torch or npz), ``"npz"``, ``"torch-legacy"`` or ``"safetensors"`` from the first bytes."""
    start = f.tell()
    head = f.read(16)
    f.seek(start)
    if head.startswith(b"PK"):
        return "zip"
    if head.startswith(b"\x93NUMPY"):
        return "npz"  # a lone .npy: np.load explains
    if head.startswith(b"\x80"):
        return "torch-legacy"
    if len(head) >= 9 and head[8:9] == b"{":
        return "safetensors"
    if not head:
        raise ValueError(f"{name!r} is empty: not a file dc.load reads")
    raise ValueError(f"{name!r} is not a file dc.load reads: expected a deepcore .npz, a PyTorch .pt/.pth/.bin "
                     f"(torch.save) or a .safetensors file; it starts with {head!r}")


# --- public API ------------------------------------------------------------------------------------
def save(obj, path, compress=False) -> None:
    """Save a Tensor, array or nested dict/list/tuple of them (e.g. a state dict) to ``path``, atomically.

    The suffix picks the format: ``.pt``/``.pth``/``.bin`` write PyTorch's ``torch.save`` format (arrays and
    Tensors become torch tensors, NumPy scalars Python numbers), ``.safetensors`` a flat dict of name ->
    tensor, anything else (or a file object without a name) ``.npz``. The file is written exactly at
    ``path`` (no suffix is added). Tensors on a GPU are stored via host copies. ``compress=True`` uses zip
    deflate (``.npz`` only). Everything is checked before the disk is touched.
    """
    suffix = _suffix(path)
    if suffix in _TORCH_SUFFIXES or suffix in _SAFETENSORS_SUFFIXES:
        if compress:
            raise ValueError(f"save: compress=True applies to .npz files, not {suffix}")
        if suffix in _TORCH_SUFFIXES:
            pickled, storages = torch_write.encode(obj, _host_array)

            def write(f):
                torch_write.write_zip(pickled, storages, f)
        else:
            data = safetensors_io.encode(obj, _host_array)

            def write(f):
                f.write(data)
    else:
        arrays = []
        root = _encode(obj, arrays, "the top level")  # validate everything before touching the disk
        meta = json.dumps({"format": _FORMAT, "version": _VERSION, "root": root}, allow_nan=True)
        entries = {f"a{i}": a for i, a in enumerate(arrays)}
        entries[_STRUCTURE] = np.frombuffer(meta.encode("utf-8"), dtype=np.uint8)
        writer = np.savez_compressed if compress else np.savez

        def write(f):
            writer(f, **entries)
    if hasattr(path, "write"):
        write(path)
        return
    with atomic_write(path) as f:
        write(f)


def load(path, device=None):
    """Load a file ``save`` wrote, a PyTorch ``torch.save`` file or a ``.safetensors`` file (told apart by
    content); Tensors come back on ``device`` (default cpu), arrays from ``.npz`` as NumPy arrays.

    A PyTorch file is read without torch and without running pickled code: only tensors, containers and
    plain values are accepted (anything else raises ``ValueError`` naming it, before it could run), and its
    tensors keep their storage offsets and strides (views of one storage stay views of one array). A
    missing file raises FileNotFoundError and a corrupt, truncated or foreign one ValueError, both naming
    the path. A plain ``.npz`` not written by deepcore loads as a dict of name -> Tensor.
    """
    dev = as_device(device) if device is not None else CPU
    if hasattr(path, "read"):
        return _load_from(path, getattr(path, "name", None) or repr(path), dev)
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no such file: {path!r}")
    with open(path, "rb") as f:
        return _load_from(f, path, dev)


def _load_from(f, name, dev):
    kind = _sniff(f, name)
    label = {"npz": "deepcore .npz", "safetensors": ".safetensors"}.get(kind, "PyTorch")
    where = repr(name)
    try:
        if kind == "zip":
            label = "PyTorch" if _suffix(name) in _TORCH_SUFFIXES else "deepcore .npz"
            start = f.tell()
            with zipfile.ZipFile(f) as archive:
                if torch_read.zip_root(archive.namelist()) is not None:
                    label = "PyTorch"
                    return torch_read.read_zip(archive, where, _tensor_maker(dev))
            f.seek(start)
            label = "deepcore .npz"
            return _load_npz(f, dev)
        if kind == "torch-legacy":
            return torch_read.read_legacy(f, where, _tensor_maker(dev))
        if kind == "safetensors":
            return safetensors_io.decode(f.read(), where, _tensor_maker(dev))
        return _load_npz(f, dev)
    except (UnsafeFileError, CorruptFileError):
        raise
    except (_Corrupt, ValueError, KeyError, IndexError, TypeError, AttributeError, EOFError, OverflowError,
            RecursionError, pickle.UnpicklingError, zipfile.BadZipFile, zlib.error, struct.error,
            UnicodeDecodeError) as e:
        raise ValueError(f"{name!r} is not a valid {label} file (corrupt or truncated): "
                         f"{type(e).__name__}: {e}") from e


def _load_npz(f, dev):
    npz = np.load(f, allow_pickle=False)
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
