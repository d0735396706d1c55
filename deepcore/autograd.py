"""Reverse-mode autograd: the Function base class, the iterative graph walk, grad mode and gradcheck.

A Function's ``forward`` and ``backward`` work on raw arrays (numpy or cupy). ``apply`` wraps the
outputs in Tensors and, when a gradient is needed, records one edge per input: the producing Function
and output slot for an intermediate tensor, or the tensor itself for a leaf. Intermediate tensors are
not referenced by the graph, so their arrays are freed unless a backward saved them.
"""
from __future__ import annotations

import contextlib
import threading
import weakref

import numpy as np

_state = threading.local()


def is_grad_enabled() -> bool:
    return getattr(_state, "enabled", True)


def set_grad_enabled(mode: bool) -> None:
    _state.enabled = bool(mode)


class _GradMode(contextlib.ContextDecorator):
    _mode = True

    def __enter__(self):
        self._prev = is_grad_enabled()
        set_grad_enabled(self._mode)
        return self

    def __exit__(self, *exc):
        set_grad_enabled(self._prev)
        return False


class no_grad(_GradMode):
    """Context manager and decorator: ops inside record no graph."""
    _mode = False


class enable_grad(_GradMode):
    """Context manager and decorator: turn graph recording back on (e.g. inside ``no_grad``)."""
    _mode = True


class Function:
    """Base class of every differentiable op; subclass it and define ``forward`` and ``backward``.

    ``forward(*arrays)`` returns an array or a tuple of arrays; ``backward(*grad_outputs)`` returns one
    gradient (or None) per positional input of forward. Hyper-parameters go to ``apply`` as keywords
    and arrive as keyword arguments of the constructor.
    """

    _edges = ()
    _saved = ()
    _freed = False
    _grad_dest = None
    needs_input_grad = ()

    def __init__(self, **hyper):
        for key, value in hyper.items():
            setattr(self, key, value)

    @classmethod
    def apply(cls, *inputs, **hyper):
        """Run ``forward`` on the inputs' arrays and return Tensor(s) linked to this op for backward."""
        return cls(**hyper)._run(inputs)

    def save_for_backward(self, *arrays):
        self._saved = arrays

    @property
    def saved_tensors(self):
        if self._freed:
            raise RuntimeError(_FREED_MSG)
        return self._saved

    def grad_buffer(self, i: int):
        """During ``backward``: an array (of input ``i``'s shape and dtype) the gradient of input ``i`` may be
        written into, e.g. ``xp.matmul(a, b, out=self.grad_buffer(1))``, or None. Returning that same array
        from ``backward`` saves a copy: it is the optimizer's flat gradient slot of a parameter (see
        :func:`set_grad_slot`) that this op is the only user of."""
        return None if self._grad_dest is None else self._grad_dest.get(i)

    def forward(self, *arrays):
        raise NotImplementedError(f"{type(self).__name__} must define forward")

    def backward(self, *grad_outputs):
        raise NotImplementedError(f"{type(self).__name__} must define backward to be differentiated")

    def _run(self, inputs):
        from .tensor import Tensor
        dev = None
        raw = []
        needs = []
        for x in inputs:
            if isinstance(x, Tensor):
                if dev is None:
                    dev = x.device
                elif x.device != dev:
                    raise RuntimeError(f"{type(self).__name__}: expected all tensors on one device, "
                                       f"got {dev} and {x.device}")
                raw.append(x.data)
                needs.append(x.requires_grad)
            else:
                raw.append(x)
                needs.append(False)
        record = any(needs) and is_grad_enabled()
        self._xp = dev.xp if dev is not None else np
        self.needs_input_grad = tuple(needs)
        outputs = self.forward(*raw)
        single = not isinstance(outputs, tuple)
        if single:
            outputs = (outputs,)
        if record:
            self._edges = tuple(_edge(x) if need else None for x, need in zip(inputs, needs))
            self._out_meta = tuple((o.shape, o.dtype) for o in outputs)
            results = tuple(Tensor._make(o, self, i) for i, o in enumerate(outputs))
        else:
            self._saved = ()
            results = tuple(Tensor._make(o) for o in outputs)
        return results[0] if single else results

    def _release(self):
        self._saved = ()
        self._freed = True
        for key in [k for k in self.__dict__ if not k.startswith("_") and k != "needs_input_grad"]:
            value = self.__dict__[key]
            if hasattr(value, "shape") and hasattr(value, "dtype") and getattr(value, "ndim", 0) > 0:
                del self.__dict__[key]  # arrays kept as attributes are freed with the graph as well

    def __repr__(self):
        return f"<{type(self).__name__}>"


