"""``cupy.cuda`` on the emulated device: one device, streams with graph capture, the memory pool and hooks.

Capture follows CUDA: between ``Stream.begin_capture()`` and ``end_capture()`` nothing runs; launches
are recorded into the graph, a sync or host<->device copy raises ``cudaErrorStreamCaptureUnsupported``
(and invalidates the capture), and ``Graph.launch()`` replays the recorded work on the same buffers.
Work runs in issue order on one timeline, so events and ``Stream.wait_event`` only keep CuPy's API;
``using_allocator(pool.malloc)`` charges new arrays to a private ``MemoryPool`` (CUDA graph practice).
"""
from __future__ import annotations

import contextlib
import os
import weakref

import numpy as np

from ._array import _RAW, MemoryPointer, _Account, memory
from ._runtime import (CUDARuntimeError, cuda_error, cudaErrorStreamCaptureInvalidated,
                       cudaErrorStreamCaptureUnsupported, runtime)

DEVICE_COUNT = int(os.environ.get("DEEPCORE_EMULATED_CUDA_DEVICES", "1"))
_current_device = [0]


class Device:
    """cupy.cuda.Device: selects the current device inside ``with``."""

    def __init__(self, device=None):
        if device is None:
            device = _current_device[0]
        device = int(device)
        if not 0 <= device < DEVICE_COUNT:
            raise cuda_error(101, f"invalid device ordinal {device}")
        self.id = device
        self._prev = []

    def __enter__(self):
        self._prev.append(_current_device[0])
        _current_device[0] = self.id
        return self

    def __exit__(self, *exc):
        _current_device[0] = self._prev.pop()

    def use(self):
        _current_device[0] = self.id

    def synchronize(self):
        runtime.sync("Device.synchronize")

    @property
    def compute_capability(self):
        return "90"

    def __eq__(self, other):
        return isinstance(other, Device) and other.id == self.id

    def __hash__(self):
        return hash(self.id)

    def __repr__(self):
        return f"<CUDA Device {self.id}>"


class Graph:
    """A captured CUDA graph: ``launch()`` replays every recorded kernel in order. Made only by
    ``Stream.end_capture()``, as in CuPy."""

    def __init__(self, *args, **kwargs):
        raise NotImplementedError("cupy.cuda.Graph is made by Stream.end_capture()")

    @classmethod
    def _from_ops(cls, ops):
        g = object.__new__(cls)
        g._ops = ops
        return g

    def launch(self, stream=None):
        if runtime.capture is not None:
            raise cuda_error(cudaErrorStreamCaptureUnsupported, "graph launch while capturing")
        runtime.launch("cudaGraphLaunch", self._replay)

    def _replay(self):
        for _, thunk in self._ops:
            thunk()

    def upload(self, stream=None):
        pass


class Event:
    """cupy.cuda.Event: a point in a stream's work. Work runs in issue order here, so it is done at once."""

    def __init__(self, block=False, disable_timing=False, interprocess=False):
        self.ptr = id(self)

    def record(self, stream=None):
        """Record the event on ``stream`` (default: the current stream); recorded into a capture too."""

    def synchronize(self):
        runtime.sync("Event.synchronize")

    @property
    def done(self):
        return True


class _Capture:
    def __init__(self, stream):
        self.stream = stream
        self.ops: list = []
        self.invalidated = False


class Stream:
    """cupy.cuda.Stream; ``Stream.null`` is the legacy default stream, on which capture is refused."""

    null = None  # set below

    def __init__(self, null=False, non_blocking=False, ptds=False, priority=None):
        self._is_null = bool(null)
        self._capture = None
        self._prev = []

    @property
    def ptr(self):
        return 0 if self._is_null else id(self)

    def __enter__(self):
        self._prev.append(_stream_stack[-1])
        _stream_stack.append(self)
        _update_capture()
        return self

    def __exit__(self, *exc):
        _stream_stack.remove(self)
        _update_capture()

    def use(self):
        _stream_stack[-1:] = [self] if len(_stream_stack) > 1 else [_stream_stack[0], self]
        _update_capture()
        return self

    def synchronize(self):
        runtime.sync("Stream.synchronize")

    def record(self, event=None):
        """Record ``event`` (a new Event when None) on this stream; returns it."""
        if event is None:
            event = Event()
        event.record(self)
        return event

    def wait_event(self, event):
        """Later work on this stream waits for ``event`` (on one timeline: already so)."""

    def is_capturing(self):
        if self._capture is not None and self._capture.invalidated:
            raise cuda_error(cudaErrorStreamCaptureInvalidated, "the capture was invalidated")
        return self._capture is not None

    def begin_capture(self, mode=None):
        if self._is_null:
            raise RuntimeError("cannot capture on the default stream, please use a separate stream")
        if self._capture is not None:
            raise cuda_error(cudaErrorStreamCaptureUnsupported, "the stream is already capturing")
        self._capture = _Capture(self)
        _update_capture()

    def end_capture(self):
        cap, self._capture = self._capture, None
        _update_capture()
        if cap is None:
            raise cuda_error(cudaErrorStreamCaptureInvalidated, "the stream is not capturing")
        if cap.invalidated:
            raise cuda_error(cudaErrorStreamCaptureInvalidated,
                                   "the capture was invalidated by a sync or host<->device copy")
        return Graph._from_ops(cap.ops)

    def __eq__(self, other):
        return self is other

    def __hash__(self):
        return id(self)


