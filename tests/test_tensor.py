"""Tensor creation, attributes, conversion, devices and dtypes."""
import numpy as np
import pytest

import deepcore as dc


def test_tensor_from_python_defaults():
    x = dc.tensor([[1., 2.]], requires_grad=True)
    assert x.shape == (1, 2) and x.ndim == 2 and x.size == 2
    assert x.dtype == dc.float32 and x.requires_grad and x.is_leaf and x.grad is None
    assert dc.tensor([1, 2]).dtype == dc.int64
    assert dc.tensor([True, False]).dtype == dc.bool
    assert dc.tensor(3.5).shape == ()


def test_tensor_copies_numpy_but_from_numpy_shares():
    a = np.arange(3.0)
    t = dc.tensor(a)
    a[0] = 100
    assert t.tolist() == [0.0, 1.0, 2.0] and t.dtype == dc.float64
    s = dc.from_numpy(a)
    a[1] = 7
    assert s.tolist() == [100.0, 7.0, 2.0]


def test_tensor_from_tensor_and_nested_tensors():
    t = dc.tensor([1.0, 2.0])
    assert dc.tensor(t).tolist() == [1.0, 2.0]
    assert dc.tensor([dc.tensor(1.0), dc.tensor(2.0)]).tolist() == [1.0, 2.0]


def test_creation_functions(device):
    assert dc.zeros(2, 3, device=device).shape == (2, 3)
    assert dc.ones((2, 3), device=device).numpy().sum() == 6
    assert dc.full((2,), 7.).tolist() == [7.0, 7.0]
    assert dc.empty(4, device=device).shape == (4,)
    assert dc.arange(0, 10, 2, device=device).tolist() == [0, 2, 4, 6, 8]
    assert dc.arange(0, 10, 2).dtype == dc.int64
    assert dc.arange(0.0, 1.0, 0.5).dtype == dc.float32
    np.testing.assert_allclose(dc.linspace(0, 1, 5, device=device).numpy(), [0, .25, .5, .75, 1])
    np.testing.assert_array_equal(dc.eye(3, device=device).numpy(), np.eye(3))
    r = dc.rand(1000, device=device).numpy()
    assert r.dtype == np.float32 and 0 <= r.min() and r.max() < 1 and abs(r.mean() - 0.5) < 0.05
    n = dc.randn(2000, device=device, dtype=dc.float64).numpy()
    assert n.dtype == np.float64 and abs(n.mean()) < 0.1 and abs(n.std() - 1) < 0.1
    ri = dc.randint(0, 10, (50,), device=device).numpy()
    assert ri.dtype == np.int64 and ri.min() >= 0 and ri.max() < 10
    x = dc.randn(2, 3, device=device)
    assert dc.zeros_like(x).shape == (2, 3) and dc.ones_like(x).numpy().sum() == 6
    assert dc.zeros_like(x).device == x.device


def test_manual_seed_reproducible(device):
    dc.manual_seed(123)
    a = dc.randn(5, device=device).numpy()
    dc.manual_seed(123)
    b = dc.randn(5, device=device).numpy()
    np.testing.assert_array_equal(a, b)


def test_item_tolist_numpy():
    t = dc.tensor([[1.5]])
    assert t.item() == 1.5 and t.tolist() == [[1.5]]
    assert isinstance(t.numpy(), np.ndarray)
    with pytest.raises(ValueError, match=r"\(2,\)"):
        dc.tensor([1., 2.]).item()


def test_to_and_astype_are_differentiable():
    x = dc.tensor([1.0, 2.0], requires_grad=True)
    y = x.to(dc.float64)
    assert y.dtype == dc.float64
    (y * y).backward(dc.ones(2, dtype=dc.float64))
    assert x.grad.dtype == dc.float32 and x.grad.tolist() == [2.0, 4.0]
    z = x.astype("float64")
    assert z.dtype == dc.float64 and x.to("cpu") is x


def test_unknown_dtype_and_device_name_the_value():
    with pytest.raises(ValueError, match="'float128'.*accepted"):
        dc.zeros(2, dtype="float128")
    with pytest.raises(ValueError, match="'tpu'.*'cpu', 'cuda' or 'cuda:N'"):
        dc.device("tpu")


@pytest.mark.skipif(dc.cuda.is_available(), reason="checks the message without a GPU")
def test_cuda_unavailable_message():
    assert dc.cuda.is_available() is False and dc.cuda.device_count() == 0
    with pytest.raises(RuntimeError, match="cuda"):
        dc.zeros(2, device="cuda")


def test_int_tensor_cannot_require_grad():
    with pytest.raises(RuntimeError, match="floating"):
        dc.tensor([1, 2], requires_grad=True)


def test_detach_and_requires_grad_():
    x = dc.tensor([1.0], requires_grad=True)
    y = x * 2
    d = y.detach()
    assert not d.requires_grad and d.is_leaf and np.shares_memory(d.data, y.data)
    z = dc.tensor([1.0]).requires_grad_()
    assert z.requires_grad


def test_repr_and_protocols():
    x = dc.tensor([1.0, 2.0], requires_grad=True)
    assert "requires_grad=True" in repr(x)
    assert len(x) == 2 and [float(v) for v in x] == [1.0, 2.0]
    assert np.asarray(x).tolist() == [1.0, 2.0]
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(x)


def test_inplace_rules():
    w = dc.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="in-place"):
        w -= 1.0
    with dc.no_grad():
        w -= dc.tensor([1.0, 1.0])
    assert w.tolist() == [0.0, 1.0] and w.requires_grad and w.is_leaf
    t = dc.zeros(3)
    t[1] = 5.0
    assert t.tolist() == [0.0, 5.0, 0.0]
