"""EfficientNet B0-B7 (Tan & Le, 2019, "EfficientNet: rethinking model scaling for
convolutional neural networks") with Keras's layer names and layout
(``keras.applications.efficientnet``).

B0 is a stack of mobile inverted bottleneck blocks (MBConv: expand 1×1 → depthwise k×k →
squeeze-and-excitation → project 1×1, with stochastic depth on the residual); B1-B7 scale
its width (filters) and depth (blocks per stage) by fixed coefficients. The input
preprocessing is part of the model: ``Rescaling(1/255)`` then a ``Normalization`` whose
mean and variance are weights (set by the weights file), so images go in as 0-255 pixels
and :func:`preprocess_input` passes them through.

The MBConv block, its squeeze-and-excitation and the classifier top are shared with
:mod:`cnnkit.applications.efficientnet_v2`.

Deliberate differences from Keras: ``weights`` defaults to None (nothing is downloaded); the
input layers are named ``rescaling`` and ``normalization`` (Keras numbers them per session), so
weight files match them by name in any session; a legacy ``.h5`` file (Keras's published
weights) gets the extra ``Rescaling`` Keras adds for ``weights="imagenet"``.
"""

from __future__ import annotations

import math

from cnnkit.applications.imagenet_utils import (
    application_input,
    decode_predictions,  # noqa: F401 (Keras's name)
    is_legacy_weights_file,
    load_application_weights,
    pool_features,
)
from cnnkit.applications.mobilenet_v2 import _correct_pad, _make_divisible
from cnnkit.layers import (
    Activation,
    BatchNormalization,
    Conv2D,
    Dense,
    DepthwiseConv2D,
    Dropout,
    GlobalAveragePooling2D,
    Normalization,
    Rescaling,
    Reshape,
    ZeroPadding2D,
    add,
    multiply,
)
from cnnkit.models import Model

# Keras's initializers for these models: He-style (fan-out) convolutions, a uniform classifier
CONV_KERNEL_INITIALIZER = {
    "class_name": "VarianceScaling",
    "config": {"scale": 2.0, "mode": "fan_out", "distribution": "truncated_normal"},
}
DENSE_KERNEL_INITIALIZER = {
    "class_name": "VarianceScaling",
    "config": {"scale": 1.0 / 3.0, "mode": "fan_out", "distribution": "uniform"},
}

# (kernel, repeats, filters in, filters out, expansion, stride) of B0's seven stages; every
# block squeezes and excites with ratio 0.25
_B0_STAGES = (
    (3, 1, 32, 16, 1, 1),
    (3, 2, 16, 24, 6, 2),
    (5, 2, 24, 40, 6, 2),
    (3, 3, 40, 80, 6, 2),
    (5, 3, 80, 112, 6, 1),
    (5, 4, 112, 192, 6, 2),
    (3, 1, 192, 320, 6, 1),
)

# Keras's published weight files store the ImageNet standard deviations as the
# normalisation's variance; Keras's ``weights="imagenet"`` corrects that with one more
# rescaling by 1/sqrt(stddev), and so does a legacy ``.h5`` weights file here.
_IMAGENET_STDDEV_RGB = (0.229, 0.224, 0.225)


def _efficientnet(
    width, depth, default_size, dropout_rate, model, name, include_top, weights,
    input_tensor, input_shape, pooling, classes, classifier_activation,
):  # fmt: skip
    image, inputs, _ = application_input(
        weights, include_top, pooling, classes, input_shape, input_tensor,
        default_size=default_size, min_size=32, model=model,
    )  # fmt: skip
    x = Rescaling(1.0 / 255.0, name="rescaling")(image)
    x = Normalization(axis=3, name="normalization")(x)
    if is_legacy_weights_file(weights):
        scale = [1.0 / math.sqrt(s) for s in _IMAGENET_STDDEV_RGB]
        x = Rescaling(scale, name="rescaling_1")(x)
    x = ZeroPadding2D(_correct_pad(x.shape[1:3], 3), name="stem_conv_pad")(x)
    x = Conv2D(
        _make_divisible(32 * width), 3, strides=2, padding="valid", use_bias=False,
        kernel_initializer=CONV_KERNEL_INITIALIZER, name="stem_conv",
    )(x)  # fmt: skip
    x = BatchNormalization(axis=3, name="stem_bn")(x)
    x = Activation("swish", name="stem_activation")(x)
    stages = [
        (kernel, math.ceil(depth * repeats), _make_divisible(f_in * width),
         _make_divisible(f_out * width), expansion, strides)
        for kernel, repeats, f_in, f_out, expansion, strides in _B0_STAGES
    ]  # fmt: skip
    total, b = float(sum(stage[1] for stage in stages)), 0
    for i, (kernel, repeats, f_in, f_out, expansion, strides) in enumerate(stages):
        for j in range(repeats):
            x = mbconv_block(
                x, f_in if j == 0 else f_out, f_out, expansion, kernel,
                strides if j == 0 else 1, 0.25, 0.2 * b / total, f"block{i + 1}{chr(97 + j)}_",
            )  # fmt: skip
            b += 1
    x = Conv2D(
        _make_divisible(1280 * width), 1, padding="same", use_bias=False,
        kernel_initializer=CONV_KERNEL_INITIALIZER, name="top_conv",
    )(x)  # fmt: skip
    x = BatchNormalization(axis=3, name="top_bn")(x)
    x = Activation("swish", name="top_activation")(x)
    x = classifier_top(x, include_top, pooling, dropout_rate, classes, classifier_activation)
    return load_application_weights(Model(inputs, x, name=name), weights)


