"""``keras.backend`` / ``keras.config``: the global settings Keras code reads, and layer naming.

``image_data_format()`` is ``"channels_last"`` unless changed with ``set_image_data_format`` (or the Keras 1
spelling ``set_image_dim_ordering("th" | "tf")``). ``clear_session()`` restarts the automatic layer names
(``dense``, ``dense_1``, ...), as in Keras.
"""
from __future__ import annotations

import re
from collections import defaultdict

_FORMATS = ("channels_last", "channels_first")
_state = {"image_data_format": "channels_last", "format_set": False, "epsilon": 1e-7, "floatx": "float32"}
_name_counts: dict = defaultdict(int)


def image_data_format() -> str:
    """``"channels_last"`` (images ``(N, H, W, C)``, the default) or ``"channels_first"`` (``(N, C, H, W)``)."""
    return _state["image_data_format"]


def set_image_data_format(data_format: str) -> None:
    data_format = str(data_format).lower()
    if data_format not in _FORMATS:
        raise ValueError(f"set_image_data_format: expected 'channels_last' or 'channels_first', got {data_format!r}")
    _state["image_data_format"] = data_format
    _state["format_set"] = True


def image_dim_ordering() -> str:
    """Keras 1 spelling: ``"tf"`` for channels-last, ``"th"`` for channels-first."""
    return "th" if image_data_format() == "channels_first" else "tf"


def set_image_dim_ordering(dim_ordering: str) -> None:
    """Keras 1 spelling of ``set_image_data_format``: ``"th"`` (channels first) or ``"tf"`` (channels last)."""
    if dim_ordering not in ("th", "tf"):
        raise ValueError(f"set_image_dim_ordering: expected 'th' or 'tf', got {dim_ordering!r}")
    set_image_data_format("channels_first" if dim_ordering == "th" else "channels_last")


def image_format_was_set() -> bool:
    return _state["format_set"]


def epsilon() -> float:
    """The fuzz factor of the losses (clipping of probabilities), 1e-7 as in Keras."""
    return _state["epsilon"]


def set_epsilon(value: float) -> None:
    _state["epsilon"] = float(value)


def floatx() -> str:
    return _state["floatx"]


def set_floatx(value: str) -> None:
    if value != "float32":
        raise ValueError(f"set_floatx: deepcore.keras models compute in float32 (got {value!r}); use "
                         "model.to(dtype=...) on the built model for another precision")


def clear_session() -> None:
    """Restart the automatic layer names, so the next Dense is ``dense`` again."""
    _name_counts.clear()


def to_snake_case(name: str) -> str:
    """``"MaxPooling2D"`` -> ``"max_pooling2d"``, ``"SimpleRNN"`` -> ``"simple_rnn"`` (Keras's naming rule)."""
    name = re.sub(r"\W+", "", name)
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def unique_name(base: str) -> str:
    """``base`` the first time, then ``base_1``, ``base_2``... (until ``clear_session``)."""
    n = _name_counts[base]
    _name_counts[base] += 1
    return base if n == 0 else f"{base}_{n}"


def set_random_seed(seed: int) -> None:
    """Seed deepcore's generators (initializers, dropout, shuffling) and NumPy's global one."""
    import numpy as np

    from .. import manual_seed
    manual_seed(int(seed))
    np.random.seed(int(seed) % 2**32)
