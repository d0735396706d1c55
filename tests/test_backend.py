"""Backend pieces: device parsing, array transfer, BLAS threads, host-memory policy, direct BLAS GEMM."""
import os
import subprocess
import sys

import numpy as np
import pytest

import deepcore as dc
from deepcore.backend import device, device_of, to_device


def test_device_parsing_and_equality():
    assert device("cpu") == "cpu" and str(device(None)) == "cpu" and device(device("cpu")) is device("cpu")
    with pytest.raises(TypeError, match="device must be"):
        device(3)


def test_to_device_and_device_of(device):
    a = np.arange(4.0)
    b = to_device(a, dc.device(device))
    assert device_of(b) == dc.device(device)
    np.testing.assert_array_equal(to_device(b, dc.device("cpu")), a)


def _run_python(code, **env):
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **env})
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_thread_count_follows_omp_num_threads():
    out = _run_python("from deepcore.backend.threads import blas_threads; from deepcore.bench.runner import "
                      "thread_count; print(blas_threads(), thread_count())", OMP_NUM_THREADS="1")
    assert out == ["1", "1"]


# --- backend.host_memory: freed arrays stay in the process -------------------------------------------
_FAULTS = """
import resource, deepcore as dc
from deepcore.backend import host_memory
from deepcore.nn import functional as F
lstm, head = dc.nn.LSTM(16, 128, batch_first=True), dc.nn.Linear(128, 10)
opt = dc.optim.Adam([*lstm.parameters(), *head.parameters()])
x, y = dc.randn(64, 32, 16), dc.randint(0, 10, (64,))
def step():
    opt.zero_grad()
    out, _ = lstm(x)
    F.cross_entropy(head(out[:, -1]), y).backward()
    opt.step()
for _ in range(3):
    step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(5):
    step()
print(host_memory.apply_default(), (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) // 5)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc malloc policy")
def test_keep_freed_memory_removes_page_faults_of_a_training_step():
    kept, kept_faults = _run_python(_FAULTS)
    if kept != "True":
        pytest.skip("not glibc: mallopt is unavailable")
    default, default_faults = _run_python(_FAULTS, DEEPCORE_KEEP_FREED_MEMORY="0")
    assert default == "False"
    # The LSTM step's temporaries (~10 MB) are refaulted every step by glibc's defaults (~2000 faults here).
    assert int(kept_faults) < 50, f"{kept_faults} page faults per step with the policy, {default_faults} without"


def test_keep_freed_memory_rejects_bad_sizes():
    with pytest.raises(ValueError, match="trim_threshold"):
        dc.backend.keep_freed_memory(trim_threshold=-1)
    with pytest.raises(ValueError, match="mmap_threshold"):
        dc.backend.keep_freed_memory(mmap_threshold=1.5)


# --- backend.blas: the direct CBLAS GEMM used by the shifted-GEMM convolution --------------------------

from deepcore.backend import blas  # noqa: E402


def _blas_or_skip(dtype):
    if not blas.available(dtype):
        pytest.skip("no ILP64 CBLAS found next to NumPy")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("a_kind", ["plain", "transposed", "window"])
@pytest.mark.parametrize("b_kind", ["plain", "transposed", "window"])
def test_blas_gemm_matches_numpy_on_views(a_kind, b_kind, dtype):
    _blas_or_skip(dtype)
    rng = np.random.default_rng(0)

    def operand(kind, rows, cols):
        if kind == "plain":
            return rng.standard_normal((rows, cols)).astype(dtype)
        if kind == "transposed":
            return rng.standard_normal((cols, rows)).astype(dtype).T
        return rng.standard_normal((rows, cols + 9)).astype(dtype)[:, 4:4 + cols]

    a, b = operand(a_kind, 5, 7), operand(b_kind, 7, 6)
    big = rng.standard_normal((5, 11)).astype(dtype)
    c = big[:, 2:8]                                 # a window: ldc > columns
    want = 0.5 * (a.astype(np.float64) @ b) + 2.0 * c
    out = blas.gemm(a, b, c, alpha=0.5, beta=2.0)
    assert out is c
    np.testing.assert_allclose(big[:, 2:8], want, rtol=1e-5, atol=1e-5)
    untouched = big.copy()
    blas.gemm(a, b, c)                              # beta=0 overwrites, the rest of big stays
    np.testing.assert_allclose(c, a.astype(np.float64) @ b, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(big[:, :2], untouched[:, :2])
    np.testing.assert_array_equal(big[:, 8:], untouched[:, 8:])


def test_blas_gemm_errors_name_the_problem():
    _blas_or_skip(np.float32)
    a, b = np.ones((3, 4), np.float32), np.ones((4, 5), np.float32)
    with pytest.raises(ValueError, match=r"\(3, 4\) @ b \(5, 4\)"):
        blas.gemm(a, b.T.copy(), np.zeros((3, 5), np.float32))
    with pytest.raises(TypeError, match="float64"):
        blas.gemm(a, b.astype(np.float64), np.zeros((3, 5), np.float32))
    with pytest.raises(ValueError, match="unit stride"):
        blas.gemm(np.ones((3, 8), np.float32)[:, ::2], b, np.zeros((3, 5), np.float32))
    with pytest.raises(ValueError, match="c must be"):
        blas.gemm(a, b, np.zeros((5, 3), np.float32).T)
    with pytest.raises(ValueError, match="2-D"):
        blas.gemm(a.ravel(), b, np.zeros((3, 5), np.float32))
