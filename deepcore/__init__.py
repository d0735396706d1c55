"""deepcore: a define-by-run autodiff engine on NumPy (CPU) and CuPy + custom CUDA kernels (GPU).

The public surface is listed explicitly below; see DESIGN.md for the contract.
"""
from . import autograd, backend, cuda, ops
from .autograd import Function, enable_grad, gradcheck, is_grad_enabled, no_grad, set_grad_enabled
from .backend import Device, device, manual_seed
from .backend.blas import get_float32_matmul_precision, set_float32_matmul_precision
from .backend.dtypes import bfloat16, float16, float32, float64, int8, int16, int32, int64, uint8
from .backend.dtypes import bool_ as bool  # noqa: A001 - dc.bool, as in torch
from .tensor import (Tensor, arange, empty, eye, from_numpy, full, full_like, linspace, ones, ones_like, rand,
                     randint, randn, tensor, zeros, zeros_like)
from .ops.elementwise import (abs, add, clamp, clip, cos, div, exp, log, maximum, minimum, mul, neg, pow, sin,
                              sqrt, sub, where)
from .ops.activation import log_softmax, relu, sigmoid, softmax, tanh
from .ops.reduce import argmax, argmin, logsumexp, max, mean, min, prod, std, sum, var
from .ops.shape import (broadcast_to, cat, chunk, concatenate, flatten, pad, permute, repeat, reshape, split, squeeze,
                        stack, transpose, unsqueeze)
from .ops.linalg import dot, matmul, outer
from . import checkpoint, data, datasets, io, nn, optim, training
from .training import callbacks
from .io import load, save

__version__ = "0.1.0"


def __getattr__(name):
    """``dc.keras`` (the Keras front end) is imported on first use."""
    if name == "keras":
        import importlib
        return importlib.import_module(".keras", __name__)
    raise AttributeError(f"module 'deepcore' has no attribute {name!r}")


__all__ = [
    # modules
    "autograd", "backend", "cuda", "ops", "nn", "optim", "data", "datasets", "io", "training", "callbacks",
    "checkpoint",
    # autograd
    "Function", "no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled", "gradcheck",
    # devices and dtypes
    "Device", "device", "manual_seed", "set_float32_matmul_precision", "get_float32_matmul_precision",
    "float16", "bfloat16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool",
    # tensors
    "Tensor", "tensor", "from_numpy", "zeros", "ones", "full", "empty", "arange", "linspace", "eye", "rand", "randn",
    "randint", "zeros_like", "ones_like", "full_like",
    # ops
    "add", "sub", "mul", "div", "pow", "neg", "abs", "exp", "log", "sqrt", "sin", "cos", "tanh", "sigmoid", "relu",
    "clip", "clamp", "maximum", "minimum", "where", "sum", "mean", "max", "min", "var", "std", "prod", "argmax",
    "argmin", "logsumexp", "softmax", "log_softmax", "reshape", "transpose", "permute", "squeeze", "unsqueeze",
    "flatten", "broadcast_to", "repeat", "cat", "concatenate", "stack", "split", "chunk", "pad", "matmul", "dot",
    "outer",
    # persistence
    "save", "load",
]
