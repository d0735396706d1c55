"""Callbacks: hook order, History, EarlyStopping, ModelCheckpoint, LR schedules, CSVLogger, TerminateOnNaN."""
import csv
import math
import os

import numpy as np
import pytest

import deepcore as dc
from deepcore import checkpoint
from deepcore.training import callbacks as cb

nn = dc.nn
F = dc.nn.functional



def data(n=48, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype(np.float32)
    y = (x @ np.array([1.0, -1.0, 0.5, 2.0], np.float32) + 0.1).astype(np.float32)
    return x, y


def regressor(seed=0, lr=0.05, optimizer="sgd"):
    dc.manual_seed(seed)
    model = nn.Sequential(nn.Linear(4, 1))
    opt = dc.optim.SGD(model.parameters(), lr=lr) if optimizer == "sgd" else optimizer
    model.compile(opt, "mse", metrics=["mae"])
    return model


class Script(cb.Callback):
    """Overwrites ``logs[key]`` with a scripted value per epoch (placed before the callback under test)."""

    def __init__(self, key, values):
        self.key, self.values = key, values

    def on_epoch_end(self, epoch, logs=None):
        logs[self.key] = self.values[epoch]


class Snapshots(cb.Callback):
    """Keeps a copy of the weights at the end of every epoch."""

    def __init__(self):
        self.weights = []

    def on_epoch_end(self, epoch, logs=None):
        self.weights.append({k: v.numpy().copy() for k, v in self.model.state_dict().items()})


def same(model, state):
    return all(np.array_equal(v.numpy(), state[k]) for k, v in model.state_dict().items())


def fit(model, callbacks, epochs=10, **kw):
    x, y = data()
    return model.fit(x, y, batch_size=16, epochs=epochs, verbose=0, callbacks=callbacks, **kw)


# --- base class and History -------------------------------------------------------------------------
def test_hook_order_and_logs():
    events = []

    class Recorder(cb.Callback):
        def on_train_begin(self, logs=None):
            events.append(("train_begin",))

        def on_epoch_begin(self, epoch, logs=None):
            events.append(("epoch_begin", epoch))

        def on_batch_begin(self, batch, logs=None):
            events.append(("batch_begin", batch))

        def on_batch_end(self, batch, logs=None):
            events.append(("batch_end", batch, sorted(logs)))

        def on_epoch_end(self, epoch, logs=None):
            events.append(("epoch_end", epoch, sorted(logs)))

        def on_train_end(self, logs=None):
            events.append(("train_end",))

    model = regressor()
    rec = Recorder()
    fit(model, [rec], epochs=2, validation_split=0.25)  # 36 training samples -> 3 batches
    assert rec.model is model and rec.params["epochs"] == 2 and rec.params["steps"] == 3
    keys = ["loss", "lr", "mae", "val_loss", "val_mae"]
    batch = lambda i: [("batch_begin", i), ("batch_end", i, ["loss", "mae"])]
    expected = [("train_begin",)]
    for e in range(2):
        expected += [("epoch_begin", e)] + batch(0) + batch(1) + batch(2) + [("epoch_end", e, keys)]
    expected.append(("train_end",))
    assert events == expected


def test_batch_logs_are_running_epoch_averages():
    seen = []
    grab = cb.LambdaCallback(on_batch_end=lambda b, logs: seen.append(logs["loss"]),
                             on_epoch_end=lambda e, logs: seen.append(("epoch", logs["loss"])))
    model = regressor()
    fit(model, [grab], epochs=1, shuffle=False)  # 48 samples: three equal batches
    assert isinstance(seen[0], float)
    assert seen[2] == pytest.approx(seen[3][1])


def test_stop_training_from_a_callback():
    class StopAt(cb.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 2:
                self.model.stop_training = True

    hist = fit(regressor(), [StopAt()], epochs=10)
    assert hist.epoch == [0, 1, 2]


def test_history_callback_alone():
    h = cb.History()
    h.on_train_begin()
    h.on_epoch_end(0, {"loss": 1.0})
    h.on_epoch_end(1, {"loss": 0.5, "val_loss": 0.7})
    assert h.history == {"loss": [1.0, 0.5], "val_loss": [0.7]} and h.epoch == [0, 1]


def test_callbacks_must_be_callback_instances():
    with pytest.raises(TypeError, match="Callback"):
        fit(regressor(), [lambda epoch: None], epochs=1)


# --- EarlyStopping ----------------------------------------------------------------------------------
def test_early_stopping_stops_at_the_right_epoch_and_restores_best():
    values = [5.0, 4.0, 3.0, 3.5, 3.2, 3.1, 2.0, 1.0]
    snaps = Snapshots()
    stop = cb.EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
    model = regressor()
    hist = fit(model, [Script("val_loss", values), snaps, stop], epochs=8)
    assert hist.epoch == [0, 1, 2, 3, 4]  # best at epoch 2, two epochs without improvement
    assert stop.stopped_epoch == 4 and stop.best == 3.0 and stop.best_epoch == 2
    assert same(model, snaps.weights[2])
    assert not same(model, snaps.weights[4])


def test_early_stopping_min_delta_mode_max_and_patience_zero():
    acc = [0.5, 0.6, 0.605, 0.9]
    stop = cb.EarlyStopping(monitor="val_accuracy", min_delta=0.01, patience=0)  # mode auto -> max
    assert stop.mode == "max"
    hist = fit(regressor(), [Script("val_accuracy", acc), stop], epochs=4)
    assert hist.epoch == [0, 1, 2]  # +0.005 is below min_delta
    snaps = Snapshots()
    stop = cb.EarlyStopping(monitor="loss", mode="min", patience=10, restore_best_weights=False)
    model = regressor()
    fit(model, [snaps, stop], epochs=3)
    assert stop.stopped_epoch == 0 and same(model, snaps.weights[-1])
    with pytest.raises(ValueError, match="mode"):
        cb.EarlyStopping(mode="largest")


def test_early_stopping_baseline():
    stop = cb.EarlyStopping(monitor="val_loss", patience=2, baseline=1.0)
    hist = fit(regressor(), [Script("val_loss", [3.0, 2.0, 1.5, 1.2, 0.5]), stop], epochs=5)
    assert hist.epoch == [0, 1]  # improving, but never below the baseline within the patience


def test_early_stopping_restores_best_even_without_stopping():
    snaps = Snapshots()
    model = regressor()
    fit(model, [Script("val_loss", [3.0, 1.0, 2.0]), snaps,
                cb.EarlyStopping(patience=5, restore_best_weights=True)], epochs=3)
    assert same(model, snaps.weights[1])


def test_unknown_monitor_warns_with_available_keys():
    stop = cb.EarlyStopping(monitor="val_acc", patience=0)
    with pytest.warns(RuntimeWarning, match=r"'val_acc'.*available keys: loss, lr, mae"):
        hist = fit(regressor(), [stop], epochs=2)
    assert hist.epoch == [0, 1]


def test_early_stopping_on_real_validation_loss():
    x, y = data(64)
    y_noisy = y + np.random.default_rng(1).normal(0, 3, y.shape).astype(np.float32)
    dc.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 64), nn.ReLU(), nn.Linear(64, 1))
    model.compile(dc.optim.Adam(model.parameters(), lr=0.05), "mse")
    stop = cb.EarlyStopping(patience=3, restore_best_weights=True)
    hist = model.fit(x[:32], y_noisy[:32], validation_data=(x[32:], y[32:]), epochs=200, batch_size=8,
                     verbose=0, callbacks=[stop])
    assert len(hist.epoch) < 200
    assert model.evaluate(x[32:], y[32:])["loss"] == pytest.approx(min(hist.history["val_loss"]), rel=1e-5)


