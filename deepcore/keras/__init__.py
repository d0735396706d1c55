"""Keras 3's API on deepcore: ``from deepcore import keras`` and Keras code runs with only the import changed.

``keras.Sequential``, ``keras.Model`` (functional and subclassed), ``keras.Input``, ``keras.layers``,
``keras.losses``, ``keras.metrics``, ``keras.optimizers``, ``keras.callbacks``, ``keras.utils``,
``keras.datasets``, ``keras.initializers``, ``keras.regularizers``, ``keras.activations``, ``keras.backend``.
Every Keras layer and model is a ``dc.nn.Module``: devices (``model.to("cuda")``, ``fit(device=...)``),
``state_dict`` and the rest of deepcore apply unchanged. See docs/api.md ("Keras front end").
"""
from . import (
               activations,
               backend,
               callbacks,
               config,
               datasets,
               initializers,
               layers,
               losses,
               metrics,
               models,
               optimizers,
               regularizers,
               utils,
)
from .engine import Input, InputLayer, KerasTensor, Layer
from .models import Model, Sequential

__all__ = ["Input", "InputLayer", "KerasTensor", "Layer", "Model", "Sequential", "activations", "backend",
           "callbacks", "config", "datasets", "initializers", "layers", "losses", "metrics", "models", "optimizers",
           "regularizers", "utils"]
