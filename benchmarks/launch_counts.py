#!/usr/bin/env python
"""Kernel launches, host syncs and host<->device copies per training step, on the emulated CUDA device.

For every training workload of deepcore/bench/workloads.py: build it on the emulated device with its
batch already there, run one warm-up step, then count one step phase by phase (zero_grad+forward, loss,
backward, optimizer step) and in total, and, when the build has ``dc.cuda.graphed``, one replayed
captured step (its launches: the graph launch and the argument copies) with the number of kernels in
its graph. Prints a markdown table for benchmarks/RESULTS.md, and where a step syncs or copies, the
deepcore lines that did it.

usage: python benchmarks/launch_counts.py [--workload mlp,cnn] [--batch N] [--by-name [K]]
"""
from __future__ import annotations

import argparse
import collections
import contextlib
import datetime
import platform
import subprocess
import sys
import traceback
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # deepcore from this checkout
sys.path.insert(0, str(REPO / "tests" / "emulated_cuda"))
import cupy_emulation  # noqa: E402

cupy_emulation.activate()  # `import cupy` is the stand-in from here on; must come before deepcore is imported

import deepcore as dc  # noqa: E402
from deepcore.bench.runner import capture_supported  # noqa: E402
from deepcore.bench.step import PHASE_TITLES, PHASES, TRAIN_WORKLOADS, TrainStep, count_phases  # noqa: E402


def _check_emulated():
    cp = dc.backend.cupy_module()
    if cp is None or cp is not sys.modules.get("cupy") or not cupy_emulation.is_active() or not dc.cuda.is_available():
        raise SystemExit(f"launch_counts: the emulated cupy is not active (deepcore uses {cp!r})")


class SyncSites:
    """Records which deepcore lines asked for each host sync or copy (innermost frames under deepcore/)."""

    def __init__(self):
        self.sites = collections.Counter()
        self.active = False

    @contextlib.contextmanager
    def watching(self):
        rt = cupy_emulation.runtime
        sync, copy = rt.sync, rt.copy

        def on_sync(what):
            self._note("sync", what)
            return sync(what)

        def on_copy(direction, what):
            self._note(direction, what)
            return copy(direction, what)

        rt.sync, rt.copy = on_sync, on_copy
        try:
            yield self
        finally:
            del rt.sync, rt.copy  # back to the class's methods

    def _note(self, kind, what):
        if not self.active:
            return
        pkg = REPO / "deepcore"
        frames = []  # the two innermost deepcore frames (outside deepcore/bench), innermost first
        for frame in reversed(traceback.extract_stack()[:-2]):
            path = Path(frame.filename).resolve()
            if pkg in path.parents and (pkg / "bench") not in path.parents:
                frames.append(f"{path.relative_to(REPO)}:{frame.lineno} {frame.name}")
                if len(frames) == 2:
                    break
        site = " <- ".join(frames) or "?"
        self.sites[(kind, what, site)] += 1


def count_step(step, sites=None):
    """Counts of one call of ``step`` (a TrainStep): {phase: Counts, ..., "total": Counts}."""
    if sites is not None:
        sites.active = True
    try:
        return count_phases(step, cupy_emulation.counting)
    finally:
        if sites is not None:
            sites.active = False


def count_captured(train):
    """``(counts of one replayed captured step, kernels in its graph)`` after the warm-up and capture
    calls, or a reason string. A replay is 1 graph launch plus one device-to-device copy per tensor
    argument (here x and y); the graph's kernels are the launches the emulated device recorded at the
    capture (its ``Graph._ops``)."""
    try:
        graphed = dc.cuda.graphed(train.run)
        for _ in range(3):  # warm-up, capture (and its replay), a replay
            graphed(train.x, train.y)
        dc.cuda.synchronize()
        with cupy_emulation.counting() as c:
            graphed(train.x, train.y)
        return c, len(graphed.graph_for(train.x, train.y)._ops)
    except Exception as exc:  # report, keep the eager table
        return f"{type(exc).__name__}: {exc}"


