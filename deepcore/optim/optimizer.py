"""Optimizer base class: parameter groups, per-parameter state in flat buffers, index-keyed state dicts.

Subclasses give ``defaults``, a ``_check`` of their hyper-parameters, ``_state_keys(group)`` (the state
buffers and their initial values), the name ``_op`` of their fused update (a ``backend.fastpath`` op,
overridden per device by numba loops and a CUDA kernel) and the generic per-parameter ``_update(p, g,
state, group, t)`` that changes ``p`` (the parameter's raw numpy/cupy array) in place from ``g`` (its
gradient array), ``state`` (views of the state buffers) and ``t`` (this step's number).

Layout (``_flat.py``): at the first step each param group's parameters of one device and dtype move into
one flat buffer (``p.data`` become views of it) and each state buffer is one more flat buffer
(``state[p]`` holds views). On a GPU the gradients get one too (``p.grad`` become views; backward writes
there in place), so a step is one kernel launch per group and dtype, with no host sync and no
host<->device copy. On the CPU the gradients stay the arrays backward made (copying them into a flat
buffer measured slower than the fused numba loop over each parameter's slice saves). The flat buffers are
rebuilt, current values and state copied in, when the group's parameters change: one added or removed, or a
``p.data`` replaced by an array of another shape, dtype or device (``module.to(...)``); one of the same
layout is copied into its view. Detected by checking that each ``p.data`` is still its view. Step counts
and the learning rate are device arrays read by the kernel, so a CUDA-graph replay of a step equals an
eager step; ``state[p]["step"]`` is the host's mirror (a Python int), refreshed from the device by
``state_dict()``.

Gradients on a GPU: ``zero_grad()`` (``set_to_none=True``, PyTorch's default) sets every ``.grad`` to None
and launches nothing; the next backward copies each gradient into its view of the flat gradient buffer
(one copy per parameter, the array backward made being separate) and ``.grad`` wraps that view again.
``zero_grad(set_to_none=False)`` zeroes the whole flat gradient buffer with one memset and keeps the
``.grad`` tensors; backward then adds into them in place. A gradient assigned by hand (``p.grad = t``) is
copied into the flat buffer at the next step, and ``p.grad`` then wraps the view. On the CPU both behave
as in PyTorch (``set_to_none=False`` zeroes each ``.grad`` in place).
"""
from __future__ import annotations

import numbers
import weakref

import numpy as np

from ..autograd import enable_grad
from ..backend import array_module, device_of, fastpath, to_device
from ..tensor import Tensor
from ._flat import Bucket, move_state, on


class _Required:
    """Sentinel for a hyper-parameter without a default (SGD's ``lr``)."""

    def __repr__(self):
        return "<required parameter>"


required = _Required()


def _is_array(value) -> bool:
    return hasattr(value, "shape") and hasattr(value, "dtype") and not isinstance(value, Tensor)


def _plain(value, like=None):
    """A loaded hyper-parameter as a plain Python value (0-d arrays -> scalars, arrays/lists -> tuples)."""
    if isinstance(value, Tensor):
        value = value.data
    if isinstance(value, np.generic) or (_is_array(value) and value.ndim == 0):
        value = value.item()
    elif _is_array(value):
        value = tuple(value.tolist())
    if isinstance(value, list) and isinstance(like, tuple):
        value = tuple(value)
    return value


