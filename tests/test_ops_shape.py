"""Shape ops beyond the registry (tests/registry/shape.py holds every op's forward/gradient/torch cases):
accumulation of repeated-index gradients, partial use of split pieces, PyTorch's placement of mixed
int/array indices, circular padding with negative widths, and the errors (ShapeError for shape mismatches)."""
import numpy as np
import pytest

import deepcore as dc
from deepcore.errors import ShapeError
from harness import check_grad

MASK = np.array([[True, False, True], [False, False, True]])


def rnd(*shape):
    return np.random.standard_normal(shape)


# --- gradients that must accumulate / be zero where unused ----------------------------------------------
def test_repeated_index_accumulates(device):
    x = dc.tensor(np.arange(4.0), dtype=dc.float32, device=device, requires_grad=True)
    x[[0, 0, 1]].backward(dc.ones(3, device=device))
    np.testing.assert_array_equal(x.grad.numpy(), [2, 1, 0, 0])
    assert x.grad.dtype == np.float32


def test_repeated_index_2d_matches_torch(device):
    torch = pytest.importorskip("torch")
    a = rnd(3, 4)
    rows, cols = np.array([[0, 2], [0, 0]]), np.array([[1, 1], [3, 1]])
    g = rnd(2, 2)
    x = dc.tensor(a, device=device, requires_grad=True)
    x[rows, cols].backward(dc.tensor(g, device=device))
    t = torch.tensor(a, requires_grad=True)
    t[torch.tensor(rows), torch.tensor(cols)].backward(torch.tensor(g, dtype=torch.float32))
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-6)


def test_bool_mask_gradient(device):
    x = dc.tensor(rnd(2, 3), device=device, requires_grad=True)
    y = x[dc.tensor(MASK, device=device)]
    assert y.shape == (3,)
    y.backward(dc.tensor([1.0, 2.0, 3.0], device=device))
    np.testing.assert_array_equal(x.grad.numpy(), [[1, 0, 2], [0, 0, 3]])


def test_negative_step_gradient(device):
    x = dc.tensor(np.arange(5.0), device=device, requires_grad=True)
    y = x[::-2]
    np.testing.assert_array_equal(y.numpy(), [4, 2, 0])
    y.backward(dc.tensor([1.0, 2.0, 3.0], device=device))
    np.testing.assert_array_equal(x.grad.numpy(), [3, 0, 2, 0, 1])


def test_split_partial_use(device):
    x = dc.tensor(rnd(5, 2), device=device, requires_grad=True)
    pieces = x.split(2)
    assert isinstance(pieces, tuple) and [p.shape for p in pieces] == [(2, 2), (2, 2), (1, 2)]
    pieces[1].backward(dc.ones(2, 2, device=device))
    np.testing.assert_array_equal(x.grad.numpy(), [[0, 0], [0, 0], [1, 1], [1, 1], [0, 0]])
    check_grad(lambda t: t.chunk(2, axis=1)[1], [rnd(3, 2)], device)
    check_grad(lambda t: dc.split(t, [1, 3, 1])[0] * dc.split(t, [1, 3, 1])[2], [rnd(5)], device)


def test_fan_out_through_views(device):
    """One tensor used by several shape ops: the gradients add up."""
    check_grad(lambda t: t.T * t.reshape(3, 2) + t[:, ::-1].permute(1, 0), [rnd(2, 3)], device)
    check_grad(lambda a, b: dc.cat([a, b, a], axis=0)[[0, 4, 4, 2]], [rnd(2, 2), rnd(1, 2)], device)


def test_mixed_dtypes_and_ints(device):
    a = dc.tensor(rnd(2, 2), dtype=dc.float32, device=device, requires_grad=True)
    b = dc.tensor([[1, 2]], device=device)
    y = dc.cat([a, b])
    assert y.shape == (3, 2)
    y.backward(dc.ones(3, 2, dtype=y.dtype, device=device))
    assert a.grad.dtype == np.float32 and a.grad.shape == (2, 2)
    i = dc.arange(12, device=device).reshape(3, 4)
    np.testing.assert_array_equal(i[1:, [0, 3]].numpy(), np.arange(12).reshape(3, 4)[1:, [0, 3]])
    assert [row.tolist() for row in dc.tensor([[1, 2], [3, 4]], device=device)] == [[1, 2], [3, 4]]


def test_no_grad_and_views(device):
    x = dc.tensor(rnd(2, 3), device=device, requires_grad=True)
    with dc.no_grad():
        y = x.reshape(3, 2)[1:]
    assert not y.requires_grad and y.grad_fn is None
    assert x.reshape(6).requires_grad


