"""Xception (Chollet, 2017, "Xception: deep learning with depthwise separable
convolutions") with Keras's layer names and layout (``keras.applications.xception``)."""

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
    Add,
    BatchNormalization,
    Conv2D,
    MaxPooling2D,
    SeparableConv2D,
)
from cnnkit.models import Model


def _sep_bn(x, filters, name, relu_first=True):
    if relu_first:
        x = Activation("relu", name=f"{name}_act")(x)
    x = SeparableConv2D(filters, 3, padding="same", use_bias=False, name=name)(x)
    return BatchNormalization(name=f"{name}_bn")(x)


def _residual(x, filters):
    x = Conv2D(filters, 1, strides=2, padding="same", use_bias=False)(x)
    return BatchNormalization()(x)


def Xception(
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="xception",
) -> Model:
    image, inputs, shape = application_input(
        weights, include_top, pooling, classes, input_shape, input_tensor,
        default_size=299, min_size=71, model="Xception",
    )  # fmt: skip
    x = Conv2D(32, 3, strides=2, use_bias=False, name="block1_conv1")(image)
    x = BatchNormalization(name="block1_conv1_bn")(x)
    x = Activation("relu", name="block1_conv1_act")(x)
    x = Conv2D(64, 3, use_bias=False, name="block1_conv2")(x)
    x = BatchNormalization(name="block1_conv2_bn")(x)
    x = Activation("relu", name="block1_conv2_act")(x)
    for block, filters in ((2, 128), (3, 256), (4, 728)):  # entry flow
        residual = _residual(x, filters)
        y = _sep_bn(x, filters, f"block{block}_sepconv1", relu_first=block > 2)
        y = _sep_bn(y, filters, f"block{block}_sepconv2")
        y = MaxPooling2D(3, strides=2, padding="same", name=f"block{block}_pool")(y)
        x = Add()([y, residual])
    for block in range(5, 13):  # middle flow
        y = x
        for k in (1, 2, 3):
            y = _sep_bn(y, 728, f"block{block}_sepconv{k}")
        x = Add()([y, x])
    residual = _residual(x, 1024)  # exit flow
    y = _sep_bn(x, 728, "block13_sepconv1")
    y = _sep_bn(y, 1024, "block13_sepconv2")
    y = MaxPooling2D(3, strides=2, padding="same", name="block13_pool")(y)
    x = Add()([y, residual])
    x = _sep_bn(x, 1536, "block14_sepconv1", relu_first=False)
    x = Activation("relu", name="block14_sepconv1_act")(x)
    x = _sep_bn(x, 2048, "block14_sepconv2", relu_first=False)
    x = Activation("relu", name="block14_sepconv2_act")(x)
    model = Model(inputs, _top(x, include_top, pooling, classes, classifier_activation), name=name)
    return load_application_weights(model, weights)


Xception.__doc__ = """Xception: entry, middle (8 blocks) and exit flows of depthwise-separable
    convolutions with residual connections; 22,910,480 parameters with the top, Keras's
    count. Default input 299×299, at least 71×71.
""" + _APPLICATION_ARGS.replace("(224, 224, 3)", "(299, 299, 3)").replace(
    "at least 32×32", "at least 71×71"
)


def preprocess_input(x, data_format=None):
    """Keras's ``"tf"`` preprocessing of Xception: pixels 0-255 scaled to [-1, 1]."""
    return imagenet_preprocess(x, mode="tf", data_format=data_format)
