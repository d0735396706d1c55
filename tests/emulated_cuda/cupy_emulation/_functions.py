"""The ``cupy`` functions deepcore uses, with CuPy 14's signatures, each run by NumPy as one kernel.

Each entry names the NumPy function that does the work and CuPy's parameter list (checked against the
real CuPy 14 in tests/test_emulated_cupy_api.py). Arguments are bound to that signature first, so a call
CuPy would reject is rejected here too. Host transfers (``asarray`` of host data, ``asnumpy``) and
syncs (results whose size depends on the data) are counted.
"""
from __future__ import annotations

import inspect

import numpy as np

from ._array import _wrap, apply, inplace, memory, ndarray, unwrap
from ._runtime import runtime


def _signature(params: str) -> inspect.Signature:
    return inspect.signature(eval(f"lambda {params}: None"))  # noqa: S307 - our own literal tables


def _public(name, sig, impl):
    """A cupy-level function ``name`` with signature ``sig`` whose body is ``impl(**bound_arguments)``."""
    def fn(*args, **kwargs):
        try:
            bound = sig.bind(*args, **kwargs)
        except TypeError as e:
            raise TypeError(f"cupy.{name}(): {e}") from None
        return impl(bound)
    fn.__name__ = fn.__qualname__ = name
    fn.__module__ = "cupy"
    fn.__signature__ = sig
    return fn


def _passed(bound):
    """The arguments the caller passed, as positional and keyword lists for the NumPy call."""
    args, kwargs, skipped = [], {}, False
    for name, p in bound.signature.parameters.items():
        if name not in bound.arguments:
            skipped = True
            continue
        v = bound.arguments[name]
        if p.kind is p.VAR_POSITIONAL:
            args.extend(v)
        elif p.kind is p.VAR_KEYWORD:
            kwargs.update(v)
        elif p.kind is p.POSITIONAL_ONLY or (p.kind is p.POSITIONAL_OR_KEYWORD and not skipped):
            args.append(v)
        else:
            kwargs[name] = v
    return args, kwargs


def _generic(name, params, np_fn=None, *, sync=None, rename=None):
    """``cupy.name`` done by ``np_fn`` (default ``numpy.name``) as one kernel (none for a pure view)."""
    np_fn = np_fn or getattr(np, name)
    sig = _signature(params)

    def impl(bound):
        args, kwargs = _passed(bound)
        for ours, theirs in (rename or {}).items():
            if ours in kwargs:
                kwargs[theirs] = kwargs.pop(ours)
        if sync:
            runtime.sync(f"cupy.{name} ({sync})")
        return apply(name, np_fn, args, kwargs)

    return _public(name, sig, impl)


# --- ufuncs ------------------------------------------------------------------------------------------
class ufunc:
    """cupy.ufunc: elementwise over device arrays and scalars, broadcasting, ``out=`` and ``dtype=``."""

    def __init__(self, name, np_ufunc):
        self.__name__ = self.name = name
        self._np = np_ufunc
        self.nin, self.nout, self.nargs = np_ufunc.nin, np_ufunc.nout, np_ufunc.nargs

    def __call__(self, *args, **kwargs):
        if len(args) != self.nin:
            raise TypeError(f"Wrong number of arguments for {self.name!r}: expected {self.nin}, got {len(args)}")
        for a in args:
            if not isinstance(a, (ndarray, int, float, complex, bool, np.generic)):
                raise TypeError(f"Unsupported type {type(a)} (in cupy.{self.name})")
        unknown = set(kwargs) - {"out", "dtype", "casting"}
        if unknown:
            raise TypeError(f"cupy.{self.name}: unexpected keyword argument(s) {sorted(unknown)}")
        if kwargs.get("out") is not None and type(kwargs["out"]) is not ndarray:
            raise TypeError(f"cupy.{self.name}: out must be a cupy.ndarray, got {type(kwargs['out'])}")
        return apply(self.name, self._np, args, kwargs)

    def __repr__(self):
        return f"<ufunc '{self.name}'>"


_UFUNC_NAMES = """add subtract multiply divide true_divide floor_divide power float_power negative positive absolute
sign exp expm1 exp2 log log1p log2 log10 sqrt cbrt square reciprocal sin cos tan arcsin arccos arctan arctan2
sinh cosh tanh arcsinh arccosh arctanh maximum minimum fmax fmin equal not_equal less less_equal greater
greater_equal logical_and logical_or logical_not logical_xor isfinite isnan isinf signbit floor ceil rint trunc
remainder mod fmod bitwise_and bitwise_or bitwise_xor invert left_shift right_shift copysign hypot logaddexp
logaddexp2 heaviside matmul""".split()
UFUNCS = {n: ufunc(n, getattr(np, n)) for n in _UFUNC_NAMES}
UFUNCS["abs"] = UFUNCS["absolute"]


