"""Scans and sorts: what the operator registry (tests/registry/scan_sort.py) cannot express.

Forward, gradcheck, dtypes, devices and PyTorch parity run from the registry. Here: named tuples, gradients
written out (cumprod with zeros, cummax's repeated indices, sort's permutation), tie and NaN rules, argument
errors, and the GPU's log-step scan against the CPU's on axes of awkward lengths.
"""
import numpy as np
import pytest

import deepcore as dc
from deepcore.errors import ShapeError


def test_cumsum_cumprod_basics(device):
    x = dc.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], device=device)
    assert dc.cumsum(x, axis=1).tolist() == [[1, 3, 6], [4, 9, 15]]
    assert x.cumsum(dim=0).tolist() == [[1, 2, 3], [5, 7, 9]]
    assert dc.cumsum(x).tolist() == [1, 3, 6, 10, 15, 21]              # axis=None: flattened, as NumPy
    assert x.cumprod(1).tolist() == [[1, 2, 6], [4, 20, 120]]
    i = dc.tensor(np.array([1, 2, 3], dtype=np.int32), device=device)
    assert dc.cumsum(i, 0).dtype == dc.cumprod(i, 0).dtype == dc.int64   # as torch
    assert dc.cumsum(x, 1, dtype=dc.float64).dtype == dc.float64
    assert dc.cumsum(dc.tensor(2.5, device=device), 0).shape == ()


def test_cumsum_gradient_is_a_reverse_cumsum(device):
    x = dc.tensor([1.0, 2.0, 3.0, 4.0], dtype=dc.float64, device=device, requires_grad=True)
    dc.cumsum(x, 0).backward(dc.tensor([1.0, 10.0, 100.0, 1000.0], dtype=dc.float64, device=device))
    assert x.grad.tolist() == [1111.0, 1110.0, 1100.0, 1000.0]


@pytest.mark.parametrize("values,expect", [
    ([2.0, 0.0, 3.0, 0.0, 4.0], [1.0, 22.0, 0.0, 0.0, 0.0]),    # torch.cumprod's gradient, two zeros
    ([2.0, 3.0, 0.0, 5.0], [1 + 2 * 3, 2 * 2, 3 * 2 * 3 + 4 * 2 * 3 * 5, 0.0]),
    ([0.0, 0.0, 0.0], [1.0, 0.0, 0.0]),
])
def test_cumprod_gradient_with_zeros(values, expect, device):
    x = dc.tensor(values, dtype=dc.float64, device=device, requires_grad=True)
    g = dc.tensor(np.arange(1.0, len(values) + 1), dtype=dc.float64, device=device)
    dc.cumprod(x, 0).backward(g)
    np.testing.assert_allclose(x.grad.numpy(), expect)
    assert dc.gradcheck(lambda t: dc.cumprod(t, 0), [dc.tensor(values, dtype=dc.float64, device=device)])


