"""Keras semantics of compile/fit/evaluate/predict in deepcore.keras, and the loss-name trap on plain Modules."""
import numpy as np
import pytest

import deepcore as dc
from deepcore import keras
from deepcore.keras import layers
from deepcore.training import losses as dc_losses

EPS = 1e-7


@pytest.fixture(autouse=True)
def _fresh_names():
    keras.backend.clear_session()


def _mlp(n_in=6, n_out=3, activation="softmax"):
    return keras.Sequential([keras.Input((n_in,)), layers.Dense(8, activation="tanh"),
                             layers.Dense(n_out, activation=activation)])


def _ref_cce(y, p):
    p = p / p.sum(-1, keepdims=True)
    return -(y * np.log(np.clip(p, EPS, 1 - EPS))).sum(-1)


# --- losses ---------------------------------------------------------------------------------------------
def test_categorical_crossentropy_takes_probabilities_on_the_last_axis():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(4, 3, 5)).astype(np.float32)
    probs = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    y = np.eye(5, dtype=np.float32)[rng.integers(0, 5, (4, 3))]
    cce = keras.losses.CategoricalCrossentropy()
    np.testing.assert_allclose(cce(y, probs).item(), _ref_cce(y, probs).mean(), rtol=1e-5)
    np.testing.assert_allclose(keras.losses.CategoricalCrossentropy(from_logits=True)(y, logits).item(),
                               _ref_cce(y, probs).mean(), rtol=1e-5)
    # per-sample values reduce the class axis only: (N, T) for sequence outputs
    per = keras.losses.categorical_crossentropy(y, probs)
    assert per.shape == (4, 3)
    np.testing.assert_allclose(per.numpy(), _ref_cce(y, probs), rtol=1e-5)
    # clipping and renormalisation as in Keras
    p = np.array([[0.0, 0.5, 1.5]], np.float32)
    np.testing.assert_allclose(cce(np.array([[1.0, 0, 0]], np.float32), p).item(), -np.log(EPS), rtol=1e-5)
    with pytest.raises(ValueError, match="sparse_categorical_crossentropy"):
        cce(np.array([1, 2]), probs[:2, 0])


def test_sparse_and_binary_crossentropy():
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(6, 4)).astype(np.float32)
    probs = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    labels = rng.integers(0, 4, 6)
    ref = -np.log(probs[np.arange(6), labels]).mean()
    scce = keras.losses.SparseCategoricalCrossentropy()
    for lab in (labels, labels.reshape(6, 1), labels.astype(np.float32), labels.astype(np.int32)):
        np.testing.assert_allclose(scce(lab, probs).item(), ref, rtol=1e-5)
    np.testing.assert_allclose(keras.losses.SparseCategoricalCrossentropy(from_logits=True)(labels, logits).item(),
                               ref, rtol=1e-5)
    seq = rng.integers(0, 4, (3, 2))
    per = keras.losses.sparse_categorical_crossentropy(seq, probs.reshape(3, 2, 4))
    assert per.shape == (3, 2)
    np.testing.assert_allclose(per.numpy(), -np.log(probs.reshape(3, 2, 4)[np.arange(3)[:, None], [0, 1], seq]),
                               rtol=1e-5)
    p = 1 / (1 + np.exp(-logits))
    t = (rng.random((6, 4)) > 0.5).astype(np.float32)
    bce = -(t * np.log(p) + (1 - t) * np.log(1 - p)).mean(-1)
    np.testing.assert_allclose(keras.losses.BinaryCrossentropy()(t, p).item(), bce.mean(), rtol=1e-5)
    np.testing.assert_allclose(keras.losses.BinaryCrossentropy(from_logits=True)(t, logits).item(), bce.mean(),
                               rtol=1e-5)
    np.testing.assert_allclose(keras.losses.binary_crossentropy(t, p).numpy(), bce, rtol=1e-5)


