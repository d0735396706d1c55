"""Write files ``torch.load`` reads (with ``weights_only=True`` too), without torch.

Two steps, so that nothing touches the disk before the whole object has been checked:
``encode(obj, as_array)`` turns a state dict (or any nest of tensors, dicts, lists, tuples and plain
values) into a protocol-2 pickle plus the list of storages it refers to; ``write_zip`` lays them out as
torch's zip archive: ``archive/data.pkl``, ``archive/byteorder``, one uncompressed record
``archive/data/<i>`` per storage starting on a 64-byte boundary (torch maps records at aligned offsets
with ``mmap=True``), and ``archive/version``.

The pickle only names what torch's weights-only loader allows: ``torch._utils._rebuild_tensor_v2``, the
typed storage classes (``torch.FloatStorage``...), ``collections.OrderedDict``, ``torch.<dtype>`` and
``_codecs.encode`` (protocol 2's spelling of ``bytes``); NumPy's uint16/32/64 arrays (deepcore tensors
have no such dtype, but e.g. a saved RNG state holds uint64 words) go, as torch writes them, through
``_rebuild_tensor_v3`` and ``torch.storage.UntypedStorage``. Every tensor is written contiguous in a storage
of its own (offset 0); the same tensor object appearing twice is written once.
"""
from __future__ import annotations

import collections
import pickle
import struct
import zipfile

import numpy as np

from . import torch_dtypes as _dt

__all__ = ["encode", "write_zip"]

_ALIGN = 64
_BF16 = _dt.TORCH_DTYPES["bfloat16"]
_ROOT = "archive"


def encode(obj, as_array):
    """``(pickle_bytes, storages)`` for ``obj``. ``as_array(value)`` returns ``(host_array, requires_grad)``
    for a tensor-like value and None for anything else. TypeError/ValueError name the offending place."""
    e = _Emitter(as_array)
    e.out += pickle.PROTO + b"\x02"
    e.value(obj, "the top level")
    e.out += pickle.STOP
    return bytes(e.out), e.storages