def test_chunk_split_empty_axis(device):
    x = dc.zeros(0, 2, device=device)
    assert [p.shape for p in x.chunk(3)] == [(0, 2)] * 3
    assert [p.shape for p in x.split(2)] == [(0, 2)]


# --- errors ---------------------------------------------------------------------------------------------
def test_reshape_error(device):
    x = dc.zeros(2, 3, device=device)
    with pytest.raises(ShapeError, match=r"reshape: cannot reshape tensor of shape \(2, 3\) into shape \(4, 2\)"):
        x.reshape(4, 2)
    with pytest.raises(ShapeError, match=r"shape \(-1, 4\)"):
        x.reshape(-1, 4)
    with pytest.raises(ShapeError, match=r"shape \(-1, -1\)"):
        x.reshape(-1, -1)
    with pytest.raises(ShapeError, match=r"view: cannot reshape tensor of shape \(2, 3\) into shape \(5,\)"):
        x.view(5)
    # PyTorch raises RuntimeError, NumPy ValueError: ours is both
    for catch in (RuntimeError, ValueError):
        with pytest.raises(catch):
            x.reshape(7)


def test_cat_stack_errors(device):
    a, b = dc.zeros(2, 3, device=device), dc.zeros(2, 4, device=device)
    with pytest.raises(ShapeError, match=r"cat: shapes \(2, 3\) \(tensor 0\) and \(2, 4\) \(tensor 1\).*axis 0"):
        dc.cat([a, b])
    assert dc.cat([a, b], axis=1).shape == (2, 7)
    with pytest.raises(ShapeError, match=r"stack:.*axis 1.*\(2, 3\) \(tensor 0\) and \(2, 4\) \(tensor 1\)"):
        dc.stack([a, b], axis=1)
    with pytest.raises(ValueError, match="non-empty"):
        dc.cat([])
    with pytest.raises(TypeError, match="list or tuple"):
        dc.stack(a)
    with pytest.raises(ShapeError, match="zero-dimensional"):
        dc.cat([dc.zeros((), device=device)])
    with pytest.raises(TypeError, match="either axis= or dim="):
        dc.cat([a, a], axis=1, dim=0)


@pytest.mark.skipif(not dc.cuda.is_available(), reason="no CUDA GPU")
def test_cat_stack_mixed_devices():
    a, b = dc.zeros(2, 3), dc.zeros(2, 3, device="cuda")
    for op in (dc.cat, dc.stack):
        with pytest.raises(RuntimeError, match=r"cpu.*cuda:0"):
            op([a, b])


def test_other_errors(device):
    x = dc.zeros(2, 3, device=device)
    with pytest.raises(ShapeError, match=r"broadcast_to: cannot broadcast tensor of shape \(2, 3\) to shape \(4, 2\)"):
        x.broadcast_to(4, 2)
    with pytest.raises(ShapeError, match=r"permute: axes \(0, 0\) are not a permutation .* shape \(2, 3\)"):
        x.permute(0, 0)
    with pytest.raises(IndexError, match="out of range"):
        x.transpose(0, 2)
    with pytest.raises(ShapeError, match="repeat"):
        x.repeat(2)
    with pytest.raises(ShapeError, match=r"unsqueeze: repeated axis"):
        x.unsqueeze((0, 0))
    with pytest.raises(ShapeError, match=r"split: sections \(1, 2\) must .* sum to 2"):
        x.split([1, 2])
    with pytest.raises(ValueError, match="split size"):
        x.split(0)
    with pytest.raises(ValueError, match="chunks"):
        x.chunk(0)
    with pytest.raises(ValueError, match="pairs"):
        x.pad((1, 2, 3))
    with pytest.raises(ValueError, match="3 pairs"):
        x.pad((1, 1, 1, 1, 1, 1))
    with pytest.raises(ValueError, match="mode"):
        x.pad((1, 1), mode="wrap")
    with pytest.raises(ShapeError, match="negative size"):
        x.pad((-2, -2))
    with pytest.raises(ShapeError, match="reflect padding"):
        x.pad((3, 0), mode="reflect")
    with pytest.raises(IndexError, match="integer or boolean"):
        x[dc.tensor([0.0, 1.0], device=device)]
    with pytest.raises(IndexError):
        x.unsqueeze(3)
    with pytest.raises(ShapeError, match="flatten"):
        dc.zeros(2, 3, 4).flatten(2, 1)
    with pytest.raises(ShapeError, match="expand"):
        x.expand(-1, 2, 3)
    with pytest.raises(ShapeError, match=r"unflatten: sizes \(2, 2\) do not multiply to 3, the size of axis 1"):
        x.unflatten(1, (2, 2))
    with pytest.raises(ShapeError, match=r"view: the last axis of a tensor of shape \(2, 3\).*float64"):
        x.view(dc.float64)
    with pytest.raises(ShapeError, match=r"view: viewing float32 as int16 needs a contiguous last axis"):
        x.T.view(dc.int16)


