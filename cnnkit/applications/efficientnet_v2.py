"""EfficientNetV2 B0-B3, S, M, L (Tan & Le, 2021, "EfficientNetV2: smaller models and faster
training") with Keras's layer names and layout (``keras.applications.efficientnet_v2``).

The early stages use fused MBConv blocks (the expansion and depthwise convolutions fused into
one k×k convolution, no squeeze-and-excitation), the later ones EfficientNet's MBConv
blocks (:func:`cnnkit.applications.efficientnet.mbconv_block`, with ``padding="same"``
depthwise convolutions). With ``include_preprocessing`` (the default) the model scales its
0-255 input itself: the B variants to ImageNet's mean and standard deviation, S/M/L to
[-1, 1]; without it the images go in already scaled to [-1, 1].

Deliberate differences from Keras: ``weights`` defaults to None (nothing is downloaded), and
the blocks and preprocessing follow the builder, not the ``name`` argument (Keras looks both
up by the model name, so another ``name`` fails there).
"""

from __future__ import annotations

import math

from cnnkit.applications.efficientnet import (
    CONV_KERNEL_INITIALIZER,
    classifier_top,
    mbconv_block,
    squeeze_excite,
    stochastic_residual,
)
from cnnkit.applications.efficientnet import (
    preprocess_input as preprocess_input,  # Keras's pass-through
)
from cnnkit.applications.imagenet_utils import (
    application_input,
    decode_predictions,  # noqa: F401 (Keras's name)
    load_application_weights,
)
from cnnkit.layers import (
    Activation,
    BatchNormalization,
    Conv2D,
    Normalization,
    Rescaling,
)
from cnnkit.models import Model

_FUSED, _MBCONV = "fused", "mbconv"

# (block, kernel, repeats, filters in, filters out, expansion, squeeze-excite ratio, stride)
# of each stage
_B_STAGES = (
    (_FUSED, 3, 1, 32, 16, 1, 0, 1),
    (_FUSED, 3, 2, 16, 32, 4, 0, 2),
    (_FUSED, 3, 2, 32, 48, 4, 0, 2),
    (_MBCONV, 3, 3, 48, 96, 4, 0.25, 2),
    (_MBCONV, 3, 5, 96, 112, 6, 0.25, 1),
    (_MBCONV, 3, 8, 112, 192, 6, 0.25, 2),
)
_STAGES = {
    "b0": _B_STAGES,
    "b1": _B_STAGES,
    "b2": _B_STAGES,
    "b3": _B_STAGES,
    "s": (
        (_FUSED, 3, 2, 24, 24, 1, 0, 1),
        (_FUSED, 3, 4, 24, 48, 4, 0, 2),
        (_FUSED, 3, 4, 48, 64, 4, 0, 2),
        (_MBCONV, 3, 6, 64, 128, 4, 0.25, 2),
        (_MBCONV, 3, 9, 128, 160, 6, 0.25, 1),
        (_MBCONV, 3, 15, 160, 256, 6, 0.25, 2),
    ),
    "m": (
        (_FUSED, 3, 3, 24, 24, 1, 0, 1),
        (_FUSED, 3, 5, 24, 48, 4, 0, 2),
        (_FUSED, 3, 5, 48, 80, 4, 0, 2),
        (_MBCONV, 3, 7, 80, 160, 4, 0.25, 2),
        (_MBCONV, 3, 14, 160, 176, 6, 0.25, 1),
        (_MBCONV, 3, 18, 176, 304, 6, 0.25, 2),
        (_MBCONV, 3, 5, 304, 512, 6, 0.25, 1),
    ),
    "l": (
        (_FUSED, 3, 4, 32, 32, 1, 0, 1),
        (_FUSED, 3, 7, 32, 64, 4, 0, 2),
        (_FUSED, 3, 7, 64, 96, 4, 0, 2),
        (_MBCONV, 3, 10, 96, 192, 4, 0.25, 2),
        (_MBCONV, 3, 19, 192, 224, 6, 0.25, 1),
        (_MBCONV, 3, 25, 224, 384, 6, 0.25, 2),
        (_MBCONV, 3, 7, 384, 640, 6, 0.25, 1),
    ),
}
_BN_MOMENTUM = 0.9
_IMAGENET_MEAN_RGB = (0.485, 0.456, 0.406)
_IMAGENET_STDDEV_RGB = (0.229, 0.224, 0.225)


