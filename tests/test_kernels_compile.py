"""Every CUDA source in kernels/ compiles with nvcc (how CI checks kernels on machines without a GPU)."""
import shutil
import subprocess

import pytest

from deepcore.backend import kernel_sources

NVCC = shutil.which("nvcc")
SOURCES = kernel_sources()


def test_kernel_sources_exist():
    names = {p.name for p in SOURCES}
    assert {"conv.cu", "pool.cu"} <= names


@pytest.mark.skipif(NVCC is None, reason="nvcc not on PATH")
@pytest.mark.parametrize("source", SOURCES, ids=[p.name for p in SOURCES])
def test_kernel_compiles(source, tmp_path):
    # The same language level as deepcore.backend.get_kernel (cupy.RawModule with -std=c++17).
    cmd = [NVCC, "-arch=sm_90", "-std=c++17", "-cubin", "-o", str(tmp_path / (source.stem + ".cubin")), str(source)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"nvcc failed on {source.name}:\n{proc.stderr}"
