"""Parameter: a leaf Tensor that a Module registers as trainable when assigned as an attribute."""
import numpy as np

from ..backend.dtypes import default_float
from ..tensor import Tensor, _to_array


class Parameter(Tensor):
    """A trainable tensor; ``data`` may be a Tensor, a NumPy/CuPy array or a (nested) list."""

    def __init__(self, data=None, requires_grad=True):
        if data is None:
            data = np.empty(0, dtype=default_float)
        if isinstance(data, Tensor):
            array = data.data
        elif hasattr(data, "shape") and hasattr(data, "dtype"):
            array = data
        else:
            array = _to_array(data, None, None)
        self.data = array
        self.grad = None
        self._grad_fn = None
        self._out_idx = 0
        self.requires_grad = False
        self.requires_grad_(requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()
