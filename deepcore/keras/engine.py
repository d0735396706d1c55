"""The Keras layer and model machinery on top of ``dc.nn.Module``.

* ``KerasTensor``: a symbolic tensor (shape with ``None`` for the batch, dtype) that remembers the layer call
  that produced it, so ``keras.Model(inputs, outputs)`` can replay the graph.
* ``Layer``: a ``dc.nn.Module`` with Keras's life cycle: weights are created by ``build(input_shape)`` at the
  first call (symbolic or eager), ``call(inputs, training=None)`` computes, ``compute_output_shape`` gives the
  symbolic shape. Weights are ``Parameter``s (trainable) or buffers (non-trainable, e.g. BatchNormalization's
  moving statistics) registered under their Keras names (``kernel``, ``bias``...), so ``state_dict`` keys read
  ``dense.kernel``. A layer starts in inference mode (``training=False``); ``fit`` switches to training mode.
* ``Model``: functional (``Model(inputs, outputs)``), ``Sequential`` or subclassed (``call`` overridden).

Channels-last images without transposes: a value flowing between layers inside a model may be held in the
``(N, C, H, W)`` order (the layout deepcore's convolution and pooling use) while the model still treats it as
the logical ``(N, H, W, C)`` tensor Keras defines. Layers that can work on that physical order say so
(``_call_layout``); the others receive the logical tensor. A channels-last convnet therefore transposes once
at its input and once before ``Flatten`` instead of twice per convolution and pooling layer.
"""
from __future__ import annotations

import inspect

import numpy as np

from ..backend import CPU, to_device
from ..nn.module import Module
from ..nn.parameter import Parameter
from ..ops.shape import permute
from ..tensor import Tensor
from . import backend as K
from . import initializers as _init
from . import regularizers as _reg

#: Keep channels-last images in the (N, C, H, W) order between layers that accept it (see module docstring).
LAYOUT_PROPAGATION = True


# --- nested structures ---------------------------------------------------------------------------------
def flatten(structure):
    """The leaves of nested lists/tuples/dicts, in order."""
    if isinstance(structure, (list, tuple)):
        return [leaf for item in structure for leaf in flatten(item)]
    if isinstance(structure, dict):
        return [leaf for k in structure for leaf in flatten(structure[k])]
    return [structure]


def map_structure(fn, structure):
    if isinstance(structure, list):
        return [map_structure(fn, s) for s in structure]
    if isinstance(structure, tuple):
        return tuple(map_structure(fn, s) for s in structure)
    if isinstance(structure, dict):
        return {k: map_structure(fn, v) for k, v in structure.items()}
    return fn(structure)


def is_shape(s):
    return isinstance(s, tuple) and all(d is None or isinstance(d, (int, np.integer)) for d in s)


def map_shapes(fn, structure):
    """``fn`` applied to every shape (a tuple of ints/None) of a nested structure of shapes."""
    if is_shape(structure):
        return fn(structure)
    if isinstance(structure, (list, tuple)):
        return type(structure)(map_shapes(fn, s) for s in structure)
    if isinstance(structure, dict):
        return {k: map_shapes(fn, v) for k, v in structure.items()}
    raise TypeError(f"expected a shape or a structure of shapes, got {structure!r}")


def _shape_str(shape):
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


# --- symbolic tensors ----------------------------------------------------------------------------------
class KerasTensor:
    """A symbolic tensor: ``shape`` (``None`` for unknown sizes, e.g. the batch), ``dtype``, and the layer call
    that made it (``_keras_history = (layer, node_index, tensor_index)``)."""

    def __init__(self, shape, dtype="float32", history=None, image_format=None, name=None):
        self.shape = tuple(None if d is None else int(d) for d in shape)
        self.dtype = str(np.dtype(dtype)) if dtype is not None else "float32"
        self._keras_history = history
        self._image_format = image_format   # data format of the image layer that made it (see Layer._data_format)
        self.name = name

    @property
    def ndim(self):
        return len(self.shape)

    def __repr__(self):
        name = f", name={self.name}" if self.name else ""
        return f"<KerasTensor shape={_shape_str(self.shape)}, dtype={self.dtype}{name}>"

    def __len__(self):
        raise TypeError("a KerasTensor is symbolic and has no len(); use .shape")

    def __bool__(self):
        raise TypeError("a KerasTensor is symbolic and has no truth value")

    def __array__(self, *args, **kwargs):
        raise TypeError("a KerasTensor is symbolic: it has no values (it describes the input of a model); "
                        "build a model with keras.Model(inputs, outputs) and call it on data")


