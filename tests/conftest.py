"""Shared fixtures: every device-aware test runs on ``cpu`` and on ``cuda``.

``cuda`` is a real GPU when CuPy sees one, or the emulated CUDA device with ``--emulate-cuda``
(tests/emulated_cuda: a NumPy-backed stand-in for CuPy that counts launches, syncs and copies).
deepcore is imported only after the option is read, so the stand-in can take ``cupy``'s place.
"""
import os
import sys
from pathlib import Path

import numpy as np
import pytest

EMULATED_CUDA_DIR = Path(__file__).resolve().parent / "emulated_cuda"


def pytest_addoption(parser):
    parser.addoption("--emulate-cuda", action="store_true",
                     help="run the cuda tests on the emulated CUDA device (tests/emulated_cuda)")
    parser.addoption("--no-fast-paths", action="store_true",
                     help="switch every fast path off: ops run their generic implementations only")


def pytest_configure(config):
    if str(EMULATED_CUDA_DIR) not in sys.path:
        sys.path.append(str(EMULATED_CUDA_DIR))  # cupy_emulation importable (the stand-in only once activated)
    if config.getoption("--emulate-cuda"):
        import cupy_emulation
        cupy_emulation.activate()
    if config.getoption("--no-fast-paths"):
        os.environ["DEEPCORE_FAST_PATHS"] = "0"  # read when deepcore.backend.fastpath is imported


def pytest_report_header(config):
    import deepcore as dc
    if not dc.cuda.is_available():
        return "cuda: none (cuda tests skip; use --emulate-cuda for the emulated device)"
    import cupy_emulation
    return "cuda: emulated device (tests/emulated_cuda)" if cupy_emulation.is_active() else "cuda: real GPU"


@pytest.fixture(params=["cpu", "cuda"])
def device(request):
    if request.param == "cuda":
        import deepcore as dc
        if not dc.cuda.is_available():
            pytest.skip("no CUDA GPU (run with --emulate-cuda to use the emulated device)")
    return request.param


@pytest.fixture(autouse=True)
def _seed():
    import deepcore as dc
    dc.manual_seed(0)
    np.random.seed(0)
    dc.backend.index_checks.clear()  # a test's unread device-side index error must not leak into the next
