"""Issue 14 (reliability) and issue 12's DataLoader options: each test is named after the item it covers.

14.1 exact resume (RNG state in checkpoints), 14.2/14.5 labels validated before the first step,
14.3 all-or-nothing Module.load_state_dict, 14.4 validated Optimizer.load_state_dict, 14.9 clear errors
(load_state_dict(None), a single callback, string labels), 14.11 empty DataLoader and CSVLogger cleanup,
12 DataLoader's sampler / collate_fn / num_workers / pin_memory / persistent_workers / generator.
"""
import copy
import threading

import numpy as np
import pytest

import deepcore as dc
from deepcore import checkpoint
from deepcore.data import DataLoader, Dataset, TensorDataset
from deepcore.training.callbacks import (
    CSVLogger,
    History,
    LambdaCallback,
    LearningRateScheduler,
    ModelCheckpoint,
)

nn = dc.nn


def blobs(n=96, d=6, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 3, (classes, d))
    y = rng.integers(0, classes, n)
    x = (centers[y] + rng.normal(0, 1, (n, d))).astype(np.float32)
    return x, y


def dropout_mlp(seed=0):
    dc.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 32), nn.ReLU(), nn.Dropout(0.5), nn.Linear(32, 3))


def weights(model):
    return {k: v.numpy().copy() for k, v in model.state_dict().items()}


def assert_same(a, b):
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


# --- 14.1 exact resume ------------------------------------------------------------------------------
def _draws(device):
    """Numbers from every generator deepcore uses: the device's generator, dropout, a shuffle."""
    out = [dc.rand(5, device=device).numpy()]
    x = dc.ones(64, device=device)
    out.append(dc.nn.functional.dropout(x, 0.5, training=True).numpy())
    out.append(np.concatenate([b[0].numpy() for b in DataLoader(TensorDataset(np.arange(10)), 3, shuffle=True)]))
    out.append(dc.rand(3).numpy())
    return out


def test_14_1_rng_state_round_trip_restores_every_generator(device, tmp_path):
    _draws(device)  # the device's generator and the dropout counters exist now
    state = dc.get_rng_state()
    first = _draws(device)
    dc.set_rng_state(state)
    for a, b in zip(first, _draws(device)):
        np.testing.assert_array_equal(a, b)
    dc.save(state, tmp_path / "rng.npz")  # the state is a plain, saveable dict
    dc.manual_seed(123)
    dc.set_rng_state(dc.load(tmp_path / "rng.npz"))
    for a, b in zip(first, _draws(device)):
        np.testing.assert_array_equal(a, b)


def test_14_1_rng_state_restores_a_device_generator_created_later(device):
    dc.manual_seed(7)
    state = dc.get_rng_state()  # no device generator used yet
    first = _draws(device)
    _draws(device)
    dc.set_rng_state(state)
    for a, b in zip(first, _draws(device)):
        np.testing.assert_array_equal(a, b)


def test_14_1_set_rng_state_checks_before_changing():
    state = dc.get_rng_state()
    expected = dc.rand(4).numpy()
    dc.set_rng_state(state)
    bad = copy.deepcopy(state)
    bad["cpu"]["words"] = np.zeros(3, dtype=np.uint64)
    with pytest.raises(ValueError, match="6 unsigned 64-bit words"):
        dc.set_rng_state(bad)
    with pytest.raises(TypeError, match="get_rng_state"):
        dc.set_rng_state(None)
    with pytest.raises(ValueError, match="not a deepcore RNG state"):
        dc.set_rng_state({"cpu": 1})
    np.testing.assert_array_equal(dc.rand(4).numpy(), expected)  # nothing changed


def _resume_data(kind, x, y):
    if kind == "arrays":
        return {"x": x, "y": y, "shuffle": True}
    ds = TensorDataset(x, y)
    if kind == "loader_generator":
        return {"x": DataLoader(ds, batch_size=16, shuffle=True, generator=np.random.default_rng(5))}
    return {"x": DataLoader(ds, batch_size=16, shuffle=True)}  # shuffles from deepcore's generator