def _is_array(a):
    return isinstance(a, Tensor) or (hasattr(a, "shape") and hasattr(a, "dtype"))


def _data_structure(x):
    """Tensors for the call's input: a list of arrays stays a list (several inputs); nested Python lists of
    numbers become one tensor."""
    if isinstance(x, dict):
        return {k: _data_structure(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)) and x and any(_is_array(e) or isinstance(e, dict) for e in x):
        return type(x)(_data_structure(e) for e in x)
    return x if isinstance(x, Tensor) else as_tensor(x)


def _has_keras_tensor(args, kwargs):
    return any(isinstance(t, KerasTensor) for t in flatten(list(args)) + flatten(kwargs))


class Node:
    """One call of ``layer`` on symbolic inputs: ``args``/``kwargs`` as given, ``outputs`` the KerasTensors made."""

    def __init__(self, layer, args, kwargs, outputs):
        self.layer = layer
        self.args, self.kwargs = args, kwargs
        self.input_tensors = [t for t in flatten(list(args)) + flatten(kwargs) if isinstance(t, KerasTensor)]
        self.outputs = outputs
        self.is_input = isinstance(layer, InputLayer)

    @property
    def parent_nodes(self):
        out = []
        for t in self.input_tensors:
            layer, idx, _ = t._keras_history
            out.append(layer._inbound_nodes[idx])
        return out


def structural_names(layers):
    """Per-model names of ``layers`` by class and position (``dense``, ``dense_1``, ``conv2d``...): the names
    Keras's weight files use, and the keys of a model's ``state_dict`` (so two models of the same architecture
    have the same keys whatever their layers are called)."""
    used, out = {}, []
    for layer in layers:
        name = K.to_snake_case(type(layer).__name__)
        if name in used:
            used[name] += 1
            name = f"{name}_{used[name]}"
        else:
            used[name] = 0
        out.append(name)
    return out


# --- layout helpers --------------------------------------------------------------------------------------
def _cf_to_cl(x):
    """A physically (N, C, H, W) value back to its logical (N, H, W, C) tensor."""
    return permute(x, (0, 2, 3, 1))


def _cl_to_cf(x):
    return permute(x, (0, 3, 1, 2))


def as_tensor(x, dtype=None):
    """A deepcore Tensor from a Tensor, NumPy/CuPy array or nested list; floats become float32 (Keras's floatx)."""
    if isinstance(x, Tensor):
        return x
    if isinstance(x, KerasTensor):
        raise TypeError("expected data, got a symbolic KerasTensor")
    from .. import tensor as _tensor
    if hasattr(x, "shape") and hasattr(x, "dtype") and not isinstance(x, np.ndarray):  # a CuPy array
        arr = x
    else:
        arr = np.asarray(x)
        if arr.dtype == object:
            raise TypeError(f"expected a numeric array, got {type(x).__name__}")
    if dtype is None and arr.dtype.kind == "f" and arr.dtype != np.float32:
        dtype = "float32"
    if dtype is None and arr.dtype.kind == "b":
        dtype = "float32"
    return _tensor(arr, dtype=dtype)


# --- layers ----------------------------------------------------------------------------------------------
_LAYER_KWARGS = ("input_shape", "input_dim", "batch_input_shape", "batch_size", "weights", "input_length")


