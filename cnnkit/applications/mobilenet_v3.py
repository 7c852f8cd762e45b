"""MobileNet V3 Small and Large (Howard et al., 2019, "Searching for MobileNetV3") with
Keras's layer names and layout (``keras.applications.mobilenet_v3``).

Inverted residual blocks as MobileNet V2's, some with squeeze-and-excitation (gated by a
hard sigmoid) and hard-swish activations; ``minimalistic`` replaces those with ReLU, 3×3
kernels and no squeeze-and-excitation. The classifier is convolutional (1×1 convolutions on
the pooled features), so the model takes any image size ≥ 32×32. With
``include_preprocessing`` (the default) the model scales its 0-255 input to [-1, 1] itself.
"""

from __future__ import annotations

from cnnkit.applications.efficientnet import (
    preprocess_input as preprocess_input,  # Keras's pass-through
)
from cnnkit.applications.imagenet_utils import (
    application_input,
    decode_predictions,  # noqa: F401 (Keras's name)
    load_application_weights,
    pool_features,
)
from cnnkit.applications.mobilenet_v2 import _correct_pad, _make_divisible
from cnnkit.layers import (
    Activation,
    Add,
    BatchNormalization,
    Conv2D,
    DepthwiseConv2D,
    Dropout,
    Flatten,
    GlobalAveragePooling2D,
    Multiply,
    ReLU,
    Rescaling,
    ZeroPadding2D,
)
from cnnkit.models import Model

# (expansion, filters, kernel, stride, squeeze-excite, activation) of each inverted residual
# block; kernel None, squeeze-excite True and activation None are the model's choice (5×5,
# ratio 0.25, hard swish; 3×3, none, ReLU when minimalistic)
_SMALL = (
    (1, 16, 3, 2, True, "relu"),
    (72.0 / 16, 24, 3, 2, False, "relu"),
    (88.0 / 24, 24, 3, 1, False, "relu"),
    (4, 40, None, 2, True, None),
    (6, 40, None, 1, True, None),
    (6, 40, None, 1, True, None),
    (3, 48, None, 1, True, None),
    (3, 48, None, 1, True, None),
    (6, 96, None, 2, True, None),
    (6, 96, None, 1, True, None),
    (6, 96, None, 1, True, None),
)
_LARGE = (
    (1, 16, 3, 1, False, "relu"),
    (4, 24, 3, 2, False, "relu"),
    (3, 24, 3, 1, False, "relu"),
    (3, 40, None, 2, True, "relu"),
    (3, 40, None, 1, True, "relu"),
    (3, 40, None, 1, True, "relu"),
    (6, 80, 3, 2, False, None),
    (2.5, 80, 3, 1, False, None),
    (2.3, 80, 3, 1, False, None),
    (2.3, 80, 3, 1, False, None),
    (6, 112, 3, 1, True, None),
    (6, 112, 3, 1, True, None),
    (6, 160, None, 2, True, None),
    (6, 160, None, 1, True, None),
    (6, 160, None, 1, True, None),
)


def _relu(x):
    return ReLU()(x)


def _hard_swish(x):
    return Activation("hard_swish")(x)


def _hard_sigmoid(x):
    return ReLU(6.0)(x + 3.0) * (1.0 / 6.0)


def _mobilenet_v3(
    blocks, last_point_ch, model, input_shape, alpha, minimalistic, include_top, weights,
    input_tensor, classes, pooling, dropout_rate, classifier_activation,
    include_preprocessing, name,
):  # fmt: skip
    image, inputs, _ = application_input(
        weights, include_top, pooling, classes, input_shape, input_tensor,
        default_size=224, min_size=32, model=model, require_flatten=False,
    )  # fmt: skip
    kernel, activation, se_ratio = (3, _relu, None) if minimalistic else (5, _hard_swish, 0.25)
    x = image
    if include_preprocessing:
        x = Rescaling(1.0 / 127.5, offset=-1.0)(x)
    x = Conv2D(16, 3, strides=2, padding="same", use_bias=False, name="conv")(x)
    x = BatchNormalization(epsilon=1e-3, momentum=0.999, name="conv_bn")(x)
    x = activation(x)
    for block_id, (expansion, filters, k, stride, se, act) in enumerate(blocks):
        x = _inverted_res_block(
            x, expansion, _make_divisible(filters * alpha), k or kernel, stride,
            se_ratio if se else None, _relu if act == "relu" else activation, block_id,
        )  # fmt: skip
    last_conv_ch = _make_divisible(x.shape[-1] * 6)
    if alpha > 1.0:
        last_point_ch = _make_divisible(last_point_ch * alpha)
    x = Conv2D(last_conv_ch, 1, padding="same", use_bias=False, name="conv_1")(x)
    x = BatchNormalization(epsilon=1e-3, momentum=0.999, name="conv_1_bn")(x)
    x = activation(x)
    if include_top:
        x = GlobalAveragePooling2D(keepdims=True)(x)
        x = Conv2D(last_point_ch, 1, padding="same", use_bias=True, name="conv_2")(x)
        x = activation(x)
        if dropout_rate > 0:
            x = Dropout(dropout_rate)(x)
        x = Conv2D(classes, 1, padding="same", name="logits")(x)
        x = Flatten()(x)
        x = Activation(classifier_activation, name="predictions")(x)
    else:
        x = pool_features(x, pooling, name=f"{pooling}_pool")
    return load_application_weights(Model(inputs, x, name=name), weights)


