"""Keras 3 ``.weights.h5`` files: deepcore <-> deepcore, the layout, error handling, and against real Keras 3.

The comparisons with Keras need ``pip install keras`` (run with its torch backend, torch CPU); they skip
when it is absent. The same builder functions make the Keras and the deepcore model: only the module differs.
"""
import os

import numpy as np
import pytest

import deepcore as dc
from deepcore import keras as dk

h5py = pytest.importorskip("h5py")


@pytest.fixture(autouse=True)
def _fresh_names():
    dk.backend.clear_session()


# --- model builders, written once for both Keras and deepcore.keras -------------------------------------
def cnn(k):
    return k.Sequential([k.Input((12, 12, 3)), k.layers.Conv2D(8, (3, 3), activation="relu"),
                         k.layers.MaxPooling2D((2, 2)), k.layers.Conv2D(6, (3, 3), padding="same", strides=2),
                         k.layers.BatchNormalization(), k.layers.Flatten(), k.layers.Dense(4, activation="softmax")])


def rnn(k):
    return k.Sequential([k.Input((7,), dtype="int32"), k.layers.Embedding(30, 8),
                         k.layers.LSTM(6, return_sequences=True), k.layers.GRU(5, return_sequences=True),
                         k.layers.SimpleRNN(4), k.layers.RepeatVector(3),
                         k.layers.TimeDistributed(k.layers.Dense(5, activation="softmax"))])


def graph(k):
    a, b = k.Input((4,), name="a"), k.Input((6, 3), name="b")
    shared = k.layers.Dense(5, activation="tanh")
    h = k.layers.Concatenate()([shared(a), k.layers.LSTM(5)(b)])
    h = k.layers.Add()([h, k.layers.Dense(10)(shared(a))])
    return k.Model([a, b], [k.layers.Dense(3, activation="softmax", name="cls")(h),
                            k.layers.Dense(1, name="reg")(h)])


def channels_first(k):
    return k.Sequential([k.Input((3, 9, 9)), k.layers.Conv2D(4, 3, data_format="channels_first", activation="tanh"),
                         k.layers.MaxPooling2D(2, data_format="channels_first"),
                         k.layers.BatchNormalization(axis=1), k.layers.Flatten(), k.layers.Dense(2)])


BUILDERS = {"cnn": cnn, "rnn": rnn, "graph": graph, "channels_first": channels_first}


def sample(name, n=6, seed=0):
    rng = np.random.default_rng(seed)
    if name == "cnn":
        return rng.normal(size=(n, 12, 12, 3)).astype(np.float32)
    if name == "rnn":
        return rng.integers(0, 30, size=(n, 7)).astype(np.int32)
    if name == "graph":
        return [rng.normal(size=(n, 4)).astype(np.float32), rng.normal(size=(n, 6, 3)).astype(np.float32)]
    return rng.normal(size=(n, 3, 9, 9)).astype(np.float32)


def _outputs(p):
    return [np.asarray(a) for a in (p if isinstance(p, list) else [p])]


def _h5_tree(path):
    out = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, obj: out.__setitem__(name, obj.shape if isinstance(obj, h5py.Dataset) else None))
    return out


# --- deepcore only ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_round_trip(name, tmp_path):
    src, dst = BUILDERS[name](dk), BUILDERS[name](dk)
    for w in src.weights:                    # moving statistics and all: every variable travels
        w.data[...] = np.random.default_rng(1).normal(size=w.shape).astype(np.float32) * 0.3 + \
            (1.0 if w.ndim == 1 else 0.0)
    path = tmp_path / "m.weights.h5"
    src.save_weights(path)
    dst.load_weights(path)
    for a, b in zip(src.get_weights(), dst.get_weights()):
        np.testing.assert_array_equal(a, b)
    x = sample(name)
    for a, b in zip(_outputs(src.predict(x, verbose=0)), _outputs(dst.predict(x, verbose=0))):
        np.testing.assert_array_equal(a, b)


