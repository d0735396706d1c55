"""``deepcore-bench``: time deepcore's benchmark training steps on CPU and GPU, optionally against PyTorch.

Workloads, method and the numbers measured so far: docs/benchmarks.md. Only the CPU has been timed so far
(a shared 2-core VM); no GPU has run this benchmark yet (the GPU path is checked on an emulated device).
"""
from __future__ import annotations

import argparse
import json
import sys

from .runner import capture_supported, gemm_floor_ms, run_deepcore, run_torch, thread_count
from .workloads import WORKLOADS


def _parse_list(text, allowed, what):
    items = [s.strip() for s in text.split(",") if s.strip()]
    for s in items:
        if s not in allowed:
            raise SystemExit(f"deepcore-bench: unknown {what} {s!r}; accepted: {', '.join(allowed)}")
    return items


def _cuda_missing_reason():
    """None when a CUDA GPU is usable, else why not (for the one-line message)."""
    import deepcore as dc
    if dc.cuda.is_available():
        return None
    cupy = dc.backend.cupy_module()
    return "CuPy is not installed" if cupy is None else f"CuPy {getattr(cupy, '__version__', '')} sees no device"


def _torch_or_none():
    try:
        import torch
        return torch
    except ImportError:
        return None


def _fmt_bytes(n):
    return f"{n / 2**20:.1f} MiB" if n else "-"


def format_table(records, floors=None) -> str:
    """One row per (workload, device): ms, samples/s, peak memory, GPU speedup, PyTorch ms and ratio."""
    floors = floors or {}
    mine = {(r["workload"], r["device"]): r for r in records if r["framework"] == "deepcore"}
    theirs = {(r["workload"], r["device"]): r for r in records if r["framework"] == "torch"}
    head = ["workload", "device", "ms/step", "samples/s", "peak mem", "GPU/CPU", "torch ms", "dc/torch", "floor ms"]
    rows = []
    for (w, d), r in mine.items():
        cpu = mine.get((w, "cpu"))
        speedup = f"{cpu['ms'] / r['ms']:.1f}x" if d == "cuda" and cpu else "-"
        t = theirs.get((w, d))
        floor = floors.get((w, d))
        rows.append([w, d + (" (graph)" if r["captured"] else ""), f"{r['ms']:.2f}", f"{r['samples_per_s']:.0f}",
                     _fmt_bytes(r["peak_mem_bytes"]), speedup, f"{t['ms']:.2f}" if t else "-",
                     f"{r['ms'] / t['ms']:.2f}" if t else "-", f"{floor:.3f}" if floor else "-"])
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows)]
    line = lambda cells: "  ".join(str(c).rjust(wd) for c, wd in zip(cells, widths))  # noqa: E731
    return "\n".join([line(head), line(["-" * wd for wd in widths])] + [line(r) for r in rows])


def plot(records, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    labels = sorted({(r["device"], r["framework"]) for r in records})
    workloads = list(dict.fromkeys(r["workload"] for r in records))
    fig, ax = plt.subplots(figsize=(1.8 * len(workloads) + 2, 4))
    width = 0.8 / max(len(labels), 1)
    for i, (dev, fw) in enumerate(labels):
        vals = [next((r["samples_per_s"] for r in records if r["workload"] == w and r["device"] == dev
                      and r["framework"] == fw), 0) for w in workloads]
        ax.bar([k + i * width for k in range(len(workloads))], vals, width, label=f"{fw} {dev}")
    ax.set_xticks([k + width * (len(labels) - 1) / 2 for k in range(len(workloads))], workloads)
    ax.set_yscale("log")
    ax.set_ylabel("samples / s (log)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(
        prog="deepcore-bench", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Time training steps (forward, cross-entropy, backward, Adam) of the benchmark workloads\n"
                    "on each device: median ms per step, samples/s and peak memory. With --compare torch the\n"
                    "PyTorch twin of each workload runs right after it, in the same process.",
        epilog="Workloads, method and results: docs/benchmarks.md in the deepcore repository.\n"
               "Measured so far: the CPU only, on a shared 2-core VM. No GPU has run this benchmark yet;\n"
               "the GPU code path is checked on an emulated device (launch counts), not timed.")
    p.add_argument("--device", default=None, help="comma list of cpu,cuda (default: every available device)")
    p.add_argument("--workload", default=",".join(WORKLOADS), help=f"comma list of {','.join(WORKLOADS)}")
    p.add_argument("--steps", type=int, default=50, help="timed steps per workload (default: 50; median reported)")
    p.add_argument("--warmup", type=int, default=10, help="untimed steps first (default: 10)")
    p.add_argument("--compare", choices=["torch"], default=None, help="also time the PyTorch twins")
    p.add_argument("--capture", action="store_true", help="capture each training step as one CUDA graph")
    p.add_argument("--json", default=None, help="write the records to this file")
    p.add_argument("--plot", default=None, help="write a bar chart (PNG) of samples/s")
    args = p.parse_args(argv)
    if args.steps < 1 or args.warmup < 1:
        raise SystemExit("deepcore-bench: --steps and --warmup must be at least 1")

    from tqdm import tqdm
    workloads = _parse_list(args.workload, list(WORKLOADS), "workload")
    missing_cuda = _cuda_missing_reason()
    if args.device:
        devices = _parse_list(args.device, ["cpu", "cuda"], "device")
        if "cuda" in devices and missing_cuda:  # asked for explicitly: an error, not an empty table
            print(f"deepcore-bench: device 'cuda' requested but no CUDA GPU is visible ({missing_cuda})",
                  file=sys.stderr)
            return 2
    else:
        devices = ["cpu"] if missing_cuda else ["cpu", "cuda"]
    torch = _torch_or_none() if args.compare else None
    if args.compare and torch is None:
        print("deepcore-bench: PyTorch is not installed; running without --compare torch")
    if args.capture and not capture_supported():
        print("deepcore-bench: --capture: whole-step CUDA graph capture is not in this build yet; "
              "every step runs eagerly")
    elif args.capture and "cuda" not in devices:
        print("deepcore-bench: --capture applies to the GPU only; CPU steps run eagerly")
    print(f"deepcore-bench: devices {','.join(devices) or '-'}, {thread_count()} CPU thread(s), "
          f"{args.steps} steps after {args.warmup} warm-up")

    jobs = [(w, d, fw) for w in workloads for d in devices for fw in (["deepcore"] + (["torch"] if torch else []))]
    records = []
    for w, d, fw in tqdm(jobs, desc="benchmark", unit="run", file=sys.stderr):
        try:
            if fw == "deepcore":
                records.append(run_deepcore(w, d, args.steps, args.warmup, capture=args.capture))
            else:
                records.append(run_torch(w, d, args.steps, args.warmup))
        except Exception as exc:  # one failing workload is reported, the rest still run
            print(f"deepcore-bench: {fw} {w} on {d} failed: {type(exc).__name__}: {exc}", file=sys.stderr)

    floors = {}
    for d in devices:
        mm = next((r for r in records if r["workload"] == "matmul" and r["device"] == d
                   and r["framework"] == "deepcore"), None)
        if mm:
            for w in workloads:
                f = gemm_floor_ms(w, d, mm["ms"])
                if f:
                    floors[(w, d)] = f
    print(format_table(records, floors))
    for r in records:
        if r["framework"] == "deepcore" and r["first_step_ms"] > 3 * r["ms"]:
            print(f"note: first {r['workload']} step on {r['device']} took {r['first_step_ms']:.0f} ms "
                  "(compilation and allocation; excluded from the median)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(records, f, indent=1)
    if args.plot:
        plot(records, args.plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
