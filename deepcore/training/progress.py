"""Progress display for ``fit``/``evaluate``: a tqdm bar per epoch (verbose=1) or one line per epoch (verbose=2).

The bar advances every batch without touching the device; the live loss/metric postfix reads the
running averages (one host synchronisation) only every ``refresh`` batches.
"""
from __future__ import annotations

import sys
import time

from .callbacks import Callback


def format_value(v) -> str:
    v = float(v)
    return f"{v:.4e}" if v != 0 and (abs(v) < 1e-3 or abs(v) >= 1e5) else f"{v:.4f}"


def format_logs(logs, skip=("lr",)) -> str:
    return " - ".join(f"{k}: {format_value(v)}" for k, v in logs.items() if k not in skip)


def _tqdm():
    from tqdm.std import tqdm
    return tqdm


def _refresh_every(total) -> int:
    """About twenty postfix updates per epoch."""
    return max(1, (total or 200) // 20)


class ProgbarLogger(Callback):
    """Shows training progress; added by ``fit`` when ``verbose`` is 1 or 2."""

    def __init__(self, verbose=1, file=None):
        self.verbose = verbose
        self.file = file
        self.bar = None

    def _out(self):
        return self.file or sys.stdout

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()
        self._epoch = epoch
        if self.verbose == 1:
            total = self.params.get("steps")
            self._refresh = _refresh_every(total)
            self.bar = _tqdm()(total=total, desc=f"Epoch {epoch + 1}/{self.params.get('epochs')}",
                               unit="batch", file=self._out(), leave=False, dynamic_ncols=True)

    def on_train_batch_end(self, batch, logs=None):
        if self.bar is None:
            return
        self.bar.update(1)
        if logs is not None and ((batch + 1) % self._refresh == 0 or batch + 1 == self.bar.total):
            self.bar.set_postfix({k: format_value(v) for k, v in logs.items() if k not in ("batch", "size")},
                                 refresh=False)

    def on_epoch_end(self, epoch, logs=None):
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        elapsed = time.perf_counter() - self._start
        print(f"Epoch {epoch + 1}/{self.params.get('epochs')} - {elapsed:.1f}s - {format_logs(logs or {})}",
              file=self._out(), flush=True)

    def on_train_end(self, logs=None):
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class EvalProgress:
    """A tqdm bar over evaluation/prediction batches (verbose=1); a no-op otherwise."""

    def __init__(self, verbose, total, desc):
        self.bar = _tqdm()(total=total, desc=desc, unit="batch", file=sys.stdout, leave=False,
                           dynamic_ncols=True) if verbose == 1 else None

    def update(self):
        if self.bar is not None:
            self.bar.update(1)

    def close(self):
        if self.bar is not None:
            self.bar.close()
            self.bar = None
