"""Optimizer base class: parameter groups, lazily created per-parameter state, index-keyed state dicts.

Subclasses give ``defaults``, a ``_check`` of their hyper-parameters and an ``_update(p, g, state, group)``
that changes ``p`` (the parameter's raw numpy/cupy array) in place from ``g`` (its gradient array).
Step counters in ``state["step"]`` are Python ints (host-side, like torch's default non-capturable mode);
every other state entry is an array of the parameter's shape, dtype and device.
"""
from __future__ import annotations

import numbers

import numpy as np

from ..autograd import enable_grad
from ..backend import array_module, device_of, to_device
from ..tensor import Tensor


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
    def _check(self, hyper: dict) -> None:
        """Raise ValueError for an invalid hyper-parameter; ``hyper`` may hold only some of them."""

    def _init_state(self, p, group: dict) -> dict:
        """The fresh state of parameter array ``p`` (created at its first step)."""
        return {}

    def _update(self, p, g, state: dict, group: dict) -> None:
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
        """Forget the gradients: set them to None (default) or fill them with zeros."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    p.grad.data.fill(0)

    def step(self, closure=None):
        """One update of every parameter that has a gradient; ``closure`` re-evaluates the loss and returns it."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        work = []
        for group in self.param_groups:  # validate everything before changing anything
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad.data if isinstance(p.grad, Tensor) else p.grad
                if tuple(g.shape) != tuple(p.data.shape):
                    raise RuntimeError(f"{type(self).__name__}.step: gradient of shape {tuple(g.shape)} does not "
                                       f"match its parameter of shape {tuple(p.data.shape)}")
                if device_of(g) != device_of(p.data):
                    raise RuntimeError(f"{type(self).__name__}.step: gradient on {device_of(g)} but parameter on "
                                       f"{device_of(p.data)}")
                work.append((p, g, group))
        for p, g, group in work:
            if g.dtype != p.data.dtype:
                g = g.astype(p.data.dtype)
            state = self.state.get(p)
            if state is None:
                state = self.state[p] = self._init_state(p.data, group)
            self._update(p.data, g, state, group)
        return loss

    # --- state dicts ----------------------------------------------------------------------------
    def _indexed_params(self):
        return [p for group in self.param_groups for p in group["params"]]

    def state_dict(self) -> dict:
        """``{"state": {index: {name: array or int}}, "param_groups": [hyper-parameters, "params": [indices]]}``.

        Parameters are numbered in group order, so the dict is serialisable; arrays are copies.
        """
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

        State arrays are copied to each parameter's device and (for floating arrays) dtype.
        """
        if not isinstance(state_dict, dict) or "state" not in state_dict or "param_groups" not in state_dict:
            raise ValueError("optimizer state dict must be a dict with 'state' and 'param_groups' entries")
        saved_groups = list(state_dict["param_groups"])
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"loaded state dict has {len(saved_groups)} parameter group(s), "
                             f"the optimizer has {len(self.param_groups)}")
        index, new_groups = {}, []
        for gi, (saved, group) in enumerate(zip(saved_groups, self.param_groups)):
            ids = [int(_plain(i)) for i in _plain(saved["params"]) or ()] if "params" in saved else None
            if ids is None or len(ids) != len(group["params"]):
                n = "no" if ids is None else len(ids)
                raise ValueError(f"loaded state dict contains a parameter group that doesn't match the size of "
                                 f"optimizer's group: group {gi} has {n} parameters in the state dict, "
                                 f"{len(group['params'])} in the optimizer")
            index.update(zip(ids, group["params"]))
            new = {k: _plain(v, group.get(k)) for k, v in saved.items() if k != "params"}
            self._check(new)
            new["params"] = group["params"]
            new_groups.append(new)
        new_state = {}
        for key, entries in dict(state_dict["state"]).items():
            try:
                idx = int(_plain(key))
            except (TypeError, ValueError):
                raise ValueError(f"optimizer state key {key!r} is not a parameter index") from None
            if idx not in index:
                raise ValueError(f"optimizer state refers to parameter {idx}, but the optimizer has "
                                 f"{len(index)} parameters")
            p = index[idx]
            s = {}
            for name, value in dict(entries).items():
                if isinstance(value, Tensor):
                    value = value.data
                if name == "step":
                    s[name] = int(_plain(value))
                elif _is_array(value):
                    if tuple(value.shape) != p.shape:
                        raise ValueError(f"optimizer state '{name}' of parameter {idx} has shape "
                                         f"{tuple(value.shape)}, but the parameter has shape {p.shape}")
                    s[name] = value
                else:
                    s[name] = _plain(value)
            new_state[p] = s
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


#: Use the fused numba updates (``_fused_cpu``) on the CPU when available; tests switch this off for the
#: generic reference.
use_fast_path = True


def _fused_kernels():
    """The numba kernels module, or None when switched off or numba is unavailable."""
    if not use_fast_path:
        return None
    try:
        from . import _fused_cpu as fused
    except ImportError:  # pragma: no cover - numba is a dependency
        return None
    return fused


def _l2_grad(p, g, weight_decay):
    """``g + weight_decay * p`` in a new array (the caller's gradient is never modified)."""
    xp = array_module(p)
    out = xp.multiply(p, weight_decay, out=xp.empty_like(p))
    out += g
    return out
