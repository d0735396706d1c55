"""Shape ops: forward against NumPy (torch as an optional oracle), gradients by finite differences."""
import numpy as np
import pytest

import deepcore as dc
from harness import check_forward, check_grad, check_op

DTYPES = [np.float32, np.float64]


def rnd(*shape):
    return np.random.standard_normal(shape)


def _np_squeeze(a, axis):
    """torch squeeze semantics on numpy: only size-1 axes among ``axis`` go."""
    axes = tuple(i % a.ndim for i in ((axis,) if isinstance(axis, int) else axis))
    return a.reshape(tuple(s for i, s in enumerate(a.shape) if not (i in axes and s == 1)))


# (id, dc function of the tensors, numpy reference on arrays, input shapes)
UNARY = [
    ("reshape", lambda x: dc.reshape(x, 3, 2), lambda a: a.reshape(3, 2), [(2, 3)]),
    ("reshape-tuple", lambda x: x.reshape((2, -1)), lambda a: a.reshape(2, -1), [(2, 3, 2)]),
    ("reshape-scalar", lambda x: x.reshape(1, 1), lambda a: a.reshape(1, 1), [()]),
    ("reshape-to-scalar", lambda x: x.reshape(()), lambda a: a.reshape(()), [(1, 1)]),
    ("view", lambda x: x.view(-1), lambda a: a.reshape(-1), [(2, 3)]),
    ("transpose-2d", lambda x: dc.transpose(x), lambda a: a.T, [(2, 3)]),
    ("transpose-axes", lambda x: x.transpose(0, 2), lambda a: np.swapaxes(a, 0, 2), [(2, 3, 4)]),
    ("transpose-neg", lambda x: x.transpose(-1, 0), lambda a: np.swapaxes(a, -1, 0), [(2, 3, 4)]),
    ("transpose-dim", lambda x: x.transpose(dim0=1, dim1=0), lambda a: np.swapaxes(a, 1, 0), [(2, 3)]),
    ("permute", lambda x: x.permute(2, 0, 1), lambda a: a.transpose(2, 0, 1), [(2, 3, 4)]),
    ("permute-tuple", lambda x: dc.permute(x, (1, 0)), lambda a: a.T, [(3, 2)]),
    ("permute-scalar", lambda x: x.permute(), lambda a: a, [()]),
    ("T", lambda x: x.T, lambda a: a.T, [(2, 3)]),
    ("T-3d", lambda x: x.T, lambda a: a.T, [(2, 3, 4)]),
    ("T-1d", lambda x: x.T, lambda a: a.T, [(4,)]),
    ("T-scalar", lambda x: x.T, lambda a: a.T, [()]),
    ("squeeze-all", lambda x: x.squeeze(), lambda a: a.squeeze(), [(1, 3, 1)]),
    ("squeeze-axis", lambda x: dc.squeeze(x, 0), lambda a: a.squeeze(0), [(1, 3, 1)]),
    ("squeeze-tuple", lambda x: x.squeeze(axis=(0, -1)), lambda a: a.squeeze((0, 2)), [(1, 3, 1)]),
    ("squeeze-dim", lambda x: x.squeeze(dim=2), lambda a: a.squeeze(2), [(1, 3, 1)]),
    ("squeeze-noop", lambda x: x.squeeze(1), lambda a: _np_squeeze(a, 1), [(1, 3, 1)]),
    ("squeeze-scalar", lambda x: x.squeeze(), lambda a: a.squeeze(), [()]),
    ("unsqueeze-0", lambda x: x.unsqueeze(0), lambda a: a[None], [(2, 3)]),
    ("unsqueeze-neg", lambda x: dc.unsqueeze(x, -1), lambda a: a[..., None], [(2, 3)]),
    ("unsqueeze-mid", lambda x: x.unsqueeze(dim=1), lambda a: a[:, None], [(2, 3)]),
    ("unsqueeze-tuple", lambda x: x.unsqueeze((0, 3)), lambda a: np.expand_dims(a, (0, 3)), [(2, 3)]),
    ("unsqueeze-scalar", lambda x: x.unsqueeze(0), lambda a: a[None], [()]),
    ("flatten", lambda x: x.flatten(), lambda a: a.reshape(-1), [(2, 3, 4)]),
    ("flatten-start", lambda x: dc.flatten(x, 1), lambda a: a.reshape(2, -1), [(2, 3, 4)]),
    ("flatten-range", lambda x: x.flatten(start_dim=0, end_dim=1), lambda a: a.reshape(6, 4), [(2, 3, 4)]),
    ("flatten-scalar", lambda x: x.flatten(), lambda a: a.reshape(1), [()]),
    ("broadcast_to", lambda x: dc.broadcast_to(x, (2, 3)), lambda a: np.broadcast_to(a, (2, 3)), [(3,)]),
    ("broadcast_to-ones", lambda x: x.broadcast_to((4, 2, 3)), lambda a: np.broadcast_to(a, (4, 2, 3)),
     [(2, 1)]),
    ("broadcast_to-scalar", lambda x: x.broadcast_to(2, 2), lambda a: np.broadcast_to(a, (2, 2)), [()]),
    ("broadcast_to-same", lambda x: x.broadcast_to(2, 3), lambda a: a, [(2, 3)]),
    ("expand", lambda x: x.expand(-1, 4), lambda a: np.broadcast_to(a, (2, 4)), [(2, 1)]),
    ("expand-lead", lambda x: x.expand((3, 2, -1)), lambda a: np.broadcast_to(a, (3, 2, 3)), [(1, 3)]),
    ("repeat", lambda x: x.repeat(2, 1), lambda a: np.tile(a, (2, 1)), [(2, 3)]),
    ("repeat-lead", lambda x: dc.repeat(x, (1, 2, 2)), lambda a: np.tile(a, (1, 2, 2)), [(2, 3)]),
    ("repeat-1d", lambda x: x.repeat(3), lambda a: np.tile(a, 3), [(2,)]),
    ("repeat-scalar", lambda x: x.repeat(3, 2), lambda a: np.tile(a, (3, 2)), [()]),
    ("repeat-zero", lambda x: x.repeat(0, 2), lambda a: np.tile(a, (0, 2)), [(2, 3)]),
    ("split-int", lambda x: x.split(2), lambda a: (a[:2], a[2:4], a[4:]), [(5, 3)]),
    ("split-list", lambda x: dc.split(x, [1, 2], axis=1), lambda a: (a[:, :1], a[:, 1:]), [(2, 3)]),
    ("split-dim", lambda x: x.split(1, dim=-1), lambda a: (a[:, :1], a[:, 1:2]), [(3, 2)]),
    ("chunk", lambda x: x.chunk(3), lambda a: (a[:2], a[2:4], a[4:]), [(5,)]),
    ("chunk-fewer", lambda x: dc.chunk(x, 4, axis=1), lambda a: (a[:, :2], a[:, 2:4], a[:, 4:]), [(2, 6)]),
    ("pad", lambda x: dc.pad(x, (1, 2)), lambda a: np.pad(a, ((0, 0), (1, 2))), [(2, 3)]),
    ("pad-2axes", lambda x: x.pad((1, 0, 2, 1)), lambda a: np.pad(a, ((2, 1), (1, 0))), [(2, 3)]),
    ("pad-3d-value", lambda x: dc.pad(x, (0, 1, 1, 0, 2, 2), value=1.5),
     lambda a: np.pad(a, ((2, 2), (1, 0), (0, 1)), constant_values=1.5), [(2, 3, 2)]),
    ("pad-crop", lambda x: dc.pad(x, (-1, 2)), lambda a: np.pad(a[:, 1:], ((0, 0), (0, 2))), [(2, 3)]),
    ("pad-crop-both", lambda x: dc.pad(x, (-1, -1, 1, 0)), lambda a: np.pad(a[:, 1:-1], ((1, 0), (0, 0))),
     [(2, 4)]),
    ("pad-reflect", lambda x: dc.pad(x, (2, 1), mode="reflect"), lambda a: np.pad(a, ((0, 0), (2, 1)), "reflect"),
     [(2, 3)]),
    ("pad-replicate", lambda x: x.pad((1, 3, 2, 0), mode="replicate"),
     lambda a: np.pad(a, ((2, 0), (1, 3)), "edge"), [(2, 3)]),
    ("pad-circular", lambda x: dc.pad(x, (3, 1), mode="circular"), lambda a: np.pad(a, ((0, 0), (3, 1)), "wrap"),
     [(2, 3)]),
]

