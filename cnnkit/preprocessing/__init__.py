"""Data preprocessing outside the model, as tf.keras 2's ``keras.preprocessing``."""

from cnnkit.preprocessing import image, sequence, text

__all__ = ["image", "sequence", "text"]


def __getattr__(name: str):
    # keras.preprocessing.*_dataset_from_directory: the keras.utils functions
    if name in (
        "image_dataset_from_directory",
        "text_dataset_from_directory",
        "timeseries_dataset_from_array",
    ):
        from cnnkit import utils

        return getattr(utils, name)
    raise AttributeError(f"module 'cnnkit.preprocessing' has no attribute {name!r}")
