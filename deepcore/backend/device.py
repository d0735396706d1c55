"""Devices: which array module (numpy or cupy) holds a tensor's data, and moving arrays between them."""
from __future__ import annotations

import numpy as np

try:  # CuPy is optional: every CPU path works without it.
    import cupy as _cupy
except Exception:  # pragma: no cover - depends on the machine
    _cupy = None


def cupy_module():
    """The cupy module, or None when CuPy is not installed."""
    return _cupy


def cuda_available() -> bool:
    if _cupy is None:
        return False
    try:
        return _cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


def cuda_device_count() -> int:
    return _cupy.cuda.runtime.getDeviceCount() if cuda_available() else 0


class Device:
    """A place where arrays live: ``cpu`` (NumPy) or ``cuda:N`` (CuPy on GPU N)."""

    __slots__ = ("type", "index", "_ctx")

    def __init__(self, type: str, index: int | None = None):
        self.type = type
        self.index = index

    @property
    def xp(self):
        """The array module for this device."""
        return np if self.type == "cpu" else _cupy

    def __enter__(self):
        if self.type == "cuda":
            self._ctx = _cupy.cuda.Device(self.index)
            self._ctx.__enter__()
        return self

    def __exit__(self, *exc):
        if self.type == "cuda":
            self._ctx.__exit__(*exc)

    def __eq__(self, other):
        if isinstance(other, str):
            try:
                other = device(other)
            except (ValueError, RuntimeError):
                return False
        return isinstance(other, Device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self):
        return hash((self.type, self.index))

    def __str__(self):
        return "cpu" if self.type == "cpu" else f"cuda:{self.index}"

    def __repr__(self):
        return f"device('{self}')"


CPU = Device("cpu")
_cuda_devices: dict[int, Device] = {}


def device(spec=None) -> Device:
    """Parse ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or a Device; ``None`` means the CPU."""
    if spec is None or isinstance(spec, Device):
        return spec or CPU
    if not isinstance(spec, str):
        raise TypeError(f"device must be a string like 'cpu' or 'cuda:0' or a Device, got {type(spec).__name__}")
    s = spec.strip().lower()
    if s == "cpu":
        return CPU
    if s == "cuda" or s == "gpu":
        index = _cupy.cuda.runtime.getDevice() if cuda_available() else 0
    elif s.startswith("cuda:") and s[5:].isdigit():
        index = int(s[5:])
    else:
        raise ValueError(f"unknown device {spec!r}; expected 'cpu', 'cuda' or 'cuda:N'")
    if not cuda_available():
        why = "CuPy is not installed" if _cupy is None else "no CUDA GPU is visible"
        raise RuntimeError(f"device {spec!r} requested but {why}; install deepcore[cuda12] or deepcore[cuda13] on a GPU machine")
    if index >= cuda_device_count():
        raise RuntimeError(f"device {spec!r} requested but only {cuda_device_count()} CUDA device(s) exist")
    return _cuda_devices.setdefault(index, Device("cuda", index))


def device_of(array) -> Device:
    """The device an array lives on."""
    if isinstance(array, np.ndarray) or np.isscalar(array):
        return CPU
    if _cupy is not None and isinstance(array, _cupy.ndarray):
        index = array.device.id
        return _cuda_devices.setdefault(index, Device("cuda", index))
    return CPU


def array_module(array):
    """numpy or cupy, whichever holds ``array`` (DeZero's get_array_module)."""
    if _cupy is not None and isinstance(array, _cupy.ndarray):
        return _cupy
    return np


def to_device(array, dev: Device):
    """Copy ``array`` to ``dev`` (no copy when it is already there)."""
    if dev.type == "cpu":
        if _cupy is not None and isinstance(array, _cupy.ndarray):
            return _cupy.asnumpy(array)
        return np.asarray(array)
    if isinstance(array, _cupy.ndarray) and array.device.id == dev.index:
        return array
    with _cupy.cuda.Device(dev.index):
        return _cupy.asarray(array)
