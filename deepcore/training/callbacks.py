"""Keras-style callbacks for ``Module.fit`` (``dc.callbacks``): hooks called at train/epoch/batch boundaries.

Epoch logs are plain dicts of floats (``loss``, metrics, ``val_*``, ``lr``). Batch logs hold running epoch
averages that are read from the device only when a callback looks at them, so callbacks that ignore
batch logs cost no host synchronisation.
"""
from __future__ import annotations

import csv
import math
import os
import warnings
from typing import ClassVar

import numpy as np

__all__ = [
    "CSVLogger",
    "Callback",
    "CallbackList",
    "EarlyStopping",
    "History",
    "LambdaCallback",
    "LearningRateScheduler",
    "ModelCheckpoint",
    "ReduceLROnPlateau",
    "TerminateOnNaN",
]


class Callback:
    """Base class: override any ``on_*`` hook; ``self.model`` is the model being trained."""

    model = None
    params: ClassVar[dict] = {}  # replaced per instance by set_params

    def set_model(self, model) -> None:
        self.model = model

    def set_params(self, params: dict) -> None:
        self.params = params

    def on_train_begin(self, logs=None):
        pass

    def on_train_end(self, logs=None):
        pass

    def on_epoch_begin(self, epoch, logs=None):
        pass

    def on_epoch_end(self, epoch, logs=None):
        pass

    def on_batch_begin(self, batch, logs=None):
        pass

    def on_batch_end(self, batch, logs=None):
        pass

    def on_train_batch_begin(self, batch, logs=None):
        self.on_batch_begin(batch, logs)

    def on_train_batch_end(self, batch, logs=None):
        self.on_batch_end(batch, logs)

    def close(self):
        """Release files and other resources. ``fit`` calls it once when training ends, however it ends:
        after ``on_train_end``, or after an exception or a KeyboardInterrupt (when ``on_train_end`` is not
        called). Must be safe to call more than once."""


class CallbackList:
    """Calls each hook on every callback in order."""

    def __init__(self, callbacks, model=None, params=None):
        self.callbacks = list(callbacks)
        for cb in self.callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(f"callbacks must be Callback instances, got {type(cb).__name__}")
            if model is not None:
                cb.set_model(model)
            if params is not None:
                cb.set_params(params)

    def _call(self, hook, *args):
        for cb in self.callbacks:
            getattr(cb, hook)(*args)

    def on_train_begin(self, logs=None):
        self._call("on_train_begin", logs)

    def on_train_end(self, logs=None):
        self._call("on_train_end", logs)

    def on_epoch_begin(self, epoch, logs=None):
        self._call("on_epoch_begin", epoch, logs)

    def on_epoch_end(self, epoch, logs=None):
        self._call("on_epoch_end", epoch, logs)

    def on_train_batch_begin(self, batch, logs=None):
        self._call("on_train_batch_begin", batch, logs)

    def on_train_batch_end(self, batch, logs=None):
        self._call("on_train_batch_end", batch, logs)

    def close(self):
        """Every callback's ``close()``, even when one of them raises (the first error is raised after)."""
        error = None
        for cb in self.callbacks:
            try:
                cb.close()
            except Exception as e:  # noqa: BLE001 - the others still get closed
                error = error or e
        if error is not None:
            raise error


class History(Callback):
    """Records every epoch's logs: ``history["loss"]``, ``history["val_accuracy"]``, ``history["lr"]``..."""

    def __init__(self):
        self.epoch: list = []
        self.history: dict = {}

    def on_train_begin(self, logs=None):
        self.epoch = []
        self.history = {}

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)

    def __repr__(self):
        return f"History(epochs={len(self.epoch)}, keys={list(self.history)})"


class LambdaCallback(Callback):
    """A callback from plain functions, e.g. ``LambdaCallback(on_epoch_end=lambda epoch, logs: ...)``."""

    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_batch_begin=None, on_batch_end=None,
                 on_train_begin=None, on_train_end=None):
        for name, fn in (("on_epoch_begin", on_epoch_begin), ("on_epoch_end", on_epoch_end),
                         ("on_batch_begin", on_batch_begin), ("on_batch_end", on_batch_end),
                         ("on_train_begin", on_train_begin), ("on_train_end", on_train_end)):
            if fn is not None:
                setattr(self, name, fn)


# --- monitoring a logged quantity -------------------------------------------------------------------

def _monitor_mode(monitor: str, mode: str, who: str) -> str:
    """'min' or 'max'; 'auto' means max for accuracy-like names and min otherwise (as Keras)."""
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"{who}: unknown mode {mode!r}; accepted: 'auto', 'min', 'max'")
    if mode != "auto":
        return mode
    name = monitor.lower()
    return "max" if any(k in name for k in ("acc", "auc", "precision", "recall", "f1")) else "min"