def test_file_layout_is_keras_3s(tmp_path):
    tree = {}
    for name in ("cnn", "rnn", "graph"):
        path = tmp_path / f"{name}.weights.h5"
        BUILDERS[name](dk).save_weights(path)
        tree.update({f"{name}:{k}": v for k, v in _h5_tree(path).items()})
    assert tree["cnn:layers/conv2d/vars/0"] == (3, 3, 3, 8) and tree["cnn:layers/conv2d_1/vars/1"] == (6,)
    assert tree["cnn:layers/max_pooling2d/vars"] is None and "cnn:vars" in tree
    assert [tree[f"cnn:layers/batch_normalization/vars/{i}"] for i in range(4)] == [(6,)] * 4
    assert tree["rnn:layers/embedding/vars/0"] == (30, 8)
    assert tree["rnn:layers/lstm/cell/vars/0"] == (8, 24) and tree["rnn:layers/lstm/cell/vars/2"] == (24,)
    assert tree["rnn:layers/gru/cell/vars/2"] == (2, 15) and tree["rnn:layers/simple_rnn/cell/vars/1"] == (4, 4)
    assert tree["rnn:layers/time_distributed/layer/vars/0"] == (4, 5)
    assert "graph:layers/input_layer/vars" in tree and "graph:layers/input_layer_1/vars" in tree
    assert tree["graph:layers/dense/vars/0"] == (4, 5) and tree["graph:layers/lstm/cell/vars/0"] == (3, 20)
    with h5py.File(tmp_path / "cnn.weights.h5", "r") as f:
        assert f["layers/conv2d/vars"].attrs["name"] == "conv2d" and "optimizer" not in f


def test_nested_model_layout(tmp_path):
    inner = dk.Sequential([dk.Input((4,)), dk.layers.Dense(3), dk.layers.Dense(2)], name="inner")
    x = dk.Input((4,))
    outer = dk.Model(x, inner(x))
    outer.save_weights(tmp_path / "n.weights.h5")
    tree = _h5_tree(tmp_path / "n.weights.h5")
    assert tree["layers/sequential/layers/dense_1/vars/0"] == (3, 2)


def test_mismatch_names_the_layer_and_changes_nothing(tmp_path):
    path = tmp_path / "wide.weights.h5"
    dk.Sequential([dk.Input((4,)), dk.layers.Dense(8), dk.layers.Dense(3)]).save_weights(path)
    model = dk.Sequential([dk.Input((4,)), dk.layers.Dense(8), dk.layers.Dense(5, name="head")])
    before = model.get_weights()
    with pytest.raises(ValueError, match=r"layer 'head' \(Dense, layers/dense_1\): variable 0 \('kernel'\) has shape "
                                         r"\(8, 3\) in the file but \(8, 5\) in the model; nothing was loaded"):
        model.load_weights(path)
    for a, b in zip(before, model.get_weights()):       # the first layer, which fitted, was not touched either
        np.testing.assert_array_equal(a, b)
    other = dk.Sequential([dk.Input((4,)), dk.layers.Dense(8), dk.layers.BatchNormalization(), dk.layers.Dense(3)])
    with pytest.raises(ValueError, match="batch_normalization.*no group"):
        other.load_weights(path)
    with pytest.raises(ValueError, match="not built"):
        dk.Sequential([dk.layers.Dense(3)]).load_weights(path)
    with pytest.raises(FileNotFoundError):
        model.load_weights(tmp_path / "missing.weights.h5")


