"""Backend pieces: device parsing, array transfer, BLAS thread control."""
import numpy as np
import pytest

import deepcore as dc
from deepcore.backend import device, device_of, to_device
from deepcore.backend.threads import blas_threads, single_threaded_blas


def test_device_parsing_and_equality():
    assert device("cpu") == "cpu" and str(device(None)) == "cpu" and device(device("cpu")) is device("cpu")
    with pytest.raises(TypeError, match="device must be"):
        device(3)


def test_to_device_and_device_of(device):
    a = np.arange(4.0)
    b = to_device(a, dc.device(device))
    assert device_of(b) == dc.device(device)
    np.testing.assert_array_equal(to_device(b, dc.device("cpu")), a)


def test_single_threaded_blas_restores_thread_count():
    before = blas_threads()
    with single_threaded_blas():
        assert blas_threads() == 1
    assert blas_threads() == before
    with pytest.raises(ZeroDivisionError):
        with single_threaded_blas():
            1 / 0
    assert blas_threads() == before
