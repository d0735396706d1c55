"""The deepcore-bench CLI on the CPU with tiny step counts: table, JSON records, plot, clear messages."""
import json
import subprocess
import sys

import pytest

from deepcore.bench import cli
from deepcore.bench.runner import gemm_floor_ms, run_deepcore

KEYS = {"workload", "device", "framework", "ms", "samples_per_s", "peak_mem_bytes", "captured"}


@pytest.mark.parametrize("name", ["mlp", "cnn", "convblock", "lstm", "matmul"])
def test_every_workload_runs_one_step(name):
    rec = run_deepcore(name, "cpu", steps=1, warmup=1)
    assert KEYS <= set(rec) and rec["framework"] == "deepcore" and rec["device"] == "cpu"
    assert rec["ms"] > 0 and rec["samples_per_s"] > 0 and rec["captured"] is False


def test_cli_json_table_and_plot(tmp_path, capsys):
    out, png = tmp_path / "r.json", tmp_path / "r.png"
    assert cli.main(["--device", "cpu", "--workload", "mlp,matmul", "--steps", "2", "--warmup", "1",
                     "--json", str(out), "--plot", str(png)]) == 0
    text = capsys.readouterr().out
    assert "ms/step" in text and "samples/s" in text and "mlp" in text
    records = json.loads(out.read_text())
    assert {(r["workload"], r["framework"]) for r in records} == {("mlp", "deepcore"), ("matmul", "deepcore")}
    assert all(KEYS <= set(r) for r in records)
    assert png.stat().st_size > 1000


def test_cli_compare_torch(capsys):
    pytest.importorskip("torch")
    cli.main(["--device", "cpu", "--workload", "mlp", "--steps", "2", "--warmup", "1", "--compare", "torch"])
    lines = capsys.readouterr().out.splitlines()
    row = next(line for line in lines if line.strip().startswith("mlp"))
    assert row.split()[-2] != "-"  # the deepcore/torch ratio is filled in


def test_cli_missing_gpu_is_one_line_and_fails(monkeypatch, capsys):
    monkeypatch.setattr(cli, "_cuda_missing_reason", lambda: "CuPy is not installed")
    assert cli.main(["--device", "cpu,cuda", "--workload", "matmul", "--steps", "1", "--warmup", "1"]) != 0
    out, err = capsys.readouterr()
    assert err.strip() == "deepcore-bench: device 'cuda' requested but no CUDA GPU is visible (CuPy is not installed)"
    assert "ms/step" not in out  # no (empty) table


def test_cli_default_devices_skip_missing_gpu(monkeypatch, capsys):
    monkeypatch.setattr(cli, "_cuda_missing_reason", lambda: "CuPy is not installed")
    assert cli.main(["--workload", "matmul", "--steps", "1", "--warmup", "1"]) == 0
    out = capsys.readouterr().out
    assert "devices cpu," in out and "matmul" in out


def test_cli_cuda_without_gpu_exit_status():
    import deepcore as dc
    if dc.cuda.is_available():
        pytest.skip("a GPU (or the emulated one) is present")
    r = subprocess.run([sys.executable, "-m", "deepcore.bench", "--device", "cuda"], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert r.stderr.strip().startswith("deepcore-bench: device 'cuda' requested but no CUDA GPU is visible (")
    assert "ms/step" not in r.stdout


def test_cli_rejects_unknown_workload():
    with pytest.raises(SystemExit, match="unknown workload 'resnet'"):
        cli.main(["--workload", "resnet"])


def test_gemm_floor():
    assert gemm_floor_ms("cnn", "cpu", 10.0) is None
    floor = gemm_floor_ms("mlp", "cpu", 10.0)  # 2*1024^3 flop in 10 ms
    flops = 3 * 2 * 128 * (784 * 512 + 512 * 512 + 512 * 10)
    assert floor == pytest.approx(flops / (2 * 1024 ** 3 / 0.010) * 1e3)


def test_module_entry_point():
    r = subprocess.run([sys.executable, "-m", "deepcore.bench", "--device", "cpu", "--workload", "matmul",
                        "--steps", "1", "--warmup", "1"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "matmul" in r.stdout


def test_allocated_peak_hook_tracks_high_water_mark():
    """The GPU peak is the allocated high-water mark: pool bytes in use at entry + mallocs - frees, at most."""
    import types

    from deepcore.bench.memory import allocated_peak

    class Base:  # the part of cupy.cuda.MemoryHook the helper relies on
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            pass

    pool = types.SimpleNamespace(used_bytes=lambda: 1000)
    fake = types.SimpleNamespace(cuda=types.SimpleNamespace(MemoryHook=Base, runtime=types.SimpleNamespace(
        getDevice=lambda: 0)), get_default_memory_pool=lambda: pool)
    with allocated_peak(fake) as hook:
        hook.malloc_postprocess(device_id=0, size=500, mem_size=512, mem_ptr=1, pmem_id=1)
        hook.malloc_postprocess(device_id=0, size=100, mem_size=512, mem_ptr=2, pmem_id=2)
        hook.free_postprocess(device_id=0, mem_size=512, mem_ptr=1, pmem_id=1)
        hook.malloc_postprocess(device_id=0, size=10, mem_size=512, mem_ptr=0, pmem_id=0)  # failed malloc
        hook.malloc_postprocess(device_id=1, size=10, mem_size=4096, mem_ptr=3, pmem_id=3)  # another device
        hook.malloc_postprocess(device_id=0, size=10, mem_size=256, mem_ptr=4, pmem_id=4)
    assert (hook.current, hook.peak) == (1000 + 512 + 256, 1000 + 1024)


def test_capture_uses_graphed_on_cuda_only(monkeypatch):
    import deepcore as dc
    calls = []

    def graphed(fn):  # stands in for dc.cuda.graphed: records the replayed calls, runs eagerly
        def replay(*args):
            calls.append(len(args))
            return fn(*args)
        return replay

    monkeypatch.setattr(dc.cuda, "graphed", graphed, raising=False)
    rec = run_deepcore("mlp", "cpu", steps=1, warmup=1, capture=True)
    assert rec["captured"] is False and calls == []
    if dc.cuda.is_available():
        rec = run_deepcore("mlp", "cuda", steps=2, warmup=1, capture=True)
        assert rec["captured"] is True and calls == [2] * 3 and rec["peak_mem_bytes"] > 0
