"""Read PyTorch ``torch.save`` files without torch and without running any code the file names.

A pickle can call any importable function while it loads, so this module's unpickler resolves only the
few names a state dict needs, each to a local stand-in that builds data and calls nothing else:
``torch._utils._rebuild_tensor_v2``/``_v3``/``_rebuild_parameter`` (tensors), ``torch.*Storage`` and
``torch.<dtype>`` (markers), ``collections.OrderedDict``, ``torch.Size`` and ``_codecs.encode`` (how
protocol 2 spells ``bytes``); uint16/32/64 tensors, a dtype deepcore tensors lack, come back as NumPy
arrays. Any other name is refused before anything is called, with an error naming
it. Objects the unpickler builds are immutable records; after loading, one walk turns them into the
caller's tensors and rejects anything that is not a tensor, a container or a plain value.

Two layouts (facts of the format): the zip archive torch writes since 1.6 (``<root>/data.pkl``, one
record ``<root>/data/<key>`` per storage, ``<root>/byteorder``), and the legacy stream (pickles of a magic
number, a protocol version and system info, then the object, then the list of storage keys, then per
key an int64 element count and the raw bytes). Tensors reference storages by persistent id
``('storage', storage_type, key, location, numel[, view_metadata])``. Little-endian data only.
"""
from __future__ import annotations

import collections
import io
import pickle
import struct
import sys
import zipfile
from typing import NamedTuple

import numpy as np

from . import torch_dtypes as _dt
from .errors import CorruptFileError, UnsafeFileError

__all__ = ["read_legacy", "read_zip", "zip_root"]

_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_PROTOCOL = 1001


# --- immutable records the unpickler builds (no __dict__, no settable slots: BUILD cannot alter them) ----
class _Global(NamedTuple):
    """A storage class (``kind='storage'``) or a dtype (``kind='dtype'``) the file named."""
    kind: str
    name: str
    dtype: np.dtype


class _Storage(NamedTuple):
    """One storage: its flat array of ``numel`` elements (None while storages are only being listed)."""
    key: str
    dtype: np.dtype
    array: object


class _TensorRecord(NamedTuple):
    array: np.ndarray
    requires_grad: bool


def _check_host():
    if sys.byteorder != "little":
        raise CorruptFileError("reading PyTorch files needs a little-endian machine; this one is big-endian")


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _overlaps(size, stride):
    """True unless the view provably gives every index its own element (a stride 0 from ``expand`` does
    not); conservative: rare interleaved layouts also count as overlapping."""
    dims = sorted((st, s) for s, st in zip(size, stride) if s > 1)
    reach = 0  # largest offset reachable through the dims seen so far
    for st, s in dims:
        if st <= reach:
            return True
        reach += (s - 1) * st
    return False


def _strided(storage, offset, size, stride, where):
    """The view ``(offset, size, stride)`` (in elements) of ``storage``'s flat array, bounds checked."""
    if not isinstance(storage, _Storage):
        raise CorruptFileError(f"{where}: a tensor's storage is a {type(storage).__name__}, not a storage")
    if not (_is_int(offset) and offset >= 0 and isinstance(size, tuple) and isinstance(stride, tuple)
            and len(size) == len(stride) and all(_is_int(s) and s >= 0 for s in size)
            and all(_is_int(s) and s >= 0 for s in stride)):
        raise CorruptFileError(f"{where}: bad tensor geometry offset={offset!r} size={size!r} stride={stride!r}")
    if storage.array is None:  # only listing storages (legacy format, first pass)
        return None
    flat = storage.array
    if 0 in size:
        return np.empty(size, dtype=flat.dtype)
    end = offset + sum((s - 1) * st for s, st in zip(size, stride)) + 1
    if end > flat.size:
        raise CorruptFileError(f"{where}: a tensor of size {size} with stride {stride} at offset {offset} "
                               f"reaches element {end - 1} of storage {storage.key!r}, which holds {flat.size}")
    view = np.lib.stride_tricks.as_strided(flat[offset:], shape=size,
                                           strides=tuple(st * flat.itemsize for st in stride))
    if _overlaps(size, stride):
        view.flags.writeable = False  # writing one element would change others
    return view


