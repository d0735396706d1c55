"""Public names that are not operators, with where they are tested instead (no entries here).

Everything an op family covers has an ``OpEntry``; this module lists the rest of ``dc.__all__`` and of the
Tensor's public attributes: submodules, dtypes, devices, constructors, persistence, autograd machinery and
the Tensor's own bookkeeping and Python protocols.
"""

ENTRIES: list = []

_MODULE = "a submodule, not an op: its contents have their own tests"
_DTYPE = "a dtype object (numpy.dtype), not an op: casts to it are registry entries; tests/test_tensor.py, test_io.py"

EXEMPT: dict[str, str] = {
    # submodules
    **{f"dc.{m}": _MODULE for m in ("autograd", "backend", "cuda", "ops", "nn", "optim", "data", "datasets", "io",
                                     "training", "callbacks", "checkpoint")},
    # dtypes
    **{f"dc.{d}": _DTYPE for d in ("float16", "bfloat16", "float32", "float64", "int8", "int16", "int32", "int64",
                                    "uint8", "bool")},
    # autograd machinery
    "dc.Function": "custom autograd functions: tests/test_autograd.py",
    "dc.no_grad": "grad mode: tests/test_autograd.py",
    "dc.enable_grad": "grad mode: tests/test_autograd.py",
    "dc.is_grad_enabled": "grad mode: tests/test_autograd.py",
    "dc.set_grad_enabled": ("grad mode switch, the same flag no_grad/enable_grad set (tests/test_autograd.py); "
                          "no test of its own yet"),
    "dc.gradcheck": "the gradient oracle itself: tests/test_autograd.py, and every test_registry.py::test_gradcheck",
    # devices, seeds, settings
    "dc.Device": "device objects: tests/test_backend.py (parsing, equality), tests/test_tensor.py",
    "dc.device": "device parsing: tests/test_backend.py, tests/test_tensor.py",
    "dc.manual_seed": "random generators: tests/test_tensor.py (test_manual_seed_reproducible), test_ops_dropout.py",
    "dc.get_rng_state": "RNG state save/restore: tests/test_reliability.py (test_14_1_*)",
    "dc.set_rng_state": "RNG state save/restore: tests/test_reliability.py (test_14_1_*)",
    "dc.set_float32_matmul_precision": "TF32 setting: tests/test_ops_linalg.py",
    "dc.get_float32_matmul_precision": "TF32 setting: tests/test_ops_linalg.py",
    # constructors
    "dc.Tensor": "the class: tests/test_tensor.py; its methods are registry entries or exempt below",
    **{f"dc.{c}": "constructor: tests/test_tensor.py (test_creation_functions and neighbours)"
       for c in ("tensor", "from_numpy", "zeros", "ones", "full", "empty", "arange", "linspace", "eye", "rand",
                 "randn", "randint", "zeros_like", "ones_like", "full_like")},
    # persistence
    "dc.save": "persistence: tests/test_io.py",
    "dc.load": "persistence: tests/test_io.py",
    # the Tensor's own bookkeeping
    "Tensor.data": "the raw array: tests/test_tensor.py, tests/test_optim.py (p.data updates)",
    "Tensor.grad": "autograd result: tests/test_autograd.py and every registry gradient test",
    "Tensor.grad_fn": "autograd graph link: tests/test_autograd.py",
    "Tensor.is_leaf": "autograd leaf flag: tests/test_tensor.py (test_detach_and_requires_grad_)",
    "Tensor.requires_grad": "autograd flag: tests/test_tensor.py, tests/test_autograd.py",
    "Tensor.requires_grad_": "autograd flag: tests/test_tensor.py (test_detach_and_requires_grad_)",
    "Tensor.detach": "cuts the graph: tests/test_tensor.py (test_detach_and_requires_grad_)",
    "Tensor.backward": "runs autograd: tests/test_autograd.py and every registry gradient test",
    "Tensor.shape": "metadata: tests/test_tensor.py and every registry forward test (output shapes)",
    "Tensor.ndim": "metadata: tests/test_tensor.py",
    "Tensor.dtype": "metadata: tests/test_tensor.py and every registry forward test (output dtypes)",
    "Tensor.device": "metadata: tests/test_tensor.py and every registry forward test (output devices)",
    "Tensor.numpy": "host copy: tests/test_tensor.py (test_item_tolist_numpy); every registry test reads outputs so",
    "Tensor.item": "host scalar: tests/test_tensor.py (test_item_tolist_numpy), tests/test_cuda_path.py",
    "Tensor.tolist": "host list: tests/test_tensor.py (test_item_tolist_numpy)",
    # Python protocols
    "Tensor.__repr__": "printing: tests/test_tensor.py (test_repr_and_protocols)",
    "Tensor.__len__": "len(): tests/test_tensor.py (test_repr_and_protocols)",
    "Tensor.__iter__": "iteration: tests/test_tensor.py (test_repr_and_protocols)",
    "Tensor.__bool__": "truth value: tests/test_tensor.py (test_repr_and_protocols)",
    "Tensor.__float__": "float(): tests/test_tensor.py (test_repr_and_protocols)",
    "Tensor.__array__": "np.asarray(): tests/test_tensor.py (test_repr_and_protocols)",
}
