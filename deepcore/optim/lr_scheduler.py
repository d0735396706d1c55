"""Learning-rate schedulers that rewrite ``group["lr"]`` of an optimizer, with torch.optim.lr_scheduler's sequences.

Call ``scheduler.step()`` once per epoch after ``optimizer.step()``; ``ReduceLROnPlateau.step(metric)`` takes
the monitored value instead.
"""
from __future__ import annotations

import bisect
import math
import numbers
import types

from .optimizer import Optimizer, _plain

__all__ = ["LRScheduler", "StepLR", "MultiStepLR", "ExponentialLR", "CosineAnnealingLR", "LambdaLR",
           "OneCycleLR", "ReduceLROnPlateau"]


def _check_optimizer(optimizer):
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"{type(optimizer).__name__} is not a deepcore Optimizer")


class LRScheduler:
    """Base class: remembers each group's ``initial_lr`` and sets ``group["lr"] = get_lr()`` at every ``step()``.

    Constructing a scheduler performs the first step (``last_epoch`` becomes 0 and the lrs are the base lrs).
    """

    def __init__(self, optimizer, last_epoch: int = -1):
        _check_optimizer(optimizer)
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(f"param 'initial_lr' is not specified in param_groups[{i}] when resuming "
                                   f"a scheduler at last_epoch={last_epoch}")
        self.optimizer = optimizer
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self.step()

    def get_lr(self) -> list:
        """The lrs for epoch ``last_epoch``, computed from the current ones (chainable form)."""
        raise NotImplementedError

    def _closed_form_lr(self) -> list:
        """The lrs for epoch ``last_epoch`` from the base lrs alone (used by ``step(epoch)``)."""
        return self.get_lr()

    def step(self, epoch: int | None = None) -> None:
        """Advance one epoch (or jump to ``epoch``) and write the new lrs into the optimizer."""
        if epoch is None:
            self.last_epoch += 1
            lrs = self.get_lr()
        else:
            self.last_epoch = epoch
            lrs = self._closed_form_lr()
        for group, lr in zip(self.optimizer.param_groups, lrs):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]
        _push_lr(self.optimizer)

    def get_last_lr(self) -> list:
        """The lrs set by the latest ``step()``, one per parameter group."""
        return list(self._last_lr)

    def state_dict(self) -> dict:
        """Everything but the optimizer (which saves its own state)."""
        return {k: (list(v) if isinstance(v, list) else v) for k, v in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, state_dict: dict) -> None:
        unknown = set(state_dict) - set(self.__dict__)
        if unknown:
            raise ValueError(f"unexpected key(s) in {type(self).__name__} state dict: {sorted(unknown)}")
        for key, value in state_dict.items():  # values may come back from a file as 0-d arrays / arrays
            value = _plain(value)
            if isinstance(value, tuple) and isinstance(self.__dict__[key], list):
                value = list(value)
            self.__dict__[key] = value

    def __repr__(self):
        return f"{type(self).__name__}(last_epoch={self.last_epoch}, lr={self.get_last_lr()})"


def _positive_int(name, value):
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _real(name, value):
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    return value