def _compiled(seed):
    model = dropout_mlp(seed)
    opt = dc.optim.SGD(model.parameters(), lr=0.2, momentum=0.9)
    model.compile(optimizer=opt, loss="cross_entropy", metrics=["accuracy"])
    sched = dc.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    return model, opt, sched


@pytest.mark.parametrize("kind", ["arrays", "loader_generator", "loader_global"])
def test_14_1_resume_is_bit_identical_with_shuffle_dropout_and_steplr(device, tmp_path, kind):
    x, y = blobs()
    path = str(tmp_path / "ckpt.npz")

    full, _, sched = _compiled(0)
    h_full = full.fit(**_resume_data(kind, x, y), batch_size=16, epochs=5, verbose=0, device=device,
                      callbacks=[LearningRateScheduler(sched)])

    part, _, sched = _compiled(0)
    part.fit(**_resume_data(kind, x, y), batch_size=16, epochs=3, verbose=0, device=device,
             callbacks=[ModelCheckpoint(path, monitor="loss"), LearningRateScheduler(sched)])

    dc.manual_seed(99)  # a new process: other seeds, other weights, a fresh optimizer and schedule
    fresh, opt, sched = _compiled(5)
    fresh.to(device)
    assert checkpoint.load_checkpoint(path, fresh, opt) == 3
    h_rest = fresh.fit(**_resume_data(kind, x, y), batch_size=16, epochs=5, initial_epoch=3, verbose=0,
                       device=device, callbacks=[LearningRateScheduler(sched)])
    assert h_rest.epoch == [3, 4]
    assert h_rest.history["lr"] == h_full.history["lr"][3:] == [0.1, 0.05]
    assert h_rest.history["loss"] == h_full.history["loss"][3:]
    assert_same(weights(full), weights(fresh))


def test_14_1_save_checkpoint_holds_the_rng_state(tmp_path):
    model = dropout_mlp()
    checkpoint.save_checkpoint(tmp_path / "c.npz", model)
    after_save = dc.rand(3).numpy()
    checkpoint.load_checkpoint(tmp_path / "c.npz", model)
    np.testing.assert_array_equal(dc.rand(3).numpy(), after_save)
    assert checkpoint.read_checkpoint(tmp_path / "c.npz")["rng"]["format"] == "deepcore.rng_state"


def test_14_1_dataloader_state_dict_resumes_its_order():
    ds = TensorDataset(np.arange(20))
    a = DataLoader(ds, batch_size=5, shuffle=True, generator=np.random.default_rng(1))
    list(a)
    state = copy.deepcopy(a.state_dict())
    expected = [b[0].numpy() for b in a]
    b = DataLoader(ds, batch_size=5, shuffle=True, generator=np.random.default_rng(1))
    b.load_state_dict(state)
    for u, v in zip(expected, [t[0].numpy() for t in b]):
        np.testing.assert_array_equal(u, v)
    with pytest.raises(ValueError, match="has none"):
        DataLoader(ds, batch_size=5, shuffle=True).load_state_dict(state)


# --- 14.2 / 14.5 labels checked before the first step -------------------------------------------------
def _model_with_state():
    dc.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3))
    model.compile(optimizer=dc.optim.Adam(model.parameters(), lr=0.1), loss="cross_entropy")
    return model


def test_14_2_fit_refuses_non_integral_class_labels():
    x, y = blobs(40)
    model = _model_with_state()
    with pytest.raises(ValueError, match=r"0\.7.* at index 0, which is not an integer"):
        model.fit(x, y + 0.7, verbose=0)


def test_14_2_non_integral_labels_from_a_loader_are_refused():
    x, y = blobs(40)
    model = _model_with_state()
    loader = DataLoader(TensorDataset(x, (y + 0.5).astype(np.float32)), batch_size=8)
    with pytest.raises(ValueError, match="not an integer"):
        model.fit(loader, verbose=0)


