"""``dc.nn.functional`` (F): functional forms of layers, activations and losses, with PyTorch's names."""
from ..ops.activation import (elu, gelu, hardtanh, leaky_relu, log_softmax, prelu, relu, sigmoid, softmax, softplus,
                              softsign, tanh)
from ..ops.conv import conv2d
from ..ops.dropout import dropout
from ..ops.embedding import embedding
from ..ops.linalg import linear
from ..ops.loss import (binary_cross_entropy, binary_cross_entropy_with_logits, cross_entropy, l1_loss, mse_loss,
                        nll_loss)
from ..ops.norm import batch_norm, layer_norm
from ..ops.pool import adaptive_avg_pool2d, avg_pool2d, max_pool2d
from ..ops.shape import pad

__all__ = ["linear", "conv2d", "max_pool2d", "avg_pool2d", "adaptive_avg_pool2d", "dropout", "batch_norm",
           "layer_norm", "embedding", "pad", "relu", "gelu", "leaky_relu", "prelu", "elu", "softplus", "softsign",
           "hardtanh", "sigmoid", "tanh", "softmax", "log_softmax", "mse_loss", "l1_loss", "binary_cross_entropy",
           "binary_cross_entropy_with_logits", "cross_entropy", "nll_loss"]