_FREED_MSG = ("Trying to backward through the graph a second time (or to read saved arrays after they were "
              "freed). Pass retain_graph=True to the first backward() if you need to backward twice.")


def _edge(tensor):
    """Where the gradient of ``tensor`` goes: (producing Function, output index) or (leaf tensor, None)."""
    fn = tensor._grad_fn
    return (fn, tensor._out_idx) if fn is not None else (tensor, None)


def _topological_order(root_fns):
    """Functions reachable from ``root_fns``, each after every Function that consumes its outputs."""
    order, visited = [], set()
    for root in root_fns:
        if root in visited:
            continue
        visited.add(root)
        stack = [(root, iter(root._edges))]
        while stack:
            fn, edges = stack[-1]
            for edge in edges:
                if edge is not None and isinstance(edge[0], Function) and edge[0] not in visited:
                    visited.add(edge[0])
                    stack.append((edge[0], iter(edge[0]._edges)))
                    break
            else:
                stack.pop()
                order.append(fn)
    order.reverse()
    return order


def _accumulate(current, g, owned):
    """current + g. The first sum is a new array, recorded in ``owned`` (id -> array); later sums into it
    add in place. Arrays the engine did not create (a backward's return value, the caller's grad_tensors)
    are never written to, since other slots or the caller may hold them too."""
    if current is None:
        return g
    if id(current) in owned and current.dtype == g.dtype:
        current += g
        return current
    total = current + g
    owned[id(total)] = total
    return total


def run_backward(tensors, grad_tensors, retain_graph=False, capture=None):
    """Push gradients from ``tensors`` back through the graph.

    Without ``capture`` the gradients of leaves are accumulated into their ``.grad``. With ``capture``
    (a list of tensors, used by :func:`grad`) their gradients are returned instead and no ``.grad``
    is touched.
    """
    from .tensor import Tensor
    buffers: dict = {}
    leaf_grads: dict = {}
    owned: dict = {}                # sums made by _accumulate: safe to add into in place
    roots = []
    for t, g in zip(tensors, grad_tensors):
        if not t.requires_grad:
            raise RuntimeError("element of tensors does not require grad and has no grad_fn")
        if g is None:
            if t.numel() != 1:
                raise RuntimeError(f"grad can be implicitly created only for scalar outputs; got shape {t.shape}")
            g = _unit(t)
        else:
            g = g.data if isinstance(g, Tensor) else t.device.xp.asarray(g, dtype=t.dtype)
            if tuple(g.shape) != t.shape:
                raise RuntimeError(f"backward: grad of shape {tuple(g.shape)} given for a tensor of shape {t.shape}")
        if t._grad_fn is None:
            leaf_grads[id(t)] = (t, _accumulate(leaf_grads.get(id(t), (None, None))[1], g, owned))
            continue
        fn = t._grad_fn
        if fn._freed:
            raise RuntimeError(_FREED_MSG)
        slot = buffers.setdefault(fn, [None] * len(fn._out_meta))
        slot[t._out_idx] = _accumulate(slot[t._out_idx], g, owned)
        roots.append(fn)

    wanted = {}
    if capture is not None:
        for t in capture:
            if t._grad_fn is not None:
                wanted[(t._grad_fn, t._out_idx)] = None

    order = _topological_order(roots)
    leaf_uses = _leaf_uses(order) if capture is None and _grad_slots else None
    for fn in order:
        grads = buffers.pop(fn, None)
        if grads is None:
            continue
        for g in grads:                  # handed to backward now: may be returned, stored or freed
            if g is not None:
                owned.pop(id(g), None)
        if fn._freed:
            raise RuntimeError(_FREED_MSG)
        for i, (shape, dtype) in enumerate(fn._out_meta):
            if (fn, i) in wanted:
                wanted[(fn, i)] = grads[i]
            if grads[i] is None:
                grads[i] = fn._xp.zeros(shape, dtype)
        fn._grad_dest = _destinations(fn, leaf_uses) if leaf_uses else None
        try:
            gxs = fn.backward(*grads)
        finally:
            fn._grad_dest = None
        if not isinstance(gxs, tuple):
            gxs = (gxs,) if not isinstance(gxs, list) else tuple(gxs)
        if len(gxs) != len(fn._edges):
            raise RuntimeError(f"{type(fn).__name__}.backward returned {len(gxs)} gradient(s) for "
                               f"{len(fn._edges)} input(s)")
        for edge, gx in zip(fn._edges, gxs):
            if edge is None or gx is None:
                continue
            node, idx = edge
            if isinstance(node, Function):
                expect = node._out_meta[idx][0]
                slot = buffers.setdefault(node, [None] * len(node._out_meta))
                slot[idx] = _accumulate(slot[idx], _check_grad(fn, gx, expect), owned)
            else:
                gx = _check_grad(fn, gx, node.shape)
                prev = leaf_grads.get(id(node))
                leaf_grads[id(node)] = (node, _accumulate(None if prev is None else prev[1], gx, owned))
        if not retain_graph:
            fn._release()

    if capture is not None:
        out = []
        for t in capture:
            g = wanted.get((t._grad_fn, t._out_idx)) if t._grad_fn is not None else leaf_grads.get(id(t), (0, None))[1]
            out.append(None if g is None else Tensor._make(g))
        return out
    for leaf, g in leaf_grads.values():
        if not leaf.requires_grad:
            continue
        slot = grad_slot(leaf) if _grad_slots else None
        if slot is not None and (leaf.grad is None or leaf.grad.data is slot):
            # the optimizer's flat gradient buffer holds this leaf's gradient: write into it in place
            if leaf.grad is None:
                if g is not slot:        # the backward that made it did not write it into the slot itself
                    slot[...] = g
                leaf.grad = Tensor._make(slot)
            else:
                slot += g
            continue
        if g.dtype != leaf.dtype:
            g = g.astype(leaf.dtype)
        leaf.grad = Tensor._make(g) if leaf.grad is None else Tensor._make(leaf.grad.data + g)
    return None


