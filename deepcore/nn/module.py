"""Module: the base of every layer and model. Parameters, buffers and sub-modules register on assignment."""
from __future__ import annotations

from collections import OrderedDict, namedtuple
from collections.abc import Mapping

import numpy as np

from ..backend import device as as_device
from ..backend import to_device
from ..backend.dtypes import as_dtype, is_floating
from ..errors import ShapeError
from ..tensor import Tensor
from ..training.keras import KerasMixin
from .parameter import Parameter

_IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


class Module(KerasMixin):
    """Base class for layers and models: PyTorch's ``nn.Module`` API plus Keras's compile/fit/evaluate/predict."""

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    # --- registration ---------------------------------------------------------------------
    def __setattr__(self, name, value):
        d = self.__dict__
        if "_parameters" not in d:
            raise AttributeError(f"cannot assign {name!r} before Module.__init__() was called "
                                 f"(call super().__init__() first in {type(self).__name__}.__init__)")
        if isinstance(value, (Parameter, Module)):
            for store in ("_parameters", "_buffers", "_modules"):
                d[store].pop(name, None)
            d.pop(name, None)
            d["_parameters" if isinstance(value, Parameter) else "_modules"][name] = value
            return
        for store, allowed in (("_parameters", ()), ("_modules", ()), ("_buffers", (Tensor,))):
            if name in d[store]:
                if value is not None and not isinstance(value, allowed):
                    kind = store[1:-1]
                    raise TypeError(f"cannot assign {type(value).__name__} to {kind} {name!r} of "
                                    f"{type(self).__name__}")
                d[store][name] = value
                return
        object.__setattr__(self, name, value)

    def __getattr__(self, name):
        d = self.__dict__
        for store in ("_parameters", "_buffers", "_modules"):
            if store in d and name in d[store]:
                return d[store][name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __delattr__(self, name):
        for store in ("_parameters", "_buffers", "_modules"):
            if name in self.__dict__[store]:
                del self.__dict__[store][name]
                return
        object.__delattr__(self, name)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter: {name!r} must be a Parameter or None, got {type(param).__name__}")
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """A tensor that is state but not trainable (e.g. BatchNorm running statistics)."""
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"register_buffer: {name!r} must be a Tensor or None, got {type(tensor).__name__}")
        self._buffers[name] = tensor
        if not persistent:
            self._non_persistent.add(name)

    def add_module(self, name: str, module: Module | None) -> None:
        self._modules[name] = module

    # --- traversal ------------------------------------------------------------------------
    def named_modules(self, prefix: str = ""):
        seen, stack = set(), [(prefix, self)]
        while stack:
            name, mod = stack.pop()
            if id(mod) in seen:
                continue
            seen.add(id(mod))
            yield name, mod
            children = [(f"{name}.{k}" if name else k, m) for k, m in mod._modules.items() if m is not None]
            stack.extend(reversed(children))

    def modules(self):
        for _, m in self.named_modules():
            yield m

    def named_children(self):
        for name, m in self._modules.items():
            if m is not None:
                yield name, m

    def children(self):
        for _, m in self.named_children():
            yield m

    def _named_members(self, store, recurse=True, prefix=""):
        seen = set()
        mods = self.named_modules(prefix) if recurse else [(prefix, self)]
        for mod_name, mod in mods:
            for name, value in mod.__dict__[store].items():
                if value is None or id(value) in seen:
                    continue
                seen.add(id(value))
                yield (f"{mod_name}.{name}" if mod_name else name), value

    def named_parameters(self, prefix: str = "", recurse: bool = True):
        """(name, Parameter) pairs with PyTorch's dotted names, e.g. ``"0.weight"``; shared ones once."""
        return self._named_members("_parameters", recurse, prefix)

    def parameters(self, recurse: bool = True):
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True):
        return self._named_members("_buffers", recurse, prefix)

    def buffers(self, recurse: bool = True):
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def apply(self, fn):
        for m in list(self.modules())[::-1]:
            fn(m)
        return self

    # --- state ----------------------------------------------------------------------------
    def state_dict(self) -> "OrderedDict[str, Tensor]":
        """name -> Tensor (detached, sharing data) for every parameter and persistent buffer."""
        out = OrderedDict()
        for mod_name, mod in self.named_modules():
            pre = f"{mod_name}." if mod_name else ""
            for name, p in mod._parameters.items():
                if p is not None:
                    out[pre + name] = p.detach()
            for name, b in mod._buffers.items():
                if b is not None and name not in mod._non_persistent:
                    out[pre + name] = b.detach()
        return out

    def load_state_dict(self, state_dict, strict: bool = True):
        """Copy values into this module's parameters and buffers, all or nothing.

        Every key is checked and every value converted (to the parameter's device and dtype) before
        anything is assigned, so a bad state dict (a missing key, a wrong shape, strings) leaves the model
        as it was; the error names the offending key. Returns (missing_keys, unexpected_keys).
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"load_state_dict: expected a dict of name -> Tensor or array (from "
                            f"model.state_dict() or dc.load(path)), got {type(state_dict).__name__}")
        own = self.state_dict()
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        if strict and (missing or unexpected):
            parts = []
            if missing:
                parts.append("missing key(s): " + ", ".join(repr(k) for k in missing))
            if unexpected:
                parts.append("unexpected key(s): " + ", ".join(repr(k) for k in unexpected))
            raise KeyError(f"load_state_dict for {type(self).__name__}: " + "; ".join(parts))
        targets = self._state_targets()
        staged = [(targets[key], _staged_value(key, value, targets[key]))
                  for key, value in state_dict.items() if key in own]
        for target, array in staged:  # everything converted: assigning cannot fail now
            target.data[...] = array
        return _IncompatibleKeys(missing, unexpected)

    def save_weights(self, path) -> None:
        """Write ``state_dict()`` to ``path`` (.npz), atomically: an existing file is replaced whole or kept."""
        from ..io import save
        save(self.state_dict(), path)

    def load_weights(self, path, strict: bool = True):
        """Load weights written by ``save_weights`` (or ``dc.save(model.state_dict(), path)``)."""
        from ..io import load
        state = load(path)
        if not isinstance(state, dict):
            raise ValueError(f"load_weights: {path} holds a {type(state).__name__}, not a state dict")
        return self.load_state_dict(state, strict=strict)

    def _state_targets(self):
        out = {}
        for mod_name, mod in self.named_modules():
            pre = f"{mod_name}." if mod_name else ""
            for store in ("_parameters", "_buffers"):
                for name, t in mod.__dict__[store].items():
                    if t is not None:
                        out[pre + name] = t
        return out

    # --- modes and placement -------------------------------------------------------------
    def train(self, mode: bool = True) -> "Module":
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self) -> "Module":
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> "Module":
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.parameters():
            if set_to_none or p.grad is None:
                p.grad = None
            else:
                p.grad.data[...] = 0

    def to(self, *args, device=None, dtype=None) -> "Module":
        """Move (and cast floating) parameters and buffers in place; Parameter objects stay the same."""
        for a in args:
            if isinstance(a, str) and (a.lower() in ("cpu", "cuda", "gpu") or a.lower().startswith("cuda:")):
                device = a
            elif hasattr(a, "type") and hasattr(a, "index"):
                device = a
            else:
                dtype = a
        dev = as_device(device) if device is not None else None
        dtype = as_dtype(dtype)
        for t in list(self.parameters()) + list(self.buffers()):
            t.data = _convert(t.data, dev, dtype)
            if t.grad is not None:
                t.grad = Tensor._make(_convert(t.grad.data, dev, dtype))
        return self

    def cpu(self) -> "Module":
        return self.to(device="cpu")

    def cuda(self, index: int | None = None) -> "Module":
        return self.to(device="cuda" if index is None else f"cuda:{index}")

    # --- calling and printing ------------------------------------------------------------
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def extra_repr(self) -> str:
        return ""

    def __repr__(self):
        lines = []
        for name, m in self._modules.items():
            sub = repr(m).replace("\n", "\n  ")
            lines.append(f"  ({name}): {sub}")
        extra = self.extra_repr()
        if not lines:
            return f"{type(self).__name__}({extra})"
        head = f"{type(self).__name__}(" + (extra + "\n" if extra else "\n")
        return head + "\n".join(lines) + "\n)"

    def __dir__(self):
        return list(super().__dir__()) + list(self._parameters) + list(self._modules) + list(self._buffers)


def _staged_value(key, value, target):
    """``value`` as an array of ``target``'s shape, dtype and device, or an error naming ``key``."""
    if isinstance(value, Tensor):
        array = value.data
    elif hasattr(value, "shape") and hasattr(value, "dtype"):
        array = value
    else:
        try:
            array = np.asarray(value)
        except (TypeError, ValueError) as e:
            raise TypeError(f"load_state_dict: the value for {key!r} ({type(value).__name__}) is not an array: "
                            f"{e}") from None
    kind = array.dtype.kind
    if kind not in "biufc":
        raise TypeError(f"load_state_dict: the value for {key!r} has dtype {array.dtype} (not numbers); "
                        f"{key!r} needs {target.dtype} values of shape {target.shape}")
    if kind == "c" and target.dtype.kind != "c":
        raise TypeError(f"load_state_dict: the value for {key!r} is complex ({array.dtype}); {key!r} is "
                        f"{target.dtype}, and casting would drop the imaginary part")
    shape = tuple(array.shape)
    if shape != target.shape:
        raise ShapeError(f"load_state_dict: size mismatch for {key!r}: checkpoint has shape {shape}, "
                         f"the model has shape {target.shape}")
    try:
        return to_device(array, target.device).astype(target.dtype, copy=False)
    except (TypeError, ValueError, OverflowError) as e:
        raise TypeError(f"load_state_dict: cannot convert the value for {key!r} ({array.dtype}) to "
                        f"{target.dtype}: {e}") from None


def _convert(array, dev, dtype):
    if dtype is not None and is_floating(array.dtype) and array.dtype != dtype:
        array = array.astype(dtype)
    if dev is not None:
        array = to_device(array, dev)
    return array
