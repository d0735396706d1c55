"""Training checkpoints: model state, optimizer state and epoch in one atomically written ``.npz``.

``save_checkpoint(path, model, optimizer, epoch=k)`` after ``k`` finished epochs, then
``epoch = load_checkpoint(path, model, optimizer)`` and ``fit(..., initial_epoch=epoch)`` continues the run
exactly where it stopped (with the same ``seed=``, or ``dc.manual_seed`` before ``fit``, for shuffling).
"""
from __future__ import annotations

from . import io

__all__ = ["load_checkpoint", "load_weights", "read_checkpoint", "save_checkpoint", "save_weights"]

_FORMAT = "deepcore.checkpoint"


def save_checkpoint(path, model, optimizer=None, epoch=None, **extra) -> None:
    """Write ``model.state_dict()``, ``optimizer.state_dict()``, ``epoch`` and any ``extra`` values to ``path``.

    ``extra`` values may be anything ``dc.save`` stores (numbers, strings, arrays, nested dicts such as a
    scheduler's ``state_dict()``). The write is atomic: a crash leaves the previous file intact.
    """
    obj = {"format": _FORMAT, "model": dict(model.state_dict())}
    if optimizer is not None:
        obj["optimizer"] = optimizer.state_dict()
    if epoch is not None:
        obj["epoch"] = int(epoch)
    if extra:
        obj["extra"] = dict(extra)
    io.save(obj, path)


def read_checkpoint(path) -> dict:
    """The raw checkpoint dict: ``model``, and where saved ``optimizer``, ``epoch`` and ``extra``."""
    obj = io.load(path)
    if not isinstance(obj, dict) or obj.get("format") != _FORMAT or "model" not in obj:
        raise ValueError(f"{str(path)!r} is not a deepcore checkpoint (written by save_checkpoint or "
                         "ModelCheckpoint); for a bare state dict use model.load_weights")
    return obj


def load_checkpoint(path, model, optimizer=None, strict: bool = True):
    """Restore ``model`` (and ``optimizer``) from ``path``; returns the saved epoch (None if none was saved).

    Everything is checked before anything changes: a checkpoint that does not fit the model or the
    optimizer raises and leaves both as they were.
    """
    obj = read_checkpoint(path)
    if optimizer is not None and "optimizer" not in obj:
        raise ValueError(f"checkpoint {str(path)!r} holds no optimizer state; it was saved without an "
                         "optimizer (pass optimizer=None to load the model only)")
    backup = {k: v.data.copy() for k, v in model.state_dict().items()} if optimizer is not None else None
    model.load_state_dict(obj["model"], strict=strict)
    if optimizer is not None:
        try:
            optimizer.load_state_dict(obj["optimizer"])
        except Exception:
            model.load_state_dict(backup, strict=False)
            raise
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
