"""Data preprocessing outside the model, as tf.keras 2's ``keras.preprocessing``."""

import importlib

__all__ = ["image", "sequence", "text"]


def __getattr__(name: str):
    if name in __all__:  # the submodules, imported on first use (``image`` is the slowest)
        module = importlib.import_module(f"cnnkit.preprocessing.{name}")
        globals()[name] = module
        return module
    # keras.preprocessing.*_dataset_from_directory: the keras.utils functions
    if name in (
        "image_dataset_from_directory",
        "text_dataset_from_directory",
        "timeseries_dataset_from_array",
    ):
        from cnnkit import utils

        return getattr(utils, name)
    raise AttributeError(f"module 'cnnkit.preprocessing' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
