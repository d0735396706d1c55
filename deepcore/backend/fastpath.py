"""Fast paths: optional per-device overrides of an op's one generic implementation, chosen here only.

Every op is written once against ``xp`` (NumPy or CuPy). A fast path (a numba kernel on the CPU, a CUDA
kernel on the GPU, a direct BLAS call) registers as an override of that op for one device type, with a
guard saying which inputs it handles::

    @fastpath.override("relu_backward", "cpu", when=lambda gy, y: gy.dtype == y.dtype == np.float32)
    def _relu_backward_numba(gy, y): ...

    def relu_backward(gy, y):                       # the op's generic path
        fast = fastpath.select("relu_backward", gy, y)
        if fast is not None:
            return fast(gy, y)
        return gy * (y > 0)

``select`` returns the override when fast paths are on, one is registered for the arrays' device type
and its guard accepts the arguments; otherwise None and the generic path runs. ``disabled()`` (or
``DEEPCORE_FAST_PATHS=0``, or ``pytest --no-fast-paths``) turns every override off, so each is tested
against the generic path it replaces, on the CPU and on the (emulated) GPU.
"""
from __future__ import annotations

import contextlib
import os
from typing import Callable

from .device import array_module, cupy_module

_overrides: dict[tuple[str, str], list[tuple[Callable, Callable | None]]] = {}
_enabled = [os.environ.get("DEEPCORE_FAST_PATHS", "1") != "0"]


def override(op: str, device_type: str, when: Callable | None = None):
    """Register the decorated function as ``op``'s fast path on ``device_type`` ("cpu" or "cuda")."""
    if device_type not in ("cpu", "cuda"):
        raise ValueError(f"fast path for {op!r}: device_type must be 'cpu' or 'cuda', got {device_type!r}")

    def register(fn):
        _overrides.setdefault((op, device_type), []).append((fn, when))
        return fn
    return register


def _device_type(args) -> str:
    cp = cupy_module()
    for a in args:
        if hasattr(a, "shape") and cp is not None and array_module(a) is cp:
            return "cuda"
    return "cpu"


def select(op: str, *args, device_type: str | None = None):
    """The fast path registered for ``op`` that accepts ``args``, or None (run the generic path)."""
    if not _enabled[0]:
        return None
    candidates = _overrides.get((op, device_type or _device_type(args)))
    if not candidates:
        return None
    for fn, when in candidates:
        if when is None or when(*args):
            return fn
    return None


def enabled() -> bool:
    return _enabled[0]


def set_enabled(flag: bool) -> None:
    """Switch every fast path on or off (the generic implementations then run everywhere)."""
    _enabled[0] = bool(flag)


@contextlib.contextmanager
def forced(on: bool):
    """Within the block fast paths are on (or off), whatever the global setting says."""
    old = _enabled[0]
    _enabled[0] = bool(on)
    try:
        yield
    finally:
        _enabled[0] = old


def disabled():
    """Within the block, every op runs its generic implementation."""
    return forced(False)


def registered() -> dict:
    """``{(op, device_type): [override functions]}``: what tests enumerate to compare with the generic paths."""
    return {k: [fn for fn, _ in v] for k, v in _overrides.items()}
