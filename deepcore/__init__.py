"""deepcore: a define-by-run autodiff engine on NumPy (CPU) and CuPy + custom CUDA kernels (GPU)."""
from . import autograd, backend, cuda, ops
from . import data, datasets, io, nn, optim
from .io import load, save
from .autograd import Function, enable_grad, gradcheck, no_grad, set_grad_enabled, is_grad_enabled
from .backend import Device, device, manual_seed
from .backend.dtypes import (bfloat16, float16, float32, float64, int8, int16, int32, int64, uint8)
from .backend.dtypes import bool_ as bool  # noqa: A001 - dc.bool, as in torch
from .tensor import (Tensor, arange, empty, eye, from_numpy, full, full_like, linspace, ones, ones_like, rand,
                     randint, randn, tensor, zeros, zeros_like)
from .ops.elementwise import (abs, add, clamp, clip, cos, div, exp, log, maximum, minimum, mul, neg, pow, sin,
                              sqrt, sub, where)
from .ops.activation import relu, sigmoid, tanh
# The op families below are being filled in; each module's __all__ lists its public dc-level names.
from .ops.reduce import *  # noqa: F401,F403
from .ops.shape import *  # noqa: F401,F403
from .ops.linalg import *  # noqa: F401,F403
from .ops.activation import *  # noqa: F401,F403

__version__ = "0.1.0"