MASK = np.array([[True, False, True], [False, False, True]])
GETITEM = [
    ("int", lambda x: x[1], lambda a: a[1], [(3, 4)]),
    ("neg-int", lambda x: x[-1, 2], lambda a: a[-1, 2], [(3, 4)]),
    ("scalar-elem", lambda x: x[2], lambda a: a[2], [(4,)]),
    ("scalar-empty-tuple", lambda x: x[()], lambda a: a[()], [()]),
    ("slice", lambda x: x[1:, ::2], lambda a: a[1:, ::2], [(3, 4)]),
    ("neg-step", lambda x: x[::-1], lambda a: a[::-1], [(4,)]),
    ("neg-step-2d", lambda x: x[::-2, 3:0:-1], lambda a: a[::-2, 3:0:-1], [(3, 4)]),
    ("none-ellipsis", lambda x: x[None, ..., None, 0], lambda a: a[None, ..., None, 0], [(2, 3, 4)]),
    ("ellipsis", lambda x: x[..., 1:], lambda a: a[..., 1:], [(2, 3, 4)]),
    ("list", lambda x: x[[0, 2, 0]], lambda a: a[[0, 2, 0]], [(3, 4)]),
    ("ndarray", lambda x: x[:, np.array([[3, 3], [0, 1]])], lambda a: a[:, np.array([[3, 3], [0, 1]])], [(3, 4)]),
    ("tensor-index", lambda x: x[dc.tensor([1, 1, 2])], lambda a: a[[1, 1, 2]], [(3, 4)]),
    ("multi-adv", lambda x: x[[0, 1, 0], [2, 0, 2]], lambda a: a[[0, 1, 0], [2, 0, 2]], [(3, 4)]),
    ("adv-slice-adv", lambda x: x[[0, 1, 1], :, [1, 0, 1]], lambda a: a[[0, 1, 1], :, [1, 0, 1]], [(2, 3, 2)]),
    ("adv-int-mix", lambda x: x[1:, [0, 0]], lambda a: a[1:, [0, 0]], [(3, 4)]),
    ("mask-np", lambda x: x[MASK], lambda a: a[MASK], [(2, 3)]),
    ("mask-tensor", lambda x: x[dc.tensor(MASK)], lambda a: a[MASK], [(2, 3)]),
    ("mask-rows", lambda x: x[np.array([True, False, True])], lambda a: a[np.array([True, False, True])],
     [(3, 2)]),
    ("mask-from-values", lambda x: x[x > 0], lambda a: a[a > 0], [(3, 4)]),
]

