"""The emulated ``cupy.ndarray``: a NumPy buffer that behaves like device memory.

Its data lives in ``_a`` (a NumPy array standing for the device buffer). It is strict the way CuPy 14 is:
no implicit conversion to NumPy, NumPy arrays refused as operands, ``float(a)`` only for 0-d arrays,
and every result is a device array (never a NumPy scalar). Every operation goes through ``apply``, which
counts a launch when it produces new data (views launch nothing) and, while a stream is capturing,
records the work for graph replay instead of running it.
"""
from __future__ import annotations

import threading
import weakref

import numpy as np

from ._runtime import runtime

_ALIGN = 512  # CuPy's pool rounds every allocation up to 512 bytes


class _Account:
    """One pool's bytes in use by live arrays and bytes held (never returned until ``free_all_blocks``)."""

    def __init__(self):
        self.used = 0
        self.reserved = 0


class _Memory(_Account):
    """The device memory's bookkeeping: the default pool's account (``used``/``reserved``, inherited), the
    thread-local allocator set by ``cupy.cuda.using_allocator`` and the active MemoryHooks.

    An allocation is charged to the pool whose ``malloc`` is the thread's allocator (a private
    ``cupy.cuda.MemoryPool()``), to no pool for ``using_allocator(None)`` (raw cudaMalloc), and to the
    default pool otherwise; any other allocator function is called with the size, as CuPy does.
    """

    def __init__(self):
        super().__init__()
        self.hooks: list = []
        self.raw = _Account()  # using_allocator(None): raw device memory, outside every pool
        self._local = threading.local()

    @property
    def allocator(self):
        """The thread's allocator: ``None`` (the default pool), ``_RAW`` or a function of the size."""
        return getattr(self._local, "allocator", None)

    @allocator.setter
    def allocator(self, value):
        self._local.allocator = value

    def _account(self, size):
        alloc = self.allocator
        if alloc is None:
            return self, None
        if alloc is _RAW:
            return self.raw, None
        pool = getattr(alloc, "__self__", None)
        acct = getattr(pool, "_acct", None)
        if isinstance(acct, _Account):  # a bound MemoryPool.malloc: charge that pool, no pointer needed
            return acct, None
        return self, alloc(size)  # a user allocator: it is asked for the memory, kept with the array

    def malloc(self, a: np.ndarray) -> None:
        size = -(-max(a.nbytes, 1) // _ALIGN) * _ALIGN
        acct, keep = self._account(size)
        acct.used += size
        acct.reserved = max(acct.reserved, acct.used)
        ptr = a.ctypes.data
        for h in self.hooks:
            h.malloc_postprocess(device_id=0, size=a.nbytes, mem_size=size, mem_ptr=ptr, pmem_id=0)
        weakref.finalize(a, self._free, acct, size, ptr, keep)

    def _free(self, acct, size, ptr, keep=None):
        acct.used -= size
        for h in list(self.hooks):
            h.free_postprocess(device_id=0, mem_size=size, mem_ptr=ptr, pmem_id=0)


_RAW = object()  # the allocator set by ``using_allocator(None)``: raw cudaMalloc, no pool
memory = _Memory()


def _poison(a: np.ndarray) -> None:
    """What a buffer written during capture holds until the graph runs: NaN for floats, 0 for others
    (0 keeps gathered indices in range, so shapes still work out)."""
    if a.dtype.kind in "fc" or a.dtype.name == "bfloat16":
        a.fill(np.nan)
    else:
        a.fill(0)


def unwrap(fname: str, x):
    """Device arrays -> their buffers, recursively through tuples/lists; NumPy arrays are refused."""
    t = type(x)
    if t is ndarray:
        return x._a
    if t is np.ndarray:
        raise TypeError(f"Unsupported type {t} (cupy.{fname}: NumPy arrays are host memory; "
                        "copy them to the device with cupy.asarray first)")
    if t is tuple or t is list:
        return t(unwrap(fname, v) for v in x)
    if t is dict:
        return {key: unwrap(fname, v) for key, v in x.items()}
    return x


def _buffers(x, acc):
    if type(x) is np.ndarray:
        acc.append(x)
    elif type(x) in (tuple, list):
        for v in x:
            _buffers(v, acc)
    elif type(x) is dict:
        for v in x.values():
            _buffers(v, acc)
    return acc


def wrap_new(a) -> "ndarray":
    """Wrap freshly allocated device memory (accounted in the pool)."""
    a = np.asarray(a)
    memory.malloc(a)
    return _wrap(a)


def _wrap(a: np.ndarray) -> "ndarray":
    out = object.__new__(ndarray)
    out._a = a
    return out


def apply(fname: str, np_fn, args=(), kwargs=None):
    """Run ``np_fn`` on the buffers behind ``args``/``kwargs`` as one emulated kernel.

    A result that is a view of an input costs nothing; new data costs one launch. While capturing,
    nothing runs: new results come back poisoned with the right shape and the work is recorded.
    """
    kwargs = kwargs or {}
    a, k = unwrap(fname, args), unwrap(fname, kwargs)
    out = k.get("out")
    if out is not None:  # writes into an existing buffer
        runtime.launch(fname, lambda: _quiet(np_fn, a, k))
        return kwargs["out"]
    res = _quiet(np_fn, a, k)
    srcs = _buffers((a, k), [])
    single = not isinstance(res, (tuple, list))
    results = [res] if single else list(res)
    wrapped, fresh = [], []
    for r in results:
        if isinstance(r, np.ndarray) and (any(r is s for s in srcs) or (
                r.base is not None and any(np.may_share_memory(r, s) for s in srcs))):
            wrapped.append(_wrap(r))  # a view of an input (or the input itself): no kernel
            continue
        r = np.asarray(r)  # NumPy returns scalars for 0-d results; CuPy always returns arrays
        memory.malloc(r)
        fresh.append(len(wrapped))
        wrapped.append(_wrap(r))
    if fresh:
        bufs = [wrapped[i]._a for i in fresh]

        def replay():
            new = _quiet(np_fn, a, k)
            new = [new] if single else list(new)
            for i, b in zip(fresh, bufs):
                np.copyto(b, new[i], casting="unsafe")

        if runtime.capture is not None:
            for b in bufs:
                _poison(b)
        runtime.launch(fname, replay if runtime.capture is not None else _noop)
    return wrapped[0] if single else type(res)(wrapped) if isinstance(res, tuple) else wrapped


def _noop():
    pass


def _quiet(np_fn, a, k):
    with np.errstate(all="ignore"):  # CuPy never warns about inf/NaN
        return np_fn(*a, **k)


def inplace(fname: str, fn) -> None:
    """An operation that writes into existing device memory (``a[i] = v``, ``fill``, ``+=``)."""
    runtime.launch(fname, lambda: _quiet(fn, (), {}))


def _host_index(key):
    """Index objects: device arrays unwrap; host arrays/lists are copied to the device as CuPy does."""
    t = type(key)
    if t is tuple:
        return tuple(_host_index(k) for k in key)
    if t is ndarray:
        if key.dtype == np.bool_:
            runtime.sync("boolean-mask indexing (CuPy counts the True elements on the host)")
        return key._a
    if t is np.ndarray or t is list:
        runtime.copy("h2d", "host index array")
        return np.asarray(key)
    return key


def _wrap_indices(key, shape):
    """CuPy wraps out-of-range integer-array indices around instead of raising (its documented difference
    from NumPy); do the same where each key item maps to one axis."""
    items = key if type(key) is tuple else (key,)
    if any(k is None or k is Ellipsis or (isinstance(k, np.ndarray) and k.dtype == np.bool_) for k in items):
        return key
    out = tuple(k % shape[i] if isinstance(k, np.ndarray) and k.dtype.kind in "iu" and shape[i] else k
                for i, k in enumerate(items[:len(shape)])) + tuple(items[len(shape):])
    return out if type(key) is tuple else out[0]


class _Flags:
    def __init__(self, a):
        self.c_contiguous = a.flags.c_contiguous
        self.f_contiguous = a.flags.f_contiguous
        self.owndata = a.base is None

    def __getitem__(self, key):
        return {"C_CONTIGUOUS": self.c_contiguous, "F_CONTIGUOUS": self.f_contiguous,
                "OWNDATA": self.owndata}[key]


class MemoryPointer:
    """``ndarray.data``: the device address of the first element."""

    def __init__(self, a):
        self.ptr = a.ctypes.data
        self.device_id = 0


class ndarray:
    """cupy.ndarray on the emulated device."""

    __slots__ = ("_a", "__weakref__")
    __array_priority__ = 100
    __module__ = "cupy"

    def __init__(self, shape, dtype=float, memptr=None, strides=None, order="C"):
        if memptr is not None or strides is not None:
            raise TypeError("emulated cupy.ndarray: memptr= and strides= are not supported")
        self._a = np.empty(shape, dtype=dtype, order=order)
        memory.malloc(self._a)

    # --- attributes ------------------------------------------------------------------------------
    shape = property(lambda self: self._a.shape)
    dtype = property(lambda self: self._a.dtype)
    ndim = property(lambda self: self._a.ndim)
    size = property(lambda self: self._a.size)
    itemsize = property(lambda self: self._a.itemsize)
    nbytes = property(lambda self: self._a.nbytes)
    strides = property(lambda self: self._a.strides)
    flags = property(lambda self: _Flags(self._a))
    data = property(lambda self: MemoryPointer(self._a))
    T = property(lambda self: _wrap(self._a.T))
    mT = property(lambda self: _wrap(np.swapaxes(self._a, -1, -2)))

    @property
    def __cuda_array_interface__(self):
        return {"shape": self.shape, "typestr": self.dtype.str, "descr": self.dtype.descr,
                "data": (self._a.ctypes.data, False), "strides": self.strides, "version": 3}

    @property
    def device(self):
        from ._cuda import Device
        return Device(0)

    @property
    def base(self):
        return None if self._a.base is None else _wrap(self._a.base) if isinstance(self._a.base, np.ndarray) \
            else None

    @property
    def real(self):
        return _wrap(self._a.real) if self._a.dtype.kind == "c" else self

    # --- host conversion: explicit only ----------------------------------------------------------
    def __array__(self, dtype=None, copy=None):
        raise TypeError("Implicit conversion to a NumPy array is not allowed. "
                        "Please use `.get()` to construct a NumPy array explicitly.")

    def get(self, stream=None, order="C", out=None, blocking=True):
        runtime.sync("ndarray.get")
        runtime.copy("d2h", "ndarray.get")
        if out is not None:
            np.copyto(out, self._a)
            return out
        return np.array(self._a, order=order)

    def set(self, arr, stream=None):
        if type(arr) is not np.ndarray:
            raise TypeError(f"Only numpy.ndarray can be set to cupy.ndarray, got {type(arr)}")
        if arr.shape != self.shape:
            raise ValueError(f"Shape mismatch. Old shape: {self.shape}, new shape: {arr.shape}")
        runtime.copy("h2d", "ndarray.set")
        np.copyto(self._a, arr, casting="unsafe")

    def item(self, *args):
        runtime.sync("ndarray.item")
        runtime.copy("d2h", "ndarray.item")
        return self._a.item(*args)

    def tolist(self):
        runtime.sync("ndarray.tolist")
        runtime.copy("d2h", "ndarray.tolist")
        return self._a.tolist()

    def _scalar(self, kind):
        if self._a.ndim != 0:
            raise TypeError(f"only 0-dimensional arrays can be converted to Python scalars "
                            f"(cupy: {kind}() of an array of shape {self.shape})")
        runtime.sync(f"{kind}(ndarray)")
        runtime.copy("d2h", f"{kind}(ndarray)")
        return self._a.item()

    def __float__(self):
        return float(self._scalar("float"))

    def __int__(self):
        return int(self._scalar("int"))

    def __complex__(self):
        return complex(self._scalar("complex"))

    def __index__(self):
        if self._a.dtype.kind not in "iub":
            raise TypeError("only integer scalar arrays can be converted to a scalar index")
        return int(self._scalar("index"))

    def __bool__(self):
        if self._a.size != 1:
            raise ValueError("The truth value of an array with more than one element is ambiguous. "
                             "Use a.any() or a.all()")
        runtime.sync("bool(ndarray)")
        runtime.copy("d2h", "bool(ndarray)")
        return bool(self._a.reshape(()))

    def __repr__(self):
        runtime.sync("repr(ndarray)")
        return repr(self._a)

    def __str__(self):
        runtime.sync("str(ndarray)")
        return str(self._a)

    def __format__(self, spec):
        if self._a.ndim == 0:
            return format(self._scalar("format"), spec)
        return str(self)

    def __reduce__(self):
        return (_from_host, (self.get(),))

    def __copy__(self):
        return self.copy()

    def __deepcopy__(self, memo):
        return self.copy()

    def __len__(self):
        return len(self._a)

    def __iter__(self):
        if self._a.ndim == 0:
            raise TypeError("iteration over a 0-d array")
        return (self[i] for i in range(len(self._a)))

    __hash__ = None

    # --- NumPy protocols: dispatch numpy calls to the emulated cupy functions (as CuPy does) ----------
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        from . import _functions
        fn = _functions.UFUNCS.get(ufunc.__name__)
        if fn is None or method != "__call__":
            return NotImplemented
        if "out" in kwargs and isinstance(kwargs["out"], tuple):
            (kwargs["out"],) = kwargs["out"]
        return fn(*inputs, **kwargs)

    def __array_function__(self, func, types, args, kwargs):
        from . import _functions
        fn = _functions.FUNCTIONS.get(func.__name__)
        if fn is None:
            return NotImplemented
        return fn(*args, **kwargs)

    # --- indexing --------------------------------------------------------------------------------
    def __getitem__(self, key):
        k = _wrap_indices(_host_index(key), self._a.shape)
        return apply("getitem", lambda a: a[k], (self,))

    def __setitem__(self, key, value):
        k = _host_index(key)
        if type(value) is np.ndarray:
            runtime.copy("h2d", "setitem from a NumPy array")
            v = value
        else:
            v = unwrap("setitem", value)
        a = self._a
        if runtime.capture is None:
            a[k] = v  # raise shape errors now, as CuPy does
            inplace("setitem", _noop)
        else:
            inplace("setitem", lambda: a.__setitem__(k, v))

    # --- methods ---------------------------------------------------------------------------------
    def copy(self, order="C"):
        return apply("copy", lambda a: np.array(a, order=order, copy=True), (self,))

    def astype(self, dtype, order="K", casting=None, subok=None, copy=True):
        dtype = np.dtype(dtype)
        if not copy and dtype == self.dtype:
            return self
        return apply("astype", lambda a: a.astype(dtype, order=order, casting=casting or "unsafe"), (self,))

    def view(self, dtype=None, array_class=None):
        return _wrap(self._a if dtype is None else self._a.view(dtype))

    def fill(self, value):
        a = self._a
        if runtime.capture is None:
            a.fill(unwrap("fill", value))
            inplace("fill", _noop)
        else:
            inplace("fill", lambda: a.fill(unwrap("fill", value)))

    def reshape(self, *shape, order="C"):
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return apply("reshape", lambda a: a.reshape(shape, order=order), (self,))

    def ravel(self, order="C"):
        return apply("ravel", lambda a: a.ravel(order), (self,))

    def flatten(self, order="C"):
        return self.copy(order).reshape(-1)

    def transpose(self, *axes):
        if len(axes) == 1 and (axes[0] is None or isinstance(axes[0], (tuple, list))):
            axes = axes[0]
        return _wrap(self._a.transpose(axes or None))

    def swapaxes(self, axis1, axis2):
        return _wrap(self._a.swapaxes(axis1, axis2))

    def squeeze(self, axis=None):
        return _wrap(self._a.squeeze(axis))

    def diagonal(self, offset=0, axis1=0, axis2=1):
        return _wrap(self._a.diagonal(offset, axis1, axis2))

    def nonzero(self):
        runtime.sync("ndarray.nonzero (the result size is read on the host)")
        return apply("nonzero", np.nonzero, (self,))

    def sort(self, axis=-1, kind=None):
        a = self._a
        inplace("sort", lambda: a.sort(axis=axis))

    def __dlpack__(self, stream=None):
        raise TypeError("emulated cupy.ndarray does not export DLPack")


def _from_host(a):
    """Unpickle: a host array copied back to the device."""
    runtime.copy("h2d", "unpickle")
    return wrap_new(np.array(a))


def _method(name, fn_name=None):
    """A method that forwards to the module-level function of the same name (``a.sum(...)``)."""
    fn_name = fn_name or name

    def method(self, *args, **kwargs):
        from . import _functions
        return _functions.FUNCTIONS[fn_name](self, *args, **kwargs)

    method.__name__ = method.__qualname__ = name
    return method


_METHOD_SIGNATURES = {
    "sum": "axis=None, dtype=None, out=None, keepdims=False",
    "prod": "axis=None, dtype=None, out=None, keepdims=False",
    "mean": "axis=None, dtype=None, out=None, keepdims=False",
    "var": "axis=None, dtype=None, out=None, ddof=0, keepdims=False",
    "std": "axis=None, dtype=None, out=None, ddof=0, keepdims=False",
    "max": "axis=None, out=None, keepdims=False",
    "min": "axis=None, out=None, keepdims=False",
    "argmax": "axis=None, out=None, dtype=None, keepdims=False",
    "argmin": "axis=None, out=None, dtype=None, keepdims=False",
    "all": "axis=None, out=None, keepdims=False",
    "any": "axis=None, out=None, keepdims=False",
    "cumsum": "axis=None, dtype=None, out=None",
    "cumprod": "axis=None, dtype=None, out=None",
    "clip": "min=None, max=None, out=None",
    "take": "indices, axis=None, out=None",
    "repeat": "repeats, axis=None",
    "argsort": "axis=-1, kind=None",
    "dot": "b, out=None",
    "round": "decimals=0, out=None",
    "conj": "",
    "trace": "offset=0, axis1=0, axis2=1, dtype=None, out=None",
}


def _attach_methods():
    import inspect
    for name, params in _METHOD_SIGNATURES.items():
        m = _method(name, {"round": "around"}.get(name))
        sig = inspect.signature(eval(f"lambda self{', ' if params else ''}{params}: None"))
        m.__signature__ = sig
        setattr(ndarray, name, m)


_attach_methods()


def _binary(ufunc_name, reflected=False, inplace_op=False):
    def op(self, other):
        from . import _functions
        t = type(other)
        if t is not ndarray and t is not np.ndarray and not isinstance(other, (int, float, complex, np.generic)):
            return NotImplemented
        fn = _functions.UFUNCS[ufunc_name]
        if inplace_op:
            return fn(self, other, out=self)
        return fn(other, self) if reflected else fn(self, other)
    return op


for _dunder, _uf in [("add", "add"), ("sub", "subtract"), ("mul", "multiply"), ("truediv", "true_divide"),
                     ("floordiv", "floor_divide"), ("mod", "remainder"), ("pow", "power"), ("matmul", "matmul"),
                     ("and", "bitwise_and"), ("or", "bitwise_or"), ("xor", "bitwise_xor"),
                     ("lshift", "left_shift"), ("rshift", "right_shift")]:
    setattr(ndarray, f"__{_dunder}__", _binary(_uf))
    setattr(ndarray, f"__r{_dunder}__", _binary(_uf, reflected=True))
    setattr(ndarray, f"__i{_dunder}__", _binary(_uf, inplace_op=True))
for _dunder, _uf in [("eq", "equal"), ("ne", "not_equal"), ("lt", "less"), ("le", "less_equal"),
                     ("gt", "greater"), ("ge", "greater_equal")]:
    setattr(ndarray, f"__{_dunder}__", _binary(_uf))


def _unary(ufunc_name):
    def op(self):
        from . import _functions
        return _functions.UFUNCS[ufunc_name](self)
    return op


ndarray.__neg__ = _unary("negative")
ndarray.__pos__ = _unary("positive")
ndarray.__abs__ = _unary("absolute")
ndarray.__invert__ = _unary("invert")
