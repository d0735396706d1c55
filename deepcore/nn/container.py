"""Sequential: layers applied in order, with Keras-style ``add``, indexing and ``len``."""
from __future__ import annotations

from collections import OrderedDict

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
        layers = list(self._modules.values())
        i = 0
        while i < len(layers):
            act = _fused_activation(layers[i], layers[i + 1]) if i + 1 < len(layers) else None
            if act is not None:
                x = layers[i](x, activation=act)
                i += 2
            else:
                x = layers[i](x)
                i += 1
        return x