MULTI = [
    ("cat-0", lambda a, b: dc.cat([a, b]), lambda a, b: np.concatenate([a, b]), [(2, 3), (1, 3)]),
    ("cat-1", lambda a, b, c: dc.cat((a, b, c), axis=1), lambda a, b, c: np.concatenate([a, b, c], 1),
     [(2, 3), (2, 1), (2, 2)]),
    ("cat-neg-dim", lambda a, b: dc.concatenate([a, b], dim=-1), lambda a, b: np.concatenate([a, b], -1),
     [(2, 2, 1), (2, 2, 3)]),
    ("cat-1d", lambda a, b: dc.cat([a, b]), lambda a, b: np.concatenate([a, b]), [(1,), (3,)]),
    ("stack-0", lambda a, b: dc.stack([a, b]), lambda a, b: np.stack([a, b]), [(2, 3), (2, 3)]),
    ("stack-1", lambda a, b, c: dc.stack([a, b, c], axis=1), lambda a, b, c: np.stack([a, b, c], 1),
     [(2, 3)] * 3),
    ("stack-last", lambda a, b: dc.stack([a, b], dim=-1), lambda a, b: np.stack([a, b], -1), [(2, 3), (2, 3)]),
    ("stack-scalars", lambda a, b: dc.stack([a, b]), lambda a, b: np.stack([a, b]), [(), ()]),
]