@pytest.mark.parametrize("bad", [2.5, -3, 7], ids=["fractional", "negative", "out_of_range"])
@pytest.mark.parametrize("where", ["train", "validation"])
def test_14_5_a_bad_label_anywhere_changes_nothing(bad, where):
    x, y = blobs(64)
    y = y.astype(np.float64) if isinstance(bad, float) else y.copy()
    model = _model_with_state()
    before = weights(model)
    if where == "train":
        y[-1] = bad  # in the last batch
        args = {"x": x, "y": y}
    else:
        yv = y[:16].copy()
        yv[-1] = bad
        args = {"x": x, "y": y, "validation_data": (x[:16], yv)}
    error = ValueError if isinstance(bad, float) else IndexError  # as F.cross_entropy raises them
    with pytest.raises(error, match=rf"{bad}.* at index (63|15)"):
        model.fit(**args, batch_size=8, epochs=1, verbose=0)
    assert_same(before, weights(model))  # weights and BatchNorm statistics
    assert model.optimizer.state == {}


def test_14_5_ignore_index_labels_are_accepted():
    x, y = blobs(32)
    y = y.copy()
    y[3] = -100  # cross_entropy's default ignore_index
    model = _model_with_state()
    model.fit(x, y, epochs=1, verbose=0)


# --- 14.3 Module.load_state_dict is all or nothing ---------------------------------------------------
@pytest.mark.parametrize("bad,error,match", [
    (np.array(["a", "b", "c"]), TypeError, r"'2\.bias' has dtype <U1"),
    (np.zeros(4, dtype=np.float32), ValueError, r"size mismatch for '2\.bias'"),
    (np.ones(3, dtype=np.complex64), TypeError, r"'2\.bias' is complex"),
    ("text", TypeError, r"'2\.bias'"),
], ids=["strings", "shape", "complex", "str"])
def test_14_3_load_state_dict_is_all_or_nothing(device, bad, error, match):
    dc.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.Linear(5, 3)).to(device)
    before = weights(model)
    sd = {k: v + 1.0 for k, v in before.items()}
    sd["2.bias"] = bad  # the last key: every earlier one would already have been written
    with pytest.raises(error, match=match):
        model.load_state_dict(sd)
    assert_same(before, weights(model))
    model.load_state_dict({k: v + 1.0 for k, v in before.items()})
    np.testing.assert_array_equal(weights(model)["0.weight"], before["0.weight"] + 1.0)


# --- 14.4 Optimizer.load_state_dict validates everything first --------------------------------------
def _stepped_adam():
    params = [dc.tensor(np.ones((3, 2)), requires_grad=True), dc.tensor(np.ones(2), requires_grad=True)]
    opt = dc.optim.Adam(params, lr=0.1)
    for p in params:
        p.grad = dc.ones(*p.shape, dtype=p.dtype)
    opt.step()
    return params, opt


def _corrupt(sd, what):
    sd = copy.deepcopy(sd)
    if what == "group_without_lr":
        del sd["param_groups"][0]["lr"]
    elif what == "sgd_state":
        sd["state"] = {i: {"momentum_buffer": s["exp_avg"]} for i, s in sd["state"].items()}
    elif what == "exp_avg_not_array":
        sd["state"][1]["exp_avg"] = "zeros"
    elif what == "exp_avg_missing":
        del sd["state"][1]["exp_avg"]
    elif what == "fractional_step":
        sd["state"][1]["step"] = 1.5
    elif what == "negative_step":
        sd["state"][1]["step"] = -1
    elif what == "wrong_shape":
        sd["state"][1]["exp_avg_sq"] = np.zeros(3)
    elif what == "extra_group":
        sd["param_groups"].append(dict(sd["param_groups"][0]))
    elif what == "too_few_params":
        sd["param_groups"][0]["params"] = [0]
    elif what == "bad_lr":
        sd["param_groups"][0]["lr"] = "fast"
    return sd


