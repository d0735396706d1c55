"""Timing method of docs/benchmarks.md: build, warm up, then the median of timed steps, each ended by a sync."""
from __future__ import annotations

import contextlib
import os
import resource
import statistics
import time

from .memory import allocated_peak
from .step import TrainStep
from .workloads import WORKLOADS, build_torch, matmul_size


def thread_count() -> int:
    """deepcore's CPU thread count: that of NumPy's BLAS pool (OMP_NUM_THREADS if set, else every core)."""
    from ..backend.threads import blas_threads
    return blas_threads()


def _rss_bytes() -> int:
    """Resident memory now (Linux /proc; the peak-so-far from getrusage elsewhere)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class _RssPeak:
    """Highest resident memory seen at the sample points, above the level when it was created.

    On the CPU both frameworks are sampled at the same point of a step (after the loss, before backward,
    when the activations are held), which makes the growth comparable between them.
    """

    def __init__(self):
        self.base = _rss_bytes()
        self.peak = 0

    def sample(self):
        self.peak = max(self.peak, _rss_bytes() - self.base)


class _SampleOnExit:
    """A context manager that samples an _RssPeak when its block ends."""

    def __init__(self, rss):
        self.rss = rss

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.rss.sample()


def _record(workload, device, framework, times, first_ms, peak, batch, captured=False):
    ms = statistics.median(times) * 1e3
    return {"workload": workload, "device": device, "framework": framework, "ms": ms,
            "samples_per_s": batch / (ms / 1e3), "peak_mem_bytes": int(peak), "captured": captured,
            "first_step_ms": first_ms}


def _timed(step, sync, steps, warmup):
    t0 = time.perf_counter()
    step()
    sync()
    first_ms = (time.perf_counter() - t0) * 1e3  # includes numba/kernel compilation, reported on its own
    for _ in range(max(warmup - 1, 0)):
        step()
    sync()
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        sync()
        times.append(time.perf_counter() - t0)
    return times, first_ms


def run_deepcore(name: str, device: str, steps: int = 50, warmup: int = 10, capture: bool = False):
    """Time one workload with deepcore; returns a result record.

    Peak memory on the GPU is the allocated high-water mark from building the model to the last step
    (see memory.py), like ``torch.cuda.max_memory_allocated`` after ``reset_peak_memory_stats``; on the
    CPU it is the RSS growth. ``capture`` replays each training step as one CUDA graph
    (``dc.cuda.graphed``) on the GPU when this build has it; otherwise steps run eagerly.
    """
    import deepcore as dc

    w = WORKLOADS[name]
    dev = dc.device(device)
    dc.manual_seed(0)
    hook = contextlib.nullcontext()
    if dev.type == "cuda":
        dev.xp.get_default_memory_pool().free_all_blocks()
        hook = allocated_peak(dev.xp)
    rss = _RssPeak()
    captured = False
    with hook:
        if w.kind == "matmul":
            n = matmul_size(dev.type)
            a, b = dc.randn(n, n, device=dev), dc.randn(n, n, device=dev)
            step = lambda: a @ b  # noqa: E731
            batch = 1
        else:
            train = TrainStep(name, dev)
            batch = train.batch
            if capture and dev.type == "cuda" and capture_supported():
                graphed = dc.cuda.graphed(train.run)
                step = lambda: graphed(train.x, train.y)  # noqa: E731
                captured = True
            elif dev.type == "cpu":
                def sample_after_loss(phase):  # RSS when the activations are held, as on the torch side
                    return _SampleOnExit(rss) if phase == "loss" else contextlib.nullcontext()
                step = lambda: train(sample_after_loss)  # noqa: E731
            else:
                step = train
        times, first_ms = _timed(step, dc.cuda.synchronize, steps, warmup)
    peak = hook.peak if dev.type == "cuda" else rss.peak
    return _record(name, str(dev.type), "deepcore", times, first_ms, peak, batch, captured)


def capture_supported() -> bool:
    """Whether this build can capture a training step as a CUDA graph (``dc.cuda.graphed``)."""
    import deepcore as dc
    return hasattr(dc.cuda, "graphed")


def run_torch(name: str, device: str, steps: int = 50, warmup: int = 10):
    """Time the PyTorch twin of a workload in this process; returns a result record."""
    import torch

    w = WORKLOADS[name]
    torch.manual_seed(0)
    dev = torch.device("cuda" if device == "cuda" else "cpu")
    if dev.type == "cpu":
        torch.set_num_threads(thread_count())
    else:
        torch.cuda.reset_peak_memory_stats()
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    rss = _RssPeak()
    if w.kind == "matmul":
        n = matmul_size(dev.type)
        a, b = torch.randn(n, n, device=dev), torch.randn(n, n, device=dev)
        step, batch = (lambda: a @ b), 1
    else:
        model = build_torch(name, torch).to(dev)
        x = torch.randn(w.batch, *w.input_shape, device=dev)
        y = torch.randint(0, 10, (w.batch,), device=dev)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        loss_fn = torch.nn.functional.cross_entropy

        def step():
            opt.zero_grad()
            loss = loss_fn(model(x), y)
            rss.sample()
            loss.backward()
            opt.step()
        batch = w.batch
    times, first_ms = _timed(step, sync, steps, warmup)
    peak = torch.cuda.max_memory_allocated() if dev.type == "cuda" else rss.peak
    return _record(name, dev.type, "torch", times, first_ms, peak, batch)


def gemm_floor_ms(name: str, device: str, matmul_ms: float) -> float | None:
    """The step's GEMM floor for the MLP workloads: its FLOPs at the measured matmul rate."""
    if name not in ("mlp", "mlp_big"):
        return None
    n = matmul_size(device)
    rate = 2 * n ** 3 / (matmul_ms / 1e3)
    b = WORKLOADS[name].batch
    fwd = 2 * b * (784 * 512 + 512 * 512 + 512 * 10)
    return 3 * fwd / rate * 1e3  # forward + two backward GEMMs per layer


__all__ = ["run_deepcore", "run_torch", "gemm_floor_ms", "thread_count", "capture_supported"]
