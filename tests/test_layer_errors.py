"""Layers fail the same clear way (issue 14, items 8 and 9): an input dtype that differs from the parameters'
is an error naming both dtypes in every layer (as torch, never a silent float64 computation); constructor
arguments of the wrong type are TypeErrors naming the argument; recurrent layers' misuse says what to do."""
import numpy as np
import pytest

import deepcore as dc
from deepcore import nn
from deepcore.errors import DTypeError

LAYERS = [  # (name, layer factory, input shape)
    ("Linear", lambda: nn.Linear(3, 2), (2, 3)),
    ("Linear-lazy", lambda: nn.Linear(None, 2), (2, 3)),
    ("Conv1d", lambda: nn.Conv1d(3, 2, 1), (2, 3, 4)),
    ("Conv2d", lambda: nn.Conv2d(3, 2, 1), (2, 3, 4, 4)),
    ("ConvTranspose2d", lambda: nn.ConvTranspose2d(3, 2, 1), (2, 3, 4, 4)),
    ("BatchNorm1d", lambda: nn.BatchNorm1d(3), (4, 3)),
    ("BatchNorm1d-no-affine", lambda: nn.BatchNorm1d(3, affine=False), (4, 3)),
    ("BatchNorm2d", lambda: nn.BatchNorm2d(3), (2, 3, 2, 2)),
    ("LayerNorm", lambda: nn.LayerNorm(3), (2, 3)),
    ("RNN", lambda: nn.RNN(3, 2), (4, 1, 3)),
    ("LSTM", lambda: nn.LSTM(3, 2), (4, 1, 3)),
    ("GRU", lambda: nn.GRU(3, 2), (4, 1, 3)),
    ("PReLU", lambda: nn.PReLU(), (2, 3)),
]


@pytest.mark.parametrize("make,shape", [(m, s) for _, m, s in LAYERS], ids=[n for n, _, _ in LAYERS])
@pytest.mark.parametrize("layer_dtype,input_dtype", [("float32", "float64"), ("float64", "float32")])
def test_input_dtype_must_match_the_layer(make, shape, layer_dtype, input_dtype, device):
    layer = make().to(device=device, dtype=layer_dtype)
    x = dc.zeros(*shape, dtype=input_dtype, device=device)
    name = type(layer).__name__
    with pytest.raises(DTypeError, match=f"{name}: input dtype {input_dtype} does not match the "
                                         f"(weight|running_mean) dtype {layer_dtype}") as err:
        layer(x)
    assert isinstance(err.value, (TypeError, RuntimeError, ValueError))    # torch raises RuntimeError
    layer(x.to(dtype=layer_dtype))                                       # the suggested fix works


def test_layers_in_float64_take_float64(device):
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.LayerNorm(4), nn.PReLU()).to(device=device,
                                                                                             dtype="float64")
    assert model(dc.zeros(5, 3, dtype="float64", device=device)).dtype == np.float64


@pytest.mark.parametrize("make, match", [
    (lambda: nn.Linear(4, None), "Linear: out_features must be an integer, got None"),
    (lambda: nn.Linear(4, 2.5), "Linear: out_features must be an integer, got 2.5"),
    (lambda: nn.Linear("4", 2), "Linear: in_features must be an integer"),
    (lambda: nn.BatchNorm1d(None), "BatchNorm1d: num_features must be an integer"),
    (lambda: nn.BatchNorm2d(3, momentum="fast"), "BatchNorm2d: momentum must be a number"),
    (lambda: nn.LayerNorm(None), "LayerNorm: normalized_shape must be an int or a sequence"),
    (lambda: nn.LayerNorm((3, 2.0)), "LayerNorm: normalized_shape entry must be an integer"),
    (lambda: nn.Embedding(None, 3), "Embedding: num_embeddings must be an integer"),
    (lambda: nn.Embedding(10, 3.0), "Embedding: embedding_dim must be an integer"),
    (lambda: nn.Dropout("a"), "Dropout: p must be a number"),
    (lambda: nn.LSTM(None, 3), "LSTM: input_size must be an integer"),
    (lambda: nn.GRU(3, 4, num_layers=1.5), "GRU: num_layers must be an integer"),
    (lambda: nn.Flatten(start_dim="1"), "Flatten: start_dim must be an integer"),
])
def test_bad_constructor_argument_types_are_type_errors(make, match):
    with pytest.raises(TypeError, match=match):
        make()


