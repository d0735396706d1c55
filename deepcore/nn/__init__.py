"""``dc.nn``: Module, Parameter, layers, functional (F), init and regularisation penalties."""
from . import functional, init
from .activation import (ELU, GELU, Hardtanh, LeakyReLU, LogSoftmax, PReLU, ReLU, Sigmoid, Softmax, Softplus, Softsign,
                         Tanh)
from .container import Sequential
from .conv import Conv2d
from .dropout import Dropout
from .embedding import Embedding
from .linear import Flatten, Identity, Linear
from .module import Module
from .normalization import BatchNorm1d, BatchNorm2d, LayerNorm
from .parameter import Parameter
from .pooling import AdaptiveAvgPool2d, AvgPool2d, MaxPool2d
from .regularization import l1_penalty, l2_penalty
from .rnn import GRU, LSTM, RNN

__all__ = ["Module", "Parameter", "Sequential", "Linear", "Identity", "Flatten", "Conv2d", "MaxPool2d", "AvgPool2d",
           "AdaptiveAvgPool2d", "BatchNorm1d", "BatchNorm2d", "LayerNorm", "Embedding", "Dropout", "RNN", "LSTM",
           "GRU", "ReLU", "GELU", "LeakyReLU", "PReLU", "ELU", "Softplus", "Softsign", "Hardtanh", "Sigmoid", "Tanh",
           "Softmax", "LogSoftmax", "functional", "init", "l1_penalty", "l2_penalty"]