def _monitor_value(logs, monitor: str, who: str):
    """The monitored value as a float, or None (with a warning naming the available keys) if it is absent."""
    logs = logs or {}
    if monitor not in logs:
        warnings.warn(f"{who}: monitored quantity {monitor!r} is not in the logs; available keys: "
                      f"{', '.join(sorted(logs)) or '(none)'}", RuntimeWarning, stacklevel=3)
        return None
    return float(logs[monitor])


class _Monitor:
    """Tracks the best value of a monitored quantity with ``min_delta`` as Keras does."""

    def __init__(self, monitor, mode, min_delta, who):
        self.monitor = monitor
        self.mode = _monitor_mode(monitor, mode, who)
        self.min_delta = abs(float(min_delta))
        self.who = who
        self.reset()

    def reset(self):
        self.best = math.inf if self.mode == "min" else -math.inf

    def improves(self, current, reference) -> bool:
        if current is None or math.isnan(current):
            return False
        if self.mode == "min":
            return current < reference - self.min_delta
        return current > reference + self.min_delta


def _copy_state(model):
    """A snapshot of the model's parameters and buffers (copies on their own devices; no host sync)."""
    return {k: v.data.copy() for k, v in model.state_dict().items()}


class EarlyStopping(Callback):
    """Stop training when ``monitor`` has not improved by more than ``min_delta`` for ``patience`` epochs.

    With ``restore_best_weights`` the weights of the best epoch are put back when training ends. With
    ``baseline`` the wait only resets once the value also beats the baseline.
    """

    def __init__(self, monitor="val_loss", min_delta=0, patience=0, mode="auto", restore_best_weights=False,
                 baseline=None, verbose=0, start_from_epoch=0):
        if patience < 0:
            raise ValueError(f"EarlyStopping: patience must be >= 0, got {patience}")
        self._tracker = _Monitor(monitor, mode, min_delta, "EarlyStopping")
        self.monitor, self.mode = monitor, self._tracker.mode
        self.min_delta, self.patience, self.verbose = self._tracker.min_delta, int(patience), verbose
        self.baseline = baseline
        self.restore_best_weights = restore_best_weights
        self.start_from_epoch = start_from_epoch
        self.on_train_begin()

    @property
    def best(self):
        return self._tracker.best

    def on_train_begin(self, logs=None):
        self.wait = 0
        self.stopped_epoch = 0
        self.best_epoch = 0
        self.best_weights = None
        self._tracker.reset()

    def on_epoch_end(self, epoch, logs=None):
        current = _monitor_value(logs, self.monitor, "EarlyStopping")
        if current is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights, self.best_epoch = _copy_state(self.model), epoch
        self.wait += 1
        if self._tracker.improves(current, self._tracker.best):
            self._tracker.best = current
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = _copy_state(self.model)
            if self.baseline is None or self._tracker.improves(current, float(self.baseline)):
                self.wait = 0
                return
            # a new best that still misses the baseline keeps counting towards patience
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose:
                print(f"Restoring model weights from the end of the best epoch: {self.best_epoch + 1}.")
            self.model.load_state_dict(self.best_weights)


