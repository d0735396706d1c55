"""``dc.nn.functional`` (F): functional forms of layers, activations and losses, with PyTorch's names."""
from ..ops.activation import (celu, elu, gelu, hardsigmoid, hardswish, hardtanh, leaky_relu, log_softmax, logsigmoid,
                              mish, prelu, relu, relu6, selu, sigmoid, silu, softmax, softmin, softplus, softsign, tanh)
from ..ops.conv import conv1d, conv2d, conv_transpose2d
from ..ops.interpolate import interpolate
from ..ops.normalize import normalize
from ..ops.one_hot import one_hot
from ..ops.dropout import dropout
from ..ops.embedding import embedding
from ..ops.linalg import linear
from ..ops.loss import (binary_cross_entropy, binary_cross_entropy_with_logits, cross_entropy, huber_loss, kl_div,
                        l1_loss, mse_loss, nll_loss, smooth_l1_loss)
from ..ops.norm import batch_norm, layer_norm
from ..ops.pool import adaptive_avg_pool2d, avg_pool1d, avg_pool2d, max_pool1d, max_pool2d
from ..ops.shape import pad

__all__ = ["conv1d", "conv_transpose2d", "max_pool1d", "avg_pool1d", "one_hot", "normalize", "interpolate",
           "linear", "conv2d", "max_pool2d", "avg_pool2d", "adaptive_avg_pool2d", "dropout", "batch_norm",
           "layer_norm", "embedding", "pad", "relu", "gelu", "leaky_relu", "prelu", "elu", "softplus", "softsign",
           "hardtanh", "sigmoid", "tanh", "softmax", "log_softmax", "silu", "selu", "celu", "relu6", "hardswish",
           "hardsigmoid", "mish", "logsigmoid", "softmin", "mse_loss", "l1_loss", "binary_cross_entropy",
           "binary_cross_entropy_with_logits", "cross_entropy", "nll_loss", "smooth_l1_loss", "huber_loss", "kl_div"]