# --- creation ----------------------------------------------------------------------------------------
def _alloc(shape, dtype, order="C"):
    a = np.empty(shape, dtype=dtype, order=order)
    memory.malloc(a)
    return _wrap(a)


def _like_shape(a, shape):
    return a.shape if shape is None else shape


def _check_device(name, a):
    if type(a) is np.ndarray:
        raise TypeError(f"Unsupported type {type(a)} (cupy.{name}: pass a cupy.ndarray)")


def _empty(b):
    return _alloc(b.arguments["shape"], b.arguments.get("dtype", float), b.arguments.get("order", "C"))


def _empty_like(b):
    a = b.arguments["prototype"]
    _check_device("empty_like", a)
    dtype = b.arguments.get("dtype") or a.dtype
    return _alloc(_like_shape(a, b.arguments.get("shape")), dtype)


def _host_to_device(name, obj, dtype, ndmin=0):
    """``cupy.asarray``/``cupy.array`` of host data: one host->device copy (refused while capturing)."""
    runtime.copy("h2d", f"cupy.{name} of host data")
    host = np.array(obj, dtype=dtype, ndmin=ndmin)
    if host.dtype == object:
        raise ValueError(f"Unsupported dtype object (cupy.{name})")
    memory.malloc(host)
    return _wrap(host)


def _asarray(b):
    a, dtype = b.arguments["a"], b.arguments.get("dtype")
    if type(a) is ndarray:
        if b.arguments.get("copy"):
            return a.astype(dtype or a.dtype)
        return a if dtype is None or np.dtype(dtype) == a.dtype else a.astype(dtype)
    return _host_to_device("asarray", a, dtype)


def _array(b):
    obj, dtype = b.arguments["obj"], b.arguments.get("dtype")
    copy, ndmin = b.arguments.get("copy", True), b.arguments.get("ndmin", 0)
    if type(obj) is ndarray:
        out = obj.astype(dtype or obj.dtype, copy=copy is not False)
        return out if out.ndim >= ndmin else out.reshape((1,) * (ndmin - out.ndim) + out.shape)
    return _host_to_device("array", obj, dtype, ndmin)


def _asnumpy(b):
    a = b.arguments["a"]
    if type(a) is ndarray:
        return a.get(out=b.arguments.get("out"))
    return np.asarray(a)


def _copyto(b):
    dst, src = b.arguments["dst"], b.arguments["src"]
    if type(dst) is not ndarray:
        raise TypeError(f"cupy.copyto: dst must be a cupy.ndarray, got {type(dst)}")
    s = unwrap("copyto", src)
    casting, where = b.arguments.get("casting", "same_kind"), unwrap("copyto", b.arguments.get("where"))
    d = dst._a
    if runtime.capture is None:
        np.copyto(d, s, casting=casting, where=True if where is None else where)
        inplace("copyto", lambda: None)
    else:
        inplace("copyto", lambda: np.copyto(d, s, casting=casting, where=True if where is None else where))


def _get_array_module(b):
    import cupy
    return cupy if any(type(a) is ndarray for a in b.arguments["args"]) else np


def _argreduce(np_fn):
    """argmax/argmin with CuPy's extra ``dtype=`` (NumPy has none)."""
    def fn(a, axis=None, dtype=None, out=None, keepdims=False):
        r = np_fn(a, axis=axis, keepdims=keepdims)
        return r if dtype is None else r.astype(dtype)
    return fn


def _where(b):
    if "x" not in b.arguments and "y" not in b.arguments:
        runtime.sync("cupy.where with one argument (the result size is read on the host)")
    args, kwargs = _passed(b)
    return apply("where", np.where, args, kwargs)


def _take(a, indices, axis=None, out=None):
    """cupy.take wraps out-of-range indices around (NumPy would raise)."""
    return np.take(a, indices, axis=axis, out=out, mode="wrap")


def _take_along_axis(a, indices, axis):
    n = a.shape[axis] if axis is not None else a.size
    return np.take_along_axis(a, indices % n if n else indices, axis=axis)


def _clip(a, a_min=None, a_max=None, out=None):
    return np.clip(a, a_min, a_max, out=out)


def _stable(np_fn):
    """cupy.sort/argsort: always a stable sort; ``kind`` may only be None or 'stable' (CuPy raises otherwise)."""
    def fn(a, axis=-1, kind=None):
        if kind is not None and kind != "stable":
            raise ValueError("kind can only be None or 'stable'")
        return np_fn(a, axis=axis, kind="stable")
    return fn