class StepLR(LRScheduler):
    """Multiply the lr by ``gamma`` every ``step_size`` epochs: ``lr = base_lr * gamma ** (epoch // step_size)``."""

    def __init__(self, optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1):
        self.step_size = _positive_int("step_size", step_size)
        self.gamma = _real("gamma", gamma)
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        groups = self.optimizer.param_groups
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return [g["lr"] for g in groups]
        return [g["lr"] * self.gamma for g in groups]

    def _closed_form_lr(self):
        return [base * self.gamma ** (self.last_epoch // self.step_size) for base in self.base_lrs]


class ExponentialLR(LRScheduler):
    """Multiply the lr by ``gamma`` every epoch: ``lr = base_lr * gamma ** epoch``."""

    def __init__(self, optimizer, gamma: float, last_epoch: int = -1):
        self.gamma = _real("gamma", gamma)
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        groups = self.optimizer.param_groups
        if self.last_epoch == 0:
            return [g["lr"] for g in groups]
        return [g["lr"] * self.gamma for g in groups]

    def _closed_form_lr(self):
        return [base * self.gamma ** self.last_epoch for base in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    """Cosine annealing without restarts: ``lr = eta_min + (base_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2``.

    The closed form is used at every step (past ``T_max`` it rises again, periodically, as in torch).
    """

    def __init__(self, optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1):  # noqa: N803 - torch name
        self.T_max = _positive_int("T_max", T_max)
        self.eta_min = _real("eta_min", eta_min)
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        return self._closed_form_lr()

    def _closed_form_lr(self):
        cos = (1.0 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2.0
        return [self.eta_min + (base - self.eta_min) * cos for base in self.base_lrs]


class MultiStepLR(LRScheduler):
    """Multiply the lr by ``gamma`` at each epoch in ``milestones`` (a milestone listed twice applies twice):
    ``lr = base_lr * gamma ** (number of milestones <= epoch)``."""

    def __init__(self, optimizer, milestones, gamma: float = 0.1, last_epoch: int = -1):
        if isinstance(milestones, (str, bytes)) or not hasattr(milestones, "__iter__"):
            raise TypeError(f"milestones must be a list of non-negative integers, got {milestones!r}")
        items = list(milestones)
        for m in items:
            if not isinstance(m, numbers.Integral) or isinstance(m, bool) or m < 0:
                raise ValueError(f"milestones must be non-negative integers, got {items!r}")
        self.milestones = sorted(int(m) for m in items)
        self.gamma = _real("gamma", gamma)
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        hits = self.milestones.count(self.last_epoch)
        return [g["lr"] * self.gamma ** hits for g in self.optimizer.param_groups]

    def _closed_form_lr(self):
        passed = bisect.bisect_right(self.milestones, self.last_epoch)
        return [base * self.gamma ** passed for base in self.base_lrs]


class LambdaLR(LRScheduler):
    """``lr = base_lr * lr_lambda(epoch)``; ``lr_lambda`` is one function or a list of one per parameter group.

    ``state_dict()`` keeps the state of callable objects (their ``__dict__``), not of plain functions and
    lambdas, which cannot be saved; build the scheduler with the same functions before loading."""

    def __init__(self, optimizer, lr_lambda, last_epoch: int = -1):
        _check_optimizer(optimizer)
        n = len(optimizer.param_groups)
        if isinstance(lr_lambda, (list, tuple)):
            if len(lr_lambda) != n:
                raise ValueError(f"expected {n} lr_lambdas (one per param group), got {len(lr_lambda)}")
            fns = list(lr_lambda)
        else:
            fns = [lr_lambda] * n
        for f in fns:
            if not callable(f):
                raise TypeError(f"lr_lambda must be callable (or a list of callables), got {type(f).__name__}")
        self.lr_lambdas = fns
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        return [base * f(self.last_epoch) for base, f in zip(self.base_lrs, self.lr_lambdas)]

    def state_dict(self) -> dict:
        sd = {k: (list(v) if isinstance(v, list) else v) for k, v in self.__dict__.items()
              if k not in ("optimizer", "lr_lambdas")}
        sd["lr_lambdas"] = [None if isinstance(f, types.FunctionType) or not hasattr(f, "__dict__")
                            else dict(f.__dict__) for f in self.lr_lambdas]
        return sd

    def load_state_dict(self, state_dict: dict) -> None:
        state_dict = dict(state_dict)
        saved = state_dict.pop("lr_lambdas", None)
        if saved is not None:
            saved = list(saved)
            if len(saved) != len(self.lr_lambdas):
                raise ValueError(f"the state dict has {len(saved)} lr_lambdas, the scheduler {len(self.lr_lambdas)}")
        super().load_state_dict(state_dict)
        for f, state in zip(self.lr_lambdas, saved or ()):
            if state is not None:
                f.__dict__.update(state)


class OneCycleLR(LRScheduler):
    """The 1cycle policy, step for step as torch's: the lr rises from ``max_lr / div_factor`` to ``max_lr``
    over ``pct_start`` of ``total_steps`` and anneals to ``initial_lr / final_div_factor`` (``three_phase``:
    back to the initial lr first); with ``cycle_momentum`` the momentum (SGD) or beta1 (Adam) moves the
    opposite way between ``max_momentum`` and ``base_momentum``. Call ``step()`` after every batch."""

    def __init__(self, optimizer, max_lr, total_steps=None, epochs=None, steps_per_epoch=None, pct_start=0.3,
                 anneal_strategy="cos", cycle_momentum=True, base_momentum=0.85, max_momentum=0.95,
                 div_factor=25.0, final_div_factor=1e4, three_phase=False, last_epoch=-1):
        _check_optimizer(optimizer)
        if total_steps is not None:
            self.total_steps = _positive_int("total_steps", total_steps)
        elif epochs is not None and steps_per_epoch is not None:
            self.total_steps = _positive_int("epochs", epochs) * _positive_int("steps_per_epoch", steps_per_epoch)
        else:
            raise ValueError("OneCycleLR: pass total_steps, or both epochs and steps_per_epoch")
        if not isinstance(pct_start, numbers.Real) or not 0 <= pct_start <= 1:
            raise ValueError(f"pct_start must be a float between 0 and 1, got {pct_start!r}")
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"anneal_strategy must be 'cos' or 'linear', got {anneal_strategy!r}")
        self.anneal_strategy = anneal_strategy
        self.three_phase = bool(three_phase)
        total = self.total_steps
        if self.three_phase:
            self._schedule_phases = [
                dict(end_step=float(pct_start * total) - 1, start_lr="initial_lr", end_lr="max_lr",
                     start_momentum="max_momentum", end_momentum="base_momentum"),
                dict(end_step=float(2 * pct_start * total) - 2, start_lr="max_lr", end_lr="initial_lr",
                     start_momentum="base_momentum", end_momentum="max_momentum"),
                dict(end_step=total - 1, start_lr="initial_lr", end_lr="min_lr",
                     start_momentum="max_momentum", end_momentum="max_momentum")]
        else:
            self._schedule_phases = [
                dict(end_step=float(pct_start * total) - 1, start_lr="initial_lr", end_lr="max_lr",
                     start_momentum="max_momentum", end_momentum="base_momentum"),
                dict(end_step=total - 1, start_lr="max_lr", end_lr="min_lr",
                     start_momentum="base_momentum", end_momentum="max_momentum")]
        groups = optimizer.param_groups
        max_lrs = self._per_group("max_lr", max_lr, len(groups))
        if last_epoch == -1:
            for group, lr in zip(groups, max_lrs):
                group["initial_lr"] = lr / div_factor
                group["max_lr"] = lr
                group["min_lr"] = group["initial_lr"] / final_div_factor
        self.cycle_momentum = bool(cycle_momentum)
        if self.cycle_momentum:
            defaults = getattr(optimizer, "defaults", {})
            if "momentum" not in defaults and "betas" not in defaults:
                raise ValueError("optimizer must support momentum or beta1 with cycle_momentum enabled")
            self.use_beta1 = "betas" in defaults
            max_ms = self._per_group("max_momentum", max_momentum, len(groups))
            base_ms = self._per_group("base_momentum", base_momentum, len(groups))
            if last_epoch == -1:
                for group, m_max, m_base in zip(groups, max_ms, base_ms):
                    self._set_momentum(group, m_max)
                    group["max_momentum"] = m_max
                    group["base_momentum"] = m_base
        super().__init__(optimizer, last_epoch)

    @staticmethod
    def _per_group(name, value, n):
        if isinstance(value, (list, tuple)):
            if len(value) != n:
                raise ValueError(f"expected {n} values for {name} (one per param group), got {len(value)}")
            values = list(value)
        else:
            values = [value] * n
        for v in values:
            _real(name, v)
        return values

    def _set_momentum(self, group, value):
        if self.use_beta1:
            group["betas"] = (value, *tuple(group["betas"])[1:])
        else:
            group["momentum"] = value

    def _anneal(self, start, end, pct):
        if self.anneal_strategy == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def get_lr(self):
        step = self.last_epoch
        if step > self.total_steps:
            raise ValueError(f"Tried to step {step} times. The specified number of total steps is {self.total_steps}")
        lrs = []
        for group in self.optimizer.param_groups:
            start = 0.0
            for i, phase in enumerate(self._schedule_phases):
                end = phase["end_step"]
                if step <= end or i == len(self._schedule_phases) - 1:
                    pct = (step - start) / (end - start)
                    lr = self._anneal(group[phase["start_lr"]], group[phase["end_lr"]], pct)
                    if self.cycle_momentum:
                        momentum = self._anneal(group[phase["start_momentum"]], group[phase["end_momentum"]], pct)
                    break
                start = phase["end_step"]
            lrs.append(lr)
            if self.cycle_momentum:
                self._set_momentum(group, momentum)
        return lrs

    def load_state_dict(self, state_dict: dict) -> None:
        state_dict = dict(state_dict)
        phases = state_dict.get("_schedule_phases")
        if phases is not None:
            state_dict["_schedule_phases"] = [dict(p) for p in phases]
        super().load_state_dict(state_dict)
        self.last_epoch = int(self.last_epoch)


class ReduceLROnPlateau(LRScheduler):
    """Multiply the lr by ``factor`` when the metric given to ``step(metric)`` has not improved for ``patience`` epochs.

    An improvement beats the best value by ``threshold`` (relative or absolute); after a reduction, ``cooldown``
    epochs pass before bad epochs count again; lrs never go below ``min_lr`` and changes under ``eps`` are skipped.
    """

    def __init__(self, optimizer, mode: str = "min", factor: float = 0.1, patience: int = 10,
                 threshold: float = 1e-4, threshold_mode: str = "rel", cooldown: int = 0, min_lr=0,
                 eps: float = 1e-8):
        _check_optimizer(optimizer)
        if mode not in ("min", "max"):
            raise ValueError(f"mode {mode!r} is unknown; expected 'min' or 'max'")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"threshold mode {threshold_mode!r} is unknown; expected 'rel' or 'abs'")
        if not isinstance(factor, numbers.Real) or not 0.0 <= factor < 1.0:
            raise ValueError(f"Factor should be in [0, 1), got {factor!r}")
        for name, value in (("patience", patience), ("cooldown", cooldown)):
            if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
        n = len(optimizer.param_groups)
        if isinstance(min_lr, (list, tuple)):
            if len(min_lr) != n:
                raise ValueError(f"expected {n} min_lrs, got {len(min_lr)}")
            self.default_min_lr = None
            self.min_lrs = list(min_lr)
        else:
            self.default_min_lr = min_lr
            self.min_lrs = [min_lr] * n
        self.optimizer = optimizer
        self.mode = mode
        self.factor = factor
        self.patience = int(patience)
        self.threshold = threshold
        self.threshold_mode = threshold_mode
        self.cooldown = int(cooldown)
        self.eps = eps
        self.last_epoch = 0
        self.mode_worse = math.inf if mode == "min" else -math.inf
        self._reset()
        self._last_lr = [group["lr"] for group in optimizer.param_groups]

    def _reset(self):
        self.best = self.mode_worse
        self.cooldown_counter = 0
        self.num_bad_epochs = 0

    @property
    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

    def is_better(self, a: float, best: float) -> bool:
        if self.mode == "min":
            return a < (best * (1.0 - self.threshold) if self.threshold_mode == "rel" else best - self.threshold)
        return a > (best * (1.0 + self.threshold) if self.threshold_mode == "rel" else best + self.threshold)

    def step(self, metrics, epoch: int | None = None) -> None:
        """Record this epoch's ``metrics`` (a number or one-element tensor) and reduce the lrs if it has plateaued."""
        current = float(metrics)
        self.last_epoch = self.last_epoch + 1 if epoch is None else epoch
        if self.is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.in_cooldown:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            self._reduce_lr()
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]
        _push_lr(self.optimizer)

    def _reduce_lr(self):
        groups = self.optimizer.param_groups
        if len(groups) != len(self.min_lrs):
            if self.default_min_lr is None:
                raise RuntimeError(f"the optimizer has {len(groups)} param groups but ReduceLROnPlateau was given "
                                   f"{len(self.min_lrs)} min_lrs; update scheduler.min_lrs")
            self.min_lrs = [self.default_min_lr] * len(groups)
        for group, min_lr in zip(groups, self.min_lrs):
            old_lr = float(group["lr"])
            new_lr = max(old_lr * self.factor, min_lr)
            if old_lr - new_lr > self.eps:
                group["lr"] = new_lr
_LRScheduler = LRScheduler  # torch spelling of the base class


def _push_lr(optimizer) -> None:
    """Write the new lrs to the optimizer's device scalars now (one fill per changed group), so that a
    replayed CUDA graph of the training step, which runs no ``step()``, uses them too."""
    push = getattr(optimizer, "_push_lr", None)
    if push is not None:
        push()
