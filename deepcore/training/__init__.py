"""Keras-style training: ``compile/fit/evaluate/predict`` (KerasMixin), callbacks, metrics, losses, progress."""
from . import callbacks, losses, metrics, progress
from .callbacks import (
                        Callback,
                        CSVLogger,
                        EarlyStopping,
                        History,
                        LambdaCallback,
                        LearningRateScheduler,
                        ModelCheckpoint,
                        ReduceLROnPlateau,
                        TerminateOnNaN,
)
from .keras import KerasMixin
from .metrics import Accuracy, MeanAbsoluteError, MeanSquaredError, Metric

__all__ = [
                        "Accuracy",
                        "CSVLogger",
                        "Callback",
                        "EarlyStopping",
                        "History",
                        "KerasMixin",
                        "LambdaCallback",
                        "LearningRateScheduler",
                        "MeanAbsoluteError",
                        "MeanSquaredError",
                        "Metric",
                        "ModelCheckpoint",
                        "ReduceLROnPlateau",
                        "TerminateOnNaN",
                        "callbacks",
                        "losses",
                        "metrics",
                        "progress",
]
