"""Indexing ops beyond the registry (tests/registry/indexing.py holds every op's forward, gradcheck and torch
cases): accumulation of repeated indices, where gradients must be zero, PyTorch's keyword spellings and the
errors (ShapeError for shapes, IndexError for out-of-range indices, TypeError for wrong dtypes)."""
import numpy as np
import pytest

import deepcore as dc
from deepcore.errors import ShapeError


def rnd(*shape):
    return np.random.standard_normal(shape)


def t(a, device, **kw):
    return dc.tensor(a, device=device, **kw)


# --- gradients -------------------------------------------------------------------------------------------------
def test_gather_repeated_indices_accumulate(device):
    x = t(np.arange(6.0).reshape(2, 3), device, requires_grad=True)
    y = dc.gather(x, 1, t(np.array([[0, 0, 0, 2], [1, 1, 2, 1]]), device))
    np.testing.assert_array_equal(y.numpy(), [[0, 0, 0, 2], [4, 4, 5, 4]])
    y.backward(dc.ones(2, 4, dtype=dc.float64, device=device))
    np.testing.assert_array_equal(x.grad.numpy(), [[3, 0, 1], [0, 3, 1]])


def test_index_select_and_unfold_accumulate(device):
    x = t(np.arange(5.0), device, requires_grad=True)
    x.index_select(0, t(np.array([4, 4, 0, 4]), device)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1, 0, 0, 0, 3])
    x.grad = None
    w = x.unfold(0, 3, 1)                    # windows [0..2], [1..3], [2..4]: the middle element is in all three
    assert w.shape == (3, 3)
    w.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1, 2, 3, 2, 1])


def test_scatter_gradients(device):
    """Overwritten positions pass no gradient to the input; src gets the gradient where it was written."""
    x = t(np.zeros((2, 3)), device, requires_grad=True)
    src = t(np.arange(1.0, 7.0).reshape(2, 3), device, requires_grad=True)
    index = t(np.array([[2, 0], [1, 2]]), device)
    y = x.scatter(1, index, src)
    np.testing.assert_array_equal(y.numpy(), [[2, 0, 1], [0, 4, 5]])
    g = np.arange(6.0).reshape(2, 3) + 1
    y.backward(t(g, device))
    np.testing.assert_array_equal(x.grad.numpy(), [[0, 2, 0], [4, 0, 0]])
    np.testing.assert_array_equal(src.grad.numpy(), [[3, 1, 0], [5, 6, 0]])
    # scatter_add: every src element reaches the output, the input's gradient passes through
    x.grad = src.grad = None
    y = dc.scatter_add(x, 1, t(np.array([[0, 0, 0], [2, 2, 1]]), device), src)
    np.testing.assert_array_equal(y.numpy(), [[6, 0, 0], [0, 6, 9]])
    y.backward(t(g, device))
    np.testing.assert_array_equal(x.grad.numpy(), g)
    np.testing.assert_array_equal(src.grad.numpy(), [[1, 1, 1], [6, 6, 5]])


def test_masked_fill_value_tensor_gets_gradient(device):
    x = t(rnd(2, 3), device, requires_grad=True)
    v = t(np.array(2.0), device, requires_grad=True)
    mask = t(np.array([[True, False, True], [False, False, True]]), device)
    y = x.masked_fill(mask, v)
    (y * t(np.arange(6.0).reshape(2, 3), device)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[0, 1, 0], [3, 4, 0]])
    assert v.grad.shape == () and v.grad.item() == 0 + 2 + 5


