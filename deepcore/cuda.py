"""``dc.cuda``: whether a GPU is usable, how many, synchronisation, and whole-step graph capture
(``graphed``, see ``deepcore/capture.py``)."""
from .backend import cuda_available, cuda_device_count, cupy_module, index_checks
from .capture import CaptureError, graphed


def is_available() -> bool:
    """True when CuPy is installed and at least one CUDA GPU is visible."""
    return cuda_available()


def device_count() -> int:
    return cuda_device_count()


def synchronize() -> None:
    """Wait for all work queued on the current GPU (no-op without one); then raise an index error that a
    device-side check found since the last sync (see ``deepcore.backend.index_checks``)."""
    if cuda_available():
        cupy_module().cuda.get_current_stream().synchronize()
        index_checks.raise_pending()


__all__ = ["is_available", "device_count", "synchronize", "graphed", "CaptureError"]