def _round_filters(filters, width, divisor=8):
    """``filters × width`` rounded to the nearest multiple of ``divisor`` (at least
    ``divisor``), as V2 rounds (without V1's 10 % guard)."""
    return max(divisor, int(filters * width + divisor / 2) // divisor * divisor)


def _efficientnet_v2(
    variant, width, depth, default_size, model, name, include_top, weights, input_tensor,
    input_shape, pooling, classes, classifier_activation, include_preprocessing,
):  # fmt: skip
    image, inputs, shape = application_input(
        weights, include_top, pooling, classes, input_shape, input_tensor,
        default_size=default_size, min_size=32, model=model,
    )  # fmt: skip
    x = image
    if include_preprocessing:
        if variant.startswith("b") and shape[-1] == 3:
            x = Rescaling(1.0 / 255, name="rescaling")(x)
            variance = [s**2 for s in _IMAGENET_STDDEV_RGB]
            x = Normalization(
                mean=list(_IMAGENET_MEAN_RGB), variance=variance, axis=3, name="normalization"
            )(x)
        else:
            x = Rescaling(1.0 / 128.0, offset=-1, name="rescaling")(x)
    stages = _STAGES[variant]
    x = Conv2D(
        _round_filters(stages[0][3], width), 3, strides=2, padding="same", use_bias=False,
        kernel_initializer=CONV_KERNEL_INITIALIZER, name="stem_conv",
    )(x)  # fmt: skip
    x = BatchNormalization(axis=3, momentum=_BN_MOMENTUM, name="stem_bn")(x)
    x = Activation("swish", name="stem_activation")(x)
    total, b = float(sum(stage[2] for stage in stages)), 0  # unscaled repeats, as Keras
    for i, (kind, kernel, repeats, f_in, f_out, expansion, se_ratio, strides) in enumerate(stages):
        f_in, f_out = _round_filters(f_in, width), _round_filters(f_out, width)
        for j in range(math.ceil(depth * repeats)):
            args = (
                x, f_in if j == 0 else f_out, f_out, expansion, kernel, strides if j == 0 else 1,
                se_ratio, 0.2 * b / total, f"block{i + 1}{chr(97 + j)}_",
            )  # fmt: skip
            if kind == _FUSED:
                x = _fused_mbconv_block(*args)
            else:
                x = mbconv_block(
                    *args, momentum=_BN_MOMENTUM, depthwise_name="dwconv2", pad_strided=False
                )
            b += 1
    x = Conv2D(
        _round_filters(1280, width), 1, padding="same", use_bias=False,
        kernel_initializer=CONV_KERNEL_INITIALIZER, name="top_conv",
    )(x)  # fmt: skip
    x = BatchNormalization(axis=3, momentum=_BN_MOMENTUM, name="top_bn")(x)
    x = Activation("swish", name="top_activation")(x)
    x = classifier_top(x, include_top, pooling, 0.2, classes, classifier_activation)
    return load_application_weights(Model(inputs, x, name=name), weights)


def _fused_mbconv_block(
    inputs, filters_in, filters_out, expansion, kernel, strides, se_ratio, drop_rate, prefix
):
    """Fused MBConv: a k×k (strided) convolution to ``expansion * filters_in`` channels, an
    optional squeeze-and-excitation and a 1×1 projection; with ``expansion == 1`` the one
    k×k convolution is the projection (then followed by swish). Residual as MBConv's."""
    x = inputs
    if expansion != 1:
        x = Conv2D(
            filters_in * expansion, kernel, strides=strides, padding="same", use_bias=False,
            kernel_initializer=CONV_KERNEL_INITIALIZER, name=prefix + "expand_conv",
        )(x)  # fmt: skip
        x = BatchNormalization(axis=3, momentum=_BN_MOMENTUM, name=prefix + "expand_bn")(x)
        x = Activation("swish", name=prefix + "expand_activation")(x)
    if 0 < se_ratio <= 1:
        x = squeeze_excite(x, max(1, int(filters_in * se_ratio)), prefix)
    fused = expansion == 1
    x = Conv2D(
        filters_out, kernel if fused else 1, strides=strides if fused else 1, padding="same",
        use_bias=False, kernel_initializer=CONV_KERNEL_INITIALIZER, name=prefix + "project_conv",
    )(x)  # fmt: skip
    x = BatchNormalization(axis=3, momentum=_BN_MOMENTUM, name=prefix + "project_bn")(x)
    if fused:
        x = Activation("swish", name=prefix + "project_activation")(x)
    return stochastic_residual(x, inputs, strides, drop_rate, prefix)


_ARGS = """
    Args:
        include_top: whether to add the average pooling, dropout and ``Dense(classes)`` top.
        weights: None (random initialization) or the path of a weights file for this
            architecture (Keras's ``.weights.h5``, or Keras's published legacy ``.h5``).
        input_tensor: optional symbolic tensor to use as the image input.
        input_shape: ``(height, width, channels)``; default ``({size}, {size}, 3)`` with the
            top, ``(None, None, 3)`` without; at least 32×32.
        pooling: with ``include_top=False``: None (the 4-D feature map), ``"avg"`` or
            ``"max"``.
        classes: number of classes, with ``include_top=True``.
        classifier_activation: activation of the last layer (None for logits).
        include_preprocessing: whether the model's first layers scale 0-255 pixels
            ({preprocessing}); without them the input is expected in [-1, 1].
        name: model name.

    Returns:
        An uncompiled functional :class:`~cnnkit.models.Model` with Keras's layer names,
        so Keras's weight files for the architecture load into it.
"""

# Keras's name: (stages, width, depth, default size, Keras's parameter count)
_VARIANTS = {
    "B0": ("b0", 1.0, 1.0, 224, "7,200,312"),
    "B1": ("b1", 1.0, 1.1, 240, "8,212,124"),
    "B2": ("b2", 1.1, 1.2, 260, "10,178,374"),
    "B3": ("b3", 1.2, 1.4, 300, "14,467,622"),
    "S": ("s", 1.0, 1.0, 384, "21,612,360"),
    "M": ("m", 1.0, 1.0, 480, "54,431,388"),
    "L": ("l", 1.0, 1.0, 480, "119,027,848"),
}


def _builder(suffix):
    variant, width, depth, size, count = _VARIANTS[suffix]
    model = f"EfficientNetV2{suffix}"

    def builder(
        include_top=True,
        weights=None,
        input_tensor=None,
        input_shape=None,
        pooling=None,
        classes=1000,
        classifier_activation="softmax",
        include_preprocessing=True,
        name=f"efficientnetv2-{variant}",
    ) -> Model:
        return _efficientnet_v2(
            variant, width, depth, size, model, name, include_top, weights, input_tensor,
            input_shape, pooling, classes, classifier_activation, include_preprocessing,
        )  # fmt: skip

    scaled = f" with width × {width} and depth × {depth}" if variant in ("b1", "b2", "b3") else ""
    preprocessing = (
        "to ImageNet's mean and standard deviation" if variant.startswith("b") else "to [-1, 1]"
    )
    builder.__name__ = builder.__qualname__ = model
    summary = (
        f"EfficientNetV2-{variant.upper()}{scaled}, for {size}×{size} images ({count}\n"
        "    parameters with the 1000-class top, Keras's count).\n"
    )
    builder.__doc__ = summary + _ARGS.format(size=size, preprocessing=preprocessing)
    return builder


EfficientNetV2B0 = _builder("B0")
EfficientNetV2B1 = _builder("B1")
EfficientNetV2B2 = _builder("B2")
EfficientNetV2B3 = _builder("B3")
EfficientNetV2S = _builder("S")
EfficientNetV2M = _builder("M")
EfficientNetV2L = _builder("L")
