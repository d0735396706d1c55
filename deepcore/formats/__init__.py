"""File formats other engines read and write: PyTorch's ``torch.save`` files and ``.safetensors``.

Each module here works on host NumPy arrays and plain containers and knows nothing of devices or
autograd; ``deepcore.io`` picks the format (by content when loading, by suffix when saving), turns arrays
into Tensors and writes files atomically.

- ``torch_dtypes``: the dtype names and storage classes PyTorch files use, mapped to deepcore dtypes.
- ``torch_read``: a restricted unpickler (never runs pickled code) for the zip and the legacy format.
- ``torch_write``: a protocol-2 pickle emitter and the zip layout ``torch.load`` expects.
- ``safetensors_io``: ``.safetensors`` via the ``safetensors`` package, every deepcore dtype.
- ``errors``: ``UnsafeFileError`` (refused, nothing run) and ``CorruptFileError``, both ValueErrors.
"""