class _Unpickler(pickle.Unpickler):
    """Resolves only the allowed globals; storages come from ``fetch(key, dtype, numel)``."""

    def __init__(self, file, where, fetch=None):
        super().__init__(file)
        self._where = where
        self._fetch = fetch
        self._storages = {}
        self._allowed = {
            "collections.OrderedDict": collections.OrderedDict,
            "torch._utils._rebuild_tensor_v2": self._rebuild_tensor_v2,
            "torch._utils._rebuild_tensor_v3": self._rebuild_tensor_v3,
            "torch._utils._rebuild_parameter": self._rebuild_parameter,
            "torch._utils._rebuild_parameter_with_state": self._rebuild_parameter,
            "torch.Size": _size,
            "_codecs.encode": _encode_bytes,
        } if fetch is not None else {}

    def find_class(self, module, name):
        full = f"{module}.{name}"
        if full in self._allowed:
            return self._allowed[full]
        if self._fetch is not None and module in ("torch", "torch.storage"):
            if name in _dt.STORAGE_DTYPES:
                return _Global("storage", name, _dt.STORAGE_DTYPES[name])
            if name == _dt.UNTYPED_STORAGE:
                return _Global("storage", name, np.dtype(np.uint8))
            if module == "torch" and name in _dt.TORCH_DTYPES:
                return _Global("dtype", name, _dt.TORCH_DTYPES[name])
            if module == "torch" and name in _dt.ARRAY_ONLY:
                return _Global("dtype", name, _dt.ARRAY_ONLY[name])
            if _dt.is_unsupported(name):
                raise CorruptFileError(f"{self._where} holds data of type torch.{name}, which deepcore does not "
                                       f"have; supported: {', '.join(_dt.TORCH_DTYPES)}")
        hint = ""
        if module.startswith("torch.nn") or module == "__main__":
            hint = " (this file holds a whole model: in PyTorch, save model.state_dict() instead)"
        raise UnsafeFileError(f"refusing to load {full!r} from {self._where}: only tensors, containers and "
                              f"plain values are allowed{hint}")

    def persistent_load(self, pid):
        if self._fetch is None:
            raise CorruptFileError(f"{self._where}: unexpected storage reference in a header pickle")
        if isinstance(pid, tuple) and pid[:1] == ("module",):
            raise CorruptFileError(f"{self._where} holds a whole nn.Module (torch.save(model)); in PyTorch, save "
                                   "model.state_dict() instead")
        if not (isinstance(pid, tuple) and len(pid) in (5, 6) and pid[0] == "storage"):
            raise CorruptFileError(f"{self._where}: unexpected persistent id {pid!r}")
        stype, key, _location, numel = pid[1:5]
        if not (isinstance(stype, _Global) and stype.kind == "storage" and isinstance(key, str)
                and _is_int(numel) and numel >= 0):
            raise CorruptFileError(f"{self._where}: bad storage reference {pid!r}")
        storage = self._storage(key, stype.dtype, numel)
        view = pid[5] if len(pid) == 6 else None
        if view is None:
            return storage
        if not (isinstance(view, tuple) and len(view) == 3 and isinstance(view[0], str)
                and _is_int(view[1]) and _is_int(view[2]) and 0 <= view[1] and view[1] + view[2] <= numel):
            raise CorruptFileError(f"{self._where}: bad storage view {view!r} of storage {key!r}")
        array = None if storage.array is None else storage.array[view[1]:view[1] + view[2]]
        return _Storage(view[0], stype.dtype, array)

    def _storage(self, key, dtype, numel):
        cached = self._storages.get((key, dtype))
        if cached is None:
            cached = _Storage(key, dtype, self._fetch(key, dtype, numel))
            self._storages[(key, dtype)] = cached
        return cached

    def _rebuild_tensor_v2(self, storage, offset, size, stride, requires_grad=False, backward_hooks=None,
                           metadata=None):
        return _TensorRecord(_strided(storage, offset, size, stride, self._where), bool(requires_grad))

    def _rebuild_tensor_v3(self, storage, offset, size, stride, requires_grad, backward_hooks, dtype,
                           metadata=None):
        if not (isinstance(dtype, _Global) and dtype.kind == "dtype"):
            raise CorruptFileError(f"{self._where}: _rebuild_tensor_v3 got dtype {dtype!r}")
        if isinstance(storage, _Storage) and storage.array is not None and storage.dtype != dtype.dtype:
            raw = storage.array.view(np.uint8)  # an untyped (byte) storage read as this tensor's dtype
            usable = raw.size - raw.size % dtype.dtype.itemsize
            storage = _Storage(storage.key, dtype.dtype, raw[:usable].view(dtype.dtype))
        return self._rebuild_tensor_v2(storage, offset, size, stride, requires_grad)

    def _rebuild_parameter(self, data, requires_grad, backward_hooks, state=None):
        if not isinstance(data, _TensorRecord):
            raise CorruptFileError(f"{self._where}: a parameter's data is a {type(data).__name__}, not a tensor")
        return _TensorRecord(data.array, bool(requires_grad))


