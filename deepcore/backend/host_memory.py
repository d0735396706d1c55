"""Host-memory policy: let glibc's malloc keep freed blocks for reuse instead of handing them back to the OS.

A training step allocates and frees the same large temporaries every step (an LSTM's gate buffers, a
convolution's padded input). By default glibc returns big freed blocks to the kernel (munmap, heap trim),
so the next step touches fresh pages and takes one page fault per 4 KiB. On the 2-core target machines
that cost dominated: the LSTM benchmark step took ~2150 faults, about 6 of its 28 ms; with the settings
below it takes none (benchmarks/NOTES.md). This acts like a memory pool for NumPy's arrays.

Applied once by ``import deepcore`` on Linux with glibc; set ``DEEPCORE_KEEP_FREED_MEMORY=0`` before the
import to leave malloc as it is. The price is that the process keeps up to ``trim_threshold`` bytes of
freed memory resident, as a caching allocator does.
"""
from __future__ import annotations

import ctypes
import os
import sys

__all__ = ["keep_freed_memory", "ENV_VAR"]

ENV_VAR = "DEEPCORE_KEEP_FREED_MEMORY"
_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD = -1, -2, -3
_MiB = 1 << 20
_applied = None


def _glibc():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")          # glibc's soname; find_library would spawn ldconfig
    except OSError:
        return None
    if not hasattr(libc, "gnu_get_libc_version") or not hasattr(libc, "mallopt"):
        return None                       # musl and others: no mallopt knobs to turn
    libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    libc.mallopt.restype = ctypes.c_int
    return libc


def keep_freed_memory(mmap_threshold: int = 32 * _MiB, trim_threshold: int = 512 * _MiB,
                      top_pad: int = 16 * _MiB) -> bool:
    """Configure glibc malloc to reuse freed memory; returns whether the settings took effect.

    ``mmap_threshold``: blocks up to this size come from the reusable heap rather than fresh mmaps (glibc
    caps it at 32 MiB on 64-bit). ``trim_threshold``: free memory kept at the top of the heap before any is
    returned. ``top_pad``: extra heap requested each time it grows. Sizes are bytes.
    """
    for name, value in (("mmap_threshold", mmap_threshold), ("trim_threshold", trim_threshold),
                        ("top_pad", top_pad)):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2 ** 31:
            raise ValueError(f"keep_freed_memory: {name} must be an int in [0, 2**31), got {value!r}")
    libc = _glibc()
    if libc is None:
        return False
    ok = libc.mallopt(_M_MMAP_THRESHOLD, mmap_threshold) == 1
    ok &= libc.mallopt(_M_TRIM_THRESHOLD, trim_threshold) == 1
    ok &= libc.mallopt(_M_TOP_PAD, top_pad) == 1
    return bool(ok)


def apply_default() -> bool:
    """The import-time call: :func:`keep_freed_memory` with defaults unless the environment opts out."""
    global _applied
    if _applied is None:
        _applied = os.environ.get(ENV_VAR, "1").strip().lower() not in ("0", "false", "no", "off") \
            and keep_freed_memory()
    return _applied
