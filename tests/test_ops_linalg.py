"""Linear algebra beyond the registry (tests/registry/linalg.py holds matmul/dot/outer/einsum forward, gradient
and torch cases): NumPy operands, needed-only gradients, errors (ShapeError), empty inner dimensions, the fused
linear and the float32 matmul precision switch."""
import numpy as np
import pytest
from harness import check_forward, check_grad

import deepcore as dc
from deepcore.errors import ShapeError
from deepcore.ops.linalg import linear

DTYPES = [np.float32, np.float64]

def test_matmul_with_numpy_operand():
    a, b = np.random.standard_normal((2, 3)), np.random.standard_normal((3, 4))
    np.testing.assert_allclose((dc.tensor(a) @ b).numpy(), a @ b)   # __matmul__
    np.testing.assert_allclose((a @ dc.tensor(b)).numpy(), a @ b)   # __rmatmul__ (ndarray defers to Tensor)


def test_matmul_gradient_only_where_needed(device):
    a = dc.tensor(np.random.standard_normal((4, 2, 3)), device=device, requires_grad=True)
    b = dc.tensor(np.random.standard_normal((3, 5)), device=device)
    (a @ b).sum().backward()
    assert b.grad is None
    np.testing.assert_allclose(a.grad.numpy(), np.broadcast_to(b.numpy().sum(axis=1), (4, 2, 3)))


@pytest.mark.parametrize("sa,sb,msg", [
    ((3, 4), (5, 6), r"matmul: shapes \(3, 4\) and \(5, 6\) do not align"),
    ((3,), (4,), r"matmul: shapes \(3,\) and \(4,\) do not align"),
    ((2, 2, 3), (4, 3, 2), r"matmul: batch dimensions of shapes \(2, 2, 3\) and \(4, 3, 2\) cannot be broadcast"),
    ((), (3,), r"matmul: both operands need at least one dimension"),
])
def test_matmul_errors(sa, sb, msg, device):
    with pytest.raises(ShapeError, match=msg):
        dc.matmul(dc.ones(sa, device=device), dc.ones(sb, device=device))


def test_dot_outer_errors(device):
    with pytest.raises(ShapeError, match=r"dot: expected two 1-D tensors, got shapes \(2, 2\) and \(4,\)"):
        dc.dot(dc.ones(2, 2, device=device), dc.ones(4, device=device))
    with pytest.raises(ShapeError, match=r"dot: shapes \(3,\) and \(4,\) do not align"):
        dc.dot(dc.ones(3, device=device), dc.ones(4, device=device))
    with pytest.raises(ShapeError, match=r"outer: expected two 1-D tensors"):
        dc.outer(dc.ones(2, 2, device=device), dc.ones(3, device=device))


@pytest.mark.parametrize("sa,sb", [((2, 3, 0), (0, 5)), ((0,), (0,)), ((3, 0), (0,)), ((2, 1, 3, 0), (4, 0, 2))])
def test_matmul_empty_inner_dimension_gives_zeros(sa, sb, device):
    """Issue 14.6: ``(2, 3, 0) @ (0, 5)`` is zeros of shape (2, 3, 5), as in torch, with empty gradients."""
    torch = pytest.importorskip("torch")
    a = dc.zeros(sa, device=device, requires_grad=True)
    b = dc.zeros(sb, device=device, requires_grad=True)
    y = a @ b
    expect = torch.zeros(sa) @ torch.zeros(sb)
    assert y.shape == tuple(expect.shape) and y.dtype == dc.float32
    np.testing.assert_array_equal(y.numpy(), np.zeros(y.shape))
    y.backward(dc.ones(y.shape, device=device))
    assert a.grad.shape == sa and b.grad.shape == sb


def test_einsum_errors(device):
    a, b = dc.ones(2, 3, device=device), dc.ones(4, 5, device=device)
    with pytest.raises(ShapeError, match=r"einsum: subscript 'j' has size 3 in one operand and 4 in operand 1"):
        dc.einsum("ij,jk->ik", a, b)
    with pytest.raises(ShapeError, match=r"einsum: subscripts 'ijk' name 3 dimension\(s\) but operand 0 has shape"):
        dc.einsum("ijk->i", a)
    with pytest.raises(ValueError, match=r"einsum: equation 'ij,jk' has 2 operand\(s\) but 1 were given"):
        dc.einsum("ij,jk", a)
    with pytest.raises(ValueError, match=r"output subscript\(s\) 'z'"):
        dc.einsum("ij->z", a)
    with pytest.raises(ValueError, match="repeats in the output"):
        dc.einsum("ij->ii", a)
    with pytest.raises(ValueError, match="invalid subscript"):
        dc.einsum("i1->i", a)
    assert dc.einsum("ij,kl", a, b).shape == (2, 3, 4, 5)
    assert dc.einsum("ij->", [a]).shape == ()