@pytest.mark.parametrize("what,match", [
    ("group_without_lr", r"param_groups\[0\] has no 'lr'"),
    ("sgd_state", r"'momentum_buffer' of parameter 0 is not Adam state.*'exp_avg'.*another optimizer"),
    ("exp_avg_not_array", r"'exp_avg' of parameter 1 must be an array of shape \(2,\), got str"),
    ("exp_avg_missing", r"parameter 1 has no 'exp_avg'"),
    ("fractional_step", r"'step' of parameter 1 must be a whole number >= 0, got 1\.5"),
    ("negative_step", r"'step' of parameter 1 must be a whole number >= 0, got -1"),
    ("wrong_shape", r"'exp_avg_sq' of parameter 1 has shape \(3,\), but the parameter has shape \(2,\)"),
    ("extra_group", r"2 parameter group\(s\), the optimizer has 1"),
    ("too_few_params", r"group 0 has 1 parameters in the state dict, 2 in the optimizer"),
    ("bad_lr", r"Invalid learning rate: fast"),
])
def test_14_4_optimizer_load_state_dict_validates_up_front(what, match):
    params, opt = _stepped_adam()
    good = copy.deepcopy(opt.state_dict())
    with pytest.raises((ValueError, TypeError), match=match):
        opt.load_state_dict(_corrupt(good, what))
    assert_same({str(k): v for k, v in opt.state_dict()["state"][1].items() if k != "step"},
                {str(k): v for k, v in good["state"][1].items() if k != "step"})
    assert opt.param_groups[0]["lr"] == 0.1 and opt.state[params[1]]["step"] == 1
    opt.step()  # still works
    assert opt.state[params[1]]["step"] == 2


def test_14_4_torch_format_state_dicts_keep_loading():
    torch = pytest.importorskip("torch")
    tp = [torch.nn.Parameter(torch.ones(3, 2, dtype=torch.float64)), torch.nn.Parameter(torch.ones(2, dtype=torch.float64))]
    for cls, kw in ((torch.optim.Adam, {"lr": 0.1}), (torch.optim.SGD, {"lr": 0.1, "momentum": 0.9}),
                    (torch.optim.SGD, {"lr": 0.1})):
        topt = cls(tp, **kw)
        for p in tp:
            p.grad = torch.full_like(p, 0.5)
        topt.step()
        tsd = topt.state_dict()
        sd = {"state": {i: {k: (v.numpy() if torch.is_tensor(v) else v) for k, v in s.items()}
                        for i, s in tsd["state"].items()},
              "param_groups": tsd["param_groups"]}
        params = [dc.tensor(p.detach().numpy().copy(), requires_grad=True) for p in tp]
        mine = getattr(dc.optim, cls.__name__)(params, lr=0.5)
        mine.load_state_dict(sd)
        for p, q in zip(params, tp):
            p.grad = dc.tensor(np.full(p.shape, 0.5))
        mine.step()
        topt.step()
        for p, q in zip(params, tp):
            np.testing.assert_allclose(p.numpy(), q.detach().numpy(), rtol=1e-12)


# --- 14.9 clear errors -------------------------------------------------------------------------------
def test_14_9_load_state_dict_none_is_a_type_error():
    with pytest.raises(TypeError, match="expected a dict of name -> Tensor or array.*got NoneType"):
        nn.Linear(2, 2).load_state_dict(None)


def test_14_9_fit_accepts_a_single_callback_like_a_list_of_one():
    x, y = blobs(32)
    model = _model_with_state()
    seen = History()
    hist = model.fit(x, y, epochs=2, verbose=0, callbacks=seen)
    assert seen.epoch == [0, 1] and seen.history["loss"] == hist.history["loss"]
    with pytest.raises(TypeError, match="callbacks must be a list of Callback objects.*got function"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=lambda epoch, logs: None)
    with pytest.raises(TypeError, match=r"callbacks\[1\] is a str"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[seen, "history"])


