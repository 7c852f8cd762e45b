"""ResNet V2 (He et al., 2016, "Identity mappings in deep residual networks"): pre-activation
bottleneck blocks, with Keras's layer names and layout (``keras.applications.resnet_v2``)."""

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
    Add,
    BatchNormalization,
    Conv2D,
    MaxPooling2D,
    ZeroPadding2D,
)
from cnnkit.models import Model


def _resnet_v2(
    blocks,
    name,
    include_top,
    weights,
    input_tensor,
    input_shape,
    pooling,
    classes,
    classifier_activation,
):
    """Stem ``pad 3 → conv 7×7/2 (64) → pad 1 → max pool 3×3/2``; four stages of
    pre-activation bottlenecks whose *last* block carries the stride (stages 2-4); then
    ``BN → relu`` (``post_bn``/``post_relu``) before the top."""
    image, inputs, shape = application_input(
        weights, include_top, pooling, classes, input_shape, input_tensor,
        default_size=224, min_size=32, model=name,
    )  # fmt: skip
    x = ZeroPadding2D(3, name="conv1_pad")(image)
    x = Conv2D(64, 7, strides=2, name="conv1_conv")(x)
    x = ZeroPadding2D(1, name="pool1_pad")(x)
    x = MaxPooling2D(3, strides=2, name="pool1_pool")(x)
    for stage, (filters, count) in enumerate(zip((64, 128, 256, 512), blocks), 2):
        for block in range(1, count + 1):
            strides = 2 if block == count and stage < 5 else 1
            x = _preact_bottleneck(x, filters, strides, block == 1, f"conv{stage}_block{block}")
    x = BatchNormalization(epsilon=_BN_EPSILON, name="post_bn")(x)
    x = Activation("relu", name="post_relu")(x)
    model = Model(inputs, _top(x, include_top, pooling, classes, classifier_activation), name=name)
    return load_application_weights(model, weights)


def _preact_bottleneck(x, filters, strides, projection, name):
    """``shortcut + conv1×1(relu(BN(conv3×3/s(relu(BN(conv1×1(relu(BN(x)))))))))``."""
    preact = BatchNormalization(epsilon=_BN_EPSILON, name=f"{name}_preact_bn")(x)
    preact = Activation("relu", name=f"{name}_preact_relu")(preact)
    if projection:
        shortcut = Conv2D(4 * filters, 1, strides=strides, name=f"{name}_0_conv")(preact)
    elif strides > 1:
        shortcut = MaxPooling2D(1, strides=strides)(x)
    else:
        shortcut = x
    y = Conv2D(filters, 1, use_bias=False, name=f"{name}_1_conv")(preact)
    y = BatchNormalization(epsilon=_BN_EPSILON, name=f"{name}_1_bn")(y)
    y = Activation("relu", name=f"{name}_1_relu")(y)
    y = ZeroPadding2D(1, name=f"{name}_2_pad")(y)
    y = Conv2D(filters, 3, strides=strides, use_bias=False, name=f"{name}_2_conv")(y)
    y = BatchNormalization(epsilon=_BN_EPSILON, name=f"{name}_2_bn")(y)
    y = Activation("relu", name=f"{name}_2_relu")(y)
    y = Conv2D(4 * filters, 1, name=f"{name}_3_conv")(y)
    return Add(name=f"{name}_out")([shortcut, y])


def ResNet50V2(
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="resnet50v2",
) -> Model:
    return _resnet_v2(
        (3, 4, 6, 3),
        name,
        include_top,
        weights,
        input_tensor,
        input_shape,
        pooling,
        classes,
        classifier_activation,
    )


def ResNet101V2(
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="resnet101v2",
) -> Model:
    return _resnet_v2(
        (3, 4, 23, 3),
        name,
        include_top,
        weights,
        input_tensor,
        input_shape,
        pooling,
        classes,
        classifier_activation,
    )


def ResNet152V2(
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="resnet152v2",
) -> Model:
    return _resnet_v2(
        (3, 8, 36, 3),
        name,
        include_top,
        weights,
        input_tensor,
        input_shape,
        pooling,
        classes,
        classifier_activation,
    )


ResNet50V2.__doc__ = (
    """ResNet-50 V2: pre-activation bottlenecks 3, 4, 6, 3 (25,613,800
    parameters with the top, Keras's count).
"""
    + _APPLICATION_ARGS
    + """
    Example:
        >>> ResNet50V2(input_shape=(32, 32, 3), classes=10).output_shape
        (None, 10)
"""
)
ResNet101V2.__doc__ = "ResNet-101 V2: blocks 3, 4, 23, 3 (see :func:`ResNet50V2`).\n" + (
    _APPLICATION_ARGS
)
ResNet152V2.__doc__ = "ResNet-152 V2: blocks 3, 8, 36, 3 (see :func:`ResNet50V2`).\n" + (
    _APPLICATION_ARGS
)


def preprocess_input(x, data_format=None):
    """Keras's ``"tf"`` preprocessing of ResNet V2: pixels 0-255 scaled to [-1, 1]."""
    return imagenet_preprocess(x, mode="tf", data_format=data_format)
