"""deepcore.keras models: Sequential, Input, the functional API, summary(), and a Keras model as a dc Module."""
import numpy as np
import pytest

import deepcore as dc
from deepcore import keras
from deepcore.keras import layers


@pytest.fixture(autouse=True)
def _fresh_names():
    keras.backend.clear_session()


def test_from_deepcore_import_keras():
    import deepcore
    from deepcore import keras as k
    assert deepcore.keras is k and k.Sequential is keras.Sequential
    assert issubclass(keras.Model, dc.nn.Module) and issubclass(keras.layers.Dense, dc.nn.Module)


def test_sequential_list_add_and_input_forms():
    a = keras.Sequential([keras.Input(shape=(20,)), layers.Dense(8, activation="relu"), layers.Dense(3)])
    b = keras.Sequential()
    b.add(layers.Dense(8, activation="relu", input_dim=20))
    b.add(layers.Dense(3))
    c = keras.Sequential([layers.Dense(8, input_shape=(20,)), layers.Dense(3)])
    d = keras.Sequential([layers.InputLayer(shape=(20,)), layers.Dense(8), layers.Dense(3)])
    for m in (a, b, c, d):
        assert m.built and m.count_params() == 20 * 8 + 8 + 8 * 3 + 3
        assert m.outputs[0].shape == (None, 3) and len(m.layers) == 2
    assert a.name == "sequential" and b.name == "sequential_1"
    assert [l.name for l in a.layers] == ["dense", "dense_1"]


def test_unbuilt_sequential_builds_from_data():
    m = keras.Sequential([layers.Dense(4), layers.Dense(2)])
    assert not m.built and m.weights == []
    out = m.predict(np.ones((3, 6), np.float32), verbose=0)
    assert m.built and out.shape == (3, 2) and m.layers[0].kernel.shape == (6, 4)
    m2 = keras.Sequential([layers.Dense(4)])
    m2.build((None, 5))
    assert m2.count_params() == 24


def test_a_keras_model_is_a_deepcore_module():
    m = keras.Sequential([keras.Input((4,)), layers.Dense(3), layers.BatchNormalization(), layers.Dense(2)])
    keys = list(m.state_dict())
    assert keys == ["dense.kernel", "dense.bias", "batch_normalization.gamma", "batch_normalization.beta",
                    "batch_normalization.moving_mean", "batch_normalization.moving_variance", "dense_1.kernel",
                    "dense_1.bias"]
    # moving statistics are buffers, not parameters: an optimizer never sees them
    assert len(list(m.parameters())) == 6 and len(m.non_trainable_weights) == 2
    assert not m.training                                 # inference unless fit (or training=True)
    sd = {k: v.numpy() * 0 + 1 for k, v in m.state_dict().items()}
    m.load_state_dict(sd)
    assert np.all(m.layers[0].kernel.numpy() == 1)


def test_functional_multiple_inputs_outputs_and_keras_layer_order():
    a = keras.Input((4,), name="a")
    b = keras.Input((3,), name="b")
    h1 = layers.Dense(5)(a)
    h2 = layers.Dense(5)(b)
    s = layers.Concatenate()([h1, h2])
    o1 = layers.Dense(2, name="out1")(s)
    o2 = layers.Dense(1, activation="sigmoid", name="out2")(s)
    model = keras.Model([a, b], [o1, o2])
    assert [l.name for l in model.layers] == ["a", "b", "dense", "dense_1", "concatenate", "out1", "out2"]
    assert model.output_names == ["out1", "out2"] and model.name == "functional"
    xa, xb = np.ones((2, 4), np.float32), np.ones((2, 3), np.float32)
    y1, y2 = model.predict([xa, xb], verbose=0)
    assert y1.shape == (2, 2) and y2.shape == (2, 1)
    d1, _ = model.predict({"a": xa, "b": xb}, verbose=0)
    np.testing.assert_allclose(d1, y1)
    with pytest.raises(ValueError, match="expects 2 input"):
        model([xa])