class Layer(Module):
    """Base class of every Keras layer (and model): name, build, call, weights, symbolic calls.

    Subclasses define ``build(input_shape)`` (creating weights with ``add_weight``), ``call(inputs, ...)``
    and, when the output shape is not the input shape, ``compute_output_shape(input_shape)``.
    """

    def __init__(self, *, name=None, trainable=True, dtype=None, activity_regularizer=None, autocast=True,
                 **kwargs):
        super().__init__()
        unknown = [k for k in kwargs if k not in _LAYER_KWARGS]
        if unknown:
            raise TypeError(f"{type(self).__name__}: unexpected keyword argument(s) {', '.join(map(repr, unknown))}")
        object.__setattr__(self, "training", False)   # Keras: inference unless fit (or training=True) says so
        self.name = name if name is not None else K.unique_name(K.to_snake_case(type(self).__name__))
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"{type(self).__name__}: name must be a non-empty string, got {name!r}")
        self.built = False
        self._trainable = bool(trainable)
        self._dtype = "float32" if dtype is None else str(np.dtype(dtype)) if not hasattr(dtype, "name") \
            else dtype.name
        if activity_regularizer is not None:
            raise NotImplementedError(f"{type(self).__name__}: activity_regularizer is not supported")
        self.activity_regularizer = None
        self._inbound_nodes = []
        self._trainable_vars, self._non_trainable_vars = [], []
        self._var_names = {}        # id(tensor) -> Keras variable name
        self._regularized = []      # (tensor, regularizer)
        self._build_device = None
        self._initial_weights = kwargs.get("weights")
        self._batch_input_shape = None
        if kwargs.get("batch_input_shape") is not None:
            self._batch_input_shape = tuple(kwargs["batch_input_shape"])
        elif kwargs.get("input_shape") is not None:
            self._batch_input_shape = (kwargs.get("batch_size"),) + tuple(kwargs["input_shape"])
        elif kwargs.get("input_dim") is not None:
            shape = (int(kwargs["input_dim"]),)
            if kwargs.get("input_length") is not None:
                shape = (kwargs["input_length"],) + shape
            self._batch_input_shape = (kwargs.get("batch_size"),) + shape
        elif kwargs.get("input_length") is not None:          # Keras 1 Embedding(..., input_length=T)
            self._batch_input_shape = (kwargs.get("batch_size"), int(kwargs["input_length"]))

    # --- attributes -------------------------------------------------------------------------
    def __setattr__(self, name, value):
        d = self.__dict__
        if isinstance(value, Tensor) and not isinstance(value, Parameter) and "_var_names" in d \
                and id(value) in d["_var_names"] and "_parameters" in d:
            for store in ("_parameters", "_modules"):
                d[store].pop(name, None)
            self.register_buffer(name, value)
            return
        super().__setattr__(name, value)

    @property
    def dtype(self):
        return self._dtype

    @property
    def trainable(self):
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        value = bool(value)
        for m in self.modules():
            if isinstance(m, Layer):
                m._trainable = value
                for v in m._trainable_vars:
                    v.requires_grad_(value)

    @property
    def trainable_weights(self):
        if not self._trainable:
            return []
        out = list(self._trainable_vars)
        for child in self._sublayers():
            out += [w for w in child.trainable_weights if not any(w is o for o in out)]
        return out

    @property
    def non_trainable_weights(self):
        out = list(self._non_trainable_vars) + ([] if self._trainable else list(self._trainable_vars))
        for child in self._sublayers():
            extra = child.non_trainable_weights if self._trainable else child.weights
            out += [w for w in extra if not any(w is o for o in out)]
        return out

    @property
    def weights(self):
        """All weights: per layer its own (trainable first, then non-trainable), then its sublayers' (Keras's
        order, which ``get_weights``/``set_weights`` use)."""
        out = self._own_variables()
        for child in self._sublayers():
            out += [w for w in child.weights if not any(w is o for o in out)]
        return out

    variables = weights
    trainable_variables = trainable_weights
    non_trainable_variables = non_trainable_weights

    def _own_variables(self):
        """This layer's own weights in Keras's file order (creation order, trainable first)."""
        return list(self._trainable_vars) + list(self._non_trainable_vars)

    def _sublayers(self):
        return [m for m in self._modules.values() if isinstance(m, Layer)]

    @property
    def losses(self):
        """Regularisation penalties of this layer and its sublayers (Tensors), recomputed on access."""
        out = [reg(w) for w, reg in self._regularized]
        for child in self._sublayers():
            out += child.losses
        return out

    def _var_name(self, t):
        return self._var_names.get(id(t), "variable")

    # --- weights ----------------------------------------------------------------------------
    def add_weight(self, shape=None, initializer=None, dtype=None, trainable=True, regularizer=None,
                   constraint=None, name=None, **kwargs):
        """Create a weight: a Parameter (trainable) or a buffer (non-trainable), on the layer's build device."""
        shape = () if shape is None else tuple(int(s) for s in shape)
        if initializer is None:
            initializer = "glorot_uniform" if len(shape) >= 2 else "zeros"
        init = _init.get(initializer)
        dtype = dtype or self._dtype
        values = np.asarray(init(shape, dtype=dtype), dtype=dtype).reshape(shape)
        dev = self._build_device or CPU
        array = to_device(values, dev) if dev != CPU else values
        if trainable:
            var = Parameter(array, requires_grad=self._trainable)
            self._trainable_vars.append(var)
        else:
            var = Tensor._make(array)
            self._non_trainable_vars.append(var)
        self._var_names[id(var)] = name or "variable"
        if name is not None:
            if trainable:
                setattr(self, name, var)
            else:
                self.register_buffer(name, var)
        if regularizer is not None:
            self._regularized.append((var, _reg.get(regularizer)))
        return var

    def get_weights(self):
        return [w.numpy() for w in self.weights]

    def set_weights(self, weights):
        """Set every weight from a list of arrays (``get_weights`` order); all shapes are checked first."""
        own = self.weights
        weights = list(weights)
        if len(weights) != len(own):
            raise ValueError(f"set_weights: layer {self.name!r} has {len(own)} weight(s), got {len(weights)}")
        arrays = [np.asarray(w) for w in weights]
        for w, a in zip(own, arrays):
            if tuple(a.shape) != w.shape:
                raise ValueError(f"set_weights: layer {self.name!r}: weight {self._var_name(w)!r} has shape "
                                 f"{w.shape}, got an array of shape {tuple(a.shape)}")
        for w, a in zip(own, arrays):
            w.data[...] = to_device(a.astype(w.dtype, copy=False), w.device)

    def count_params(self) -> int:
        if not self.built:
            raise ValueError(f"count_params: layer {self.name!r} is not built yet; call it on data or build it")
        return int(sum(int(np.prod(w.shape)) for w in self.weights))

    # --- life cycle ---------------------------------------------------------------------------
    def build(self, input_shape):
        """Create the weights for inputs of ``input_shape`` (batch axis ``None``); the default creates none."""

    def _maybe_build(self, input_shape, device=None):
        if self.built:
            return
        self._build_device = device
        self.build(input_shape)
        self.built = True
        if self._initial_weights is not None:
            weights, self._initial_weights = self._initial_weights, None
            self.set_weights(weights)

    def call(self, inputs, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must define call()")

    def compute_output_shape(self, input_shape):
        """The output shape for ``input_shape``; by default found by running the layer on a batch of one."""
        return self._traced_output_shape(input_shape)

    def _traced_output_shape(self, input_shape):
        from .. import tensor as _tensor
        from ..autograd import no_grad
        dev = self._build_device or CPU
        dummy = map_shapes(lambda s: _tensor(np.zeros((1,) + tuple(1 if d is None else d for d in s[1:]),
                                                      dtype="float32"), device=dev), input_shape)
        with no_grad():
            out = self._eager_call(dummy)
        return map_structure(lambda t: (None,) + tuple(t.shape[1:]), out)

    def compute_output_dtype(self, input_dtype):
        return "float32"

    @classmethod
    def _takes_training(cls):
        key = "_takes_training_" + cls.__name__
        cached = cls.__dict__.get(key)
        if cached is None:
            params = inspect.signature(cls.call).parameters
            cached = "training" in params or any(p.kind == p.VAR_KEYWORD for p in params.values())
            setattr(cls, key, cached)
        return cached

    # --- calling ------------------------------------------------------------------------------
    def __call__(self, *args, **kwargs):
        if _has_keras_tensor(args, kwargs):
            return self._symbolic_call(*args, **kwargs)
        return self._eager_call(*args, **kwargs)

    def forward(self, *args, **kwargs):
        return self._eager_call(*args, **kwargs)

    def _eager_call(self, inputs, *args, training=None, **kwargs):
        inputs = _data_structure(inputs)
        if not self.built:
            first = flatten(inputs)[0]
            self._maybe_build(map_structure(lambda t: (None,) + tuple(t.shape[1:]), inputs), first.device)
        if self._takes_training():
            kwargs["training"] = self.training if training is None else bool(training)
        return self.call(inputs, *args, **kwargs)

    def _call_layout(self, x, cf, training):
        """Call on ``x`` which is physically (N, C, H, W) when ``cf``; returns ``(y, y_cf)`` (see module doc).

        The default hands the layer its logical input; layers that work in the (N, C, H, W) order override it.
        """
        if cf:
            x = _cf_to_cl(x)
        return self._eager_call(x, training=training), False

    def _symbolic_call(self, *args, **kwargs):
        inputs = args[0]
        shapes = map_structure(lambda t: t.shape, inputs)
        if not self.built:
            self._resolve_from_inputs(inputs)
            self._maybe_build(shapes)
        out_shapes = self.compute_output_shape(shapes)
        in_dtype = flatten(inputs)[0].dtype
        fmt = self._output_image_format(inputs)
        if isinstance(out_shapes, list) and (not out_shapes or isinstance(out_shapes[0], (tuple, list))):
            outputs = [KerasTensor(s, self.compute_output_dtype(in_dtype), image_format=fmt) for s in out_shapes]
        else:
            outputs = KerasTensor(out_shapes, self.compute_output_dtype(in_dtype), image_format=fmt)
        flat = flatten(outputs)
        node = Node(self, args, kwargs, flat)
        for i, t in enumerate(flat):
            t._keras_history = (self, len(self._inbound_nodes), i)
        self._inbound_nodes.append(node)
        return outputs

    def _resolve_from_inputs(self, inputs):
        """Hook run before a symbolic build (image layers resolve ``data_format=None`` here)."""

    def _output_image_format(self, inputs):
        first = flatten(inputs)[0]
        return first._image_format if isinstance(first, KerasTensor) else None

    # --- graph info -----------------------------------------------------------------------------
    def _node_attr(self, what):
        if not self._inbound_nodes:
            raise AttributeError(f"layer {self.name!r} has not been called on a symbolic input yet, so it has "
                                 f"no {what}")
        node = self._inbound_nodes[0]
        if what == "input":
            return node.args[0]
        return node.outputs[0] if len(node.outputs) == 1 else list(node.outputs)

    @property
    def input(self):
        return self._node_attr("input")

    @property
    def output(self):
        return self._node_attr("output")

    @property
    def input_shape(self):
        return map_structure(lambda t: t.shape, self.input)

    @property
    def output_shape(self):
        return map_structure(lambda t: t.shape, self.output)

    def get_config(self):
        return {"name": self.name, "trainable": self.trainable, "dtype": self.dtype}

    def extra_repr(self):
        return f"name={self.name!r}"

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"


class InputLayer(Layer):
    """The layer behind ``keras.Input``: makes the model's symbolic input tensor."""

    def __init__(self, shape=None, batch_size=None, dtype=None, batch_shape=None, name=None, sparse=None,
                 input_shape=None, **kwargs):
        if shape is None and input_shape is not None:
            shape = input_shape
        if batch_shape is None:
            if shape is None:
                raise ValueError("Input: give shape= (the shape of one sample, e.g. shape=(28, 28, 1))")
            if isinstance(shape, int):
                shape = (shape,)
            batch_shape = (batch_size,) + tuple(shape)
        super().__init__(name=name, **kwargs)
        self._dtype = "float32" if dtype is None else str(np.dtype(dtype))
        self.batch_shape = tuple(batch_shape)
        self.built = True
        tensor = KerasTensor(self.batch_shape, self._dtype, name=self.name)
        node = Node(self, (), {}, [tensor])
        tensor._keras_history = (self, 0, 0)
        self._inbound_nodes.append(node)

    def call(self, inputs):
        return inputs

    def compute_output_shape(self, input_shape):
        return self.batch_shape

    @property
    def output(self):
        return self._inbound_nodes[0].outputs[0]


def Input(shape=None, batch_size=None, dtype=None, sparse=None, batch_shape=None, name=None, tensor=None):
    """A symbolic model input: ``Input(shape=(28, 28, 1))`` (the batch axis is left out)."""
    if sparse:
        raise NotImplementedError("Input(sparse=True) is not supported")
    if tensor is not None:
        raise NotImplementedError("Input(tensor=...) is not supported")
    return InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, batch_shape=batch_shape, name=name).output