def test_regression_losses_align_shapes_and_reduce_the_last_axis():
    pred = np.array([[1.0], [2.0], [4.0]], np.float32)
    y = np.array([1.0, 3.0, 1.0], np.float32)
    assert keras.losses.MeanSquaredError()(y, pred).item() == pytest.approx((0 + 1 + 9) / 3)
    assert keras.losses.get("mae")(y, pred).item() == pytest.approx((0 + 1 + 3) / 3)
    pred2 = np.arange(6, dtype=np.float32).reshape(3, 2)
    per = keras.losses.mean_squared_error(np.zeros((3, 2), np.float32), pred2)
    np.testing.assert_allclose(per.numpy(), (pred2 ** 2).mean(-1))


def test_sample_weight_and_reductions():
    y = np.array([[1.0], [3.0], [1.0], [0.0]], np.float32)
    pred = np.zeros((4, 1), np.float32)
    w = np.array([1.0, 0.5, 0.0, 2.0], np.float32)
    values = (y[:, 0] ** 2) * w
    assert keras.losses.MeanSquaredError()(y, pred, sample_weight=w).item() == pytest.approx(values.sum() / 4)
    assert keras.losses.MeanSquaredError(reduction="sum")(y, pred, sample_weight=w).item() == \
        pytest.approx(values.sum())
    assert keras.losses.MeanSquaredError(reduction="none")(y, pred).shape == (4,)
    assert keras.losses.MeanSquaredError(reduction="mean_with_sample_weight")(y, pred, sample_weight=w).item() == \
        pytest.approx(values.sum() / w.sum())


def test_loss_and_metric_names():
    assert isinstance(keras.losses.get("categorical_crossentropy"), keras.losses.CategoricalCrossentropy)
    with pytest.raises(ValueError, match="unknown loss 'hinge_loss'"):
        keras.losses.get("hinge_loss")
    with pytest.raises(ValueError, match="unknown metric"):
        keras.metrics.get("f2")
    m = keras.metrics.CategoricalAccuracy()
    m.update_state(np.eye(3)[[0, 1, 2]], np.array([[0.9, 0.1, 0], [0.8, 0.2, 0], [0, 0.1, 0.9]]))
    assert m.result() == pytest.approx(2 / 3)
    m.reset_state()
    assert m.result() == 0.0


@pytest.mark.parametrize("y_shape,out_units,loss,kind", [
    ((32,), 1, "binary_crossentropy", "binary"), ((32, 1), 1, "binary_crossentropy", "binary"),
    ((32,), 4, "sparse_categorical_crossentropy", "sparse"), ((32, 1), 4, "sparse_categorical_crossentropy", "sparse"),
    ((32, 4), 4, "categorical_crossentropy", "categorical")])
def test_accuracy_is_inferred_as_keras_does(y_shape, out_units, loss, kind):
    rng = np.random.default_rng(2)
    x = rng.normal(size=(32, 6)).astype(np.float32)
    if kind == "categorical":
        y = np.eye(4, dtype=np.float32)[rng.integers(0, 4, 32)]
    else:
        y = rng.integers(0, out_units if out_units > 1 else 2, y_shape)
    model = _mlp(n_out=out_units, activation="sigmoid" if out_units == 1 else "softmax")
    model.compile("adam", loss, metrics=["accuracy", "acc"])
    _, acc, acc2 = model.evaluate(x, y, verbose=0)
    pred = model.predict(x, verbose=0)
    if kind == "binary":
        expected = ((pred.reshape(-1) > 0.5) == y.reshape(-1).astype(bool)).mean()
    elif kind == "sparse":
        expected = (pred.argmax(-1) == y.reshape(-1)).mean()
    else:
        expected = (pred.argmax(-1) == y.argmax(-1)).mean()
    assert acc == pytest.approx(expected) and acc2 == acc
    assert model.metrics_names == ["loss", "accuracy", "acc"]


