"""Whole-step CUDA graph capture: ``dc.cuda.graphed(fn)`` (docs/api.md, "GPU").

A training step of a small model is bound by kernel launches: each costs the host 5-15 us, while a replayed
CUDA graph costs about 1 us per kernel. ``graphed(step)`` records one call of ``step`` (forward, backward,
optimizer update) as a CUDA graph and afterwards replays it with one launch, after copying the call's
tensor arguments into the graph's input buffers.

How a call runs, per *signature* (the shapes, dtypes, devices and ``requires_grad`` of the tensor
arguments, and the values of every other argument):

1. first call, the **warm-up**: ``fn`` runs eagerly, on a side stream, so that state created lazily at the
   first call (optimizer buffers, cuBLAS handles, compiled kernels) exists before the capture;
2. second call, the **capture**: the tensor arguments are copied into static buffers, one call of ``fn``
   on those buffers is captured on a non-default stream into a private memory pool, and the graph is
   replayed at once;
3. every later call, a **replay**: the tensor arguments are copied into the static buffers (device to
   device) and the graph is launched.

Every call is exactly one call of ``fn`` on the device: N calls are N training steps, whichever of the three
kinds they are. Everything here runs on the device that holds the arguments; nothing synchronises with the
host.
"""
from __future__ import annotations

import collections
import functools

from .backend import Device, cuda_available, cupy_module
from .backend import device as as_device
from .tensor import Tensor

__all__ = ["graphed", "CaptureError", "GraphedCallable", "CacheInfo"]

#: cudaErrorStreamCaptureUnsupported (900) ... cudaErrorStreamCaptureWrongThread (908), which includes
#: cudaErrorStreamCaptureInvalidated (901), cudaErrorStreamCaptureImplicit (906) and cudaErrorCapturedEvent.
_CAPTURE_STATUSES = range(900, 909)

CacheInfo = collections.namedtuple("CacheInfo", "warmups captures replays eager_calls currsize maxsize")
CacheInfo.__doc__ = """Calls of a graphed callable so far, by kind, and the captured signatures it holds
(``currsize``, at most ``maxsize``). ``eager_calls`` counts calls that ran ``fn`` unchanged (no CUDA device
or CPU tensors), not warm-ups."""


class CaptureError(RuntimeError):
    """``fn`` did something a CUDA graph cannot hold while it was being captured: a host synchronisation
    (``.item()``, ``float(t)``, ``.numpy()``, printing a tensor, a Python ``if`` on a tensor value) or a
    host<->device copy. The original CuPy error is the ``__cause__``."""


class _Entry:
    """One signature: its device, and once captured, the graph, its private pool and static buffers."""

    __slots__ = ("device", "eager", "graph", "pool", "static_inputs", "outputs")

    def __init__(self, device):
        self.device = device        # Device, or None: fn did no CUDA work at its warm-up (calls run eagerly)
        self.eager = device is None
        self.graph = None           # cupy.cuda.Graph once captured
        self.pool = None            # the private cupy.cuda.MemoryPool of everything the capture allocated
        self.static_inputs = []     # the captured input arrays, one per tensor argument, in argument order
        self.outputs = None         # what fn returned at the capture, tensors detached: returned by replays


_TENSOR = object()  # marks a tensor in a signature key


def _signature(obj, tensors):
    """A hashable key of ``obj`` (the call's ``(args, kwargs)``); appends its tensors to ``tensors``."""
    t = type(obj)
    if isinstance(obj, Tensor):
        tensors.append(obj)
        return (_TENSOR, obj.shape, obj.dtype, str(obj.device), obj.requires_grad)
    if t is tuple or t is list or _is_namedtuple(obj):
        return (t, tuple(_signature(v, tensors) for v in obj))
    if t is dict:
        return (dict, tuple((k, _signature(v, tensors)) for k, v in obj.items()))
    try:
        hash(obj)
    except TypeError:
        raise TypeError(f"dc.cuda.graphed: an argument of type {t.__name__} is neither a Tensor (copied into the "
                        "graph's input buffers at every call) nor hashable (other arguments are part of the "
                        "graph's cache key); pass arrays as Tensors on the device") from None
    return (t, obj)  # the type too: 1, 1.0 and True are equal keys but may make different graphs


def _rebuild(obj, tensors):
    """``obj`` with its tensors replaced, in order, by the next items of the iterator ``tensors``."""
    t = type(obj)
    if isinstance(obj, Tensor):
        return next(tensors)
    if t is tuple or t is list:
        return t(_rebuild(v, tensors) for v in obj)
    if _is_namedtuple(obj):
        return t(*(_rebuild(v, tensors) for v in obj))
    if t is dict:
        return {k: _rebuild(v, tensors) for k, v in obj.items()}
    return obj