# --- functional graphs -------------------------------------------------------------------------------------
def _map_graph(inputs, outputs):
    """Nodes in execution order and layers in Keras's order (by depth from the outputs, ties by first visit)."""
    finished, in_progress = set(), set()
    node_order, layer_index = [], {}

    def visit(tensor):
        if not isinstance(tensor, KerasTensor) or tensor._keras_history is None:
            raise ValueError(f"Model: {tensor!r} was not made by a Keras layer call on keras.Input tensors")
        layer, idx, _ = tensor._keras_history
        node = layer._inbound_nodes[idx]
        if id(node) in finished:
            return
        if id(node) in in_progress:
            raise ValueError(f"Model: the graph has a cycle at layer {layer.name!r}")
        layer_index.setdefault(id(layer), (len(layer_index), layer))
        in_progress.add(id(node))
        if not node.is_input:
            for t in node.input_tensors:
                visit(t)
        finished.add(id(node))
        in_progress.discard(id(node))
        node_order.append(node)

    for t in outputs:
        visit(t)
    input_ids = {id(t) for t in inputs}
    for node in node_order:
        if node.is_input and id(node.outputs[0]) not in input_ids:
            raise ValueError(f"Model: graph disconnected: the output depends on input {node.outputs[0]!r} "
                             f"({node.layer.name!r}), which is not among the model's inputs")
    node_depth, layer_depth = {}, {}
    for node in reversed(node_order):
        depth = max(node_depth.setdefault(id(node), 0), layer_depth.get(id(node.layer), 0))
        layer_depth[id(node.layer)] = depth
        node_depth[id(node)] = depth
        if not node.is_input:
            for parent in node.parent_nodes:
                node_depth[id(parent)] = max(depth + 1, node_depth.get(id(parent), 0))
    layers = sorted((v for v in layer_index.values()), key=lambda iv: (-layer_depth[id(iv[1])], iv[0]))
    nodes_by_depth = {}
    for node in node_order:
        nodes_by_depth.setdefault(node_depth[id(node)], []).append(node)
    return node_order, [layer for _, layer in layers], nodes_by_depth