# --- ModelCheckpoint ---------------------------------------------------------------------------------
def test_model_checkpoint_save_best_only_writes_on_improvement(tmp_path):
    values = [3.0, 2.0, 2.5, 1.0, 1.5]
    snaps = Snapshots()
    path = str(tmp_path / "best-{epoch:02d}-{val_loss:.3f}.npz")
    ckpt = cb.ModelCheckpoint(path, monitor="val_loss", save_best_only=True)
    model = regressor()
    fit(model, [Script("val_loss", values), snaps, ckpt], epochs=5)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["best-01-3.000.npz", "best-02-2.000.npz", "best-04-1.000.npz"]
    assert [os.path.basename(p) for p in ckpt.saved] == names
    for name, epoch in zip(names, (0, 1, 3)):
        fresh = regressor(seed=9)
        got = checkpoint.load_checkpoint(tmp_path / name, fresh, fresh.optimizer)
        assert got == epoch + 1
        assert same(fresh, snaps.weights[epoch])
        saved = checkpoint.read_checkpoint(tmp_path / name)
        assert set(saved) >= {"model", "optimizer", "epoch"}


def test_model_checkpoint_every_epoch_weights_only_and_mode_max(tmp_path):
    ckpt = cb.ModelCheckpoint(tmp_path / "w.npz", save_weights_only=True, monitor="loss")
    model = regressor()
    fit(model, [ckpt], epochs=2)
    assert len(ckpt.saved) == 2 and ckpt.saved[0] == ckpt.saved[1]
    fresh = regressor(seed=3)
    fresh.load_weights(tmp_path / "w.npz")
    assert same(fresh, {k: v.numpy() for k, v in model.state_dict().items()})
    assert set(dc.load(tmp_path / "w.npz")) == {"0.weight", "0.bias"}
    best = cb.ModelCheckpoint(tmp_path / "acc{epoch}.npz", monitor="val_accuracy", save_best_only=True)
    fit(regressor(), [Script("val_accuracy", [0.2, 0.1, 0.3]), best], epochs=3)
    assert sorted(p.name for p in tmp_path.glob("acc*")) == ["acc1.npz", "acc3.npz"]


