"""Containers: Sequential (layers applied in order, with Keras-style ``add``, indexing and ``len``), and
ModuleList / ModuleDict (sub-modules held in a list or dict, registered as ``"0.weight"`` / ``"key.weight"``)."""
from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping

from .activation import GELU, ReLU, Sigmoid, Tanh
from .conv import Conv2d
from .linear import Linear
from .module import Module

# A Linear or Conv2d followed by one of these runs as one op with the activation fused in (one kernel for
# bias + activation, forward and backward, on the GPU): the same results, gradients and state_dict.
# Exact types only, so a subclass that changes forward() is never bypassed.
_FUSE_INTO = (Linear, Conv2d)
_FUSABLE_ACTIVATIONS = (ReLU, GELU, Tanh, Sigmoid)


def _fused_activation(layer, following):
    """The activation name to fuse into ``layer`` when ``following`` comes next in a Sequential, else None."""
    if type(layer) in _FUSE_INTO and type(following) in _FUSABLE_ACTIVATIONS:
        return following.fused_activation
    return None


class Sequential(Module):
    """``Sequential(l1, l2, ...)``, ``Sequential([l1, l2])`` or ``Sequential(OrderedDict(name=layer))``."""

    def __init__(self, *layers):
        super().__init__()
        if len(layers) == 1 and isinstance(layers[0], OrderedDict):
            for name, layer in layers[0].items():
                self._check(layer, name)
                self.add_module(name, layer)
            return
        if len(layers) == 1 and isinstance(layers[0], (list, tuple)):
            layers = tuple(layers[0])
        for layer in layers:
            self.add(layer)

    @staticmethod
    def _check(layer, where):
        if not isinstance(layer, Module):
            raise TypeError(f"Sequential: layer {where} must be a Module, got {type(layer).__name__}")

    def add(self, layer: Module) -> "Sequential":
        """Append a layer (Keras style)."""
        self._check(layer, len(self._modules))
        self.add_module(str(len(self._modules)), layer)
        return self

    append = add

    def __getitem__(self, idx):
        layers = list(self._modules.values())
        if isinstance(idx, slice):
            return Sequential(OrderedDict(list(self._modules.items())[idx]))
        if not -len(layers) <= idx < len(layers):
            raise IndexError(f"Sequential index {idx} out of range for {len(layers)} layer(s)")
        return layers[idx]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def forward(self, x):
        names, layers = list(self._modules), list(self._modules.values())
        i = 0
        while i < len(layers):
            if i and isinstance(x, tuple):
                _tuple_between_layers(names, layers, i)
            act = _fused_activation(layers[i], layers[i + 1]) if i + 1 < len(layers) else None
            if act is not None:
                x = layers[i](x, activation=act)
                i += 2
            else:
                x = layers[i](x)
                i += 1
        return x


def _tuple_between_layers(names, layers, i):
    """Sequential passes one tensor from layer to layer; say what to do when a layer returned a tuple."""
    prev, nxt = layers[i - 1], layers[i]
    recurrent = type(prev).__name__ in ("RNN", "LSTM", "GRU")
    what = "(output, (h_n, c_n))" if type(prev).__name__ == "LSTM" else "(output, h_n)" if recurrent else "a tuple"
    raise TypeError(
        f"Sequential: layer {names[i - 1]} ({type(prev).__name__}) returned {what}, but layer {names[i]} "
        f"({type(nxt).__name__}) takes one tensor. Sequential passes a single tensor between layers: select the "
        f"output in your own Module instead, e.g. `out, _ = self.{type(prev).__name__.lower()}(x)` in its "
        f"forward, or wrap the layer in a Module whose forward returns only its output")