def _put_along_axis(b):
    """cupy.put_along_axis: writes ``values`` into ``arr`` at ``indices`` along ``axis`` (in place)."""
    arr = b.arguments["arr"]
    if type(arr) is not ndarray:
        raise TypeError(f"cupy.put_along_axis: arr must be a cupy.ndarray, got {type(arr)}")
    idx = unwrap("put_along_axis", b.arguments["indices"])
    v = unwrap("put_along_axis", b.arguments["values"])
    axis, t = b.arguments["axis"], arr._a
    if runtime.capture is None:
        np.put_along_axis(t, idx, v, axis)
        inplace("put_along_axis", lambda: None)
    else:
        inplace("put_along_axis", lambda: np.put_along_axis(t, idx, v, axis))


_SPECIAL = {
    "empty": ("shape, dtype=float, order='C'", _empty),
    "empty_like": ("prototype, dtype=None, order='K', subok=None, shape=None", _empty_like),
    "asarray": ("a, dtype=None, order=None, *, copy=None, blocking=False", _asarray),
    "array": ("obj, dtype=None, copy=True, order='K', subok=False, ndmin=0, *, blocking=False", _array),
    "asnumpy": ("a, stream=None, order='C', out=None, *, blocking=True", _asnumpy),
    "copyto": ("dst, src, casting='same_kind', where=None", _copyto),
    "get_array_module": ("*args", _get_array_module),
    "where": ("condition, x=None, y=None", _where),
    "put_along_axis": ("arr, indices, values, axis", _put_along_axis),
}

# name: (CuPy 14 parameters, NumPy function or None for numpy.<name>, options)
_GENERIC = {
    # creation (one fill kernel each)
    "zeros": ("shape, dtype=float, order='C'", None),
    "ones": ("shape, dtype=float, order='C'", None),
    "full": ("shape, fill_value, dtype=None, order='C'", None),
    "zeros_like": ("a, dtype=None, order='K', subok=None, shape=None", None),
    "ones_like": ("a, dtype=None, order='K', subok=None, shape=None", None),
    "full_like": ("a, fill_value, dtype=None, order='K', subok=None, shape=None", None),
    "arange": ("start, stop=None, step=1, dtype=None", None),
    "linspace": ("start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0", None),
    "eye": ("N, M=None, k=0, dtype=float, order='C'", None),
    "identity": ("n, dtype=float", None),
    "ascontiguousarray": ("a, dtype=None", None),
    # reductions
    "sum": ("a, axis=None, dtype=None, out=None, keepdims=False", None),
    "prod": ("a, axis=None, dtype=None, out=None, keepdims=False", None),
    "mean": ("a, axis=None, dtype=None, out=None, keepdims=False", None),
    "var": ("a, axis=None, dtype=None, out=None, ddof=0, keepdims=False", None),
    "std": ("a, axis=None, dtype=None, out=None, ddof=0, keepdims=False", None),
    "amax": ("a, axis=None, out=None, keepdims=False", None),
    "amin": ("a, axis=None, out=None, keepdims=False", None),
    "max": ("a, axis=None, out=None, keepdims=False", None),
    "min": ("a, axis=None, out=None, keepdims=False", None),
    "argmax": ("a, axis=None, dtype=None, out=None, keepdims=False", _argreduce(np.argmax)),
    "argmin": ("a, axis=None, dtype=None, out=None, keepdims=False", _argreduce(np.argmin)),
    "all": ("a, axis=None, out=None, keepdims=False", None),
    "any": ("a, axis=None, out=None, keepdims=False", None),
    "cumsum": ("a, axis=None, dtype=None, out=None", None),
    "cumprod": ("a, axis=None, dtype=None, out=None", None),
    "count_nonzero": ("a, axis=None", None),
    # shape and data movement
    "reshape": ("a, newshape, order='C', *, copy=None", None),
    "ravel": ("a, order='C'", None),
    "transpose": ("a, axes=None", None),
    "swapaxes": ("a, axis1, axis2", None),
    "moveaxis": ("a, source, destination", None),
    "expand_dims": ("a, axis", None),
    "squeeze": ("a, axis=None", None),
    "broadcast_to": ("array, shape", None),
    "concatenate": ("tup, axis=0, out=None, *, dtype=None, casting='same_kind'", None),
    "stack": ("tup, axis=0, out=None, *, dtype=None, casting='same_kind'", None),
    "split": ("ary, indices_or_sections, axis=0", None),
    "flip": ("a, axis=None", None),
    "roll": ("a, shift, axis=None", None),
    "tile": ("A, reps", None),
    "repeat": ("a, repeats, axis=None", None),
    "pad": ("array, pad_width, mode='constant', **kwargs", None),
    "tril": ("m, k=0", None),
    "triu": ("m, k=0", None),
    "diag": ("v, k=0", None),
    "diagonal": ("a, offset=0, axis1=0, axis2=1", None),
    "take": ("a, indices, axis=None, out=None", _take),
    "take_along_axis": ("a, indices, axis", _take_along_axis),
    "clip": ("a, a_min, a_max, out=None", _clip),
    "around": ("a, decimals=0, out=None", np.round),
    "round": ("a, decimals=0, out=None", np.round),
    # linear algebra
    "dot": ("a, b, out=None", None),
    "tensordot": ("a, b, axes=2", None),
    "outer": ("a, b, out=None", None),
    "einsum": ("*operands, **kwargs", None),
    # sorting and searching
    "sort": ("a, axis=-1, kind=None", _stable(np.sort)),
    "argsort": ("a, axis=-1, kind=None", _stable(np.argsort)),
    "searchsorted": ("a, v, side='left', sorter=None", None),
    # comparisons that stay on the device
    "isclose": ("a, b, rtol=1e-05, atol=1e-08, equal_nan=False", None),
    "allclose": ("a, b, rtol=1e-05, atol=1e-08, equal_nan=False", None),
    "array_equal": ("a1, a2, equal_nan=False", None),
}

