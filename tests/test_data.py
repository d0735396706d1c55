"""dc.data: TensorDataset, Subset, random_split and DataLoader (batching, shuffling, fast path)."""
import numpy as np
import pytest

import deepcore as dc
from deepcore.data import DataLoader, Dataset, Subset, TensorDataset, default_collate, random_split


def _xy(n=10):
    x = np.arange(n * 3, dtype=np.float32).reshape(n, 3)
    y = np.arange(n, dtype=np.int64)
    return x, y


class _Rows(Dataset):
    """A plain map-style dataset returning (numpy row, python int) so the slow collate path runs."""

    def __init__(self, x, y):
        self.x, self.y = x, y

    def __getitem__(self, i):
        return self.x[i], int(self.y[i])

    def __len__(self):
        return len(self.x)


# --- TensorDataset -----------------------------------------------------------------------------
def test_tensor_dataset_items_and_len(device):
    x, y = _xy()
    ds = TensorDataset(dc.tensor(x, device=device), y)
    assert len(ds) == 10
    xi, yi = ds[3]
    assert isinstance(xi, dc.Tensor) and xi.device == dc.device(device) and xi.shape == (3,)
    np.testing.assert_array_equal(xi.numpy(), x[3])
    assert yi == 3 and isinstance(ds[-1], tuple)


def test_tensor_dataset_length_mismatch_names_lengths():
    with pytest.raises(ValueError, match=r"\(10, 9\)"):
        TensorDataset(np.zeros((10, 2)), np.zeros(9))


def test_tensor_dataset_rejects_bad_inputs():
    with pytest.raises(ValueError, match="at least one"):
        TensorDataset()
    with pytest.raises(TypeError, match="list"):
        TensorDataset([1, 2, 3])
    with pytest.raises(ValueError, match="0-d"):
        TensorDataset(np.ones(()))


def test_dataset_base_requires_methods():
    with pytest.raises(NotImplementedError):
        len(Dataset())
    with pytest.raises(NotImplementedError):
        Dataset()[0]


# --- DataLoader --------------------------------------------------------------------------------
@pytest.mark.parametrize("drop_last,expect", [(False, [4, 4, 2]), (True, [4, 4])])
def test_loader_batches_shapes_drop_last(device, drop_last, expect):
    x, y = _xy()
    loader = DataLoader(TensorDataset(dc.tensor(x, device=device), y), batch_size=4, drop_last=drop_last)
    assert len(loader) == len(expect)
    batches = list(loader)
    assert [b[0].shape[0] for b in batches] == expect
    for xb, yb in batches:
        assert isinstance(xb, dc.Tensor) and isinstance(yb, dc.Tensor)
        assert xb.shape[1:] == (3,) and xb.dtype == np.float32 and yb.dtype == np.int64
        assert xb.device == dc.device(device) and yb.device == dc.device("cpu")
    got = np.concatenate([b[1].numpy() for b in batches])
    np.testing.assert_array_equal(got, y[:sum(expect)])
    np.testing.assert_array_equal(np.concatenate([b[0].numpy() for b in batches]), x[:sum(expect)])


def test_loader_batch_is_a_copy():
    x, y = _xy()
    xb, _ = next(iter(DataLoader(TensorDataset(x, y), batch_size=4)))
    xb.data[...] = -1
    assert x.min() >= 0


def _epoch_labels(loader):
    return np.concatenate([yb.numpy() for _, yb in loader])


@pytest.mark.parametrize("n,bs", [(10, 3), (17, 4), (8, 8)])
def test_shuffle_covers_every_item_once_per_epoch(n, bs):
    ds = TensorDataset(*_xy(n))
    loader = DataLoader(ds, batch_size=bs, shuffle=True, seed=5)
    epochs = [_epoch_labels(loader) for _ in range(3)]
    for e in epochs:
        np.testing.assert_array_equal(np.sort(e), np.arange(n))
    assert any(not np.array_equal(epochs[0], e) for e in epochs[1:]), "order must change between epochs"
    assert not all(np.array_equal(e, np.arange(n)) for e in epochs)


def test_shuffle_reproducible_with_seed():
    ds = TensorDataset(*_xy(20))
    a = DataLoader(ds, batch_size=6, shuffle=True, seed=123)
    b = DataLoader(ds, batch_size=6, shuffle=True, seed=123)
    c = DataLoader(ds, batch_size=6, shuffle=True, seed=124)
    ea = [_epoch_labels(a) for _ in range(3)]
    eb = [_epoch_labels(b) for _ in range(3)]
    for u, v in zip(ea, eb):
        np.testing.assert_array_equal(u, v)
    # the documented recipe: one default_rng(seed), one permutation per epoch
    rng = np.random.default_rng(123)
    for e in ea:
        np.testing.assert_array_equal(e, rng.permutation(20))
    assert not np.array_equal(_epoch_labels(c), ea[0]) or not np.array_equal(_epoch_labels(c), ea[1])


