"""The emulated device's bookkeeping: launch/sync/copy counters and the stream-capture recorder.

Every emulated operation goes through ``launch`` (work queued on the device), ``sync`` (the host waits
for the device) or ``copy`` (host<->device transfer). While a stream is capturing, launches are recorded
into the graph instead of run, and syncs or transfers raise CuPy's capture error.
"""
from __future__ import annotations

import collections
import contextlib
import dataclasses


class CUDARuntimeError(RuntimeError):
    """cupy.cuda.runtime.CUDARuntimeError: an error code from the CUDA runtime, with its name."""

    def __init__(self, status):
        self.status = status
        name = _ERRORS.get(status, f"cudaError{status}")
        super().__init__(f"{name}: {name}")


def cuda_error(status, message) -> CUDARuntimeError:
    """A CUDARuntimeError whose message also says what the emulated device was doing."""
    err = CUDARuntimeError(status)
    err.args = (f"{err.args[0].split(':')[0]}: {message}",)
    return err


cudaErrorStreamCaptureUnsupported = 900
cudaErrorStreamCaptureInvalidated = 901
_ERRORS = {cudaErrorStreamCaptureUnsupported: "cudaErrorStreamCaptureUnsupported",
           cudaErrorStreamCaptureInvalidated: "cudaErrorStreamCaptureInvalidated"}


@dataclasses.dataclass(eq=False)
class Counts:
    """What a block of code asked of the device: kernel launches, host syncs, host<->device copies."""

    launches: int = 0
    syncs: int = 0
    h2d: int = 0
    d2h: int = 0
    by_name: collections.Counter = dataclasses.field(default_factory=collections.Counter)

    @property
    def copies(self) -> int:
        return self.h2d + self.d2h

    def __str__(self):
        return f"{self.launches} launches, {self.syncs} syncs, {self.h2d} h2d + {self.d2h} d2h copies"


class _Runtime:
    def __init__(self):
        self.total = Counts()
        self._open: list[Counts] = []
        self.capture = None  # the _Capture being recorded, or None

    def _add(self, field, name, n=1):
        for c in [self.total, *self._open]:
            setattr(c, field, getattr(c, field) + n)
            if field == "launches":
                c.by_name[name] += n

    def launch(self, name: str, thunk) -> None:
        """Queue one kernel: run ``thunk`` now, or record it when the current stream is capturing."""
        self._add("launches", name)
        if self.capture is not None:
            self.capture.ops.append((name, thunk))
        else:
            thunk()

    def sync(self, what: str) -> None:
        """The host waits for the device (``.get()``, ``.item()``, ``float(a)``, ``synchronize()``...)."""
        self._check_not_capturing(what)
        self._add("syncs", what)

    def copy(self, direction: str, what: str) -> None:
        """One host<->device transfer; ``direction`` is ``"h2d"`` or ``"d2h"``."""
        self._check_not_capturing(what)
        self._add(direction, what)

    def _check_not_capturing(self, what):
        if self.capture is not None:
            self.capture.invalidated = True
            raise cuda_error(cudaErrorStreamCaptureUnsupported,
                             f"operation not permitted when stream is capturing ({what})")

    @contextlib.contextmanager
    def counting(self):
        """``with counting() as c:`` counts what the block asks of the device into ``c`` (a Counts)."""
        c = Counts()
        self._open.append(c)
        try:
            yield c
        finally:
            self._open.remove(c)


runtime = _Runtime()
