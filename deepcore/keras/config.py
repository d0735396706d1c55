"""``keras.config``: Keras 3's home for the global settings (same functions as ``keras.backend``)."""
from .backend import epsilon, floatx, image_data_format, set_epsilon, set_floatx, set_image_data_format  # noqa: F401


def backend() -> str:
    return "deepcore"
