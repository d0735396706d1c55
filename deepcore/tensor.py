"""Tensor: a raw numpy/cupy array, its gradient, and the Function that produced it; creation functions."""
from __future__ import annotations

import numbers

import numpy as np

from . import autograd
from .backend import CPU, Device, cupy_module, device as as_device, device_of, generator, index_checks, to_device
from .backend.dtypes import as_dtype, default_float, is_floating


class Tensor:
    """An n-dimensional array on a device, with reverse-mode autograd (like torch.Tensor)."""

    __slots__ = ("_data", "grad", "requires_grad", "_grad_fn", "_out_idx", "__weakref__")
    __array_priority__ = 1000  # numpy defers ``ndarray + Tensor`` to Tensor.__radd__

    def __init__(self, data, dtype=None, device=None, requires_grad=False):
        self.data = _to_array(data, as_dtype(dtype), device)
        self.grad = None
        self._grad_fn = None
        self._out_idx = 0
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _make(cls, array, grad_fn=None, out_idx=0):
        """Wrap an array without copying; used by ops for their outputs."""
        t = object.__new__(Tensor)
        t._data = array
        t.grad = None
        t._grad_fn = grad_fn
        t._out_idx = out_idx
        t.requires_grad = grad_fn is not None
        return t

    # --- attributes -------------------------------------------------------------------------
    @property
    def data(self):
        """The raw NumPy/CuPy array. Assigning a Tensor stores its array (``p.data -= lr * p.grad`` works);
        an array is stored as it is."""
        return self._data

    @data.setter
    def data(self, value):
        if isinstance(value, Tensor):
            value = value._data
        elif isinstance(value, np.generic):
            value = np.asarray(value)
        elif not _is_array(value):
            raise TypeError(f"data: expected a Tensor or a NumPy/CuPy array, got {type(value).__name__}")
        self._data = value

    @property
    def __cuda_array_interface__(self):
        """Present on CUDA tensors only, so CuPy takes a Tensor where it takes an array (``arr -= t``)."""
        if not hasattr(self._data, "__cuda_array_interface__"):
            raise AttributeError("__cuda_array_interface__: a CPU tensor has no CUDA array interface")
        return self._data.__cuda_array_interface__

    @property
    def shape(self) -> tuple:
        return tuple(self.data.shape)

    @property
    def ndim(self) -> int:
        return self.data.ndim

    def size(self, dim=None):
        """The shape as a tuple (``torch.Size``-like), or the length of axis ``dim`` as an int."""
        if dim is None:
            return Size(self.data.shape)
        if self.ndim == 0:
            raise IndexError(f"size: dimension {dim} given for a 0-d tensor, which has no dimensions")
        d = _dim_index(dim, self.ndim, "size")
        return int(self.data.shape[d])

    def numel(self) -> int:
        """The number of elements."""
        return int(self.data.size)

    nelement = numel

    def dim(self) -> int:
        """The number of dimensions (``ndim``)."""
        return self.data.ndim

    def element_size(self) -> int:
        """Bytes per element."""
        return int(self.data.dtype.itemsize)

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def device(self) -> Device:
        return device_of(self.data)

    @property
    def is_leaf(self) -> bool:
        return self._grad_fn is None

    @property
    def grad_fn(self):
        return self._grad_fn

    # --- conversion -------------------------------------------------------------------------
    def numpy(self) -> np.ndarray:
        """The data as a host NumPy array (shares memory on the CPU)."""
        out = to_device(self.data, CPU)
        if index_checks.pending() and self.device.type == "cuda":
            index_checks.raise_pending()  # the host waited anyway: report a bad index found on the device
        return out

    def item(self):
        if self.numel() != 1:
            raise ValueError(f"item(): only a tensor with one element can be converted to a Python scalar, "
                             f"got shape {self.shape}")
        out = self.data.item()
        if index_checks.pending() and self.device.type == "cuda":
            index_checks.raise_pending()
        return out

    def tolist(self):
        return self.numpy().tolist()

    def detach(self) -> "Tensor":
        """A tensor sharing this data, cut from the graph."""
        return Tensor._make(self.data)

    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        if requires_grad and not is_floating(self.dtype):
            raise RuntimeError(f"only floating-point tensors can require gradients, got dtype {self.dtype}")
        if not requires_grad and self._grad_fn is not None:
            raise RuntimeError("requires_grad_(False) is only valid on leaf tensors; use detach()")
        self.requires_grad = bool(requires_grad)
        return self

    def to(self, *args, device=None, dtype=None) -> "Tensor":
        """Move and/or cast, differentiably: ``t.to("cuda")``, ``t.to(dc.float64)``, ``t.to(device, dtype)``."""
        for a in args:
            if isinstance(a, (Device,)) or (isinstance(a, str) and _looks_like_device(a)):
                device = a
            else:
                dtype = a
        out = self
        if dtype is not None and as_dtype(dtype) != self.dtype:
            dtype = as_dtype(dtype)
            # a cast to an integer or bool dtype ends the graph (as in torch): it has no gradient
            out = _Cast.apply(out if is_floating(dtype) else out.detach(), dtype=dtype)
        if device is not None and as_device(device) != self.device:
            out = _Transfer.apply(out, device=as_device(device))
        return out

    def cpu(self) -> "Tensor":
        return self.to(device=CPU)

    def cuda(self, index: int | None = None) -> "Tensor":
        return self.to(device="cuda" if index is None else f"cuda:{index}")

    def astype(self, dtype) -> "Tensor":
        return self.to(dtype=dtype)

    def clone(self) -> "Tensor":
        """A copy of the data in new memory; differentiable (the gradient passes through unchanged)."""
        return _Clone.apply(self)

    def contiguous(self) -> "Tensor":
        """This tensor if its data is C-contiguous, else a contiguous copy (differentiable)."""
        if self.data.flags.c_contiguous:
            return self
        return _Clone.apply(self)

    def is_contiguous(self) -> bool:
        return bool(self.data.flags.c_contiguous)

    # --- autograd ---------------------------------------------------------------------------
    def backward(self, grad=None, retain_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad`` (``grad`` defaults to 1 for a scalar)."""
        autograd.run_backward([self], [grad], retain_graph=retain_graph)

    # --- python protocol --------------------------------------------------------------------
    def __repr__(self):
        body = np.array2string(self.numpy(), separator=", ", prefix="tensor(")
        extras = []
        if self.device.type != "cpu":
            extras.append(f"device='{self.device}'")
        if self.dtype not in (np.float32, np.int64, np.bool_):
            extras.append(f"dtype={self.dtype}")
        if self._grad_fn is not None:
            extras.append(f"grad_fn={type(self._grad_fn).__name__}")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return f"tensor({body}{''.join(', ' + e for e in extras)})"

    def __len__(self):
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def __bool__(self):
        if self.numel() != 1:
            raise RuntimeError(f"the truth value of a tensor with shape {self.shape} is ambiguous")
        return bool(self.data.item())

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        if self.dtype.kind not in "iu":
            raise TypeError(f"only integer tensors can be used as an index, got dtype {self.dtype}")
        return int(self.item())

    def __array__(self, dtype=None, copy=None):
        arr = self.numpy()
        return arr if dtype is None else arr.astype(dtype)

    __hash__ = object.__hash__

    def __setitem__(self, key, value):
        self._check_inplace("__setitem__")
        if isinstance(key, Tensor):
            key = key.data
        elif isinstance(key, tuple):
            key = tuple(k.data if isinstance(k, Tensor) else k for k in key)
        self.data[key] = value.data if isinstance(value, Tensor) else value

    def _check_inplace(self, what):
        if autograd.is_grad_enabled() and (self.requires_grad or self._grad_fn is not None):
            raise RuntimeError(f"{what}: in-place change of a tensor that requires grad; wrap it in "
                               "`with dc.no_grad():` (e.g. a manual update) or build a new tensor")

    def _inplace(self, op, other, name):
        self._check_inplace(name)
        other = other.data if isinstance(other, Tensor) else other
        result = op(self.data, other)
        if result.shape != self.data.shape:
            raise RuntimeError(f"{name}: result of shape {tuple(result.shape)} cannot be stored in a tensor of "
                               f"shape {self.shape}")
        self.data[...] = result
        return self

    def __iadd__(self, other):
        return self._inplace(lambda a, b: a + b, other, "+=")

    def __isub__(self, other):
        return self._inplace(lambda a, b: a - b, other, "-=")

    def __imul__(self, other):
        return self._inplace(lambda a, b: a * b, other, "*=")

    def __itruediv__(self, other):
        return self._inplace(lambda a, b: a / b, other, "/=")

    def zero_(self) -> "Tensor":
        self._check_inplace("zero_")
        self.data[...] = 0
        return self

    def fill_(self, value) -> "Tensor":
        self._check_inplace("fill_")
        self.data[...] = value
        return self

    def copy_(self, src) -> "Tensor":
        self._check_inplace("copy_")
        src = src.data if isinstance(src, Tensor) else src
        self.data[...] = to_device(src, self.device) if hasattr(src, "shape") else src
        return self

    # --- torch-style casts (last in the class body: they shadow the builtins float/int/bool here) ----
    def float(self) -> "Tensor":
        """Cast to float32 (differentiable)."""
        return self.to(dtype=np.float32)

    def double(self) -> "Tensor":
        """Cast to float64 (differentiable)."""
        return self.to(dtype=np.float64)

    def half(self) -> "Tensor":
        """Cast to float16 (differentiable)."""
        return self.to(dtype=np.float16)

    def bfloat16(self) -> "Tensor":
        """Cast to bfloat16 (differentiable)."""
        return self.to(dtype="bfloat16")

    def int(self) -> "Tensor":
        """Cast to int32 (no gradient, as in torch)."""
        return self.to(dtype=np.int32)

    def long(self) -> "Tensor":
        """Cast to int64 (no gradient, as in torch)."""
        return self.to(dtype=np.int64)

    def bool(self) -> "Tensor":
        """Cast to bool (no gradient, as in torch)."""
        return self.to(dtype=np.bool_)


class Size(tuple):
    """The shape of a tensor, as returned by ``Tensor.size()`` (a tuple, like ``torch.Size``)."""

    __slots__ = ()

    def numel(self) -> int:
        n = 1
        for s in self:
            n *= s
        return n

    def __repr__(self):
        return f"dc.Size({list(self)})"


def _dim_index(dim, ndim, name):
    """``dim`` (negative counts from the end) as an index into a shape of ``ndim`` axes."""
    import operator
    d = operator.index(dim)
    lo, hi = -max(ndim, 1), max(ndim, 1)
    if not lo <= d < hi:
        raise IndexError(f"{name}: dimension {d} is out of range for a tensor with {ndim} dimension(s) "
                         f"(expected {lo} <= dim < {hi})")
    return d % max(ndim, 1) if ndim else 0


def _is_array(value) -> bool:
    if isinstance(value, np.ndarray):
        return True
    cp = cupy_module()
    return cp is not None and isinstance(value, cp.ndarray)


class _Clone(autograd.Function):
    def forward(self, x):
        return x.copy()  # C order (ndarray.copy's default, NumPy and CuPy)

    def backward(self, gy):
        return gy


def _looks_like_device(s: str) -> bool:
    s = s.lower()
    return s in ("cpu", "cuda", "gpu") or s.startswith("cuda:")


class _Cast(autograd.Function):
    def forward(self, x):
        self.src = x.dtype
        return x.astype(self.dtype)

    def backward(self, gy):
        return gy.astype(self.src)


class _Transfer(autograd.Function):
    def forward(self, x):
        self.src = device_of(x)
        return to_device(x, self.device)

    def backward(self, gy):
        return to_device(gy, self.src)


def _infer_dtype(data):
    """Default dtype for Python data: floats -> float32, ints -> int64, bools -> bool."""
    arr = np.asarray(data)
    if arr.dtype.kind == "f":
        return default_float
    if arr.dtype.kind in "iu":
        return np.dtype(np.int64)
    if arr.dtype.kind == "b":
        return np.dtype(np.bool_)
    _refuse_dtype(arr.dtype)
    raise TypeError(f"cannot make a tensor from data of type {type(data).__name__} (dtype {arr.dtype})")


def _to_array(data, dtype, device):
    cp = cupy_module()
    if isinstance(data, Tensor):
        data = data.data
    if isinstance(data, np.ndarray) or (cp is not None and isinstance(data, cp.ndarray)):
        arr = data
        _refuse_dtype(arr.dtype)
    elif isinstance(data, np.generic):
        _refuse_dtype(data.dtype)
        arr = np.asarray(data, dtype=dtype)
    elif isinstance(data, (numbers.Number, list, tuple)):
        if isinstance(data, (list, tuple)) and any(isinstance(v, Tensor) for v in _flatten(data)):
            data = _nested_tensor_to_numpy(data)
        inferred = _infer_dtype(data)  # refuses complex/object data even when a dtype is given
        arr = np.asarray(data, dtype=dtype or inferred)
    else:
        raise TypeError(f"cannot make a tensor from {type(data).__name__}; expected a number, list, NumPy/CuPy "
                        "array or Tensor")
    dev = as_device(device) if device is not None else device_of(arr)
    if dtype is not None and arr.dtype != dtype:
        arr = arr.astype(dtype)
    arr = to_device(arr, dev)
    if arr is data:
        arr = arr.copy()
    return arr


def _refuse_dtype(dtype):
    """Raise a clear TypeError for array dtypes a tensor cannot hold (complex, object, strings...)."""
    dtype = np.dtype(dtype)
    if dtype.kind == "c":
        raise TypeError(f"cannot make a tensor from complex data (dtype {dtype}): deepcore has no complex dtypes; "
                        "pass the real part (.real) or the magnitude (abs) explicitly")
    if dtype.kind in "OUSVMm" and dtype.name != "bfloat16":
        raise TypeError(f"cannot make a tensor from data of dtype {dtype}: expected numbers or bools")


def _flatten(seq):
    for v in seq:
        if isinstance(v, (list, tuple)):
            yield from _flatten(v)
        else:
            yield v


def _nested_tensor_to_numpy(seq):
    return [_nested_tensor_to_numpy(v) if isinstance(v, (list, tuple)) else
            (v.numpy() if isinstance(v, Tensor) else v) for v in seq]


# --- creation functions ----------------------------------------------------------------------------
def tensor(data, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A new tensor (a copy) from a scalar, nested list, NumPy/CuPy array or Tensor."""
    return Tensor(data, dtype=dtype, device=device, requires_grad=requires_grad)


def from_numpy(array) -> Tensor:
    """A CPU tensor sharing memory with ``array``."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy expects a numpy.ndarray, got {type(array).__name__}")
    as_dtype(array.dtype)
    return Tensor._make(array)


def _shape(shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    for s in shape:
        if not isinstance(s, (int, np.integer)) or s < 0:
            raise ValueError(f"shape must be non-negative integers, got {tuple(shape)}")
    return tuple(int(s) for s in shape)


def _new(fill, shape, dtype, device, requires_grad):
    dev = as_device(device)
    dtype = as_dtype(dtype) or default_float
    arr = fill(dev.xp, shape, dtype)
    t = Tensor._make(arr)
    return t.requires_grad_(True) if requires_grad else t


def zeros(*shape, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _new(lambda xp, s, d: xp.zeros(s, d), _shape(shape), dtype, device, requires_grad)


def ones(*shape, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _new(lambda xp, s, d: xp.ones(s, d), _shape(shape), dtype, device, requires_grad)


def empty(*shape, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _new(lambda xp, s, d: xp.empty(s, d), _shape(shape), dtype, device, requires_grad)


def full(shape, fill_value, dtype=None, device=None, requires_grad=False) -> Tensor:
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    if dtype is None:
        dtype = _infer_dtype(fill_value)
    return _new(lambda xp, s, d: xp.full(s, fill_value, d), _shape(shape), dtype, device, requires_grad)


def zeros_like(x, dtype=None, device=None, requires_grad=False) -> Tensor:
    return zeros(x.shape, dtype=dtype or x.dtype, device=device or x.device, requires_grad=requires_grad)


def ones_like(x, dtype=None, device=None, requires_grad=False) -> Tensor:
    return ones(x.shape, dtype=dtype or x.dtype, device=device or x.device, requires_grad=requires_grad)


def full_like(x, fill_value, dtype=None, device=None, requires_grad=False) -> Tensor:
    return full(x.shape, fill_value, dtype=dtype or x.dtype, device=device or x.device,
                requires_grad=requires_grad)


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Values from ``start`` up to (not including) ``end`` spaced by ``step`` (``arange(n)`` is 0..n-1)."""
    if end is None:
        start, end = 0, start
    if step == 0:
        raise ValueError(f"arange: step must be nonzero, got arange({start}, {end}, {step})")
    if (end - start) * step < 0:
        raise ValueError(f"arange: the step {step} points away from end: cannot go from {start} to {end}")
    if dtype is None:
        dtype = _infer_dtype([start, end, step])
    return _new(lambda xp, s, d: xp.arange(start, end, step, dtype=d), (), dtype, device, requires_grad)


def linspace(start, end, steps, dtype=None, device=None, requires_grad=False) -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end`` inclusive; an integer dtype truncates toward zero
    (as torch does)."""
    import operator
    steps = operator.index(steps)
    if steps < 0:
        raise ValueError(f"linspace: number of steps must be non-negative, got {steps}")
    dt = as_dtype(dtype) or default_float
    if is_floating(dt):
        return _new(lambda xp, s, d: xp.linspace(start, end, steps, dtype=d), (), dt, device, requires_grad)

    lo, hi = int(start), int(end)  # torch converts the bounds to the integer dtype first

    def fill(xp, s, d):
        step = (hi - lo) / (steps - 1) if steps > 1 else 0.0
        i = xp.arange(steps, dtype=np.float64)
        half = steps // 2  # the upper half counts back from ``end``, so the last value is exactly ``end``
        vals = xp.where(i < half, lo + step * i, hi - step * (steps - 1 - i))
        return xp.trunc(vals).astype(d)
    return _new(fill, (), dt, device, requires_grad)


def eye(n, m=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _new(lambda xp, s, d: xp.eye(n, m, dtype=d), (), dtype, device, requires_grad)


def _random(draw, shape, dtype, device, requires_grad):
    dev = as_device(device)
    dtype = as_dtype(dtype) or default_float
    if not is_floating(dtype):
        raise ValueError(f"rand/randn need a floating dtype, got {dtype}")
    gen = generator(dev)
    work = dtype if dtype in (np.float32, np.float64) else np.dtype(np.float32)
    arr = draw(gen, shape, work)
    t = Tensor._make(arr.astype(dtype, copy=False))
    return t.requires_grad_(True) if requires_grad else t


def rand(*shape, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Uniform samples on [0, 1)."""
    return _random(lambda g, s, d: g.random(s, dtype=d), _shape(shape), dtype, device, requires_grad)


def randn(*shape, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Standard normal samples."""
    return _random(lambda g, s, d: g.standard_normal(s, dtype=d), _shape(shape), dtype, device, requires_grad)


def randint(low, high=None, size=(), dtype=None, device=None) -> Tensor:
    """Integers uniform on [low, high) (``randint(high, size)`` also works)."""
    if high is None:
        low, high = 0, low
    if isinstance(high, tuple):
        low, high, size = 0, low, high
    size = (size,) if isinstance(size, (int, np.integer)) else tuple(size)
    if high <= low:
        raise ValueError(f"randint: high ({high}) must be greater than low ({low})")
    dev = as_device(device)
    arr = generator(dev).integers(low, high, size=size)
    return Tensor._make(arr.astype(as_dtype(dtype) or np.int64, copy=False))
