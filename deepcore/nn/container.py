"""Sequential: layers applied in order, with Keras-style ``add``, indexing and ``len``."""
from __future__ import annotations

from collections import OrderedDict

from .module import Module


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
        for layer in self._modules.values():
            x = layer(x)
        return x
