"""Keras 3's ``.weights.h5`` files (and reading Keras 2 ``.h5`` weight files), via h5py.

Layout of a Keras 3 weights file, as Keras writes it: the model's own variables in ``vars``; its layers under
``layers/<name>``, where ``<name>`` is the snake-case class name made unique by order (``dense``, ``dense_1``,
``conv2d``...; not the layer's ``name``); each layer's variables as datasets ``0``, ``1``... of
``<path>/vars`` in the layer's weight order (trainable first), and its sub-objects below it (``cell`` of
recurrent layers, ``layer`` of ``TimeDistributed``, ``layers/...`` of a nested model). Optimizer state
(``optimizer/vars``) is neither written nor read.

Loading checks every variable's presence and shape before changing anything; an error names the layer.
"""
from __future__ import annotations

import os

import numpy as np

from ..backend import to_device
from ..io import atomic_path
from .engine import InputLayer, Layer, structural_names


def _h5py():
    try:
        import h5py
    except ImportError:
        raise ImportError("Keras .h5 weight files need h5py: pip install h5py") from None
    return h5py


def _children(obj):
    """(attribute, child) pairs Keras saves below ``obj``; a list child is a container of layers."""
    from .layers import RNN, TimeDistributed
    from .models import Model
    if isinstance(obj, Model):
        return [("layers", list(obj.layers))]
    if isinstance(obj, RNN):
        return [("cell", obj.cell)]
    if isinstance(obj, TimeDistributed):
        return [("layer", obj.layer)]
    return [(name, m) for name, m in obj._modules.items() if isinstance(m, Layer)]


def _entries(model):
    """Every saved object as (path of its group, object) in Keras's walk order."""
    out = []

    def walk(obj, path):
        out.append((path, obj))
        for attr, child in _children(obj):
            base = f"{path}/{attr}" if path else attr
            if isinstance(child, list):
                for name, layer in zip(structural_names(child), child):
                    walk(layer, f"{base}/{name}")
            else:
                walk(child, base)

    walk(model, "")
    return out


def _vars_path(path):
    return f"{path}/vars" if path else "vars"


def _own_variables(obj):
    return obj._own_variables() if isinstance(obj, Layer) else []


def save_weights(model, path):
    """Write ``model``'s weights in Keras 3's ``.weights.h5`` layout, atomically (temp file + rename)."""
    h5py = _h5py()
    if not model.built:
        raise ValueError(f"save_weights: model {model.name!r} is not built yet (give it an input shape or call it "
                         "on data first)")
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        for group_path, obj in _entries(model):
            vars_group = f.require_group(_vars_path(group_path))
            vars_group.attrs["name"] = getattr(obj, "name", "")
            for i, v in enumerate(_own_variables(obj)):
                vars_group.create_dataset(str(i), data=v.numpy())


def _describe(obj, path):
    return f"layer {getattr(obj, 'name', '?')!r} ({type(obj).__name__}, {path or 'the model'})"


def load_weights(model, path):
    """Load a Keras 3 ``.weights.h5`` (or Keras 2 ``.h5``) file into ``model``; all shapes are checked first."""
    h5py = _h5py()
    if not os.path.exists(path):
        raise FileNotFoundError(f"load_weights: no such file: {path}")
    if not model.built:
        raise ValueError(f"load_weights: model {model.name!r} is not built yet; give it an input shape "
                         "(keras.Input(shape=...) or input_shape=...) or call it on data before loading weights")
    with h5py.File(path, "r") as f:
        if "layer_names" in f.attrs or "model_weights" in f:
            staged = _stage_legacy(model, f.get("model_weights", f), path)
        else:
            staged = _stage_keras3(model, f, path)
    for target, array in staged:
        target.data[...] = to_device(array.astype(target.dtype, copy=False), target.device)


def _stage_keras3(model, f, path):
    staged = []
    for group_path, obj in _entries(model):
        own = _own_variables(obj)
        vp = _vars_path(group_path)
        group = f.get(vp)
        stored = sorted(group.keys(), key=lambda k: int(k) if k.isdigit() else -1) if group is not None else []
        if len(stored) != len(own):
            where = f"{path}:{vp}"
            if group is None and own:
                raise ValueError(f"load_weights: {_describe(obj, group_path)} has {len(own)} weight(s) but the file "
                                 f"has no group {where}; is it a file of the same architecture?")
            raise ValueError(f"load_weights: {_describe(obj, group_path)} expects {len(own)} variable(s) but the "
                             f"file has {len(stored)} in {where}; nothing was loaded")
        for i, v in enumerate(own):
            array = np.asarray(group[str(i)])
            if tuple(array.shape) != tuple(v.shape):
                raise ValueError(f"load_weights: {_describe(obj, group_path)}: variable {i} "
                                 f"({obj._var_name(v)!r}) has shape {tuple(array.shape)} in the file but "
                                 f"{tuple(v.shape)} in the model; nothing was loaded")
            staged.append((v, array))
    return staged


def _weighted_layers(obj):
    """Layers with weights in model order, for Keras 2 files (which list layers by name, in order)."""
    from .models import Model
    out = []
    for layer in obj.layers:
        if isinstance(layer, Model):
            out += _weighted_layers(layer)
        elif not isinstance(layer, InputLayer) and layer.weights:
            out.append(layer)
    return out


def _stage_legacy(model, f, path):
    def text(v):
        return v.decode("utf8") if isinstance(v, bytes) else str(v)

    file_layers = []
    for name in f.attrs["layer_names"]:
        g = f[text(name)]
        names = [text(n) for n in g.attrs.get("weight_names", [])]
        if names:
            file_layers.append((text(name), [np.asarray(g[n]) for n in names]))
    layers = _weighted_layers(model)
    if len(file_layers) != len(layers):
        raise ValueError(f"load_weights: {path} (Keras 2 format) has weights for {len(file_layers)} layer(s) but the "
                         f"model has {len(layers)} layer(s) with weights; nothing was loaded")
    staged = []
    for (fname, arrays), layer in zip(file_layers, layers):
        own = layer.weights
        if len(arrays) != len(own):
            raise ValueError(f"load_weights: layer {layer.name!r} has {len(own)} weight(s) but file layer {fname!r} "
                             f"has {len(arrays)}; nothing was loaded")
        for v, a in zip(own, arrays):
            if tuple(a.shape) != tuple(v.shape):
                raise ValueError(f"load_weights: layer {layer.name!r}: weight {layer._var_name(v)!r} has shape "
                                 f"{tuple(v.shape)} but file layer {fname!r} has {tuple(a.shape)}; nothing was "
                                 "loaded")
            staged.append((v, a))
    return staged