class _Values:
    """Values of the KerasTensors during one run of a graph: tensors plus their physical layout."""

    def __init__(self):
        self.store = {}
        self.logical = {}

    def set(self, kt, value, cf=False):
        self.store[id(kt)] = (value, cf)

    def raw(self, kt):
        return self.store[id(kt)]

    def get(self, kt):
        value, cf = self.store[id(kt)]
        if not cf:
            return value
        if id(kt) not in self.logical:
            self.logical[id(kt)] = _cf_to_cl(value)
        return self.logical[id(kt)]


def _run_node(node, values, training):
    layer = node.layer
    single = isinstance(node.args[0], KerasTensor) and len(node.args) == 1 and \
        not any(isinstance(t, KerasTensor) for t in flatten(node.kwargs))
    if single and LAYOUT_PROPAGATION and not node.kwargs:
        x, cf = values.raw(node.args[0])
        y, y_cf = layer._call_layout(x, cf, training)
        return (flatten(y) if isinstance(y, (list, tuple)) else [y]), y_cf
    args = map_structure(lambda t: values.get(t) if isinstance(t, KerasTensor) else t, list(node.args))
    kwargs = map_structure(lambda t: values.get(t) if isinstance(t, KerasTensor) else t, dict(node.kwargs))
    kwargs.pop("training", None)
    out = layer._eager_call(*args, training=training, **kwargs)
    return flatten(out), False
