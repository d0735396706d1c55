"""Peak GPU memory as CuPy's *allocated* high-water mark (what ``torch.cuda.max_memory_allocated`` reports).

The pool's reserved bytes (``total_bytes``) include cached free blocks and so overstate what a step needs.
``allocated_peak(cupy)`` returns a ``cupy.cuda.MemoryHook``: inside ``with hook:`` it starts from the bytes the
default pool has handed out (``used_bytes()``), adds every block the pool hands out (``malloc_postprocess``),
subtracts every block given back (``free_postprocess``) and keeps the maximum in ``hook.peak``. Both sides
count the pool's rounded block sizes. CuPy keeps hooks per thread, so blocks freed by another thread are not
seen (the benchmarks run on one thread).
"""
from __future__ import annotations

_hook_classes: dict = {}  # one hook class per cupy module (real CuPy or the emulated stand-in)


def allocated_peak(cupy):
    """A fresh memory hook measuring the allocated high-water mark of the current device; use it as ``with``."""
    module, cls = _hook_classes.get(id(cupy), (None, None))
    if module is not cupy:
        cls = _make_hook_class(cupy)
        _hook_classes[id(cupy)] = (cupy, cls)
    return cls()


def _make_hook_class(cupy):
    class AllocatedPeak(cupy.cuda.MemoryHook):
        """Allocated bytes now (``current``) and at most (``peak``) since ``__enter__``."""

        name = "deepcore.bench.AllocatedPeak"  # CuPy registers hooks by name; one may be active per thread

        def __init__(self):
            self.current = self.peak = 0
            self.device_id = None

        def __enter__(self):
            self.device_id = cupy.cuda.runtime.getDevice()
            self.current = self.peak = cupy.get_default_memory_pool().used_bytes()
            return super().__enter__()

        def malloc_postprocess(self, **kw):
            if kw.get("mem_ptr") and kw.get("device_id", self.device_id) == self.device_id:  # 0: failed malloc
                self.current += kw["mem_size"]
                self.peak = max(self.peak, self.current)

        def free_postprocess(self, **kw):
            if kw.get("device_id", self.device_id) == self.device_id:
                self.current -= kw["mem_size"]

    return AllocatedPeak


__all__ = ["allocated_peak"]