def test_save_is_atomic_and_other_suffixes_use_deepcore_formats(tmp_path):
    model = cnn(dk)
    path = tmp_path / "m.weights.h5"
    model.save_weights(path)
    assert [p.name for p in tmp_path.iterdir()] == ["m.weights.h5"]       # no temporary file left behind
    model.save_weights(tmp_path / "m.npz")
    state = dc.load(tmp_path / "m.npz")
    assert "conv2d.kernel" in state and "batch_normalization.moving_variance" in state
    clone = cnn(dk)
    clone.load_weights(tmp_path / "m.npz")
    np.testing.assert_array_equal(clone.layers[0].kernel.numpy(), model.layers[0].kernel.numpy())
    with pytest.raises(FileExistsError):
        model.save_weights(path, overwrite=False)


def test_keras2_h5_weight_files_load(tmp_path):
    model = dk.Sequential([dk.Input((4,)), dk.layers.Dense(3, name="d1"), dk.layers.Dropout(0.1),
                           dk.layers.Dense(2, name="d2")])
    rng = np.random.default_rng(2)
    arrays = {"dense_1": [rng.normal(size=(4, 3)), rng.normal(size=(3,))],
              "dense_2": [rng.normal(size=(3, 2)), rng.normal(size=(2,))]}
    path = tmp_path / "old.h5"
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = [b"dense_1", b"dropout_1", b"dense_2"]
        for name in ("dense_1", "dropout_1", "dense_2"):
            g = f.create_group(name)
            names = [f"{name}/kernel:0".encode(), f"{name}/bias:0".encode()] if name in arrays else []
            g.attrs["weight_names"] = names
            for n, a in zip(names, arrays.get(name, [])):
                g.create_dataset(n.decode(), data=a.astype(np.float32))
    model.load_weights(path)
    np.testing.assert_allclose(model.get_layer("d2").kernel.numpy(), arrays["dense_2"][0], rtol=1e-6)


# --- against real Keras 3 -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def rk():
    pytest.importorskip("torch")
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "torch" or not keras.__version__.startswith("3"):
        pytest.skip("needs Keras 3 with the torch backend (KERAS_BACKEND=torch)")
    return keras