# results whose size depends on the data: CuPy reads a count back to the host first
_SYNCING = {
    "nonzero": ("a", None),
    "flatnonzero": ("a", None),
    "argwhere": ("a", None),
    "unique": ("ar, return_index=False, return_inverse=False, return_counts=False, axis=None, *, equal_nan=True",
               None),
}

FUNCTIONS: dict = {}
FUNCTIONS.update({n: _public(n, _signature(p), impl) for n, (p, impl) in _SPECIAL.items()})
FUNCTIONS.update({n: _generic(n, p, f, rename={"newshape": "shape"} if n == "reshape" else None)
                  for n, (p, f) in _GENERIC.items()})
FUNCTIONS.update({n: _generic(n, p, f, sync="data-dependent size") for n, (p, f) in _SYNCING.items()})
FUNCTIONS.update(UFUNCS)


# --- cupyx -------------------------------------------------------------------------------------------
def scatter_add(a, slices, value):
    """cupyx.scatter_add: ``a[slices] += value`` with repeated indices accumulating (atomics on a GPU)."""
    if type(a) is not ndarray:
        raise TypeError(f"cupyx.scatter_add: a must be a cupy.ndarray, got {type(a)}")
    if a.dtype.name == "bfloat16" or getattr(value, "dtype", None) is not None and value.dtype.name == "bfloat16":
        raise TypeError("cupyx.scatter_add does not support bfloat16 (CuPy 14's cupyx kernels have no "
                        "bfloat16 atomics)")
    if a.dtype.kind not in "fiu":
        raise TypeError(f"cupyx.scatter_add does not support dtype {a.dtype}")
    idx = unwrap("scatter_add", slices)
    v = unwrap("scatter_add", value)
    t = a._a
    if runtime.capture is None:
        np.add.at(t, idx, v)
        inplace("scatter_add", lambda: None)
    else:
        inplace("scatter_add", lambda: np.add.at(t, idx, v))


# --- cupyx.scipy.special -------------------------------------------------------------------------------
class _ScalarUfunc:
    """A NumPy-style one-input ufunc built from a Python scalar function, for the ``cupyx.scipy.special`` names
    NumPy lacks. Result dtype as CuPy's types ``('e->d', 'f->f', 'd->d')``: float32 stays, the rest float64."""
    nin, nout, nargs = 1, 1, 2

    def __init__(self, fn):
        self._fn = fn

    def __call__(self, x, out=None, dtype=None, casting="same_kind"):
        x = np.asarray(x)
        rtype = np.dtype(np.float32) if x.dtype == np.float32 else np.dtype(np.float64)
        y = np.vectorize(self._fn, otypes=[np.float64])(x.astype(np.float64)).astype(rtype)
        if dtype is not None:
            y = y.astype(dtype)
        if out is not None:
            np.copyto(out, y, casting=casting)
            return out
        return y


def _special_erf():
    import math
    return ufunc("erf", _ScalarUfunc(math.erf))


SPECIAL = {"erf": _special_erf()}