class ModelCheckpoint(Callback):
    """Save the model (weights and optimizer state, atomically) at the end of every epoch or on improvement.

    ``path`` may contain format fields from the epoch number (1-based) and the logs, e.g.
    ``"ckpt-{epoch:02d}-{val_loss:.3f}.npz"``. A full checkpoint (``save_weights_only=False``) holds the
    model state, the optimizer state, the number of finished epochs, the state of every random generator
    (``dc.get_rng_state()``) and what ``fit`` needs to continue (the shuffle seed or the DataLoader's shuffle
    state, the state of ``LearningRateScheduler``/``ReduceLROnPlateau`` callbacks), so
    ``epoch = dc.checkpoint.load_checkpoint(path, model, optimizer)`` followed by
    ``fit(..., initial_epoch=epoch)`` resumes training exactly: the result equals the uninterrupted run bit
    for bit. Within ``fit`` checkpoints are written after the other callbacks' ``on_epoch_end`` (so a
    schedule stepped at the end of the epoch is saved stepped). ``save_weights_only=True`` writes the
    state dict only.
    """

    def __init__(self, path, monitor="val_loss", save_best_only=False, mode="auto", save_weights_only=False,
                 verbose=0):
        self.path = os.fspath(path)
        self._tracker = _Monitor(monitor, mode, 0, "ModelCheckpoint")
        self.monitor, self.mode = monitor, self._tracker.mode
        self.verbose = verbose
        self.save_best_only = bool(save_best_only)
        self.save_weights_only = bool(save_weights_only)
        self.saved = []  # paths written, in order

    @property
    def best(self):
        return self._tracker.best

    def on_train_begin(self, logs=None):
        self.saved = []

    def _filepath(self, epoch, logs):
        try:
            return self.path.format(epoch=epoch + 1, **(logs or {}))
        except (KeyError, IndexError) as e:
            raise ValueError(f"ModelCheckpoint: cannot format path {self.path!r}: unknown field {e}; available "
                             f"fields: epoch, {', '.join(sorted(logs or {}))}") from None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.save_best_only:
            current = _monitor_value(logs, self.monitor, "ModelCheckpoint")
            if current is None or not self._tracker.improves(current, self._tracker.best):
                if current is not None and self.verbose:
                    print(f"Epoch {epoch + 1}: {self.monitor} did not improve from {self._tracker.best:.5f}")
                return
            if self.verbose:
                print(f"Epoch {epoch + 1}: {self.monitor} improved from {self._tracker.best:.5f} to "
                      f"{current:.5f}, saving model")
            self._tracker.best = current
        path = self._filepath(epoch, logs)
        self._save(path, epoch)
        self.saved.append(path)

    def _save(self, path, epoch):
        from .. import checkpoint
        directory = os.path.dirname(path)
        if directory:
            os.makedirs(directory, exist_ok=True)
        if self.save_weights_only:
            checkpoint.save_weights(path, self.model)
        else:
            run = self.model.__dict__.get("_fit_run")
            checkpoint._write(path, self.model, getattr(self.model, "optimizer", None), epoch + 1, None,
                              run.state() if run is not None else None)


