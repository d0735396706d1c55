"""One benchmark training step (zero_grad + forward, loss, backward, Adam step), split into named phases.

Shared by the timing runner, ``benchmarks/launch_counts.py`` (launches / syncs / copies per phase on the
emulated device) and ``tests/test_step_budget.py``, so all three measure the same step.
"""
from __future__ import annotations

import collections
import contextlib

from .workloads import WORKLOADS, build_deepcore

PHASES = ("forward", "loss", "backward", "optimizer")
"""The phases of a step, in order: zero_grad + forward, cross-entropy loss, backward, optimizer step."""
PHASE_TITLES = {"forward": "zero_grad+forward", "loss": "loss", "backward": "backward", "optimizer": "optimizer step"}
TRAIN_WORKLOADS = tuple(name for name, w in WORKLOADS.items() if w.kind == "train")

_NULL = contextlib.nullcontext()


def _no_phase(name):
    return _NULL


class TrainStep:
    """A workload's model, Adam optimizer (lr=1e-3) and one batch already on ``device``.

    ``step()`` runs one training step on that batch; ``step.run(x, y)`` on other tensors of the same shape.
    ``phase``, if given, is called with each phase's name and must return a context manager that is
    entered around that phase (e.g. to count what the phase asks of the device). Returns the loss tensor.
    """

    def __init__(self, name: str, device="cpu", batch: int | None = None, seed: int = 0):
        import deepcore as dc

        w = WORKLOADS[name]
        if w.kind != "train":
            raise ValueError(f"workload {name!r} is not a training step")
        from ..nn import functional as F

        self._loss_fn = F.cross_entropy
        self.name = name
        self.device = dc.device(device)
        self.batch = batch or w.batch
        dc.manual_seed(seed)
        self.model = build_deepcore(name).to(self.device)
        self.x = dc.randn(self.batch, *w.input_shape, device=self.device)
        self.y = dc.randint(0, 10, (self.batch,), device=self.device)
        self.opt = dc.optim.Adam(self.model.parameters(), lr=1e-3)

    def run(self, x, y, phase=None):
        phase = phase or _no_phase
        with phase("forward"):
            self.opt.zero_grad()
            out = self.model(x)
        with phase("loss"):
            loss = self._loss_fn(out, y)
        with phase("backward"):
            loss.backward()
        with phase("optimizer"):
            self.opt.step()
        return loss

    def __call__(self, phase=None):
        return self.run(self.x, self.y, phase)


def count_phases(step, counting):
    """Run ``step(phase)`` once inside one ``counting()`` block; return ``{phase: counts, ..., "total": counts}``.

    ``counting`` is a context-manager factory yielding a live counter with ``launches``, ``syncs``, ``h2d``,
    ``d2h`` and ``by_name`` (the emulated device's ``cupy_emulation.counting``). Each phase's counts are the
    difference of snapshots taken at its start and end, so only one counter is ever open.
    """
    def snapshot(c):
        return c.launches, c.syncs, c.h2d, c.d2h, collections.Counter(c.by_name)

    out = {}
    with counting() as total:
        @contextlib.contextmanager
        def phase(name):
            before = snapshot(total)
            yield
            out[name] = type(total)(*(a - b for a, b in zip(snapshot(total), before)))

        step(phase)
    out["total"] = total
    return out


__all__ = ["PHASES", "PHASE_TITLES", "TRAIN_WORKLOADS", "TrainStep", "count_phases"]
