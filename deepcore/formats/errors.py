"""The two ways a file in another engine's format can fail to load, both ValueErrors naming the file."""


class UnsafeFileError(ValueError):
    """The file asks for something other than tensors, containers and plain values; refused, nothing run."""


class CorruptFileError(ValueError):
    """The file is not what its format's writer produces: truncated, damaged, or holding an unsupported dtype."""