class Optimizer:
    """Base of every optimizer: holds ``param_groups`` (dicts of hyper-parameters plus ``"params"``) and ``state``."""

    def __init__(self, params, defaults: dict):
        self.defaults = dict(defaults)
        self._check({k: v for k, v in self.defaults.items() if v is not required})
        self.param_groups: list[dict] = []
        self.state: dict = {}
        self._flats: dict = {}  # id(param group) -> _GroupFlat, built at the first step
        _live.add(self)
        if isinstance(params, Tensor):
            raise TypeError("params given to the optimizer should be an iterable of Tensors or dicts, "
                            f"got a single {type(params).__name__}; wrap it in a list")
        if isinstance(params, dict):
            params = [params]
        if isinstance(params, (set, frozenset)):
            raise TypeError("params given to the optimizer must be an ordered iterable (list, tuple, generator), "
                            "not a set: its order changes from run to run")
        groups = list(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        if all(isinstance(g, dict) for g in groups):
            for g in groups:
                self.add_param_group(g)
        elif any(isinstance(g, dict) for g in groups):
            raise TypeError("params given to the optimizer mix Tensors and param-group dicts; use one or the other")
        else:
            self.add_param_group({"params": groups})

    # --- hooks for subclasses -------------------------------------------------------------------
    #: the fastpath op of the fused update (``fastpath.override(_op, "cpu" | "cuda")`` registers one)
    _op = None
    #: whether ``state[p]`` shows the step count (torch's SGD keeps none)
    _has_step = True

    def _check(self, hyper: dict) -> None:
        """Raise ValueError for an invalid hyper-parameter; ``hyper`` may hold only some of them."""

    def _state_keys(self, group: dict) -> tuple:
        """``((name, initial value), ...)``: the state buffers the group's settings need."""
        return ()

    def _update(self, p, g, state: dict, group: dict, t, lr) -> None:
        """The generic update of one parameter array ``p`` in place: ``g`` its gradient, ``state`` views of
        its state buffers, ``t`` the number of this step for it (1 at its first) and ``lr`` the group's
        learning rate. On the CPU ``t`` and ``lr`` are Python numbers; on a GPU they are 0-d device arrays
        (read by the kernels, never by the host), so a captured step replays with each step's own values.
        Write the update with array operations that accept both."""
        raise NotImplementedError

    # --- groups ---------------------------------------------------------------------------------
    def add_param_group(self, param_group: dict) -> None:
        """Add a group of parameters with its own hyper-parameters (missing ones come from ``defaults``)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param group must be a dict, got {type(param_group).__name__}")
        if "params" not in param_group:
            raise ValueError("param group must have a 'params' entry")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, (set, frozenset)):
            raise TypeError("optimizer parameters must be an ordered collection (list, tuple), not a set")
        else:
            params = list(params)
        seen = set()
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(f"optimizer can only optimize Tensors, got {type(p).__name__} at position {i}")
            if not p.is_leaf:
                raise ValueError(f"can't optimize a non-leaf Tensor (position {i}, shape {p.shape})")
            if id(p) in seen:
                raise ValueError(f"parameter at position {i} (shape {p.shape}) appears twice in the same group")
            seen.add(id(p))
        for group in self.param_groups:
            if any(id(p) in seen for p in group["params"]):
                raise ValueError("some parameters appear in more than one parameter group")
        group = dict(param_group)
        group["params"] = params
        for key, default in self.defaults.items():
            if key not in group:
                if default is required:
                    raise ValueError(f"parameter group didn't specify a value of required optimization "
                                     f"parameter {key}")
                group[key] = default
        self._check({k: v for k, v in group.items() if k != "params"})
        self.param_groups.append(group)

    # --- stepping -------------------------------------------------------------------------------
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients: set them to None (default) or fill them with zeros.

        ``set_to_none=True`` launches nothing (on a GPU backward later copies the new gradients into the
        flat buffer); ``set_to_none=False`` keeps the ``.grad`` tensors and zeroes them in place: with one
        memset of each flat gradient buffer on a GPU. None stays None, as in PyTorch."""
        for group in self.param_groups:
            if set_to_none:
                for p in group["params"]:
                    p.grad = None
                continue
            flat = self._current_flat(group)
            if flat is None:
                for p in group["params"]:
                    if p.grad is not None:
                        p.grad.data.fill(0)
                continue
            for b in flat.buckets:
                memset = False
                for p, view in zip(b.params, b.grad_views):
                    if p.grad is None:
                        continue
                    if p.grad.data is view:
                        memset = True
                    else:
                        p.grad.data.fill(0)
                if memset:
                    with on(b.device):
                        b.grad.fill(0)

    def step(self, closure=None):
        """One update of every parameter that has a gradient; ``closure`` re-evaluates the loss and returns it."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        who = type(self).__name__
        work = []
        for group in self.param_groups:  # lay out and check everything before changing any value
            for b in self._prepare(group).buckets:
                active, grads = b.gather(who)
                work.append((group, b, active, grads))
        for group, b, active, grads in work:
            if b.flat_grads:
                b.adopt(grads)
            if any(active):
                b.set_active(active)
                self._step_bucket(group, b, active, grads)
        return loss

    def _step_bucket(self, group, b, active, grads) -> None:
        """Update bucket ``b``: its flat gradient buffer (GPU) or ``grads`` (CPU: per parameter, None where
        it has no gradient)."""
        keys = self._state_keys(group)
        if keys != b.keys:
            with on(b.device):
                self._add_buffers(b, keys)
        b.set_lr(group["lr"])
        count = self._count(group)
        fused = fastpath.select(self._op, b.param)
        if fused is not None:
            fused(self, b, group, grads)             # advances b.steps on the device
        else:
            for k, p in enumerate(b.params):
                if active[k]:
                    state = {name: b.views[name][k] for name, _ in keys}
                    g = b.grad_views[k] if b.flat_grads else grads[k]
                    if b.device.type == "cpu":
                        t, lr = b.steps_host[k] + 1, float(group["lr"])
                    else:
                        with on(b.device):
                            t, lr = b.steps[k] + 1, b.lr[0]
                    self._update(b.data_views[k], g, state, group, t, lr)
            if count:
                with on(b.device):
                    b.xp.add(b.steps, b.active if count == 1 else b.active * count, out=b.steps)
        has_step, state = self._has_step, self.state
        for k, p in enumerate(b.params):
            if active[k]:
                b.steps_host[k] += count
                s = state.get(p)
                if s is None:
                    s = state[p] = {"step": b.steps_host[k]} if has_step else {}
                    for name, _ in keys:
                        s[name] = b.views[name][k]
                elif has_step:
                    s["step"] = b.steps_host[k]

    # --- flat buffers ---------------------------------------------------------------------------
    def _current_flat(self, group):
        """The group's flat buffers if they still hold exactly its parameters, else None."""
        flat = self._flats.get(id(group))
        if flat is None or flat.group is not group or not _same(flat.params, group["params"]):
            return None
        return flat

    def _prepare(self, group):
        """The group's flat buffers, (re)built when its parameters changed, state loaded into them."""
        flat = self._current_flat(group)
        if flat is None or not all(b.holds() or b.readopt() for b in flat.buckets):
            old = self._flats.get(id(group))
            if old is not None and old.group is group and not old.state_dirty:
                self._refresh_steps(old)  # graph replays may have advanced the device counts
            flat = self._build(group)
        elif flat.state_dirty:
            for b in flat.buckets:
                with on(b.device):
                    self._load_into(b, group, fresh=False)
            flat.state_dirty = False
        return flat

    def _build(self, group):
        """New flat buffers for ``group``: parameters, gradients and state (from ``self.state``) copied in."""
        by_key: dict = {}
        for p in group["params"]:
            by_key.setdefault((device_of(p.data), p.data.dtype), []).append(p)
        buckets = [Bucket(params, dev, dtype) for (dev, dtype), params in by_key.items()]
        flat = _GroupFlat(group, buckets)
        self._flats[id(group)] = flat
        for b in buckets:
            with on(b.device):
                self._load_into(b, group, fresh=True)
            b.register_grad_slots()
        return flat

    def _add_buffers(self, b, keys) -> None:
        """Allocate the state buffers ``keys`` asks for that ``b`` lacks; stepped parameters get their views."""
        for name, init in keys:
            if name in b.buffers:
                continue
            views = b.add_buffer(name, init)
            for p, view in zip(b.params, views):
                s = self.state.get(p)
                if s is not None:
                    if name in s:
                        view[...] = move_state(s[name], b)
                    s[name] = view
        b.keys = keys

    def _load_into(self, b, group, fresh: bool) -> None:
        """Copy ``self.state`` (carried-over views or loaded arrays) into ``b``'s buffers and step counts.

        ``fresh``: the buffers were just allocated (already at their initial values)."""
        keys = self._state_keys(group)
        if fresh:
            self._add_buffers(b, keys)
        inits = dict(keys)
        for k, p in enumerate(b.params):
            s = self.state.get(p)
            for name, views in b.views.items():
                view = views[k]
                value = s.get(name) if s is not None else None
                if value is view:
                    continue
                if value is None:
                    if not fresh:
                        view.fill(inits.get(name, 0))
                    if s is not None and name in inits:
                        s[name] = view
                else:
                    view[...] = move_state(value, b)
                    s[name] = view
            b.steps_host[k] = self._host_step(s)
        b.keys = keys
        b.push_steps()

    def _host_step(self, state) -> int:
        """A parameter's step count from its (loaded or carried-over) state; 0 when it has none."""
        return 0 if state is None else int(state.get("step", 0))

    def _count(self, group) -> int:
        """How much a step advances the step counts (1; SGD counts only steps with momentum)."""
        return 1

    def _refresh_steps(self, flat) -> None:
        """Refresh the host mirrors of the step counts from the device (they differ only after CUDA-graph
        replays, which advance the device counts without running Python); one sync per GPU bucket."""
        for b in flat.buckets:
            if b.device.type == "cpu":
                continue
            steps = b.pull_steps()
            if steps == b.steps_host:
                continue
            b.steps_host = steps
            if self._has_step:
                for p, t in zip(b.params, steps):
                    s = self.state.get(p)
                    if s is not None:
                        s["step"] = t

    def _push_lr(self) -> None:
        """Write changed learning rates to the device scalars now (``dc.cuda.graphed`` calls this, through
        :func:`push_learning_rates`, before capturing and before each replay, which run no Python)."""
        for group in self.param_groups:
            flat = self._current_flat(group)
            if flat is not None:
                for b in flat.buckets:
                    b.set_lr(group["lr"])

    # --- state dicts ----------------------------------------------------------------------------
    def _indexed_params(self):
        return [p for group in self.param_groups for p in group["params"]]

    def state_dict(self) -> dict:
        """``{"state": {index: {name: array or int}}, "param_groups": [hyper-parameters, "params": [indices]]}``.

        Parameters are numbered in group order, so the dict is serialisable; arrays are copies (of the
        parameter's slice of the flat state buffers), step counts Python ints read from the device.
        """
        for flat in self._flats.values():
            if not flat.state_dirty:
                self._refresh_steps(flat)
        groups, start = [], 0
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            packed["params"] = list(range(start, start + len(group["params"])))
            start += len(group["params"])
            groups.append(packed)
        state = {}
        for i, p in enumerate(self._indexed_params()):
            s = self.state.get(p)
            if s is not None:
                state[i] = {k: (v.copy() if _is_array(v) else v) for k, v in s.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore hyper-parameters and state saved by ``state_dict``; checks everything before changing anything.

        State arrays are copied to each parameter's device and (for floating arrays) dtype; they go into
        the flat state buffers at the next step.
        """
        from ._state_checks import checked_state
        new_groups, new_state = checked_state(self, state_dict)  # raises before anything changes
        # everything checked: now change state
        for s_p, s in new_state.items():
            for name, value in s.items():
                if _is_array(value):
                    moved = to_device(value, device_of(s_p.data))
                    dtype = s_p.data.dtype if moved.dtype.kind == "f" else moved.dtype
                    s[name] = moved.astype(dtype, copy=True)
        for group, new in zip(self.param_groups, new_groups):
            group.clear()
            group.update(new)
        self.state = new_state
        for flat in self._flats.values():
            flat.state_dirty = True  # the loaded arrays go into the flat buffers at the next step

    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for key in sorted(k for k in group if k != "params"):
                lines.append(f"    {key}: {group[key]}")
        lines.append(")")
        return "\n".join(lines)


def _check_number(name: str, value, low=0.0, high=None, low_open=False, high_open=True, label=None) -> None:
    """ValueError ``Invalid <label>: <value>`` unless ``value`` is a real number within the bounds."""
    label = label or name
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and value == value
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value < high if high_open else value <= high
    if not ok:
        raise ValueError(f"Invalid {label}: {value}")


def _l2_grad(p, g, weight_decay):
    """``g + weight_decay * p`` in a new array (the caller's gradient is never modified)."""
    xp = array_module(p)
    out = xp.multiply(p, weight_decay, out=xp.empty_like(p))
    out += g
    return out


class _GroupFlat:
    """The flat buffers of one param group: one Bucket per (device, dtype) of its parameters."""

    __slots__ = ("buckets", "group", "params", "state_dirty")

    def __init__(self, group, buckets):
        self.group = group
        self.params = list(group["params"])
        self.buckets = buckets
        self.state_dirty = False


def _same(a, b) -> bool:
    """The same parameters in the same order (identity: Tensor's == is elementwise)."""
    return len(a) == len(b) and all(x is y for x, y in zip(a, b))


_live = weakref.WeakSet()  # every optimizer, for push_learning_rates


def push_learning_rates() -> None:
    """Write every optimizer's changed learning rates to their device scalars (a fill where one changed).

    A captured CUDA graph replays the update kernels without running ``step()``, so whatever replays it
    (``dc.cuda.graphed``) calls this before capturing and before each replay; lr schedulers then keep working.
    """
    for opt in list(_live):
        opt._push_lr()
