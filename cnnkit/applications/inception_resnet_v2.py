"""Inception-ResNet v2 (Szegedy et al., 2017, "Inception-v4, Inception-ResNet and the impact
of residual connections on learning") with Keras's layout and layer names
(``keras.applications.inception_resnet_v2``)."""

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
    Layer,
    MaxPooling2D,
)
from cnnkit.models import Model
from cnnkit.saving.object_registration import register_keras_serializable


@register_keras_serializable(package="cnnkit")
class CustomScaleLayer(Layer):
    """``inputs[0] + scale * inputs[1]``: a residual branch scaled before the shortcut adds it.

    Keras's Inception-ResNet v2 keeps this layer (and its name) for its residual blocks.

    Args:
        scale: the factor of the residual branch.

    Input shape:
        A list of two tensors of the same shape.

    Output shape:
        That shape.

    Example:
        >>> import numpy as np
        >>> CustomScaleLayer(0.5)([np.ones((1, 2)), np.ones((1, 2))]).numpy()
        array([[1.5, 1.5]], dtype=float32)
    """

    samplewise = True
    _onnx_conversion = "scale_residual"  # the exporter's conversion: inputs[0] + scale * inputs[1]

    def __init__(self, scale, **kwargs):
        super().__init__(**kwargs)
        self.scale = float(scale)

    def call(self, inputs):
        shortcut, residual = inputs
        return shortcut + residual * self.scale

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0])

    def get_config(self) -> dict:
        return {**super().get_config(), "scale": self.scale}


def _conv_bn(x, filters, kernel_size, strides=1, padding="same", activation="relu", name=None):
    """``act(BN(conv(x)))`` with an unscaled BN, named ``name``, ``name_bn``, ``name_ac``."""
    x = Conv2D(filters, kernel_size, strides=strides, padding=padding, use_bias=False, name=name)(x)
    x = BatchNormalization(scale=False, name=None if name is None else f"{name}_bn")(x)
    if activation is not None:
        x = Activation(activation, name=None if name is None else f"{name}_ac")(x)
    return x


# Per block type: the branches, each a list of (filters, kernel size) of 'same' conv-BN-relus.
_BLOCKS = {
    "block35": [[(32, 1)], [(32, 1), (32, 3)], [(32, 1), (48, 3), (64, 3)]],
    "block17": [[(192, 1)], [(128, 1), (160, (1, 7)), (192, (7, 1))]],
    "block8": [[(192, 1)], [(192, 1), (224, (1, 3)), (256, (3, 1))]],
}


def _residual_block(x, scale, block_type, index, activation="relu"):
    """One Inception-ResNet block: branches concatenated, projected back to ``x``'s
    channels by a biased 1×1 convolution, scaled and added to ``x``."""
    branches = []
    for branch in _BLOCKS[block_type]:
        y = x
        for filters, kernel in branch:
            y = _conv_bn(y, filters, kernel)
        branches.append(y)
    name = f"{block_type}_{index}"
    mixed = Concatenate(name=f"{name}_mixed")(branches)
    up = Conv2D(x.shape[-1], 1, use_bias=True, name=f"{name}_conv")(mixed)
    x = CustomScaleLayer(scale)([x, up])
    if activation is not None:
        x = Activation(activation, name=f"{name}_ac")(x)
    return x


def _chain(x, convs):
    """Conv-BN-relus in sequence; each item ``(filters, kernel)`` or ``(filters, kernel, strides,
    padding)``."""
    for conv in convs:
        filters, kernel, strides, padding = (*conv, 1, "same")[:4] if len(conv) == 2 else conv
        x = _conv_bn(x, filters, kernel, strides=strides, padding=padding)
    return x


def InceptionResNetV2(
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="inception_resnet_v2",
) -> Model:
    image, inputs, shape = application_input(
        weights, include_top, pooling, classes, input_shape, input_tensor,
        default_size=299, min_size=75, model="InceptionResNetV2",
    )  # fmt: skip
    x = _chain(image, [(32, 3, 2, "valid"), (32, 3, 1, "valid"), (64, 3)])
    x = MaxPooling2D(3, strides=2)(x)
    x = _chain(x, [(80, 1, 1, "valid"), (192, 3, 1, "valid")])
    x = MaxPooling2D(3, strides=2)(x)
    branches = [_chain(x, [(96, 1)]), _chain(x, [(48, 1), (64, 5)])]
    branches.append(_chain(x, [(64, 1), (96, 3), (96, 3)]))
    branches.append(_conv_bn(AveragePooling2D(3, strides=1, padding="same")(x), 64, 1))
    x = Concatenate(name="mixed_5b")(branches)
    for index in range(1, 11):  # 35×35
        x = _residual_block(x, 0.17, "block35", index)
    branches = [_chain(x, [(384, 3, 2, "valid")])]
    branches.append(_chain(x, [(256, 1), (256, 3), (384, 3, 2, "valid")]))
    branches.append(MaxPooling2D(3, strides=2)(x))
    x = Concatenate(name="mixed_6a")(branches)
    for index in range(1, 21):  # 17×17
        x = _residual_block(x, 0.1, "block17", index)
    branches = [_chain(x, [(256, 1), (384, 3, 2, "valid")])]
    branches.append(_chain(x, [(256, 1), (288, 3, 2, "valid")]))
    branches.append(_chain(x, [(256, 1), (288, 3), (320, 3, 2, "valid")]))
    branches.append(MaxPooling2D(3, strides=2)(x))
    x = Concatenate(name="mixed_7a")(branches)
    for index in range(1, 10):  # 8×8
        x = _residual_block(x, 0.2, "block8", index)
    x = _residual_block(x, 1.0, "block8", 10, activation=None)
    x = _conv_bn(x, 1536, 1, name="conv_7b")
    model = Model(inputs, _top(x, include_top, pooling, classes, classifier_activation), name=name)
    return load_application_weights(model, weights)


InceptionResNetV2.__doc__ = """Inception-ResNet v2: an Inception stem, then 10, 20 and 10
    residual Inception blocks (35×35, 17×17, 8×8) with reduction blocks between them;
    55,873,736 parameters with the top, Keras's count. Default input 299×299, at least 75×75.
""" + _APPLICATION_ARGS.replace("(224, 224, 3)", "(299, 299, 3)").replace(
    "at least 32×32", "at least 75×75"
)


def preprocess_input(x, data_format=None):
    """Keras's ``"tf"`` preprocessing of Inception-ResNet v2: pixels 0-255 scaled to [-1, 1]."""
    return imagenet_preprocess(x, mode="tf", data_format=data_format)