def test_repeat_interleave_counts_and_forms(device):
    torch = pytest.importorskip("torch")
    counts = np.array([1, 0, 3])
    np.testing.assert_array_equal(dc.repeat_interleave(t(counts, device)).numpy(),
                                  torch.repeat_interleave(torch.tensor(counts)).numpy())
    x = t(rnd(3, 2), device, requires_grad=True)
    y = x.repeat_interleave(t(counts, device), dim=0)
    assert y.shape == (4, 2)
    y.backward(t(np.arange(8.0).reshape(4, 2), device))
    np.testing.assert_array_equal(x.grad.numpy(), [[0, 1], [0, 0], [2 + 4 + 6, 3 + 5 + 7]])
    assert x.repeat_interleave(2, dim=1, output_size=4).shape == (3, 4)
    with pytest.raises(ShapeError, match="output_size=5"):
        x.repeat_interleave(2, dim=1, output_size=5)


def test_nonzero_as_tuple_indexes(device):
    a = np.array([[0.0, 1.5, 0.0], [2.0, 0.0, -1.0]])
    x = t(a, device)
    idx = x.nonzero(as_tuple=True)
    assert len(idx) == 2 and all(i.dtype == dc.int64 for i in idx)
    np.testing.assert_array_equal(x[idx].numpy(), a[np.nonzero(a)])
    np.testing.assert_array_equal(dc.nonzero(x).numpy(), np.argwhere(a))


def test_meshgrid_default_is_ij_like_torch(device):
    torch = pytest.importorskip("torch")
    a, b = np.arange(2.0), np.arange(3.0)
    for kw in ({}, {"indexing": "ij"}, {"indexing": "xy"}):
        ours = dc.meshgrid(t(a, device), t(b, device), **kw)
        theirs = torch.meshgrid(torch.tensor(a), torch.tensor(b), indexing=kw.get("indexing", "ij"))
        for o, e in zip(ours, theirs):
            np.testing.assert_array_equal(o.numpy(), e.numpy())
    assert [g.shape for g in dc.meshgrid([t(a, device), t(b, device)])] == [(2, 3), (2, 3)]


def test_flip_roll_keywords(device):
    x = t(np.arange(6.0).reshape(2, 3), device)
    np.testing.assert_array_equal(x.flip(dims=(0, 1)).numpy(), np.arange(6.0).reshape(2, 3)[::-1, ::-1])
    np.testing.assert_array_equal(dc.flip(x, 1).numpy(), np.arange(6.0).reshape(2, 3)[:, ::-1])
    np.testing.assert_array_equal(x.roll(1).numpy(), [[5, 0, 1], [2, 3, 4]])
    np.testing.assert_array_equal(x.roll(shifts=-1, dims=1).numpy(), [[1, 2, 0], [4, 5, 3]])


# --- errors -------------------------------------------------------------------------------------------------------
def test_gather_scatter_errors(device):
    x = t(rnd(2, 3), device)
    with pytest.raises(ShapeError, match=r"gather: index of shape \(2,\) must have as many dimensions as the input "
                                         r"of shape \(2, 3\)"):
        dc.gather(x, 1, t(np.array([0, 1]), device))
    with pytest.raises(ShapeError, match=r"gather: index of shape \(3, 1\) is larger than the input of shape "
                                         r"\(2, 3\) apart from dimension 1"):
        dc.gather(x, 1, t(np.zeros((3, 1), np.int64), device))
    with pytest.raises(TypeError, match="gather: index must be an integer tensor, got dtype float"):
        dc.gather(x, 1, t(np.zeros((2, 1)), device))
    with pytest.raises(IndexError, match="out of range"):
        dc.gather(x, 5, t(np.zeros((2, 1), np.int64), device))
    with pytest.raises(ShapeError, match=r"scatter: index of shape \(2, 2\) is larger than the src of shape \(2, 1\)"):
        x.scatter(1, t(np.zeros((2, 2), np.int64), device), t(rnd(2, 1), device))
    with pytest.raises(TypeError, match="scatter_add: src must be a tensor"):
        x.scatter_add(1, t(np.zeros((2, 1), np.int64), device), 1.0)
    with pytest.raises(ShapeError, match="index_select: index must be 1-D"):
        x.index_select(0, t(np.zeros((1, 1), np.int64), device))


