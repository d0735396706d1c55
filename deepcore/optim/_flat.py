"""Flat buffers of a parameter group: parameters, gradients (on a GPU) and optimizer state in one array each.

A :class:`Bucket` holds the parameters of one param group that share a device and dtype. At the first step
(and whenever the group's parameters change) their values are copied back to back into one flat array and
each parameter's ``.data`` becomes a view of its slice; every state buffer (``exp_avg``, ...) is a flat
array of its own, whose views are what ``optimizer.state[p]`` holds. On a GPU the gradients get the same
layout in one more flat array (``.grad`` tensors wrap views of it, and autograd writes there in place, see
``autograd.set_grad_slot``), so an update is one kernel launch and ``zero_grad`` one memset. On the CPU the
gradients stay where backward put them: the numba update makes one pass per parameter slice.

Per-parameter bookkeeping lives beside the buffers as small arrays on the same device, so that a CUDA graph
replaying a step (no Python running) stays exact: ``seg_end`` (where each parameter's slice ends),
``steps`` (each parameter's step count, advanced by the update kernel), ``active`` (1 where a parameter has a
gradient this step: parameters without one are skipped, as in torch) and ``lr`` (the group's learning rate,
rewritten with one ``fill`` only when ``param_groups[i]["lr"]`` changed). ``steps_host`` and ``active_host``
mirror them on the host; the mirrors are what Python reads, so a step never synchronises with the device.
"""
from __future__ import annotations

import contextlib
import importlib.util

import numpy as np

from ..backend import CPU, cupy_module, device_of, to_device
from ..backend.kernels import get_kernel
from ..tensor import Tensor

FUSED_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
_NO_CONTEXT = contextlib.nullcontext()


def on(device):
    """``with on(device):`` makes ``device`` current for allocations and launches (nothing on the CPU). A
    fresh CuPy context each time, so blocks may nest (``with Device`` of deepcore keeps one per device)."""
    return _NO_CONTEXT if device.type == "cpu" else cupy_module().cuda.Device(device.index)


