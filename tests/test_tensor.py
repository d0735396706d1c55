"""Tensor creation, attributes, conversion, devices and dtypes."""
import numpy as np
import pytest

import deepcore as dc


def test_tensor_from_python_defaults():
    x = dc.tensor([[1., 2.]], requires_grad=True)
    assert x.shape == (1, 2) and x.ndim == 2 and x.numel() == 2 and x.size() == (1, 2)
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


# --- PyTorch spellings (issue 12) ------------------------------------------------------------------------------
def test_size_numel_dim(device):
    torch = pytest.importorskip("torch")
    for shape in [(2, 3), (), (0, 4, 1)]:
        x, t = dc.zeros(shape, device=device), torch.zeros(shape)
        assert x.size() == tuple(t.size()) and isinstance(x.size(), tuple) and isinstance(x.size(), dc.Size)
        assert x.numel() == t.numel() == x.nelement() and x.dim() == t.dim()
        for d in range(-len(shape), len(shape)):
            assert x.size(d) == t.size(d) and isinstance(x.size(d), int)
    x = dc.zeros(2, 3, device=device)
    assert x.size().numel() == 6 and x.element_size() == 4 and dc.zeros(2, dtype=dc.float64).element_size() == 8
    with pytest.raises(IndexError, match=r"size: dimension 2 is out of range for a tensor with 2 dimension\(s\)"):
        x.size(2)
    with pytest.raises(IndexError, match="0-d tensor"):
        dc.tensor(1.0).size(0)


def test_clone_contiguous(device):
    x = dc.tensor(np.arange(6.0).reshape(2, 3), device=device, requires_grad=True)
    c = x.clone()
    assert c.grad_fn is not None and not np.shares_memory(c.numpy(), x.numpy())
    assert x.contiguous() is x and x.is_contiguous()
    xt = x.T
    assert not xt.is_contiguous() and xt.contiguous().is_contiguous()
    np.testing.assert_array_equal(xt.contiguous().numpy(), np.arange(6.0).reshape(2, 3).T)
    (c * 2 + xt.contiguous().T).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.full((2, 3), 3.0))


@pytest.mark.parametrize("method", ["float", "double", "half", "int", "long", "bool", "bfloat16"])
def test_casts_match_torch(method, device):
    torch = pytest.importorskip("torch")
    a = np.array([[-1.7, 0.0, 2.5]])
    x = dc.tensor(a, device=device, requires_grad=True)
    t = torch.tensor(a, requires_grad=True)
    y, ty = getattr(x, method)(), getattr(t, method)()
    assert str(y.dtype) == str(ty.dtype).replace("torch.", "")
    assert y.requires_grad == ty.requires_grad
    np.testing.assert_array_equal(y.numpy().astype(np.float64), ty.detach().to(torch.float64).numpy())
    if y.requires_grad:
        y.sum().backward()
        ty.sum().backward()
        assert x.grad.dtype == dc.float64
        np.testing.assert_array_equal(x.grad.numpy(), t.grad.numpy())


def test_data_assignment(device):
    p = dc.tensor([1.0, 2.0], device=device, requires_grad=True)
    p.data = dc.tensor([3.0, 4.0], device=device)
    assert p.tolist() == [3.0, 4.0] and p.requires_grad and p.is_leaf
    p.data = dc.zeros(2, device=device).data
    assert p.tolist() == [0.0, 0.0]
    with pytest.raises(TypeError, match="data: expected a Tensor or a NumPy/CuPy array, got list"):
        p.data = [1.0, 2.0]


def test_manual_sgd_through_data_trains_like_torch(device):
    """``p.data -= lr * p.grad`` (the classic manual update) trains, step for step as in torch."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((16, 4)), rng.standard_normal((16, 1))
    model = dc.nn.Sequential(dc.nn.Linear(4, 8), dc.nn.Tanh(), dc.nn.Linear(8, 1)).to(dtype=dc.float64)
    model = model.to(device)
    tmodel = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1)).double()
    with torch.no_grad():
        for tp, p in zip(tmodel.parameters(), model.parameters()):
            tp.copy_(torch.tensor(p.numpy()))
    xs, ys = dc.tensor(x, device=device), dc.tensor(y, device=device)
    losses, tlosses = [], []
    for _ in range(20):
        for p in model.parameters():
            p.grad = None
        loss = ((model(xs) - ys) ** 2).mean()
        loss.backward()
        for p in model.parameters():
            p.data -= 0.1 * p.grad
        tmodel.zero_grad()
        tloss = ((tmodel(torch.tensor(x)) - torch.tensor(y)) ** 2).mean()
        tloss.backward()
        for tp in tmodel.parameters():
            tp.data -= 0.1 * tp.grad
        losses.append(loss.item())
        tlosses.append(tloss.item())
    assert losses[-1] < 0.7 * losses[0]
    np.testing.assert_allclose(losses, tlosses, rtol=1e-10)
    for p in model.parameters():
        assert p.device == dc.device(device) and p.is_leaf and p.requires_grad


@pytest.mark.parametrize("start,end,steps", [(0, 10, 4), (-10, 0, 4), (-7, 5, 6), (3, -4, 5), (0.5, 9.7, 7),
                                             (-5.5, -0.2, 9), (0, 1, 5), (5, 5, 1), (1, 2, 0)])
def test_integer_linspace_truncates_like_torch(start, end, steps, device):
    torch = pytest.importorskip("torch")
    for dt in ("int64", "int32"):
        ours = dc.linspace(start, end, steps, dtype=dt, device=device)
        theirs = torch.linspace(start, end, steps, dtype=getattr(torch, dt))
        assert ours.dtype == dt
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    assert dc.linspace(0, 10, 4, dtype=dc.int64).tolist() == [0, 3, 6, 10]


def test_arange_errors():
    with pytest.raises(ValueError, match=r"arange: step must be nonzero, got arange\(0, 10, 0\)"):
        dc.arange(0, 10, 0)
    with pytest.raises(ValueError, match="arange: the step -1 points away from end"):
        dc.arange(0, 10, -1)
    assert dc.arange(10, 0, -3).tolist() == [10, 7, 4, 1] and dc.arange(3, 3).shape == (0,)


def test_tensor_refuses_complex_and_object_data():
    for data in (np.array([1 + 2j]), [1 + 2j], np.complex64(1)):
        with pytest.raises(TypeError, match=r"complex data \(dtype complex(64|128)\).*no complex dtypes"):
            dc.tensor(data)
    with pytest.raises(TypeError, match=r"complex data"):
        dc.tensor(np.array([1 + 2j]), dtype=dc.float32)   # never drops the imaginary part silently
    with pytest.raises(TypeError, match=r"data of dtype object: expected numbers or bools"):
        dc.tensor(np.array([1, "a"], dtype=object))
    with pytest.raises(TypeError, match=r"dtype <U1"):
        dc.tensor(["a"])
