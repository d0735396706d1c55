"""Shared fixtures: every device-aware test runs on ``cpu`` and, when a GPU is present, on ``cuda``."""
import numpy as np
import pytest

import deepcore as dc

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not dc.cuda.is_available(),
                                                                 reason="no CUDA GPU"))]


@pytest.fixture(params=DEVICES)
def device(request):
    return request.param


@pytest.fixture(autouse=True)
def _seed():
    dc.manual_seed(0)
    np.random.seed(0)