# --- fit / evaluate / predict ---------------------------------------------------------------------------
def test_fit_history_evaluate_predict_and_nb_epoch():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(60, 6)).astype(np.float32)
    y = keras.utils.to_categorical(x[:, :3].argmax(1), 3)
    model = _mlp()
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    hist = model.fit(x, y, batch_size=16, nb_epoch=3, verbose=0, validation_split=0.25)
    assert isinstance(hist, keras.callbacks.History) and model.history is hist
    assert sorted(hist.history) == ["accuracy", "loss", "val_accuracy", "val_loss"] and hist.epoch == [0, 1, 2]
    result = model.evaluate(x, y, verbose=0)
    assert isinstance(result, list) and len(result) == 2
    d = model.evaluate(x, y, verbose=0, return_dict=True)
    assert d == {"loss": pytest.approx(result[0]), "accuracy": pytest.approx(result[1])}
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    assert isinstance(model.evaluate(x, y, verbose=0), float)          # no metrics: a scalar, as Keras
    assert model.predict(x, verbose=0).shape == (60, 3)
    assert model.predict_classes(x[:5]).shape == (5,)


def test_validation_split_takes_the_last_fraction():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(50, 6)).astype(np.float32)
    y = keras.utils.to_categorical(rng.integers(0, 3, 50), 3)
    model = _mlp()
    model.compile(keras.optimizers.SGD(learning_rate=0.0), "categorical_crossentropy")   # weights stay put
    hist = model.fit(x, y, epochs=1, batch_size=8, validation_split=0.2, verbose=0)
    assert hist.history["val_loss"][0] == pytest.approx(model.evaluate(x[40:], y[40:], verbose=0), rel=1e-6)
    assert hist.history["loss"][0] == pytest.approx(model.evaluate(x[:40], y[:40], verbose=0), rel=1e-5)


def test_class_weight_is_a_per_sample_weight_on_training_data():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(40, 6)).astype(np.float32)
    labels = rng.integers(0, 3, 40)
    y = keras.utils.to_categorical(labels, 3)
    cw = {0: 1.0, 1: 2.5, 2: 0.5}
    results = []
    for kwargs in ({"class_weight": cw}, {"sample_weight": np.array([cw[k] for k in labels], np.float32)}):
        dc.manual_seed(0)
        keras.backend.clear_session()
        model = _mlp()
        model.compile(keras.optimizers.SGD(0.1), "categorical_crossentropy")
        results.append(model.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0, **kwargs).history["loss"])
    np.testing.assert_allclose(results[0], results[1], rtol=1e-6)
    model = _mlp()
    model.compile("sgd", "sparse_categorical_crossentropy")
    model.fit(x, labels, epochs=1, verbose=0, class_weight=cw)
    with pytest.raises(ValueError, match="not both"):
        model.fit(x, labels, class_weight=cw, sample_weight=np.ones(40), verbose=0)


def test_sample_weight_scales_the_loss_like_keras():
    x = np.zeros((4, 6), np.float32)
    y = np.array([0, 1, 2, 1])
    model = _mlp()
    model.compile("sgd", "sparse_categorical_crossentropy")
    per = keras.losses.sparse_categorical_crossentropy(y, model.predict(x, verbose=0)).numpy()
    w = np.array([1.0, 0.0, 2.0, 0.5], np.float32)
    assert model.evaluate(x, y, sample_weight=w, verbose=0) == pytest.approx((per * w).sum() / 4, rel=1e-5)