def mbconv_block(
    inputs, filters_in, filters_out, expansion, kernel, strides, se_ratio, drop_rate, prefix,
    *, momentum=0.99, depthwise_name="dwconv", pad_strided=True,
):  # fmt: skip
    """Keras's EfficientNet MBConv block on ``inputs`` (``filters_in`` channels), its layers
    named ``prefix + ...``: a 1×1 expansion to ``expansion * filters_in`` channels (when
    ``expansion != 1``), a ``kernel``×``kernel`` depthwise convolution with ``strides``
    (explicitly zero-padded when strided and ``pad_strided``; ``padding="same"``
    otherwise), squeeze-and-excitation to ``int(filters_in * se_ratio)`` channels, a 1×1
    projection to ``filters_out``, and the residual (with per-sample stochastic depth
    ``drop_rate``) when the shapes allow. Every convolution is followed by batch
    normalisation (``momentum``) and all but the projection by swish."""
    filters = filters_in * expansion
    x = inputs
    if expansion != 1:
        x = Conv2D(
            filters, 1, padding="same", use_bias=False,
            kernel_initializer=CONV_KERNEL_INITIALIZER, name=prefix + "expand_conv",
        )(x)  # fmt: skip
        x = BatchNormalization(axis=3, momentum=momentum, name=prefix + "expand_bn")(x)
        x = Activation("swish", name=prefix + "expand_activation")(x)
    padding = "same"
    if strides == 2 and pad_strided:
        x = ZeroPadding2D(_correct_pad(x.shape[1:3], kernel), name=prefix + "dwconv_pad")(x)
        padding = "valid"
    x = DepthwiseConv2D(
        kernel, strides=strides, padding=padding, use_bias=False,
        depthwise_initializer=CONV_KERNEL_INITIALIZER, name=prefix + depthwise_name,
    )(x)  # fmt: skip
    x = BatchNormalization(axis=3, momentum=momentum, name=prefix + "bn")(x)
    x = Activation("swish", name=prefix + "activation")(x)
    if 0 < se_ratio <= 1:
        x = squeeze_excite(x, max(1, int(filters_in * se_ratio)), prefix)
    x = Conv2D(
        filters_out, 1, padding="same", use_bias=False,
        kernel_initializer=CONV_KERNEL_INITIALIZER, name=prefix + "project_conv",
    )(x)  # fmt: skip
    x = BatchNormalization(axis=3, momentum=momentum, name=prefix + "project_bn")(x)
    return stochastic_residual(x, inputs, strides, drop_rate, prefix)


def squeeze_excite(x, filters_se, prefix):
    """Squeeze-and-excitation (Hu et al., 2018): ``x`` times per-channel gates computed from
    its global average (a swish 1×1 convolution to ``filters_se`` channels, then a sigmoid
    one back), with Keras's EfficientNet layer names."""
    filters = x.shape[-1]
    se = GlobalAveragePooling2D(name=prefix + "se_squeeze")(x)
    se = Reshape((1, 1, filters), name=prefix + "se_reshape")(se)
    se = Conv2D(
        filters_se, 1, padding="same", activation="swish",
        kernel_initializer=CONV_KERNEL_INITIALIZER, name=prefix + "se_reduce",
    )(se)  # fmt: skip
    se = Conv2D(
        filters, 1, padding="same", activation="sigmoid",
        kernel_initializer=CONV_KERNEL_INITIALIZER, name=prefix + "se_expand",
    )(se)  # fmt: skip
    return multiply([x, se], name=prefix + "se_excite")


