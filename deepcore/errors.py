"""Exception types deepcore raises where PyTorch and NumPy users expect different ones."""


class ShapeError(RuntimeError, ValueError):
    """Operand shapes do not fit the op (matmul, reshape, cat, conv...).

    PyTorch raises RuntimeError for these and NumPy raises ValueError; deriving from both lets code
    written for either catch ours.
    """


class DTypeError(TypeError, RuntimeError, ValueError):
    """An input's dtype does not match a layer's parameters (a float64 input to a float32 ``Linear``...).

    PyTorch raises RuntimeError for these (ValueError for its recurrent layers); deepcore raised TypeError:
    deriving from all three lets code written for any of them catch ours.
    """
