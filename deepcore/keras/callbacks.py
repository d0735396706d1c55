"""``keras.callbacks``: deepcore's Keras-style callbacks under Keras's names and arguments."""
from __future__ import annotations

import os

from ..training.callbacks import (  # noqa: F401
    Callback,
    CallbackList,
    CSVLogger,
    EarlyStopping,
    History,
    LambdaCallback,
    LearningRateScheduler,
    ReduceLROnPlateau,
    TerminateOnNaN,
)
from ..training.callbacks import ModelCheckpoint as _ModelCheckpoint


class ModelCheckpoint(_ModelCheckpoint):
    """Save the weights at the end of every epoch (or on improvement with ``save_best_only``).

    Keras's arguments; a ``.weights.h5`` (any ``.h5``) path is written in Keras 3's weights layout. Whole-model
    ``.keras`` files are not supported: give ``save_weights_only=True`` and a ``.weights.h5`` path.
    """

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False, save_weights_only=False,
                 mode="auto", save_freq="epoch", initial_value_threshold=None):
        path = os.fspath(filepath)
        if save_freq != "epoch":
            raise NotImplementedError("ModelCheckpoint: only save_freq='epoch' is supported")
        if path.endswith(".keras"):
            raise NotImplementedError("ModelCheckpoint: whole-model .keras files are not supported; use "
                                      "save_weights_only=True with a path ending in .weights.h5")
        super().__init__(path, monitor=monitor, save_best_only=save_best_only, mode=mode,
                         save_weights_only=save_weights_only or path.endswith(".h5"), verbose=verbose)
        if initial_value_threshold is not None:
            self._tracker.best = float(initial_value_threshold)

    def _save(self, path, epoch):
        if path.endswith(".h5"):
            directory = os.path.dirname(path)
            if directory:
                os.makedirs(directory, exist_ok=True)
            self.model.save_weights(path)
            return
        super()._save(path, epoch)


class TensorBoard(Callback):
    def __init__(self, *args, **kwargs):
        raise NotImplementedError("keras.callbacks.TensorBoard is not supported; use CSVLogger or History")