class ModuleList(Module):
    """A list of sub-modules, registered as ``"0"``, ``"1"``... (parameters ``"0.weight"``), as torch's.

    ``append``, ``extend``, ``insert``, ``pop``, indexing (a slice gives a ModuleList), assignment, ``del``,
    ``len``, iteration and ``+=``. It has no forward of its own: iterate it in the owning module's forward.
    """

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    @staticmethod
    def _checked(module, where):
        if not isinstance(module, Module):
            raise TypeError(f"ModuleList: {where} must be a Module, got {type(module).__name__}")
        return module

    def _index(self, idx):
        if isinstance(idx, bool) or not hasattr(idx, "__index__"):
            raise TypeError(f"ModuleList indices must be integers or slices, got {type(idx).__name__}")
        idx, n = idx.__index__(), len(self._modules)
        if not -n <= idx < n:
            raise IndexError(f"ModuleList index {idx} out of range for {n} module(s)")
        return idx % n

    def _renumber(self, modules):
        self._modules.clear()
        for i, m in enumerate(modules):
            self._modules[str(i)] = m

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return ModuleList(list(self._modules.values())[idx])
        return list(self._modules.values())[self._index(idx)]

    def __setitem__(self, idx, module):
        self._modules[str(self._index(idx))] = self._checked(module, "an item")

    def __delitem__(self, idx):
        modules = list(self._modules.values())
        if isinstance(idx, slice):
            del modules[idx]
        else:
            del modules[self._index(idx)]
        self._renumber(modules)

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(list(self._modules.values()))

    def __iadd__(self, modules):
        return self.extend(modules)

    def __add__(self, other):
        if not isinstance(other, ModuleList):
            raise TypeError(f"ModuleList: can only add a ModuleList, got {type(other).__name__}")
        return ModuleList(list(self) + list(other))

    def append(self, module) -> "ModuleList":
        self._modules[str(len(self._modules))] = self._checked(module, "the appended value")
        return self

    def extend(self, modules) -> "ModuleList":
        if isinstance(modules, Module) or isinstance(modules, (str, bytes, Mapping)) \
                or not hasattr(modules, "__iter__"):
            raise TypeError(f"ModuleList.extend expects an iterable of Modules, got {type(modules).__name__}")
        modules = list(modules)
        for i, m in enumerate(modules):
            self._checked(m, f"item {i}")
        for m in modules:
            self.append(m)
        return self

    def insert(self, index: int, module) -> None:
        self._checked(module, "the inserted value")
        modules = list(self._modules.values())
        modules.insert(index, module)
        self._renumber(modules)

    def pop(self, index: int = -1):
        module = self[index]
        del self[index]
        return module


class ModuleDict(Module):
    """An ordered dict of sub-modules, registered under their keys (parameters ``"key.weight"``), as torch's.

    ``d[key]``, ``d[key] = module``, ``del d[key]``, ``in``, ``len``, iteration over keys, ``keys()``,
    ``values()``, ``items()``, ``update()``, ``pop()``, ``clear()``. No forward of its own.
    """

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def _key(self, key):
        if not isinstance(key, str):
            raise TypeError(f"ModuleDict keys must be strings, got {type(key).__name__}")
        if not key or "." in key:
            raise KeyError(f"ModuleDict key {key!r} must be a non-empty string without '.'")
        if key in self.__dict__ or (hasattr(type(self), key) and key not in self._modules):
            raise KeyError(f"ModuleDict key {key!r} is already an attribute of ModuleDict")
        return key

    def __getitem__(self, key):
        if key not in self._modules:
            raise KeyError(key)
        return self._modules[key]

    def __setitem__(self, key, module):
        key = self._key(key)
        if not isinstance(module, Module):
            raise TypeError(f"ModuleDict: value for key {key!r} must be a Module, got {type(module).__name__}")
        self._modules[key] = module

    def __delitem__(self, key):
        del self._modules[key]

    def __contains__(self, key):
        return key in self._modules

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(list(self._modules))

    def keys(self):
        return self._modules.keys()

    def values(self):
        return self._modules.values()

    def items(self):
        return self._modules.items()

    def update(self, modules) -> None:
        """Add or replace entries from a mapping or an iterable of (key, module) pairs; all are checked first."""
        if isinstance(modules, (Mapping, ModuleDict)):
            pairs = list(modules.items())
        elif hasattr(modules, "__iter__") and not isinstance(modules, (str, bytes, Module)):
            pairs = []
            for i, pair in enumerate(modules):
                if not isinstance(pair, (tuple, list)) or len(pair) != 2:
                    raise TypeError(f"ModuleDict.update: item {i} must be a (key, module) pair, got {pair!r}")
                pairs.append(tuple(pair))
        else:
            raise TypeError(f"ModuleDict.update expects a mapping or an iterable of (key, module) pairs, got "
                            f"{type(modules).__name__}")
        for key, module in pairs:
            self._key(key)
            if not isinstance(module, Module):
                raise TypeError(f"ModuleDict: value for key {key!r} must be a Module, got {type(module).__name__}")
        for key, module in pairs:
            self._modules[key] = module

    def pop(self, key):
        module = self[key]
        del self._modules[key]
        return module

    def clear(self) -> None:
        self._modules.clear()
