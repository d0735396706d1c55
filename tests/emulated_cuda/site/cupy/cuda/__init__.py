"""The emulated ``cupy.cuda``: one device, streams and events with graph capture, memory pools and hooks."""
from cupy_emulation._cuda import (Device, Event, Graph, MemoryHook, MemoryPool, PinnedMemoryPointer,  # noqa: F401
                                  Stream, alloc_pinned_memory, get_current_stream, is_available,
                                  using_allocator)

from . import runtime  # noqa: E402,F401


def __getattr__(name):
    raise AttributeError(f"the emulated CuPy has no cupy.cuda.{name}; add it to tests/emulated_cuda "
                         "with CuPy 14's signature")
