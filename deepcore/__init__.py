"""deepcore: a define-by-run autodiff engine on NumPy (CPU) and CuPy + custom CUDA kernels (GPU).

The public surface is listed explicitly below; docs/api.md in the repository describes it (names,
signatures, semantics) and how it differs from PyTorch and Keras.
"""
from . import autograd, backend, cuda, ops
from .autograd import Function, enable_grad, gradcheck, is_grad_enabled, no_grad, set_grad_enabled
from .backend import Device, device, manual_seed
from .backend.random import get_rng_state, set_rng_state
from .backend.blas import get_float32_matmul_precision, set_float32_matmul_precision
from .backend.dtypes import bfloat16, float16, float32, float64, int8, int16, int32, int64, uint8
from .backend.dtypes import bool_ as bool  # noqa: A001 - dc.bool, as in torch
from .tensor import (Tensor, arange, empty, eye, from_numpy, full, full_like, linspace, ones, ones_like, rand,
                     randint, randn, tensor, zeros, zeros_like)
from .ops.elementwise import (abs, add, bitwise_and, bitwise_left_shift, bitwise_not, bitwise_or, bitwise_right_shift,
                              bitwise_xor, clamp, clip, cos, div, eq, exp, floor_divide, fmod, ge, gt, le, log, lt,
                              maximum, minimum, mul, ne, neg, pow, remainder, sin, sqrt, sub, where)
from .ops.math import (acos, acosh, allclose, asin, asinh, atan, atanh, ceil, cosh, erf, exp2, floor, isclose, isfinite,
                       isinf, isnan, lerp, log2, log10, logaddexp, round, rsqrt, sign, sinh, tan, trunc)
from .ops.activation import log_softmax, relu, sigmoid, softmax, tanh
from .ops.reduce import (all, amax, amin, any, argmax, argmin, logsumexp, max, mean, min, prod, std, std_mean,
                         sum, var, var_mean)
from .ops.scan import cummax, cummin, cumprod, cumsum, logcumsumexp
from .ops.sort import argsort, sort, topk
from .ops.shape import (broadcast_to, cat, chunk, concatenate, flatten, pad, permute, repeat, reshape, split, squeeze,
                        stack, transpose, unflatten, unsqueeze)
from .ops.indexing import (diag, diagonal, flip, gather, index_select, masked_fill, masked_scatter, masked_select,
                           meshgrid, nonzero, repeat_interleave, roll, scatter, scatter_add, tril, triu)
from .ops.linalg import dot, einsum, matmul, outer
from .tensor import Size
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
    "Device", "device", "manual_seed", "get_rng_state", "set_rng_state",
    "set_float32_matmul_precision", "get_float32_matmul_precision",
    "float16", "bfloat16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool",
    # tensors
    "Tensor", "tensor", "from_numpy", "zeros", "ones", "full", "empty", "arange", "linspace", "eye", "rand", "randn",
    "randint", "zeros_like", "ones_like", "full_like",
    # ops
    "add", "sub", "mul", "div", "pow", "neg", "abs", "exp", "log", "sqrt", "sin", "cos", "tanh", "sigmoid", "relu",
    "clip", "clamp", "maximum", "minimum", "where", "sum", "mean", "max", "min", "var", "std", "prod", "argmax",
    "argmin", "logsumexp", "amax", "amin", "std_mean", "var_mean", "any", "all", "cumsum", "cumprod",
    "cummax", "cummin", "logcumsumexp", "sort", "argsort", "topk",
    "softmax", "log_softmax", "reshape", "transpose", "permute", "squeeze", "unsqueeze",
    "flatten", "broadcast_to", "repeat", "cat", "concatenate", "stack", "split", "chunk", "pad", "matmul", "dot",
    "outer",
    # indexing, shape and linalg additions (issue 12)
    "gather", "scatter", "scatter_add", "index_select", "masked_fill", "masked_select", "masked_scatter", "nonzero",
    "flip", "roll", "tril", "triu", "diag", "diagonal", "repeat_interleave", "meshgrid", "einsum", "unflatten", "Size",
    # elementwise math, tests, operators (issue 12)
    "floor", "ceil", "round", "trunc", "sign", "rsqrt", "log2", "log10", "exp2", "tan", "asin", "acos", "atan", "sinh",
    "cosh", "asinh", "acosh", "atanh", "erf", "lerp", "logaddexp", "isnan", "isinf", "isfinite", "isclose", "allclose",
    "remainder", "fmod", "floor_divide", "bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_not",
    "bitwise_left_shift", "bitwise_right_shift", "eq", "ne", "lt", "le", "gt", "ge",
    # persistence
    "save", "load",
]
