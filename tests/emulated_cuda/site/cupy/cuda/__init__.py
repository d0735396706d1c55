"""The emulated ``cupy.cuda``: one device, streams with graph capture, the memory pool and hooks."""
from cupy_emulation._cuda import (Device, Graph, MemoryHook, MemoryPool, Stream, get_current_stream,  # noqa: F401
                                  is_available)

from . import runtime  # noqa: E402,F401


def __getattr__(name):
    raise AttributeError(f"the emulated CuPy has no cupy.cuda.{name}; add it to tests/emulated_cuda "
                         "with CuPy 14's signature")
