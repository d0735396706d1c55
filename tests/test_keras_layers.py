"""deepcore.keras layers against NumPy references: Keras 3's weights, defaults, initializers and maths."""
import numpy as np
import pytest

import deepcore as dc
from deepcore import keras
from deepcore.keras import engine, layers


@pytest.fixture(autouse=True)
def _fresh_names():
    keras.backend.clear_session()


def _np(t):
    return t.numpy() if hasattr(t, "numpy") else np.asarray(t)


def _sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def _conv_ref(x, k, b, strides, pads, dilation=(1, 1)):
    """Channels-last convolution: x (N, H, W, C), k (kh, kw, C, O), pads ((top, bottom), (left, right))."""
    x = np.pad(x, ((0, 0), pads[0], pads[1], (0, 0)))
    kh, kw, _, o = k.shape
    dh, dw = dilation
    sh, sw = strides
    oh = (x.shape[1] - (kh - 1) * dh - 1) // sh + 1
    ow = (x.shape[2] - (kw - 1) * dw - 1) // sw + 1
    y = np.zeros((x.shape[0], oh, ow, o))
    for a in range(kh):
        for c in range(kw):
            patch = x[:, a * dh:a * dh + (oh - 1) * sh + 1:sh, c * dw:c * dw + (ow - 1) * sw + 1:sw, :]
            y += patch @ k[a, c]
    return y + (0 if b is None else b)


def _pool_ref(x, size, strides, pads, mode):
    fill = -np.inf if mode == "max" else np.nan
    x = np.pad(x, ((0, 0), pads[0], pads[1], (0, 0)), constant_values=fill)
    oh = (x.shape[1] - size[0]) // strides[0] + 1
    ow = (x.shape[2] - size[1]) // strides[1] + 1
    y = np.zeros((x.shape[0], oh, ow, x.shape[3]))
    for i in range(oh):
        for j in range(ow):
            win = x[:, i * strides[0]:i * strides[0] + size[0], j * strides[1]:j * strides[1] + size[1], :]
            y[:, i, j] = win.max(axis=(1, 2)) if mode == "max" else np.nanmean(win, axis=(1, 2))
    return y


# --- Dense and simple layers ------------------------------------------------------------------------------
def test_dense_weights_initializers_and_maths():
    d = layers.Dense(7, activation="relu")
    x = np.random.default_rng(0).normal(size=(5, 30)).astype(np.float32)
    y = d(x)
    assert d.name == "dense" and d.kernel.shape == (30, 7) and d.bias.shape == (7,)
    assert [w.shape for w in d.weights] == [(30, 7), (7,)]
    limit = np.sqrt(6 / (30 + 7))                      # glorot_uniform over (in, out)
    k = _np(d.kernel)
    assert np.abs(k).max() <= limit and np.abs(k).max() > 0.8 * limit
    assert np.all(_np(d.bias) == 0)
    np.testing.assert_allclose(_np(y), np.maximum(x @ k, 0), rtol=1e-5, atol=1e-6)
    assert layers.Dense(3).name == "dense_1"            # Keras's automatic names
    # Dense acts on the last axis of higher-rank input
    z = layers.Dense(4)(np.ones((2, 3, 5), np.float32))
    assert z.shape == (2, 3, 4)


def test_dense_rejects_wrong_width_with_keras_message():
    d = layers.Dense(3)
    d(np.zeros((2, 4), np.float32))
    with pytest.raises(ValueError, match=r'layer "dense".*expected axis -1 of input shape to have value 4'):
        d(np.zeros((2, 5), np.float32))


def test_legacy_dense_arguments():
    d = layers.Dense(output_dim=5, init="zeros", input_dim=3)
    assert d._batch_input_shape == (None, 3)
    d(np.ones((1, 3), np.float32))
    assert d.units == 5 and np.all(_np(d.kernel) == 0)