def test_out_of_range_indices_raise_on_cpu():
    x = dc.tensor(rnd(2, 3))
    with pytest.raises(IndexError, match="gather: index 3 is out of bounds for dimension 1 with size 3"):
        dc.gather(x, 1, dc.tensor([[0], [3]]))
    with pytest.raises(IndexError, match="scatter: index -1 is out of bounds for dimension 0 with size 2"):
        x.scatter(0, dc.tensor([[-1, 0, 0]]), 1.0)
    with pytest.raises(IndexError, match="index_select: index 2 is out of bounds for dimension 0 with size 2"):
        x.index_select(0, dc.tensor([0, 2]))


@pytest.mark.skipif(not dc.cuda.is_available(), reason="no CUDA device (use --emulate-cuda)")
def test_out_of_range_index_is_reported_at_the_next_sync_on_gpu():
    x = dc.tensor(rnd(2, 3), device="cuda")
    y = dc.gather(x, 1, dc.tensor([[0], [3]], device="cuda"))   # no host sync here: the check only sets a flag
    with pytest.raises(IndexError, match="gather: an index is out of bounds for dimension 1 with size 3"):
        y.numpy()


def test_mask_and_shape_errors(device):
    x = t(rnd(2, 3), device)
    with pytest.raises(TypeError, match="masked_fill: mask must be a bool tensor, got dtype int64"):
        x.masked_fill(t(np.ones((2, 3), np.int64), device), 1.0)
    with pytest.raises(ShapeError, match=r"masked_fill: mask of shape \(2,\) cannot be broadcast with input of shape "
                                         r"\(2, 3\)"):
        x.masked_fill(t(np.array([True, False]), device), 1.0)
    with pytest.raises(ShapeError, match="masked_fill: value must be a number or a 0-d tensor"):
        x.masked_fill(t(np.ones((2, 3), bool), device), t(np.ones(1), device))
    with pytest.raises(ShapeError, match=r"masked_scatter: mask selects 6 positions but source of shape \(4,\)"):
        x.masked_scatter(t(np.ones((2, 3), bool), device), t(rnd(4), device))
    with pytest.raises(ShapeError, match=r"tril: input must have at least 2 dimensions, got shape \(3,\)"):
        dc.tril(t(rnd(3), device))
    with pytest.raises(ShapeError, match=r"diag: input must be 1-D or 2-D, got shape \(2, 2, 2\)"):
        dc.diag(t(rnd(2, 2, 2), device))
    with pytest.raises(ValueError, match="diagonal: dim1 and dim2 must differ"):
        x.diagonal(dim1=1, dim2=-1)
    with pytest.raises(ShapeError, match=r"repeat_interleave: 2 repeat counts given for dimension 1 of size 3"):
        x.repeat_interleave(t(np.array([1, 2]), device), dim=1)
    with pytest.raises(ShapeError, match=r"unfold: size 4 does not fit dimension 1 of size 3"):
        x.unfold(1, 4, 1)
    with pytest.raises(ValueError, match="unfold: step must be positive"):
        x.unfold(1, 2, 0)
    with pytest.raises(ShapeError, match=r"meshgrid: expected 0-d or 1-D tensors, got shape \(2, 3\) \(tensor 1\)"):
        dc.meshgrid(t(rnd(2), device), x)
    with pytest.raises(ValueError, match="meshgrid: indexing must be 'ij' or 'xy'"):
        dc.meshgrid(t(rnd(2), device), indexing="ji")
    with pytest.raises(ValueError, match=r"roll: shifts \(1, 2\) and dims \(0,\) must have the same length"):
        x.roll((1, 2), 0)
    with pytest.raises(ValueError, match="flip: repeated dimension"):
        x.flip((1, -1))
    for catch in (RuntimeError, ValueError):   # a ShapeError is both
        with pytest.raises(catch):
            dc.gather(x, 1, t(np.zeros((3, 1), np.int64), device))
