"""Layers, as in ``keras.layers``."""

from cnnkit.layers.activation import ELU, LeakyReLU, ReLU, Softmax
from cnnkit.layers.augmentation import (
    RandomBrightness,
    RandomContrast,
    RandomCrop,
    RandomFlip,
    RandomRotation,
    RandomTranslation,
    RandomZoom,
)
from cnnkit.layers.base import InputSpec, KerasTensor, Layer
from cnnkit.layers.bidirectional import Bidirectional
from cnnkit.layers.convolutional import (
    Conv2D,
    Conv2DTranspose,
    DepthwiseConv2D,
    SeparableConv2D,
)
from cnnkit.layers.convolutional1d import Conv1D, Convolution1D
from cnnkit.layers.core import (
    Activation,
    Dense,
    Dropout,
    Flatten,
    Input,
    InputLayer,
    Lambda,
    Reshape,
)
from cnnkit.layers.embedding import Embedding, Masking
from cnnkit.layers.merging import (
    Add,
    Average,
    Concatenate,
    Maximum,
    Minimum,
    Multiply,
    Subtract,
    add,
    average,
    concatenate,
    maximum,
    minimum,
    multiply,
    subtract,
)
from cnnkit.layers.normalization import BatchNormalization
from cnnkit.layers.pooling import (
    AveragePooling1D,
    AveragePooling2D,
    AvgPool1D,
    AvgPool2D,
    GlobalAveragePooling1D,
    GlobalAveragePooling2D,
    GlobalAvgPool1D,
    GlobalAvgPool2D,
    GlobalMaxPool1D,
    GlobalMaxPool2D,
    GlobalMaxPooling1D,
    GlobalMaxPooling2D,
    MaxPool1D,
    MaxPool2D,
    MaxPooling1D,
    MaxPooling2D,
)
from cnnkit.layers.preprocessing import Rescaling, Resizing
from cnnkit.layers.recurrent import GRU, LSTM, SimpleRNN
from cnnkit.layers.regularization import SpatialDropout2D
from cnnkit.layers.reshaping import Cropping2D, UpSampling2D, ZeroPadding2D
from cnnkit.layers.reshaping_extra import GaussianNoise, Identity, Permute, RepeatVector
from cnnkit.layers.text_vectorization import TextVectorization

Convolution2D = Conv2D
Convolution2DTranspose = Conv2DTranspose
SeparableConvolution2D = SeparableConv2D

__all__ = [
    "Conv1D",
    "Convolution1D",
    "Embedding",
    "Masking",
    "AveragePooling1D",
    "AvgPool1D",
    "GlobalAveragePooling1D",
    "GlobalAvgPool1D",
    "GlobalMaxPool1D",
    "GlobalMaxPooling1D",
    "MaxPool1D",
    "MaxPooling1D",
    "ELU",
    "LeakyReLU",
    "ReLU",
    "Softmax",
    "Activation",
    "Add",
    "Average",
    "AveragePooling2D",
    "AvgPool2D",
    "BatchNormalization",
    "Bidirectional",
    "Concatenate",
    "Conv2D",
    "Conv2DTranspose",
    "Convolution2D",
    "Convolution2DTranspose",
    "Cropping2D",
    "Dense",
    "DepthwiseConv2D",
    "Dropout",
    "Flatten",
    "GRU",
    "GlobalAveragePooling2D",
    "GlobalAvgPool2D",
    "GlobalMaxPool2D",
    "GlobalMaxPooling2D",
    "Input",
    "InputLayer",
    "Lambda",
    "InputSpec",
    "KerasTensor",
    "LSTM",
    "Layer",
    "MaxPool2D",
    "MaxPooling2D",
    "Maximum",
    "Minimum",
    "Multiply",
    "RandomBrightness",
    "RandomContrast",
    "RandomCrop",
    "RandomFlip",
    "RandomRotation",
    "RandomTranslation",
    "RandomZoom",
    "Rescaling",
    "Reshape",
    "RepeatVector",
    "Permute",
    "Identity",
    "GaussianNoise",
    "Resizing",
    "SeparableConv2D",
    "SeparableConvolution2D",
    "SimpleRNN",
    "SpatialDropout2D",
    "Subtract",
    "TextVectorization",
    "UpSampling2D",
    "ZeroPadding2D",
    "add",
    "average",
    "concatenate",
    "maximum",
    "minimum",
    "multiply",
    "subtract",
]