def test_sequence_outputs_with_one_hot_and_integer_targets():
    rng = np.random.default_rng(6)
    x = rng.normal(size=(16, 5, 3)).astype(np.float32)
    labels = rng.integers(0, 4, (16, 2))
    model = keras.Sequential([keras.Input((5, 3)), layers.LSTM(8), layers.RepeatVector(2),
                              layers.LSTM(8, return_sequences=True),
                              layers.TimeDistributed(layers.Dense(4, activation="softmax"))])
    model.compile("adam", "categorical_crossentropy", metrics=["accuracy"])
    onehot = model.evaluate(x, keras.utils.to_categorical(labels, 4), verbose=0)
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    sparse = model.evaluate(x, labels, verbose=0)
    np.testing.assert_allclose(onehot, sparse, rtol=1e-5)
    pred = model.predict(x, verbose=0)
    assert sparse[1] == pytest.approx((pred.argmax(-1) == labels).mean())
    np.testing.assert_allclose(sparse[0], -np.log(np.take_along_axis(pred, labels[..., None], -1)).mean(),
                               rtol=1e-5)


def test_multiple_outputs_losses_weights_and_metric_names():
    rng = np.random.default_rng(7)
    inp = keras.Input((6,))
    h = layers.Dense(8, activation="relu")(inp)
    cls = layers.Dense(3, activation="softmax", name="cls")(h)
    reg = layers.Dense(1, name="reg")(h)
    model = keras.Model(inp, [cls, reg])
    model.compile("adam", loss={"cls": "sparse_categorical_crossentropy", "reg": "mse"},
                  loss_weights={"cls": 1.0, "reg": 0.5}, metrics={"cls": ["accuracy"], "reg": ["mae"]})
    x = rng.normal(size=(20, 6)).astype(np.float32)
    y_cls, y_reg = rng.integers(0, 3, 20), rng.normal(size=(20, 1)).astype(np.float32)
    logs = model.evaluate(x, [y_cls, y_reg], verbose=0, return_dict=True)
    assert list(logs) == ["loss", "cls_loss", "reg_loss", "cls_accuracy", "reg_mae"]
    assert logs["loss"] == pytest.approx(logs["cls_loss"] + 0.5 * logs["reg_loss"], rel=1e-5)
    hist = model.fit(x, {"cls": y_cls, "reg": y_reg}, epochs=2, verbose=0, batch_size=5)
    assert "val_loss" not in hist.history and len(hist.history["reg_mae"]) == 2


def test_regularizers_add_to_the_loss():
    model = keras.Sequential([keras.Input((3,)),
                              layers.Dense(2, kernel_regularizer=keras.regularizers.l2(0.1), use_bias=False)])
    model.compile("sgd", "mse")
    x, y = np.zeros((4, 3), np.float32), np.zeros((4, 2), np.float32)
    k = model.layers[0].kernel.numpy()
    assert model.evaluate(x, y, verbose=0) == pytest.approx(0.1 * (k ** 2).sum(), rel=1e-5)


def test_train_test_predict_on_batch():
    model = _mlp()
    model.compile(keras.optimizers.SGD(0.5), "categorical_crossentropy", metrics=["accuracy"])
    x = np.random.default_rng(8).normal(size=(10, 6)).astype(np.float32)
    y = keras.utils.to_categorical(np.arange(10) % 3, 3)
    before = model.test_on_batch(x, y)
    trained = model.train_on_batch(x, y)
    assert trained[0] == pytest.approx(before[0], rel=1e-5)      # the loss before this batch's update
    assert model.test_on_batch(x, y)[0] < before[0]
    assert model.predict_on_batch(x).shape == (10, 3)


def test_callbacks():
    rng = np.random.default_rng(9)
    x = rng.normal(size=(30, 6)).astype(np.float32)
    y = keras.utils.to_categorical(rng.integers(0, 3, 30), 3)
    model = _mlp()
    model.compile(keras.optimizers.SGD(0.1), "categorical_crossentropy")
    seen = []
    cbs = [keras.callbacks.LearningRateScheduler(lambda epoch, lr: 0.1 / (epoch + 1)),
           keras.callbacks.LambdaCallback(on_epoch_end=lambda e, logs: seen.append(model.optimizer.learning_rate)),
           keras.callbacks.EarlyStopping(monitor="loss", patience=100)]
    model.fit(x, y, epochs=3, verbose=0, callbacks=cbs)
    assert seen == pytest.approx([0.1, 0.05, 0.1 / 3])
    assert keras.callbacks.History is dc.callbacks.History
    with pytest.raises(NotImplementedError, match="weights.h5"):
        keras.callbacks.ModelCheckpoint("best.keras")