def test_model_checkpoint_bad_format_field(tmp_path):
    ckpt = cb.ModelCheckpoint(str(tmp_path / "{val_acc:.2f}.npz"), monitor="loss")
    with pytest.raises(ValueError, match=r"val_acc.*available fields: epoch, loss"):
        fit(regressor(), [ckpt], epochs=1)


def test_model_checkpoint_write_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "c.npz"
    model = regressor()
    fit(model, [cb.ModelCheckpoint(path, monitor="loss")], epochs=1)
    good = path.read_bytes()

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", boom)
    with pytest.raises(OSError, match="disk full"):
        fit(model, [cb.ModelCheckpoint(path, monitor="loss")], epochs=1)
    assert path.read_bytes() == good
    assert [p.name for p in tmp_path.iterdir()] == ["c.npz"]


# --- learning-rate callbacks ----------------------------------------------------------------------
def test_learning_rate_scheduler_function():
    model = regressor(lr=0.1)
    hist = fit(model, [cb.LearningRateScheduler(lambda epoch, lr: 0.1 * 0.5 ** epoch)], epochs=4)
    assert hist.history["lr"] == pytest.approx([0.1, 0.05, 0.025, 0.0125])
    assert model.optimizer.param_groups[0]["lr"] == pytest.approx(0.0125)
    hist = fit(regressor(), [cb.LearningRateScheduler(lambda epoch: 1e-3 * (epoch + 1))], epochs=2)
    assert hist.history["lr"] == pytest.approx([1e-3, 2e-3])
    with pytest.raises(ValueError, match="finite float"):
        fit(regressor(), [cb.LearningRateScheduler(lambda epoch, lr: "fast")], epochs=1)


def test_learning_rate_changes_the_updates():
    """lr 0 from epoch 1 on freezes the weights: the schedule really reaches the optimizer."""
    snaps = Snapshots()
    model = regressor(lr=0.05)
    fit(model, [cb.LearningRateScheduler(lambda e, lr: 0.05 if e == 0 else 0.0), snaps], epochs=3)
    assert same(model, snaps.weights[0]) and same(model, snaps.weights[1])