def _cell(c):
    return f"{c.launches} / {c.syncs} / {c.copies}"


def _commit():
    try:
        return subprocess.run(["git", "-C", str(REPO), "log", "-1", "--format=%h %cs"], capture_output=True,
                              text=True, timeout=10).stdout.strip() or "?"
    except (OSError, subprocess.SubprocessError):
        return "?"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--workload", default=",".join(TRAIN_WORKLOADS), help="comma list of training workloads")
    p.add_argument("--batch", type=int, default=None, help="batch size (default: each workload's own)")
    p.add_argument("--by-name", nargs="?", type=int, const=8, default=0, metavar="K",
                   help="also list the K most launched kernels of each phase (default K: 8)")
    args = p.parse_args(argv)
    names = [s.strip() for s in args.workload.split(",") if s.strip()]
    for n in names:
        if n not in TRAIN_WORKLOADS:
            raise SystemExit(f"launch_counts: unknown training workload {n!r}; accepted: {', '.join(TRAIN_WORKLOADS)}")
    _check_emulated()
    captured = capture_supported()

    results, failed, sites = {}, {}, SyncSites()
    with sites.watching():
        for n in names:
            try:
                train = TrainStep(n, "cuda", batch=args.batch)
                train()  # warm-up: first-call allocations, kernel compilation, optimizer state
                dc.cuda.synchronize()
                counts = count_step(train, sites)
            except Exception as exc:  # one broken workload is reported, the others still counted
                failed[n] = f"{type(exc).__name__}: {exc}"
                print(f"launch_counts: {n} failed: {failed[n]}", file=sys.stderr)
                continue
            counts["captured"] = count_captured(train) if captured else None
            results[n] = (train.batch, counts)
            print(f"counted {n}", file=sys.stderr)

    print(f"Per training step on the emulated CUDA device, after one warm-up step, data on the device "
          f"({datetime.date.today()}, deepcore {_commit()}, Python {platform.python_version()}). "
          "Cells: launches / host syncs / host<->device copies. Captured step: one replay of "
          "`dc.cuda.graphed(step)` (1 graph launch + 1 device-to-device copy per tensor argument), and the "
          "number of kernels the graph replays.\n")
    head = ["workload", "batch"] + [PHASE_TITLES[ph] for ph in PHASES] + ["total", "h2d", "d2h", "captured step"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for n, (batch, counts) in results.items():
        cap = counts["captured"]
        cap = "-" if cap is None else "failed" if isinstance(cap, str) else f"{_cell(cap[0])} ({cap[1]} kernels in the graph)"
        row = [n, str(batch)] + [_cell(counts[ph]) for ph in PHASES] + [
            f"**{_cell(counts['total'])}**", str(counts["total"].h2d), str(counts["total"].d2h), cap]
        print("| " + " | ".join(row) + " |")
    for n, why in failed.items():
        print(f"| {n} | failed: {why[:200]} |")
    for n, (_, counts) in results.items():
        if isinstance(counts["captured"], str):
            print(f"\ncaptured {n} failed: {counts['captured']}")
    if not captured:
        print("\n(captured step: `dc.cuda.graphed` is not in this build)")

    if sites.sites:
        print("\nHost syncs and copies inside the counted steps, by deepcore call site (all workloads):\n")
        for (kind, what, site), k in sites.sites.most_common():
            print(f"- {k} x {kind} `{what}` at `{site}`")

    if args.by_name:
        for n, (_, counts) in results.items():
            print(f"\n**{n}**, top {args.by_name} kernels by launches per phase:\n")
            for ph in PHASES:
                top = counts[ph].by_name.most_common(args.by_name)
                print(f"- {PHASE_TITLES[ph]} ({counts[ph].launches}): "
                      + ", ".join(f"`{name}` {k}" for name, k in top))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
