"""Training checkpoints: model state, optimizer state, epoch and RNG state in one atomically written ``.npz``.

``save_checkpoint(path, model, optimizer, epoch=k)`` after ``k`` finished epochs, then
``epoch = load_checkpoint(path, model, optimizer)`` and ``fit(..., initial_epoch=epoch)`` continues the run
exactly where it stopped: the checkpoint holds the state of every random generator deepcore uses
(``dc.get_rng_state()``: CPU and CUDA generators, the dropout kernels' counters), and ``load_checkpoint``
restores it. A checkpoint written by the ``ModelCheckpoint`` callback also holds what ``fit`` itself needs
to continue: the shuffle seed of array data, the shuffle state of a ``DataLoader`` with its own generator
and the state of learning-rate schedule callbacks; the next ``fit`` whose ``initial_epoch`` is the saved
epoch picks it up, so 2 epochs + checkpoint + resume + 1 epoch equals 3 epochs bit for bit.
"""
from __future__ import annotations

from . import io
from .backend.random import get_rng_state, set_rng_state

__all__ = ["load_checkpoint", "load_weights", "read_checkpoint", "save_checkpoint", "save_weights"]

_FORMAT = "deepcore.checkpoint"


def save_checkpoint(path, model, optimizer=None, epoch=None, **extra) -> None:
    """Write ``model.state_dict()``, ``optimizer.state_dict()``, ``epoch``, ``dc.get_rng_state()`` and any
    ``extra`` values to ``path``.

    ``extra`` values may be anything ``dc.save`` stores (numbers, strings, arrays, nested dicts such as a
    scheduler's ``state_dict()``). The write is atomic: a crash leaves the previous file intact.
    """
    _write(path, model, optimizer, epoch, extra, None)


def _write(path, model, optimizer, epoch, extra, fit_state) -> None:
    obj = {"format": _FORMAT, "model": dict(model.state_dict())}
    if optimizer is not None:
        obj["optimizer"] = optimizer.state_dict()
    if epoch is not None:
        obj["epoch"] = int(epoch)
    obj["rng"] = get_rng_state()
    if fit_state is not None:
        obj["fit"] = fit_state
    if extra:
        obj["extra"] = dict(extra)
    io.save(obj, path)


def read_checkpoint(path) -> dict:
    """The raw checkpoint dict: ``model``, and where saved ``optimizer``, ``epoch``, ``rng``, ``fit``, ``extra``."""
    obj = io.load(path)
    if not isinstance(obj, dict) or obj.get("format") != _FORMAT or "model" not in obj:
        raise ValueError(f"{str(path)!r} is not a deepcore checkpoint (written by save_checkpoint or "
                         "ModelCheckpoint); for a bare state dict use model.load_weights")
    return obj


def load_checkpoint(path, model, optimizer=None, strict: bool = True, restore_rng: bool = True):
    """Restore ``model`` (and ``optimizer``) from ``path``; returns the saved epoch (None if none was saved).

    With ``restore_rng`` (the default) the random generators go back to their state at the time of the
    save (``dc.set_rng_state``), and what ``fit`` needs to continue the run is kept for the next
    ``model.fit(..., initial_epoch=<the saved epoch>)``. Everything is checked before anything changes: a
    checkpoint that does not fit the model or the optimizer raises and leaves both as they were.
    """
    obj = read_checkpoint(path)
    if optimizer is not None and "optimizer" not in obj:
        raise ValueError(f"checkpoint {str(path)!r} holds no optimizer state; it was saved without an "
                         "optimizer (pass optimizer=None to load the model only)")
    rng = obj.get("rng") if restore_rng else None
    if rng is not None and not isinstance(rng, dict):
        raise ValueError(f"checkpoint {str(path)!r}: 'rng' is not an RNG state (got {type(rng).__name__})")
    backup = {k: v.data.copy() for k, v in model.state_dict().items()} if optimizer is not None or rng else None
    previous_rng = get_rng_state() if rng is not None else None
    model.load_state_dict(obj["model"], strict=strict)
    try:
        if rng is not None:
            set_rng_state(rng)
        if optimizer is not None:
            optimizer.load_state_dict(obj["optimizer"])
    except Exception:
        model.load_state_dict(backup, strict=False)
        if previous_rng is not None:
            set_rng_state(previous_rng)
        raise
    model.__dict__.pop("_resume_state", None)
    if restore_rng and obj.get("epoch") is not None and isinstance(obj.get("fit"), dict):
        model.__dict__["_resume_state"] = (int(obj["epoch"]), obj["fit"])  # consumed by the next fit
    return obj.get("epoch")


def save_weights(path, model) -> None:
    """Save ``model.state_dict()`` (parameters and buffers) atomically to ``path``."""
    io.save(dict(model.state_dict()), path)


def load_weights(path, model, strict: bool = True):
    """Load a state dict saved by ``save_weights`` (or the model part of a checkpoint) into ``model``."""
    obj = io.load(path)
    if isinstance(obj, dict) and obj.get("format") == _FORMAT and "model" in obj:
        obj = obj["model"]
    if not isinstance(obj, dict):
        raise TypeError(f"{str(path)!r} does not hold a state dict (got {type(obj).__name__})")
    return model.load_state_dict(obj, strict=strict)
