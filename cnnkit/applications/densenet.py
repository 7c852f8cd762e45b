"""DenseNet (Huang et al., 2017, "Densely connected convolutional networks") with Keras's
layer names and layout (``keras.applications.densenet``)."""

from __future__ import annotations

from cnnkit.applications.imagenet_utils import (
    application_input,
    decode_predictions,  # noqa: F401 (Keras's name)
    load_application_weights,
)
from cnnkit.applications.imagenet_utils import preprocess_input as imagenet_preprocess
from cnnkit.applications.resnet import _APPLICATION_ARGS, _BN_EPSILON, _top
from cnnkit.layers import (
    Activation,
    AveragePooling2D,
    BatchNormalization,
    Concatenate,
    Conv2D,
    MaxPooling2D,
    ZeroPadding2D,
)
from cnnkit.models import Model

GROWTH_RATE = 32


def DenseNet(
    blocks,
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="densenet",
) -> Model:
    """A DenseNet with ``blocks`` convolution blocks in each of its four dense blocks.

    Stem ``pad 3 → conv 7×7/2 (64) → BN → relu → pad 1 → max pool 3×3/2``; dense blocks
    (each conv block adds ``GROWTH_RATE`` = 32 channels: ``BN → relu → conv 1×1 (128) → BN →
    relu → conv 3×3 (32)``, concatenated to its input), separated by transitions that halve
    the channels (``BN → relu → conv 1×1``) and the size (average pool 2×2/2); then
    ``BN → relu`` and the top. Convolutions have no bias.
    """
    image, inputs, shape = application_input(
        weights, include_top, pooling, classes, input_shape, input_tensor,
        default_size=224, min_size=32, model=name,
    )  # fmt: skip
    x = ZeroPadding2D(3)(image)
    x = Conv2D(64, 7, strides=2, use_bias=False, name="conv1_conv")(x)
    x = BatchNormalization(epsilon=_BN_EPSILON, name="conv1_bn")(x)
    x = Activation("relu", name="conv1_relu")(x)
    x = ZeroPadding2D(1)(x)
    x = MaxPooling2D(3, strides=2, name="pool1")(x)
    for stage, count in enumerate(blocks, 2):
        for block in range(1, count + 1):
            x = _conv_block(x, f"conv{stage}_block{block}")
        if stage < 5:
            x = _transition(x, f"pool{stage}")
    x = BatchNormalization(epsilon=_BN_EPSILON, name="bn")(x)
    x = Activation("relu", name="relu")(x)
    model = Model(inputs, _top(x, include_top, pooling, classes, classifier_activation), name=name)
    return load_application_weights(model, weights)


def _conv_block(x, name):
    y = BatchNormalization(epsilon=_BN_EPSILON, name=f"{name}_0_bn")(x)
    y = Activation("relu", name=f"{name}_0_relu")(y)
    y = Conv2D(4 * GROWTH_RATE, 1, use_bias=False, name=f"{name}_1_conv")(y)
    y = BatchNormalization(epsilon=_BN_EPSILON, name=f"{name}_1_bn")(y)
    y = Activation("relu", name=f"{name}_1_relu")(y)
    y = Conv2D(GROWTH_RATE, 3, padding="same", use_bias=False, name=f"{name}_2_conv")(y)
    return Concatenate(name=f"{name}_concat")([x, y])


def _transition(x, name):
    x = BatchNormalization(epsilon=_BN_EPSILON, name=f"{name}_bn")(x)
    x = Activation("relu", name=f"{name}_relu")(x)
    x = Conv2D(x.shape[-1] // 2, 1, use_bias=False, name=f"{name}_conv")(x)
    return AveragePooling2D(2, strides=2, name=f"{name}_pool")(x)


def DenseNet121(
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="densenet121",
) -> Model:
    return DenseNet(
        (6, 12, 24, 16),
        include_top,
        weights,
        input_tensor,
        input_shape,
        pooling,
        classes,
        classifier_activation,
        name,
    )


def DenseNet169(
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="densenet169",
) -> Model:
    return DenseNet(
        (6, 12, 32, 32),
        include_top,
        weights,
        input_tensor,
        input_shape,
        pooling,
        classes,
        classifier_activation,
        name,
    )


def DenseNet201(
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="densenet201",
) -> Model:
    return DenseNet(
        (6, 12, 48, 32),
        include_top,
        weights,
        input_tensor,
        input_shape,
        pooling,
        classes,
        classifier_activation,
        name,
    )


DenseNet121.__doc__ = (
    """DenseNet-121: dense blocks of 6, 12, 24 and 16 conv blocks (8,062,504
    parameters with the top, Keras's count).
"""
    + _APPLICATION_ARGS
    + """
    Example:
        >>> DenseNet121(input_shape=(32, 32, 3), classes=10).output_shape
        (None, 10)
"""
)
DenseNet169.__doc__ = "DenseNet-169: blocks 6, 12, 32, 32 (see :func:`DenseNet121`).\n" + (
    _APPLICATION_ARGS
)
DenseNet201.__doc__ = "DenseNet-201: blocks 6, 12, 48, 32 (see :func:`DenseNet121`).\n" + (
    _APPLICATION_ARGS
)


def preprocess_input(x, data_format=None):
    """Keras's ``"torch"`` preprocessing of DenseNet: [0, 1], then ImageNet mean and std."""
    return imagenet_preprocess(x, mode="torch", data_format=data_format)
