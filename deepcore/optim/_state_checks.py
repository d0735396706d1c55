"""Validation of an optimizer state dict before ``Optimizer.load_state_dict`` changes anything.

``checked_state(opt, state_dict)`` reads the whole dict, checks it against the optimizer and returns the
new parameter groups and per-parameter state, ready to assign; any problem raises a ValueError (TypeError
for a value of the wrong kind) naming the group, parameter and entry, and the optimizer is untouched.

Accepted: what ``state_dict()`` returns, the same after a round trip through a file (string keys, 0-d
arrays, lists for tuples), and PyTorch's layout (extra group keys such as ``foreach``/``maximize``, a
float ``step`` tensor, ``momentum_buffer: None``). Refused: a group without one of the optimizer's
hyper-parameters (``lr``...), invalid hyper-parameter values, another optimizer's state (SGD's
``momentum_buffer`` given to Adam: ``exp_avg`` missing), state entries that are not numeric arrays of the
parameter's shape, a ``step`` that is not a whole number >= 0, and groups or parameters that do not match.
"""
from __future__ import annotations

import numbers

import numpy as np

from ..tensor import Tensor
from .optimizer import _is_array, _plain


def _step(value, where):
    """A step count as an int: whole and >= 0 (PyTorch saves it as a float tensor such as ``tensor(3.)``)."""
    if isinstance(value, Tensor):
        value = value.data
    if _is_array(value):
        if value.size != 1 or value.dtype.kind not in "iuf":
            raise ValueError(f"{where} must be a number, got an array of shape {tuple(value.shape)} and dtype "
                             f"{value.dtype}")
        value = value.reshape(()).item()
    elif isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{where} must be a whole number, got {type(value).__name__} {value!r:.60}")
    if value != value or value in (float("inf"), float("-inf")) or value != int(value) or value < 0:
        raise ValueError(f"{where} must be a whole number >= 0, got {value!r}")
    return int(value)


def _index(value, where) -> int:
    value = _plain(value)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        if isinstance(value, (float, str)):
            try:
                as_int = int(value)
            except ValueError:
                raise ValueError(f"{where} {value!r} is not a parameter index") from None
            if as_int == (float(value) if isinstance(value, float) else as_int):
                return as_int
        raise ValueError(f"{where} {value!r} is not a parameter index")
    return int(value)


def checked_state(opt, state_dict):
    """``(new_groups, new_state)`` from ``state_dict`` after checking all of it against ``opt``."""
    if not isinstance(state_dict, dict) or "state" not in state_dict or "param_groups" not in state_dict:
        raise ValueError("optimizer state dict must be a dict with 'state' and 'param_groups' entries, got "
                         + (f"keys {sorted(map(str, state_dict))}" if isinstance(state_dict, dict)
                            else type(state_dict).__name__))
    saved_groups = state_dict["param_groups"]
    if isinstance(saved_groups, dict) or not isinstance(saved_groups, (list, tuple)):
        raise ValueError(f"optimizer state dict: 'param_groups' must be a list of dicts, got "
                         f"{type(saved_groups).__name__}")
    saved_groups = list(saved_groups)
    if len(saved_groups) != len(opt.param_groups):
        raise ValueError(f"loaded state dict has {len(saved_groups)} parameter group(s), "
                         f"the optimizer has {len(opt.param_groups)}")
    required = [k for k in opt.defaults if k != "params"]
    index, new_groups = {}, []
    for gi, (saved, group) in enumerate(zip(saved_groups, opt.param_groups)):
        if not isinstance(saved, dict):
            raise ValueError(f"optimizer state dict: param_groups[{gi}] must be a dict, got {type(saved).__name__}")
        raw_ids = _plain(saved["params"]) if "params" in saved else None
        if isinstance(raw_ids, numbers.Number):
            raw_ids = (raw_ids,)
        ids = [_index(i, f"param_groups[{gi}]['params'] entry") for i in raw_ids or ()] \
            if raw_ids is not None else None
        if ids is None or len(ids) != len(group["params"]):
            n = "no" if ids is None else len(ids)
            raise ValueError(f"loaded state dict contains a parameter group that doesn't match the size of "
                             f"optimizer's group: group {gi} has {n} parameters in the state dict, "
                             f"{len(group['params'])} in the optimizer")
        for i, p in zip(ids, group["params"]):
            if i in index:
                raise ValueError(f"optimizer state dict: parameter index {i} appears twice in 'param_groups'")
            index[i] = p
        missing = [k for k in required if k not in saved]
        if missing:
            raise ValueError(f"optimizer state dict: param_groups[{gi}] has no {', '.join(map(repr, missing))} "
                             f"({type(opt).__name__} needs {', '.join(map(repr, required))})")
        new = {k: _plain(v, group.get(k)) for k, v in saved.items() if k != "params"}
        opt._check(new)
        new["params"] = group["params"]
        new_groups.append(new)
    group_of = {id(p): g for g in new_groups for p in g["params"]}
    entries_in = state_dict["state"]
    if not isinstance(entries_in, dict):
        raise ValueError(f"optimizer state dict: 'state' must be a dict of parameter index -> state, got "
                         f"{type(entries_in).__name__}")
    new_state = {}
    for key, entries in entries_in.items():
        idx = _index(key, "optimizer state key")
        if idx not in index:
            raise ValueError(f"optimizer state refers to parameter {idx}, but the optimizer has "
                             f"{len(index)} parameters")
        if not isinstance(entries, dict):
            raise ValueError(f"optimizer state of parameter {idx} must be a dict, got {type(entries).__name__}")
        p = index[idx]
        s = _checked_entry(opt, group_of[id(p)], p, idx, entries)
        if s:
            new_state[p] = s
    return new_groups, new_state


def _checked_entry(opt, group, p, idx, entries) -> dict:
    """One parameter's state: the buffers its group needs (numeric arrays of its shape) and its step."""
    names = [name for name, _ in opt._state_keys(group)]
    s = {}
    for name, value in entries.items():
        name = str(name)
        if value is None:  # PyTorch's SGD keeps momentum_buffer=None until the first momentum step
            continue
        where = f"optimizer state '{name}' of parameter {idx}"
        if name == "step":
            s[name] = _step(value, where)
            continue
        if name not in names:
            raise ValueError(f"{where} is not {type(opt).__name__} state with these settings (expected "
                             f"{', '.join(map(repr, names)) or 'none'}{', step' if opt._has_step else ''}); "
                             "was the state saved by another optimizer?")
        if isinstance(value, Tensor):
            value = value.data
        if not _is_array(value):
            raise TypeError(f"{where} must be an array of shape {p.shape}, got {type(value).__name__}")
        if value.dtype.kind not in "biuf":
            raise TypeError(f"{where} must hold real numbers, got dtype {value.dtype}")
        if tuple(value.shape) != p.shape:
            raise ValueError(f"{where} has shape {tuple(value.shape)}, but the parameter has shape {p.shape}")
        s[name] = value
    if not s:
        return s
    missing = [n for n in names if n not in s]
    if opt._has_step and "step" not in s:
        missing.append("step")
    if missing:
        raise ValueError(f"optimizer state of parameter {idx} has no {', '.join(map(repr, missing))} (it has "
                         f"{', '.join(map(repr, s))}); {type(opt).__name__} needs "
                         f"{', '.join(map(repr, names + (['step'] if opt._has_step else [])))}: was it saved by "
                         "another optimizer?")
    return s
