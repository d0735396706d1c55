"""PyTorch (.pt) and .safetensors files: round trips both ways, views of shared storages, refusal of
malicious pickles, damaged files, and real torch models loading into the equivalent deepcore models.

Tests whose oracle is torch skip without it; the safety and damage tests build their files by hand."""
import collections
import io
import os
import pickle
import zipfile

import numpy as np
import pytest

import deepcore as dc

DTYPES = ["float16", "bfloat16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool"]


def _array(dtype, shape, seed=0):
    rng = np.random.default_rng(seed)
    if dtype == "bool":
        return rng.random(shape) > 0.5
    values = rng.standard_normal(shape) * 50
    if dtype in ("int8", "int16", "int32", "int64", "uint8"):
        values = np.abs(values) if dtype == "uint8" else values
        return values.astype(dtype)
    return values.astype(dc.backend.dtypes.as_dtype(dtype))


def _same(t, expected):
    """A deepcore Tensor equals a NumPy array exactly, dtype included (bfloat16 compared as float32)."""
    got = t.numpy()
    assert got.dtype == expected.dtype and got.shape == expected.shape
    if got.dtype == dc.bfloat16:
        got, expected = got.astype(np.float32), expected.astype(np.float32)
    np.testing.assert_array_equal(got, expected)


