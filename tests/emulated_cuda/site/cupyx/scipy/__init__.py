"""The emulated ``cupyx.scipy``: only ``special`` (see cupyx.scipy.special)."""


def __getattr__(name):
    raise AttributeError(f"the emulated CuPy has no cupyx.scipy.{name}")
