"""The emulated CUDA device for tests: activation, counters, and the list of emulated CuPy names.

``activate()`` (what ``pytest --emulate-cuda`` calls) makes ``import cupy`` load the stand-in in
``tests/emulated_cuda/site/cupy``; ``counting()`` counts the launches, syncs and copies of a block.
Importing this package alone changes nothing: ``site/`` is on ``sys.path`` only once activated.
"""
from __future__ import annotations

import sys
from pathlib import Path

from ._runtime import CUDARuntimeError, Counts, runtime

SITE = Path(__file__).resolve().parent.parent / "site"

counting = runtime.counting


def activate() -> None:
    """Make ``import cupy``/``import cupyx`` resolve to the stand-in; call before importing deepcore."""
    if "deepcore" in sys.modules:
        raise RuntimeError("activate the emulated CUDA device before deepcore is imported")
    if str(SITE) not in sys.path:
        sys.path.insert(0, str(SITE))
    for name in [m for m in sys.modules if m == "cupy" or m.startswith(("cupy.", "cupyx"))]:
        del sys.modules[name]
    import cupy
    if not is_active():
        raise RuntimeError(f"'import cupy' loaded {cupy.__file__}, not the emulated device")


def is_active() -> bool:
    """True when the imported ``cupy`` is this stand-in."""
    mod = sys.modules.get("cupy")
    return mod is not None and Path(mod.__file__).resolve().parent == SITE / "cupy"


def provided() -> dict:
    """Every ``cupy``/``cupyx`` name the stand-in defines, dotted, mapped to its object (for the check
    against the real CuPy 14)."""
    import inspect

    import cupy
    import cupy.cuda
    import cupy.cuda.runtime
    import cupy.random
    import cupyx
    import cupyx.scipy.special

    out = {}
    for modname, mod in [("cupy", cupy), ("cupy.cuda", cupy.cuda), ("cupy.cuda.runtime", cupy.cuda.runtime),
                         ("cupy.random", cupy.random), ("cupyx", cupyx),
                         ("cupyx.scipy.special", cupyx.scipy.special)]:
        names = [n for n in vars(mod) if not n.startswith("_") and not inspect.ismodule(vars(mod)[n])]
        if mod is cupy:
            names += ["RawModule", "RawKernel"]
        for n in names:
            obj = getattr(mod, n)
            out[f"{modname}.{n}"] = obj
            if inspect.isclass(obj) and obj.__module__.startswith("cupy_emulation"):
                for m, v in vars(obj).items():
                    if not m.startswith("_") and (callable(v) or isinstance(v, property)):
                        out[f"{modname}.{n}.{m}"] = v
    return out


__all__ = ["CUDARuntimeError", "Counts", "activate", "counting", "is_active", "provided", "runtime"]
