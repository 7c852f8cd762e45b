"""Data preprocessing outside the model, as tf.keras 2's ``keras.preprocessing``."""

from cnnkit.preprocessing import image

__all__ = ["image"]