def test_activation_dropout_flatten_reshape_permute_repeat():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(4, 3, 5)).astype(np.float32)
    np.testing.assert_allclose(_np(layers.Activation("softmax")(x)),
                               np.exp(x) / np.exp(x).sum(-1, keepdims=True), rtol=1e-5)
    drop = layers.Dropout(0.5)
    np.testing.assert_array_equal(_np(drop(x)), x)            # inference unless training=True
    y = _np(drop(x, training=True))
    kept = y != 0
    np.testing.assert_allclose(y[kept], 2 * x[kept], rtol=1e-6)
    assert 0.2 < kept.mean() < 0.8
    assert layers.Flatten()(x).shape == (4, 15)
    np.testing.assert_array_equal(_np(layers.Flatten()(x)), x.reshape(4, 15))
    assert layers.Reshape((5, -1))(x).shape == (4, 5, 3)
    np.testing.assert_array_equal(_np(layers.Permute((2, 1))(x)), x.transpose(0, 2, 1))
    r = _np(layers.RepeatVector(3)(x[:, 0]))
    assert r.shape == (4, 3, 5) and np.all(r == x[:, :1])


def test_dropout_noise_shape_shares_the_mask():
    x = np.ones((6, 4, 5), np.float32)
    y = _np(layers.Dropout(0.5, noise_shape=(None, 1, 5))(x, training=True))
    assert np.all(y == y[:, :1])


# --- convolutions and pooling ----------------------------------------------------------------------------
@pytest.mark.parametrize("kernel,strides,padding,dilation", [
    ((3, 3), (1, 1), "valid", (1, 1)), ((3, 3), (1, 1), "same", (1, 1)), ((4, 3), (2, 3), "same", (1, 1)),
    ((2, 2), (2, 2), "valid", (1, 1)), ((3, 3), (1, 1), "same", (2, 2))])