def test_shared_layers_and_submodels():
    a, b = keras.Input((4,)), keras.Input((4,))
    shared = layers.Dense(3, activation="tanh")
    merged = layers.Add()([shared(a), shared(b)])
    model = keras.Model([a, b], layers.Dense(2)(merged))
    assert model.count_params() == 15 + 8 and len(shared._inbound_nodes) == 2
    x = np.random.default_rng(0).normal(size=(2, 4)).astype(np.float32)
    k, bias = shared.kernel.numpy(), shared.bias.numpy()
    expected = (2 * np.tanh(x @ k + bias)) @ model.layers[-1].kernel.numpy() + model.layers[-1].bias.numpy()
    np.testing.assert_allclose(model.predict([x, x], verbose=0), expected, rtol=1e-5, atol=1e-6)
    # a feature extractor from an inner layer's output, and a model used as a layer
    base = keras.Sequential([keras.Input((6,)), layers.Dense(4, activation="relu"), layers.Dense(2)])
    features = keras.Model(base.inputs, base.layers[0].output)
    assert features.predict(np.ones((1, 6), np.float32), verbose=0).shape == (1, 4)
    inp = keras.Input((6,))
    outer = keras.Model(inp, layers.Dense(1)(base(inp)))
    assert outer.count_params() == base.count_params() + 3
    np.testing.assert_allclose(outer.predict(np.ones((2, 6), np.float32), verbose=0),
                               base.predict(np.ones((2, 6), np.float32), verbose=0) @
                               outer.layers[-1].kernel.numpy() + outer.layers[-1].bias.numpy(), rtol=1e-5)


def test_functional_errors():
    a, b = keras.Input((3,)), keras.Input((3,))
    out = layers.Dense(2)(layers.Add()([a, b]))
    with pytest.raises(ValueError, match="disconnected"):
        keras.Model(a, out)
    x = keras.Input((3,))
    y = layers.Dense(2, name="same")(x)
    with pytest.raises(ValueError, match="unique"):
        keras.Model(x, layers.Dense(2, name="same")(y))


def test_lstm_return_state_in_the_functional_api():
    enc_in = keras.Input((5, 3))
    _, h, c = layers.LSTM(4, return_state=True)(enc_in)
    dec_in = keras.Input((2, 3))
    dec = layers.LSTM(4, return_sequences=True)(dec_in, initial_state=[h, c])
    model = keras.Model([enc_in, dec_in], layers.Dense(3, activation="softmax")(dec))
    out = model.predict([np.ones((2, 5, 3), np.float32), np.ones((2, 2, 3), np.float32)], verbose=0)
    assert out.shape == (2, 2, 3)
    np.testing.assert_allclose(out.sum(-1), 1, rtol=1e-5)


def test_subclassed_model_trains():
    class TwoLayer(keras.Model):
        def __init__(self):
            super().__init__()
            self.hidden = layers.Dense(8, activation="relu")
            self.out = layers.Dense(1)

        def call(self, x):
            return self.out(self.hidden(x))

    model = TwoLayer()
    assert model.name == "two_layer"
    x = np.random.default_rng(1).normal(size=(64, 3)).astype(np.float32)
    y = x.sum(1, keepdims=True)
    model.compile(keras.optimizers.Adam(0.01), "mse")
    hist = model.fit(x, y, epochs=20, batch_size=16, verbose=0)
    assert hist.history["loss"][-1] < 0.2 * hist.history["loss"][0]
    assert [l.name for l in model.layers] == ["dense", "dense_1"]


def test_training_flag():
    m = keras.Sequential([keras.Input((50,)), layers.Dropout(0.5)])
    x = np.ones((4, 50), np.float32)
    np.testing.assert_array_equal(m(x).numpy(), x)
    assert (m(x, training=True).numpy() == 0).any()
    # training=True written into the graph always applies
    inp = keras.Input((50,))
    mc = keras.Model(inp, layers.Dropout(0.5)(inp, training=True))
    assert (mc.predict(x, verbose=0) == 0).any()


