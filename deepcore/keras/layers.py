"""``keras.layers``: Keras 3's layers (arguments, defaults, initializers, weight names and shapes) on deepcore ops.

Weights keep Keras's layouts so files move between Keras and deepcore unchanged: ``Dense.kernel (in, out)``,
``Conv2D.kernel (kh, kw, in, out)``, recurrent layers hold a ``cell`` with ``kernel (in, G*units)``,
``recurrent_kernel (units, G*units)`` and ``bias`` (gates i, f, c, o for LSTM; z, r, h for GRU, whose bias
is ``(2, 3*units)`` with ``reset_after=True``). The computation uses deepcore's fused ops (``linear``,
``conv2d``, the fused recurrent op), re-laying out the (small) weights, never the activations, where possible.

Images are channels-last unless ``data_format="channels_first"``; a spatial layer whose ``data_format`` is not
given follows the data format of the image layer before it (so Keras 1 code whose convolutions are
channels-first stays channels-first), else ``keras.backend.image_data_format()``. The Keras 1 spellings the
older material uses are accepted: ``Convolution2D(32, 3, 3, border_mode="valid", subsample=(1, 1),
dim_ordering="th")`` (Keras 1's default ordering "th", i.e. channels-first, unless ``dim_ordering="tf"`` or a
data format was set globally), ``Dense(output_dim, init=...)``, ``LSTM(output_dim, ...)``, ``input_dim=``.
"""
from __future__ import annotations

import math
import warnings

import numpy as np

from ..autograd import no_grad
from ..ops import conv as _conv
from ..ops import dropout as _dropout
from ..ops import embedding as _embedding
from ..ops import norm as _norm
from ..ops import pool as _pool
from ..ops.linalg import linear as _linear
from ..ops.rnn import recurrent as _recurrent
from ..ops.shape import broadcast_to, cat, pad, permute, reshape, transpose, unsqueeze
from ..tensor import Tensor
from . import activations as _act
from . import backend as K
from . import regularizers as _reg
from ._ops import remember_logits, scale
from .engine import Input, InputLayer, KerasTensor, Layer, _cf_to_cl, _cl_to_cf, as_tensor, flatten, map_structure  # noqa: F401

# activations that act elementwise, so they may run on a value held in the (N, C, H, W) order
_ELEMENTWISE = {_act.linear, _act.relu, _act.relu6, _act.leaky_relu, _act.sigmoid, _act.hard_sigmoid, _act.tanh,
                _act.elu, _act.selu, _act.softplus, _act.softsign, _act.exponential, _act.silu, _act.mish, _act.gelu}


def _legacy(kwargs, mapping):
    """Move Keras 1 keyword names to their Keras 3 names."""
    for old, new in mapping.items():
        if old in kwargs:
            value = kwargs.pop(old)
            if new is not None:
                kwargs.setdefault(new, value)
    return kwargs


def _tuple(value, n, name, who):
    if isinstance(value, int):
        return (value,) * n
    value = tuple(value)
    if len(value) != n or not all(isinstance(v, (int, np.integer)) for v in value):
        raise ValueError(f"{who}: {name} must be an int or a tuple of {n} ints, got {value!r}")
    return tuple(int(v) for v in value)


def _padding_arg(padding, who):
    padding = str(padding).lower()
    if padding not in ("valid", "same"):
        raise ValueError(f"{who}: padding must be 'valid' or 'same', got {padding!r}")
    return padding