class Bucket:
    """The parameters of one group on one device with one dtype, laid out in flat buffers.

    Building a bucket moves the parameters' values into ``param`` (their ``.data`` become views); on a
    GPU gradients go to ``grad`` (``flat_grads``; None on the CPU); state buffers are added with
    :meth:`add_buffer`.
    """

    def __init__(self, params, device, dtype):
        self.params = list(params)
        self.device = device
        self.dtype = np.dtype(dtype)
        self.xp = xp = device.xp
        sizes = [int(p.data.size) for p in self.params]
        ends = np.cumsum(np.asarray(sizes, dtype=np.int64)) if sizes else np.zeros(0, np.int64)
        self.n = int(ends[-1]) if len(ends) else 0
        self.nseg = len(self.params)
        self.bounds = [(int(e) - s, int(e)) for s, e in zip(sizes, ends)]
        # On a GPU the gradients get a flat buffer too (backward writes into it; one kernel reads it). On
        # the CPU, copying each gradient there would cost more than the update's per-parameter calls save:
        # the update reads the gradients where backward left them.
        self.flat_grads = device.type != "cpu"
        with on(device):
            self.param = xp.empty(self.n, dtype=self.dtype)
            self.data_views = self._views(self.param)
            for p, view in zip(self.params, self.data_views):
                view[...] = p.data
                p.data = view
            if self.flat_grads:
                self.grad = xp.zeros(self.n, dtype=self.dtype)
                self.grad_views = self._views(self.grad)
            else:
                self.grad, self.grad_views = None, [None] * self.nseg
            self.seg_end = xp.asarray(ends)
            self.steps = xp.zeros(self.nseg, dtype=np.int64)
            self.active = xp.zeros(self.nseg, dtype=np.int32)
            self.done = xp.zeros(1, dtype=np.uint32)  # the update kernel's finished-blocks counter
            self.lr = xp.zeros(1, dtype=np.float64)
        self.grad_tensors = [None if v is None else Tensor._make(v) for v in self.grad_views]
        self.steps_host = [0] * self.nseg
        self.active_host = [False] * self.nseg
        self.lr_host = None
        self.buffers: dict = {}   # state name -> flat array
        self.views: dict = {}     # state name -> one view per parameter
        self.keys = None          # the optimizer's state keys the buffers were last checked against

    def _views(self, flat):
        return [flat[lo:hi].reshape(p.data.shape) for (lo, hi), p in zip(self.bounds, self.params)]

    def add_buffer(self, name: str, init: float):
        """A new flat state buffer filled with ``init``; returns its per-parameter views."""
        with on(self.device):
            flat = self.xp.full(self.n, init, dtype=self.dtype)
        self.buffers[name] = flat
        self.views[name] = self._views(flat)
        return self.views[name]

    def holds(self) -> bool:
        """True while every parameter's ``.data`` is still its view of ``param``."""
        for p, view in zip(self.params, self.data_views):
            if p.data is not view:
                return False
        return True

    def readopt(self) -> bool:
        """Copy back parameters whose ``.data`` was replaced by an array of the same shape, dtype and device
        (their view takes the new values); False when one changed shape, dtype or device (rebuild)."""
        for p, view in zip(self.params, self.data_views):
            a = p.data
            if a is view:
                continue
            if tuple(a.shape) != tuple(view.shape) or a.dtype != self.dtype or device_of(a) != self.device:
                return False
        for p, view in zip(self.params, self.data_views):
            if p.data is not view:
                with on(self.device):
                    view[...] = p.data
                p.data = view
        return True

    # --- per step --------------------------------------------------------------------------------------
    def gather(self, who: str):
        """Which parameters have a gradient, and the gradients that are not views of ``grad`` (checked).

        Returns ``(active, grads)``: a list of bools, and one gradient array per parameter (None where it
        has none, or where it is already its view of ``grad``). Changes nothing.
        """
        active, grads = [], [None] * self.nseg
        for k, p in enumerate(self.params):
            gt = p.grad
            if gt is None:
                active.append(False)
                continue
            active.append(True)
            g = gt.data if isinstance(gt, Tensor) else gt
            if g is self.grad_views[k]:
                continue
            if tuple(g.shape) != tuple(p.data.shape):
                raise RuntimeError(f"{who}.step: gradient of shape {tuple(g.shape)} does not match its parameter "
                                   f"of shape {tuple(p.data.shape)}")
            if device_of(g) != self.device:
                raise RuntimeError(f"{who}.step: gradient on {device_of(g)} but parameter on {self.device}")
            grads[k] = g if self.flat_grads or g.dtype == self.dtype else g.astype(self.dtype)
        return active, grads

    def adopt(self, grads) -> None:
        """With flat gradients: copy the gradients given (not views yet) into ``grad``; those parameters'
        ``.grad`` become views of it from now on."""
        if not self.flat_grads:
            return
        with on(self.device):
            for k, g in enumerate(grads):
                if g is not None:
                    self.grad_views[k][...] = g
                    self.params[k].grad = self.grad_tensors[k]

    def set_active(self, active) -> None:
        """Bring the device mask in line with ``active`` (launches only where it changed)."""
        if active == self.active_host:
            return
        with on(self.device):
            if all(active):
                self.active.fill(1)
            else:
                for k, (new, old) in enumerate(zip(active, self.active_host)):
                    if new != old:
                        self.active[k] = 1 if new else 0
        self.active_host = list(active)

    def set_lr(self, lr) -> None:
        """Write the group's learning rate to the device scalar when it changed (one fill, no copy).

        While the stream is capturing a CUDA graph the write is left for :meth:`push_lr` before the next
        replay: recorded into the graph, it would reset the learning rate at every replay."""
        if lr == self.lr_host:
            return
        if self.device.type == "cuda" and cupy_module().cuda.get_current_stream().is_capturing():
            return
        with on(self.device):
            self.lr.fill(float(lr))
        self.lr_host = lr

    def push_steps(self) -> None:
        """Copy the host step counts to the device (after a build or a loaded state dict; one copy)."""
        host = np.asarray(self.steps_host, dtype=np.int64)
        if self.device.type == "cpu":
            self.steps[...] = host
        else:
            with on(self.device):
                self.steps[...] = to_device(host, self.device)

    def pull_steps(self) -> list:
        """The device step counts (they run ahead of ``steps_host`` only after CUDA graph replays)."""
        return [int(v) for v in to_device(self.steps, CPU).tolist()]

    def register_grad_slots(self) -> None:
        """With flat gradients: make backward write each parameter's gradient into its view of ``grad``."""
        if not self.flat_grads:
            return
        from ..autograd import set_grad_slot
        for p, data, view in zip(self.params, self.data_views, self.grad_views):
            set_grad_slot(p, data, view)


def move_state(value, bucket: Bucket):
    """A state array loaded or carried over, on the bucket's device (floating arrays in its dtype)."""
    if isinstance(value, Tensor):
        value = value.data
    moved = to_device(value, bucket.device)
    return moved.astype(bucket.dtype, copy=False) if moved.dtype.kind == "f" else moved


# --- fused-path guards and the CUDA launch -------------------------------------------------------------
_numba = []


def numba_available() -> bool:
    """numba is installed (checked without importing it: its import is slow)."""
    if not _numba:
        _numba.append(importlib.util.find_spec("numba") is not None)
    return _numba[0]


def cpu_applies(flat) -> bool:
    """Guard of the CPU (numba) fused updates: a float32/float64 NumPy buffer."""
    return flat.dtype in FUSED_DTYPES and isinstance(flat, np.ndarray) and numba_available()


def cuda_applies(flat) -> bool:
    """Guard of the CUDA fused updates: a float32/float64 buffer (the kernels of kernels/optim.cu)."""
    return flat.dtype in FUSED_DTYPES


BLOCK = 256
MAX_BLOCKS = 1024  # enough to fill an H100/H200 (132 SMs x 8 blocks of 256); larger buffers loop


def launch(kernel: str, bucket: Bucket, args: tuple) -> None:
    """One launch of ``kernel`` (kernels/optim.cu) over ``bucket``: ``args`` then the flat-layout tail."""
    fn = get_kernel("optim.cu", f"{kernel}_{'f32' if bucket.dtype == np.float32 else 'f64'}", bucket.device)
    grid = max(1, min((bucket.n + BLOCK - 1) // BLOCK, MAX_BLOCKS))
    with on(bucket.device):  # launch on the buffers' GPU, not whichever is current
        fn((grid,), (BLOCK,), args + (bucket.seg_end, bucket.active, bucket.steps, bucket.done,
                                      np.int32(bucket.nseg), np.int64(bucket.n)))