def _size(dims=()):
    """``torch.Size(dims)``: a tuple of ints."""
    if not (isinstance(dims, (tuple, list)) and all(_is_int(d) for d in dims)):
        raise CorruptFileError(f"torch.Size of {dims!r}")
    return tuple(dims)


def _encode_bytes(text, encoding="utf-8"):
    """``_codecs.encode``, which protocol-2 pickles use to spell ``bytes``; text codecs only."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1", "utf-8", "utf8", "ascii"):
        raise CorruptFileError(f"_codecs.encode is accepted for latin1/utf-8 text only, got {encoding!r}")
    return text.encode(encoding)


# --- after unpickling: records -> caller's tensors; anything unexpected refused ------------------------
_PLAIN = (str, bytes, int, float, bool, type(None))


def _finish(obj, make_tensor, where):
    """``obj`` with each tensor record replaced by ``make_tensor(array, requires_grad)``; shared records
    give one tensor, cycles and foreign objects raise."""
    done, active = {}, set()

    def walk(o, path):
        if isinstance(o, _PLAIN):
            return o
        if isinstance(o, _TensorRecord):
            if o.array.dtype.kind == "u" and o.array.dtype.itemsize > 1:
                return o.array  # uint16/32/64: no deepcore tensor dtype, so a NumPy array
            if id(o) not in done:
                done[id(o)] = (o, make_tensor(o.array, o.requires_grad))
            return done[id(o)][1]
        if isinstance(o, _Storage):  # a bare storage: a flat tensor of its elements
            return walk(_TensorRecord(o.array, False), path)
        if isinstance(o, _Global) and o.kind == "dtype":
            return o.dtype
        if type(o) in _CONTAINERS:
            if id(o) in active:
                raise CorruptFileError(f"{where}: container at {path} contains itself")
            active.add(id(o))
            try:
                if isinstance(o, dict):
                    for k in o:
                        if not _is_key(k):
                            raise CorruptFileError(f"{where}: dict key {k!r} at {path} is not a plain value")
                    return type(o)((k, walk(v, f"{path}[{k!r}]")) for k, v in o.items())
                return type(o)(walk(v, f"{path}[{i}]") for i, v in enumerate(o))
            finally:
                active.discard(id(o))
        raise UnsafeFileError(f"refusing to load an object of type {type(o).__name__} at {path} from {where}: "
                              "only tensors, containers and plain values are allowed")

    try:
        return walk(obj, "the top level")
    except RecursionError:
        raise CorruptFileError(f"{where}: containers nested too deeply") from None


_CONTAINERS = (dict, collections.OrderedDict, list, tuple, set, frozenset)


def _is_key(k):
    return isinstance(k, _PLAIN) or (isinstance(k, tuple) and all(_is_key(v) for v in k))


# --- the zip format --------------------------------------------------------------------------------
def zip_root(names):
    """The record prefix (``'archive/'``) of a torch zip archive with these member names, or None."""
    roots = [n[: -len("data.pkl")] for n in names if n == "data.pkl" or n.endswith("/data.pkl")]
    roots = [r for r in roots if r.count("/") <= 1]
    return min(roots, key=len) if roots else None


def read_zip(archive: zipfile.ZipFile, where: str, make_tensor):
    """The object a torch zip archive holds, tensors made by ``make_tensor(array, requires_grad)``."""
    _check_host()
    root = zip_root(archive.namelist())
    if root is None:
        raise CorruptFileError(f"{where} is a zip archive but not a torch.save file (no data.pkl record)")
    names = set(archive.namelist())
    if root + "byteorder" in names:
        order = archive.read(root + "byteorder").decode("ascii", "replace").strip()
        if order != "little":
            raise CorruptFileError(f"{where} was written on a {order}-endian machine; deepcore reads "
                                   "little-endian PyTorch files only")
    raw = {}

    def fetch(key, dtype, numel):
        if key not in raw:
            record = f"{root}data/{key}"
            if record not in names:
                raise CorruptFileError(f"{where}: storage record {record!r} is missing")
            raw[key] = _read_member(archive, record)
        data = raw[key]
        need = numel * dtype.itemsize
        if data.size < need:
            raise CorruptFileError(f"{where}: storage {key!r} holds {data.size} bytes, the file says {need}")
        return data[:need].view(dtype)

    obj = _Unpickler(io.BytesIO(archive.read(root + "data.pkl")), where, fetch).load()
    return _finish(obj, make_tensor, where)


def _read_member(archive, name):
    """A member's bytes as a writable uint8 array (read straight into it, no second copy)."""
    info = archive.getinfo(name)
    out = np.empty(info.file_size, dtype=np.uint8)
    with archive.open(info) as f:
        view, pos = memoryview(out), 0
        while pos < out.size:
            n = f.readinto(view[pos:])
            if not n:
                raise CorruptFileError(f"record {name!r} ends after {pos} of {out.size} bytes")
            pos += n
    return out


