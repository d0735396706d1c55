"""embedding: gather against NumPy indexing and torch, scatter-add gradient (repeated indices accumulate,
padding row gets none), clear index errors."""
import numpy as np
import pytest
from harness import check_forward, check_grad

import deepcore as dc
from deepcore.ops.embedding import embedding

DTYPES = [np.float32, np.float64]
INDICES = [np.array([3, 0, 3, 5]), np.array([[1, 2, 1], [0, 5, 5]], np.int32), np.array(4)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("idx", INDICES, ids=["1d", "2d-int32", "scalar"])
def test_embedding(idx, dtype, device):
    weight = np.random.default_rng(0).standard_normal((6, 3))
    out = check_forward(lambda w: embedding(dc.tensor(idx, device=device), w), lambda w: w[idx], [weight], device,
                        dtype)
    assert out.shape == idx.shape + (3,)
    if dtype == np.float64:
        check_grad(lambda w: embedding(dc.tensor(idx, device=device), w), [weight], device)


def test_repeated_indices_accumulate(device):
    w = dc.tensor(np.zeros((4, 2), np.float32), device=device, requires_grad=True)
    idx = dc.tensor(np.array([[1, 1], [1, 3]]), device=device)
    embedding(idx, w).backward(dc.ones(2, 2, 2, device=device))
    np.testing.assert_array_equal(w.grad.numpy(), [[0, 0], [3, 3], [0, 0], [1, 1]])
    assert w.grad.dtype == np.float32


@pytest.mark.parametrize("padding_idx", [1, -3])
def test_padding_idx_gets_no_gradient(padding_idx, device):
    w = dc.tensor(np.random.default_rng(1).standard_normal((4, 2)), device=device, requires_grad=True)
    out = embedding(dc.tensor([1, 2, 1, 0], device=device), w, padding_idx=padding_idx)
    np.testing.assert_array_equal(out.numpy()[0], w.numpy()[1])  # the padding row is still looked up
    out.backward(dc.ones(4, 2, dtype=np.float64, device=device))
    np.testing.assert_array_equal(w.grad.numpy(), [[1, 1], [0, 0], [1, 1], [0, 0]])


@pytest.mark.parametrize("dtype", DTYPES)
def test_embedding_vs_torch(dtype, device):
    torch = pytest.importorskip("torch")
    weight = np.random.default_rng(2).standard_normal((7, 4)).astype(dtype)
    idx = np.array([[0, 6, 2], [2, 2, 5]])
    tw = torch.tensor(weight, requires_grad=True)
    ty = torch.nn.functional.embedding(torch.tensor(idx), tw, padding_idx=2)
    dw = dc.tensor(weight, device=device, requires_grad=True)
    dy = embedding(dc.tensor(idx, device=device), dw, padding_idx=2)
    np.testing.assert_array_equal(dy.numpy(), ty.detach().numpy())
    g = np.random.default_rng(3).standard_normal(dy.shape).astype(dtype)
    ty.backward(torch.tensor(g))
    dy.backward(dc.tensor(g, device=device))
    np.testing.assert_allclose(dw.grad.numpy(), tw.grad.numpy(), rtol=1e-6, atol=1e-6)


def test_host_indices_next_to_cuda_weight_are_refused(device):
    if device == "cpu":
        pytest.skip("host data is only refused next to a CUDA tensor")
    w = dc.zeros(5, 3, device=device)
    for idx in (np.array([0, 2, 1]), [0, 2, 1]):
        with pytest.raises(RuntimeError) as err:
            embedding(idx, w)
        assert "cpu" in str(err.value) and "cuda:0" in str(err.value), str(err.value)


def test_embedding_errors():
    w = dc.zeros(5, 3)
    with pytest.raises(IndexError, match="index 7 is out of range for num_embeddings=5"):
        embedding([0, 7, 2], w)
    with pytest.raises(IndexError, match="index -1 is out of range for num_embeddings=5"):
        embedding(np.array([[0], [-1]]), w)
    with pytest.raises(TypeError, match="indices must be integers .*got dtype float32"):
        embedding(dc.tensor([0.0, 1.0]), w)
    with pytest.raises(ValueError, match=r"weight must be 2-D .* got shape \(5,\)"):
        embedding([0], dc.zeros(5))
    with pytest.raises(ValueError, match="padding_idx 5 is out of range"):
        embedding([0], w, padding_idx=5)
