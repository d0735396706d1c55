"""``keras.Model`` (functional and subclassed), ``keras.Sequential``, and Keras's compile/fit/evaluate/predict.

A model is a ``dc.nn.Module``: ``fit`` runs deepcore's training loop (``dc.training.KerasMixin``), which calls
``_forward_loss`` once per batch; this module supplies the Keras meaning of that step: several inputs and
outputs, Keras losses per output (``loss_weights``), ``sample_weight``/``class_weight``, regularisation
losses, and metrics per output. Extra per-sample arrays (targets of outputs after the first, sample weights)
travel through the data pipeline as extra input arrays, so shuffling, batching, ``validation_split`` and the
device cache treat them exactly like the inputs; ``_forward_loss`` splits them off again.
"""
from __future__ import annotations

import numbers

import numpy as np

from ..training.keras import KerasMixin
from . import backend as K
from . import losses as _losses
from . import metrics as _metrics
from . import optimizers as _optimizers
from ._ops import scale
from .engine import (
    InputLayer,
    KerasTensor,
    Layer,
    _cf_to_cl,
    _map_graph,
    _run_node,
    _Values,
    as_tensor,
    flatten,
    map_structure,
    structural_names,
)

_FIT_LEGACY = {"nb_epoch": "epochs"}


def _is_array_like(a):
    return hasattr(a, "shape") and hasattr(a, "dtype")


def _as_array(a, what):
    if a is None:
        return a
    if _is_array_like(a):
        return a.astype(np.float32) if isinstance(a, np.ndarray) and a.dtype == np.bool_ else a
    arr = np.asarray(a)
    if arr.dtype == np.bool_:
        arr = arr.astype(np.float32)
    if arr.dtype == object:
        raise TypeError(f"{what} must be an array (or a list of arrays for several inputs/outputs), got "
                        f"{type(a).__name__}")
    return arr


def _host(a):
    """A NumPy view/copy of an array or Tensor (for class weights and shape checks only)."""
    from ..tensor import Tensor
    if isinstance(a, Tensor):
        return a.numpy()
    if isinstance(a, np.ndarray):
        return a
    return a.get() if hasattr(a, "get") else np.asarray(a)


class _Plan:
    """How one fit/evaluate call packs arrays: model inputs, extra targets, sample weights (in that order)."""

    def __init__(self, n_inputs=None, n_extra=0, has_weights=False):
        self.n_inputs, self.n_extra, self.has_weights = n_inputs, n_extra, has_weights

    def split(self, inputs):
        if self.n_inputs is None:
            return list(inputs), [], None
        xs = list(inputs[:self.n_inputs])
        extra = list(inputs[self.n_inputs:self.n_inputs + self.n_extra])
        sw = inputs[self.n_inputs + self.n_extra] if self.has_weights else None
        return xs, extra, sw


def _batch_record(model, pred):
    """What ``_forward_loss`` computed for the batch whose first output is the array ``pred``.

    Keyed by that array: a training step replayed as a CUDA graph (``fit(capture=True)``) runs no Python, but
    returns the arrays of the captured step, which the replay rewrote, so the record made at the capture
    still holds this batch's values."""
    records = model.__dict__.get("_keras_batches", {})
    record = records.pop(id(pred), None)
    if record is None:
        raise RuntimeError("internal: no record of this batch's outputs")
    records[id(pred)] = record         # most recently used last: a captured step's record stays
    return record


class _OutputMetric(_metrics.Metric):
    """A Keras metric of one output of the model."""

    def __init__(self, model, metric, index, name):
        self.model, self.metric, self.index = model, metric, index
        self.name = name

    def batch_sum(self, pred, target):
        if self.index == 0:
            v = self.metric.values(target, pred)
        else:
            outs, ys, _ = _batch_record(self.model, pred)
            v = self.metric.values(ys[self.index].data, outs[self.index].data)
        return v.sum(dtype="float64"), int(v.size)


class _OutputLoss(_metrics.Metric):
    """The loss of one output of a multi-output model (logged as ``<output>_loss``)."""

    def __init__(self, model, index, name):
        self.model, self.index, self.name = model, index, name

    def batch_sum(self, pred, target):
        _, _, per_output = _batch_record(self.model, pred)
        n = int(pred.shape[0])
        return per_output[self.index].data.astype("float64") * n, n


