"""Inception V3 (Szegedy et al., 2016, "Rethinking the Inception architecture for computer
vision") with Keras's layout (``keras.applications.inception_v3``)."""

from __future__ import annotations

from cnnkit.applications.imagenet_utils import (
    application_input,
    decode_predictions,  # noqa: F401 (Keras's name)
    load_application_weights,
)
from cnnkit.applications.imagenet_utils import preprocess_input as imagenet_preprocess
from cnnkit.applications.resnet import _APPLICATION_ARGS, _top
from cnnkit.layers import (
    Activation,
    AveragePooling2D,
    BatchNormalization,
    Concatenate,
    Conv2D,
    MaxPooling2D,
)
from cnnkit.models import Model


def _conv_bn(x, filters, rows, cols, strides=1, padding="same"):
    """``relu(BN(conv(x)))`` with an unscaled BN (its ReLU makes a scale redundant)."""
    x = Conv2D(filters, (rows, cols), strides=strides, padding=padding, use_bias=False)(x)
    x = BatchNormalization(scale=False)(x)
    return Activation("relu")(x)


def _pool_branch(x, filters):
    x = AveragePooling2D(3, strides=1, padding="same")(x)
    return _conv_bn(x, filters, 1, 1)


def InceptionV3(
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="inception_v3",
) -> Model:
    image, inputs, shape = application_input(
        weights, include_top, pooling, classes, input_shape, input_tensor,
        default_size=299, min_size=75, model="InceptionV3",
    )  # fmt: skip
    x = _conv_bn(image, 32, 3, 3, strides=2, padding="valid")
    x = _conv_bn(x, 32, 3, 3, padding="valid")
    x = _conv_bn(x, 64, 3, 3)
    x = MaxPooling2D(3, strides=2)(x)
    x = _conv_bn(x, 80, 1, 1, padding="valid")
    x = _conv_bn(x, 192, 3, 3, padding="valid")
    x = MaxPooling2D(3, strides=2)(x)
    for i, pool_filters in enumerate((32, 64, 64)):  # 35×35: mixed0-2
        b1 = _conv_bn(x, 64, 1, 1)
        b5 = _conv_bn(_conv_bn(x, 48, 1, 1), 64, 5, 5)
        b3 = _conv_bn(_conv_bn(_conv_bn(x, 64, 1, 1), 96, 3, 3), 96, 3, 3)
        x = Concatenate(name=f"mixed{i}")([b1, b5, b3, _pool_branch(x, pool_filters)])
    b3 = _conv_bn(x, 384, 3, 3, strides=2, padding="valid")  # to 17×17: mixed3
    d3 = _conv_bn(_conv_bn(x, 64, 1, 1), 96, 3, 3)
    d3 = _conv_bn(d3, 96, 3, 3, strides=2, padding="valid")
    x = Concatenate(name="mixed3")([b3, d3, MaxPooling2D(3, strides=2)(x)])
    for i, c7 in enumerate((128, 160, 160, 192), 4):  # factorised 7×7: mixed4-7
        b1 = _conv_bn(x, 192, 1, 1)
        b7 = _conv_bn(_conv_bn(_conv_bn(x, c7, 1, 1), c7, 1, 7), 192, 7, 1)
        d7 = _conv_bn(_conv_bn(x, c7, 1, 1), c7, 7, 1)
        d7 = _conv_bn(_conv_bn(_conv_bn(d7, c7, 1, 7), c7, 7, 1), 192, 1, 7)
        x = Concatenate(name=f"mixed{i}")([b1, b7, d7, _pool_branch(x, 192)])
    b3 = _conv_bn(_conv_bn(x, 192, 1, 1), 320, 3, 3, strides=2, padding="valid")  # to 8×8
    b7 = _conv_bn(_conv_bn(_conv_bn(x, 192, 1, 1), 192, 1, 7), 192, 7, 1)
    b7 = _conv_bn(b7, 192, 3, 3, strides=2, padding="valid")
    x = Concatenate(name="mixed8")([b3, b7, MaxPooling2D(3, strides=2)(x)])
    for i in range(2):  # expanded filter banks: mixed9-10
        b1 = _conv_bn(x, 320, 1, 1)
        b3 = _conv_bn(x, 384, 1, 1)
        b3 = Concatenate(name=f"mixed9_{i}")([_conv_bn(b3, 384, 1, 3), _conv_bn(b3, 384, 3, 1)])
        d3 = _conv_bn(_conv_bn(x, 448, 1, 1), 384, 3, 3)
        d3 = Concatenate()([_conv_bn(d3, 384, 1, 3), _conv_bn(d3, 384, 3, 1)])
        x = Concatenate(name=f"mixed{9 + i}")([b1, b3, d3, _pool_branch(x, 192)])
    model = Model(inputs, _top(x, include_top, pooling, classes, classifier_activation), name=name)
    return load_application_weights(model, weights)


InceptionV3.__doc__ = """Inception V3: a convolutional stem and eleven Inception modules
    (``mixed0``-``mixed10``: 35×35, factorised 7×7 at 17×17, expanded banks at 8×8);
    23,851,784 parameters with the top, Keras's count. Default input 299×299, at least
    75×75.
""" + _APPLICATION_ARGS.replace("(224, 224, 3)", "(299, 299, 3)").replace(
    "at least 32×32", "at least 75×75"
)


def preprocess_input(x, data_format=None):
    """Keras's ``"tf"`` preprocessing of Inception V3: pixels 0-255 scaled to [-1, 1]."""
    return imagenet_preprocess(x, mode="tf", data_format=data_format)
