"""Initialisers: PyTorch's formulas for bounds and standard deviations, in place, on every device."""
import math

import numpy as np
import pytest

import deepcore as dc
from deepcore.nn import init


def test_calculate_gain_table():
    assert init.calculate_gain("relu") == pytest.approx(math.sqrt(2))
    assert init.calculate_gain("tanh") == pytest.approx(5 / 3)
    assert init.calculate_gain("leaky_relu", 0.2) == pytest.approx(math.sqrt(2 / 1.04))
    with pytest.raises(ValueError, match="'swish'"):
        init.calculate_gain("swish")


def test_uniform_normal_constant_in_place(device):
    t = dc.empty(200, 100, device=device)
    data = t.data
    assert init.uniform_(t, -2, 3) is t and t.data is data
    v = t.numpy()
    assert v.min() >= -2 and v.max() < 3 and abs(v.mean() - 0.5) < 0.05
    init.normal_(t, 1.0, 0.5)
    assert abs(t.numpy().mean() - 1) < 0.02 and abs(t.numpy().std() - 0.5) < 0.02
    init.constant_(t, 0.3)
    assert np.all(t.numpy() == np.float32(0.3))
    assert init.zeros_(t).numpy().sum() == 0 and init.ones_(t).numpy().mean() == 1


@pytest.mark.parametrize("shape", [(300, 200), (64, 16, 3, 3)])
def test_xavier_and_kaiming_statistics(shape):
    t = dc.empty(*shape)
    fan_in = shape[1] * int(np.prod(shape[2:]))
    fan_out = shape[0] * int(np.prod(shape[2:]))
    init.xavier_uniform_(t, gain=2.0)
    bound = 2.0 * math.sqrt(6 / (fan_in + fan_out))
    assert np.abs(t.numpy()).max() <= bound and np.abs(t.numpy()).max() > 0.95 * bound
    init.xavier_normal_(t)
    assert t.numpy().std() == pytest.approx(math.sqrt(2 / (fan_in + fan_out)), rel=0.05)
    init.kaiming_uniform_(t, a=math.sqrt(5))  # PyTorch's Linear/Conv default: bound = 1/sqrt(fan_in)
    assert np.abs(t.numpy()).max() <= 1 / math.sqrt(fan_in) + 1e-7
    init.kaiming_normal_(t, mode="fan_out", nonlinearity="relu")
    assert t.numpy().std() == pytest.approx(math.sqrt(2 / fan_out), rel=0.05)
    with pytest.raises(ValueError, match="fan_in"):
        init.kaiming_normal_(t, mode="fan_avg")


@pytest.mark.parametrize("shape", [(5, 3), (3, 5), (4, 2, 2)])
def test_orthogonal(shape, device):
    t = dc.empty(*shape, device=device)
    init.orthogonal_(t, gain=2.0)
    m = t.numpy().reshape(shape[0], -1) / 2.0
    small = m @ m.T if shape[0] <= m.shape[1] else m.T @ m
    np.testing.assert_allclose(small, np.eye(small.shape[0]), atol=1e-5)


def test_fan_needs_2d():
    with pytest.raises(ValueError, match=r"at least 2 dimensions, got shape \(5,\)"):
        init.xavier_uniform_(dc.empty(5))
