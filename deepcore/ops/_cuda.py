"""Launching the hand-written CUDA kernels (``kernels/*.cu``) from the ops' fast paths.

Every kernel of ``kernels/`` exists in a float32 (``_f32``) and a float64 (``_f64``) version and covers its
elements with grid-stride loops, so a launch is: pick the version, size the grid, pass the scalars as the
exact NumPy types of the C signature, and run on the arrays' device.
"""
from __future__ import annotations

import numpy as np

from ..backend import device_of, get_kernel

FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
THREADS = 256             # threads per block of the 1-D launches
MAX_BLOCKS = 65535 * 8    # grid-stride loops cover the rest


def floats(*arrays) -> bool:
    """Whether the arrays (None skipped) are all float32 or all float64: the dtypes the kernels exist for."""
    dtypes = {a.dtype for a in arrays if a is not None}
    return len(dtypes) == 1 and next(iter(dtypes)) in FLOATS


def suffix(dtype) -> str:
    return "f32" if np.dtype(dtype) == np.float32 else "f64"


def scalar(dtype, value):
    """``value`` as the C ``float``/``double`` of a kernel of ``dtype``."""
    return np.float32(value) if np.dtype(dtype) == np.float32 else np.float64(value)


def blocks_for(total: int, threads: int = THREADS, max_blocks: int = MAX_BLOCKS) -> int:
    return max(1, min((int(total) + threads - 1) // threads, max_blocks))


def launch(filename: str, name: str, like, grid, block, args, get=get_kernel) -> None:
    """Run ``name`` of ``kernels/filename`` with ``grid``/``block`` (tuples) on ``like``'s device."""
    dev = device_of(like)
    fn = get(filename, name, dev)
    with dev:  # launch on the arrays' GPU, not whichever is current
        fn(grid, block, args)


def launch_1d(filename: str, name: str, like, total: int, args, max_blocks: int = MAX_BLOCKS) -> None:
    """A 1-D grid-stride launch over ``total`` elements (nothing to do when ``total`` is 0)."""
    if total:
        launch(filename, name, like, (blocks_for(total, THREADS, max_blocks),), (THREADS,), args)