def stochastic_residual(x, inputs, strides, drop_rate, prefix):
    """``x + inputs`` when the block keeps the shape (stride 1, same channels), with
    stochastic depth: in training the whole branch of a sample is dropped with probability
    ``drop_rate`` (``Dropout(noise_shape=(None, 1, 1, 1))``); else ``x``."""
    if strides != 1 or inputs.shape[-1] != x.shape[-1]:
        return x
    if drop_rate > 0:
        x = Dropout(drop_rate, noise_shape=(None, 1, 1, 1), name=prefix + "drop")(x)
    return add([x, inputs], name=prefix + "add")


def classifier_top(x, include_top, pooling, dropout_rate, classes, classifier_activation):
    """EfficientNet's head: average pooling, dropout and the ``predictions`` layer, or the
    features ``pooling``-pooled (``avg_pool``/``max_pool``) without the top."""
    if not include_top:
        return pool_features(x, pooling, name=f"{pooling}_pool")
    x = GlobalAveragePooling2D(name="avg_pool")(x)
    if dropout_rate > 0:
        x = Dropout(dropout_rate, name="top_dropout")(x)
    return Dense(
        classes, activation=classifier_activation, kernel_initializer=DENSE_KERNEL_INITIALIZER,
        name="predictions",
    )(x)  # fmt: skip


_ARGS = """
    Args:
        include_top: whether to add the average pooling, dropout and ``Dense(classes)`` top.
        weights: None (random initialization) or the path of a weights file for this
            architecture (Keras's ``.weights.h5``, or Keras's published ``.h5`` file, e.g.
            ``efficientnetb0.h5``/``efficientnetb0_notop.h5``; a legacy ``.h5`` file gets
            Keras's ``weights="imagenet"`` input layers, with the extra ``Rescaling`` that
            corrects the variance those files store).
        input_tensor: optional symbolic tensor to use as the image input.
        input_shape: ``(height, width, channels)``; default ``({size}, {size}, 3)`` with the
            top, ``(None, None, 3)`` without; at least 32×32.
        pooling: with ``include_top=False``: None (the 4-D feature map), ``"avg"`` or
            ``"max"``.
        classes: number of classes, with ``include_top=True``.
        classifier_activation: activation of the last layer (None for logits).
        name: model name.

    Input: float images of 0-255 pixels (the scaling is the model's first layers).

    Returns:
        An uncompiled functional :class:`~cnnkit.models.Model` with Keras's layer names,
        so Keras's weight files for the architecture load into it.
"""

# name: (width, depth, default size, dropout before the classifier, Keras's parameter count)
_VARIANTS = {
    "B0": (1.0, 1.0, 224, 0.2, "5,330,571"),
    "B1": (1.0, 1.1, 240, 0.2, "7,856,239"),
    "B2": (1.1, 1.2, 260, 0.3, "9,177,569"),
    "B3": (1.2, 1.4, 300, 0.3, "12,320,535"),
    "B4": (1.4, 1.8, 380, 0.4, "19,466,823"),
    "B5": (1.6, 2.2, 456, 0.4, "30,562,527"),
    "B6": (1.8, 2.6, 528, 0.5, "43,265,143"),
    "B7": (2.0, 3.1, 600, 0.5, "66,658,687"),
}


def _builder(variant):
    width, depth, size, dropout, count = _VARIANTS[variant]
    model, default_name = f"EfficientNet{variant}", f"efficientnet{variant.lower()}"

    def builder(
        include_top=True,
        weights=None,
        input_tensor=None,
        input_shape=None,
        pooling=None,
        classes=1000,
        classifier_activation="softmax",
        name=default_name,
    ) -> Model:
        return _efficientnet(
            width, depth, size, dropout, model, name, include_top, weights, input_tensor,
            input_shape, pooling, classes, classifier_activation,
        )  # fmt: skip

    builder.__name__ = builder.__qualname__ = model
    builder.__doc__ = f"""EfficientNet-{variant}: B0 with width × {width} and depth × {depth}, for
    {size}×{size} images ({count} parameters with the 1000-class top, Keras's count).
""" + _ARGS.format(size=size)
    return builder


EfficientNetB0 = _builder("B0")
EfficientNetB1 = _builder("B1")
EfficientNetB2 = _builder("B2")
EfficientNetB3 = _builder("B3")
EfficientNetB4 = _builder("B4")
EfficientNetB5 = _builder("B5")
EfficientNetB6 = _builder("B6")
EfficientNetB7 = _builder("B7")


def preprocess_input(x, data_format=None):
    """Keras's pass-through: EfficientNet scales its 0-255 input itself (its first layers),
    so ``x`` is returned unchanged.

    Example:
        >>> preprocess_input(np.array([0.0, 255.0]))
        array([  0., 255.])
    """
    return x
