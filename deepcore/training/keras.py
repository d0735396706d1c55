"""``compile/fit/evaluate/predict`` for every Module (Keras's training API on top of deepcore's autograd).

``KerasMixin`` is a base class of ``dc.nn.Module``. The training loop keeps the loss and metric sums on
the device and reads them once per epoch (progress bars read them every few batches), so a step on the
GPU never waits for the host.
"""
from __future__ import annotations

import numbers
from collections.abc import MutableMapping

import numpy as np

from ..autograd import no_grad
from ..backend import CPU, generator, index_checks, to_device
from ..backend import device as as_device
from ..tensor import Tensor
from . import losses as _losses
from . import metrics as _metrics
from ._data import (
    ArraySource,
    LoaderSource,
    as_inputs,
    check_lengths,
    is_loader,
    model_device,
    model_float_dtype,
)
from .callbacks import Callback, CallbackList, History, ModelCheckpoint
from .progress import EvalProgress, ProgbarLogger, format_logs

# Optimizer names -> (class name in dc.optim, keyword defaults). SGD has no default lr in PyTorch; 0.01
# is Keras's.
_OPTIMIZERS = {"sgd": ("SGD", {"lr": 0.01}), "adam": ("Adam", {}), "adamw": ("AdamW", {}),
               "adagrad": ("Adagrad", {}), "rmsprop": ("RMSprop", {}), "adadelta": ("Adadelta", {})}


def _optimizer_factory(identifier):
    """A function params -> optimizer for a name or an optimizer class; None for an optimizer instance."""
    from .. import optim
    if isinstance(identifier, str):
        key = identifier.strip().lower()
        if key not in _OPTIMIZERS:
            raise ValueError(f"unknown optimizer {identifier!r}; accepted: {', '.join(sorted(_OPTIMIZERS))}, or "
                             "an optimizer object such as dc.optim.Adam(model.parameters(), lr=1e-3)")
        cls_name, kwargs = _OPTIMIZERS[key]
        cls = getattr(optim, cls_name)
        return lambda params: cls(params, **kwargs)
    if isinstance(identifier, type):
        if identifier is optim.SGD:
            return lambda params: identifier(params, lr=0.01)
        return lambda params: identifier(params)
    if all(hasattr(identifier, a) for a in ("step", "zero_grad", "param_groups")):
        return None
    raise TypeError(f"optimizer must be a name ({', '.join(sorted(_OPTIMIZERS))}), an optimizer class or an "
                    f"optimizer object, got {type(identifier).__name__}")


def _is_dataset(x) -> bool:
    from ..data import Dataset
    return isinstance(x, Dataset)


def _has_lazy(model) -> bool:
    """True while some lazy layer (e.g. ``Linear(None, n)``) has not created its weight yet."""
    return any(hasattr(m, "_materialize") and m._parameters.get("weight", 0) is None for m in model.modules())