def _zip(payload: bytes, extra=()):
    """A torch-style zip archive whose data.pkl is ``payload``."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("archive/data.pkl", payload)
        z.writestr("archive/byteorder", "little")
        z.writestr("archive/version", "3\n")
        for name, data in extra:
            z.writestr(name, data)
    return buf.getvalue()


# --- deepcore alone ------------------------------------------------------------------------------
@pytest.mark.parametrize("suffix", [".pt", ".safetensors"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_round_trip_every_dtype(tmp_path, suffix, dtype):
    a = _array(dtype, (3, 4))
    sd = {"x": dc.tensor(a), "t": dc.tensor(a).transpose(0, 1), "s": dc.tensor(a[0, 0]), "e": dc.tensor(a[:0])}
    dc.save(sd, tmp_path / f"w{suffix}")
    back = dc.load(tmp_path / f"w{suffix}")
    assert set(back) == set(sd)
    for k, t in sd.items():
        _same(back[k], t.numpy())


def test_pt_round_trip_of_nested_values(tmp_path):
    obj = collections.OrderedDict(model={"w": dc.randn(2, 3, requires_grad=True)}, step=7, lr=0.5,
                                  big=-(2 ** 70), name="run", raw=b"\x00\xff", flags=[True, None, (1, 2.5)],
                                  state={0: {"step": 3}, (1, "a"): [dc.zeros(2, dtype="int64")]},
                                  dtype=dc.bfloat16, np_scalar=np.float32(1.5))
    dc.save(obj, tmp_path / "ck.pth")
    back = dc.load(tmp_path / "ck.pth")
    assert type(back) is collections.OrderedDict and list(back) == list(obj)
    assert back["model"]["w"].requires_grad and back["model"]["w"].is_leaf
    _same(back["model"]["w"], obj["model"]["w"].numpy())
    assert back["big"] == -(2 ** 70) and back["raw"] == b"\x00\xff" and back["flags"] == [True, None, (1, 2.5)]
    assert back["state"][0] == {"step": 3} and back["dtype"] == dc.bfloat16 and back["np_scalar"] == 1.5
    _same(back["state"][(1, "a")][0], np.zeros(2, np.int64))


def test_load_onto_device(tmp_path, device):
    dc.save({"w": dc.arange(6.0).reshape(2, 3)}, tmp_path / "w.pt")
    w = dc.load(tmp_path / "w.pt", device=device)["w"]
    assert w.device == dc.device(device)
    np.testing.assert_array_equal(w.numpy(), np.arange(6.0).reshape(2, 3))


def test_save_refuses_what_the_format_cannot_hold_before_writing(tmp_path):
    path = tmp_path / "w.pt"
    with pytest.raises(TypeError, match=r"object at the top level\['bad'\]"):
        dc.save({"ok": dc.ones(2), "bad": object()}, path)
    with pytest.raises(TypeError, match="nested"):
        dc.save({"m": {"w": dc.ones(2)}}, tmp_path / "w.safetensors")
    with pytest.raises(ValueError, match="compress"):
        dc.save({"w": dc.ones(2)}, path, compress=True)
    cyclic = []
    cyclic.append(cyclic)
    with pytest.raises(ValueError, match="contains itself"):
        dc.save(cyclic, path)
    assert os.listdir(tmp_path) == []


def test_module_save_weights_in_each_format(tmp_path):
    model = dc.nn.Sequential(dc.nn.Linear(3, 4), dc.nn.BatchNorm1d(4))
    x = dc.randn(5, 3)
    model(x)  # moves the running statistics
    model.eval()
    for name in ("w.pt", "w.safetensors", "w.npz"):
        model.save_weights(tmp_path / name)
        other = dc.nn.Sequential(dc.nn.Linear(3, 4), dc.nn.BatchNorm1d(4)).eval()
        other.load_weights(tmp_path / name)
        np.testing.assert_array_equal(other(x).numpy(), model(x).numpy())
        other.load_state_dict(dc.load(tmp_path / name))


def test_checkpoint_in_torch_format_resumes(tmp_path):
    model = dc.nn.Sequential(dc.nn.Linear(3, 4), dc.nn.Dropout(0.5), dc.nn.BatchNorm1d(4))
    opt = dc.optim.Adam(model.parameters(), lr=0.1)
    model(dc.randn(5, 3)).sum().backward()
    opt.step()
    dc.checkpoint.save_checkpoint(tmp_path / "ck.pt", model, opt, epoch=2)  # holds the uint64 RNG words
    expected = dc.rand(4).numpy()
    other = dc.nn.Sequential(dc.nn.Linear(3, 4), dc.nn.Dropout(0.5), dc.nn.BatchNorm1d(4))
    other_opt = dc.optim.Adam(other.parameters(), lr=0.1)
    assert dc.checkpoint.load_checkpoint(tmp_path / "ck.pt", other, other_opt) == 2
    np.testing.assert_array_equal(dc.rand(4).numpy(), expected)  # the generator came back too
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(other.state_dict()[k].numpy(), v.numpy())


# --- malicious and damaged files (no torch needed) -------------------------------------------------
class _Exploit:
    def __init__(self, fn, arg):
        self.fn, self.arg = fn, arg

    def __reduce__(self):
        return self.fn, (self.arg,)


def _payloads(marker):
    return {
        "posix.system": _Exploit(os.system, f"touch {marker}"),
        "builtins.exec": _Exploit(exec, f"open({str(marker)!r}, 'w').close()"),
        "builtins.eval": _Exploit(eval, f"open({str(marker)!r}, 'w').close()"),
    }


@pytest.mark.parametrize("protocol", [2, 4])
@pytest.mark.parametrize("layout", ["zip", "legacy"])
@pytest.mark.parametrize("name", ["posix.system", "builtins.exec", "builtins.eval"])
def test_malicious_pickle_is_refused_and_nothing_runs(tmp_path, protocol, layout, name):
    marker = tmp_path / "marker"
    exploit = _payloads(marker)[name]
    # nested after a valid entry: refusal must come before the call, wherever it sits
    payload = pickle.dumps({"ok": 1, "evil": [exploit]}, protocol=protocol)
    live = tmp_path / "live"
    pickle.loads(pickle.dumps(_payloads(live)[name], protocol=protocol))  # the payload does run when unpickled
    assert live.exists()
    path = tmp_path / "model.pt"
    if layout == "zip":
        path.write_bytes(_zip(payload))
    else:
        header = b"".join(pickle.dumps(v, protocol=2) for v in
                          (0x1950A86A20F9469CFC6C, 1001, {"protocol_version": 1001, "little_endian": True}))
        path.write_bytes(header + payload)
    module, func = name.split(".")
    module = "(builtins|__builtin__)" if module == "builtins" else module  # protocol 2 spells it __builtin__
    with pytest.raises(ValueError, match=rf"refusing to load '{module}\.{func}' from .*model\.pt.*only tensors, "
                                         "containers and plain values are allowed"):
        dc.load(path)
    assert not marker.exists()


def test_plain_pickle_of_an_exploit_is_not_unpickled(tmp_path):
    marker = tmp_path / "marker"
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps(_payloads(marker)["posix.system"], protocol=2))
    with pytest.raises(ValueError, match="refusing to load 'posix.system'"):
        dc.load(path)
    assert not marker.exists()


def test_self_referencing_and_foreign_objects_are_refused(tmp_path):
    loop = []
    loop.append(loop)
    (tmp_path / "loop.pt").write_bytes(_zip(pickle.dumps(loop, protocol=2)))
    with pytest.raises(ValueError, match="contains itself"):
        dc.load(tmp_path / "loop.pt")
    (tmp_path / "set.pt").write_bytes(_zip(pickle.dumps({"a": complex(1, 2)}, protocol=2)))
    with pytest.raises(ValueError, match="refusing to load '(builtins|__builtin__).complex'"):
        dc.load(tmp_path / "set.pt")


@pytest.mark.parametrize("suffix", [".pt", ".safetensors", ".npz"])
def test_truncated_file_gives_a_clear_error(tmp_path, suffix):
    path = tmp_path / f"w{suffix}"
    dc.save({"w": dc.randn(40, 40), "b": dc.zeros(3)}, path)
    whole = path.read_bytes()
    for keep in (len(whole) - 1, len(whole) // 2, 12):
        path.write_bytes(whole[:keep])
        with pytest.raises(ValueError, match=rf"w{suffix}.*(corrupt or truncated|not a file dc.load reads)"):
            dc.load(path)


def test_storage_shorter_than_its_tensor_is_an_error(tmp_path):
    good = tmp_path / "w.pt"
    dc.save({"w": dc.arange(6.0)}, good)
    with zipfile.ZipFile(good) as z:
        records = {n: z.read(n) for n in z.namelist()}
    records["archive/data/0"] = records["archive/data/0"][:12]
    bad = tmp_path / "bad.pt"
    with zipfile.ZipFile(bad, "w") as z:
        for n, data in records.items():
            z.writestr(n, data)
    with pytest.raises(ValueError, match="storage '0' holds 12 bytes, the file says 24"):
        dc.load(bad)


@pytest.mark.parametrize("content", [b"hello, these are my notes\n", b"", b"\x00\x01binary junk"])
def test_foreign_file_names_the_file_and_no_pickle(tmp_path, content):
    path = tmp_path / "notes.txt"
    path.write_bytes(content)
    with pytest.raises(ValueError, match="notes.txt") as err:
        dc.load(path)
    assert "pickle" not in str(err.value)


# --- torch as the oracle ---------------------------------------------------------------------------
def _torch_dtype(torch, name):
    return getattr(torch, name)


@pytest.mark.parametrize("dtype", DTYPES)
def test_every_dtype_both_ways_with_torch(tmp_path, dtype):
    torch = pytest.importorskip("torch")
    a = _array(dtype, (2, 3), seed=1)
    # deepcore -> torch (weights_only)
    dc.save({"x": dc.tensor(a), "s": dc.tensor(a[1, 2])}, tmp_path / "d.pt")
    got = torch.load(tmp_path / "d.pt", weights_only=True)
    assert got["x"].dtype == _torch_dtype(torch, dtype) and tuple(got["x"].shape) == (2, 3)
    assert got["x"].to(torch.float64).numpy().tolist() == a.astype(np.float64).tolist()
    assert got["s"].shape == () and got["s"].to(torch.float64).item() == float(a[1, 2])
    # torch -> deepcore, both layouts
    t = torch.from_numpy(a.astype(np.float64)).to(_torch_dtype(torch, dtype))
    for legacy in (False, True):
        torch.save({"x": t, "s": t[1, 2]}, tmp_path / "t.pt", _use_new_zipfile_serialization=not legacy)
        back = dc.load(tmp_path / "t.pt")
        _same(back["x"], a)
        _same(back["s"], a[1, 2])


@pytest.mark.parametrize("legacy", [False, True])
def test_views_of_one_storage_keep_offsets_strides_and_sharing(tmp_path, legacy):
    torch = pytest.importorskip("torch")
    x = torch.arange(12.0).reshape(3, 4)
    sd = {"a": x, "b": x.t(), "c": x[1:], "d": x[:, 1::2], "e": x[2:2]}
    torch.save(sd, tmp_path / "v.pt", _use_new_zipfile_serialization=not legacy)
    back = dc.load(tmp_path / "v.pt")
    for k, t in sd.items():
        got = back[k].numpy()
        np.testing.assert_array_equal(got, t.numpy())
        if t.numel():
            assert tuple(s // got.itemsize for s in got.strides) == t.stride()
    assert not back["b"].numpy().flags.c_contiguous
    assert np.shares_memory(back["a"].numpy(), back["b"].numpy())
    assert np.shares_memory(back["a"].numpy(), back["c"].numpy())
    back["a"].numpy()[1, 0] = -1.0  # one storage: a write shows through every view of it, as in torch
    assert back["c"].numpy()[0, 0] == -1.0 and back["b"].numpy()[0, 1] == -1.0


def test_torch_extras_parameters_storages_sizes_and_unsupported_dtypes(tmp_path):
    torch = pytest.importorskip("torch")
    x, y = torch.arange(6.0), torch.arange(4.0)
    torch.save({"p": torch.nn.Parameter(torch.ones(2)), "u": y.untyped_storage(), "size": x.reshape(2, 3).shape,
                "ex": x[:1].expand(3), "raw": b"ab", "dt": torch.int16}, tmp_path / "x.pt")
    back = dc.load(tmp_path / "x.pt")
    assert back["p"].requires_grad and back["size"] == (2, 3) and back["raw"] == b"ab"
    assert back["dt"] == dc.int16
    np.testing.assert_array_equal(back["u"].numpy(), np.frombuffer(y.numpy().tobytes(), np.uint8))
    np.testing.assert_array_equal(back["ex"].numpy(), [0.0, 0.0, 0.0])
    assert not back["ex"].numpy().flags.writeable  # stride 0: its elements alias each other
    torch.save({"z": torch.ones(2, dtype=torch.complex64)}, tmp_path / "c.pt")
    with pytest.raises(ValueError, match="c.pt.*ComplexFloatStorage.*deepcore does not have"):
        dc.load(tmp_path / "c.pt")
    torch.save({"z": torch.ones(2, dtype=torch.float8_e4m3fn)}, tmp_path / "f8.pt")
    with pytest.raises(ValueError, match="f8.pt.*torch.float8_e4m3fn.*deepcore does not have"):
        dc.load(tmp_path / "f8.pt")
    big = np.array([1, 2 ** 64 - 1], dtype=np.uint64)
    torch.save({"z": torch.from_numpy(big)}, tmp_path / "u64.pt")  # no deepcore tensor dtype: a NumPy array
    back = dc.load(tmp_path / "u64.pt")["z"]
    assert isinstance(back, np.ndarray) and back.dtype == np.uint64 and back.tolist() == big.tolist()
    dc.save({"z": big}, tmp_path / "mine.pt")
    assert torch.load(tmp_path / "mine.pt", weights_only=True)["z"].tolist() == big.tolist()


def test_truncated_legacy_file_and_file_objects(tmp_path):
    torch = pytest.importorskip("torch")
    buf = io.BytesIO()
    torch.save({"w": torch.randn(30, 30), "b": torch.zeros(3, dtype=torch.int64)}, buf,
               _use_new_zipfile_serialization=False)
    whole = buf.getvalue()
    back = dc.load(io.BytesIO(whole))  # file objects work too, the format told by content
    assert back["w"].shape == (30, 30) and back["b"].dtype == dc.int64
    path = tmp_path / "old.pt"
    for keep in (len(whole) - 1, len(whole) - 3600, 200, 30):
        path.write_bytes(whole[:keep])
        with pytest.raises(ValueError, match=r"old\.pt"):
            dc.load(path)


def test_whole_torch_model_is_refused_with_advice(tmp_path):
    torch = pytest.importorskip("torch")
    torch.save(torch.nn.Linear(2, 3), tmp_path / "m.pt")
    with pytest.raises(ValueError, match=r"refusing to load 'torch.nn.modules.linear.Linear'.*state_dict\(\)"):
        dc.load(tmp_path / "m.pt")


def test_written_file_is_what_torch_expects(tmp_path):
    torch = pytest.importorskip("torch")
    dc.save({"w": dc.randn(3, 5), "b": dc.zeros(7, dtype="int64"), "h": dc.ones(2, dtype="float16")},
            tmp_path / "w.pt")
    with zipfile.ZipFile(tmp_path / "w.pt") as z:
        assert {"archive/data.pkl", "archive/version", "archive/byteorder"} <= set(z.namelist())
        for info in z.infolist():
            if "/data/" in info.filename:  # records start on 64-byte boundaries, as torch's reader maps them
                with open(tmp_path / "w.pt", "rb") as f:
                    f.seek(info.header_offset + 26)
                    n, e = np.frombuffer(f.read(4), "<u2")
                assert (info.header_offset + 30 + int(n) + int(e)) % 64 == 0
    mapped = torch.load(tmp_path / "w.pt", weights_only=True, mmap=True)
    assert mapped["b"].dtype == torch.int64 and mapped["h"].dtype == torch.float16


# --- real models, both ways ----------------------------------------------------------------------
def _torch_models(torch):
    tnn = torch.nn

    class TorchLSTMNet(tnn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = tnn.LSTM(5, 8, batch_first=True)
            self.head = tnn.Linear(8, 3)

        def forward(self, x):
            out, _ = self.lstm(x)
            return self.head(out[:, -1])

    return {
        "conv": lambda: tnn.Sequential(tnn.Conv2d(3, 6, 3, padding=1), tnn.BatchNorm2d(6), tnn.ReLU(),
                                       tnn.MaxPool2d(2), tnn.Flatten(), tnn.Linear(6 * 4 * 4, 5)),
        "lstm": TorchLSTMNet,
        "bn": lambda: tnn.Sequential(tnn.Linear(6, 10), tnn.BatchNorm1d(10), tnn.ReLU(), tnn.Linear(10, 2)),
    }


class _LSTMNet(dc.nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = dc.nn.LSTM(5, 8, batch_first=True)
        self.head = dc.nn.Linear(8, 3)

    def forward(self, x):
        out, _ = self.lstm(x)
        return self.head(out[:, -1])


DC_MODELS = {
    "conv": lambda: dc.nn.Sequential(dc.nn.Conv2d(3, 6, 3, padding=1), dc.nn.BatchNorm2d(6), dc.nn.ReLU(),
                                     dc.nn.MaxPool2d(2), dc.nn.Flatten(), dc.nn.Linear(6 * 4 * 4, 5)),
    "lstm": _LSTMNet,
    "bn": lambda: dc.nn.Sequential(dc.nn.Linear(6, 10), dc.nn.BatchNorm1d(10), dc.nn.ReLU(), dc.nn.Linear(10, 2)),
}
INPUTS = {"conv": (4, 3, 8, 8), "lstm": (4, 7, 5), "bn": (16, 6)}


def _trained_torch(torch, kind):
    torch.manual_seed(0)
    model = _torch_models(torch)[kind]()
    x = torch.randn(*INPUTS[kind]) * 2 + 0.5
    model.train()
    for _ in range(3):  # move BatchNorm running statistics away from their initial values
        model(x)
    return model.eval()


def _save_torch(torch, sd, path):
    if str(path).endswith(".safetensors"):
        from safetensors.torch import save_file
        save_file({k: v.contiguous() for k, v in sd.items()}, str(path))
    else:
        torch.save(sd, path)


@pytest.mark.parametrize("suffix", [".pt", ".safetensors"])
@pytest.mark.parametrize("kind", ["conv", "lstm", "bn"])
def test_torch_state_dict_loads_into_deepcore_model(tmp_path, kind, suffix):
    torch = pytest.importorskip("torch")
    tmodel = _trained_torch(torch, kind)
    path = tmp_path / f"{kind}{suffix}"
    _save_torch(torch, tmodel.state_dict(), path)
    model = DC_MODELS[kind]().eval()
    model.load_state_dict(dc.load(path))
    x = np.random.default_rng(2).standard_normal(INPUTS[kind]).astype(np.float32)
    with torch.no_grad():
        expected = tmodel(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(model(dc.tensor(x)).numpy(), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("suffix", [".pt", ".safetensors"])
@pytest.mark.parametrize("kind", ["conv", "lstm", "bn"])
def test_deepcore_state_dict_loads_into_torch_model(tmp_path, kind, suffix):
    torch = pytest.importorskip("torch")
    model = DC_MODELS[kind]()
    x = np.random.default_rng(3).standard_normal(INPUTS[kind]).astype(np.float32)
    model(dc.tensor(x * 2 + 1))  # train mode: BatchNorm statistics move
    model.eval()
    path = tmp_path / f"{kind}{suffix}"
    dc.save(model.state_dict(), path)
    if suffix == ".pt":
        sd = torch.load(path, weights_only=True)
    else:
        from safetensors.torch import load_file
        sd = load_file(str(path))
    tmodel = _torch_models(torch)[kind]().eval()
    tmodel.load_state_dict(sd)
    with torch.no_grad():
        got = tmodel(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(got, model(dc.tensor(x)).numpy(), rtol=1e-5, atol=1e-5)