@pytest.mark.parametrize("make, match", [
    (lambda: nn.Linear(4, 0), "out_features must be a positive integer, got 0"),
    (lambda: nn.Linear(-1, 3), "in_features must be a positive integer, got -1"),
    (lambda: nn.BatchNorm1d(3, eps=-1.0), r"eps must be >= 0"),
    (lambda: nn.BatchNorm1d(3, momentum=1.5), r"momentum must be in \[0, 1\]"),
    (lambda: nn.Dropout(1.5), r"p must be in \[0, 1\], got 1.5"),
    (lambda: nn.Embedding(0, 3), "num_embeddings must be a positive integer"),
])
def test_bad_constructor_argument_values_are_value_errors(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_lstm_with_a_one_element_hx_says_what_it_expects():
    m = nn.LSTM(3, 4, num_layers=2)
    x = dc.zeros(5, 2, 3)
    with pytest.raises(TypeError, match=r"expected hx to be a tuple \(h_0, c_0\) of two tensors, each of shape "
                                        r"\(2, 2, 4\), got a tuple of 1 element"):
        m(x, (dc.zeros(2, 2, 4),))
    with pytest.raises(TypeError, match=r"each of shape \(2, 4\), got a Tensor"):
        m(dc.zeros(5, 3), dc.zeros(2, 4))
    out, (h, c) = m(x, (dc.zeros(2, 2, 4), dc.zeros(2, 2, 4)))
    assert h.shape == c.shape == (2, 2, 4)


@pytest.mark.parametrize("rnn, state", [(lambda: nn.LSTM(3, 4), r"\(output, \(h_n, c_n\)\)"),
                                        (lambda: nn.GRU(3, 4), r"\(output, h_n\)")])
def test_recurrent_layer_inside_sequential_says_what_to_do(rnn, state):
    model = nn.Sequential(rnn(), nn.Linear(4, 2))
    name = type(model[0]).__name__
    with pytest.raises(TypeError, match=f"Sequential: layer 0 \\({name}\\) returned {state}, but layer 1 "
                                        r"\(Linear\) takes one tensor.*select the output"):
        model(dc.zeros(5, 2, 3))
    out, _ = nn.Sequential(rnn())(dc.zeros(5, 2, 3))                     # last in a Sequential: returned as is
    assert out.shape == (5, 2, 4)


def test_flatten_accepts_torch_and_deepcore_argument_names():
    x = dc.zeros(2, 3, 4, 5)
    assert nn.Flatten(start_dim=1, end_dim=-1)(x).shape == (2, 60)
    assert nn.Flatten(start_dim=2)(x).shape == (2, 3, 20)
    assert nn.Flatten(0, 1)(x).shape == (6, 4, 5)
    assert nn.Flatten(start_axis=1, end_axis=2)(x).shape == (2, 12, 5)
    f = nn.Flatten(start_dim=2, end_dim=3)
    assert (f.start_dim, f.end_dim, f.start_axis, f.end_axis) == (2, 3, 2, 3)
    assert repr(f) == "Flatten(start_dim=2, end_dim=3)"


def test_embedding_refuses_float_indices_like_the_other_dtype_errors(device):
    emb = nn.Embedding(5, 3).to(device)
    with pytest.raises(DTypeError, match="embedding: indices must be integers .*got dtype float32") as err:
        emb(dc.tensor([0.0, 2.0], device=device))
    assert isinstance(err.value, RuntimeError)                           # torch raises RuntimeError
    assert emb(dc.tensor([0, 2], device=device)).dtype == np.float32     # the output takes the weight's dtype
