"""The emulated ``cupyx.scipy.special``: the special functions deepcore uses (``erf``), as ufuncs."""
from cupy_emulation._functions import SPECIAL as _SPECIAL

erf = _SPECIAL["erf"]


def __getattr__(name):
    raise AttributeError(f"the emulated CuPy has no cupyx.scipy.special.{name}")
