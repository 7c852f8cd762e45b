"""Layers, as in ``keras.layers``."""

from cnnkit.layers.activation import ELU, LeakyReLU, ReLU, Softmax
from cnnkit.layers.base import InputSpec, KerasTensor, Layer
from cnnkit.layers.convolutional import Conv2D
from cnnkit.layers.core import (
    Activation,
    Dense,
    Dropout,
    Flatten,
    Input,
    InputLayer,
    Reshape,
)
from cnnkit.layers.normalization import BatchNormalization
from cnnkit.layers.pooling import (
    AveragePooling2D,
    AvgPool2D,
    GlobalAveragePooling2D,
    GlobalAvgPool2D,
    GlobalMaxPool2D,
    GlobalMaxPooling2D,
    MaxPool2D,
    MaxPooling2D,
)

Convolution2D = Conv2D

__all__ = [
    "ELU",
    "LeakyReLU",
    "ReLU",
    "Softmax",
    "Activation",
    "AveragePooling2D",
    "AvgPool2D",
    "BatchNormalization",
    "Conv2D",
    "Convolution2D",
    "Dense",
    "Dropout",
    "Flatten",
    "GlobalAveragePooling2D",
    "GlobalAvgPool2D",
    "GlobalMaxPool2D",
    "GlobalMaxPooling2D",
    "Input",
    "InputLayer",
    "InputSpec",
    "KerasTensor",
    "Layer",
    "MaxPool2D",
    "MaxPooling2D",
    "Reshape",
]