def test_numpy_integer_index_and_aliases(device):
    x = dc.tensor(rnd(3, 4), device=device)
    np.testing.assert_array_equal(x[np.int64(1), np.int32(-1)].numpy(), x.numpy()[1, -1])
    assert dc.cat([x, x], dim=1).shape == (3, 8)
    assert x.flatten(start_dim=1).shape == (3, 4) and x.unsqueeze(dim=0).shape == (1, 3, 4)
    assert x.pad((1, 1), value=None).shape == (3, 6)


# --- PyTorch semantics (issue 12) -----------------------------------------------------------------------------
MIXED_KEYS = [
    (0, slice(None), "idx"),                          # NumPy would put the gathered dimension first: (2, 3, 5)
    ("idx", slice(None), "idx"),                      # advanced indices separated by a slice go first (both agree)
    (slice(None), 0, slice(None), "idx"),
    (1, slice(None), 0, "idx2d"),
    (Ellipsis, 0, "idx"),
    (None, 0, slice(None), "idx"),
    ("t0", slice(None), "idx"),                       # a 0-d integer tensor counts as an int, as in torch
    (0, "mask"),
]


@pytest.mark.parametrize("key", MIXED_KEYS, ids=lambda k: repr(k).replace(" ", ""))
def test_mixed_indexing_places_dims_like_torch(key, device):
    torch = pytest.importorskip("torch")
    a = rnd(2, 3, 4, 5)
    values = {"idx": np.array([0, 1, 1]), "idx2d": np.array([[1, 0], [3, 3]]), "t0": np.array(1),
              "mask": np.array([True, False, True])}
    x = dc.tensor(a, device=device, requires_grad=True)
    t = torch.tensor(a, requires_grad=True)
    dkey = tuple(dc.tensor(values[k], device=device) if isinstance(k, str) else k for k in key)
    tkey = tuple(torch.tensor(values[k]) if isinstance(k, str) else k for k in key)
    y, ty = x[dkey], t[tkey]
    assert y.shape == tuple(ty.shape)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-12)
    g = rnd(*y.shape)
    y.backward(dc.tensor(g, device=device))
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-12)


def test_mixed_indexing_shape_example():
    x = dc.zeros(2, 3, 4, 5)
    assert x[0, :, [0, 1]].shape == (3, 2, 5)      # NumPy: (2, 3, 5)
    assert x[[0, 1], :, [0, 1]].shape == (2, 3, 5)
    assert x[:, 0, :, [1, 2]].shape == (2, 4, 2)   # NumPy: (2, 2, 4)


@pytest.mark.parametrize("widths", [(-1, 2), (2, -1), (-2, -1), (3, -2), (-3, 3), (-6, 0), (-2, 4)])
def test_circular_pad_negative_widths_like_torch(widths, device):
    torch = pytest.importorskip("torch")
    a = rnd(2, 6)
    x = dc.tensor(a, device=device, requires_grad=True)
    t = torch.tensor(a, requires_grad=True)
    y, ty = dc.pad(x, widths, mode="circular"), torch.nn.functional.pad(t, widths, mode="circular")
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-12)
    if y.numel():
        g = rnd(*y.shape)
        y.backward(dc.tensor(g, device=device))
        ty.backward(torch.tensor(g))
        np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-12)
    with pytest.raises(ShapeError, match="leaving nothing to wrap around"):
        dc.pad(x, (-6, 1), mode="circular")


def test_view_dtype_reinterprets_bits(device):
    a = rnd(2, 4).astype(np.float32)
    x = dc.tensor(a, device=device, requires_grad=True)
    v = x.view(dc.int32)
    assert v.dtype == dc.int32 and v.shape == (2, 4) and not v.requires_grad
    np.testing.assert_array_equal(v.numpy(), a.view(np.int32))
    assert x.view(dc.int16).shape == (2, 8) and x.view(dc.uint8).shape == (2, 16)
    assert x.view(dc.float64).shape == (2, 2)
    np.testing.assert_array_equal(x.view(dc.float64).numpy(), a.view(np.float64))
    assert x.view(-1).shape == (8,) and x.view(4, 2).requires_grad
    assert x.view_as(dc.zeros(8)).shape == (8,)