def _check_int(name, value, minimum, who, allow_none=False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{who}: {name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _check_verbose(verbose, who):
    if verbose == "auto" or verbose is True:
        return 1
    if verbose is False or verbose is None:
        return 0
    if verbose not in (0, 1, 2):
        raise ValueError(f"{who}: verbose must be 0, 1, 2 or 'auto', got {verbose!r}")
    return int(verbose)


class _Compiled:
    """What ``compile`` resolved: the loss, its kind, the metrics, and how to build the optimizer."""

    def __init__(self, loss, metrics, factory):
        self.loss = loss
        self.loss_name = _losses.name_of(loss)
        self.metrics = metrics
        self.factory = factory


class _Tracker:
    """Running sums of the loss and each metric, kept on the device; ``result()`` syncs once."""

    def __init__(self, metrics):
        self.metrics = metrics
        self.loss_sum = 0.0
        self.count = 0
        self.sums = [0] * len(metrics)
        self.counts = [0] * len(metrics)

    def update(self, loss, n, pred, target):
        self.loss_sum = self.loss_sum + loss.astype("float64") * n
        self.count += n
        if self.metrics:
            if not isinstance(pred, Tensor):
                raise TypeError(f"metrics need the model to return one Tensor, got {type(pred).__name__}")
            if target is None:
                raise ValueError("metrics need targets, but the batch has none")
            for i, m in enumerate(self.metrics):
                s, c = m.batch_sum(pred.data, target.data)
                self.sums[i] = self.sums[i] + s
                self.counts[i] += c

    def names(self):
        return ["loss"] + [m.name for m in self.metrics]

    def value(self, key) -> float:
        if key == "loss":
            return float(self.loss_sum) / self.count if self.count else float("nan")
        for i, m in enumerate(self.metrics):
            if m.name == key:
                return float(self.sums[i]) / self.counts[i] if self.counts[i] else float("nan")
        raise KeyError(key)

    def result(self) -> dict:
        return {k: self.value(k) for k in self.names()}


class _LazyLogs(MutableMapping):
    """Batch logs whose values (running epoch averages) are read from the device only when accessed."""

    def __init__(self, tracker):
        self._tracker = tracker
        self._extra = {}

    def __getitem__(self, key):
        if key in self._extra:
            return self._extra[key]
        if key in self._tracker.names():
            return self._tracker.value(key)
        raise KeyError(key)

    def __setitem__(self, key, value):
        self._extra[key] = value

    def __delitem__(self, key):
        del self._extra[key]

    def __iter__(self):
        names = self._tracker.names()
        yield from names
        yield from (k for k in self._extra if k not in names)

    def __len__(self):
        return len(list(iter(self)))

    def __repr__(self):
        return repr(dict(self))


def _epoch_batches(source, steps, epoch):
    """This epoch's batches: one pass over the data, or exactly ``steps`` batches (repeating passes)."""
    if steps is None:
        yield from source.batches(epoch)
        return
    done, pass_ = 0, 0
    while done < steps:
        produced = False
        for batch in source.batches(epoch, pass_):
            produced = True
            yield batch
            done += 1
            if done == steps:
                return
        if not produced:
            return
        pass_ += 1


def _concat(chunks):
    """Concatenate per-batch outputs on their device, then copy to the host once."""
    first = chunks[0]
    if isinstance(first, Tensor):
        xp = first.device.xp
        return to_device(xp.concatenate([c.data for c in chunks], axis=0), CPU)
    if isinstance(first, (tuple, list)):
        return type(first)(_concat([c[i] for c in chunks]) for i in range(len(first)))
    raise TypeError(f"predict: the model returned {type(first).__name__}; expected a Tensor or a tuple of Tensors")


def _frozen_hyper(opt):
    """The optimizer's Python hyper-parameters (what a captured step freezes), as a hashable tuple."""
    if opt is None:
        return None
    out = []
    for group in opt.param_groups:
        for k, v in group.items():
            if k != "params" and isinstance(v, (bool, int, float, str, tuple, type(None))):
                out.append((k, v))
    return tuple(out)


class _CapturedStep:
    """fit's training step through ``dc.cuda.graphed``: full batches replay one graph, others run eagerly."""

    def __init__(self, model, compiled):
        from ..capture import graphed
        self.model, self.compiled, self.full = model, compiled, None
        self.graphed = graphed(self._run, cache_size=4)

    def _run(self, inputs, target, hyper):
        return self.model._train_step(self.compiled, inputs, target)

    def __call__(self, inputs, target, n):
        if self.full is None:
            self.full = n
        if n != self.full:  # the last partial batch: eager, no second graph
            return self.model._train_step(self.compiled, inputs, target)
        return self.graphed(tuple(inputs), target, _frozen_hyper(self.model.optimizer))


def _callback_list(callbacks) -> list:
    """``callbacks`` as a list: None, a list/tuple of Callbacks, or one Callback (accepted as ``[callback]``)."""
    if callbacks is None:
        return []
    if isinstance(callbacks, Callback):
        return [callbacks]
    if isinstance(callbacks, (list, tuple)):
        for i, cb in enumerate(callbacks):
            if not isinstance(cb, Callback):
                raise TypeError(f"fit: callbacks[{i}] is a {type(cb).__name__}, not a Callback; pass Callback "
                                "objects such as dc.callbacks.EarlyStopping(...) (or wrap functions in "
                                "dc.callbacks.LambdaCallback)")
        return list(callbacks)
    raise TypeError(f"fit: callbacks must be a list of Callback objects (or one Callback), got "
                    f"{type(callbacks).__name__}")


def _describe_empty(loader) -> str:
    try:
        n = len(loader.dataset)
    except (AttributeError, TypeError):
        return "len(loader) is 0"
    return f"its dataset has {n} samples" + (f", batch_size={loader.batch_size} with drop_last=True"
                                             if n and getattr(loader, "drop_last", False) else "")


def _is_class_index_loss(compiled) -> bool:
    return _losses.kind_of(compiled.loss) == "categorical" and not isinstance(compiled.loss, _losses.KerasLossAdapter)


def _check_labels(compiled, y, what):
    """Class labels for a class-index loss (cross_entropy, nll): integral and not negative (-100, the
    default ignore_index, excepted), checked on the host copy of all of ``y`` before training starts.

    Only labels of shape (N,) or (N, 1), or integer arrays, are checked: a float target with a class axis
    may be class probabilities. Device-resident targets are left to the loss's checks (no host sync).
    Returns ``(y, what)`` for the range check against the model's number of classes, or None.
    """
    if y is None or not isinstance(y, np.ndarray) or not _is_class_index_loss(compiled) or y.size == 0:
        return None
    flat = y.reshape(-1)
    if y.dtype.kind == "f":
        if not (y.ndim == 1 or (y.ndim == 2 and y.shape[1] == 1)):
            return None
        bad = ~np.isfinite(flat) | (flat != np.floor(flat))
        if bad.any():
            i = int(np.argmax(bad))
            raise ValueError(f"fit: the loss {compiled.loss_name!r} takes integer class labels, but {what} holds "
                             f"{flat[i]!r} at index {i}, which is not an integer (labels must be whole numbers "
                             "0..C-1; cast with y.astype(int) only if that is what you mean)")
    elif y.dtype.kind not in "iu":
        return None
    bad = (flat < 0) & (flat != -100)
    if bad.any():
        i = int(np.argmax(bad))
        raise IndexError(f"fit: target class {flat[i].item()!r} is out of range: {what} holds it at index {i}; "
                         f"the loss {compiled.loss_name!r} needs labels in [0, C)")
    return y, what


def _check_label_range(compiled, y, classes, what):
    """Every label in [0, classes) (or -100, the default ignore_index)."""
    flat = y.reshape(-1)
    bad = ((flat < 0) | (flat >= classes)) & (flat != -100)
    if bad.any():
        i = int(np.argmax(bad))
        raise IndexError(f"fit: target class {flat[i].item()!r} is out of range for {classes} classes (the model's "
                         f"output): {what} holds it at index {i}; the loss {compiled.loss_name!r} needs labels in "
                         f"[0, {classes})")


class _FitRun:
    """What a running ``fit`` needs to continue exactly from a checkpoint (``ModelCheckpoint`` saves it):
    the shuffle seed of array data, the training DataLoader's shuffle state and stateful callbacks
    (learning-rate schedules)."""

    def __init__(self, seed, loader, callbacks):
        self.seed, self.loader, self.callbacks = seed, loader, callbacks

    def state(self) -> dict:
        out = {"seed": self.seed}
        if self.loader is not None and callable(getattr(self.loader, "state_dict", None)):
            out["loader"] = self.loader.state_dict()
        out["callbacks"] = [{"class": type(c).__name__, "state": c.state_dict()}
                            for c in self.callbacks if _stateful(c)]
        return out


def _stateful(cb) -> bool:
    return callable(getattr(cb, "state_dict", None)) and callable(getattr(cb, "load_state_dict", None))


def _apply_resume(resume, loader, callbacks) -> None:
    """Put back what ``_FitRun.state`` saved: the loader's shuffle state and the callbacks' states."""
    import warnings
    saved_loader = resume.get("loader")
    if saved_loader is not None and loader is not None and callable(getattr(loader, "load_state_dict", None)):
        loader.load_state_dict(saved_loader)
    saved = list(resume.get("callbacks") or [])
    mine = [c for c in callbacks if _stateful(c)]
    if [e.get("class") for e in saved] != [type(c).__name__ for c in mine]:
        if saved:
            warnings.warn("fit: the checkpoint saved the state of callbacks "
                          f"{[e.get('class') for e in saved]}, but this fit has {[type(c).__name__ for c in mine]}; "
                          "their state is not restored", RuntimeWarning, stacklevel=3)
        return
    for entry, cb in zip(saved, mine):
        cb.load_state_dict(entry["state"])


class KerasMixin:
    """Adds Keras's ``compile``, ``fit``, ``evaluate`` and ``predict`` (and ``optimizer``, ``history``)."""

    stop_training = False

    # --- configuration ----------------------------------------------------------------------
    @property
    def optimizer(self):
        """The optimizer ``compile`` set up (None before compile, or before a lazy model's first batch)."""
        return self.__dict__.get("_keras_optimizer")

    @optimizer.setter
    def optimizer(self, value):
        self.__dict__["_keras_optimizer"] = value

    def compile(self, optimizer="rmsprop", loss=None, metrics=None):
        """Choose the optimizer, loss and metrics: names (listed in docs/api.md) or objects/callables."""
        loss_fn = _losses.get(loss)
        kind = _losses.kind_of(loss_fn)
        if metrics is None:
            metrics = []
        elif isinstance(metrics, (str, _metrics.Metric)) or callable(metrics):
            metrics = [metrics]
        metric_objs = [_metrics.get(m, kind) for m in metrics]
        names = [m.name for m in metric_objs]
        dupes = sorted({n for n in names if names.count(n) > 1 or n == "loss"})
        if dupes:
            raise ValueError(f"compile: metric names must be unique and not 'loss', got {names}")
        factory = _optimizer_factory(optimizer)
        opt = optimizer if factory is None else (None if _has_lazy(self) else factory(list(self.parameters())))
        self.__dict__["_compiled"] = _Compiled(loss_fn, metric_objs, factory)
        self.optimizer = opt
        return self

    def _require_compiled(self, who):
        state = self.__dict__.get("_compiled")
        if state is None:
            raise RuntimeError(f"{who}: the model must be compiled first; call model.compile(optimizer=..., "
                               f"loss=..., metrics=[...]) before {who}()")
        return state

    # --- data ------------------------------------------------------------------------------
    def _source(self, x, y, batch_size, dev, who, shuffle=False, seed=0, need_target=True):
        float_dtype = model_float_dtype(self)
        from ..data import DataLoader, Dataset
        if isinstance(x, Dataset):  # a map-style dataset: batch it here
            if y is not None:
                raise ValueError(f"{who}: when x is a Dataset, y must be None (the dataset yields the targets)")
            x = DataLoader(x, batch_size=batch_size, shuffle=shuffle, seed=seed if shuffle else None)
        if is_loader(x):
            if y is not None:
                raise ValueError(f"{who}: when x is a DataLoader, y must be None (the loader yields the targets)")
            return LoaderSource(x, dev, float_dtype, need_target=need_target)
        if x is None:
            raise ValueError(f"{who}: x is required")
        xs = as_inputs(x)
        if y is None and need_target:
            raise ValueError(f"{who}: y is required when x is an array (or pass a DataLoader as x)")
        y_raw = as_inputs(y, "y")[0] if y is not None else None
        n = check_lengths(xs, y_raw, who)
        if n == 0:
            raise ValueError(f"{who}: x has no samples")
        return ArraySource(xs, y_raw, batch_size, dev, float_dtype, shuffle=shuffle, seed=seed)

    def _forward_loss(self, compiled, inputs, target):
        out = self(*inputs)
        label_check = self.__dict__.pop("_label_check", None)  # set by fit for its first step
        if label_check is not None and isinstance(out, Tensor) and out.ndim >= 2:
            # fit's first step: every label of the data against the model's number of classes, before the
            # loss, the backward and the update; buffers a forward changed (BatchNorm's) are put back
            labels, buffers = label_check
            try:
                for arr, what in labels:
                    _check_label_range(compiled, arr, int(out.shape[1]), what)
            except IndexError:
                for b, saved in buffers:
                    b.data[...] = saved
                raise
        if target is None:
            raise ValueError("fit: the batch has no targets; give y or a DataLoader yielding (inputs, targets)")
        loss = compiled.loss(out, target)
        if not isinstance(loss, Tensor):
            raise TypeError(f"the loss {compiled.loss_name!r} must return a Tensor, got {type(loss).__name__}")
        if loss.ndim:
            loss = loss.mean()
        return out, loss

    # --- training --------------------------------------------------------------------------
    def fit(self, x=None, y=None, batch_size=32, epochs=1, verbose=1, callbacks=None, validation_split=0.0,
            validation_data=None, shuffle=True, initial_epoch=0, device=None, steps_per_epoch=None, seed=None,
            capture=False):
        """Train for ``epochs`` epochs; returns a ``History`` (``.history``: loss, metrics, val_*, lr per epoch).

        ``x``/``y`` are NumPy arrays or Tensors (a list of arrays for several inputs), or ``x`` is a
        DataLoader yielding ``(inputs, targets)``. ``validation_split`` holds out the last fraction of the
        arrays (before shuffling, like Keras). Shuffling uses ``seed`` when given, else a seed drawn from
        deepcore's generator (``dc.manual_seed``); epoch ``e``'s order depends only on that seed and ``e``,
        so a run resumed with ``initial_epoch`` sees the same batches. After
        ``dc.checkpoint.load_checkpoint`` of a ``ModelCheckpoint`` file, ``fit(..., initial_epoch=<saved
        epoch>)`` continues that run bit for bit: the checkpoint restores the random generators (dropout),
        and fit takes the saved shuffle seed, DataLoader shuffle state and lr-schedule callback states.

        ``callbacks`` is a list of ``Callback`` objects; a single Callback is accepted as a list of one.
        However fit ends (an error, KeyboardInterrupt) every callback's ``close()`` runs, so ``CSVLogger``
        closes its file. Class labels for ``cross_entropy``/``nll`` (all of ``y`` and of the validation
        targets, when they are host arrays) are checked before the first step changes anything: they must be
        whole numbers (not ``y + 0.7``), not negative (-100, the ignore index, excepted) and below the
        number of classes the model outputs (checked at the first forward, before the update); strings are
        refused with a hint to encode them. An empty DataLoader is an error, not ``loss=nan``.

        ``capture=True`` runs the training step (zero_grad, forward, loss, backward, optimizer step) through
        ``dc.cuda.graphed``: on a GPU the first full batch warms up, the second is captured as a CUDA graph,
        and every later full batch replays it (one launch plus the batch copies). Batches of another size
        than the first (the last partial batch of an epoch) run eagerly, so no second graph is kept; the
        optimizer's Python hyper-parameters (a float ``lr`` changed by a scheduler callback, say) are part
        of the graph's key, so a change captures again. The result equals ``capture=False`` step for step.
        On the CPU it changes nothing.
        """
        who = "fit"
        compiled = self._require_compiled(who)
        batch_size = _check_int("batch_size", batch_size, 1, who)
        epochs = _check_int("epochs", epochs, 0, who)
        initial_epoch = _check_int("initial_epoch", initial_epoch, 0, who)
        steps_per_epoch = _check_int("steps_per_epoch", steps_per_epoch, 1, who, allow_none=True)
        verbose = _check_verbose(verbose, who)
        if not isinstance(validation_split, numbers.Real) or not 0.0 <= validation_split < 1.0:
            raise ValueError(f"fit: validation_split must be a float in [0, 1), got {validation_split!r}")
        if validation_split and validation_data is not None:
            raise ValueError("fit: give validation_split or validation_data, not both")
        callbacks = _callback_list(callbacks)
        dev = as_device(device) if device is not None else None
        if seed is not None:
            seed = _check_int("seed", seed, 0, who)

        # Validate the data before moving the model or touching any state.
        train_dev = dev or model_device(self)
        if is_loader(x) or _is_dataset(x):
            if validation_split:
                raise ValueError("fit: validation_split needs arrays; with a DataLoader pass validation_data")
        elif x is not None and y is not None and validation_split:
            xs, y_raw = as_inputs(x), as_inputs(y, "y")[0]
            n = check_lengths(xs, y_raw, who)
            split_at = int(np.floor(n * (1.0 - validation_split)))
            if split_at == 0 or split_at == n:
                raise ValueError(f"fit: validation_split={validation_split} of {n} samples leaves "
                                 f"{split_at} for training and {n - split_at} for validation; both need at least one")
            x_train = [a[:split_at] for a in xs] if len(xs) > 1 else xs[0][:split_at]
            validation_data = ([a[split_at:] for a in xs] if len(xs) > 1 else xs[0][split_at:], y_raw[split_at:])
            x, y = x_train, y_raw[:split_at]
        # every label is checked before the first step changes anything (weights, optimizer state)
        labels = []  # (host labels, what) whose class range is checked once the model's output is known
        if y is not None and not is_loader(x) and not _is_dataset(x):
            labels.append(_check_labels(compiled, as_inputs(y, "y")[0], "y"))
        if isinstance(validation_data, (tuple, list)) and len(validation_data) == 2 \
                and validation_data[1] is not None and not is_loader(validation_data[0]):
            labels.append(_check_labels(compiled, as_inputs(validation_data[1], "validation targets")[0],
                                        "the validation targets"))
        labels = [entry for entry in labels if entry is not None]
        # what a checkpoint loaded by load_checkpoint saved for continuing this run (see checkpoint.py)
        resume = self.__dict__.pop("_resume_state", None)
        resume = resume[1] if resume is not None and resume[0] == initial_epoch else None
        if shuffle and seed is None and resume is not None and resume.get("seed") is not None:
            seed = int(resume["seed"])
        if shuffle and seed is None and not is_loader(x):  # (a Dataset is shuffled by a seeded loader too)
            seed = int(generator().integers(0, 2**63 - 1))
        source = self._source(x, y, batch_size, train_dev, who, shuffle=bool(shuffle), seed=seed or 0)
        data_loader = source.loader if isinstance(source, LoaderSource) else None
        if isinstance(source, LoaderSource) and source.num_batches() == 0:
            raise ValueError("fit: the training data is empty (the DataLoader yields no batches: "
                             f"{_describe_empty(source.loader)}); give it at least one sample")
        val_source = None
        if validation_data is not None:
            if is_loader(validation_data) or _is_dataset(validation_data):
                val_source = self._source(validation_data, None, batch_size, train_dev, who)
            elif isinstance(validation_data, (tuple, list)) and len(validation_data) == 2:
                val_source = self._source(validation_data[0], validation_data[1], batch_size, train_dev, who)
            else:
                raise ValueError("fit: validation_data must be a tuple (x_val, y_val) or a DataLoader")
            if isinstance(val_source, LoaderSource) and val_source.num_batches() == 0:
                raise ValueError("fit: the validation data is empty (the DataLoader yields no batches: "
                                 f"{_describe_empty(val_source.loader)})")
        steps = steps_per_epoch if steps_per_epoch is not None else source.num_batches()
        history = History()
        extra = [ProgbarLogger(verbose)] if verbose else []
        # checkpoints are written after the other callbacks' epoch-end work (an lr schedule's step, say),
        # so what they save is the state the next epoch starts from
        callbacks = [c for c in callbacks if not isinstance(c, ModelCheckpoint)] + \
            [c for c in callbacks if isinstance(c, ModelCheckpoint)]
        cbs = CallbackList(callbacks + [history] + extra, model=self,
                           params={"epochs": epochs, "steps": steps, "verbose": verbose, "batch_size": batch_size})
        if dev is not None:
            self.to(device=dev)
        if labels:  # the class range is known after the first forward: checked there, before any update
            self.__dict__["_label_check"] = (labels, [(b, b.data.copy()) for b in self.buffers()])
        if not any("history" in self.__dict__.get(store, {}) for store in ("_parameters", "_modules", "_buffers")):
            self.__dict__["history"] = history  # Keras's model.history, unless a layer has that name
        was_training = self.training
        self.stop_training = False
        self.train()
        captured = _CapturedStep(self, compiled) if capture else None
        self.__dict__["_fit_run"] = _FitRun(seed if shuffle else None, data_loader, callbacks)
        try:
            cbs.on_train_begin()
            if resume is not None:
                _apply_resume(resume, data_loader, callbacks)
            logs = {}
            for epoch in range(initial_epoch, epochs):
                cbs.on_epoch_begin(epoch, {})
                self.train()
                tracker = _Tracker(compiled.metrics)
                batch_logs = _LazyLogs(tracker)
                for step, (inputs, target, n) in enumerate(_epoch_batches(source, steps_per_epoch, epoch)):
                    cbs.on_train_batch_begin(step, {"batch": step, "size": n})
                    if captured is not None:
                        out, loss = captured(inputs, target, n)
                    else:
                        out, loss = self._train_step(compiled, inputs, target)
                    tracker.update(loss.data, n, out, target)
                    del out, loss
                    cbs.on_train_batch_end(step, batch_logs)
                    if self.stop_training:
                        break
                if tracker.count == 0 and not self.stop_training:
                    raise ValueError(f"fit: epoch {epoch + 1} produced no batches (the training data is empty)")
                logs = tracker.result()  # reads the device sums: the host waits here anyway
                index_checks.raise_pending()
                if val_source is not None:
                    val = self._run_eval(compiled, val_source)
                    logs.update({f"val_{k}": v for k, v in val.items()})
                if self.optimizer is not None:
                    logs["lr"] = float(self.optimizer.param_groups[0]["lr"])
                cbs.on_epoch_end(epoch, logs)
                if self.stop_training:
                    break
            cbs.on_train_end(logs)
        finally:
            # however fit ends (an error, KeyboardInterrupt), callbacks release their files
            self.__dict__.pop("_fit_run", None)
            self.__dict__.pop("_label_check", None)
            self.train(was_training)
            cbs.close()
        return history

    def _train_step(self, compiled, inputs, target):
        opt = self.optimizer
        if opt is None:
            if compiled.factory is None:
                raise RuntimeError("fit: the model has no optimizer; call compile(optimizer=...) again")
            self.zero_grad()
        else:
            opt.zero_grad()
        out, loss = self._forward_loss(compiled, inputs, target)
        if opt is None:  # a lazy model has its parameters now: build the optimizer compile deferred
            opt = compiled.factory(list(self.parameters()))
            self.optimizer = opt
        loss.backward()
        opt.step()
        return out, loss

    # --- evaluation and prediction ---------------------------------------------------------
    def _run_eval(self, compiled, source, verbose=0, steps=None):
        tracker = _Tracker(compiled.metrics)
        was_training = self.training
        self.eval()
        total = steps if steps is not None else source.num_batches()
        bar = EvalProgress(verbose, total, "Evaluate")
        try:
            with no_grad():
                for inputs, target, n in _epoch_batches(source, steps, 0):
                    out, loss = self._forward_loss(compiled, inputs, target)
                    tracker.update(loss.data, n, out, target)
                    bar.update()
        finally:
            bar.close()
            self.train(was_training)
        if tracker.count == 0:
            raise ValueError("evaluate: the data produced no batches")
        result = tracker.result()
        index_checks.raise_pending()
        return result

    def evaluate(self, x=None, y=None, batch_size=32, verbose=0, steps=None, device=None):
        """Loss and metrics over the data as a dict, e.g. ``{"loss": 0.31, "accuracy": 0.92}``.

        Values are sample-weighted averages over the batches; runs in eval mode without gradients and
        restores the previous mode.
        """
        who = "evaluate"
        compiled = self._require_compiled(who)
        batch_size = _check_int("batch_size", batch_size, 1, who)
        steps = _check_int("steps", steps, 1, who, allow_none=True)
        verbose = _check_verbose(verbose, who)
        dev = as_device(device) if device is not None else model_device(self)
        source = self._source(x, y, batch_size, dev, who)
        if device is not None:
            self.to(device=dev)
        logs = self._run_eval(compiled, source, verbose, steps)
        if verbose:
            print(format_logs(logs), flush=True)
        return logs

    def predict(self, x, batch_size=32, verbose=0, steps=None, device=None):
        """The model's outputs for ``x`` as a NumPy array (a tuple of arrays for tuple outputs), in batches."""
        who = "predict"
        batch_size = _check_int("batch_size", batch_size, 1, who)
        steps = _check_int("steps", steps, 1, who, allow_none=True)
        verbose = _check_verbose(verbose, who)
        dev = as_device(device) if device is not None else model_device(self)
        source = self._source(x, None, batch_size, dev, who, need_target=False)
        if device is not None:
            self.to(device=dev)
        was_training = self.training
        self.eval()
        chunks = []
        bar = EvalProgress(verbose, steps if steps is not None else source.num_batches(), "Predict")
        try:
            with no_grad():
                for inputs, _, _ in _epoch_batches(source, steps, 0):
                    chunks.append(self(*inputs))
                    bar.update()
        finally:
            bar.close()
            self.train(was_training)
        if not chunks:
            raise ValueError("predict: the data produced no batches")
        return _concat(chunks)
