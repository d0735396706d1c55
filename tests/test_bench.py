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


def test_cli_missing_gpu_is_one_line(capsys):
    import deepcore as dc
    if dc.cuda.is_available():
        pytest.skip("a GPU is present")
    cli.main(["--device", "cuda", "--workload", "matmul", "--steps", "1", "--warmup", "1"])
    out = capsys.readouterr().out
    assert "no CUDA GPU available" in out and "Traceback" not in out


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