@pytest.mark.parametrize("labels", [np.array(["cat", "dog"] * 16), ["cat", "dog"] * 16], ids=["array", "list"])
def test_14_9_string_labels_get_a_clear_error(labels):
    x, _ = blobs(32)
    model = _model_with_state()
    before = weights(model)
    with pytest.raises(TypeError, match=r"y holds strings .*'cat'.*np\.unique\(y, return_inverse=True\)"):
        model.fit(x, labels, epochs=1, verbose=0)
    assert_same(before, weights(model))


# --- 14.11 empty loaders, callbacks cleaned up ---------------------------------------------------------
@pytest.mark.parametrize("loader", [
    lambda: DataLoader(TensorDataset(np.zeros((0, 6), np.float32), np.zeros(0, np.int64)), batch_size=4),
    lambda: DataLoader(TensorDataset(np.zeros((3, 6), np.float32), np.zeros(3, np.int64)), batch_size=4,
                       drop_last=True),
], ids=["no_samples", "drop_last"])
def test_14_11_fit_on_an_empty_dataloader_raises(loader):
    model = _model_with_state()
    with pytest.raises(ValueError, match="training data is empty"):
        model.fit(loader(), epochs=1, verbose=0)
    x, y = blobs(16)
    with pytest.raises(ValueError, match="validation data is empty"):
        model.fit(x, y, validation_data=loader(), epochs=1, verbose=0)


def test_14_11_fit_on_an_empty_iterable_without_len_raises():
    model = _model_with_state()

    class Empty:
        def __iter__(self):
            return iter(())

    with pytest.raises(ValueError, match="produced no batches"):
        model.fit(Empty(), epochs=1, verbose=0)


@pytest.mark.parametrize("error", [KeyboardInterrupt, RuntimeError])
def test_14_11_csvlogger_closes_its_file_when_fit_is_interrupted(tmp_path, error):
    x, y = blobs(32)
    model = _model_with_state()
    logger = CSVLogger(tmp_path / "log.csv")
    files = []

    def interrupt(batch, logs):
        if len(files) == 1 and batch == 1:
            raise error("stop")

    probe = LambdaCallback(on_train_begin=lambda logs: files.append(logger._file), on_batch_end=interrupt)
    with pytest.raises(error):
        model.fit(x, y, batch_size=8, epochs=3, verbose=0, callbacks=[logger, probe])
    assert files[0].closed and logger._file is None


# --- 12 DataLoader options ------------------------------------------------------------------------------
class Rows(Dataset):
    """A per-item dataset (no gather fast path) that records which threads read it."""

    def __init__(self, n=23):
        self.x = np.arange(n * 2, dtype=np.float32).reshape(n, 2)
        self.threads = set()

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        self.threads.add(threading.current_thread().name)
        if i == 999:
            raise KeyError(i)
        return self.x[i], int(i)


def _batches(loader):
    return [(xb.numpy(), yb.numpy()) for xb, yb in loader]


def test_12_dataloader_sampler_gives_the_order():
    ds = TensorDataset(np.arange(10.0), np.arange(10))
    loader = DataLoader(ds, batch_size=4, sampler=[9, 7, 5, 3, 1])
    assert len(loader) == 2
    assert [yb.numpy().tolist() for _, yb in loader] == [[9, 7, 5, 3], [1]]

    class Reversed:
        def __iter__(self):
            return iter(range(9, -1, -1))

        def __len__(self):
            return 10

    assert [yb.numpy().tolist() for _, yb in DataLoader(Rows(10), batch_size=5, sampler=Reversed())] == \
        [[9, 8, 7, 6, 5], [4, 3, 2, 1, 0]]
    with pytest.raises(ValueError, match="mutually exclusive with shuffle"):
        DataLoader(ds, sampler=[0, 1], shuffle=True)
    with pytest.raises(TypeError, match="iterable of dataset indices"):
        DataLoader(ds, sampler=3)