class _Emitter:
    def __init__(self, as_array):
        self.out = bytearray()
        self.storages = []
        self._as_array = as_array
        self._written = {}  # id(source) -> (source, storage index): one storage per tensor object
        self._active = set()

    # --- opcodes -----------------------------------------------------------------------------------
    def global_(self, module, name):
        self.out += pickle.GLOBAL + f"{module}\n{name}\n".encode("ascii")

    def int_(self, n):
        if 0 <= n < 256:
            self.out += pickle.BININT1 + bytes([n])
        elif 0 <= n < 65536:
            self.out += pickle.BININT2 + struct.pack("<H", n)
        elif -(2 ** 31) <= n < 2 ** 31:
            self.out += pickle.BININT + struct.pack("<i", n)
        else:
            raw = n.to_bytes((n.bit_length() >> 3) + 1, "little", signed=True)
            self.out += (pickle.LONG1 + bytes([len(raw)]) if len(raw) < 256
                         else pickle.LONG4 + struct.pack("<i", len(raw))) + raw

    def str_(self, s):
        raw = s.encode("utf-8", "surrogatepass")
        self.out += pickle.BINUNICODE + struct.pack("<I", len(raw)) + raw

    def tuple_(self, items, where):
        if not items:
            self.out += pickle.EMPTY_TUPLE
            return
        self.out += pickle.MARK
        for i, v in enumerate(items):
            self.value(v, f"{where}[{i}]")
        self.out += pickle.TUPLE

    # --- values ------------------------------------------------------------------------------------
    def value(self, v, where):
        if v is None:
            self.out += pickle.NONE
        elif isinstance(v, (bool, np.bool_)):
            self.out += pickle.NEWTRUE if v else pickle.NEWFALSE
        elif isinstance(v, (int, np.integer)):
            self.int_(int(v))
        elif isinstance(v, (float, np.floating)) or (isinstance(v, np.generic) and v.dtype == _BF16):
            self.out += pickle.BINFLOAT + struct.pack(">d", float(v))
        elif isinstance(v, str):
            self.str_(v)
        elif isinstance(v, bytes):
            self.global_("_codecs", "encode")
            self.tuple_((v.decode("latin1"), "latin1"), where)
            self.out += pickle.REDUCE
        elif isinstance(v, np.dtype):
            try:
                self.global_("torch", _dt.torch_name(v))
            except ValueError as err:
                raise TypeError(f"save: the dtype at {where}: {err}") from None
        elif isinstance(v, (dict, list, tuple)):
            self.container(v, where)
        else:
            found = self._as_array(v)
            if found is None:
                raise TypeError(f"save: cannot store an object of type {type(v).__name__} at {where} in a PyTorch "
                                "file; supported: Tensor, array, dict, list, tuple, str, bytes, int, float, bool, "
                                "None")
            self.tensor(v, *found, where)

    def container(self, v, where):
        if id(v) in self._active:
            raise ValueError(f"save: the container at {where} contains itself")
        self._active.add(id(v))
        try:
            if isinstance(v, tuple):
                self.tuple_(v, where)
            elif isinstance(v, list):
                self.out += pickle.EMPTY_LIST
                self._batched(v, lambda i, x: self.value(x, f"{where}[{i}]"), pickle.APPENDS)
            else:
                if isinstance(v, collections.OrderedDict):
                    self.global_("collections", "OrderedDict")
                    self.out += pickle.EMPTY_TUPLE + pickle.REDUCE
                else:
                    self.out += pickle.EMPTY_DICT
                self._batched(list(v.items()), lambda i, kv: self._item(kv, where), pickle.SETITEMS)
        finally:
            self._active.discard(id(v))

    def _item(self, kv, where):
        key, val = kv
        if not _is_key(key):
            raise TypeError(f"save: dict key {key!r} at {where} has type {type(key).__name__}; keys must be str, "
                            "int, float, bool, None or tuples of these")
        self.value(key, where)
        self.value(val, f"{where}[{key!r}]")

    def _batched(self, items, emit, op):
        for start in range(0, len(items), 1000):
            self.out += pickle.MARK
            for i in range(start, min(start + 1000, len(items))):
                emit(i, items[i])
            self.out += op

    def tensor(self, source, array, requires_grad, where):
        try:
            storage_class = _dt.storage_name(array.dtype)
        except ValueError as err:
            raise TypeError(f"save: the tensor at {where}: {err}") from None
        seen = self._written.get(id(source))
        if seen is None:
            self.storages.append(np.ascontiguousarray(array))
            seen = self._written[id(source)] = (source, len(self.storages) - 1)
        shape = tuple(int(s) for s in array.shape)
        stride, step = [], 1
        for s in reversed(shape):  # contiguous strides as torch computes them (a 0 size counts as 1)
            stride.append(step)
            step *= max(s, 1)
        self.global_("torch._utils", "_rebuild_tensor_v2" if storage_class else "_rebuild_tensor_v3")
        self.out += pickle.MARK + pickle.MARK
        self.str_("storage")
        if storage_class:
            self.global_("torch", storage_class)
        else:  # a dtype without a typed storage class: bytes, the dtype named after the hooks
            self.global_("torch.storage", "UntypedStorage")
        self.str_(str(seen[1]))
        self.str_("cpu")
        self.int_(int(array.size if storage_class else array.nbytes))
        self.out += pickle.TUPLE + pickle.BINPERSID
        self.int_(0)
        self.tuple_(shape, where)
        self.tuple_(tuple(reversed(stride)), where)
        self.out += pickle.NEWTRUE if requires_grad else pickle.NEWFALSE
        self.global_("collections", "OrderedDict")
        self.out += pickle.EMPTY_TUPLE + pickle.REDUCE
        if not storage_class:
            self.global_("torch", _dt.torch_name(array.dtype))
        self.out += pickle.TUPLE + pickle.REDUCE


def _is_key(k):
    if isinstance(k, tuple):
        return all(_is_key(v) for v in k)
    return k is None or isinstance(k, (str, int, float, bool))


# --- the zip archive -------------------------------------------------------------------------------
def write_zip(pickled: bytes, storages, f) -> None:
    """Write torch's zip layout to the seekable binary file ``f`` (from its current position)."""
    base = f.tell()
    with zipfile.ZipFile(f, "w", zipfile.ZIP_STORED) as z:
        _member(z, f, base, f"{_ROOT}/data.pkl", np.frombuffer(pickled, dtype=np.uint8))
        _member(z, f, base, f"{_ROOT}/byteorder", np.frombuffer(b"little", dtype=np.uint8))
        for i, array in enumerate(storages):
            _member(z, f, base, f"{_ROOT}/data/{i}", array.reshape(-1).view(np.uint8), align=True)
        _member(z, f, base, f"{_ROOT}/version", np.frombuffer(b"3\n", dtype=np.uint8))


def _member(z, f, base, name, data, align=False):
    """One stored (uncompressed) member; with ``align`` its data starts at a multiple of 64 bytes."""
    info = zipfile.ZipInfo(name)
    info.compress_type = zipfile.ZIP_STORED
    info.file_size = data.size
    if align:
        zip64 = 20 if data.size * 1.05 > zipfile.ZIP64_LIMIT else 0  # zipfile adds this extra field itself
        header = 30 + len(name.encode("utf-8")) + 4 + zip64
        pad = -(f.tell() - base + header) % _ALIGN
        info.extra = struct.pack("<HH", 0x4246, pad) + b"Z" * pad  # an "FB" padding field, as torch writes
    with z.open(info, "w") as w:
        w.write(memoryview(data))