def _out_len(n, k, s, d, padding):
    if n is None:
        return None
    if padding == "same":
        return -(-n // s)
    ek = (k - 1) * d + 1
    out = (n - ek) // s + 1
    return out


def _same_pads(n, k, s, d):
    """(before, after) padding of Keras's "same": output ceil(n / s), the extra pixel after."""
    ek = (k - 1) * d + 1
    total = max((-(-n // s) - 1) * s + ek - n, 0)
    return total // 2, total - total // 2


def _check_rank(layer, shape, rank, what):
    if len(shape) != rank:
        raise ValueError(f'Input 0 of layer "{layer.name}" is incompatible with the layer: expected ndim={rank} '
                         f"({what}), found ndim={len(shape)}. Full shape received: {tuple(shape)}")


# --- core layers ------------------------------------------------------------------------------------------
class Dense(Layer):
    """``activation(inputs @ kernel + bias)`` on the last axis; ``kernel (in, units)``, ``bias (units,)``."""

    def __init__(self, units=None, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, lora_rank=None, **kwargs):
        _legacy(kwargs, {"init": "kernel_initializer", "W_regularizer": "kernel_regularizer",
                         "b_regularizer": "bias_regularizer", "bias": "use_bias", "W_constraint": None,
                         "b_constraint": None})
        if units is None:
            units = kwargs.pop("output_dim", None)
        kernel_initializer = kwargs.pop("kernel_initializer", kernel_initializer)
        kernel_regularizer = kwargs.pop("kernel_regularizer", kernel_regularizer)
        bias_regularizer = kwargs.pop("bias_regularizer", bias_regularizer)
        use_bias = kwargs.pop("use_bias", use_bias)
        if lora_rank:
            raise NotImplementedError("Dense: lora_rank is not supported")
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        if isinstance(units, bool) or not isinstance(units, (int, np.integer)) or units <= 0:
            raise ValueError(f"Dense: units must be a positive integer, got {units!r}")
        self.units = int(units)
        self.activation = _act.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer, self.bias_initializer = kernel_initializer, bias_initializer
        self.kernel_regularizer = _reg.get(kernel_regularizer)
        self.bias_regularizer = _reg.get(bias_regularizer)

    def build(self, input_shape):
        if input_shape[-1] is None:
            raise ValueError(f"Dense {self.name!r}: the last axis of the input must be known, got {input_shape}")
        self.kernel = self.add_weight((input_shape[-1], self.units), self.kernel_initializer,
                                      regularizer=self.kernel_regularizer, name="kernel")
        self.bias = self.add_weight((self.units,), self.bias_initializer, regularizer=self.bias_regularizer,
                                    name="bias") if self.use_bias else None

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def call(self, inputs):
        if inputs.shape[-1] != self.kernel.shape[0]:
            raise ValueError(f'Input 0 of layer "{self.name}" is incompatible with the layer: expected axis -1 of '
                             f"input shape to have value {self.kernel.shape[0]}, but received input with shape "
                             f"{tuple(inputs.shape)}")
        return _activate(self.activation, _linear(inputs, transpose(self.kernel), self.bias))


def _activate(activation, x):
    """``activation(x)``; a softmax or sigmoid output remembers ``x`` as its logits (see ``_ops``)."""
    y = activation(x)
    if activation is _act.softmax:
        remember_logits(y, x, "softmax")
    elif activation is _act.sigmoid:
        remember_logits(y, x, "sigmoid")
    return y


class Activation(Layer):
    """Applies an activation function (``"relu"``, ``"softmax"``, ... or a callable)."""

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = _act.get(activation)

    def compute_output_shape(self, input_shape):
        return input_shape

    def call(self, inputs):
        return _activate(self.activation, inputs)

    def _call_layout(self, x, cf, training):
        if cf and self.activation in _ELEMENTWISE:
            return self.activation(x), True
        return super()._call_layout(x, cf, training)


class ReLU(Activation):
    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        super().__init__(lambda x: _act.relu(x, negative_slope, max_value, threshold), **kwargs)


class LeakyReLU(Activation):
    def __init__(self, negative_slope=0.3, **kwargs):
        negative_slope = kwargs.pop("alpha", negative_slope)
        super().__init__(lambda x: _act.leaky_relu(x, negative_slope), **kwargs)


class Softmax(Activation):
    def __init__(self, axis=-1, **kwargs):
        super().__init__(lambda x: _act.softmax(x, axis), **kwargs)


class Dropout(Layer):
    """Zeroes inputs with probability ``rate`` in training and scales the rest by ``1 / (1 - rate)``."""

    def __init__(self, rate=None, noise_shape=None, seed=None, **kwargs):
        if rate is None:
            rate = kwargs.pop("p", None)
        super().__init__(**kwargs)
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate <= 1:
            raise ValueError(f"Dropout: rate must be a float in [0, 1], got {rate!r}")
        self.rate = float(rate)
        self.noise_shape = None if noise_shape is None else tuple(noise_shape)
        self.seed = seed

    def compute_output_shape(self, input_shape):
        return input_shape

    def call(self, inputs, training=None):
        if not training or self.rate == 0:
            return inputs
        if self.noise_shape is None:
            return _dropout.dropout(inputs, self.rate, training=True)
        shape = tuple(inputs.shape[i] if d is None else d for i, d in enumerate(self.noise_shape))
        xp = inputs.device.xp
        mask = _dropout.dropout(Tensor._make(xp.ones(shape, dtype=inputs.dtype)), self.rate, training=True)
        return inputs * mask

    def _call_layout(self, x, cf, training):
        if cf and self.noise_shape is None:
            return self._eager_call(x, training=training), True
        return super()._call_layout(x, cf, training)


class Flatten(Layer):
    """``(N, d1, d2, ...)`` -> ``(N, d1 * d2 * ...)`` (channels-last order)."""

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = data_format

    def compute_output_shape(self, input_shape):
        rest = input_shape[1:]
        return (input_shape[0], None if any(d is None for d in rest) else int(np.prod(rest, dtype=np.int64)))

    def call(self, inputs):
        if self.data_format == "channels_first" and inputs.ndim > 2:
            inputs = permute(inputs, (0,) + tuple(range(2, inputs.ndim)) + (1,))
        return reshape(inputs, (inputs.shape[0], -1))


class Reshape(Layer):
    """Reshape each sample to ``target_shape`` (one entry may be -1)."""

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        self.target_shape = tuple(int(d) for d in target_shape)
        if sum(d == -1 for d in self.target_shape) > 1:
            raise ValueError(f"Reshape: at most one -1 in target_shape, got {self.target_shape}")

    def compute_output_shape(self, input_shape):
        known = input_shape[1:]
        if -1 not in self.target_shape:
            if None not in known and int(np.prod(known)) != int(np.prod(self.target_shape)):
                raise ValueError(f"Reshape {self.name!r}: cannot reshape samples of shape {tuple(known)} to "
                                 f"{self.target_shape}")
            return (input_shape[0],) + self.target_shape
        if None in known:
            return (input_shape[0],) + tuple(None if d == -1 else d for d in self.target_shape)
        rest = int(np.prod([d for d in self.target_shape if d != -1]))
        total = int(np.prod(known))
        if rest == 0 or total % rest:
            raise ValueError(f"Reshape {self.name!r}: cannot reshape samples of shape {tuple(known)} to "
                             f"{self.target_shape}")
        return (input_shape[0],) + tuple(total // rest if d == -1 else d for d in self.target_shape)

    def call(self, inputs):
        return reshape(inputs, (inputs.shape[0],) + self.target_shape)


class Permute(Layer):
    """Permute the non-batch axes; ``dims`` counts from 1, e.g. ``Permute((2, 1))``."""

    def __init__(self, dims, **kwargs):
        super().__init__(**kwargs)
        self.dims = tuple(int(d) for d in dims)
        if sorted(self.dims) != list(range(1, len(self.dims) + 1)):
            raise ValueError(f"Permute: dims must be a permutation of 1..{len(self.dims)}, got {self.dims}")

    def compute_output_shape(self, input_shape):
        return (input_shape[0],) + tuple(input_shape[d] for d in self.dims)

    def call(self, inputs):
        return permute(inputs, (0,) + self.dims)


class RepeatVector(Layer):
    """``(N, features)`` -> ``(N, n, features)``: the input repeated ``n`` times."""

    def __init__(self, n, **kwargs):
        super().__init__(**kwargs)
        self.n = int(n)

    def compute_output_shape(self, input_shape):
        _check_rank(self, input_shape, 2, "(batch, features)")
        return (input_shape[0], self.n, input_shape[1])

    def call(self, inputs):
        if inputs.ndim != 2:
            raise ValueError(f"RepeatVector {self.name!r}: expected input of shape (batch, features), got "
                             f"{tuple(inputs.shape)}")
        return broadcast_to(unsqueeze(inputs, 1), (inputs.shape[0], self.n, inputs.shape[1]))


class Lambda(Layer):
    """Wraps a function of the input tensor(s) as a layer."""

    def __init__(self, function, output_shape=None, mask=None, arguments=None, **kwargs):
        super().__init__(**kwargs)
        self.function = function
        self._output_shape = output_shape
        self.arguments = dict(arguments or {})

    def compute_output_shape(self, input_shape):
        if self._output_shape is None:
            return self._traced_output_shape(input_shape)
        if callable(self._output_shape):
            return self._output_shape(input_shape)
        return (flatten(input_shape)[0] if isinstance(input_shape, list) else input_shape[0],) + \
            tuple(self._output_shape)

    def call(self, inputs):
        return self.function(inputs, **self.arguments)


# --- images ----------------------------------------------------------------------------------------------
class _ImageLayer(Layer):
    """A spatial layer with a ``data_format`` resolved at build (see the module docstring)."""

    def __init__(self, data_format=None, **kwargs):
        dim_ordering = kwargs.pop("dim_ordering", None)
        if dim_ordering is not None and dim_ordering != "default":
            if dim_ordering not in ("th", "tf"):
                raise ValueError(f"dim_ordering must be 'th' or 'tf', got {dim_ordering!r}")
            data_format = data_format or ("channels_first" if dim_ordering == "th" else "channels_last")
        super().__init__(**kwargs)
        if data_format is not None and data_format not in ("channels_last", "channels_first"):
            raise ValueError(f"{type(self).__name__}: data_format must be 'channels_last' or 'channels_first', got "
                             f"{data_format!r}")
        self._data_format_arg = data_format
        self.data_format = data_format

    def _resolve_from_inputs(self, inputs):
        if self._data_format_arg is None:
            hint = getattr(flatten(inputs)[0], "_image_format", None)
            self.data_format = hint or K.image_data_format()

    def _resolve(self):
        if self.data_format is None:
            self.data_format = K.image_data_format()

    def _output_image_format(self, inputs):
        return self.data_format

    @property
    def _cl(self):
        return self.data_format == "channels_last"

    def _spatial(self, shape):
        """(channels, H, W) of a logical 4-D shape."""
        return (shape[3], shape[1], shape[2]) if self._cl else (shape[1], shape[2], shape[3])

    def _logical(self, shape_nchw):
        n, c, h, w = shape_nchw
        return (n, h, w, c) if self._cl else (n, c, h, w)

    # The computation is written once for (N, C, H, W); channels-last calls wrap it.
    def _forward_cf(self, x, training):
        raise NotImplementedError

    def call(self, inputs, training=None):
        self._resolve()
        if inputs.ndim != 4:
            raise ValueError(f'Input 0 of layer "{self.name}" is incompatible with the layer: expected ndim=4, '
                             f"found ndim={inputs.ndim}. Full shape received: {tuple(inputs.shape)}")
        if not self._cl:
            return self._forward_cf(inputs, training)
        y = self._forward_cf(_cl_to_cf(inputs), training)
        return _cf_to_cl(y) if y.ndim == 4 else y

    def _call_layout(self, x, cf, training):
        self._resolve()
        if not self._cl or x.ndim != 4:
            return super()._call_layout(x, cf, training)
        if not self.built:
            self._maybe_build((None,) + ((x.shape[2], x.shape[3], x.shape[1]) if cf else tuple(x.shape[1:])),
                              x.device)
        y = self._forward_cf(x if cf else _cl_to_cf(x), training)
        return y, y.ndim == 4


class Conv2D(_ImageLayer):
    """2-D convolution: ``kernel (kh, kw, in/groups, filters)``, ``bias (filters,)``; ``padding`` "valid" or
    "same" (Keras's: output ``ceil(size / stride)``, the odd extra pixel padded after)."""

    def __init__(self, filters, kernel_size=None, strides=(1, 1), padding="valid", data_format=None,
                 dilation_rate=(1, 1), groups=1, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None, lora_rank=None, **kwargs):
        legacy = kwargs.pop("_legacy", False)
        _legacy(kwargs, {"border_mode": "padding", "subsample": "strides", "init": "kernel_initializer",
                         "W_regularizer": "kernel_regularizer", "b_regularizer": "bias_regularizer",
                         "bias": "use_bias", "W_constraint": None, "b_constraint": None, "atrous_rate": "dilation_rate"})
        padding = kwargs.pop("padding", padding)
        strides = kwargs.pop("strides", strides)
        kernel_initializer = kwargs.pop("kernel_initializer", kernel_initializer)
        kernel_regularizer = kwargs.pop("kernel_regularizer", kernel_regularizer)
        bias_regularizer = kwargs.pop("bias_regularizer", bias_regularizer)
        use_bias = kwargs.pop("use_bias", use_bias)
        dilation_rate = kwargs.pop("dilation_rate", dilation_rate)
        if legacy and data_format is None and kwargs.get("dim_ordering") in (None, "default") \
                and not K.image_format_was_set():
            data_format = "channels_first"
            warnings.warn("Convolution2D(nb_filter, nb_row, nb_col, ...) is Keras 1's spelling; it uses Keras 1's "
                          "default dim_ordering='th' (channels-first images, input_shape=(channels, rows, "
                          "cols)). Pass dim_ordering='tf' or data_format='channels_last' for channels-last, or "
                          "write Conv2D(filters, kernel_size).", UserWarning, stacklevel=3)
        super().__init__(data_format=data_format, activity_regularizer=activity_regularizer, **kwargs)
        if lora_rank:
            raise NotImplementedError("Conv2D: lora_rank is not supported")
        if kernel_size is None:
            raise ValueError("Conv2D: kernel_size is required, e.g. Conv2D(32, kernel_size=(3, 3))")
        self.filters = int(filters)
        self.kernel_size = _tuple(kernel_size, 2, "kernel_size", "Conv2D")
        self.strides = _tuple(strides, 2, "strides", "Conv2D")
        self.dilation_rate = _tuple(dilation_rate, 2, "dilation_rate", "Conv2D")
        self.padding = _padding_arg(padding, "Conv2D")
        self.groups = int(groups)
        if self.filters % self.groups:
            raise ValueError(f"Conv2D: filters ({self.filters}) must be divisible by groups ({self.groups})")
        self.activation = _act.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer, self.bias_initializer = kernel_initializer, bias_initializer
        self.kernel_regularizer = _reg.get(kernel_regularizer)
        self.bias_regularizer = _reg.get(bias_regularizer)

    def build(self, input_shape):
        self._resolve()
        _check_rank(self, input_shape, 4, "(batch, rows, cols, channels)" if self._cl else
                    "(batch, channels, rows, cols)")
        c = self._spatial(input_shape)[0]
        if c is None:
            raise ValueError(f"Conv2D {self.name!r}: the channel axis of the input must be known, got {input_shape}")
        if c % self.groups:
            raise ValueError(f"Conv2D {self.name!r}: {c} input channels are not divisible by groups={self.groups}")
        self.kernel = self.add_weight(self.kernel_size + (c // self.groups, self.filters), self.kernel_initializer,
                                      regularizer=self.kernel_regularizer, name="kernel")
        self.bias = self.add_weight((self.filters,), self.bias_initializer, regularizer=self.bias_regularizer,
                                    name="bias") if self.use_bias else None

    def compute_output_shape(self, input_shape):
        self._resolve()
        _check_rank(self, input_shape, 4, "images")
        _, h, w = self._spatial(input_shape)
        oh = _out_len(h, self.kernel_size[0], self.strides[0], self.dilation_rate[0], self.padding)
        ow = _out_len(w, self.kernel_size[1], self.strides[1], self.dilation_rate[1], self.padding)
        if (oh is not None and oh <= 0) or (ow is not None and ow <= 0):
            hint = ""
            if self._cl and input_shape[-1] is not None and input_shape[1] is not None and \
                    input_shape[1] <= 4 < input_shape[-1]:
                hint = (" The input looks channels-first ((channels, rows, cols)); pass data_format="
                        "'channels_first' (or dim_ordering='th'), or call "
                        "keras.backend.set_image_data_format('channels_first').")
            raise ValueError(f"Conv2D {self.name!r}: a {self.kernel_size} kernel does not fit the input of shape "
                             f"{tuple(input_shape)} ({self.data_format}): the output would have size "
                             f"{(oh, ow)}.{hint}")
        return self._logical((input_shape[0], self.filters, oh, ow))

    def _elementwise(self):
        return self.activation in _ELEMENTWISE

    def call(self, inputs, training=None):
        y = super().call(inputs, training)
        if not self._elementwise():         # an axis-dependent activation runs on the logical output
            y = self.activation(y)
        return y

    def _call_layout(self, x, cf, training):
        self._resolve()
        if self._elementwise() or not self._cl:
            return super()._call_layout(x, cf, training)
        y, y_cf = super()._call_layout(x, cf, training)
        return self.activation(_cf_to_cl(y) if y_cf else y), False

    def _forward_cf(self, x, training):
        c = x.shape[1]
        if c != self.kernel.shape[2] * self.groups:
            raise ValueError(f'Input 0 of layer "{self.name}" is incompatible with the layer: expected '
                             f"{self.kernel.shape[2] * self.groups} channels, got input with {c} channels "
                             f"(data_format={self.data_format!r})")
        w = permute(self.kernel, (3, 2, 0, 1))
        pads = (0, 0)
        if self.padding == "same":
            (t, b), (left, r) = (_same_pads(x.shape[2 + i], self.kernel_size[i], self.strides[i],
                                            self.dilation_rate[i]) for i in range(2))
            if t == b and left == r:
                pads = (t, left)
            else:
                x = pad(x, (left, r, t, b))
        y = _conv.conv2d(x, w, self.bias, self.strides, pads, self.dilation_rate, self.groups)
        return self.activation(y) if self._elementwise() else y


def Convolution2D(filters=None, kernel_size=None, *args, **kwargs):
    """Keras 1 spelling ``Convolution2D(nb_filter, nb_row, nb_col, border_mode=..., subsample=...)`` or the
    Keras 2 alias ``Convolution2D(filters, kernel_size)``; returns a ``Conv2D``."""
    if filters is None:
        filters = kwargs.pop("nb_filter", None)
    legacy = False
    if args and isinstance(kernel_size, int) and isinstance(args[0], int):
        kernel_size, args = (kernel_size, args[0]), args[1:]
        legacy = True
    elif "nb_row" in kwargs or "nb_col" in kwargs:
        kernel_size = (kwargs.pop("nb_row", kernel_size), kwargs.pop("nb_col", None))
        legacy = True
    if args:
        raise TypeError(f"Convolution2D: unexpected positional arguments {args!r}")
    legacy = legacy or any(k in kwargs for k in ("border_mode", "subsample", "dim_ordering", "init"))
    return Conv2D(filters, kernel_size, _legacy=legacy, **kwargs)


Conv2d = Convolution2D


class _Pool2D(_ImageLayer):
    _mode = "max"

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None, **kwargs):
        _legacy(kwargs, {"border_mode": "padding"})
        padding = kwargs.pop("padding", padding)
        super().__init__(data_format=data_format, **kwargs)
        self.pool_size = _tuple(pool_size, 2, "pool_size", type(self).__name__)
        self.strides = self.pool_size if strides is None else _tuple(strides, 2, "strides", type(self).__name__)
        self.padding = _padding_arg(padding, type(self).__name__)

    def compute_output_shape(self, input_shape):
        self._resolve()
        _check_rank(self, input_shape, 4, "images")
        c, h, w = self._spatial(input_shape)
        oh = _out_len(h, self.pool_size[0], self.strides[0], 1, self.padding)
        ow = _out_len(w, self.pool_size[1], self.strides[1], 1, self.padding)
        if (oh is not None and oh <= 0) or (ow is not None and ow <= 0):
            raise ValueError(f"{type(self).__name__} {self.name!r}: a {self.pool_size} window does not fit the input "
                             f"of shape {tuple(input_shape)} ({self.data_format}): negative or zero output size "
                             f"{(oh, ow)}")
        return self._logical((input_shape[0], c, oh, ow))

    def _forward_cf(self, x, training):
        if self.padding == "same":
            (t, b), (left, r) = (_same_pads(x.shape[2 + i], self.pool_size[i], self.strides[i], 1) for i in range(2))
            if t or b or left or r:
                return self._padded(x, (left, r, t, b))
        if self._mode == "max":
            return _pool.max_pool2d(x, self.pool_size, self.strides, 0)
        return _pool.avg_pool2d(x, self.pool_size, self.strides, 0)

    def _padded(self, x, pads):
        if self._mode == "max":
            return _pool.max_pool2d(pad(x, pads, value=-math.inf), self.pool_size, self.strides, 0)
        xp = x.device.xp
        with no_grad():      # the number of real (not padded) inputs under each window
            ones = Tensor._make(xp.ones((1, 1) + tuple(x.shape[2:]), dtype=x.dtype))
            counts = _pool.avg_pool2d(pad(ones, pads), self.pool_size, self.strides, 0).data
        return _pool.avg_pool2d(pad(x, pads), self.pool_size, self.strides, 0) / Tensor._make(counts)


class MaxPooling2D(_Pool2D):
    """Maximum over ``pool_size`` windows (stride ``pool_size`` unless given)."""
    _mode = "max"


class AveragePooling2D(_Pool2D):
    """Mean over ``pool_size`` windows; with ``padding="same"`` the padding is left out of the mean."""
    _mode = "avg"


MaxPool2D = MaxPooling2D
AvgPool2D = AveragePooling2D


class _GlobalPool2D(_ImageLayer):
    _mode = "avg"

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(data_format=data_format, **kwargs)
        self.keepdims = bool(keepdims)

    def compute_output_shape(self, input_shape):
        self._resolve()
        _check_rank(self, input_shape, 4, "images")
        c = self._spatial(input_shape)[0]
        if self.keepdims:
            return self._logical((input_shape[0], c, 1, 1))
        return (input_shape[0], c)

    def _forward_cf(self, x, training):
        reduce = x.mean if self._mode == "avg" else x.amax   # amax: ties share the gradient, as in Keras
        return reduce(axis=(2, 3), keepdims=self.keepdims)


class GlobalAveragePooling2D(_GlobalPool2D):
    """Mean over the spatial axes: ``(N, H, W, C)`` -> ``(N, C)``."""
    _mode = "avg"


class GlobalMaxPooling2D(_GlobalPool2D):
    """Maximum over the spatial axes: ``(N, H, W, C)`` -> ``(N, C)``."""
    _mode = "max"


GlobalAvgPool2D = GlobalAveragePooling2D
GlobalMaxPool2D = GlobalMaxPooling2D


class ZeroPadding2D(_ImageLayer):
    """Pads rows and columns with zeros: ``padding`` int, (rows, cols) or ((top, bottom), (left, right))."""

    def __init__(self, padding=(1, 1), data_format=None, **kwargs):
        super().__init__(data_format=data_format, **kwargs)
        if isinstance(padding, int):
            padding = ((padding, padding), (padding, padding))
        elif all(isinstance(p, int) for p in padding):
            padding = ((padding[0], padding[0]), (padding[1], padding[1]))
        self.padding = tuple(tuple(int(v) for v in p) for p in padding)

    def compute_output_shape(self, input_shape):
        self._resolve()
        c, h, w = self._spatial(input_shape)
        (t, b), (left, r) = self.padding
        return self._logical((input_shape[0], c, None if h is None else h + t + b, None if w is None else w + left + r))

    def _forward_cf(self, x, training):
        (t, b), (left, r) = self.padding
        return pad(x, (left, r, t, b))


class UpSampling2D(_ImageLayer):
    """Repeats rows and columns ``size`` times (nearest neighbour)."""

    def __init__(self, size=(2, 2), data_format=None, interpolation="nearest", **kwargs):
        super().__init__(data_format=data_format, **kwargs)
        if interpolation != "nearest":
            raise NotImplementedError("UpSampling2D: only interpolation='nearest' is supported")
        self.size = _tuple(size, 2, "size", "UpSampling2D")

    def compute_output_shape(self, input_shape):
        self._resolve()
        c, h, w = self._spatial(input_shape)
        return self._logical((input_shape[0], c, None if h is None else h * self.size[0],
                              None if w is None else w * self.size[1]))

    def _forward_cf(self, x, training):
        n, c, h, w = x.shape
        sh, sw = self.size
        y = broadcast_to(reshape(x, (n, c, h, 1, w, 1)), (n, c, h, sh, w, sw))
        return reshape(y, (n, c, h * sh, w * sw))


# --- normalisation ----------------------------------------------------------------------------------------
class BatchNormalization(Layer):
    """Normalise over every axis but ``axis`` (default -1, the channels of channels-last images).

    Weights ``gamma``, ``beta`` (trainable), ``moving_mean``, ``moving_variance`` (non-trainable). Training
    uses the batch statistics and updates ``moving = moving * momentum + batch * (1 - momentum)`` with the
    biased batch variance, as Keras does; inference (and a layer with ``trainable=False``) uses the moving ones.
    """

    def __init__(self, axis=-1, momentum=0.99, epsilon=0.001, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", moving_mean_initializer="zeros", moving_variance_initializer="ones",
                 beta_regularizer=None, gamma_regularizer=None, beta_constraint=None, gamma_constraint=None,
                 synchronized=False, **kwargs):
        _legacy(kwargs, {"mode": None})
        super().__init__(**kwargs)
        self.axis = axis if isinstance(axis, int) else tuple(axis)
        if not isinstance(self.axis, int):
            raise NotImplementedError("BatchNormalization: a single axis is supported")
        self.momentum, self.epsilon = float(momentum), float(epsilon)
        self.center, self.scale = bool(center), bool(scale)
        self._inits = (gamma_initializer, beta_initializer, moving_mean_initializer, moving_variance_initializer)
        self._regs = (_reg.get(gamma_regularizer), _reg.get(beta_regularizer))

    def build(self, input_shape):
        axis = self.axis % len(input_shape)
        c = input_shape[axis]
        if c is None:
            raise ValueError(f"BatchNormalization {self.name!r}: axis {self.axis} of the input must be known, got "
                             f"{input_shape}")
        self._axis = axis
        g, b, mm, mv = self._inits
        self.gamma = self.add_weight((c,), g, regularizer=self._regs[0], name="gamma") if self.scale else None
        self.beta = self.add_weight((c,), b, regularizer=self._regs[1], name="beta") if self.center else None
        self.moving_mean = self.add_weight((c,), mm, trainable=False, name="moving_mean")
        self.moving_variance = self.add_weight((c,), mv, trainable=False, name="moving_variance")

    def compute_output_shape(self, input_shape):
        return input_shape

    def _normalize(self, x, axis, training):
        """``x`` normalised over every axis but ``axis``; reshapes rather than transposes where it can."""
        nd = x.ndim
        if axis == nd - 1 and nd != 2:                        # (..., C): as (M, C)
            y = self._bn(reshape(x, (-1, x.shape[-1])), training)
            return reshape(y, x.shape)
        if axis == 1:                                         # (N, C, ...): the op's own layout
            return self._bn(x, training)
        order = (0, axis) + tuple(i for i in range(1, nd) if i != axis)
        y = self._bn(permute(x, order), training)
        return permute(y, tuple(int(i) for i in np.argsort(order)))

    def _bn(self, x, training):
        use_batch = bool(training) and self.trainable
        if not use_batch:
            return _norm.batch_norm(x, self.moving_mean, self.moving_variance, self.gamma, self.beta,
                                    training=False, eps=self.epsilon)
        xp = x.device.xp
        c = x.shape[1]
        batch_mean = xp.zeros((c,), dtype=self.moving_mean.dtype)
        batch_var = xp.zeros((c,), dtype=self.moving_variance.dtype)
        # momentum 1 makes the op store this batch's mean and unbiased variance in the scratch arrays
        y = _norm.batch_norm(x, batch_mean, batch_var, self.gamma, self.beta, training=True, momentum=1.0,
                             eps=self.epsilon)
        n = x.numel() // c
        m = self.momentum
        mm, mv = self.moving_mean.data, self.moving_variance.data
        mm *= m
        mm += (1.0 - m) * batch_mean
        mv *= m
        mv += ((1.0 - m) * (n - 1) / n) * batch_var            # Keras updates with the biased variance
        return y

    def call(self, inputs, training=None):
        return self._normalize(inputs, self._axis if hasattr(self, "_axis") else self.axis % inputs.ndim, training)

    def _call_layout(self, x, cf, training):
        if cf and x.ndim == 4 and self._axis == 3:
            if not self.built:
                self._maybe_build((None, x.shape[2], x.shape[3], x.shape[1]), x.device)
            return self._bn(x, training), True
        return super()._call_layout(x, cf, training)


class LayerNormalization(Layer):
    """Normalise each sample over the last axis; ``gamma``, ``beta``; ``epsilon`` 1e-3 as in Keras."""

    def __init__(self, axis=-1, epsilon=0.001, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", **kwargs):
        super().__init__(**kwargs)
        if axis != -1:
            raise NotImplementedError("LayerNormalization: only axis=-1 is supported")
        self.epsilon, self.center, self.scale = float(epsilon), bool(center), bool(scale)
        self._inits = (gamma_initializer, beta_initializer)

    def build(self, input_shape):
        c = input_shape[-1]
        self.gamma = self.add_weight((c,), self._inits[0], name="gamma") if self.scale else None
        self.beta = self.add_weight((c,), self._inits[1], name="beta") if self.center else None

    def compute_output_shape(self, input_shape):
        return input_shape

    def call(self, inputs):
        return _norm.layer_norm(inputs, (inputs.shape[-1],), self.gamma, self.beta, self.epsilon)


# --- embeddings -------------------------------------------------------------------------------------------
class Embedding(Layer):
    """Integer indices ``(N, ...)`` -> vectors ``(N, ..., output_dim)``; ``embeddings (input_dim, output_dim)``
    initialised uniformly in [-0.05, 0.05]."""

    def __init__(self, input_dim, output_dim, embeddings_initializer="uniform", embeddings_regularizer=None,
                 embeddings_constraint=None, mask_zero=False, lora_rank=None, **kwargs):
        _legacy(kwargs, {"init": "embeddings_initializer", "W_regularizer": "embeddings_regularizer",
                         "W_constraint": None, "dropout": None})
        embeddings_initializer = kwargs.pop("embeddings_initializer", embeddings_initializer)
        embeddings_regularizer = kwargs.pop("embeddings_regularizer", embeddings_regularizer)
        super().__init__(**kwargs)
        if mask_zero:
            raise NotImplementedError("Embedding(mask_zero=True): masking is not supported; pad with a token the "
                                      "model can learn to ignore")
        self.input_dim, self.output_dim = int(input_dim), int(output_dim)
        self.embeddings_initializer = embeddings_initializer
        self.embeddings_regularizer = _reg.get(embeddings_regularizer)

    def build(self, input_shape):
        self.embeddings = self.add_weight((self.input_dim, self.output_dim), self.embeddings_initializer,
                                          regularizer=self.embeddings_regularizer, name="embeddings")

    def compute_output_shape(self, input_shape):
        return tuple(input_shape) + (self.output_dim,)

    def call(self, inputs):
        idx = inputs if inputs.dtype.kind in "iu" else inputs.astype("int64")
        return _embedding.embedding(idx, self.embeddings)


# --- recurrent layers -------------------------------------------------------------------------------------
class _Cell(Layer):
    """Weights of one recurrent cell in Keras's layout, and their conversion to the fused op's layout."""

    _gates = 1
    _mode = "tanh"

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal", bias_initializer="zeros",
                 kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0.0, recurrent_dropout=0.0, seed=None,
                 **kwargs):
        super().__init__(**kwargs)
        if isinstance(units, bool) or not isinstance(units, (int, np.integer)) or units <= 0:
            raise ValueError(f"{type(self).__name__}: units must be a positive integer, got {units!r}")
        self.units = int(units)
        self.activation = activation
        self.recurrent_activation = recurrent_activation
        self._check_activations()
        self.use_bias = bool(use_bias)
        self.kernel_initializer, self.recurrent_initializer = kernel_initializer, recurrent_initializer
        self.bias_initializer = bias_initializer
        self._regs = tuple(_reg.get(r) for r in (kernel_regularizer, recurrent_regularizer, bias_regularizer))
        if not 0 <= dropout < 1:
            raise ValueError(f"{type(self).__name__}: dropout must be in [0, 1), got {dropout!r}")
        if recurrent_dropout:
            raise NotImplementedError(f"{type(self).__name__}: recurrent_dropout is not supported (the recurrence "
                                      "runs as one fused op); use dropout= or a Dropout layer")
        self.dropout = float(dropout)
        self.recurrent_dropout = 0.0

    def _check_activations(self):
        act = self.activation if isinstance(self.activation, str) else getattr(self.activation, "__name__", "")
        if act != "tanh":
            raise NotImplementedError(f"{type(self).__name__}: only activation='tanh' is supported, got {act!r}")
        rec = self.recurrent_activation if isinstance(self.recurrent_activation, str) else \
            getattr(self.recurrent_activation, "__name__", "")
        if rec != "sigmoid":
            raise NotImplementedError(f"{type(self).__name__}: only recurrent_activation='sigmoid' is supported, got "
                                      f"{rec!r}")

    @property
    def state_size(self):
        return self.units

    def build(self, input_shape):
        g = self._gates * self.units
        self.kernel = self.add_weight((input_shape[-1], g), self.kernel_initializer, regularizer=self._regs[0],
                                      name="kernel")
        self.recurrent_kernel = self.add_weight((self.units, g), self.recurrent_initializer,
                                                regularizer=self._regs[1], name="recurrent_kernel")
        if self.use_bias:
            self.bias = self.add_weight(self._bias_shape(), self._bias_init(), regularizer=self._regs[2], name="bias")
        else:
            self.bias = None

    def _bias_shape(self):
        return (self._gates * self.units,)

    def _bias_init(self):
        return self.bias_initializer

    def op_weights(self):
        """``(w_ih (G*H, in), w_hh (G*H, H), b_ih, b_hh)`` in the fused op's (PyTorch's) layout."""
        return transpose(self.kernel), transpose(self.recurrent_kernel), self.bias, None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.units)

    def call(self, inputs, states, training=None):
        """One step: ``inputs (N, in)``, ``states`` list -> ``(output, new_states)``."""
        states = list(states) if isinstance(states, (list, tuple)) else [states]
        w_ih, w_hh, b_ih, b_hh = self.op_weights()
        x = reshape(inputs, (1,) + tuple(inputs.shape))
        c0 = states[1] if self._mode == "lstm" else None
        res = _recurrent(x, states[0], w_ih, w_hh, b_ih, b_hh, c0=c0, mode=self._mode)
        new = [res[1]] + ([res[2]] if self._mode == "lstm" else [])
        return res[1], new

    def _eager_call(self, inputs, *args, training=None, **kwargs):
        if not self.built:
            self._maybe_build((None,) + tuple(as_tensor(inputs).shape[1:]), as_tensor(inputs).device)
        return self.call(as_tensor(inputs), *args, **kwargs)


class SimpleRNNCell(_Cell):
    _gates = 1

    def __init__(self, units, activation="tanh", **kwargs):
        super().__init__(units, activation=activation, **kwargs)
        self._mode = "relu" if activation == "relu" else "tanh"

    def _check_activations(self):
        act = self.activation if isinstance(self.activation, str) else getattr(self.activation, "__name__", "")
        if act not in ("tanh", "relu"):
            raise NotImplementedError(f"SimpleRNN: only activation='tanh' or 'relu' is supported, got {act!r}")


class LSTMCell(_Cell):
    _gates = 4
    _mode = "lstm"

    def __init__(self, units, unit_forget_bias=True, **kwargs):
        super().__init__(units, **kwargs)
        self.unit_forget_bias = bool(unit_forget_bias)

    @property
    def state_size(self):
        return [self.units, self.units]

    def _bias_init(self):
        if not self.unit_forget_bias:
            return self.bias_initializer
        from . import initializers
        base = initializers.get(self.bias_initializer)
        h = self.units

        def init(shape, dtype="float32"):
            b = np.asarray(base((h,), dtype), dtype=dtype)
            return np.concatenate([b, np.ones((h,), dtype=dtype), np.asarray(base((2 * h,), dtype), dtype=dtype)])
        return init


class GRUCell(_Cell):
    _gates = 3
    _mode = "gru"

    def __init__(self, units, reset_after=True, **kwargs):
        super().__init__(units, **kwargs)
        if not reset_after:
            raise NotImplementedError("GRU(reset_after=False) (Keras 2's TF1 variant) is not supported; Keras 3's "
                                      "default reset_after=True is")
        self.reset_after = True

    def _bias_shape(self):
        return (2, 3 * self.units)

    def op_weights(self):
        # Keras's gate order (z, r, h) -> the op's (r, z, n); the two bias rows are input and recurrent biases.
        h = self.units

        def reorder(w):
            return cat([w[..., h:2 * h], w[..., :h], w[..., 2 * h:]], axis=-1)

        w_ih = transpose(reorder(self.kernel))
        w_hh = transpose(reorder(self.recurrent_kernel))
        if self.bias is None:
            return w_ih, w_hh, None, None
        return w_ih, w_hh, reorder(self.bias[0]), reorder(self.bias[1])


_RNN_LEGACY = {"output_dim": "units", "init": "kernel_initializer", "inner_init": "recurrent_initializer",
               "inner_activation": "recurrent_activation", "dropout_W": "dropout", "dropout_U": "recurrent_dropout",
               "W_regularizer": "kernel_regularizer", "U_regularizer": "recurrent_regularizer",
               "b_regularizer": "bias_regularizer", "forget_bias_init": None, "consume_less": None}
_CELL_ARGS = ("activation", "recurrent_activation", "use_bias", "kernel_initializer", "recurrent_initializer",
              "bias_initializer", "kernel_regularizer", "recurrent_regularizer", "bias_regularizer",
              "kernel_constraint", "recurrent_constraint", "bias_constraint", "dropout", "recurrent_dropout", "seed",
              "unit_forget_bias", "reset_after")


class RNN(Layer):
    """Runs a cell over a sequence ``(N, T, features)`` with the fused recurrent op.

    ``return_sequences`` gives ``(N, T, units)`` instead of the last output ``(N, units)``; ``return_state``
    appends the final state(s) (``[output, h]``; ``[output, h, c]`` for LSTM); ``initial_state=[...]`` in the
    call sets the starting state; ``go_backwards`` runs from the last step to the first (and returns the
    sequence in that order, as Keras does).
    """

    def __init__(self, cell, return_sequences=False, return_state=False, go_backwards=False, stateful=False,
                 unroll=False, zero_output_for_mask=False, **kwargs):
        kwargs.pop("use_cudnn", None)
        super().__init__(**kwargs)
        if not isinstance(cell, _Cell):
            raise NotImplementedError("RNN: only the built-in cells (SimpleRNNCell, LSTMCell, GRUCell) are supported")
        if stateful:
            raise NotImplementedError(f"{type(self).__name__}(stateful=True) is not supported")
        self.cell = cell
        self.return_sequences, self.return_state = bool(return_sequences), bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.stateful = False

    @property
    def units(self):
        return self.cell.units

    def _sublayers(self):
        return [self.cell]

    def build(self, input_shape):
        if len(input_shape) != 3:
            raise ValueError(f'Input 0 of layer "{self.name}" is incompatible with the layer: expected ndim=3 '
                             f"(batch, timesteps, features), found ndim={len(input_shape)}. Full shape received: "
                             f"{tuple(input_shape)}")
        self.cell._maybe_build((input_shape[0], input_shape[-1]), self._build_device)

    def compute_output_shape(self, input_shape):
        if len(input_shape) != 3:
            self.build(input_shape)
        n, t = input_shape[0], input_shape[1]
        out = (n, t, self.units) if self.return_sequences else (n, self.units)
        if not self.return_state:
            return out
        n_states = 2 if isinstance(self.cell, LSTMCell) else 1
        return [out] + [(n, self.units)] * n_states

    def call(self, inputs, initial_state=None, mask=None, training=None):
        if mask is not None:
            raise NotImplementedError(f"{type(self).__name__}: masks are not supported")
        x = inputs
        if x.ndim != 3:
            raise ValueError(f"{type(self).__name__} {self.name!r}: expected input of shape (batch, timesteps, "
                             f"features), got {tuple(x.shape)}")
        if x.shape[-1] != self.cell.kernel.shape[0]:
            raise ValueError(f'Input 0 of layer "{self.name}" is incompatible with the layer: expected axis -1 of '
                             f"input shape to have value {self.cell.kernel.shape[0]}, but received input with shape "
                             f"{tuple(x.shape)}")
        n = x.shape[0]
        xt = permute(x, (1, 0, 2))
        if training and self.cell.dropout > 0:   # one mask per sequence, the same at every step (as Keras)
            keep = Tensor._make(x.device.xp.ones((1, n, x.shape[2]), dtype=x.dtype))
            xt = xt * _dropout.dropout(keep, self.cell.dropout, training=True)
        lstm = isinstance(self.cell, LSTMCell)
        if initial_state is not None:
            states = list(initial_state) if isinstance(initial_state, (list, tuple)) else [initial_state]
            states = [as_tensor(s) for s in states]
            if len(states) != (2 if lstm else 1):
                raise ValueError(f"{type(self).__name__}: initial_state needs {2 if lstm else 1} tensor(s), got "
                                 f"{len(states)}")
            h0, c0 = states[0], (states[1] if lstm else None)
        else:
            zeros = Tensor._make(x.device.xp.zeros((n, self.units), dtype=x.dtype))
            h0, c0 = zeros, (zeros if lstm else None)
        w_ih, w_hh, b_ih, b_hh = self.cell.op_weights()
        res = _recurrent(xt, h0, w_ih, w_hh, b_ih, b_hh, c0=c0, mode=self.cell._mode, reverse=self.go_backwards)
        ys, h_n = res[0], res[1]
        if self.return_sequences:
            out = permute(ys, (1, 0, 2))
            if self.go_backwards:
                out = out[:, ::-1]
        else:
            out = h_n
        if not self.return_state:
            return out
        return [out, h_n] + ([res[2]] if lstm else [])


def _split_cell_kwargs(kwargs):
    _legacy(kwargs, _RNN_LEGACY)
    return {k: kwargs.pop(k) for k in _CELL_ARGS if k in kwargs}, kwargs


class SimpleRNN(RNN):
    """Fully connected RNN: ``h' = tanh(x @ kernel + h @ recurrent_kernel + bias)``."""

    def __init__(self, units=None, **kwargs):
        units = kwargs.pop("output_dim", units)
        cell_kwargs, kwargs = _split_cell_kwargs(kwargs)
        super().__init__(SimpleRNNCell(units, **cell_kwargs), **kwargs)


class LSTM(RNN):
    """Long short-term memory (Keras 3): gates (i, f, c, o), ``unit_forget_bias`` (forget bias starts at 1)."""

    def __init__(self, units=None, **kwargs):
        units = kwargs.pop("output_dim", units)
        cell_kwargs, kwargs = _split_cell_kwargs(kwargs)
        super().__init__(LSTMCell(units, **cell_kwargs), **kwargs)


class GRU(RNN):
    """Gated recurrent unit (Keras 3, ``reset_after=True``): gates (z, r, h), bias ``(2, 3 * units)``."""

    def __init__(self, units=None, **kwargs):
        units = kwargs.pop("output_dim", units)
        cell_kwargs, kwargs = _split_cell_kwargs(kwargs)
        super().__init__(GRUCell(units, **cell_kwargs), **kwargs)


# --- wrappers ---------------------------------------------------------------------------------------------
class TimeDistributed(Layer):
    """Applies ``layer`` to every time step: ``(N, T, ...)`` -> ``(N, T, ...)``."""

    def __init__(self, layer, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(layer, Layer):
            raise TypeError(f"TimeDistributed: expected a Keras layer, got {type(layer).__name__}")
        self.layer = layer

    def _sublayers(self):
        return [self.layer]

    def build(self, input_shape):
        if len(input_shape) < 3:
            raise ValueError(f"TimeDistributed {self.name!r}: expected input of shape (batch, timesteps, ...), got "
                             f"{tuple(input_shape)}")
        self.layer._maybe_build((None,) + tuple(input_shape[2:]), self._build_device)

    def compute_output_shape(self, input_shape):
        inner = self.layer.compute_output_shape((None,) + tuple(input_shape[2:]))
        return (input_shape[0], input_shape[1]) + tuple(inner[1:])

    def call(self, inputs, training=None):
        n, t = inputs.shape[0], inputs.shape[1]
        if isinstance(self.layer, Dense):          # acts on the last axis already
            return self.layer._eager_call(inputs, training=training)
        y = self.layer._eager_call(reshape(inputs, (n * t,) + tuple(inputs.shape[2:])), training=training)
        return reshape(y, (n, t) + tuple(y.shape[1:]))


# --- merging ----------------------------------------------------------------------------------------------
class _Merge(Layer):
    def compute_output_shape(self, input_shape):
        if not isinstance(input_shape, (list, tuple)) or not input_shape or not isinstance(input_shape[0], tuple):
            raise ValueError(f"{type(self).__name__}: expected a list of inputs")
        out = list(input_shape[0])
        for s in input_shape[1:]:
            if len(s) != len(out):
                raise ValueError(f"{type(self).__name__}: inputs of different ranks {input_shape}")
            for i, d in enumerate(s):
                if out[i] is None or out[i] == 1:
                    out[i] = d
                elif d not in (None, 1, out[i]):
                    raise ValueError(f"{type(self).__name__}: incompatible input shapes {input_shape}")
        return tuple(out)

    def call(self, inputs):
        inputs = list(inputs)
        if len(inputs) < 2 and not isinstance(self, Concatenate):
            raise ValueError(f"{type(self).__name__}: expected at least 2 inputs, got {len(inputs)}")
        return self._merge(inputs)


class Add(_Merge):
    def _merge(self, xs):
        out = xs[0]
        for x in xs[1:]:
            out = out + x
        return out


class Subtract(_Merge):
    def _merge(self, xs):
        if len(xs) != 2:
            raise ValueError("Subtract: expected exactly 2 inputs")
        return xs[0] - xs[1]


class Multiply(_Merge):
    def _merge(self, xs):
        out = xs[0]
        for x in xs[1:]:
            out = out * x
        return out


class Average(_Merge):
    def _merge(self, xs):
        return scale(Add._merge(self, xs), 1.0 / len(xs))


class Maximum(_Merge):
    def _merge(self, xs):
        from ..ops.elementwise import maximum
        out = xs[0]
        for x in xs[1:]:
            out = maximum(out, x)
        return out


class Minimum(_Merge):
    def _merge(self, xs):
        from ..ops.elementwise import minimum
        out = xs[0]
        for x in xs[1:]:
            out = minimum(out, x)
        return out


class Concatenate(_Merge):
    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = int(axis)

    def compute_output_shape(self, input_shape):
        rank = len(input_shape[0])
        ax = self.axis % rank
        out = list(input_shape[0])
        for s in input_shape[1:]:
            if len(s) != rank or any(i != ax and a is not None and b is not None and a != b
                                     for i, (a, b) in enumerate(zip(out, s))):
                raise ValueError(f"Concatenate: inputs of shapes {input_shape} do not match except on axis "
                                 f"{self.axis}")
            out[ax] = None if out[ax] is None or s[ax] is None else out[ax] + s[ax]
        return tuple(out)

    def _merge(self, xs):
        return cat(xs, axis=self.axis)


def add(inputs, **kwargs):
    return Add(**kwargs)(inputs)


def concatenate(inputs, axis=-1, **kwargs):
    return Concatenate(axis=axis, **kwargs)(inputs)


def multiply(inputs, **kwargs):
    return Multiply(**kwargs)(inputs)


def average(inputs, **kwargs):
    return Average(**kwargs)(inputs)


def subtract(inputs, **kwargs):
    return Subtract(**kwargs)(inputs)
