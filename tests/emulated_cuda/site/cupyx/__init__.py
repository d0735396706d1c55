"""The emulated ``cupyx``: only ``scatter_add``."""
from cupy_emulation._functions import scatter_add  # noqa: F401


def __getattr__(name):
    raise AttributeError(f"the emulated CuPy has no cupyx.{name}")