def test_learning_rate_scheduler_with_lr_scheduler_object():
    model = regressor(lr=0.1)
    sched = dc.optim.lr_scheduler.StepLR(model.optimizer, step_size=1, gamma=0.5)
    hist = fit(model, [cb.LearningRateScheduler(sched)], epochs=3)
    assert hist.history["lr"] == pytest.approx([0.1, 0.05, 0.025])
    assert model.optimizer.param_groups[0]["lr"] == pytest.approx(0.0125)
    plateau = dc.optim.lr_scheduler.ReduceLROnPlateau(model.optimizer)
    with pytest.raises(TypeError, match="ReduceLROnPlateau"):
        cb.LearningRateScheduler(plateau)


def test_reduce_lr_on_plateau():
    model = regressor(lr=0.01)
    reduce = cb.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=2)
    hist = fit(model, [Script("val_loss", [5.0] * 7), reduce], epochs=7)
    assert hist.history["lr"] == pytest.approx([0.01, 0.01, 0.01, 0.005, 0.005, 0.0025, 0.0025])
    # improvements reset the count; min_lr is a floor; cooldown pauses counting
    model = regressor(lr=0.01)
    reduce = cb.ReduceLROnPlateau(monitor="val_loss", factor=0.1, patience=1, cooldown=1, min_lr=0.0005)
    hist = fit(model, [Script("val_loss", [5.0, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0]), reduce], epochs=7)
    assert hist.history["lr"] == pytest.approx([0.01, 0.01, 0.01, 0.001, 0.001, 0.0005, 0.0005])
    with pytest.raises(ValueError, match="factor"):
        cb.ReduceLROnPlateau(factor=1.5)


def test_reduce_lr_on_plateau_with_real_loss_and_mode_max():
    reduce = cb.ReduceLROnPlateau(monitor="val_accuracy", patience=1, factor=0.5)
    assert reduce.mode == "max"
    hist = fit(regressor(lr=0.01), [Script("val_accuracy", [0.5, 0.7, 0.6, 0.6]), reduce], epochs=4)
    assert hist.history["lr"] == pytest.approx([0.01, 0.01, 0.01, 0.005])


# --- CSVLogger and TerminateOnNaN ---------------------------------------------------------------------
def test_csv_logger_contents_and_append(tmp_path):
    path = tmp_path / "log.csv"
    model = regressor()
    hist = fit(model, [cb.CSVLogger(path)], epochs=3, validation_split=0.25)
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["epoch", "loss", "lr", "mae", "val_loss", "val_mae"]
    assert [r[0] for r in rows[1:]] == ["0", "1", "2"]
    for i, row in enumerate(rows[1:]):
        for key, value in zip(rows[0][1:], row[1:]):
            assert float(value) == hist.history[key][i]
    fit(model, [cb.CSVLogger(path, append=True)], epochs=2, validation_split=0.25)
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    assert len(rows) == 6 and rows.count(rows[0]) == 1
    fit(model, [cb.CSVLogger(path, separator=";")], epochs=1)
    lines = path.read_text().splitlines()
    assert lines[0] == "epoch;loss;lr;mae" and len(lines) == 2


def test_terminate_on_nan_stops_in_the_failing_batch(capsys):
    calls = []

    def exploding(pred, target):
        calls.append(1)
        loss = F.mse_loss(pred, target.reshape(pred.shape))
        return loss * float("nan") if len(calls) == 5 else loss

    dc.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 1))
    model.compile(dc.optim.SGD(model.parameters(), lr=0.01), exploding)
    batches = []
    hist = fit(model, [cb.LambdaCallback(on_batch_end=lambda b, logs: batches.append(b)), cb.TerminateOnNaN()],
               epochs=5)  # 3 batches per epoch: the 5th call is batch 1 of epoch 1
    assert hist.epoch == [0, 1]
    assert batches == [0, 1, 2, 0, 1]
    assert math.isnan(hist.history["loss"][1])
    assert "invalid loss" in capsys.readouterr().out


def test_terminate_on_nan_leaves_finite_training_alone():
    hist = fit(regressor(), [cb.TerminateOnNaN()], epochs=3)
    assert hist.epoch == [0, 1, 2]
