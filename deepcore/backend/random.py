"""Random generators, one per device, seeded together by ``manual_seed``."""
import numpy as np

from .device import CPU, Device, cupy_module

_cpu_generator = np.random.default_rng()
_cuda_generators: dict = {}


def manual_seed(seed: int) -> None:
    """Seed the CPU generator and every CUDA device's generator."""
    global _cpu_generator
    seed = int(seed)
    _cpu_generator = np.random.default_rng(seed)
    _cuda_generators.clear()
    _cuda_seed[0] = seed


_cuda_seed = [None]


def generator(dev: Device = CPU):
    """The generator for ``dev``: numpy.random.Generator on CPU, cupy.random.Generator on CUDA."""
    if dev.type == "cpu":
        return _cpu_generator
    gen = _cuda_generators.get(dev.index)
    if gen is None:
        cp = cupy_module()
        with cp.cuda.Device(dev.index):
            seed = None if _cuda_seed[0] is None else _cuda_seed[0] + dev.index
            gen = cp.random.default_rng(seed)
        _cuda_generators[dev.index] = gen
    return gen


def next_seed(dev: Device = CPU) -> int:
    """A fresh 63-bit seed drawn from ``dev``'s generator, for kernels with their own counter-based RNG."""
    return int(_cpu_generator.integers(0, 2**63 - 1)) if dev.type == "cpu" else int(
        generator(dev).integers(0, 2**31 - 1, size=1).get()[0])
