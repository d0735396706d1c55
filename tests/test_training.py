"""Keras-style training: compile/fit/evaluate/predict, string resolution, checkpoints and exact resume."""
import numpy as np
import pytest

import deepcore as dc
from deepcore import checkpoint
from deepcore.training import KerasMixin, losses, metrics
from deepcore.training.callbacks import ModelCheckpoint

nn = dc.nn
F = dc.nn.functional



def test_every_module_has_the_keras_methods():
    assert issubclass(nn.Module, KerasMixin)
    assert all(callable(getattr(nn.Linear(2, 2), m)) for m in ("compile", "fit", "evaluate", "predict"))


# --- data and models -----------------------------------------------------------------------------
def digits():
    datasets = pytest.importorskip("sklearn.datasets")
    d = datasets.load_digits()
    x = (d.data / 16.0).astype(np.float32)
    y = d.target.astype(np.int64)
    perm = np.random.default_rng(0).permutation(len(x))
    return x[perm], y[perm]


def blobs(n=120, d=6, classes=3, seed=0):
    """Linearly separable-ish clusters: easy to learn, fast."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 3, (classes, d))
    y = rng.integers(0, classes, n)
    x = (centers[y] + rng.normal(0, 1, (n, d))).astype(np.float32)
    return x, y


def mlp(d_in=6, hidden=16, d_out=3, seed=0):
    dc.manual_seed(seed)
    return nn.Sequential(nn.Linear(d_in, hidden), nn.Tanh(), nn.Linear(hidden, d_out))


def weights(model):
    return {k: v.numpy().copy() for k, v in model.state_dict().items()}


def assert_same_weights(a, b):
    wa, wb = weights(a), weights(b)
    assert wa.keys() == wb.keys()
    for k in wa:
        np.testing.assert_array_equal(wa[k], wb[k], err_msg=k)


# --- end to end ----------------------------------------------------------------------------------
def test_fit_digits_reaches_accuracy(device):
    x, y = digits()
    xtr, ytr, xte, yte = x[:1400], y[:1400], x[1400:], y[1400:]
    model = mlp(64, 64, 10)
    model.compile(optimizer=dc.optim.Adam(model.parameters(), lr=3e-3), loss="cross_entropy",
                  metrics=["accuracy"])
    hist = model.fit(xtr, ytr, batch_size=32, epochs=6, validation_split=0.1, verbose=0, device=device, seed=0)
    assert hist.history["accuracy"][-1] > hist.history["accuracy"][0]
    assert hist.history["val_accuracy"][-1] >= 0.9
    result = model.evaluate(xte, yte, batch_size=64)
    assert set(result) == {"loss", "accuracy"}
    assert result["accuracy"] >= 0.9
    assert next(iter(model.parameters())).device == dc.device(device)
    pred = model.predict(xte)
    assert isinstance(pred, np.ndarray) and pred.shape == (len(xte), 10)
    np.testing.assert_allclose((pred.argmax(1) == yte).mean(), result["accuracy"])


def test_history_keys_and_lengths():
    x, y = blobs()
    model = mlp()
    model.compile("adam", "cross_entropy", metrics=["accuracy"])
    hist = model.fit(x, y, epochs=3, verbose=0, validation_data=(x[:30], y[:30]))
    assert set(hist.history) == {"loss", "accuracy", "val_loss", "val_accuracy", "lr"}
    assert all(len(v) == 3 for v in hist.history.values())
    assert hist.epoch == [0, 1, 2]
    assert hist.history["lr"] == [pytest.approx(1e-3)] * 3
    assert model.history is hist
    assert all(isinstance(v, float) for vals in hist.history.values() for v in vals)
    # without validation there are no val_ keys
    hist = model.fit(x, y, epochs=2, verbose=0)
    assert set(hist.history) == {"loss", "accuracy", "lr"}


def test_loss_decreases_and_matches_evaluate_without_training():
    x, y = blobs()
    model = mlp()
    model.compile(optimizer="sgd", loss="cross_entropy")
    before = model.evaluate(x, y)["loss"]
    hist = model.fit(x, y, epochs=5, batch_size=16, verbose=0)
    assert hist.history["loss"][-1] < hist.history["loss"][0]
    assert model.evaluate(x, y)["loss"] < before


def test_validation_split_takes_last_fraction_before_shuffling():
    x, y = blobs(100)
    a = mlp(seed=3)
    a.compile("sgd", "cross_entropy", metrics=["accuracy"])
    ha = a.fit(x, y, epochs=3, batch_size=10, validation_split=0.2, seed=5, verbose=0)
    b = mlp(seed=3)
    b.compile("sgd", "cross_entropy", metrics=["accuracy"])
    hb = b.fit(x[:80], y[:80], epochs=3, batch_size=10, validation_data=(x[80:], y[80:]), seed=5, verbose=0)
    assert ha.history == hb.history
    assert_same_weights(a, b)


def test_validation_split_errors():
    x, y = blobs(10)
    model = mlp()
    model.compile("sgd", "cross_entropy")
    with pytest.raises(ValueError, match="validation_split"):
        model.fit(x, y, validation_split=1.0, verbose=0)
    with pytest.raises(ValueError, match="validation_split"):
        model.fit(x, y, validation_split=0.95, verbose=0)
    loader = dc.data.DataLoader(dc.data.TensorDataset(x, y), batch_size=4)
    with pytest.raises(ValueError, match="validation_split"):
        model.fit(loader, validation_split=0.5, verbose=0)


def test_shuffle_false_is_deterministic_and_seed_controls_order():
    x, y = blobs()
    runs = []
    for seed, shuffle in [(1, False), (2, False), (1, True), (1, True), (2, True)]:
        m = mlp()
        m.compile("sgd", "cross_entropy")
        m.fit(x, y, epochs=2, batch_size=8, shuffle=shuffle, seed=seed, verbose=0)
        runs.append(weights(m)["0.weight"])
    np.testing.assert_array_equal(runs[0], runs[1])   # no shuffling: the seed does not matter
    np.testing.assert_array_equal(runs[2], runs[3])   # same seed: same order
    assert not np.array_equal(runs[2], runs[4])       # another seed: another order
    assert not np.array_equal(runs[0], runs[2])


def test_evaluate_is_sample_weighted_eval_mode_and_no_grad():
    x, y = blobs(50)
    dc.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Dropout(0.5), nn.Linear(16, 3))
    model.compile("adam", "cross_entropy", metrics=["accuracy"])
    result = model.evaluate(x, y, batch_size=7)  # 50 = 7 * 7 + 1: uneven batches
    model.eval()
    logits = model(dc.tensor(x))
    model.train()
    expect_loss = F.cross_entropy(logits, dc.tensor(y)).item()
    expect_acc = (logits.numpy().argmax(1) == y).mean()
    assert result["loss"] == pytest.approx(expect_loss, rel=1e-5)
    assert result["accuracy"] == pytest.approx(expect_acc)
    assert model.training  # mode restored
    assert all(p.grad is None for p in model.parameters())
    assert model.evaluate(x, y, batch_size=50) == pytest.approx(result)
    model.eval()
    model.evaluate(x, y)
    assert not model.training


def test_predict_shape_batching_and_mode(device):
    x, _ = blobs(23)
    dc.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 8), nn.Dropout(0.5), nn.Linear(8, 2)).to(device)
    full = model.predict(x, batch_size=100)
    for bs in (1, 5, 23):
        out = model.predict(x, batch_size=bs)
        assert isinstance(out, np.ndarray) and out.shape == (23, 2) and out.dtype == np.float32
        np.testing.assert_allclose(out, full, rtol=1e-6, atol=1e-6)
    model.eval()
    np.testing.assert_allclose(full, model(dc.tensor(x, device=device)).numpy(), rtol=1e-6, atol=1e-6)
    model.train()
    model.predict(x)
    assert model.training
    # predict works without compile, on Tensors and on a DataLoader
    np.testing.assert_allclose(model.predict(dc.tensor(x)), full, rtol=1e-6, atol=1e-6)
    loader = dc.data.DataLoader(dc.data.TensorDataset(x), batch_size=4)
    np.testing.assert_allclose(model.predict(loader), full, rtol=1e-6, atol=1e-6)
    assert model.predict(x, steps=2, batch_size=4).shape == (8, 2)


def test_inputs_as_tensors_and_dataloader_match_arrays():
    x, y = blobs(64)
    ref = mlp()
    ref.compile("sgd", "cross_entropy")
    ref.fit(x, y, epochs=2, batch_size=16, shuffle=False, verbose=0)
    t = mlp()
    t.compile("sgd", "cross_entropy")
    t.fit(dc.tensor(x), dc.tensor(y), epochs=2, batch_size=16, shuffle=False, verbose=0)
    assert_same_weights(ref, t)
    loaded = mlp()
    loaded.compile("sgd", "cross_entropy", metrics=["accuracy"])
    loader = dc.data.DataLoader(dc.data.TensorDataset(x, y), batch_size=16)
    hist = loaded.fit(loader, epochs=2, verbose=0, validation_data=loader)
    assert_same_weights(ref, loaded)
    assert set(hist.history) == {"loss", "accuracy", "val_loss", "val_accuracy", "lr"}
    assert loaded.evaluate(loader) == pytest.approx(loaded.evaluate(x, y, batch_size=16))
    with pytest.raises(ValueError, match="y must be None"):
        loaded.fit(loader, y, verbose=0)


def test_multi_input_model():
    class TwoInputs(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Linear(3, 2), nn.Linear(4, 2)

        def forward(self, u, v):
            return self.a(u) + self.b(v)

    rng = np.random.default_rng(0)
    u, v = rng.normal(size=(40, 3)).astype(np.float32), rng.normal(size=(40, 4)).astype(np.float32)
    y = (u[:, :2] - v[:, 2:]).astype(np.float32)
    dc.manual_seed(0)
    model = TwoInputs()
    model.compile(dc.optim.Adam(model.parameters(), lr=0.05), "mse")
    hist = model.fit([u, v], y, epochs=30, batch_size=8, verbose=0)
    assert hist.history["loss"][-1] < 0.1 * hist.history["loss"][0]
    assert model.predict([u, v]).shape == (40, 2)


def test_steps_per_epoch():
    x, y = blobs(20)
    model = mlp()
    model.compile("sgd", "cross_entropy")
    seen = []
    cb = dc.training.callbacks.LambdaCallback(on_batch_end=lambda b, logs: seen.append(b))
    model.fit(x, y, batch_size=8, epochs=2, steps_per_epoch=5, verbose=0, callbacks=[cb])  # 3 batches/pass
    assert seen == [0, 1, 2, 3, 4] * 2


# --- losses, metrics and optimizers by name ------------------------------------------------------
@pytest.mark.parametrize("name,cls,lr", [("sgd", "SGD", 0.01), ("adam", "Adam", 1e-3), ("adamw", "AdamW", 1e-3),
                                         ("adagrad", "Adagrad", 1e-2), ("rmsprop", "RMSprop", 1e-2),
                                         ("adadelta", "Adadelta", 1.0), ("Adam", "Adam", 1e-3)])
def test_optimizer_strings(name, cls, lr):
    model = mlp()
    model.compile(optimizer=name, loss="mse")
    assert type(model.optimizer).__name__ == cls
    assert model.optimizer.param_groups[0]["lr"] == pytest.approx(lr)
    assert len(model.optimizer.param_groups[0]["params"]) == 4


def test_optimizer_object_class_and_errors():
    model = mlp()
    opt = dc.optim.SGD(model.parameters(), lr=0.5)
    model.compile(optimizer=opt, loss="mse")
    assert model.optimizer is opt
    model.compile(optimizer=dc.optim.Adam, loss="mse")
    assert isinstance(model.optimizer, dc.optim.Adam)
    with pytest.raises(ValueError, match=r"unknown optimizer 'nadam'.*adam.*sgd"):
        model.compile(optimizer="nadam", loss="mse")
    with pytest.raises(TypeError, match="optimizer"):
        model.compile(optimizer=3, loss="mse")


@pytest.mark.parametrize("name,canonical", [("mse", "mse"), ("mean_squared_error", "mse"), ("l1", "l1"),
                                            ("mae", "l1"), ("cross_entropy", "cross_entropy"),
                                            ("binary_cross_entropy", "binary_cross_entropy"),
                                            ("binary_crossentropy", "binary_cross_entropy"),
                                            ("bce_with_logits", "bce_with_logits")])
def test_loss_strings(name, canonical):
    assert losses.get(name).name == canonical


def test_builtin_losses_match_functional():
    rng = np.random.default_rng(0)
    pred = dc.tensor(rng.normal(size=(5, 1)).astype(np.float32))
    target01 = rng.integers(0, 2, 5)
    target = dc.tensor(rng.normal(size=(5,)).astype(np.float32))
    np.testing.assert_allclose(losses.get("mse")(pred, target).item(),
                               F.mse_loss(pred, target.reshape(5, 1)).item(), rtol=1e-6)
    np.testing.assert_allclose(losses.get("l1")(pred, target).item(),
                               F.l1_loss(pred, target.reshape(5, 1)).item(), rtol=1e-6)
    t01 = dc.tensor(target01.astype(np.float32).reshape(5, 1))
    np.testing.assert_allclose(losses.get("bce_with_logits")(pred, dc.tensor(target01)).item(),
                               F.binary_cross_entropy_with_logits(pred, t01).item(), rtol=1e-6)
    probs = dc.sigmoid(pred)
    np.testing.assert_allclose(losses.get("binary_crossentropy")(probs, dc.tensor(target01)).item(),
                               F.binary_cross_entropy(probs, t01).item(), rtol=1e-6)
    logits = dc.tensor(rng.normal(size=(5, 4)).astype(np.float32))
    labels = rng.integers(0, 4, 5)
    ref = F.cross_entropy(logits, dc.tensor(labels)).item()
    for lab in (labels.astype(np.int32), labels.astype(np.uint8), labels.reshape(5, 1)):
        np.testing.assert_allclose(losses.get("cross_entropy")(logits, dc.tensor(lab)).item(), ref, rtol=1e-6)
    onehot = np.eye(4, dtype=np.float32)[labels]
    np.testing.assert_allclose(losses.get("cross_entropy")(logits, dc.tensor(onehot)).item(), ref, rtol=1e-5)


def test_unknown_names_raise_with_accepted_values():
    model = mlp()
    with pytest.raises(ValueError, match=r"unknown loss 'hinge'.*cross_entropy.*mse"):
        model.compile("sgd", loss="hinge")
    with pytest.raises(ValueError, match=r"unknown metric 'f1'.*accuracy.*mae.*mse"):
        model.compile("sgd", loss="mse", metrics=["f1"])
    with pytest.raises(ValueError, match="loss is required"):
        model.compile("sgd")
    with pytest.raises(ValueError, match="unique"):
        model.compile("sgd", "mse", metrics=["mae", "mae"])


def test_fit_before_compile_and_length_mismatch():
    x, y = blobs(30)
    model = mlp()
    with pytest.raises(RuntimeError, match="compile"):
        model.fit(x, y, verbose=0)
    with pytest.raises(RuntimeError, match="compile"):
        model.evaluate(x, y)
    model.compile("sgd", "cross_entropy")
    before = weights(model)
    with pytest.raises(ValueError, match=r"30.*29"):
        model.fit(x, y[:29], verbose=0)
    with pytest.raises(ValueError, match=r"30.*29"):
        model.evaluate(x, y[:29])
    with pytest.raises(ValueError, match="y is required"):
        model.fit(x, verbose=0)
    for bad in ({"batch_size": 0}, {"epochs": -1}, {"verbose": 3}, {"batch_size": 2.5}):
        with pytest.raises(ValueError):
            model.fit(x, y, **{"verbose": 0, **bad})
    for k, v in weights(model).items():
        np.testing.assert_array_equal(v, before[k])


def test_callable_loss_and_metric():
    x, y = blobs(40)
    model = mlp()

    def my_loss(pred, target):
        return F.cross_entropy(pred, target, reduction="none")  # not reduced: fit takes the mean

    def top_logit(pred, target):
        return pred.amax(axis=1).mean()

    model.compile("sgd", loss=my_loss, metrics=[top_logit, "accuracy"])
    hist = model.fit(x, y, epochs=2, verbose=0)
    assert set(hist.history) == {"loss", "top_logit", "accuracy", "lr"}
    res = model.evaluate(x, y, batch_size=40)
    model.eval()
    out = model(dc.tensor(x))
    np.testing.assert_allclose(res["top_logit"], out.numpy().max(1).mean(), rtol=1e-5)
    np.testing.assert_allclose(res["loss"], F.cross_entropy(out, dc.tensor(y)).item(), rtol=1e-5)


# --- accuracy rules --------------------------------------------------------------------------------
def _acc(metric, pred, target):
    s, c = metric.batch_sum(np.asarray(pred), np.asarray(target))
    return float(s) / c


def test_accuracy_rules():
    logits = np.array([[2.0, 1.0, 0.0], [0.0, 3.0, 1.0], [1.0, 0.0, 5.0], [0.0, 1.0, 0.5]], np.float32)
    labels = np.array([0, 1, 0, 1])
    acc = metrics.get("accuracy", "categorical")
    assert _acc(acc, logits, labels) == 0.75
    assert _acc(acc, logits, np.eye(3, dtype=np.float32)[labels]) == 0.75      # one-hot targets
    assert _acc(metrics.get("accuracy"), logits, labels) == 0.75               # auto: labels
    assert _acc(metrics.get("accuracy"), logits, np.eye(3, dtype=np.float32)[labels]) == 0.75
    z = np.array([[-1.0], [0.2], [0.7], [3.0]], np.float32)
    t = np.array([0, 0, 1, 1])
    assert _acc(metrics.get("accuracy", "binary_logits"), z, t) == 0.75        # logits thresholded at 0
    assert _acc(metrics.get("accuracy", "binary"), z, t) == 1.0                 # probabilities at 0.5
    assert _acc(metrics.get("accuracy"), z.ravel(), t.astype(bool)) == 1.0
    with pytest.raises(ValueError, match=r"\(4, 3\).*\(5,\)"):
        _acc(acc, logits, np.zeros(5, np.int64))


def test_binary_classification_with_logits_threshold_at_zero():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 2)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int64)
    dc.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 1))
    model.compile(dc.optim.Adam(model.parameters(), lr=0.05), "bce_with_logits", metrics=["accuracy"])
    model.fit(x, y, epochs=15, batch_size=20, verbose=0)
    res = model.evaluate(x, y)
    z = model.predict(x)[:, 0]
    assert res["accuracy"] == pytest.approx(((z > 0) == y).mean())
    assert res["accuracy"] >= 0.95
    probs = nn.Sequential(model[0], nn.Sigmoid())
    probs.compile("sgd", "binary_crossentropy", metrics=["acc"])
    assert probs.evaluate(x, y.astype(np.float32))["acc"] == pytest.approx(res["accuracy"])


def test_regression_metrics_mae_mse():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(33, 3)).astype(np.float32)
    y = (x @ np.array([1.0, -2.0, 0.5], np.float32)).astype(np.float32)  # shape (33,), model gives (33, 1)
    dc.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 1))
    model.compile("sgd", "mse", metrics=["mae", "mse"])
    res = model.evaluate(x, y, batch_size=10)
    pred = model.predict(x)[:, 0].astype(np.float64)
    assert res["mae"] == pytest.approx(np.abs(pred - y).mean(), rel=1e-5)
    assert res["mse"] == pytest.approx(((pred - y) ** 2).mean(), rel=1e-5)
    assert res["loss"] == pytest.approx(res["mse"], rel=1e-5)
    hist = model.fit(x, y, epochs=20, batch_size=8, verbose=0)
    assert hist.history["mse"][-1] < hist.history["mse"][0]


def test_integer_and_float64_inputs_are_converted():
    x, y = blobs(30)
    model = mlp()
    model.compile("sgd", "cross_entropy", metrics=["accuracy"])
    a = model.evaluate(x.astype(np.float64), y.astype(np.int32))
    b = model.evaluate(x, y.astype(np.uint8))
    assert a == pytest.approx(b)
    assert model.predict(x.astype(np.float64)).dtype == np.float32


def test_lazy_linear_with_string_optimizer():
    x, y = blobs(40)
    dc.manual_seed(0)
    model = nn.Sequential(nn.Linear(None, 8), nn.ReLU(), nn.Linear(8, 3))
    model.compile("adam", "cross_entropy")
    assert model.optimizer is None  # built at the first batch, once the weight exists
    hist = model.fit(x, y, epochs=3, verbose=0)
    assert len(model.optimizer.param_groups[0]["params"]) == 4
    assert hist.history["loss"][-1] < hist.history["loss"][0]


def test_verbose_output(capsys):
    x, y = blobs(40)
    model = mlp()
    model.compile("sgd", "cross_entropy", metrics=["accuracy"])
    model.fit(x, y, epochs=2, verbose=0)
    model.evaluate(x, y, verbose=0)
    assert capsys.readouterr().out == ""
    model.fit(x, y, epochs=3, verbose=2, validation_split=0.25)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("Epoch 1/3") and "loss:" in lines[0] and "val_accuracy:" in lines[0]
    model.fit(x, y, epochs=2, verbose=1)
    out = capsys.readouterr().out
    assert "Epoch 2/2" in out and "batch" in out and "accuracy" in out


def test_train_mode_during_fit_restored_after():
    x, y = blobs(20)
    modes = []

    class Probe(nn.Module):
        def forward(self, x):
            modes.append(self.training)
            return x

    model = nn.Sequential(nn.Linear(6, 3), Probe())
    model.compile("sgd", "cross_entropy")
    model.fit(x, y, epochs=1, batch_size=10, validation_data=(x, y), verbose=0)
    assert modes == [True, True, False, False]
    assert model.training
    model.eval()
    model.fit(x, y, epochs=1, verbose=0)
    assert not model.training


# --- checkpoints and resuming ---------------------------------------------------------------------
def _fit(model, x, y, **kw):
    return model.fit(x, y, batch_size=16, verbose=0, **kw)


@pytest.mark.parametrize("seeding", ["seed", "manual_seed"])
def test_resume_from_checkpoint_is_exact(tmp_path, seeding):
    x, y = blobs(90)

    def run_fit(model, **kw):
        if seeding == "seed":
            return _fit(model, x, y, seed=11, **kw)
        dc.manual_seed(11)
        return _fit(model, x, y, **kw)

    full = mlp(seed=1)
    full.compile("adam", "cross_entropy", metrics=["accuracy"])
    h_full = run_fit(full, epochs=5)

    first = mlp(seed=1)
    first.compile("adam", "cross_entropy", metrics=["accuracy"])
    run_fit(first, epochs=2)
    path = tmp_path / "ckpt.npz"
    checkpoint.save_checkpoint(path, first, first.optimizer, epoch=2, note="half way")
    assert checkpoint.read_checkpoint(path)["extra"] == {"note": "half way"}

    fresh = mlp(seed=99)  # different initial weights, fresh optimizer without state
    fresh.compile("adam", "cross_entropy", metrics=["accuracy"])
    epoch = checkpoint.load_checkpoint(path, fresh, fresh.optimizer)
    assert epoch == 2
    h_rest = run_fit(fresh, epochs=5, initial_epoch=epoch)
    assert h_rest.epoch == [2, 3, 4]
    assert h_rest.history["loss"] == h_full.history["loss"][2:]
    assert_same_weights(full, fresh)


def test_resume_from_model_checkpoint_callback(tmp_path):
    x, y = blobs(60)
    full = mlp(seed=2)
    full.compile("rmsprop", "cross_entropy")
    _fit(full, x, y, epochs=4, seed=3)
    part = mlp(seed=2)
    part.compile("rmsprop", "cross_entropy")
    path = str(tmp_path / "last.npz")
    _fit(part, x, y, epochs=2, seed=3, callbacks=[ModelCheckpoint(path, monitor="loss")])
    fresh = mlp(seed=5)
    fresh.compile("rmsprop", "cross_entropy")
    epoch = checkpoint.load_checkpoint(path, fresh, fresh.optimizer)
    assert epoch == 2
    _fit(fresh, x, y, epochs=4, initial_epoch=epoch, seed=3)
    assert_same_weights(full, fresh)


def test_load_checkpoint_validates_before_changing(tmp_path):
    x, y = blobs(30)
    model = mlp()
    model.compile("adam", "cross_entropy")
    _fit(model, x, y, epochs=1)
    path = tmp_path / "c.npz"
    checkpoint.save_checkpoint(path, model)  # no optimizer
    other = mlp(hidden=5)
    other.compile("adam", "cross_entropy")
    before = weights(other)
    with pytest.raises(ValueError, match="size mismatch"):
        checkpoint.load_checkpoint(path, other)
    with pytest.raises(ValueError, match="no optimizer state"):
        target = mlp()
        checkpoint.load_checkpoint(path, target, dc.optim.SGD(target.parameters(), lr=0.1))
    for k, v in weights(other).items():
        np.testing.assert_array_equal(v, before[k])
    assert checkpoint.load_checkpoint(path, mlp()) is None
    with pytest.raises(FileNotFoundError):
        checkpoint.load_checkpoint(tmp_path / "missing.npz", model)
    dc.save({"w": dc.zeros(2)}, tmp_path / "plain.npz")
    with pytest.raises(ValueError, match="not a deepcore checkpoint"):
        checkpoint.load_checkpoint(tmp_path / "plain.npz", model)


def test_save_and_load_weights(tmp_path):
    model = mlp(seed=0)
    path = tmp_path / "w.npz"
    checkpoint.save_weights(path, model)
    other = mlp(seed=1)
    checkpoint.load_weights(path, other)
    assert_same_weights(model, other)
    checkpoint.save_checkpoint(tmp_path / "full.npz", model, epoch=1)
    third = mlp(seed=2)
    checkpoint.load_weights(tmp_path / "full.npz", third)  # the model part of a full checkpoint
    assert_same_weights(model, third)


def test_dataset_input():
    x, y = blobs(40)
    model = mlp()
    model.compile("sgd", "cross_entropy", metrics=["accuracy"])
    ds = dc.data.TensorDataset(x, y)
    hist = model.fit(ds, epochs=2, batch_size=8, verbose=0, validation_data=ds, seed=1)
    assert len(hist.history["val_accuracy"]) == 2
    assert model.evaluate(ds) == pytest.approx(model.evaluate(x, y))
    with pytest.raises(ValueError, match="y must be None"):
        model.fit(ds, y, verbose=0)


def test_running_sums_are_read_once_per_epoch(monkeypatch):
    """Without a progress bar or batch-reading callbacks, logs are read from the device once per epoch."""
    from deepcore.training import keras
    reads = []
    original = keras._Tracker.value
    monkeypatch.setattr(keras._Tracker, "value", lambda self, key: reads.append(key) or original(self, key))
    x, y = blobs(64)
    model = mlp()
    model.compile("sgd", "cross_entropy", metrics=["accuracy"])
    model.fit(x, y, epochs=3, batch_size=8, verbose=0, validation_split=0.25)
    assert sorted(reads) == sorted(["loss", "accuracy"] * 6)  # train + validation, 3 epochs