class _NoLoss:
    """Placeholder loss handed to the base ``compile`` (Keras models compute theirs in ``_forward_loss``)."""

    __name__ = "keras_loss"

    def __call__(self, pred, target):
        raise RuntimeError("internal: a Keras model computes its loss in _forward_loss")


class _Pending:
    """Stands in for the optimizer of a model that is not built yet (bound at the first fit)."""

    param_groups = ()

    def step(self):
        raise RuntimeError("the model is not built yet")

    def zero_grad(self):
        raise RuntimeError("the model is not built yet")


class Model(Layer):
    """``keras.Model(inputs, outputs)`` (functional) or a subclass defining ``call`` (subclassed model)."""

    def __init__(self, *args, **kwargs):
        inputs = kwargs.pop("inputs", kwargs.pop("input", None))
        outputs = kwargs.pop("outputs", kwargs.pop("output", None))
        if args:
            if inputs is None:
                inputs, args = args[0], args[1:]
            if args and outputs is None:
                outputs, args = args[0], args[1:]
        if args:
            raise TypeError(f"Model: unexpected positional arguments {args!r}")
        functional = inputs is not None or outputs is not None
        name = kwargs.pop("name", None)
        if name is None:
            base = "functional" if functional else K.to_snake_case(type(self).__name__)
            name = K.unique_name(base)
        super().__init__(name=name, **kwargs)
        self._functional = functional
        self._keras_cfg = None
        if self._functional:
            if inputs is None or outputs is None:
                raise ValueError("Model: give both inputs and outputs (KerasTensors), e.g. Model(inputs, outputs)")
            self._init_graph(inputs, outputs)

    # --- functional graph -----------------------------------------------------------------------
    def _init_graph(self, inputs, outputs):
        if isinstance(inputs, dict):
            self._input_names = list(inputs)
        self._inputs_struct, self._outputs_struct = inputs, outputs
        self.inputs, self.outputs = flatten(inputs), flatten(outputs)
        for t in self.inputs:
            if not isinstance(t, KerasTensor) or not isinstance(t._keras_history[0], InputLayer):
                raise TypeError(f"Model: inputs must be keras.Input tensors, got {t!r}")
        for t in self.outputs:
            if not isinstance(t, KerasTensor):
                raise TypeError(f"Model: outputs must be KerasTensors made by layer calls, got {t!r}")
        self._nodes, self._layers, self._nodes_by_depth = _map_graph(self.inputs, self.outputs)
        self._register(self._layers)
        self.built = True

    def _register(self, layers):
        seen = {}
        for layer in layers:
            if layer.name in seen and seen[layer.name] is not layer:
                raise ValueError(f"the name {layer.name!r} is used by two layers of model {self.name!r}; layer "
                                 "names must be unique within a model")
            seen[layer.name] = layer
        self._modules.clear()
        for key, layer in zip(structural_names(layers), layers):
            self.add_module(key, layer)

    @property
    def layers(self):
        if self._functional:
            return list(self._layers)
        return [m for m in self._modules.values() if isinstance(m, Layer)]

    def get_layer(self, name=None, index=None):
        layers = self.layers
        if index is not None:
            return layers[index]
        for layer in layers:
            if layer.name == name:
                return layer
        raise ValueError(f"no layer named {name!r} in model {self.name!r}; layers: "
                         f"{', '.join(l.name for l in layers)}")

    @property
    def output_names(self):
        return [t._keras_history[0].name for t in self.outputs]

    @property
    def input_names(self):
        return [t._keras_history[0].name for t in self.inputs]

    def compute_output_shape(self, input_shape):
        if self._functional:
            return map_structure(lambda t: t.shape, self._outputs_struct)
        return self._traced_output_shape(input_shape)

    def build(self, input_shape=None):
        if self._functional or input_shape is None:
            return
        self.built = True                        # a subclassed model builds its layers by running once
        self._traced_output_shape(input_shape)

    def _sublayers(self):
        return self.layers

    # --- calling ----------------------------------------------------------------------------------
    def _eager_call(self, *inputs, training=None, **kwargs):
        inputs = inputs[0] if len(inputs) == 1 else list(inputs)
        if not self._functional:
            return Layer._eager_call(self, inputs, training=training, **kwargs)
        return self.call(inputs, training=training)

    def forward(self, *inputs, **kwargs):
        return self._eager_call(*inputs, **kwargs)

    def _symbolic_call(self, *args, **kwargs):
        return Layer._symbolic_call(self, *args, **kwargs)

    def _standardize_inputs(self, inputs):
        if isinstance(inputs, dict):
            names = self.input_names
            missing = [n for n in names if n not in inputs]
            if missing:
                raise ValueError(f"model {self.name!r}: missing input(s) {missing}; expected {names}")
            return [inputs[n] for n in names]
        flat = inputs if isinstance(inputs, (list, tuple)) else [inputs]
        if len(flat) != len(self.inputs):
            raise ValueError(f"model {self.name!r} expects {len(self.inputs)} input(s), got {len(flat)}")
        return list(flat)

    def call(self, inputs, training=None):
        if not self._functional:
            raise NotImplementedError(f"{type(self).__name__}: a subclassed Model must define call()")
        values = _Values()
        for kt, v in zip(self.inputs, self._standardize_inputs(inputs)):
            t = as_tensor(v)
            if kt.dtype.startswith("int") and t.dtype.kind == "f":
                t = t.astype("int64")
            values.set(kt, t)
        training = self.training if training is None else bool(training)
        for node in self._nodes:
            if node.is_input:
                continue
            forced = node.kwargs.get("training")      # layer(x, training=True) in the graph wins
            outs, cf = _run_node(node, values, training if forced is None else bool(forced))
            for kt, v in zip(node.outputs, outs):
                values.set(kt, v, cf)
        return map_structure(values.get, self._outputs_struct)

    def _call_layout(self, x, cf, training):
        return Layer._call_layout(self, x, cf, training)

    # --- building from data -----------------------------------------------------------------------
    def _input_arrays(self, x):
        """The model's input arrays in ``x``: one array, or a list (dict by input name) for several inputs."""
        if self._functional:
            xs = self._standardize_inputs(x)
        elif not isinstance(self, Sequential) and isinstance(x, (list, tuple)) and x and \
                all(_is_array_like(a) for a in x):
            xs = list(x)                      # a subclassed model taking a list of inputs
        else:
            xs = [x]
        return [_as_array(a, "x") for a in xs]

    def _ensure_built(self, xs):
        """Build an unbuilt model (Sequential without an input shape, subclassed) from its input arrays."""
        if self.built:
            return
        shapes = [(None,) + tuple(a.shape[1:]) for a in xs]
        from ..training._data import model_device
        dev = model_device(self)      # where already-built layers live (the CPU for a fresh model)
        self._maybe_build(shapes[0] if len(shapes) == 1 else shapes, dev)

    # --- summary, weights -------------------------------------------------------------------------------
    def summary(self, line_length=None, positions=None, print_fn=None, expand_nested=False, show_trainable=False,
                layer_range=None):
        """Print the layers, their output shapes and parameter counts, and the totals, as Keras does."""
        from .summary import print_summary
        print_summary(self, line_length=line_length, print_fn=print_fn)

    def save_weights(self, filepath, overwrite=True):
        """Keras 3's ``.weights.h5`` layout for ``.h5`` paths (readable by Keras); other suffixes use
        deepcore's formats (``.npz``, ``.pt``, ``.safetensors``) for ``state_dict()``."""
        from . import saving
        path = str(filepath)
        if path.endswith((".h5", ".hdf5")):
            if not overwrite:
                import os
                if os.path.exists(path):
                    raise FileExistsError(f"save_weights: {path} exists and overwrite=False")
            return saving.save_weights(self, path)
        return Layer.save_weights(self, filepath)

    def load_weights(self, filepath, skip_mismatch=False, strict=True, **kwargs):
        """Load a ``.weights.h5`` file written by Keras 3 or deepcore (or a Keras 2 ``.h5`` weights file);
        every variable's shape is checked first, and a mismatch names the layer and changes nothing."""
        from . import saving
        path = str(filepath)
        if path.endswith((".h5", ".hdf5")):
            return saving.load_weights(self, path)
        return Layer.load_weights(self, filepath, strict=strict)

    def save(self, filepath, *args, **kwargs):
        raise NotImplementedError("model.save (whole-model .keras files) is not supported; use "
                                  "model.save_weights('model.weights.h5') and rebuild the model in code")

    def to_json(self, **kwargs):
        raise NotImplementedError("model.to_json is not supported; rebuild the model in code")

    # --- compile ------------------------------------------------------------------------------------
    def compile(self, optimizer="rmsprop", loss=None, loss_weights=None, metrics=None, weighted_metrics=None,
                run_eagerly=False, steps_per_execution=1, jit_compile="auto", auto_scale_loss=True, **kwargs):
        """Keras's compile: optimizer, loss(es) and metrics by name or object, per output as a list or dict.

        Loss names mean what they mean in Keras (``"categorical_crossentropy"`` takes probabilities with the
        classes on the last axis). ``"accuracy"`` becomes binary, sparse or categorical accuracy from the
        shapes of targets and outputs.
        """
        kwargs.pop("sample_weight_mode", None)
        if kwargs:
            raise TypeError(f"compile: unexpected keyword argument(s) {', '.join(map(repr, kwargs))}")
        if weighted_metrics:
            raise NotImplementedError("compile: weighted_metrics is not supported; metrics are unweighted (as "
                                      "Keras's metrics=)")
        if loss is None:
            raise ValueError("compile: loss is required, e.g. loss='categorical_crossentropy'")
        opt = _optimizers.get(optimizer)
        self._keras_cfg = {"loss": loss, "loss_weights": loss_weights, "metrics": metrics, "resolved": None}
        self.optimizer = opt
        self.__dict__.pop("_compiled", None)
        if self.built:
            self._bind_optimizer()
        return self

    def _bind_optimizer(self):
        opt = self.optimizer
        if not isinstance(opt, _optimizers._KerasOptimizer):
            return
        params = list(self.parameters())
        if opt.built:
            bound = {id(p) for g in opt.param_groups for p in g["params"]}
            if not bound <= {id(p) for p in params}:
                raise RuntimeError(f"{type(opt).__name__} is already bound to another model's parameters; create a "
                                   "new optimizer for each model")
            return
        if not params:
            raise ValueError(f"model {self.name!r} has no weights to train")
        opt.build(params)

    def _per_output(self, spec, what, default=None):
        """``spec`` (one value, a list per output or a dict by output name) as a list per output."""
        names = self._output_names_any()
        n = len(names)
        if isinstance(spec, dict):
            unknown = [k for k in spec if k not in names]
            if unknown:
                raise ValueError(f"compile: {what} for unknown output(s) {unknown}; outputs: {names}")
            return [spec.get(name, default) for name in names]
        if isinstance(spec, (list, tuple)) and what in ("loss", "loss_weights") and n > 1:
            if len(spec) != n:
                raise ValueError(f"compile: {len(spec)} {what} given for {n} outputs")
            return list(spec)
        if isinstance(spec, (list, tuple)) and what == "metrics" and n > 1 and spec and \
                all(isinstance(s, (list, tuple)) or s is None for s in spec):
            if len(spec) != n:
                raise ValueError(f"compile: {len(spec)} metric lists given for {n} outputs")
            return list(spec)
        if isinstance(spec, (list, tuple)) and what == "loss" and n == 1 and len(spec) == 1:
            return [spec[0]]
        return [spec] * n

    def _output_names_any(self):
        if self._functional or isinstance(self, Sequential) and self.built:
            return self.output_names
        return ["output"]

    def _resolve_compile(self):
        cfg = self._keras_cfg
        if cfg is None:
            raise RuntimeError("You must call compile() before using the model (model.compile(optimizer=..., "
                               "loss=..., metrics=[...]))")
        if cfg["resolved"] is not None:
            return cfg["resolved"]
        names = self._output_names_any()
        multi = len(names) > 1
        loss_specs = self._per_output(cfg["loss"], "loss")
        losses = [None if s is None else _losses.get(s) for s in loss_specs]
        weights = [1.0] * len(names) if cfg["loss_weights"] is None else \
            [1.0 if w is None else float(w) for w in self._per_output(cfg["loss_weights"], "loss_weights", 1.0)]
        metric_specs = self._per_output(cfg["metrics"], "metrics") if cfg["metrics"] is not None else [None] * len(names)
        adapters = []
        if multi:
            adapters += [_OutputLoss(self, i, f"{names[i]}_loss") for i in range(len(names)) if losses[i] is not None]
        for i, spec in enumerate(metric_specs):
            if spec is None:
                continue
            for m in (spec if isinstance(spec, (list, tuple)) else [spec]):
                metric = _metrics.get(m)
                name = metric.name if not multi else f"{names[i]}_{metric.name}"
                adapters.append(_OutputMetric(self, metric, i, name))
        seen = set()
        for a in adapters:
            if a.name in seen or a.name == "loss":
                raise ValueError(f"compile: metric names must be unique, {a.name!r} repeats")
            seen.add(a.name)
        cfg["resolved"] = {"losses": losses, "weights": weights, "metrics": adapters, "names": names}
        return cfg["resolved"]

    def _prepare(self):
        """Resolve compile for the built model and hand it to the training loop (once per compile)."""
        resolved = self._resolve_compile()
        if self.__dict__.get("_compiled") is None:
            self._bind_optimizer()
            opt = self.optimizer
            KerasMixin.compile(self, optimizer=opt if opt is not None else _Pending(), loss=_NoLoss(),
                               metrics=resolved["metrics"])
        return resolved

    @property
    def metrics_names(self):
        resolved = self._resolve_compile()
        return ["loss"] + [m.name for m in resolved["metrics"]]

    # --- the step -------------------------------------------------------------------------------------
    def _forward_loss(self, compiled, inputs, target):
        plan = self.__dict__.get("_keras_plan") or _Plan()
        resolved = self._resolve_compile()
        xs, extra, sw = plan.split(inputs)
        out = self._eager_call(*xs)
        outs = list(out) if isinstance(out, (list, tuple)) else [out]
        ys = [target] + extra
        if target is None:
            raise ValueError("fit: the batch has no targets")
        if len(ys) != len(outs):
            raise ValueError(f"model {self.name!r} has {len(outs)} output(s) but {len(ys)} target array(s) were "
                             "given")
        total, per_output = None, []
        for i, (loss, w) in enumerate(zip(resolved["losses"], resolved["weights"])):
            if loss is None:
                per_output.append(None)
                continue
            value = loss(ys[i], outs[i], sample_weight=sw)
            per_output.append(value)
            term = scale(value, w) if w != 1.0 else value
            total = term if total is None else total + term
        if total is None:
            raise ValueError("compile: every output has loss=None; nothing to train")
        for penalty in self.losses:
            total = total + penalty
        if len(outs) > 1:                  # what the other outputs' metrics need (see _batch_record)
            records = self.__dict__.setdefault("_keras_batches", {})
            records[id(outs[0].data)] = (outs, ys, per_output)
            while len(records) > 8:
                records.pop(next(iter(records)))
        return outs[0], total

    # --- data ---------------------------------------------------------------------------------------
    def _pack(self, x, y, sample_weight, class_weight, who, force_weights=False):
        """Arrays for the base loop: (x packed with extra targets and weights, first target, plan)."""
        from ..training._data import is_loader
        if is_loader(x) or _is_dataset(x):
            if sample_weight is not None or class_weight is not None:
                raise NotImplementedError(f"{who}: sample_weight/class_weight with a DataLoader are not supported; "
                                          "pass arrays")
            return x, y, _Plan()
        xs = self._input_arrays(x)
        if y is None:
            raise ValueError(f"{who}: y is required")
        names = self._output_names_any()
        if isinstance(y, dict):
            ys = [y[n] for n in names]
        elif isinstance(y, (list, tuple)) and len(names) > 1:
            ys = list(y)
        else:
            ys = [y]
        ys = [_as_array(a, "y") for a in ys]
        sw = None
        if class_weight is not None:
            if sample_weight is not None:
                raise ValueError(f"{who}: give class_weight or sample_weight, not both")
            if len(ys) > 1:
                raise ValueError(f"{who}: class_weight is only supported for single-output models")
            sw = _class_weights(ys[0], class_weight)
        elif sample_weight is not None:
            if isinstance(sample_weight, (list, tuple, dict)):
                raise NotImplementedError(f"{who}: one sample_weight array per output is not supported; give one "
                                          "array for all outputs")
            sw = _as_array(sample_weight, "sample_weight").astype(np.float32) \
                if isinstance(sample_weight, np.ndarray) else _as_array(sample_weight, "sample_weight")
        if sw is None and force_weights:        # the validation data has weights: weigh training samples by 1
            sw = np.ones((int(ys[0].shape[0]),), dtype=np.float32)
        packed = xs + ys[1:] + ([sw] if sw is not None else [])
        plan = _Plan(len(xs), len(ys) - 1, sw is not None)
        return (packed if len(packed) > 1 else packed[0]), ys[0], plan

    # --- fit / evaluate / predict ------------------------------------------------------------------------
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None, validation_split=0.0,
            validation_data=None, shuffle=True, class_weight=None, sample_weight=None, initial_epoch=0,
            steps_per_epoch=None, validation_steps=None, validation_batch_size=None, validation_freq=1, **kwargs):
        """Keras's fit (``nb_epoch=`` accepted): returns a History whose ``.history`` holds loss, metrics and
        ``val_*`` per epoch. ``validation_split`` holds out the last fraction of the arrays (before
        shuffling); ``class_weight`` (a dict class -> weight) weights the training samples only."""
        if "nb_epoch" in kwargs:
            epochs = kwargs.pop("nb_epoch")
        if validation_freq != 1:
            raise NotImplementedError("fit: validation_freq other than 1 is not supported")
        if validation_steps is not None:
            raise NotImplementedError("fit: validation_steps is not supported")
        batch_size = 32 if batch_size is None else batch_size
        from ..training._data import is_loader
        if not self.built and not (is_loader(x) or _is_dataset(x)):
            self._ensure_built(self._input_arrays(x))
        if not self.built:
            raise RuntimeError(f"model {self.name!r} is not built: give its first layer an input shape "
                               "(keras.Input(shape=...) or input_shape=...) to fit it on a DataLoader")
        if not isinstance(validation_split, numbers.Real) or not 0.0 <= validation_split < 1.0:
            raise ValueError(f"fit: validation_split must be a float in [0, 1), got {validation_split!r}")
        self._prepare()
        val_weighted = isinstance(validation_data, (tuple, list)) and len(validation_data) == 3 and \
            validation_data[2] is not None
        x_in, y0, plan = self._pack(x, y, sample_weight, class_weight, "fit", force_weights=val_weighted)
        val = None
        if validation_split and validation_data is None and plan.n_inputs is not None:
            arrays = x_in if isinstance(x_in, list) else [x_in]
            n = int(arrays[0].shape[0])
            split_at = int(np.floor(n * (1.0 - validation_split)))
            if split_at == 0 or split_at == n:
                raise ValueError(f"fit: validation_split={validation_split} of {n} samples leaves {split_at} for "
                                 f"training and {n - split_at} for validation; both need at least one")
            val_arrays = [a[split_at:] for a in arrays]
            if class_weight is not None:       # Keras weights only the training samples by class
                val_arrays[-1] = np.ones_like(_host(val_arrays[-1]))
            val = (val_arrays if len(val_arrays) > 1 else val_arrays[0], y0[split_at:])
            arrays = [a[:split_at] for a in arrays]
            x_in, y0 = (arrays if len(arrays) > 1 else arrays[0]), y0[:split_at]
            validation_split = 0.0
        elif validation_data is not None:
            val = self._pack_validation(validation_data, plan)
        prev = self.__dict__.get("_keras_plan")
        self.__dict__["_keras_plan"] = plan
        try:
            history = KerasMixin.fit(self, x_in, y0, batch_size=batch_size, epochs=epochs, verbose=verbose,
                                     callbacks=callbacks, validation_split=validation_split, validation_data=val,
                                     shuffle=shuffle, initial_epoch=initial_epoch, steps_per_epoch=steps_per_epoch,
                                     **kwargs)
        finally:
            self.__dict__["_keras_plan"] = prev
            self.__dict__.pop("_keras_batches", None)
        history.history.pop("lr", None)       # Keras's History holds losses and metrics only
        return history

    def _pack_validation(self, validation_data, plan):
        from ..training._data import is_loader
        if is_loader(validation_data) or _is_dataset(validation_data):
            if plan.n_inputs is not None and (plan.n_extra or plan.has_weights):
                raise NotImplementedError("fit: a DataLoader as validation_data needs a single-output model "
                                          "without sample weights")
            return validation_data
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
            raise ValueError("fit: validation_data must be (x_val, y_val) or (x_val, y_val, sample_weight_val)")
        xv, yv = validation_data[0], validation_data[1]
        swv = validation_data[2] if len(validation_data) == 3 else None
        if plan.has_weights and swv is None:
            first = _as_array(yv[0] if isinstance(yv, (list, tuple)) and len(self._output_names_any()) > 1 else yv,
                              "y")
            swv = np.ones((int(first.shape[0]),), dtype=np.float32)
        packed, y0, _ = self._pack(xv, yv, swv, None, "fit")
        return packed, y0

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None, steps=None,
                 callbacks=None, return_dict=False, **kwargs):
        """The loss and metrics: a float when there are no metrics, else a list in ``metrics_names`` order (a
        dict with ``return_dict=True``)."""
        batch_size = 32 if batch_size is None else batch_size
        from ..training._data import is_loader
        if not self.built and not (is_loader(x) or _is_dataset(x)):
            self._ensure_built(self._input_arrays(x))
        self._prepare()
        x_in, y0, plan = self._pack(x, y, sample_weight, None, "evaluate")
        prev = self.__dict__.get("_keras_plan")
        self.__dict__["_keras_plan"] = plan
        try:
            logs = KerasMixin.evaluate(self, x_in, y0, batch_size=batch_size, verbose=verbose, steps=steps, **kwargs)
        finally:
            self.__dict__["_keras_plan"] = prev
            self.__dict__.pop("_keras_batches", None)
        if return_dict:
            return logs
        values = [logs[k] for k in self.metrics_names]
        return values[0] if len(values) == 1 else values

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None, **kwargs):
        """Outputs for ``x`` as NumPy arrays (a list for several outputs)."""
        batch_size = 32 if batch_size is None else batch_size
        from ..training._data import is_loader
        if not (is_loader(x) or _is_dataset(x)):
            xs = self._input_arrays(x)
            self._ensure_built(xs)
            x = xs if len(xs) > 1 else xs[0]
        out = KerasMixin.predict(self, x, batch_size=batch_size, verbose=verbose, steps=steps, **kwargs)
        return list(out) if isinstance(out, tuple) else out

    def predict_on_batch(self, x):
        xs = self._input_arrays(x)
        return self.predict(x, batch_size=max(1, len(xs[0])), verbose=0)

    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, return_dict=False):
        """One optimizer step on this batch; returns the loss (and metrics) of the batch."""
        n = len(self._input_arrays(x)[0])
        hist = self.fit(x, y, batch_size=max(n, 1), epochs=1, verbose=0, shuffle=False,
                        sample_weight=sample_weight, class_weight=class_weight)
        logs = {k: v[-1] for k, v in hist.history.items()}
        if return_dict:
            return logs
        values = [logs[k] for k in self.metrics_names]
        return values[0] if len(values) == 1 else values

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        n = len(self._input_arrays(x)[0])
        return self.evaluate(x, y, batch_size=max(n, 1), verbose=0, sample_weight=sample_weight,
                             return_dict=return_dict)

    # Keras 1/2 spellings
    def fit_generator(self, *args, **kwargs):
        raise NotImplementedError("fit_generator: pass the data (arrays or a DataLoader) to fit()")

    def predict_classes(self, x, batch_size=32, verbose=0):
        """Keras 1/2: the most likely class per sample (argmax, or a 0.5 threshold for one output unit)."""
        p = self.predict(x, batch_size=batch_size, verbose=verbose)
        return p.argmax(axis=-1) if p.shape[-1] > 1 else (p > 0.5).astype("int32")

    def predict_proba(self, x, batch_size=32, verbose=0):
        return self.predict(x, batch_size=batch_size, verbose=verbose)