# --- optimizers -----------------------------------------------------------------------------------------
def test_optimizers_have_keras_defaults_and_bind_at_compile():
    adam = keras.optimizers.Adam()
    assert adam.learning_rate == 0.001 and adam._dc_kwargs["eps"] == 1e-7 and not adam.built
    assert keras.optimizers.SGD().learning_rate == 0.01
    rms = keras.optimizers.RMSprop()
    assert rms.learning_rate == 0.001 and rms._dc_kwargs["alpha"] == 0.9
    assert keras.optimizers.Adagrad()._dc_kwargs["initial_accumulator_value"] == 0.1
    assert keras.optimizers.Adadelta()._dc_kwargs["rho"] == 0.95
    assert keras.optimizers.AdamW()._dc_kwargs["weight_decay"] == 0.004
    model = _mlp()
    model.compile(optimizer=adam, loss="categorical_crossentropy")
    assert model.optimizer is adam and adam.built and isinstance(adam, dc.optim.Adam)
    assert adam.param_groups[0]["eps"] == 1e-7
    adam.learning_rate = 0.01
    assert adam.param_groups[0]["lr"] == 0.01
    model.compile(optimizer="rmsprop", loss="categorical_crossentropy")
    assert isinstance(model.optimizer, keras.optimizers.RMSprop) and model.optimizer.learning_rate == 0.001
    with pytest.raises(RuntimeError, match="already bound"):
        _mlp().compile(optimizer=adam, loss="mse")
    with pytest.raises(ValueError, match="unknown optimizer"):
        model.compile(optimizer="nadamx", loss="mse")


def test_sgd_legacy_lr_and_decay():
    sgd = keras.optimizers.SGD(lr=0.1, decay=0.5, momentum=0.9, nesterov=True)
    model = _mlp()
    model.compile(sgd, "categorical_crossentropy")
    x = np.ones((4, 6), np.float32)
    y = keras.utils.to_categorical([0, 1, 2, 0], 3)
    model.fit(x, y, batch_size=2, epochs=1, verbose=0, shuffle=False)
    assert sgd.iterations == 2 and sgd.param_groups[0]["lr"] == pytest.approx(0.1 / (1 + 0.5 * 1))


# --- utils ----------------------------------------------------------------------------------------------
def test_to_categorical():
    out = keras.utils.to_categorical([0, 2, 1], 3)
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, np.eye(3)[[0, 2, 1]])
    assert keras.utils.to_categorical(np.array([[0], [3]])).shape == (2, 4)
    assert keras.utils.to_categorical(np.zeros((2, 5), int), 3).shape == (2, 5, 3)
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        keras.utils.to_categorical([0, 3], 3)
    np.testing.assert_array_equal(keras.utils.pad_sequences([[1, 2], [3]], maxlen=3), [[0, 1, 2], [0, 0, 3]])


# --- the loss-name trap ---------------------------------------------------------------------------------
def test_categorical_crossentropy_on_a_plain_module_is_refused_with_a_pointer():
    model = dc.nn.Sequential(dc.nn.Linear(4, 3))
    for name in ("categorical_crossentropy", "sparse_categorical_crossentropy"):
        with pytest.raises(ValueError, match=r"ambiguous.*probabilities.*LAST axis.*'cross_entropy'.*logits") as e:
            model.compile("sgd", loss=name)
        assert "deepcore.keras.losses." in str(e.value)
    model.compile("sgd", loss="cross_entropy")               # the PyTorch meaning, by its own name


