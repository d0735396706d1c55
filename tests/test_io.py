"""deepcore.io: save/load round trips, atomic writes under injected failures, error messages."""
import os

import numpy as np
import pytest

import deepcore as dc
from deepcore import io as dio


def _eq(a, b):
    """Deep equality of what save/load handle, checking types, dtypes and values (nan == nan)."""
    assert type(a) is type(b), (type(a), type(b))
    if isinstance(a, dc.Tensor):
        assert a.dtype == b.dtype and a.shape == b.shape and a.requires_grad == b.requires_grad
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
    elif isinstance(a, dict):
        assert list(a.keys()) == list(b.keys())
        for k in a:
            _eq(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for u, v in zip(a, b):
            _eq(u, v)
    elif isinstance(a, float) and np.isnan(a):
        assert np.isnan(b)
    else:
        assert a == b


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64, np.bool_, np.uint8, np.float16])
@pytest.mark.parametrize("shape", [(), (3,), (2, 3, 4)])
def test_tensor_round_trip(tmp_path, device, dtype, shape):
    a = (np.random.default_rng(0).standard_normal(shape) * 5).astype(dtype)
    t = dc.tensor(a, device=device)
    path = tmp_path / "t.npz"
    dio.save(t, path)
    back = dio.load(path, device=device)
    assert isinstance(back, dc.Tensor) and back.device == dc.device(device)
    assert back.dtype == dtype and back.shape == shape
    np.testing.assert_array_equal(back.numpy(), a)
    cpu = dio.load(path)
    assert cpu.device == dc.device("cpu")


def test_bfloat16_and_requires_grad(tmp_path):
    t = dc.tensor([1.5, -2.0, 3.0], dtype=dc.bfloat16)
    w = dc.randn(2, 2, requires_grad=True)
    dio.save({"bf": t, "w": w}, tmp_path / "x.npz")
    back = dio.load(tmp_path / "x.npz")
    assert back["bf"].dtype == dc.bfloat16
    np.testing.assert_array_equal(back["bf"].numpy().astype(np.float32), [1.5, -2.0, 3.0])
    assert back["w"].requires_grad and back["w"].is_leaf


def test_array_round_trip_stays_numpy(tmp_path):
    a = np.arange(12, dtype=np.int32).reshape(3, 4)[:, ::2]  # non-contiguous
    dio.save(a, str(tmp_path / "a.npz"))
    back = dio.load(str(tmp_path / "a.npz"))
    assert isinstance(back, np.ndarray)
    _eq(a.copy(), back)


def test_state_dict_like_round_trip(tmp_path):
    sd = {
        "model": {"0.weight": dc.randn(4, 3), "0.bias": dc.zeros(4), "bn.running_mean": dc.ones(4)},
        "optimizer": {
            "state": {0: {"step": 7, "exp_avg": dc.randn(4, 3), "exp_avg_sq": dc.rand(4, 3)},
                      1: {"step": 7, "momentum_buffer": None}},
            "param_groups": [{"lr": 0.001, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0,
                              "amsgrad": False, "params": [0, 1]}],
        },
        "epoch": 3, "best": float("inf"), "nan": float("nan"), "name": "run-1",
        "np_scalars": [np.float32(0.5), np.int64(-3), np.float64(2.25), np.bool_(True)],
        (1, "pair"): "tuple key", 2.5: "float key", -1: [], "nested": [[1, 2], (3, (4, 5))],
        "raw": np.linspace(0, 1, 5), "dtype": np.dtype("float32"),
    }
    path = tmp_path / "ckpt.npz"
    dio.save(sd, path)
    back = dio.load(path)
    _eq(sd, back)
    assert isinstance(next(iter(back["optimizer"]["state"])), int)
    assert back["optimizer"]["param_groups"][0]["lr"] == 0.001  # floats survive exactly


def test_compressed_and_file_object(tmp_path):
    import io as _io
    sd = {"w": dc.zeros(100, 100)}
    dio.save(sd, tmp_path / "c.npz", compress=True)
    dio.save(sd, tmp_path / "u.npz")
    assert os.path.getsize(tmp_path / "c.npz") < os.path.getsize(tmp_path / "u.npz")
    _eq(sd, dio.load(tmp_path / "c.npz"))
    buf = _io.BytesIO()
    dio.save(sd, buf)
    buf.seek(0)
    _eq(sd, dio.load(buf))


def test_path_written_exactly_and_plain_npz(tmp_path):
    dio.save(dc.ones(2), tmp_path / "weights.bin")
    assert os.listdir(tmp_path) == ["weights.bin"]
    np.savez(tmp_path / "plain.npz", a=np.arange(3), b=np.ones(2, np.float32))
    back = dio.load(tmp_path / "plain.npz")
    assert set(back) == {"a", "b"} and isinstance(back["a"], dc.Tensor)
    np.testing.assert_array_equal(back["a"].numpy(), np.arange(3))


def test_unsupported_objects_fail_before_writing(tmp_path):
    path = tmp_path / "x.npz"
    dio.save({"ok": 1}, path)
    before = path.read_bytes()
    with pytest.raises(TypeError, match=r"object.*\['bad'\]"):
        dio.save({"bad": object()}, path)
    with pytest.raises(TypeError, match="key"):
        dio.save({frozenset(): 1}, path)
    with pytest.raises(TypeError, match="pickle"):
        dio.save(np.array([object()]), path)
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["x.npz"]