def _set_lr(optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr


def _get_lr(optimizer) -> float:
    return float(optimizer.param_groups[0]["lr"])


def _model_optimizer(model, who):
    opt = getattr(model, "optimizer", None)
    if opt is None:
        raise RuntimeError(f"{who}: the model has no optimizer; call model.compile(optimizer=...) first")
    return opt


class LearningRateScheduler(Callback):
    """Set the learning rate each epoch from ``schedule(epoch, lr) -> lr`` (or ``schedule(epoch)``).

    ``schedule`` may instead be a ``dc.optim.lr_scheduler`` object (StepLR, ExponentialLR, ...), which is
    stepped once at the end of every epoch, as in a PyTorch training loop.
    """

    def __init__(self, schedule, verbose=0):
        if _is_plateau(schedule):
            raise TypeError("LearningRateScheduler: a ReduceLROnPlateau scheduler needs a metric; use "
                            "dc.callbacks.ReduceLROnPlateau(monitor=...) instead")
        if not callable(schedule) and not hasattr(schedule, "step"):
            raise TypeError(f"LearningRateScheduler: schedule must be a function schedule(epoch, lr) or an "
                            f"lr_scheduler object, got {type(schedule).__name__}")
        self.schedule = schedule
        self.verbose = verbose

    def _is_scheduler(self):
        return hasattr(self.schedule, "step") and hasattr(self.schedule, "optimizer")

    def on_epoch_begin(self, epoch, logs=None):
        if self._is_scheduler():
            return
        opt = _model_optimizer(self.model, "LearningRateScheduler")
        lr = _get_lr(opt)
        try:
            new_lr = self.schedule(epoch, lr)
        except TypeError:
            new_lr = self.schedule(epoch)
        if isinstance(new_lr, (np.ndarray, np.generic)) or hasattr(new_lr, "item"):
            new_lr = new_lr.item()
        if not isinstance(new_lr, (int, float)) or isinstance(new_lr, bool) or not math.isfinite(new_lr):
            raise ValueError(f"LearningRateScheduler: schedule must return a finite float, got {new_lr!r}")
        _set_lr(opt, float(new_lr))
        if self.verbose:
            print(f"Epoch {epoch + 1}: LearningRateScheduler setting learning rate to {float(new_lr)}.")

    def on_epoch_end(self, epoch, logs=None):
        if self._is_scheduler():
            self.schedule.step()
            if self.verbose:
                print(f"Epoch {epoch + 1}: learning rate is now {_get_lr(self.schedule.optimizer)}.")

    def state_dict(self) -> dict:
        """The scheduler object's state (empty for a schedule function: it depends on the epoch only)."""
        return {"scheduler": self.schedule.state_dict()} if self._is_scheduler() else {}

    def load_state_dict(self, state: dict) -> None:
        """Restore the scheduler's state and the learning rates it had last set (used when resuming)."""
        if self._is_scheduler() and state and "scheduler" in state:
            self.schedule.load_state_dict(state["scheduler"])
            for group, lr in zip(self.schedule.optimizer.param_groups, self.schedule.get_last_lr()):
                group["lr"] = lr


def _is_plateau(obj) -> bool:
    return type(obj).__name__ == "ReduceLROnPlateau" and not isinstance(obj, Callback)


class ReduceLROnPlateau(Callback):
    """Multiply the learning rate by ``factor`` when ``monitor`` stops improving for ``patience`` epochs.

    Keras's arguments and counting (``patience`` epochs without improvement by more than ``min_delta``,
    then ``cooldown`` epochs of rest, never below ``min_lr``); it drives
    ``dc.optim.lr_scheduler.ReduceLROnPlateau`` on the model's optimizer.
    """

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto", min_delta=1e-4,
                 cooldown=0, min_lr=0.0):
        if factor >= 1.0 or factor <= 0:
            raise ValueError(f"ReduceLROnPlateau: factor must be in (0, 1), got {factor}")
        if patience < 0 or cooldown < 0:
            raise ValueError(f"ReduceLROnPlateau: patience and cooldown must be >= 0, got patience={patience}, "
                             f"cooldown={cooldown}")
        self.monitor = monitor
        self.mode = _monitor_mode(monitor, mode, "ReduceLROnPlateau")
        self.factor, self.patience, self.verbose = float(factor), int(patience), verbose
        self.min_delta, self.cooldown, self.min_lr = abs(float(min_delta)), int(cooldown), min_lr
        self.scheduler = None

    def on_train_begin(self, logs=None):
        from ..optim import lr_scheduler
        opt = _model_optimizer(self.model, "ReduceLROnPlateau")
        # Keras reduces after `patience` bad epochs (patience 0 and 1 alike); the PyTorch-style scheduler
        # after more than `patience`, hence the shift by one.
        self.scheduler = lr_scheduler.ReduceLROnPlateau(
            opt, mode=self.mode, factor=self.factor, patience=max(self.patience - 1, 0),
            threshold=self.min_delta, threshold_mode="abs", cooldown=self.cooldown, min_lr=self.min_lr)

    def on_epoch_end(self, epoch, logs=None):
        current = _monitor_value(logs, self.monitor, "ReduceLROnPlateau")
        if current is None or self.scheduler is None:
            return
        old = _get_lr(self.scheduler.optimizer)
        self.scheduler.step(current)
        new = _get_lr(self.scheduler.optimizer)
        if self.verbose and new != old:
            print(f"Epoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {new}.")

    def state_dict(self) -> dict:
        """The plateau counters (best value, bad epochs, cooldown) for resuming."""
        return {"scheduler": self.scheduler.state_dict()} if self.scheduler is not None else {}

    def load_state_dict(self, state: dict) -> None:
        if self.scheduler is not None and state and "scheduler" in state:
            self.scheduler.load_state_dict(state["scheduler"])


class CSVLogger(Callback):
    """Write one CSV row per epoch: ``epoch`` (0-based, as Keras) then the log keys in sorted order."""

    def __init__(self, filename, separator=",", append=False):
        self.filename = os.fspath(filename)
        self.sep = separator
        self.append = bool(append)
        self._file = None
        self._writer = None
        self._keys = None

    def on_train_begin(self, logs=None):
        has_rows = self.append and os.path.exists(self.filename) and os.path.getsize(self.filename) > 0
        self._file = open(self.filename, "a" if self.append else "w", newline="")  # noqa: SIM115 - open across epochs
        self._keys = None
        self._has_header = has_rows

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self._keys is None:
            self._keys = sorted(logs)
            self._writer = csv.writer(self._file, delimiter=self.sep, lineterminator="\n")
            if not self._has_header:
                self._writer.writerow(["epoch"] + self._keys)
        self._writer.writerow([epoch] + [_csv_value(logs.get(k, "NA")) for k in self._keys])
        self._file.flush()

    def on_train_end(self, logs=None):
        self.close()

    def close(self):
        """Close the CSV file (fit calls this however training ends: also on errors and KeyboardInterrupt)."""
        if self._file is not None:
            self._file.close()
            self._file = None


def _csv_value(v):
    return repr(float(v)) if isinstance(v, (float, np.floating)) else v


class TerminateOnNaN(Callback):
    """Stop training as soon as the loss becomes NaN or infinite (checks every batch)."""

    def on_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            print(f"Batch {batch}: invalid loss {float(loss)}, terminating training")
            self.model.stop_training = True
