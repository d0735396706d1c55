"""Device-agnostic array backend: NumPy on the CPU, CuPy (plus our CUDA kernels) on NVIDIA GPUs."""
from .device import (CPU, Device, array_module, cuda_available, cuda_device_count, cupy_module, device,
                     device_of, to_device)
from .kernels import get_kernel, kernel_dir, kernel_sources
from .random import generator, manual_seed, next_seed

__all__ = ["CPU", "Device", "array_module", "cuda_available", "cuda_device_count", "cupy_module", "device",
           "device_of", "to_device", "get_kernel", "kernel_dir", "kernel_sources", "generator", "manual_seed",
           "next_seed"]