@pytest.mark.parametrize("target", ["savez", "replace"])
def test_atomic_save_injected_failure_keeps_old_file(tmp_path, monkeypatch, target):
    path = tmp_path / "model.npz"
    dio.save({"w": dc.ones(3)}, path)
    before = path.read_bytes()

    def boom(*args, **kwargs):
        raise OSError("disk on fire")

    if target == "savez":
        monkeypatch.setattr(np, "savez", boom)
    else:
        monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk on fire"):
        dio.save({"w": dc.zeros(3)}, path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["model.npz"], "temp file left behind"
    np.testing.assert_array_equal(dio.load(path)["w"].numpy(), np.ones(3))


def test_atomic_save_failure_mid_write_new_file(tmp_path, monkeypatch):
    def partial(f, **entries):
        f.write(b"PK\x03\x04 half an archive")
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", partial)
    with pytest.raises(KeyboardInterrupt):
        dio.save(dc.ones(2), tmp_path / "new.npz")
    assert os.listdir(tmp_path) == []


def test_atomic_write_text_and_mode(tmp_path):
    path = tmp_path / "log.csv"
    with dio.atomic_write(path, "w", newline="") as f:
        f.write("a,b\n")
    assert path.read_text() == "a,b\n"
    umask = os.umask(0)
    os.umask(umask)
    assert (os.stat(path).st_mode & 0o777) == (0o666 & ~umask)
    with pytest.raises(ValueError, match="mode"), dio.atomic_write(path, "a"):
        pass
    with pytest.raises(FileNotFoundError, match="does not exist"), dio.atomic_write(tmp_path / "nope" / "x.csv"):
        pass


def test_missing_file_names_path(tmp_path):
    path = tmp_path / "absent.npz"
    with pytest.raises(FileNotFoundError, match="absent.npz"):
        dio.load(path)


@pytest.mark.parametrize("kind", ["truncated", "garbage", "empty", "npy", "bad_structure"])
def test_corrupt_file_names_path(tmp_path, kind):
    path = tmp_path / "broken.npz"
    if kind == "truncated":
        dio.save({"w": dc.randn(50, 50), "b": dc.zeros(3)}, path)
        path.write_bytes(path.read_bytes()[:3000])
    elif kind == "garbage":
        path.write_bytes(b"this is not an npz file at all" * 10)
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "npy":
        with open(path, "wb") as f:
            np.save(f, np.arange(3))
    else:
        np.savez(path, __deepcore_structure__=np.frombuffer(b'{"format": "deepcore.npz", "root": {"x": 1}}',
                                                             dtype=np.uint8))
    with pytest.raises(ValueError, match="broken.npz"):
        dio.load(path)


@pytest.mark.parametrize("name", ["w.npz", "w.pt", "w.safetensors"])
def test_save_through_symlink_writes_the_target(tmp_path, name):
    real_dir, link_dir = tmp_path / "real", tmp_path / "links"
    real_dir.mkdir()
    link_dir.mkdir()
    target = real_dir / name
    dio.save({"w": dc.ones(3)}, target)
    link = link_dir / name
    os.symlink(os.path.relpath(target, link_dir), link)
    dio.save({"w": dc.zeros(3)}, link)
    assert os.path.islink(link) and os.path.realpath(link) == str(target)
    np.testing.assert_array_equal(dio.load(target)["w"].numpy(), np.zeros(3))
    assert sorted(os.listdir(link_dir)) == [name] and sorted(os.listdir(real_dir)) == [name]


def test_failed_save_through_symlink_keeps_link_and_target(tmp_path, monkeypatch):
    target = tmp_path / "target.npz"
    dio.save({"w": dc.ones(3)}, target)
    link = tmp_path / "link.npz"
    os.symlink(target, link)
    before = target.read_bytes()
    monkeypatch.setattr(os, "replace", lambda *a, **k: (_ for _ in ()).throw(OSError("disk on fire")))
    with pytest.raises(OSError, match="disk on fire"):
        dio.save({"w": dc.zeros(3)}, link)
    monkeypatch.undo()
    assert os.path.islink(link) and target.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["link.npz", "target.npz"]


def test_atomic_path_for_writers_that_need_a_name(tmp_path):
    target = tmp_path / "data.bin"
    target.write_bytes(b"old")
    link = tmp_path / "link.bin"
    os.symlink(target, link)
    with dio.atomic_path(link) as tmp:
        assert os.path.dirname(tmp) == str(tmp_path) and tmp != str(target)
        with open(tmp, "wb") as f:
            f.write(b"new")
        assert target.read_bytes() == b"old"  # nothing visible before the rename
    assert target.read_bytes() == b"new" and os.path.islink(link)


def test_text_file_error_names_the_file_not_pickles(tmp_path):
    path = tmp_path / "readme.txt"
    path.write_text("just some text\n")
    with pytest.raises(ValueError, match="readme.txt.*not a file dc.load reads") as err:
        dio.load(path)
    assert "pickle" not in str(err.value)
