"""Device-agnostic array backend: NumPy on the CPU, CuPy (plus our CUDA kernels) on NVIDIA GPUs."""
from .device import (CPU, Device, array_module, cuda_available, cuda_device_count, cupy_module, device,
                     device_of, to_device)
from . import fastpath, index_checks
from .host_memory import keep_freed_memory
from .kernels import get_kernel, kernel_dir, kernel_sources
from .random import generator, manual_seed, next_seed

__all__ = ["CPU", "Device", "array_module", "cuda_available", "cuda_device_count", "cupy_module", "device",
           "device_of", "to_device", "get_kernel", "kernel_dir", "kernel_sources", "generator", "manual_seed",
           "next_seed", "keep_freed_memory", "index_checks", "fastpath"]

from . import host_memory as _host_memory  # noqa: E402

_host_memory.apply_default()  # freed arrays stay in the process for reuse; see host_memory.py