def _is_dataset(x):
    from ..data import Dataset
    return isinstance(x, Dataset)


def _class_weights(y, class_weight):
    """Per-sample weights from ``{class: weight}``: the class is the argmax of one-hot targets, else the label."""
    if not isinstance(class_weight, dict):
        raise TypeError(f"class_weight must be a dict {{class: weight}}, got {type(class_weight).__name__}")
    yh = _host(y)
    if yh.ndim >= 2 and yh.shape[-1] > 1:
        labels = yh.argmax(axis=-1)
    elif yh.ndim >= 2 and yh.shape[-1] == 1:
        labels = yh.reshape(yh.shape[:-1])
    else:
        labels = yh
    if labels.ndim != 1:
        raise ValueError(f"class_weight needs one class per sample; targets of shape {yh.shape} give "
                         f"{labels.shape}")
    labels = np.rint(labels).astype(np.int64) if labels.dtype.kind == "f" else labels.astype(np.int64)
    table = np.ones(int(max(labels.max(initial=0), max(class_weight, default=0))) + 1, dtype=np.float32)
    for k, v in class_weight.items():
        table[int(k)] = float(v)
    return table[labels]


class Sequential(Model):
    """A stack of layers, each feeding the next: ``Sequential([...])`` or ``.add(layer)``."""

    def __init__(self, layers=None, name=None, trainable=True, **kwargs):
        Layer.__init__(self, name=name if name is not None else K.unique_name("sequential"), trainable=trainable,
                       **kwargs)
        self._functional = False
        self._keras_cfg = None
        self._stack = []
        self._set_input(None)
        self._outputs_by_layer = []
        self.inputs, self.outputs = [], []
        for layer in layers or []:
            self.add(layer)

    @property
    def layers(self):
        return list(self._stack)

    def add(self, layer, rebuild=True):
        """Append a layer (or set the input with ``keras.Input`` / an ``InputLayer`` first)."""
        if isinstance(layer, KerasTensor):
            hist = layer._keras_history
            if hist is None or not isinstance(hist[0], InputLayer):
                raise ValueError("Sequential.add: only keras.Input tensors may be added, not other KerasTensors")
            layer = hist[0]
        if isinstance(layer, InputLayer):
            if self._stack or self._input_layer is not None:
                raise ValueError("Sequential: an Input/InputLayer must come first")
            self._set_input(layer)
            return
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential.add: expected a Keras layer, got {type(layer).__name__} (for a dc.nn "
                            "module use dc.nn.Sequential)")
        if any(existing.name == layer.name for existing in self._stack):
            raise ValueError(f"Sequential: all layers need unique names; {layer.name!r} is already in the model")
        self._stack.append(layer)
        self._register_stack()
        if self._keras_cfg is not None:
            self._keras_cfg["resolved"] = None
        if len(self._stack) == 1 and self._input_layer is None and layer._batch_input_shape is not None:
            self._set_input(InputLayer(batch_shape=layer._batch_input_shape))
            self._chain(self._stack)
        elif self._input_layer is not None:
            self._chain([layer])

    def pop(self):
        if not self._stack:
            raise ValueError("Sequential.pop: the model has no layers")
        layer = self._stack.pop()
        self._register_stack()
        if self._outputs_by_layer:
            self._outputs_by_layer.pop()
            self.outputs = [self._outputs_by_layer[-1]] if self._outputs_by_layer else [self._input_layer.output]
        return layer

    def _set_input(self, layer):
        object.__setattr__(self, "_input_layer", layer)     # kept out of the submodules (it has no weights)

    def _register_stack(self):
        self._modules.clear()
        for key, layer in zip(structural_names(self._stack), self._stack):
            self.add_module(key, layer)

    def _chain(self, layers):
        x = self._outputs_by_layer[-1] if self._outputs_by_layer else self._input_layer.output
        for layer in layers:
            if self._build_device is not None and not layer.built:
                layer._build_device = self._build_device
            x = layer(x)
            if not isinstance(x, KerasTensor):
                raise TypeError(f"Sequential: layer {layer.name!r} returns several outputs; a Sequential model "
                                 "needs one output per layer (use the functional API)")
            self._outputs_by_layer.append(x)
        self.inputs, self.outputs = [self._input_layer.output], [x]
        self.built = True

    def build(self, input_shape=None):
        if self._input_layer is None:
            if input_shape is None:
                raise ValueError("Sequential.build: give the input shape, e.g. build((None, 784))")
            self._set_input(InputLayer(batch_shape=tuple(input_shape)))
        if not self._outputs_by_layer:
            self._chain(self._stack)

    def _maybe_build(self, input_shape, device=None):
        if self.built:
            return
        self._build_device = device
        self.build(input_shape)

    @property
    def output_names(self):
        return [self._stack[-1].name] if self._stack else []

    @property
    def input_names(self):
        return [self._input_layer.name] if self._input_layer is not None else []

    def _output_names_any(self):
        return self.output_names if self._stack else ["output"]

    def compute_output_shape(self, input_shape):
        shape = input_shape
        for layer in self._stack:
            shape = layer.compute_output_shape(shape)
        return shape

    def _standardize_inputs(self, inputs):
        return [inputs]

    def _eager_call(self, *inputs, training=None, **kwargs):
        inputs = inputs[0] if len(inputs) == 1 else list(inputs)
        return Layer._eager_call(self, inputs, training=training, **kwargs)

    def call(self, inputs, training=None):
        from . import engine
        if not self._stack:
            raise ValueError("Sequential: the model has no layers")
        x, cf = inputs, False
        for layer in self._stack:
            if engine.LAYOUT_PROPAGATION:
                x, cf = layer._call_layout(x, cf, training)
            else:
                x = layer._eager_call(x, training=training)
        return _cf_to_cl(x) if cf else x