def test_shuffle_without_seed_follows_manual_seed():
    ds = TensorDataset(*_xy(20))
    dc.manual_seed(7)
    first = _epoch_labels(DataLoader(ds, batch_size=5, shuffle=True))
    dc.manual_seed(7)
    again = _epoch_labels(DataLoader(ds, batch_size=5, shuffle=True))
    np.testing.assert_array_equal(first, again)


def test_shuffle_drop_last_counts():
    ds = TensorDataset(*_xy(10))
    loader = DataLoader(ds, batch_size=3, shuffle=True, drop_last=True, seed=0)
    labels = _epoch_labels(loader)
    assert len(loader) == 3 and len(labels) == 9 and len(set(labels.tolist())) == 9


def test_generic_dataset_default_collate_matches_fast_path():
    x, y = _xy(11)
    slow = list(DataLoader(_Rows(x, y), batch_size=4, shuffle=True, seed=3))
    fast = list(DataLoader(TensorDataset(x, y), batch_size=4, shuffle=True, seed=3))
    assert len(slow) == len(fast) == 3
    for (xs, ys), (xf, yf) in zip(slow, fast):
        np.testing.assert_array_equal(xs.numpy(), xf.numpy())
        np.testing.assert_array_equal(ys.numpy(), yf.numpy())
        assert ys.dtype == np.int64 and xs.dtype == np.float32 and xs.device == dc.device("cpu")


def test_custom_collate_fn():
    x, y = _xy(6)
    loader = DataLoader(TensorDataset(x, y), batch_size=4, collate_fn=lambda items: len(items))
    assert list(loader) == [4, 2]


def test_default_collate_kinds():
    assert default_collate([1.5, 2.0]).dtype == np.float32
    assert default_collate([1, 2]).dtype == np.int64
    assert default_collate([True, False]).dtype == np.bool_
    assert default_collate([np.float64(1.0), np.float64(2.0)]).dtype == np.float64
    assert default_collate(["a", "b"]) == ["a", "b"]
    d = default_collate([{"x": np.zeros(2), "y": 1}, {"x": np.ones(2), "y": 2}])
    assert d["x"].shape == (2, 2) and d["y"].tolist() == [1, 2]
    t = default_collate([dc.ones(2, 3), dc.zeros(2, 3)])
    assert isinstance(t, dc.Tensor) and t.shape == (2, 2, 3)
    with pytest.raises(TypeError, match="collate_fn"):
        default_collate([object(), object()])


def test_loader_validates_batch_size():
    ds = TensorDataset(*_xy())
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="batch_size"):
            DataLoader(ds, batch_size=bad)


def test_loader_empty_dataset():
    ds = TensorDataset(np.zeros((0, 2)))
    loader = DataLoader(ds, batch_size=4, shuffle=True)
    assert len(loader) == 0 and list(loader) == []


# --- Subset / random_split ---------------------------------------------------------------------
def test_subset_and_loader_over_subset():
    x, y = _xy()
    sub = Subset(TensorDataset(x, y), [7, 2, 5])
    assert len(sub) == 3 and sub[0][1] == 7
    (xb, yb), = list(DataLoader(sub, batch_size=3))
    assert yb.tolist() == [7, 2, 5]
    np.testing.assert_array_equal(xb.numpy(), x[[7, 2, 5]])


@pytest.mark.parametrize("lengths,sizes", [([7, 3], [7, 3]), ([0.5, 0.3, 0.2], [5, 3, 2]),
                                           ([0.34, 0.33, 0.33], [4, 3, 3]), ([10, 0], [10, 0])])
def test_random_split_sizes_and_disjoint(lengths, sizes):
    ds = TensorDataset(*_xy())
    parts = random_split(ds, lengths, seed=0)
    assert [len(p) for p in parts] == sizes
    idx = [i for p in parts for i in p.indices]
    assert sorted(idx) == list(range(10))
    labels = [int(p[j][1]) for p in parts for j in range(len(p))]
    assert sorted(labels) == list(range(10))


def test_random_split_reproducible_and_seeded_by_manual_seed():
    ds = TensorDataset(*_xy(50))
    a = random_split(ds, [25, 25], seed=4)
    b = random_split(ds, [25, 25], seed=4)
    assert a[0].indices == b[0].indices
    dc.manual_seed(1)
    c = random_split(ds, [25, 25])
    dc.manual_seed(1)
    d = random_split(ds, [25, 25])
    assert c[0].indices == d[0].indices


def test_random_split_errors():
    ds = TensorDataset(*_xy())
    with pytest.raises(ValueError, match="sum to 9"):
        random_split(ds, [5, 4])
    with pytest.raises(ValueError, match="sum to 1"):
        random_split(ds, [0.5, 0.4])
    with pytest.raises(ValueError, match="non-negative"):
        random_split(ds, [11, -1])


def test_nested_subset_fast_path():
    x, y = _xy(20)
    train, _ = random_split(TensorDataset(x, y), [12, 8], seed=0)
    inner, _ = random_split(train, [0.5, 0.5], seed=1)
    labels = _epoch_labels(DataLoader(inner, batch_size=4, shuffle=True, seed=2))
    assert sorted(labels.tolist()) == sorted(inner[i][1] for i in range(len(inner)))