MNIST_CONVNET_SUMMARY = """\
Model: "sequential"
┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━┓
┃ Layer (type)                    ┃ Output Shape           ┃       Param # ┃
┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━┩
│ conv2d (Conv2D)                 │ (None, 26, 26, 32)     │           320 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ max_pooling2d (MaxPooling2D)    │ (None, 13, 13, 32)     │             0 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ conv2d_1 (Conv2D)               │ (None, 11, 11, 64)     │        18,496 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ max_pooling2d_1 (MaxPooling2D)  │ (None, 5, 5, 64)       │             0 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ flatten (Flatten)               │ (None, 1600)           │             0 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ dropout (Dropout)               │ (None, 1600)           │             0 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ dense (Dense)                   │ (None, 10)             │        16,010 │
└─────────────────────────────────┴────────────────────────┴───────────────┘
 Total params: 34,826 (136.04 KB)
 Trainable params: 34,826 (136.04 KB)
 Non-trainable params: 0 (0.00 B)
"""


def test_summary_prints_like_keras(capsys):
    model = keras.Sequential([keras.Input(shape=(28, 28, 1)), layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
                              layers.MaxPooling2D(pool_size=(2, 2)),
                              layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
                              layers.MaxPooling2D(pool_size=(2, 2)), layers.Flatten(), layers.Dropout(0.5),
                              layers.Dense(10, activation="softmax")])
    model.summary()
    assert capsys.readouterr().out == MNIST_CONVNET_SUMMARY   # the text Keras 3 prints for this model
    lines = []
    model.summary(print_fn=lines.append)
    assert "\n".join(lines) + "\n" == MNIST_CONVNET_SUMMARY


def test_summary_graph_models_and_wrapping():
    a, b = keras.Input((4,), name="a"), keras.Input((3,), name="b")
    s = layers.Concatenate()([layers.Dense(5)(a), layers.Dense(5)(b)])
    model = keras.Model([a, b], [layers.Dense(2, name="out1")(s), layers.Dense(1, name="out2")(s)])
    lines = []
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert "┃ Layer (type)        ┃ Output Shape      ┃    Param # ┃ Connected to      ┃" in text
    assert "│ concatenate         │ (None, 10)        │          0 │ dense[0][0],      │" in text
    assert "│ (Concatenate)       │                   │            │ dense_1[0][0]     │" in text
    assert "│ a (InputLayer)      │ (None, 4)         │          0 │ -                 │" in text
    assert " Total params: 78 (312.00 B)" in text
    seq = keras.Sequential([keras.Input((7, 3)), layers.BatchNormalization(), layers.Dense(3)])
    lines = []
    seq.summary(print_fn=lines.append)
    assert "│ batch_normalization             │ (None, 7, 3)           │            12 │" in lines
    assert "│ (BatchNormalization)            │                        │               │" in lines
    assert " Non-trainable params: 6 (24.00 B)" in lines
    unbuilt = keras.Sequential([layers.Dense(3)])
    lines = []
    unbuilt.summary(print_fn=lines.append)
    assert "│ dense_3 (Dense)                 │ ?                      │   0 (unbuilt) │" in lines


def test_get_layer_weights_api():
    m = keras.Sequential([keras.Input((3,)), layers.Dense(2, name="hidden"), layers.Dense(1)])
    assert m.get_layer("hidden") is m.layers[0] and m.get_layer(index=1) is m.layers[1]
    w = m.get_weights()
    assert [a.shape for a in w] == [(3, 2), (2,), (2, 1), (1,)]
    m.set_weights([np.ones_like(a) for a in w])
    np.testing.assert_allclose(m.predict(np.ones((1, 3), np.float32), verbose=0), [[1 + 2 * 4]])
    with pytest.raises(ValueError, match=r"'hidden'.*\(3, 2\)"):
        m.layers[0].set_weights([np.ones((4, 2)), np.ones(2)])
    with pytest.raises(ValueError, match="no layer named"):
        m.get_layer("nope")


def test_frozen_layers_are_not_trained():
    m = keras.Sequential([keras.Input((3,)), layers.Dense(4, name="frozen"), layers.Dense(1)])
    m.get_layer("frozen").trainable = False
    assert len(m.trainable_weights) == 2 and len(m.non_trainable_weights) == 2
    before = m.get_layer("frozen").kernel.numpy().copy()
    m.compile("sgd", "mse")
    m.fit(np.ones((8, 3), np.float32), np.ones((8, 1), np.float32), epochs=2, verbose=0)
    np.testing.assert_array_equal(m.get_layer("frozen").kernel.numpy(), before)