# --- gradient slots: leaves whose .grad lives in a buffer an optimizer owns ---------------------------------
# id(leaf) -> (weak reference to the leaf, the leaf's data array when registered, the gradient view).
# A slot counts only while the leaf still holds that data array (``p.data = ...`` retires it).
_grad_slots: dict = {}


def set_grad_slot(leaf, data, view) -> None:
    """Make ``backward`` write ``leaf``'s gradient into ``view`` (an array of its shape and dtype) in place:
    copied there when ``leaf.grad`` is None, added when ``leaf.grad`` already wraps ``view``. Used by the
    optimizers' flat buffers (deepcore/optim/_flat.py); ``data`` is the leaf's current data array."""
    key = id(leaf)
    _grad_slots[key] = (weakref.ref(leaf, lambda _, key=key, view=view: clear_grad_slot(key, view)), data, view)


def clear_grad_slot(key: int, view) -> None:
    """Forget the slot of the leaf with ``id`` ``key`` if it is still ``view``."""
    entry = _grad_slots.get(key)
    if entry is not None and entry[2] is view:
        del _grad_slots[key]


def grad_slot(leaf):
    """The gradient view registered for ``leaf`` (see :func:`set_grad_slot`), or None."""
    entry = _grad_slots.get(id(leaf))
    if entry is None or entry[0]() is not leaf or entry[1] is not leaf.data:
        return None
    return entry[2]


def _leaf_uses(order):
    """id(leaf) -> how many edges of the graph walk in ``order`` lead to it."""
    uses: dict = {}
    for fn in order:
        for edge in fn._edges:
            if edge is not None and edge[1] is None:
                uses[id(edge[0])] = uses.get(id(edge[0]), 0) + 1
    return uses


def _destinations(fn, leaf_uses):
    """{input index: flat gradient slot} for ``fn``'s inputs that are parameters whose whole gradient this op
    makes: the leaf has a slot, no ``.grad`` yet, and ``fn`` holds its only edge."""
    dest = None
    for i, edge in enumerate(fn._edges):
        if edge is None or edge[1] is not None or leaf_uses.get(id(edge[0])) != 1:
            continue
        leaf = edge[0]
        if leaf.grad is None and leaf.requires_grad:
            slot = grad_slot(leaf)
            if slot is not None:
                dest = dest or {}
                dest[i] = slot
    return dest


_units: dict = {}


def _unit(t):
    """The implicit root gradient of a scalar ``t``: a 1 of its shape, dtype and device, made once and kept
    (read-only on the CPU), so a training step does not launch a fill kernel for it."""
    key = (t.device, t.dtype, t.shape)
    one = _units.get(key)
    if one is None:
        xp = t.device.xp
        one = xp.ones(t.shape, dtype=t.dtype)
        if xp is np:
            one.flags.writeable = False
        elif xp.cuda.get_current_stream().is_capturing():
            return one  # made by the graph being captured: its memory holds a 1 only when the graph runs
        _units[key] = one
    return one


def _check_grad(fn, gx, shape):
    if tuple(gx.shape) != tuple(shape):
        raise RuntimeError(f"{type(fn).__name__}.backward returned a gradient of shape {tuple(gx.shape)} "
                           f"for an input of shape {tuple(shape)}")
    return gx