def test_cumprod_gradient_with_zeros_matches_torch(device):
    torch = pytest.importorskip("torch")
    a = np.array([[0.0, 2.0, 0.0, 3.0], [1.5, 0.0, 2.0, 0.5], [1.0, 2.0, 3.0, 4.0], [0.0, 0.0, 1.0, 2.0]])
    w = np.random.default_rng(0).standard_normal(a.shape)
    x = dc.tensor(a, dtype=dc.float64, device=device, requires_grad=True)
    (dc.cumprod(x, 1) * dc.tensor(w, device=device)).sum().backward()
    t = torch.tensor(a, requires_grad=True)
    (torch.cumprod(t, 1) * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize("name", ["cummax", "cummin"])
def test_cummax_named_tuple_ties_and_nan(name, device):
    a = [1.0, 3.0, 3.0, 2.0, 3.0, np.nan, 5.0, np.nan]
    out = getattr(dc, name)(dc.tensor(a, device=device), 0)
    assert type(out).__name__ == name
    values, indices = out
    assert out.values is values and out.indices is indices and indices.dtype == dc.int64
    if name == "cummax":   # PyTorch: the latest of equal values, NaN propagates with its own index
        np.testing.assert_array_equal(values.numpy(), [1, 3, 3, 3, 3, np.nan, np.nan, np.nan])
        assert indices.tolist() == [0, 1, 2, 2, 4, 5, 5, 7]
    else:
        np.testing.assert_array_equal(values.numpy(), [1, 1, 1, 1, 1, np.nan, np.nan, np.nan])
        assert indices.tolist() == [0, 0, 0, 0, 0, 5, 5, 7]


def test_cummax_gradient_accumulates_on_repeated_indices(device):
    x = dc.tensor([[1.0, 3.0, 2.0, 0.5], [4.0, 1.0, 2.0, 5.0]], dtype=dc.float64, device=device,
                  requires_grad=True)
    values, indices = x.cummax(dim=1)
    assert indices.tolist() == [[0, 1, 1, 1], [0, 0, 0, 3]]
    values.backward(dc.tensor([[1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 3.0, 4.0]], dtype=dc.float64, device=device))
    assert x.grad.tolist() == [[1.0, 9.0, 0.0, 0.0], [6.0, 0.0, 0.0, 4.0]]


def test_logcumsumexp_is_stable(device):
    a = np.array([[1.0, -1000.0, 1000.0, 2.0]], dtype=np.float32)
    x = dc.tensor(a, device=device, requires_grad=True)
    y = dc.logcumsumexp(x, axis=1)
    np.testing.assert_allclose(y.numpy(), [[1.0, 1.0, 1000.0, 1000.0]], rtol=1e-6)
    y.backward(dc.tensor([[1.0, -2.0, 3.0, -4.0]], device=device))
    g = x.grad.numpy()
    assert np.all(np.isfinite(g))
    # d y_i / d x_j = exp(x_j - y_i) for j <= i: only x_0 (through y_0, y_1) and x_2 (through y_2, y_3) count
    # (in float32 at magnitude 1000 the log-space sums hold about 1e-4, as PyTorch's: -0.9999 there too)
    np.testing.assert_allclose(g, [[1.0 - 2.0, 0.0, 3.0 - 4.0, 0.0]], atol=2e-4)


def test_sort_named_tuple_and_stability(device):
    x = dc.tensor([3.0, 1.0, 3.0, 1.0, 2.0], device=device)
    values, indices = dc.sort(x)
    assert values.tolist() == [1, 1, 2, 3, 3] and indices.tolist() == [1, 3, 4, 0, 2]
    out = x.sort(descending=True, stable=True)
    assert type(out).__name__ == "sort"
    assert out.values.tolist() == [3, 3, 2, 1, 1] and out.indices.tolist() == [0, 2, 4, 1, 3]   # equal: in order
    assert dc.argsort(x, descending=True).tolist() == [0, 2, 4, 1, 3]


def test_sort_puts_nan_last_ascending_first_descending(device):
    x = dc.tensor([3.0, np.nan, 1.0, np.nan, 2.0], device=device)
    assert x.argsort().tolist() == [2, 4, 0, 1, 3]
    assert x.argsort(descending=True).tolist() == [1, 3, 0, 4, 2]


def test_sort_gradient_scatters_back(device):
    x = dc.tensor([[0.5, -1.0, 2.0], [3.0, 1.0, 2.0]], dtype=dc.float64, device=device, requires_grad=True)
    values, _ = dc.sort(x, dim=1, descending=True)
    values.backward(dc.tensor([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]], dtype=dc.float64, device=device))
    assert x.grad.tolist() == [[2.0, 3.0, 1.0], [1.0, 3.0, 2.0]]


def test_topk(device):
    x = dc.tensor([[1.0, 5.0, 3.0, 4.0], [8.0, 6.0, 7.0, 0.0]], dtype=dc.float64, device=device,
                  requires_grad=True)
    out = dc.topk(x, 2)
    assert type(out).__name__ == "topk"
    assert out.values.tolist() == [[5, 4], [8, 7]] and out.indices.tolist() == [[1, 3], [0, 2]]
    low = x.topk(1, dim=0, largest=False, sorted=False)
    assert low.values.tolist() == [[1, 5, 3, 0]] and low.indices.tolist() == [[0, 0, 0, 1]]
    out.values.sum().backward()
    assert x.grad.tolist() == [[0, 1, 0, 1], [1, 0, 1, 0]]


def test_topk_errors(device):
    x = dc.ones(2, 3, device=device)
    with pytest.raises(ShapeError, match=r"topk: k=4 is out of range for axis 1 of size 3 \(tensor of shape \(2, 3\)"):
        dc.topk(x, 4)
    with pytest.raises(RuntimeError, match="out of range"):   # torch raises RuntimeError
        x.topk(-1)
    with pytest.raises(TypeError, match="topk: k must be an int"):
        dc.topk(x, 1.5)
    with pytest.raises(TypeError, match="either axis= or dim="):
        dc.sort(x, axis=0, dim=1)
    with pytest.raises(TypeError, match="cumsum: axis must be an int"):
        dc.cumsum(x, axis=(0, 1))


@pytest.mark.parametrize("n", [1, 2, 3, 7, 37])
def test_device_scans_match_cpu_on_awkward_lengths(n, device):
    """On CuPy the scans without a CuPy accumulate (cummax, cummin, logcumsumexp) take log2(n) steps."""
    a = np.random.default_rng(n).standard_normal((3, n)).round(1)   # rounding makes ties
    w = np.random.default_rng(1).standard_normal((3, n))
    for name in ["cummax", "cummin", "logcumsumexp", "cumprod"]:
        outs = []
        for dev in ["cpu", device]:
            x = dc.tensor(a, dtype=dc.float64, device=dev, requires_grad=True)
            y = getattr(dc, name)(x, dim=1)
            y = y.values if isinstance(y, tuple) else y
            (y * dc.tensor(w, device=dev)).sum().backward()
            res = getattr(dc, name)(x.detach(), dim=1)
            outs.append([t.numpy() for t in (res if isinstance(res, tuple) else (res,))] + [x.grad.numpy()])
        for got, want in zip(*outs):
            np.testing.assert_allclose(got, want, rtol=1e-12, err_msg=f"{name} n={n} on {device}")
