"""``model.summary()``: Keras 3's table (layer and type, output shape, parameter count, connections) and totals."""
from __future__ import annotations

import numpy as np

from .engine import InputLayer, flatten

_SEQ_WIDTHS = (31, 22, 13)          # Keras's column widths at its default 78-character width
_GRAPH_WIDTHS = (19, 17, 10, 17)
_HEADERS = ("Layer (type)", "Output Shape", "Param #", "Connected to")


def _wrap(text, width):
    """Lines of at most ``width`` characters, breaking at spaces (and inside words longer than a line)."""
    lines, line = [], ""
    for word in text.split(" "):
        while len(word) > width:
            if line:
                lines.append(line)
                line = ""
            lines.append(word[:width])
            word = word[width:]
        candidate = word if not line else f"{line} {word}"
        if len(candidate) <= width:
            line = candidate
        else:
            lines.append(line)
            line = word
    lines.append(line)
    return lines


def _shape_text(shape):
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def _output_shape(layer):
    if not getattr(layer, "_inbound_nodes", None):
        return "?"
    outs = layer._inbound_nodes[0].outputs
    if len(outs) == 1:
        return _shape_text(outs[0].shape)
    return "[" + ", ".join(_shape_text(t.shape) for t in outs) + "]"


def readable_size(nbytes):
    units = ["B", "KB", "MB", "GB", "TB", "PB"]
    size = float(nbytes)
    for unit in units:
        if size < 1024 or unit == units[-1]:
            return f"{size:.2f} {unit}"
        size /= 1024


def _count(weights):
    return int(sum(int(np.prod(w.shape)) for w in weights))


def _bytes(weights):
    return int(sum(int(np.prod(w.shape)) * np.dtype(w.dtype).itemsize for w in weights))


def _sequential_like(model):
    if not getattr(model, "_functional", False):
        return True
    nodes = []
    for depth_nodes in model._nodes_by_depth.values():
        if len(depth_nodes) > 1 or (len(depth_nodes) == 1 and len(depth_nodes[0].input_tensors) > 1):
            return False
        nodes += depth_nodes
    node_ids = {id(n) for n in nodes}
    for layer in model.layers:
        if sum(id(n) in node_ids for n in layer._inbound_nodes) > 1:
            return False
    return True


def _connections(model, layer):
    if isinstance(layer, InputLayer):
        return "-"
    own = {id(n) for n in model._nodes}
    parts = []
    for node in layer._inbound_nodes:
        if id(node) not in own:
            continue
        for t in node.input_tensors:
            src, node_index, tensor_index = t._keras_history
            parts.append(f"{src.name}[{node_index}][{tensor_index}]")
    return ", ".join(parts) if parts else "-"


def _row(cells, widths, aligns, bar="│"):
    wrapped = [_wrap(c, w) for c, w in zip(cells, widths)]
    height = max(len(w) for w in wrapped)
    out = []
    for i in range(height):
        parts = []
        for lines, w, a in zip(wrapped, widths, aligns):
            text = lines[i] if i < len(lines) else ""
            parts.append(" " + (text.rjust(w) if a == "right" else text.ljust(w)) + " ")
        out.append(bar + bar.join(parts) + bar)
    return out


def summary_lines(model):
    graph = not _sequential_like(model)
    widths = _GRAPH_WIDTHS if graph else _SEQ_WIDTHS
    aligns = ("left", "left", "right", "left")[:len(widths)]
    headers = _HEADERS[:len(widths)]
    seg = ["━" * (w + 2) for w in widths]
    lines = [f'Model: "{model.name}"', "┏" + "┳".join(seg) + "┓"]
    lines += _row(headers, widths, aligns, "┃")
    lines.append("┡" + "╇".join(seg) + "┩")
    layers = model.layers
    if getattr(model, "_functional", False) is False and not layers and hasattr(model, "_stack"):
        layers = []
    sep = "├" + "┼".join("─" * (w + 2) for w in widths) + "┤"
    for i, layer in enumerate(layers):
        params = f"{layer.count_params():,}" if layer.built else "0 (unbuilt)"
        cells = [f"{layer.name} ({type(layer).__name__})", _output_shape(layer), params]
        if graph:
            cells.append(_connections(model, layer))
        lines += _row(cells, widths, aligns)
        if i < len(layers) - 1:
            lines.append(sep)
    lines.append("└" + "┴".join("─" * (w + 2) for w in widths) + "┘")
    trainable = _unique(model.trainable_weights)
    non_trainable = _unique(model.non_trainable_weights)
    total = trainable + non_trainable
    lines.append(f" Total params: {_count(total):,} ({readable_size(_bytes(total))})")
    lines.append(f" Trainable params: {_count(trainable):,} ({readable_size(_bytes(trainable))})")
    lines.append(f" Non-trainable params: {_count(non_trainable):,} ({readable_size(_bytes(non_trainable))})")
    return lines


def _unique(weights):
    seen, out = set(), []
    for w in weights:
        if id(w) not in seen:
            seen.add(id(w))
            out.append(w)
    return out


def print_summary(model, line_length=None, print_fn=None):
    lines = summary_lines(model)
    if print_fn is None:
        print("\n".join(lines))
    else:
        for line in lines:
            print_fn(line)


__all__ = ["flatten", "print_summary", "readable_size", "summary_lines"]