def _detach_outputs(obj):
    """What a replay returns: fn's captured result with each non-leaf tensor detached (its autograd graph
    ran at the capture and is freed; the tensor's buffer is rewritten by every replay)."""
    t = type(obj)
    if isinstance(obj, Tensor):
        return obj if obj.is_leaf else Tensor._make(obj.data)
    if t is tuple or t is list:
        return t(_detach_outputs(v) for v in obj)
    if t is dict:
        return {k: _detach_outputs(v) for k, v in obj.items()}
    if _is_namedtuple(obj):
        return t(*(_detach_outputs(v) for v in obj))
    return obj


def _is_namedtuple(obj) -> bool:
    return isinstance(obj, tuple) and hasattr(type(obj), "_fields")


def _cuda_device_in(obj):
    """The device of the first CUDA tensor in ``obj`` (nested tuples/lists/dicts), or None."""
    if isinstance(obj, Tensor):
        return obj.device if obj.device.type == "cuda" else None
    if isinstance(obj, (tuple, list)):
        values = obj
    elif isinstance(obj, dict):
        values = obj.values()
    else:
        return None
    for v in values:
        dev = _cuda_device_in(v)
        if dev is not None:
            return dev
    return None


def _capture_failure(exc) -> BaseException | None:
    """The CUDA stream-capture error in ``exc``'s chain of causes, or None."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if getattr(exc, "status", None) in _CAPTURE_STATUSES and type(exc).__name__.startswith("CUDA"):
            return exc
        exc = exc.__cause__ or exc.__context__
    return None


def _capturing(cp) -> bool:
    """True while the current stream is being captured (by an enclosing capture)."""
    try:
        return bool(cp.cuda.get_current_stream().is_capturing())
    except Exception:  # an invalidated capture: let fn run and report it
        return True


class GraphedCallable:
    """What ``dc.cuda.graphed(fn)`` returns: call it like ``fn``. See :func:`graphed`."""

    def __init__(self, fn, cache_size=8, device=None):
        if not callable(fn):
            raise TypeError(f"dc.cuda.graphed: fn must be callable, got {type(fn).__name__}")
        if isinstance(cache_size, bool) or not isinstance(cache_size, int) or cache_size < 1:
            raise ValueError(f"dc.cuda.graphed: cache_size must be an integer >= 1, got {cache_size!r}")
        functools.update_wrapper(self, fn)
        self._fn = fn
        self._maxsize = cache_size
        self._device = None if device is None else as_device(device)
        self._cache: collections.OrderedDict = collections.OrderedDict()
        self._streams: dict = {}  # device index -> the side stream of warm-ups and captures
        self._counts = collections.Counter()
        self._cuda = cuda_available()  # no CuPy or no GPU: every call runs fn unchanged
        self._before_replay = _device_state_hook()

    def __get__(self, instance, owner=None):  # decorating a method: bind it like a function
        return self if instance is None else functools.partial(self, instance)

    def __repr__(self):
        return f"<dc.cuda.graphed {getattr(self._fn, '__qualname__', self._fn)!r}: {self.cache_info()}>"

    # --- the call ---------------------------------------------------------------------------------
    def __call__(self, *args, **kwargs):
        if not self._cuda:
            self._counts["eager"] += 1
            return self._fn(*args, **kwargs)
        tensors = []
        key = _signature((args, kwargs), tensors)
        dev = self._device or next((t.device for t in tensors if t.device.type == "cuda"), None)
        if (dev is None and tensors) or (dev is not None and dev.type != "cuda"):
            self._counts["eager"] += 1  # CPU tensors: nothing to capture
            return self._fn(*args, **kwargs)
        cp = cupy_module()
        if _capturing(cp):  # inside an enclosing capture: fn's work is recorded into that graph
            self._counts["eager"] += 1
            return self._fn(*args, **kwargs)
        entry = self._cache.get(key)
        if entry is None:
            return self._warm_up(cp, key, dev, args, kwargs)
        self._cache.move_to_end(key)
        if entry.eager:
            self._counts["eager"] += 1
            return self._fn(*args, **kwargs)
        with _on(cp, entry.device):
            if self._before_replay is not None:
                self._before_replay()  # host-side changes (an lr set by a scheduler) to their device copies
            if entry.graph is None:
                self._capture(cp, entry, tensors, args, kwargs)  # the static buffers hold this call's arguments
                self._counts["captures"] += 1
            else:
                for static, t in zip(entry.static_inputs, tensors):
                    if t.data is not static:
                        cp.copyto(static, t.data)
                self._counts["replays"] += 1
            entry.graph.launch()
        return entry.outputs

    def _side_stream(self, cp, index):
        s = self._streams.get(index)
        if s is None:
            s = self._streams[index] = cp.cuda.Stream(non_blocking=True)
        return s

    def _warm_up(self, cp, key, dev, args, kwargs):
        """Run fn eagerly on the side stream (ordered after, and before, the caller's stream's work)."""
        index = cp.cuda.runtime.getDevice() if dev is None else dev.index or 0
        with cp.cuda.Device(index):
            current = cp.cuda.get_current_stream()
            side = self._side_stream(cp, index)
            side.wait_event(current.record())
            try:
                with side:
                    out = self._fn(*args, **kwargs)
            finally:
                current.wait_event(side.record())
        entry = _Entry(dev or _cuda_device_in(out))
        self._cache[key] = entry
        while len(self._cache) > self._maxsize:
            self._cache.popitem(last=False)
        self._counts["warmups"] += 1
        return out

    def _capture(self, cp, entry, tensors, args, kwargs):
        """Capture one call of fn on static copies of the tensor arguments, into a private memory pool."""
        current = cp.cuda.get_current_stream()
        stream = self._side_stream(cp, entry.device.index or 0)
        pool = cp.cuda.MemoryPool()
        stream.wait_event(current.record())
        with cp.cuda.using_allocator(pool.malloc), stream:
            statics = []
            for t in tensors:
                s = Tensor._make(t.data.copy())
                s.requires_grad = t.requires_grad and t.is_leaf
                statics.append(s)
            s_args, s_kwargs = _rebuild((args, kwargs), iter(statics))
            stream.begin_capture()
            try:
                out = self._fn(*s_args, **s_kwargs)
            except BaseException as exc:
                _abandon(stream)
                cause = _capture_failure(exc)
                if cause is not None:
                    raise CaptureError(self._sync_message(cause)) from exc
                raise
            try:
                graph = stream.end_capture()
            except Exception as exc:  # fn caught the capture error itself; the capture is invalid
                cause = _capture_failure(exc)
                if cause is not None:
                    raise CaptureError(self._sync_message(cause)) from exc
                raise
        current.wait_event(stream.record())
        entry.graph, entry.pool = graph, pool
        entry.static_inputs = [s.data for s in statics]
        entry.outputs = _detach_outputs(out)

    def _sync_message(self, cause) -> str:
        name = getattr(self._fn, "__qualname__", None) or repr(self._fn)
        return (f"dc.cuda.graphed({name}): the function waited for the GPU (a host synchronisation or a "
                f"host<->device copy) while its call was being captured as a CUDA graph [{cause}]. A captured "
                "call must run entirely on the device: remove .item(), float(t), .numpy(), print(t), Python "
                "`if`/`while` on tensor values and host<->device copies from it (read the returned tensors after "
                "the call instead). This call performed no step on the device; gradients (p.grad) and host-side "
                "counters it touched hold values of the aborted step.")

    # --- introspection ----------------------------------------------------------------------------
    def cache_info(self) -> CacheInfo:
        """Calls so far by kind (warm-ups, captures, replays, eager calls) and the signatures held."""
        c = self._counts
        return CacheInfo(c["warmups"], c["captures"], c["replays"], c["eager"], len(self._cache), self._maxsize)

    def cache_clear(self) -> None:
        """Forget every signature: the next call of each warms up again, the one after captures again
        (call this after changing a Python value that ``fn`` reads, e.g. a float learning rate)."""
        self._cache.clear()

    def graph_for(self, *args, **kwargs):
        """The ``cupy.cuda.Graph`` captured for arguments like these (same signature), or None."""
        entry = self._cache.get(_signature((args, kwargs), []))
        return None if entry is None else entry.graph


def _device_state_hook():
    """What must run before a capture and before every replay, since a replay runs no Python:
    ``deepcore.optim.optimizer.push_learning_rates`` (writes learning rates changed on the host, by a
    scheduler say, into the optimizers' device scalars) where the optimizers keep them on the device."""
    from .optim import optimizer
    return getattr(optimizer, "push_learning_rates", None)


def _abandon(stream):
    """End a capture that failed; the partial graph (or the error of an invalidated capture) is dropped."""
    try:
        stream.end_capture()
    except Exception:
        pass


class _on:
    """``with _on(cp, dev)``: make ``dev`` the current CUDA device, only when it is not already."""

    __slots__ = ("cp", "index", "ctx")

    def __init__(self, cp, dev: Device):
        self.cp, self.index, self.ctx = cp, dev.index or 0, None

    def __enter__(self):
        if self.cp.cuda.runtime.getDevice() != self.index:
            self.ctx = self.cp.cuda.Device(self.index)
            self.ctx.__enter__()
        return self

    def __exit__(self, *exc):
        if self.ctx is not None:
            self.ctx.__exit__(*exc)


def graphed(fn=None, *, cache_size: int = 8, device=None):
    """Capture ``fn`` (a whole training step) as a CUDA graph and replay it; returns a callable with ``fn``'s
    signature (a :class:`GraphedCallable`). Also a decorator: ``@dc.cuda.graphed`` or
    ``@dc.cuda.graphed(cache_size=4)``.

    ```python
    @dc.cuda.graphed
    def train_step(x, y):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    for x, y in batches:              # Tensors already on the GPU
        loss = train_step(x, y)       # one training step; no host sync
    ```

    Per signature (shapes, dtypes, devices and ``requires_grad`` of the tensor arguments, values of the other
    arguments): the first call is a warm-up that runs ``fn`` eagerly on a side stream (lazily created state
    such as optimizer buffers, cuBLAS handles and compiled kernels then exists); the second call captures
    one call of ``fn`` on a non-default stream, into a private memory pool, with the tensor arguments copied
    into static buffers, and replays it at once; every later call copies its tensor arguments into the
    static buffers (device-to-device) and replays the graph. **Each call equals exactly one eager call of
    fn**: N calls are N training steps, the warm-up and capturing calls included. A new signature (another
    batch shape, say) warms up and captures again; at most ``cache_size`` signatures are kept, the least
    recently used is dropped with its graph and memory.

    Semantics to know (as with ``torch.cuda.make_graphed_callables`` and CUDA graphs in general):

    - **Outputs are static**: a replay returns the *same* Tensor objects every time (detached), whose
      buffers the next replay overwrites; ``clone()`` them to keep a value. The warm-up returns fn's own
      eager result.
    - **Python runs only at the warm-up and the capture.** Side effects inside ``fn`` (appending to a list,
      printing, counting calls, ``print(loss)``) happen at those two calls only, and every Python value
      that ``fn`` reads is frozen into the graph at the capture: a float learning rate, a host step counter,
      ``module.training``, Python flags. Pass such values as arguments (they become part of the cache key,
      so a new value captures a new graph) or call :meth:`GraphedCallable.cache_clear`. Values that live on
      the device (tensors updated in place: parameters, optimizer state, device-scalar learning rates and
      step counts, BatchNorm running statistics) stay live: replays read and update them.
    - **State is used in place**: the graph reads and writes the buffers that existed at the capture.
      Updates must be in place (optimizer steps, ``load_state_dict``, ``p.data[...] = v`` are); rebinding
      ``p.data`` to a new array leaves the graph working on the old one.
    - ``fn`` should zero the gradients itself (``opt.zero_grad()`` first), as in an ordinary step. After a
      replay ``p.grad`` holds the captured gradient buffers.
    - Tensor arguments are inputs (batches, targets): they are copied into the graph's buffers, so gradients
      that flow to an argument reach its static copy, not the caller's tensor. Reach parameters and other
      state through a closure or a module argument (used in place), not as tensor arguments.
    - Random numbers (dropout) come from the device generator, which advances on every replay: replays draw
      the same sequence as eager calls would.
    - **No host synchronisation**: ``.item()``, ``float(t)``, ``.numpy()``, printing a tensor, a Python
      ``if`` on a tensor value, or a host<->device copy inside ``fn`` raise :class:`CaptureError` at the
      capturing call (that call then performs no step).
    - Device-side index checks (``deepcore.backend.index_checks``) inside ``fn`` run inside the graph: a
      replay's bad index is reported at the next host read when the check writes a flag that persists
      across reads (the flag a check held at the capture is the one every replay writes).
    - Not thread-safe; called inside another capture, ``fn`` runs directly and is recorded into that graph.

    **Without CUDA** (no CuPy or no GPU), or when the tensor arguments are on the CPU, every call runs ``fn``
    unchanged: code using ``graphed`` is portable. With no tensor arguments at all, the device is the one
    ``device=`` names, else the one of the CUDA tensors ``fn`` returned at its warm-up (none: calls run
    eagerly).
    """
    if fn is None:
        return lambda f: GraphedCallable(f, cache_size=cache_size, device=device)
    return GraphedCallable(fn, cache_size=cache_size, device=device)