def backward(tensors, grad_tensors=None, retain_graph=False):
    """Accumulate into ``.grad`` of the leaves the gradients of ``tensors`` (like torch.autograd.backward)."""
    from .tensor import Tensor
    if isinstance(tensors, Tensor):
        tensors = [tensors]
    if grad_tensors is None or isinstance(grad_tensors, Tensor):
        grad_tensors = [grad_tensors] * len(tensors) if grad_tensors is None else [grad_tensors]
    run_backward(list(tensors), list(grad_tensors), retain_graph=retain_graph)


def grad(outputs, inputs, grad_outputs=None, retain_graph=False, allow_unused=False):
    """Gradients of ``outputs`` with respect to ``inputs``, returned as a tuple; ``.grad`` is not touched."""
    from .tensor import Tensor
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    single = isinstance(inputs, Tensor)
    inputs = [inputs] if single else list(inputs)
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    elif isinstance(grad_outputs, Tensor):
        grad_outputs = [grad_outputs]
    for i, t in enumerate(inputs):
        if not t.requires_grad:
            raise RuntimeError(f"grad: input {i} (shape {t.shape}) does not require grad")
    result = run_backward(outputs, list(grad_outputs), retain_graph=retain_graph, capture=inputs)
    for i, g in enumerate(result):
        if g is None:
            if not allow_unused:
                raise RuntimeError(f"grad: input {i} (shape {inputs[i].shape}) was not used to compute the "
                                   "outputs; pass allow_unused=True to get None for it")
    return tuple(result)


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3):
    """Compare autograd's gradients of ``fn`` with central finite differences, in float64.

    Every floating input is copied to float64 with requires_grad; the outputs are projected onto a
    fixed random direction so one backward checks the full vector-Jacobian product. Returns True or
    raises AssertionError naming the input and element with the worst error.
    """
    from .tensor import Tensor
    single = isinstance(inputs, Tensor)
    inputs = [inputs] if single else list(inputs)
    xs = []
    for x in inputs:
        if isinstance(x, Tensor) and x.dtype.kind == "f":
            xs.append(Tensor(x.data.astype(np.float64), requires_grad=True))
        else:
            xs.append(x)
    diff = [i for i, x in enumerate(xs) if isinstance(x, Tensor) and x.requires_grad]
    if not diff:
        raise ValueError("gradcheck: no floating-point tensor among the inputs")

    def outputs_of(args):
        out = fn(*args)
        return list(out) if isinstance(out, (tuple, list)) else [out]

    with enable_grad():
        outs = outputs_of(xs)
    rng = np.random.default_rng(0)
    weights = []
    for o in outs:
        xp = o.device.xp
        weights.append(xp.asarray(rng.standard_normal(o.shape)))

    def projected(outs_):
        total = 0.0
        for o, w in zip(outs_, weights):
            if o.dtype.kind == "f":
                total += float((o.data.astype(np.float64) * w).sum())
        return total

    pairs = [(o, Tensor(w.astype(o.dtype))) for o, w in zip(outs, weights) if o.requires_grad]
    if not pairs:
        raise AssertionError("gradcheck: no output requires grad")
    analytic = grad([p[0] for p in pairs], [xs[i] for i in diff], [p[1] for p in pairs], allow_unused=True)

    with no_grad():
        for k, i in enumerate(diff):
            x = xs[i]
            a = analytic[k]
            a = np.zeros(x.shape) if a is None else np.asarray(a.numpy(), dtype=np.float64)
            flat = x.data.reshape(-1)
            numeric = np.zeros(x.numel())
            for j in range(x.numel()):
                old = flat[j].item()
                flat[j] = old + eps
                plus = projected(outputs_of(xs))
                flat[j] = old - eps
                minus = projected(outputs_of(xs))
                flat[j] = old
                numeric[j] = (plus - minus) / (2 * eps)
            numeric = numeric.reshape(x.shape)
            err = np.abs(a - numeric)
            tol = atol + rtol * np.abs(numeric)
            bad = ~(err <= tol)  # NaN counts as a failure
            if np.any(bad):
                worst = np.unravel_index(np.argmax(np.where(bad, np.nan_to_num(err - tol, nan=np.inf), -np.inf)),
                                         x.shape)
                raise AssertionError(
                    f"gradcheck failed for input {i} (shape {x.shape}) at index {tuple(int(v) for v in worst)}: "
                    f"analytic {a[worst]:.6g}, numeric {numeric[worst]:.6g}, abs error {err[worst]:.3g} "
                    f"> tolerance {tol[worst]:.3g}")
    return True
