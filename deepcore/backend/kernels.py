"""Loading hand-written CUDA kernels from ``kernels/*.cu`` with cupy.RawModule, cached per device."""
from __future__ import annotations

from pathlib import Path

from .device import Device, cupy_module

_cache: dict = {}


def kernel_dir() -> Path:
    """Where the .cu sources are: inside the installed package, or ``kernels/`` of a source checkout."""
    here = Path(__file__).resolve().parent.parent  # .../deepcore
    for candidate in (here / "_kernels", here.parent / "kernels"):
        if candidate.is_dir() and any(candidate.glob("*.cu")):
            return candidate
    raise FileNotFoundError(f"CUDA kernel sources not found in {here / '_kernels'} or {here.parent / 'kernels'}")


def kernel_sources() -> list[Path]:
    return sorted(kernel_dir().glob("*.cu"))


def get_kernel(filename: str, name: str, dev: Device):
    """The function ``name`` from ``kernels/filename``, compiled once per device and cached."""
    key = (filename, name, dev.index)
    fn = _cache.get(key)
    if fn is None:
        cp = cupy_module()
        src = (kernel_dir() / filename).read_text()
        with cp.cuda.Device(dev.index):
            module = _cache.get((filename, None, dev.index))
            if module is None:
                module = cp.RawModule(code=src, options=("-std=c++17",))
                _cache[(filename, None, dev.index)] = module
            fn = module.get_function(name)
        _cache[key] = fn
    return fn