def _inverted_res_block(x, expansion, filters, kernel, stride, se_ratio, activation, block_id):
    shortcut, channels = x, x.shape[-1]
    prefix = f"expanded_conv_{block_id}_" if block_id else "expanded_conv_"
    expanded = _make_divisible(channels * expansion)
    if block_id:
        x = Conv2D(expanded, 1, padding="same", use_bias=False, name=prefix + "expand")(x)
        x = BatchNormalization(epsilon=1e-3, momentum=0.999, name=prefix + "expand_bn")(x)
        x = activation(x)
    if stride == 2:
        x = ZeroPadding2D(_correct_pad(x.shape[1:3], kernel), name=prefix + "depthwise_pad")(x)
    x = DepthwiseConv2D(
        kernel, strides=stride, padding="same" if stride == 1 else "valid", use_bias=False,
        name=prefix + "depthwise",
    )(x)  # fmt: skip
    x = BatchNormalization(epsilon=1e-3, momentum=0.999, name=prefix + "depthwise_bn")(x)
    x = activation(x)
    if se_ratio:
        x = _se_block(x, expanded, se_ratio, prefix)
    x = Conv2D(filters, 1, padding="same", use_bias=False, name=prefix + "project")(x)
    x = BatchNormalization(epsilon=1e-3, momentum=0.999, name=prefix + "project_bn")(x)
    if stride == 1 and channels == filters:
        x = Add(name=prefix + "add")([shortcut, x])
    return x


def _se_block(inputs, filters, se_ratio, prefix):
    """MobileNet V3's squeeze-and-excitation: ReLU 1×1 convolution to
    ``filters * se_ratio`` (rounded to 8) channels, 1×1 back, hard-sigmoid gates."""
    x = GlobalAveragePooling2D(keepdims=True, name=prefix + "squeeze_excite_avg_pool")(inputs)
    x = Conv2D(
        _make_divisible(filters * se_ratio), 1, padding="same",
        name=prefix + "squeeze_excite_conv",
    )(x)  # fmt: skip
    x = ReLU(name=prefix + "squeeze_excite_relu")(x)
    x = Conv2D(filters, 1, padding="same", name=prefix + "squeeze_excite_conv_1")(x)
    x = _hard_sigmoid(x)
    return Multiply(name=prefix + "squeeze_excite_mul")([inputs, x])


_ARGS = """
    Args:
        input_shape: ``(height, width, channels)``, at least 32×32; default
            ``(None, None, 3)`` (any size: the classifier is convolutional).
        alpha: width multiplier of every block's filters (Keras publishes weights for
            0.75 and 1.0).
        minimalistic: ReLU, 3×3 kernels and no squeeze-and-excitation throughout.
        include_top: whether to add the pooled 1×1-convolution classifier.
        weights: None (random initialization) or the path of a weights file for this
            architecture (Keras's ``.weights.h5``, or Keras's published legacy ``.h5``).
        input_tensor: optional symbolic tensor to use as the image input.
        classes: number of classes, with ``include_top=True``.
        pooling: with ``include_top=False``: None (the 4-D feature map), ``"avg"`` or
            ``"max"``.
        dropout_rate: dropout before the ``logits`` convolution.
        classifier_activation: activation of the last layer (None for logits).
        include_preprocessing: whether the model's first layer scales 0-255 pixels to
            [-1, 1]; without it the input is expected in [-1, 1].
        name: model name.

    Returns:
        An uncompiled functional :class:`~cnnkit.models.Model` with Keras's layer names,
        so Keras's weight files for the architecture load into it.
"""


def MobileNetV3Small(
    input_shape=None,
    alpha=1.0,
    minimalistic=False,
    include_top=True,
    weights=None,
    input_tensor=None,
    classes=1000,
    pooling=None,
    dropout_rate=0.2,
    classifier_activation="softmax",
    include_preprocessing=True,
    name="MobileNetV3Small",
) -> Model:
    return _mobilenet_v3(
        _SMALL, 1024, "MobileNetV3Small", input_shape, alpha, minimalistic, include_top,
        weights, input_tensor, classes, pooling, dropout_rate, classifier_activation,
        include_preprocessing, name,
    )  # fmt: skip


def MobileNetV3Large(
    input_shape=None,
    alpha=1.0,
    minimalistic=False,
    include_top=True,
    weights=None,
    input_tensor=None,
    classes=1000,
    pooling=None,
    dropout_rate=0.2,
    classifier_activation="softmax",
    include_preprocessing=True,
    name="MobileNetV3Large",
) -> Model:
    return _mobilenet_v3(
        _LARGE, 1280, "MobileNetV3Large", input_shape, alpha, minimalistic, include_top,
        weights, input_tensor, classes, pooling, dropout_rate, classifier_activation,
        include_preprocessing, name,
    )  # fmt: skip


MobileNetV3Small.__doc__ = (
    """MobileNet V3 Small: a 3×3/2 convolution, 11 inverted residual blocks and a 1×1
    convolution to 576 channels, then (with the top) a 1024-channel 1×1 convolution and the
    ``logits`` (2,554,968 parameters at ``alpha=1``, Keras's count).
"""
    + _ARGS
    + """
    Example:
        >>> model = MobileNetV3Small(input_shape=(32, 32, 3), classes=10, alpha=0.75)
        >>> model.output_shape
        (None, 10)
        >>> model.count_params()
        1036802
"""
)
MobileNetV3Large.__doc__ = (
    """MobileNet V3 Large: a 3×3/2 convolution, 15 inverted residual blocks and a 1×1
    convolution to 960 channels, then (with the top) a 1280-channel 1×1 convolution and the
    ``logits`` (5,507,432 parameters at ``alpha=1``, Keras's count).
"""
    + _ARGS
)
