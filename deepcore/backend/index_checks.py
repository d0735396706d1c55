"""Range checks of integer indices (class targets, embedding ids) that never stall the GPU.

On the CPU a bad index raises at once, naming the first bad value. On a GPU, reading the answer back
would synchronise every step, so the check runs on the device and only sets a flag there; the flag is
read at the next point where the host waits anyway (``dc.cuda.synchronize()``, ``Tensor.item()`` /
``numpy()``, the end of a ``fit`` epoch), which raises the error. Where a host copy of the indices
exists (``fit``/``evaluate`` record one per batch with ``remember_host_copy``), the check reads that
copy instead: exact, and free.

A kernel can do the check itself, at no extra launch: :func:`device_flag` gives a persistent int32 flag
on the device for a message, which the kernel sets to 1 when it sees a bad index (the fused
cross-entropy kernel does). Being persistent, the flag also works inside a captured CUDA graph: every
replay that sees a bad index sets it, and the next read reports it and clears it.
"""
from __future__ import annotations

import numpy as np

_flags: dict = {}        # (device id, message) -> 0-d device bool array: "a bad index was seen"
_device_flags: dict = {}  # (device id, message) -> persistent int32 (1,) device array a kernel sets to 1
_armed: set = set()      # keys of _device_flags handed out since the flags were last read
_host_copies: dict = {}  # id(device array) -> (device array, host copy of the same values)
_errors: dict = {}       # message -> exception class raised for it (IndexError where not given)
_REMEMBERED = 8


def device_flag(xp, device_id: int, message: str):
    """The persistent int32 (1,) flag on device ``device_id`` that a kernel sets to 1 to report ``message``
    (an IndexError raised at the next host sync). Created zeroed on first use (one launch, once)."""
    key = (device_id, message)
    flag = _device_flags.get(key)
    if flag is None:
        with xp.cuda.Device(device_id):
            flag = _device_flags[key] = xp.zeros((1,), dtype=np.int32)
    _armed.add(key)
    return flag


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


def flag(xp, seen, device_id: int, message: str, error=IndexError) -> None:
    """Record the 0-d device bool ``seen`` ("a bad value was seen"), reported as ``error(message)`` at the
    next host sync (value checks other than index ranges: BCE's probabilities in [0, 1])."""
    _errors[message] = error
    key = (device_id, message)
    old = _flags.get(key)
    if old is None:
        _flags[key] = seen
    else:
        xp.logical_or(old, seen, out=old)


def host_copy(device_array):
    """The host copy recorded for ``device_array`` by :func:`remember_host_copy`, or None."""
    host = _host_copies.get(id(device_array))
    return host[1] if host is not None and host[0] is device_array else None


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
    for key in _armed:
        _device_flags[key].fill(0)
    _armed.clear()


def pending() -> bool:
    """True when device-side checks ran since the flags were last read."""
    return bool(_flags) or bool(_armed)


def raise_pending() -> None:
    """Read the device flags (the caller synchronises anyway) and raise the first failed check."""
    if not _flags and not _armed:
        return
    flags = list(_flags.items())
    _flags.clear()
    armed = [(key, _device_flags[key]) for key in sorted(_armed, key=str)]
    _armed.clear()
    failed = [message for (_, message), flag in flags if bool(flag)]
    for (_, message), flag in armed:
        if int(flag[0]):
            flag.fill(0)          # reported once; the flag stays for the next launches (and graph replays)
            failed.append(message)
    if failed:
        raise _errors.get(failed[0], IndexError)(failed[0])