# --- the legacy (pre-1.6) stream -----------------------------------------------------------------------
def read_legacy(f, where: str, make_tensor):
    """The object a legacy ``torch.save`` stream holds (``f`` seekable, at the stream's start)."""
    _check_host()
    if _plain(f, where) != _LEGACY_MAGIC:
        raise CorruptFileError(f"{where} is a pickle but not a torch.save file; dc.load does not unpickle "
                               "arbitrary objects")
    if _plain(f, where) != _LEGACY_PROTOCOL:
        raise CorruptFileError(f"{where}: unknown legacy torch.save protocol version")
    info = _plain(f, where)
    if not isinstance(info, dict) or info.get("little_endian") is not True:
        raise CorruptFileError(f"{where} was written on a big-endian machine; deepcore reads little-endian "
                               "PyTorch files only")
    start = f.tell()
    wanted = {}  # first pass: which storages (dtype, element count) the object refers to

    def listing(key, dtype, numel):
        wanted[key] = (dtype, numel)

    _Unpickler(f, where, listing).load()
    keys = _plain(f, where)
    if not (isinstance(keys, list) and all(isinstance(k, str) for k in keys)):
        raise CorruptFileError(f"{where}: bad storage key list")
    data_start = f.tell()
    end = f.seek(0, io.SEEK_END)
    f.seek(data_start)
    arrays = {}
    for key in keys:
        header = f.read(8)
        if len(header) != 8:
            raise CorruptFileError(f"{where} ends before storage {key!r}")
        (count,) = struct.unpack("<q", header)
        if key not in wanted:
            raise CorruptFileError(f"{where}: storage {key!r} is not referred to")
        dtype, numel = wanted[key]
        nbytes = count * dtype.itemsize
        if count < numel or count < 0:
            raise CorruptFileError(f"{where}: storage {key!r} holds {count} elements, the file says {numel}")
        if nbytes > end - f.tell():
            raise CorruptFileError(f"{where} ends inside storage {key!r}: the file is truncated")
        buf = np.empty(nbytes, dtype=np.uint8)
        if f.readinto(memoryview(buf)) != nbytes:
            raise CorruptFileError(f"{where} ends inside storage {key!r}")
        arrays[key] = buf.view(dtype)
    missing = set(wanted) - set(arrays)
    if missing:
        raise CorruptFileError(f"{where}: storage(s) {sorted(missing)} missing")
    f.seek(start)
    obj = _Unpickler(f, where, lambda key, dtype, numel: arrays[key][:numel]).load()
    return _finish(obj, make_tensor, where)


def _plain(f, where):
    """One header pickle of plain values (no globals, no storages)."""
    return _Unpickler(f, where).load()