# --- linear -----------------------------------------------------------------------------------------
def _np_linear(x, w, b=None):
    y = x @ w.T
    return y if b is None else y + b


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("xshape", [(3,), (4, 3), (2, 4, 3), (0, 3)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear(xshape, bias, dtype, device):
    x, w, b = np.random.standard_normal(xshape), np.random.standard_normal((5, 3)), np.random.standard_normal(5)
    arrays = [x, w, b] if bias else [x, w]
    out = check_forward(linear, _np_linear, arrays, device, dtype)
    assert out.shape == xshape[:-1] + (5,)
    if x.size:
        check_grad(linear, arrays, device)


def test_linear_matches_torch(device):
    torch = pytest.importorskip("torch")
    x, w, b = np.random.standard_normal((4, 3)), np.random.standard_normal((2, 3)), np.random.standard_normal(2)
    tx, tw, tb = (torch.tensor(v, requires_grad=True) for v in (x, w, b))
    dx, dw, db = (dc.tensor(v, device=device, requires_grad=True) for v in (x, w, b))
    g = np.random.standard_normal((4, 2))
    torch.nn.functional.linear(tx, tw, tb).backward(torch.tensor(g))
    y = linear(dx, dw, db)
    y.backward(dc.tensor(g, device=device))
    np.testing.assert_allclose(y.numpy(), torch.nn.functional.linear(tx, tw, tb).detach().numpy(), rtol=1e-12)
    for d, t in ((dx, tx), (dw, tw), (db, tb)):
        np.testing.assert_allclose(d.grad.numpy(), t.grad.numpy(), rtol=1e-12)


def test_linear_is_one_function_and_skips_unneeded_grads(device):
    x = dc.tensor(np.random.standard_normal((4, 3)), device=device)  # input needs no grad
    w = dc.tensor(np.random.standard_normal((2, 3)), device=device, requires_grad=True)
    b = dc.tensor(np.zeros(2), device=device)                         # bias needs no grad
    y = linear(x, w, b)
    assert type(y.grad_fn).__name__ == "Linear"
    assert y.grad_fn.saved_tensors[1] is None  # the weight is not kept: no input gradient is needed
    y.sum().backward()
    assert x.grad is None and b.grad is None
    np.testing.assert_allclose(w.grad.numpy(), np.broadcast_to(x.numpy().sum(0), (2, 3)))


@pytest.mark.parametrize("xs,ws,bs,msg", [
    ((4, 3), (5, 6), None, r"linear: input of shape \(4, 3\) does not match weight of shape \(5, 6\)"),
    ((4, 3), (3,), None, r"linear: weight must be 2-D \(out_features, in_features\), got shape \(3,\)"),
    ((4, 3), (5, 3), (4,), r"linear: bias of shape \(4,\) does not match weight of shape \(5, 3\)"),
])
def test_linear_errors(xs, ws, bs, msg, device):
    with pytest.raises(ShapeError, match=msg):
        linear(dc.ones(xs, device=device), dc.ones(ws, device=device),
               None if bs is None else dc.ones(bs, device=device))


@pytest.mark.parametrize("fn,shapes", [
    (dc.matmul, [(2, 3), (3, 4)]), (dc.matmul, [(5, 2, 3), (3, 4)]), (dc.matmul, [(3,), (3,)]),
    (dc.dot, [(3,), (3,)]), (dc.outer, [(2,), (3,)]), (linear, [(4, 3), (2, 3), (2,)]),
])
def test_float32_stays_float32(fn, shapes, device):
    ts = [dc.tensor(np.random.standard_normal(s).astype(np.float32), device=device, requires_grad=True)
          for s in shapes]
    y = fn(*ts)
    assert y.dtype == dc.float32
    grads = dc.autograd.grad(y, ts, dc.ones(y.shape, device=device))
    assert all(g.dtype == dc.float32 for g in grads)


# --- float32 matmul precision (TF32 on the GPU), as torch.set_float32_matmul_precision ------------------------
def test_float32_matmul_precision_switch(monkeypatch):
    import types
    from deepcore.backend import blas
    calls = []
    linalg = types.SimpleNamespace(COMPUTE_TYPE_DEFAULT=1, COMPUTE_TYPE_TF32=7)
    fake_cupy = types.SimpleNamespace(_core=types.SimpleNamespace(
        set_compute_type=lambda dtype, kind: calls.append((np.dtype(dtype), kind)), _routines_linalg=linalg))
    monkeypatch.setattr(blas, "cupy_module", lambda: fake_cupy)
    monkeypatch.setattr(blas, "cuda_available", lambda: True)
    monkeypatch.setattr(blas, "_precision", ["highest"])
    assert dc.get_float32_matmul_precision() == "highest"          # off by default, as in PyTorch
    dc.set_float32_matmul_precision("high")
    assert dc.get_float32_matmul_precision() == "high" and calls == [(np.dtype(np.float32), 7)]
    dc.set_float32_matmul_precision("medium")
    dc.set_float32_matmul_precision("highest")
    assert calls[1:] == [(np.dtype(np.float32), 7), (np.dtype(np.float32), 1)]
    for bad in ("High", "tf32", None, 32):
        with pytest.raises(ValueError, match=r"precision must be one of 'highest', 'high', 'medium', got"):
            dc.set_float32_matmul_precision(bad)
    assert dc.get_float32_matmul_precision() == "highest" and len(calls) == 3


def test_float32_matmul_precision_leaves_cpu_and_emulated_products_alone(device, monkeypatch):
    from deepcore.backend import blas
    monkeypatch.setattr(blas, "_precision", ["highest"])
    a = dc.tensor(np.random.default_rng(0).standard_normal((5, 7)).astype(np.float32), device=device)
    b = dc.tensor(np.random.default_rng(1).standard_normal((7, 3)).astype(np.float32), device=device)
    full = (a @ b).numpy()
    try:
        dc.set_float32_matmul_precision("high")                      # no TF32 on the CPU nor the emulated device
        np.testing.assert_array_equal((a @ b).numpy(), full)
    finally:
        dc.set_float32_matmul_precision("highest")