def test_keras_loss_objects_work_on_a_plain_module():
    model = dc.nn.Sequential(dc.nn.Linear(4, 3), dc.nn.Softmax(axis=-1))
    model.compile(dc.optim.SGD(model.parameters(), lr=0.1), loss=keras.losses.CategoricalCrossentropy(),
                  metrics=["accuracy"])
    x = np.random.default_rng(10).normal(size=(8, 4)).astype(np.float32)
    y = keras.utils.to_categorical(np.arange(8) % 3, 3)
    logs = model.evaluate(x, y)
    probs = model.predict(x)
    assert logs["loss"] == pytest.approx(_ref_cce(y, probs).mean(), rel=1e-5)
    assert logs["accuracy"] == pytest.approx((probs.argmax(1) == y.argmax(1)).mean())
    assert dc_losses.get(keras.losses.binary_crossentropy).kind == "binary"
    model.fit(x, y, epochs=1, verbose=0)


def test_a_keras_model_means_the_keras_loss():
    model = _mlp()
    model.compile("sgd", loss="categorical_crossentropy")
    x = np.random.default_rng(11).normal(size=(8, 6)).astype(np.float32)
    y = keras.utils.to_categorical(np.arange(8) % 3, 3)
    assert model.evaluate(x, y, verbose=0) == pytest.approx(_ref_cce(y, model.predict(x, verbose=0)).mean(),
                                                            rel=1e-5)


# --- the issue's snippets, with only deepcore.keras imports ---------------------------------------------
SNIPPET_MLP = """
from deepcore.keras.models import Sequential
from deepcore.keras.layers import Dense, Dropout
import numpy as np
X_train, Y_train = np.random.random((64, 20)), np.eye(10)[np.random.randint(10, size=64)]
X_test = np.random.random((5, 20))
model = Sequential()
model.add(Dense(64, input_dim=20, activation='relu'))
model.add(Dropout(0.5))
model.add(Dense(10, activation='softmax'))
model.compile(loss='categorical_crossentropy', optimizer='sgd', metrics=['accuracy'])
model.fit(X_train, Y_train, batch_size=16, nb_epoch=10, verbose=0)
result = model.predict(X_test, verbose=0)
"""

SNIPPET_LSTM = """
from deepcore.keras.models import Sequential
from deepcore.keras.layers import LSTM, Dense
import numpy as np
timesteps, data_dim = 8, 16
model = Sequential()
model.add(LSTM(32, return_sequences=True, input_shape=(timesteps, data_dim)))
model.add(LSTM(32))
model.add(Dense(10, activation='softmax'))
model.compile(loss='categorical_crossentropy', optimizer='rmsprop', metrics=['accuracy'])
model.fit(np.random.random((32, timesteps, data_dim)), np.eye(10)[np.random.randint(10, size=32)], batch_size=16,
          nb_epoch=1, verbose=0)
result = model.predict(np.random.random((3, timesteps, data_dim)), verbose=0)
"""

SNIPPET_IMAGE = """
from deepcore.keras.models import Sequential
from deepcore.keras.layers import Convolution2D, MaxPooling2D, Activation, Flatten, Dense
import numpy as np
image_model = Sequential()
image_model.add(Convolution2D(32, 3, 3, border_mode='valid', input_shape=(3, 100, 100)))
image_model.add(Activation('relu'))
image_model.add(MaxPooling2D(pool_size=(2, 2)))
image_model.add(Flatten())
image_model.add(Dense(8))
image_model.save_weights('weight_file.h5')
image_model.load_weights('weight_file.h5')
result = image_model.predict(np.random.random((2, 3, 100, 100)), verbose=0)
"""


