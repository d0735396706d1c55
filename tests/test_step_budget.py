"""On the cuda device a training step of every benchmark workload makes no host sync and no host<->device copy.

Data already on the device, after one warm-up step; one step = zero_grad, forward, cross-entropy loss,
backward, Adam step (deepcore.bench.step.TrainStep, the step benchmarks/launch_counts.py counts). Only the
emulated device counts syncs and copies, so on a real GPU or without one these tests are skipped.
"""
import sys

import pytest

import deepcore as dc
from deepcore.bench.step import PHASES, TRAIN_WORKLOADS, TrainStep, count_phases



def _counting():
    """cupy_emulation.counting when deepcore runs on the emulated stand-in (pytest --emulate-cuda), else None."""
    emulation = sys.modules.get("cupy_emulation")
    if emulation is None or not emulation.is_active() or dc.backend.cupy_module() is not sys.modules["cupy"]:
        return None
    return emulation.counting


@pytest.mark.parametrize("name", TRAIN_WORKLOADS)
def test_cuda_step_makes_no_sync_or_copy(name):
    counting = _counting()
    if counting is None:
        pytest.skip("launch counters exist only on the emulated CUDA device (--emulate-cuda)")
    train = TrainStep(name, "cuda", batch=4)
    train()  # warm-up
    dc.cuda.synchronize()
    counts = count_phases(train, counting)
    total = counts["total"]
    detail = "; ".join(f"{ph}: {counts[ph]}" for ph in PHASES)
    assert total.launches > 0
    assert (total.syncs, total.copies) == (0, 0), f"{name} step: {total} ({detail})"


# Launches per eager step with Adam: the budgets of the GPU-speed issue (PyTorch eager with fused Adam runs
# 22 / 37 / 21 / 19 ATen ops on mlp / cnn / convblock / lstm), and the ceilings the code achieves today
# (benchmarks/RESULTS.md), so a change that adds launches fails here even while it stays within budget.
LAUNCH_BUDGETS = {"mlp": 22, "mlp_big": 22, "cnn": 37, "convblock": 24, "lstm": 140}
LAUNCH_CEILINGS = {"mlp": 17, "mlp_big": 17, "cnn": 33, "convblock": 24, "lstm": 94}


def test_ceilings_within_budgets():
    assert all(LAUNCH_CEILINGS[k] <= LAUNCH_BUDGETS[k] for k in LAUNCH_BUDGETS)


@pytest.mark.parametrize("name", TRAIN_WORKLOADS)
def test_cuda_step_launch_budget(name):
    counting = _counting()
    if counting is None:
        pytest.skip("launch counters exist only on the emulated CUDA device (--emulate-cuda)")
    if not dc.backend.fastpath.enabled():
        pytest.skip("launch budgets hold for the fast paths (generic paths launch more by design)")
    train = TrainStep(name, "cuda", batch=4)
    train()  # warm-up
    counts = count_phases(train, counting)
    detail = "; ".join(f"{ph}: {counts[ph].launches}" for ph in PHASES)
    assert counts["total"].launches <= LAUNCH_CEILINGS[name], f"{name}: {counts['total']} ({detail})"
