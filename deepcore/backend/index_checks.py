"""Range checks of integer indices (class targets, embedding ids) that never stall the GPU.

On the CPU a bad index raises at once, naming the first bad value. On a GPU, reading the answer back
would synchronise every step, so the check runs on the device and only sets a flag there; the flag is
read at the next point where the host waits anyway (``dc.cuda.synchronize()``, ``Tensor.item()`` /
``numpy()``, the end of a ``fit`` epoch), which raises the error. Where a host copy of the indices
exists (``fit``/``evaluate`` record one per batch with ``remember_host_copy``), the check reads that
copy instead: exact, and free.
"""
from __future__ import annotations

import numpy as np

_flags: dict = {}        # (device id, message) -> 0-d device bool array: "a bad index was seen"
_host_copies: dict = {}  # id(device array) -> (device array, host copy of the same values)
_REMEMBERED = 8


def check_range(xp, idx, high, ignore=None, *, what: str):
    """Raise (CPU, or a host copy is known) or flag (GPU) if ``idx`` has values outside [0, high).

    ``what(bad)`` makes the message: ``bad`` is the first bad value, or None where it is unknown.
    """
    if idx.size == 0:
        return
    host = _host_copies.get(id(idx))
    if xp is np or (host is not None and host[0] is idx):
        arr = idx if xp is np else host[1]
        bad = (arr < 0) | (arr >= high)
        if ignore is not None:
            bad &= arr != ignore
        if bad.any():
            raise IndexError(what(int(arr.reshape(-1)[int(np.argmax(bad.reshape(-1)))])))
        return
    bad = (idx < 0) | (idx >= high)
    if ignore is not None:
        bad &= idx != ignore
    key = (idx.device.id, what(None))
    seen = bad.any()
    flag = _flags.get(key)
    if flag is None:
        _flags[key] = seen
    else:
        xp.logical_or(flag, seen, out=flag)


def remember_host_copy(device_array, host_array) -> None:
    """Record that ``host_array`` holds the same values as ``device_array`` (a batch ``fit`` copied to the
    device), so range checks of it read the host copy. Only the last few batches are remembered."""
    if isinstance(device_array, np.ndarray) or tuple(device_array.shape) != tuple(np.shape(host_array)):
        return
    _host_copies[id(device_array)] = (device_array, np.asarray(host_array))
    while len(_host_copies) > _REMEMBERED:
        del _host_copies[next(iter(_host_copies))]


def clear() -> None:
    """Forget unread device flags (tests start from a clean state)."""
    _flags.clear()


def pending() -> bool:
    """True when device-side checks ran since the flags were last read."""
    return bool(_flags)


def raise_pending() -> None:
    """Read the device flags (the caller synchronises anyway) and raise the first failed check."""
    if not _flags:
        return
    flags = list(_flags.items())
    _flags.clear()
    for (_, message), flag in flags:
        if bool(flag):
            raise IndexError(message)
