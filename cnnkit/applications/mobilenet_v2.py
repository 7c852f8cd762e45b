"""MobileNet V2 (Sandler et al., 2018, "MobileNetV2: inverted residuals and linear
bottlenecks") with Keras's layer names and layout (``keras.applications.mobilenet_v2``)."""

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
    Add,
    BatchNormalization,
    Conv2D,
    Dense,
    DepthwiseConv2D,
    GlobalAveragePooling2D,
    ReLU,
    ZeroPadding2D,
)
from cnnkit.models import Model

# (filters, stride, expansion) of V2's 17 inverted residual blocks
_V2_BLOCKS = (
    ((16, 1, 1),)
    + ((24, 2, 6), (24, 1, 6))
    + ((32, 2, 6),)
    + ((32, 1, 6),) * 2
    + ((64, 2, 6),)
    + ((64, 1, 6),) * 3
    + ((96, 1, 6),) * 3
    + ((160, 2, 6),)
    + ((160, 1, 6),) * 2
    + ((320, 1, 6),)
)


def _make_divisible(value, divisor=8):
    """``value`` rounded to a multiple of ``divisor``, never more than 10 % below it."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


def MobileNetV2(
    input_shape=None,
    alpha=1.0,
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
        default_size=224, min_size=32, model="MobileNetV2",
    )  # fmt: skip
    first = _make_divisible(32 * alpha)
    x = Conv2D(first, 3, strides=2, padding="same", use_bias=False, name="Conv1")(image)
    x = BatchNormalization(epsilon=1e-3, momentum=0.999, name="bn_Conv1")(x)
    x = ReLU(6.0, name="Conv1_relu")(x)
    for block_id, (filters, strides, expansion) in enumerate(_V2_BLOCKS):
        x = _inverted_residual(
            x, expansion, strides, _make_divisible(int(filters * alpha)), block_id
        )
    last = _make_divisible(1280 * alpha) if alpha > 1.0 else 1280
    x = Conv2D(last, 1, use_bias=False, name="Conv_1")(x)
    x = BatchNormalization(epsilon=1e-3, momentum=0.999, name="Conv_1_bn")(x)
    x = ReLU(6.0, name="out_relu")(x)
    if include_top:
        x = GlobalAveragePooling2D()(x)
        x = Dense(classes, activation=classifier_activation, name="predictions")(x)
    else:
        x = pool_features(x, pooling)
    name = name or f"mobilenetv2_{alpha:0.2f}_{shape[0] or 224}"
    return load_application_weights(Model(inputs, x, name=name), weights)


def _inverted_residual(inputs, expansion, strides, filters, block_id):
    channels = inputs.shape[-1]
    prefix = f"block_{block_id}_" if block_id else "expanded_conv_"
    x = inputs
    if block_id:
        x = Conv2D(expansion * channels, 1, padding="same", use_bias=False, name=prefix + "expand")(
            x
        )
        x = BatchNormalization(epsilon=1e-3, momentum=0.999, name=prefix + "expand_BN")(x)
        x = ReLU(6.0, name=prefix + "expand_relu")(x)
    if strides == 2:
        x = ZeroPadding2D(_correct_pad(x.shape[1:3], 3), name=prefix + "pad")(x)
    x = DepthwiseConv2D(
        3,
        strides=strides,
        use_bias=False,
        padding="same" if strides == 1 else "valid",
        name=prefix + "depthwise",
    )(x)
    x = BatchNormalization(epsilon=1e-3, momentum=0.999, name=prefix + "depthwise_BN")(x)
    x = ReLU(6.0, name=prefix + "depthwise_relu")(x)
    x = Conv2D(filters, 1, padding="same", use_bias=False, name=prefix + "project")(x)
    x = BatchNormalization(epsilon=1e-3, momentum=0.999, name=prefix + "project_BN")(x)
    if channels == filters and strides == 1:
        return Add(name=prefix + "add")([inputs, x])
    return x


def _correct_pad(size, kernel):
    """Zero padding before a strided 'valid' convolution that centres the kernel as TF's
    'same' would: one less row/column before when the size is even."""
    adjust = (1, 1) if size[0] is None else (1 - size[0] % 2, 1 - size[1] % 2)
    half = kernel // 2
    return ((half - adjust[0], half), (half - adjust[1], half))


MobileNetV2.__doc__ = (
    """MobileNet V2: a 3×3/2 convolution, 17 inverted residual blocks
    (``expand 1×1 → BN → relu6 → depthwise 3×3 → BN → relu6 → project 1×1 → BN``, added to
    the input where the shapes allow) and a 1×1 convolution to 1280 channels (3,538,984
    parameters at ``alpha=1``, Keras's count).
"""
    + _APPLICATION_ARGS
)


def preprocess_input(x, data_format=None):
    """Keras's ``"tf"`` preprocessing of MobileNet V2: pixels 0-255 scaled to [-1, 1]."""
    return imagenet_preprocess(x, mode="tf", data_format=data_format)