CASES = UNARY + GETITEM + MULTI


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("fn,ref,shapes", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_op(fn, ref, shapes, dtype, device):
    arrays = [rnd(*s) for s in shapes]
    check_op(fn, ref, arrays, device, dtype, grad=dtype == np.float64)  # gradcheck runs in float64 anyway


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


# --- torch as an oracle for semantics users port from --------------------------------------------------
def test_against_torch(device):
    torch = pytest.importorskip("torch")
    a = rnd(5, 6, 3)
    x, t = dc.tensor(a, device=device), torch.tensor(a)
    pairs = [
        (x.chunk(4, axis=1), t.chunk(4, dim=1)),
        (x.chunk(3), t.chunk(3)),
        (x.split([2, 4], axis=1), t.split([2, 4], dim=1)),
        (x.split(4, axis=0), t.split(4, dim=0)),
        ((x.repeat(2, 1, 1, 2),), (t.repeat(2, 1, 1, 2),)),
        ((x.flatten(1),), (t.flatten(1),)),
        ((x.squeeze(1),), (t.squeeze(1),)),
        ((x.pad((1, 2, 0, 3)),), (torch.nn.functional.pad(t, (1, 2, 0, 3)),)),
        ((x.pad((-1, 2, 2, -3)),), (torch.nn.functional.pad(t, (-1, 2, 2, -3)),)),
        ((x.pad((1, 2, 0, 3), mode="replicate"),), (torch.nn.functional.pad(t, (1, 2, 0, 3), mode="replicate"),)),
        ((x.pad((2, 2, 1, 3), mode="reflect"),), (torch.nn.functional.pad(t, (2, 2, 1, 3), mode="reflect"),)),
        ((x.pad((3, 1, 2, 0), mode="circular"),), (torch.nn.functional.pad(t, (3, 1, 2, 0), mode="circular"),)),
        ((x[[0, 0, 4], 1:, [2, 1, 0]],), (t[[0, 0, 4], 1:, [2, 1, 0]],)),
        ((x[..., [True, False, True]],), (t[..., torch.tensor([True, False, True])],)),
        ((x.expand(2, -1, -1, -1),), (t.expand(2, -1, -1, -1),)),
    ]
    for ours, theirs in pairs:
        assert len(ours) == len(theirs)
        for o, e in zip(ours, theirs):
            np.testing.assert_allclose(o.numpy(), e.numpy(), rtol=1e-12)


def test_chunk_split_empty_axis(device):
    x = dc.zeros(0, 2, device=device)
    assert [p.shape for p in x.chunk(3)] == [(0, 2)] * 3
    assert [p.shape for p in x.split(2)] == [(0, 2)]


def test_forward_dtype_preserved(device):
    for fn in (lambda x: x.pad((1, 1), value=2.5), lambda x: x[[0, 0]], lambda x: x.repeat(2, 1),
               lambda x: dc.stack([x, x]), lambda x: x.expand(3, 2, 3)):
        check_forward(fn, lambda a: fn(dc.tensor(a)).numpy(), [rnd(2, 3)], device, np.float32)


# --- errors ---------------------------------------------------------------------------------------------
def test_reshape_error(device):
    x = dc.zeros(2, 3, device=device)
    with pytest.raises(ValueError, match=r"reshape: cannot reshape tensor of shape \(2, 3\) into shape \(4, 2\)"):
        x.reshape(4, 2)
    with pytest.raises(ValueError, match=r"shape \(-1, 4\)"):
        x.reshape(-1, 4)
    with pytest.raises(ValueError, match=r"shape \(-1, -1\)"):
        x.reshape(-1, -1)


def test_cat_stack_errors(device):
    a, b = dc.zeros(2, 3, device=device), dc.zeros(2, 4, device=device)
    with pytest.raises(ValueError, match=r"cat: shapes \(2, 3\) \(tensor 0\) and \(2, 4\) \(tensor 1\).*axis 0"):
        dc.cat([a, b])
    assert dc.cat([a, b], axis=1).shape == (2, 7)
    with pytest.raises(ValueError, match=r"stack:.*axis 1.*\(2, 3\) \(tensor 0\) and \(2, 4\) \(tensor 1\)"):
        dc.stack([a, b], axis=1)
    with pytest.raises(ValueError, match="non-empty"):
        dc.cat([])
    with pytest.raises(TypeError, match="list or tuple"):
        dc.stack(a)
    with pytest.raises(ValueError, match="zero-dimensional"):
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
    with pytest.raises(ValueError, match=r"broadcast_to: cannot broadcast tensor of shape \(2, 3\) to shape \(4, 2\)"):
        x.broadcast_to(4, 2)
    with pytest.raises(ValueError, match="permute"):
        x.permute(0, 0)
    with pytest.raises(ValueError, match="repeat"):
        x.repeat(2)
    with pytest.raises(ValueError, match=r"split: sections \(1, 2\) must .* sum to 2"):
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
    with pytest.raises(ValueError, match="negative size"):
        x.pad((-2, -2))
    with pytest.raises(ValueError, match="reflect padding"):
        x.pad((3, 0), mode="reflect")
    with pytest.raises(IndexError, match="integer or boolean"):
        x[dc.tensor([0.0, 1.0], device=device)]
    with pytest.raises(IndexError):
        x.unsqueeze(3)
    with pytest.raises(ValueError, match="flatten"):
        dc.zeros(2, 3, 4).flatten(2, 1)
    with pytest.raises(ValueError, match="expand"):
        x.expand(-1, 2, 3)


def test_numpy_integer_index_and_aliases(device):
    x = dc.tensor(rnd(3, 4), device=device)
    np.testing.assert_array_equal(x[np.int64(1), np.int32(-1)].numpy(), x.numpy()[1, -1])
    assert dc.cat([x, x], dim=1).shape == (3, 8)
    assert x.flatten(start_dim=1).shape == (3, 4) and x.unsqueeze(dim=0).shape == (1, 3, 4)
    assert x.pad((1, 1), value=None).shape == (3, 6)
