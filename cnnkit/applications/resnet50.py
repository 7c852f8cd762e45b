"""Keras's ``keras.applications.resnet50`` module: ``ResNet50``, ``preprocess_input`` and
``decode_predictions`` (defined in :mod:`cnnkit.applications.resnet`)."""

from cnnkit.applications.resnet import ResNet50, decode_predictions, preprocess_input

__all__ = ["ResNet50", "decode_predictions", "preprocess_input"]