Stream.null = Stream(null=True)
_stream_stack = [Stream.null]


def _update_capture():
    runtime.capture = _stream_stack[-1]._capture


def get_current_stream(device_id=-1):
    return _stream_stack[-1]


def is_available():
    return DEVICE_COUNT > 0


class PinnedMemoryPointer(bytearray):
    """cupy.cuda.PinnedMemoryPointer(mem, offset): page-locked host memory (here ordinary memory), a buffer
    ``numpy.frombuffer`` can wrap. ``mem`` is the allocation's size in bytes (CuPy's is a PinnedMemory)."""

    def __init__(self, mem, offset):
        super().__init__(int(mem) - int(offset))

    @property
    def ptr(self):
        return np.frombuffer(self, dtype=np.uint8).ctypes.data if len(self) else 0


def alloc_pinned_memory(size):
    """cupy.cuda.alloc_pinned_memory: ``size`` bytes of page-locked host memory (here ordinary memory)."""
    return PinnedMemoryPointer(int(size), 0)


class MemoryPool:
    """A device memory pool: bytes in use by live arrays and bytes held (never returned). The default pool
    charges every allocation made without ``using_allocator``; another pool charges those made inside
    ``using_allocator(pool.malloc)``."""

    def __init__(self, allocator=None):
        self._acct = _Account()
        _pools.add(self)

    def malloc(self, size):
        """Allocate ``size`` bytes from this pool; returns a MemoryPointer (usable as an allocator)."""
        buf = np.empty(max(int(size), 0), dtype=np.uint8)
        prev, memory.allocator = memory.allocator, self.malloc
        try:
            memory.malloc(buf)
        finally:
            memory.allocator = prev
        ptr = MemoryPointer(buf)
        ptr._buf = buf  # the memory lives as long as its pointer
        return ptr

    def used_bytes(self):
        return self._acct.used

    def total_bytes(self):
        return self._acct.reserved

    def free_bytes(self):
        return self._acct.reserved - self._acct.used

    def free_all_blocks(self, stream=None):
        self._acct.reserved = self._acct.used

    def n_free_blocks(self):
        return 0

    def set_limit(self, size=None, fraction=None):
        pass

    def get_limit(self):
        return 0


_pools: weakref.WeakSet[MemoryPool] = weakref.WeakSet()
_default_pool = MemoryPool()
_default_pool._acct = memory  # the default pool's account is the device bookkeeping itself


@contextlib.contextmanager
def using_allocator(allocator=None):
    """Inside the block, this thread allocates with ``allocator`` (``pool.malloc`` of a private pool, or any
    function of the size); ``None`` means raw device memory outside every pool, as in CuPy."""
    prev = memory.allocator
    memory.allocator = _RAW if allocator is None else allocator
    try:
        yield
    finally:
        memory.allocator = prev


def get_default_memory_pool():
    return _default_pool


class MemoryHook:
    """cupy.cuda.MemoryHook: subclasses see every pool allocation and free while entered."""

    name = "MemoryHook"

    def __enter__(self):
        memory.hooks.append(self)
        return self

    def __exit__(self, *exc):
        memory.hooks.remove(self)

    def alloc_preprocess(self, **kwargs):
        pass

    def alloc_postprocess(self, **kwargs):
        pass

    def malloc_preprocess(self, **kwargs):
        pass

    def malloc_postprocess(self, **kwargs):
        pass

    def free_preprocess(self, **kwargs):
        pass

    def free_postprocess(self, **kwargs):
        pass


class _RuntimeModule:
    """cupy.cuda.runtime: the device count and the error type."""

    CUDARuntimeError = CUDARuntimeError

    @staticmethod
    def getDeviceCount():
        return DEVICE_COUNT

    @staticmethod
    def getDevice():
        return _current_device[0]

    @staticmethod
    def setDevice(device):
        _current_device[0] = int(device)

    @staticmethod
    def deviceSynchronize():
        runtime.sync("deviceSynchronize")

    @staticmethod
    def memGetInfo():
        total = 141 * 2**30
        held = memory.raw.used + sum(p._acct.reserved for p in list(_pools))
        return total - held, total

    @staticmethod
    def runtimeGetVersion():
        return 13000

    @staticmethod
    def driverGetVersion():
        return 13000