def test_issue_snippets_run_with_only_deepcore_keras_imports(tmp_path, monkeypatch):
    pytest.importorskip("h5py")
    monkeypatch.chdir(tmp_path)
    for code, shape in ((SNIPPET_MLP, (5, 10)), (SNIPPET_LSTM, (3, 10)), (SNIPPET_IMAGE, (2, 8))):
        imports = [line for line in code.splitlines() if line.startswith(("import ", "from "))]
        assert all(line.startswith("from deepcore.keras") or line == "import numpy as np" for line in imports)
        scope = {}
        with pytest.warns(UserWarning, match="Keras 1") if "Convolution2D" in code else _nothing():
            exec(compile(code, "<snippet>", "exec"), scope)  # noqa: S102 - our own snippets
        assert scope["result"].shape == shape
    assert scope["image_model"].layers[0].data_format == "channels_first"
    assert scope["image_model"].layers[2].data_format == "channels_first"   # follows the convolution


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


# --- devices and captured steps ---------------------------------------------------------------------------
def test_fit_on_a_device_with_and_without_capture(device):
    """A Keras model is a dc Module: fit(device=..., capture=...) applies unchanged, metrics and weights too."""
    rng = np.random.default_rng(12)
    x = rng.normal(size=(48, 6)).astype(np.float32)
    labels = rng.integers(0, 3, 48)
    sw = rng.random(48).astype(np.float32)
    histories, weights = [], []
    for capture in (False, True):
        keras.backend.clear_session()
        dc.manual_seed(0)
        model = keras.Sequential([keras.Input((6,)), layers.Dense(8, activation="relu"),
                                  layers.BatchNormalization(), layers.Dense(3, activation="softmax")])
        model.compile(keras.optimizers.SGD(0.1, momentum=0.9), "sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        hist = model.fit(x, labels, batch_size=16, epochs=2, shuffle=False, sample_weight=sw, verbose=0,
                         device=device, capture=capture, validation_split=0.25)
        histories.append(hist.history)
        weights.append(model.get_weights())
    for key in histories[0]:
        np.testing.assert_allclose(histories[1][key], histories[0][key], rtol=1e-5, atol=1e-6)
    for a, b in zip(*weights):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)


def test_multi_output_fit_with_capture(device):
    rng = np.random.default_rng(13)
    x = rng.normal(size=(40, 5)).astype(np.float32)
    y = [rng.integers(0, 3, 40), rng.normal(size=(40, 2)).astype(np.float32)]
    histories = []
    for capture in (False, True):
        keras.backend.clear_session()
        dc.manual_seed(0)
        inp = keras.Input((5,))
        h = layers.Dense(6, activation="tanh")(inp)
        model = keras.Model(inp, [layers.Dense(3, activation="softmax", name="cls")(h), layers.Dense(2, name="reg")(h)])
        model.compile(keras.optimizers.Adam(0.01), ["sparse_categorical_crossentropy", "mse"], loss_weights=[1, 0.5],
                      metrics=[["accuracy"], ["mae"]])
        histories.append(model.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0, device=device,
                                   capture=capture).history)
    assert sorted(histories[0]) == ["cls_accuracy", "cls_loss", "loss", "reg_loss", "reg_mae"]
    for key in histories[0]:
        np.testing.assert_allclose(histories[1][key], histories[0][key], rtol=1e-5, atol=1e-6)


def test_fit_on_a_data_loader_and_weighted_validation_data():
    rng = np.random.default_rng(14)
    x = rng.normal(size=(32, 6)).astype(np.float32)
    labels = rng.integers(0, 3, 32)
    model = _mlp()
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    loader = dc.data.DataLoader(dc.data.TensorDataset(x, labels), batch_size=8)
    hist = model.fit(loader, epochs=2, verbose=0, validation_data=loader)
    assert len(hist.history["val_accuracy"]) == 2
    w = rng.random(8).astype(np.float32)
    hist = model.fit(x[:24], labels[:24], epochs=1, verbose=0, validation_data=(x[24:], labels[24:], w))
    expected = model.evaluate(x[24:], labels[24:], sample_weight=w, verbose=0)[0]
    assert hist.history["val_loss"][0] == pytest.approx(expected, rel=1e-5)