def _perturb_keras_statistics(model, seed=3):
    """Non-trivial BatchNormalization statistics, so that inference exercises them."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if type(layer).__name__ == "BatchNormalization":
            w = [a + rng.normal(size=a.shape).astype(np.float32) * 0.2 for a in layer.get_weights()]
            w[3] = np.abs(w[3]) + 0.5
            layer.set_weights(w)


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_keras_files_load_into_deepcore_and_back(name, rk, tmp_path):
    rk.backend.clear_session()
    km, dm = BUILDERS[name](rk), BUILDERS[name](dk)
    _perturb_keras_statistics(km)
    km.save_weights(tmp_path / "keras.weights.h5")
    dm.load_weights(tmp_path / "keras.weights.h5")
    x = sample(name)
    for a, b in zip(_outputs(km.predict(x, verbose=0)), _outputs(dm.predict(x, verbose=0))):
        np.testing.assert_allclose(b, a, atol=1e-5, rtol=0)
    # and the reverse: a file deepcore wrote, from fresh deepcore weights, into Keras
    fresh = BUILDERS[name](dk)
    fresh.save_weights(tmp_path / "deepcore.weights.h5")
    assert _h5_tree(tmp_path / "deepcore.weights.h5") == _h5_tree(tmp_path / "keras.weights.h5")
    km.load_weights(tmp_path / "deepcore.weights.h5")
    for a, b in zip(_outputs(km.predict(x, verbose=0)), _outputs(fresh.predict(x, verbose=0))):
        np.testing.assert_allclose(b, a, atol=1e-5, rtol=0)
    # summary's parameter counts, per layer and in total
    assert dm.count_params() == km.count_params()
    assert [l.count_params() for l in dm.layers] == [l.count_params() for l in km.layers]
    assert [l.name for l in dm.layers] == [l.name for l in km.layers]
    assert len(dm.non_trainable_weights) == len(km.non_trainable_weights)


FIT_CASES = {
    "cnn": ("categorical_crossentropy", lambda rng, n: np.eye(4, dtype=np.float32)[rng.integers(0, 4, n)]),
    "rnn": ("sparse_categorical_crossentropy", lambda rng, n: rng.integers(0, 5, (n, 3))),
    "channels_first": ("mse", lambda rng, n: rng.normal(size=(n, 2)).astype(np.float32)),
}


@pytest.mark.parametrize("name", sorted(FIT_CASES))
def test_one_epoch_of_sgd_matches_keras(name, rk, tmp_path):
    rk.backend.clear_session()
    km, dm = BUILDERS[name](rk), BUILDERS[name](dk)
    km.save_weights(tmp_path / "start.weights.h5")
    dm.load_weights(tmp_path / "start.weights.h5")
    loss, make_y = FIT_CASES[name]
    rng = np.random.default_rng(4)
    x, y = sample(name, n=40, seed=5), make_y(rng, 40)
    km.compile(rk.optimizers.SGD(learning_rate=0.05, momentum=0.9), loss, metrics=["accuracy"])
    dm.compile(dk.optimizers.SGD(learning_rate=0.05, momentum=0.9), loss, metrics=["accuracy"])
    hk = km.fit(x, y, batch_size=8, epochs=1, shuffle=False, validation_split=0.25, verbose=0).history
    hd = dm.fit(x, y, batch_size=8, epochs=1, shuffle=False, validation_split=0.25, verbose=0).history
    assert sorted(hd) == sorted(hk)
    for key in hk:
        assert hd[key][0] == pytest.approx(hk[key][0], abs=1e-4), key
    for a, b in zip(km.get_weights(), dm.get_weights()):      # BatchNormalization's moving statistics included
        np.testing.assert_allclose(b, a, atol=1e-5, rtol=0)
    np.testing.assert_allclose(dm.evaluate(x, y, verbose=0), km.evaluate(x, y, verbose=0), atol=1e-4)


def test_weighted_multi_output_fit_matches_keras(rk, tmp_path):
    rk.backend.clear_session()
    km, dm = graph(rk), graph(dk)
    km.save_weights(tmp_path / "start.weights.h5")
    dm.load_weights(tmp_path / "start.weights.h5")
    rng = np.random.default_rng(6)
    x = sample("graph", n=24, seed=7)
    y = [rng.integers(0, 3, 24), rng.normal(size=(24, 1)).astype(np.float32)]
    sw = rng.random(24).astype(np.float32)
    kwargs = {"loss": ["sparse_categorical_crossentropy", "mse"], "loss_weights": [1.0, 0.3]}
    km.compile(rk.optimizers.SGD(0.1), **kwargs)
    dm.compile(dk.optimizers.SGD(0.1), **kwargs)
    hk = km.fit(x, y, batch_size=6, epochs=2, shuffle=False, sample_weight=sw, verbose=0).history
    hd = dm.fit(x, y, batch_size=6, epochs=2, shuffle=False, sample_weight=sw, verbose=0).history
    np.testing.assert_allclose(hd["loss"], hk["loss"], atol=1e-4)


def test_model_checkpoint_writes_keras_weight_files(tmp_path):
    model = dk.Sequential([dk.Input((3,)), dk.layers.Dense(2)])
    model.compile("sgd", "mse")
    x, y = np.ones((8, 3), np.float32), np.zeros((8, 2), np.float32)
    path = tmp_path / "ckpt-{epoch:02d}.weights.h5"
    cb = dk.callbacks.ModelCheckpoint(str(path), monitor="loss", save_weights_only=True)
    model.fit(x, y, epochs=2, verbose=0, callbacks=[cb])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt-01.weights.h5", "ckpt-02.weights.h5"]
    clone = dk.Sequential([dk.Input((3,)), dk.layers.Dense(2)])
    clone.load_weights(tmp_path / "ckpt-02.weights.h5")
    np.testing.assert_array_equal(clone.get_weights()[0], model.get_weights()[0])