def test_12_dataloader_collate_fn_and_default_collate():
    ds = Rows(6)
    loader = DataLoader(ds, batch_size=4, collate_fn=lambda items: {"n": len(items), "first": items[0][1]})
    assert list(loader) == [{"n": 4, "first": 0}, {"n": 2, "first": 4}]
    xb, yb = next(iter(DataLoader(ds, batch_size=3)))
    assert isinstance(xb, dc.Tensor) and xb.shape == (3, 2) and yb.dtype == np.int64
    with pytest.raises(TypeError, match="collate_fn must be callable"):
        DataLoader(ds, collate_fn=3)


@pytest.mark.parametrize("persistent", [False, True])
def test_12_dataloader_workers_keep_order_and_determinism(persistent):
    ds = Rows()
    serial = _batches(DataLoader(ds, batch_size=4, shuffle=True, seed=3))
    assert ds.threads == {threading.current_thread().name}
    ds.threads.clear()
    loader = DataLoader(ds, batch_size=4, shuffle=True, seed=3, num_workers=3, persistent_workers=persistent)
    threaded = _batches(loader)
    assert ds.threads and all(t.startswith("deepcore-dataloader") for t in ds.threads)
    assert len(serial) == len(threaded) == 6
    for (a, b), (c, d) in zip(serial, threaded):
        np.testing.assert_array_equal(a, c)
        np.testing.assert_array_equal(b, d)
    pool = loader._pool
    _batches(loader)  # a second epoch
    assert (loader._pool is pool is not None) if persistent else loader._pool is None
    # a worker's error reaches the caller
    bad = DataLoader(ds, batch_size=2, sampler=[0, 1, 999, 3], num_workers=2)
    with pytest.raises(KeyError):
        list(bad)


def test_12_dataloader_worker_options_are_validated():
    ds = Rows(4)
    with pytest.raises(ValueError, match="persistent_workers option needs num_workers > 0"):
        DataLoader(ds, persistent_workers=True)
    with pytest.raises(ValueError, match="num_workers must be an integer >= 0"):
        DataLoader(ds, num_workers=-1)
    with pytest.raises(ValueError, match="prefetch_factor"):
        DataLoader(ds, prefetch_factor=2)


def test_12_dataloader_pin_memory(device):
    x = np.arange(12, dtype=np.float32).reshape(6, 2)
    plain = _batches(DataLoader(Rows(6), batch_size=4))
    pinned_loader = DataLoader(Rows(6), batch_size=4, pin_memory=True)
    pinned = _batches(pinned_loader)
    for (a, b), (c, d) in zip(plain, pinned):
        np.testing.assert_array_equal(a, c)
        np.testing.assert_array_equal(b, d)
    xb, _ = next(iter(DataLoader(TensorDataset(x, np.arange(6)), batch_size=4, pin_memory=True)))
    np.testing.assert_array_equal(xb.numpy(), x[:4])
    if device == "cuda":  # page-locked host memory when CUDA is present
        owner = xb.data
        while isinstance(owner, (np.ndarray, memoryview)):
            owner = owner.obj if isinstance(owner, memoryview) else owner.base
        assert type(owner).__name__ == "PinnedMemoryPointer"
        assert xb.device == dc.device("cpu")
        assert xb.to("cuda").numpy().tolist() == x[:4].tolist()


def test_12_dataloader_generator():
    ds = TensorDataset(np.arange(30))
    a = [b[0].numpy() for b in DataLoader(ds, batch_size=7, shuffle=True, generator=np.random.default_rng(4))]
    b = [b[0].numpy() for b in DataLoader(ds, batch_size=7, shuffle=True, seed=4)]
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    with pytest.raises(TypeError, match="numpy.random.Generator"):
        DataLoader(ds, shuffle=True, generator=4)
    with pytest.raises(ValueError, match="not both"):
        DataLoader(ds, shuffle=True, generator=np.random.default_rng(), seed=1)
