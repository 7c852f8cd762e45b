"""Data preprocessing outside the model, as tf.keras 2's ``keras.preprocessing``."""

from cnnkit.preprocessing import image, sequence, text

__all__ = ["image", "sequence", "text"]
