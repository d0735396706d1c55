"""One operator registry for the tests: every public op, its sample inputs, reference and gradient rule.

Each op family has one module here (``elementwise``, ``reduce``, ``shape``, ...) defining
``ENTRIES: list[OpEntry]`` and ``EXEMPT: dict[str, str]`` (public name -> why it is tested elsewhere).
``tests/test_registry.py`` drives forward, float64 gradcheck, dtype, CPU/emulated-CUDA, fast-path-vs-generic
and PyTorch-parity tests from them, and fails when a public name has neither an entry nor an exemption.

Public names are spelled ``"dc.floor"`` (``deepcore.floor``), ``"Tensor.floor"`` (a Tensor method or
property, operators as ``"Tensor.__add__"``) and ``"F.gelu"`` (``deepcore.nn.functional.gelu``).

How the driver reads an entry (tests/test_registry.py):

- ``dtypes``: each is tested. Float arrays in ``args`` become tensors of that dtype (integer and bool
  arrays keep theirs); ``ref`` gets the same values as float64 arrays (rounded to the tested dtype first),
  or as the tested dtype itself when that is an integer/bool dtype.
- ``tol``: ``dict(rtol=, atol=)`` for every dtype, or ``{np.float32: dict(...), np.float64: dict(...)}``
  per dtype; default ``tests/harness.py`` ``TOL``. Used for forward, fast-path and PyTorch comparisons.
- ``gradcheck_kw``: passed to ``dc.gradcheck`` (``eps``, ``atol``, ``rtol``).
- ``extra`` keys the driver understands (all optional):
  ``"out_dtype"``: the expected output dtype when it is not the rule's (a float output keeps the input
  float dtype, integer inputs give float32, integer/bool outputs match ``ref``'s): a dtype, a dict
  ``{tested dtype: output dtype}``, or a callable ``tested dtype -> output dtype``; None skips the check.
  ``"torch_tol"``: tolerance for the PyTorch comparison (same forms as ``tol``).
  ``"random"``: True when the output depends on the random generator (no fast-path-vs-generic or
  PyTorch value comparison).
  ``"host_sync"``: True when the op must wait for the device or copy (``nonzero``, ``masked_select``,
  ``item``, ``cpu()``...): no emulated-CUDA residency test (which asserts no syncs and no copies).
  ``"torch_grad"``: False to compare only forward values with PyTorch.
  ``"no_torch"``: why an entry has no ``torch_fn`` (PyTorch lacks the op or refuses these inputs); an entry
  without either fails ``test_entries_without_torch_say_why``.
"""
from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Sample:
    """One call: ``args`` are NumPy arrays (made into tensors of the tested dtype and device; integer and
    bool arrays keep their dtype) or plain Python values passed through; ``kwargs`` pass through unchanged.
    ``grad_args`` lists the positions of args that get gradients checked (default: every float array).
    ``noncontig``: build each tensor from a transposed copy and transpose it back, so the op sees a
    non-contiguous view (arrays with a single axis longer than 1: every other element of a twice as long
    last axis; 0-d: unchanged). ``gradcheck=False``: no finite-difference check for this sample, where the
    gradient is by design not the derivative (``padding_idx`` rows); PyTorch parity still compares it."""
    args: tuple
    kwargs: dict = field(default_factory=dict)
    name: str = ""
    grad_args: tuple | None = None
    noncontig: bool = False
    gradcheck: bool = True


@dataclass(frozen=True)
class OpEntry:
    """``fn(*tensors, **kwargs)`` is the deepcore call; ``ref(*float64_arrays, **kwargs)`` the NumPy reference
    (None when only PyTorch is the oracle); ``torch_fn(torch, *torch_tensors, **kwargs)`` the same call in
    PyTorch (None to skip parity). ``covers`` are the public names this entry tests."""
    name: str
    fn: Callable
    samples: Callable[[np.random.Generator], list[Sample]]
    covers: tuple[str, ...]
    ref: Callable | None = None
    torch_fn: Callable | None = None
    dtypes: tuple = (np.float32, np.float64)
    grad: bool = True
    tol: dict | None = None
    gradcheck_kw: dict = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


def _family_modules():
    for info in pkgutil.iter_modules(__path__):
        yield importlib.import_module(f"{__name__}.{info.name}")


def load_families() -> tuple[dict, dict]:
    """``({family name: module}, {family name: import error text})``: a family that does not import is
    reported by the driver as one failing test instead of stopping collection."""
    import traceback
    mods, errors = {}, {}
    for info in pkgutil.iter_modules(__path__):
        try:
            mods[info.name] = importlib.import_module(f"{__name__}.{info.name}")
        except Exception:  # noqa: BLE001 - reported as a failing test by the driver
            errors[info.name] = traceback.format_exc()
    return mods, errors


def all_entries() -> list[OpEntry]:
    return [e for m in _family_modules() for e in getattr(m, "ENTRIES", [])]


def all_exempt() -> dict[str, str]:
    out: dict[str, str] = {}
    for m in _family_modules():
        out.update(getattr(m, "EXEMPT", {}))
    return out