def test_conv2d_channels_last_matches_reference(kernel, strides, padding, dilation):
    rng = np.random.default_rng(2)
    x = rng.normal(size=(2, 9, 10, 3)).astype(np.float32)
    conv = layers.Conv2D(4, kernel, strides=strides, padding=padding, dilation_rate=dilation)
    y = _np(conv(x))
    assert conv.kernel.shape == kernel + (3, 4)
    if padding == "same":
        pads = []
        for n, k, s, d in zip((9, 10), kernel, strides, dilation):
            total = max((-(-n // s) - 1) * s + (k - 1) * d + 1 - n, 0)
            pads.append((total // 2, total - total // 2))
    else:
        pads = [(0, 0), (0, 0)]
    ref = _conv_ref(x.astype(np.float64), _np(conv.kernel).astype(np.float64), _np(conv.bias), strides, pads,
                    dilation)
    assert y.shape == ref.shape == conv.compute_output_shape((None, 9, 10, 3))[:1] + ref.shape[1:] or \
        y.shape == ref.shape
    assert conv.compute_output_shape((None, 9, 10, 3)) == (None,) + ref.shape[1:]
    np.testing.assert_allclose(y, ref, rtol=1e-4, atol=1e-4)


def test_conv2d_glorot_uses_the_receptive_field():
    conv = layers.Conv2D(16, (3, 3))
    conv(np.zeros((1, 8, 8, 4), np.float32))
    limit = np.sqrt(6 / (9 * 4 + 9 * 16))
    assert np.abs(_np(conv.kernel)).max() <= limit


def test_conv2d_channels_first_and_legacy_spelling():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2, 3, 8, 8)).astype(np.float32)
    cf = layers.Conv2D(5, 3, data_format="channels_first", activation="tanh")
    y = _np(cf(x))
    ref = np.tanh(_conv_ref(x.transpose(0, 2, 3, 1), _np(cf.kernel), _np(cf.bias), (1, 1), [(0, 0), (0, 0)]))
    np.testing.assert_allclose(y, ref.transpose(0, 3, 1, 2), rtol=1e-4, atol=1e-5)
    with pytest.warns(UserWarning, match="Keras 1"):
        legacy = layers.Convolution2D(32, 3, 3, border_mode="same", subsample=(2, 2), input_shape=(3, 16, 16))
    assert isinstance(legacy, layers.Conv2D) and legacy.kernel_size == (3, 3) and legacy.padding == "same"
    assert legacy.strides == (2, 2) and legacy.data_format == "channels_first"
    tf_order = layers.Convolution2D(8, 3, 3, dim_ordering="tf")
    assert tf_order.data_format == "channels_last"
    assert type(tf_order).__name__ == "Conv2D"            # saved under layers/conv2d like Keras


def test_conv2d_mistaken_channels_first_input_gets_a_hint():
    model = keras.Sequential()
    with pytest.raises(ValueError, match="channels_first"):
        model.add(layers.Conv2D(4, (3, 3), input_shape=(3, 2, 100)))
        model.add(layers.Conv2D(4, (3, 3)))


@pytest.mark.parametrize("cls,padding", [(layers.MaxPooling2D, "valid"), (layers.MaxPooling2D, "same"),
                                         (layers.AveragePooling2D, "valid"), (layers.AveragePooling2D, "same")])
def test_pooling_matches_reference(cls, padding):
    rng = np.random.default_rng(4)
    x = rng.normal(size=(2, 7, 9, 3)).astype(np.float32)
    pool = cls(pool_size=(3, 2), strides=(2, 2), padding=padding)
    y = _np(pool(x))
    pads = [(0, 0), (0, 0)]
    if padding == "same":
        pads = []
        for n, k, s in zip((7, 9), (3, 2), (2, 2)):
            total = max((-(-n // s) - 1) * s + k - n, 0)
            pads.append((total // 2, total - total // 2))
    ref = _pool_ref(x.astype(np.float64), (3, 2), (2, 2), pads, "max" if cls is layers.MaxPooling2D else "avg")
    assert pool.compute_output_shape((None, 7, 9, 3)) == (None,) + ref.shape[1:]
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-6)


def test_global_pooling_and_zero_padding():
    x = np.random.default_rng(5).normal(size=(2, 4, 5, 3)).astype(np.float32)
    np.testing.assert_allclose(_np(layers.GlobalAveragePooling2D()(x)), x.mean(axis=(1, 2)), rtol=1e-5)
    np.testing.assert_allclose(_np(layers.GlobalMaxPooling2D()(x)), x.max(axis=(1, 2)), rtol=1e-6)
    assert layers.GlobalAveragePooling2D(keepdims=True)(x).shape == (2, 1, 1, 3)
    z = _np(layers.ZeroPadding2D(((1, 0), (2, 1)))(x))
    assert z.shape == (2, 5, 8, 3) and np.all(z[:, 0] == 0) and np.all(z[:, 1:, 2:7] == x)


# --- channels-last layout propagation ------------------------------------------------------------------
def _convnet(k, rate=0.3):
    return k.Sequential([k.Input((10, 10, 3)), k.layers.Conv2D(6, 3, padding="same", activation="relu"),
                         k.layers.BatchNormalization(), k.layers.MaxPooling2D(), k.layers.Dropout(rate),
                         k.layers.Conv2D(5, 3, activation="softmax"), k.layers.Activation("tanh"),
                         k.layers.Flatten(), k.layers.Dense(4)])


@pytest.mark.parametrize("training", [False, True])
def test_layout_propagation_changes_nothing_but_the_transposes(training, monkeypatch):
    model = _convnet(keras, rate=0.0 if training else 0.3)   # dropout masks are drawn in the physical layout
    x = dc.tensor(np.random.default_rng(6).normal(size=(3, 10, 10, 3)).astype(np.float32))
    outs, grads = [], []
    for flag in (True, False):
        monkeypatch.setattr(engine, "LAYOUT_PROPAGATION", flag)
        dc.manual_seed(0)
        before = [w.numpy().copy() for w in model.weights]
        out = model(x, training=training)
        model.zero_grad()
        (out * out).sum().backward()
        outs.append(out.numpy())
        grads.append([p.grad.numpy() for p in model.parameters()])
        for w, b in zip(model.weights, before):      # undo the BatchNormalization statistics update
            w.data[...] = b
    np.testing.assert_allclose(outs[0], outs[1], rtol=1e-5, atol=1e-6)
    for a, b in zip(*grads):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_layout_propagation_transposes_once_in_once_out(monkeypatch):
    from deepcore.ops import shape as _shape
    count = {"n": 0}
    original = _shape.Permute.forward

    def counting(self, x):
        if x.ndim == 4 and x.shape[0] == 8:
            count["n"] += 1
        return original(self, x)
    monkeypatch.setattr(_shape.Permute, "forward", counting)
    model = keras.Sequential([keras.Input((12, 12, 2)), layers.Conv2D(4, 3, activation="relu"),
                              layers.MaxPooling2D(), layers.Conv2D(4, 3, activation="relu"), layers.MaxPooling2D(),
                              layers.Flatten(), layers.Dense(3)])
    x = np.zeros((8, 12, 12, 2), np.float32)
    model(x)
    assert count["n"] == 2                              # the input, and before Flatten
    count["n"] = 0
    monkeypatch.setattr(engine, "LAYOUT_PROPAGATION", False)
    model(x)
    assert count["n"] == 8                              # in and out of each of the four image layers


# --- normalisation, embeddings ---------------------------------------------------------------------------
def test_batch_normalization_keras_semantics():
    rng = np.random.default_rng(7)
    x = (rng.normal(size=(6, 4, 5, 3)) * 2 + 1).astype(np.float32)
    bn = layers.BatchNormalization()
    y = _np(bn(x, training=True))
    assert [w.shape for w in bn.weights] == [(3,)] * 4
    assert [bn._var_name(w) for w in bn.weights] == ["gamma", "beta", "moving_mean", "moving_variance"]
    assert len(bn.trainable_weights) == 2 and len(bn.non_trainable_weights) == 2
    flat = x.reshape(-1, 3).astype(np.float64)
    mean, var = flat.mean(0), flat.var(0)               # the biased variance
    np.testing.assert_allclose(y, (x - mean) / np.sqrt(var + 1e-3), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(_np(bn.moving_mean), 0.01 * mean, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(_np(bn.moving_variance), 0.99 + 0.01 * var, rtol=1e-5)
    # inference uses the moving statistics; a frozen layer too, even in training
    mm, mv = _np(bn.moving_mean), _np(bn.moving_variance)
    np.testing.assert_allclose(_np(bn(x)), (x - mm) / np.sqrt(mv + 1e-3), rtol=1e-4, atol=1e-4)
    bn.trainable = False
    np.testing.assert_allclose(_np(bn(x, training=True)), (x - mm) / np.sqrt(mv + 1e-3), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(_np(bn.moving_mean), mm)
    # axis=1 (channels-first images) and sequences (N, T, C)
    np.testing.assert_allclose(_np(layers.BatchNormalization(axis=1)(x.transpose(0, 3, 1, 2), training=True)),
                               y.transpose(0, 3, 1, 2), rtol=1e-4, atol=1e-4)
    seq = x.reshape(6, 20, 3)
    np.testing.assert_allclose(_np(layers.BatchNormalization()(seq, training=True)), y.reshape(6, 20, 3),
                               rtol=1e-4, atol=1e-4)


def test_embedding():
    emb = layers.Embedding(10, 4)
    idx = np.array([[1, 2, 2], [9, 0, 1]])
    out = _np(emb(idx))
    assert emb.embeddings.shape == (10, 4) and out.shape == (2, 3, 4)
    np.testing.assert_array_equal(out, _np(emb.embeddings)[idx])
    assert np.abs(_np(emb.embeddings)).max() <= 0.05
    np.testing.assert_array_equal(_np(emb(idx.astype(np.float32))), out)   # float indices are cast
    with pytest.raises(NotImplementedError, match="mask_zero"):
        layers.Embedding(10, 4, mask_zero=True)


# --- recurrent layers ----------------------------------------------------------------------------------
def _lstm_ref(x, k, rk, b, h=None, c=None):
    n, t, _ = x.shape
    u = rk.shape[0]
    h = np.zeros((n, u)) if h is None else h
    c = np.zeros((n, u)) if c is None else c
    outs = []
    for s in range(t):
        z = x[:, s] @ k + h @ rk + b
        i, f, g, o = _sigmoid(z[:, :u]), _sigmoid(z[:, u:2 * u]), np.tanh(z[:, 2 * u:3 * u]), _sigmoid(z[:, 3 * u:])
        c = f * c + i * g
        h = o * np.tanh(c)
        outs.append(h)
    return np.stack(outs, 1), h, c


def _gru_ref(x, k, rk, b):
    n, t, _ = x.shape
    u = rk.shape[0]
    h = np.zeros((n, u))
    outs = []
    for s in range(t):
        xi = x[:, s] @ k + b[0]
        hr = h @ rk + b[1]
        z = _sigmoid(xi[:, :u] + hr[:, :u])
        r = _sigmoid(xi[:, u:2 * u] + hr[:, u:2 * u])
        hh = np.tanh(xi[:, 2 * u:] + r * hr[:, 2 * u:])
        h = z * h + (1 - z) * hh
        outs.append(h)
    return np.stack(outs, 1), h


def test_lstm_weights_initializers_and_maths():
    rng = np.random.default_rng(8)
    x = rng.normal(size=(3, 5, 4)).astype(np.float32)
    lstm = layers.LSTM(6, return_sequences=True, return_state=True)
    seq, h, c = (_np(t) for t in lstm(x))
    cell = lstm.cell
    assert cell.name == "lstm_cell" and [w.shape for w in lstm.weights] == [(4, 24), (6, 24), (24,)]
    rk = _np(cell.recurrent_kernel)
    for g in range(4):       # orthogonal: each gate block of the recurrent kernel is an orthogonal matrix
        block = rk[:, g * 6:(g + 1) * 6]
        assert np.abs(block @ block.T).sum() > 0
    np.testing.assert_allclose(rk @ rk.T, np.eye(6), atol=1e-5)
    b = _np(cell.bias)
    np.testing.assert_array_equal(b, np.r_[np.zeros(6), np.ones(6), np.zeros(12)])   # unit_forget_bias
    ref_seq, ref_h, ref_c = _lstm_ref(x.astype(np.float64), _np(cell.kernel), rk, b)
    np.testing.assert_allclose(seq, ref_seq, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(h, ref_h, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(c, ref_c, rtol=1e-5, atol=1e-5)
    last = _np(layers.LSTM(6)(x))
    assert last.shape == (3, 6)
    # initial_state, and go_backwards (the sequence comes out in processing order)
    h0, c0 = rng.normal(size=(2, 3, 6))
    out = _np(lstm(x, initial_state=[h0.astype(np.float32), c0.astype(np.float32)])[0])
    np.testing.assert_allclose(out, _lstm_ref(x, _np(cell.kernel), rk, b, h0, c0)[0], rtol=1e-5, atol=1e-5)
    back = layers.LSTM(6, return_sequences=True, go_backwards=True)
    y = _np(back(x))
    ref = _lstm_ref(x[:, ::-1].astype(np.float64), _np(back.cell.kernel), _np(back.cell.recurrent_kernel),
                    _np(back.cell.bias))[0]
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5)


def test_gru_keras_gate_order_and_bias_rows():
    rng = np.random.default_rng(9)
    x = rng.normal(size=(3, 5, 4)).astype(np.float32)
    gru = layers.GRU(6, return_sequences=True)
    gru(x)
    cell = gru.cell
    assert [w.shape for w in gru.weights] == [(4, 18), (6, 18), (2, 18)]
    cell.bias.data[...] = rng.normal(size=(2, 18)).astype(np.float32)     # non-zero biases exercise both rows
    ref_seq, _ = _gru_ref(x.astype(np.float64), _np(cell.kernel), _np(cell.recurrent_kernel), _np(cell.bias))
    np.testing.assert_allclose(_np(gru(x)), ref_seq, rtol=1e-5, atol=1e-5)
    with pytest.raises(NotImplementedError, match="reset_after"):
        layers.GRU(4, reset_after=False)


def test_simple_rnn():
    rng = np.random.default_rng(10)
    x = rng.normal(size=(2, 4, 3)).astype(np.float32)
    rnn = layers.SimpleRNN(5)
    y = _np(rnn(x))
    k, rk, b = (_np(w) for w in rnn.weights)
    h = np.zeros((2, 5))
    for s in range(4):
        h = np.tanh(x[:, s] @ k + h @ rk + b)
    np.testing.assert_allclose(y, h, rtol=1e-5, atol=1e-5)


def test_lstm_dropout_and_unsupported_options():
    x = np.ones((4, 3, 5), np.float32)
    lstm = layers.LSTM(3, dropout=0.5)
    a, b = _np(lstm(x)), _np(lstm(x))
    np.testing.assert_array_equal(a, b)                 # no dropout in inference
    assert not np.allclose(_np(lstm(x, training=True)), a)
    with pytest.raises(NotImplementedError, match="recurrent_dropout"):
        layers.LSTM(3, recurrent_dropout=0.2)
    with pytest.raises(NotImplementedError, match="activation"):
        layers.LSTM(3, activation="relu")


def test_time_distributed():
    rng = np.random.default_rng(11)
    x = rng.normal(size=(2, 3, 4)).astype(np.float32)
    td = layers.TimeDistributed(layers.Dense(5))
    y = _np(td(x))
    np.testing.assert_allclose(y, x @ _np(td.layer.kernel), rtol=1e-5, atol=1e-6)
    imgs = rng.normal(size=(2, 3, 6, 6, 2)).astype(np.float32)
    tdc = layers.TimeDistributed(layers.Conv2D(4, 3))
    z = _np(tdc(imgs))
    assert z.shape == (2, 3, 4, 4, 4)
    np.testing.assert_allclose(z[:, 1], _np(tdc.layer(imgs[:, 1])), rtol=1e-5, atol=1e-6)


# --- gradients and devices ---------------------------------------------------------------------------------
def test_gradients_of_a_keras_model_are_exact():
    model = keras.Sequential([keras.Input((5, 5, 2)), layers.Conv2D(3, 2, padding="same", activation="tanh"),
                              layers.AveragePooling2D(padding="same"), layers.Flatten(), layers.Dense(2)])
    model.to(dtype="float64")
    x = dc.tensor(np.random.default_rng(12).normal(size=(2, 5, 5, 2)), dtype=dc.float64, requires_grad=True)
    assert dc.gradcheck(lambda t: model(t), (x,))
    seq = keras.Sequential([keras.Input((4, 3)), layers.GRU(3, return_sequences=True), layers.LSTM(2)])
    seq.to(dtype="float64")
    s = dc.tensor(np.random.default_rng(13).normal(size=(2, 4, 3)), dtype=dc.float64, requires_grad=True)
    assert dc.gradcheck(lambda t: seq(t), (s,))


def test_layers_run_on_every_device(device):
    rng = np.random.default_rng(14)
    x = rng.normal(size=(4, 8, 8, 2)).astype(np.float32)
    seq = rng.normal(size=(4, 5, 3)).astype(np.float32)
    rnn = keras.Sequential([keras.Input((5, 3)), layers.GRU(4, return_sequences=True), layers.LSTM(3),
                            layers.RepeatVector(2), layers.SimpleRNN(2, return_sequences=True),
                            layers.TimeDistributed(layers.Dense(3, activation="softmax"))])
    img = keras.Sequential([keras.Input((8, 8, 2)), layers.Conv2D(3, 3, padding="same"),
                            layers.BatchNormalization(), layers.MaxPooling2D(padding="same"),
                            layers.GlobalAveragePooling2D(), layers.Dense(2)])
    ref_img, ref_rnn = img.predict(x, verbose=0), rnn.predict(seq, verbose=0)
    img.to(device)
    rnn.to(device)
    np.testing.assert_allclose(img.predict(x, verbose=0), ref_img, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(rnn.predict(seq, verbose=0), ref_rnn, rtol=1e-4, atol=1e-5)
    img.compile("sgd", "mse")
    hist = img.fit(x, np.zeros((4, 2), np.float32), batch_size=2, epochs=1, verbose=0)
    assert np.isfinite(hist.history["loss"][0])
    assert img.get_layer(index=1).moving_mean.device == dc.device(device)
