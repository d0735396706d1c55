"""``dc.nn``: Module, Parameter, layers, functional (F), init and regularisation penalties."""
from . import functional, init, utils
from .activation import (CELU, ELU, GELU, SELU, Hardsigmoid, Hardswish, Hardtanh, LeakyReLU, LogSigmoid, LogSoftmax,
                         Mish, PReLU, ReLU, ReLU6, Sigmoid, SiLU, Softmax, Softmin, Softplus, Softsign, Tanh)
from .container import ModuleDict, ModuleList, Sequential
from .conv import Conv1d, Conv2d, ConvTranspose2d
from .dropout import Dropout
from .embedding import Embedding
from .linear import Flatten, Identity, Linear
from .loss import (BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, HuberLoss, KLDivLoss, L1Loss, MSELoss, NLLLoss,
                   SmoothL1Loss)
from .module import Module
from .normalization import BatchNorm1d, BatchNorm2d, LayerNorm
from .parameter import Parameter
from .pooling import AdaptiveAvgPool2d, AvgPool1d, AvgPool2d, MaxPool1d, MaxPool2d
from .regularization import l1_penalty, l2_penalty
from .rnn import GRU, LSTM, RNN

__all__ = ["Module", "Parameter", "Sequential", "Linear", "Identity", "Flatten", "Conv2d", "MaxPool2d", "AvgPool2d",
           "AdaptiveAvgPool2d", "BatchNorm1d", "BatchNorm2d", "LayerNorm", "Embedding", "Dropout", "RNN", "LSTM",
           "GRU", "ReLU", "GELU", "LeakyReLU", "PReLU", "ELU", "Softplus", "Softsign", "Hardtanh", "Sigmoid", "Tanh",
           "Softmax", "LogSoftmax", "SiLU", "SELU", "CELU", "ReLU6", "Hardswish", "Hardsigmoid", "Mish", "LogSigmoid",
           "Softmin", "functional", "init", "l1_penalty", "l2_penalty",
           "Conv1d", "ConvTranspose2d", "MaxPool1d", "AvgPool1d", "utils",
           "ModuleList", "ModuleDict", "CrossEntropyLoss", "MSELoss", "L1Loss", "BCELoss", "BCEWithLogitsLoss",
           "NLLLoss", "SmoothL1Loss", "HuberLoss", "KLDivLoss"]
