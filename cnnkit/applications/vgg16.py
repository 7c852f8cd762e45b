"""Keras's ``keras.applications.vgg16`` module: ``VGG16``, ``preprocess_input`` and
``decode_predictions`` (defined in :mod:`cnnkit.applications.vgg`)."""

from cnnkit.applications.vgg import VGG16, decode_predictions, preprocess_input

__all__ = ["VGG16", "decode_predictions", "preprocess_input"]
