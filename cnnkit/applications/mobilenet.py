"""MobileNet V1 (Howard et al., 2017) with Keras's layer names and layout
(``keras.applications.mobilenet``): ``alpha`` scales every layer's filters (the paper's width
multiplier), ``depth_multiplier`` the depthwise convolutions' outputs.
"""

from __future__ import annotations

from cnnkit.applications.imagenet_utils import (
    application_input,
    decode_predictions,  # noqa: F401 (Keras's name)
    load_application_weights,
    pool_features,
)
from cnnkit.applications.imagenet_utils import preprocess_input as imagenet_preprocess
from cnnkit.applications.resnet import _APPLICATION_ARGS
from cnnkit.layers import (
    Activation,
    BatchNormalization,
    Conv2D,
    DepthwiseConv2D,
    Dropout,
    GlobalAveragePooling2D,
    ReLU,
    Reshape,
    ZeroPadding2D,
)
from cnnkit.models import Model

# (pointwise filters, stride) of V1's 13 depthwise-separable blocks
_V1_BLOCKS = (
    ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2))
    + ((512, 1),) * 5
    + (
        (1024, 2),
        (1024, 1),
    )
)


def MobileNet(
    input_shape=None,
    alpha=1.0,
    depth_multiplier=1,
    dropout=1e-3,
    include_top=True,
    weights=None,
    input_tensor=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name=None,
) -> Model:
    image, inputs, shape = application_input(
        weights, include_top, pooling, classes, input_shape, input_tensor,
        default_size=224, min_size=32, model="MobileNet",
    )  # fmt: skip
    x = Conv2D(int(32 * alpha), 3, strides=2, padding="same", use_bias=False, name="conv1")(image)
    x = BatchNormalization(name="conv1_bn")(x)
    x = ReLU(6.0, name="conv1_relu")(x)
    for block_id, (filters, strides) in enumerate(_V1_BLOCKS, 1):
        x = _depthwise_block(x, int(filters * alpha), depth_multiplier, strides, block_id)
    if include_top:
        x = GlobalAveragePooling2D(keepdims=True)(x)
        x = Dropout(dropout, name="dropout")(x)
        x = Conv2D(classes, 1, padding="same", name="conv_preds")(x)
        x = Reshape((classes,), name="reshape_2")(x)
        x = Activation(classifier_activation, name="predictions")(x)
    else:
        x = pool_features(x, pooling)
    name = name or f"mobilenet_{alpha:0.2f}_{shape[0] or 224}"
    return load_application_weights(Model(inputs, x, name=name), weights)


def _depthwise_block(x, filters, depth_multiplier, strides, block_id):
    if strides == 1:
        y = x
    else:
        y = ZeroPadding2D(((0, 1), (0, 1)), name=f"conv_pad_{block_id}")(x)
    y = DepthwiseConv2D(
        3,
        padding="same" if strides == 1 else "valid",
        depth_multiplier=depth_multiplier,
        strides=strides,
        use_bias=False,
        name=f"conv_dw_{block_id}",
    )(y)
    y = BatchNormalization(name=f"conv_dw_{block_id}_bn")(y)
    y = ReLU(6.0, name=f"conv_dw_{block_id}_relu")(y)
    y = Conv2D(filters, 1, padding="same", use_bias=False, name=f"conv_pw_{block_id}")(y)
    y = BatchNormalization(name=f"conv_pw_{block_id}_bn")(y)
    return ReLU(6.0, name=f"conv_pw_{block_id}_relu")(y)


MobileNet.__doc__ = (
    """MobileNet V1: a 3×3/2 convolution then 13 depthwise-separable blocks
    (``depthwise 3×3 → BN → relu6 → conv 1×1 → BN → relu6``); the top is global average
    pooling, dropout and a 1×1 convolution to ``classes`` (4,253,864 parameters at
    ``alpha=1``, Keras's count). ``alpha`` scales the filters, ``depth_multiplier`` the
    depthwise outputs, ``dropout`` is the top's rate.
"""
    + _APPLICATION_ARGS
    + """
    Example:
        >>> MobileNet(input_shape=(32, 32, 3), classes=10).output_shape
        (None, 10)
"""
)


def preprocess_input(x, data_format=None):
    """Keras's ``"tf"`` preprocessing of MobileNet: pixels 0-255 scaled to [-1, 1]."""
    return imagenet_preprocess(x, mode="tf", data_format=data_format)
