"""Keras's ``keras.applications.vgg19`` module: ``VGG19``, ``preprocess_input`` and
``decode_predictions`` (defined in :mod:`cnnkit.applications.vgg`)."""

from cnnkit.applications.vgg import VGG19, decode_predictions, preprocess_input

__all__ = ["VGG19", "decode_predictions", "preprocess_input"]
