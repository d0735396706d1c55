"""The emulated ``cupy.random``: generators with their state on the device."""
from cupy_emulation._random import Generator, default_rng  # noqa: F401


def __getattr__(name):
    raise AttributeError(f"the emulated CuPy has no cupy.random.{name}; deepcore draws through "
                         "cupy.random.default_rng()")
