"""Residual networks (He et al., 2015): ResNet18 for ImageNet, and the small CIFAR ResNets."""

from __future__ import annotations

from cnnkit.applications.imagenet_utils import (
    application_input,
    decode_predictions,  # noqa: F401 (Keras's name)
    load_application_weights,
    pool_features,
)
from cnnkit.applications.imagenet_utils import preprocess_input as imagenet_preprocess
from cnnkit.layers import (
    Activation,
    Add,
    BatchNormalization,
    Conv2D,
    Dense,
    GlobalAveragePooling2D,
    MaxPooling2D,
    ZeroPadding2D,
)
from cnnkit.models import Model

# Keras's ResNet builders use this epsilon (cuDNN needs at least 1e-5; torchvision uses 1e-5).
_BN_EPSILON = 1.001e-5


def ResNet18(
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="resnet18",
) -> Model:
    """Build ResNet-18 of "Deep residual learning for image recognition" (He et al., 2015).

    Laid out as torchvision's ``resnet18``: stem ``conv 7×7/2 (64) → BN → relu →
    max pool 3×3/2``; four stages of two basic blocks with 64, 128, 256 and 512
    filters (stages 2–4 start with stride 2); global average pooling and
    ``Dense(classes)``. A basic block is ``conv 3×3 → BN → relu → conv 3×3 → BN``,
    added (``Add``) to the shortcut, then relu; the shortcut is the input, or
    ``conv 1×1/2 → BN`` where the block changes size (torchvision's option B).
    Convolutions have no bias. Strided layers pad explicitly (``ZeroPadding2D``
    then ``"valid"``), with torchvision's symmetric padding, so a 224×224 input
    gives 112, 56, 28, 14 and 7 pixel maps. Any input size works: 32×32 ends in
    a 1×1×512 map.

    Parameters at 1000 classes: 11,689,512 trainable, torchvision's count
    (PyTorch counts BN's gamma and beta as parameters and its running statistics
    as buffers), plus 9,600 non-trainable moving means and variances
    (2 × 4,800 BN channels): ``count_params()`` is 11,699,112.

    Args:
        include_top: whether to add the average pooling and the classifier.
        weights: None (random initialization) or the path of a weights file (nothing is
            downloaded).
        input_tensor: optional symbolic tensor to use as the image input.
        input_shape: ``(height, width, channels)``; default ``(224, 224, 3)`` with the
            top, ``(None, None, 3)`` without.
        pooling: with ``include_top=False``: None (the 4-D feature map), ``"avg"`` or
            ``"max"``.
        classes: number of classes, with ``include_top=True``.
        classifier_activation: activation of the last layer (None for logits).
        name: model name.

    Returns:
        An uncompiled functional :class:`~cnnkit.models.Model`.

    Raises:
        ValueError: ``weights`` is neither None nor an existing file, or ``pooling`` is unknown.

    Example:
        >>> ResNet18(input_shape=(32, 32, 3), classes=10).output_shape
        (None, 10)
    """
    image, inputs, shape = application_input(
        weights, include_top, pooling, classes, input_shape, input_tensor,
        default_size=224, min_size=1, model="ResNet18",
    )  # fmt: skip
    x = ZeroPadding2D(3, name="conv1_pad")(image)
    x = Conv2D(64, 7, strides=2, use_bias=False, name="conv1_conv")(x)
    x = BatchNormalization(epsilon=_BN_EPSILON, name="conv1_bn")(x)
    x = Activation("relu", name="conv1_relu")(x)
    x = ZeroPadding2D(1, name="pool1_pad")(x)  # zeros act as -inf: the input is >= 0
    x = MaxPooling2D(3, strides=2, name="pool1_pool")(x)
    for stage, filters in enumerate((64, 128, 256, 512), 2):
        for block in (1, 2):
            strides = 2 if stage > 2 and block == 1 else 1
            x = _basic_block(x, filters, strides, f"conv{stage}_block{block}")
    if include_top:
        x = GlobalAveragePooling2D(name="avg_pool")(x)
        x = Dense(classes, activation=classifier_activation, name="predictions")(x)
    else:
        x = pool_features(x, pooling)
    return load_application_weights(Model(inputs, x, name=name), weights)


def _basic_block(x, filters, strides, name):
    """relu(BN(conv(relu(BN(conv(x))))) + shortcut(x)), torchvision's BasicBlock."""
    if strides == 1 and x.shape[-1] == filters:
        shortcut = x
    else:
        shortcut = Conv2D(filters, 1, strides=strides, use_bias=False, name=f"{name}_0_conv")(x)
        shortcut = BatchNormalization(epsilon=_BN_EPSILON, name=f"{name}_0_bn")(shortcut)
    if strides == 1:
        y = Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_1_conv")(x)
    else:
        y = ZeroPadding2D(1, name=f"{name}_1_pad")(x)
        y = Conv2D(filters, 3, strides=strides, use_bias=False, name=f"{name}_1_conv")(y)
    y = BatchNormalization(epsilon=_BN_EPSILON, name=f"{name}_1_bn")(y)
    y = Activation("relu", name=f"{name}_1_relu")(y)
    y = Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_2_conv")(y)
    y = BatchNormalization(epsilon=_BN_EPSILON, name=f"{name}_2_bn")(y)
    x = Add(name=f"{name}_add")([shortcut, y])
    return Activation("relu", name=f"{name}_out")(x)


def resnet_small(
    depth=20,
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=10,
    classifier_activation="softmax",
    name=None,
) -> Model:
    """Build a CIFAR ResNet of depth ``6n + 2`` (He et al., 2015, section 4.2).

    Laid out as ``resnet_v1`` of Keras's "Train a ResNet on CIFAR-10" example:
    ``conv 3×3 (16) → BN → relu``; three stages of ``n`` basic blocks with 16, 32
    and 64 filters (stages 2 and 3 start with stride 2); global average pooling and
    ``Dense(classes)``. A block is ``conv 3×3 → BN → relu → conv 3×3 → BN``, added
    to the shortcut, then relu; where the size changes the shortcut is a strided
    1×1 convolution (no BN). Convolutions have biases and ``he_normal`` kernels,
    all with ``"same"`` padding, so any input size works (32×32 → 32, 16, 8 pixel
    maps; 28×28 → 28, 14, 7).

    Parameters at 10 classes: depth 20 has 274,442 (273,066 trainable), the count
    of the Keras example's ResNet20 v1; depth 8 has 78,666. Deviations from the
    example: no L2 kernel regulariser, and global average pooling in place of its
    ``AveragePooling2D(8) → Flatten`` (the same on 32×32 inputs). The paper's CIFAR
    nets pad the identity with zeros instead of a 1×1 convolution (option A).

    Args:
        depth: number of weighted layers, ``6n + 2``: 8, 14, 20, 32, 44, 56, 110...
        include_top, weights, input_tensor, pooling, classes, classifier_activation:
            as :func:`ResNet18`.
        input_shape: ``(height, width, channels)``; default ``(32, 32, 3)`` with the
            top, ``(None, None, 3)`` without.
        name: model name; default ``f"resnet{depth}"``.

    Returns:
        An uncompiled functional :class:`~cnnkit.models.Model`.

    Raises:
        ValueError: ``depth`` is not ``6n + 2`` with ``n >= 1``, or as :func:`ResNet18`.

    Example:
        >>> resnet_small(20).count_params()
        274442
    """
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 8 or (depth - 2) % 6:
        raise ValueError(
            "Invalid value for argument `depth`. Expected 6n + 2 with n >= 1 (8, 14, 20, 32, "
            f"44, 56, 110, ...). Received: depth={depth!r}"
        )
    image, inputs, shape = application_input(
        weights, include_top, pooling, classes, input_shape, input_tensor,
        default_size=32, min_size=1, model=f"resnet_small(depth={depth})",
    )  # fmt: skip
    x = _cifar_conv(image, 16, 3, 1, "conv1")
    x = BatchNormalization(name="conv1_bn")(x)
    x = Activation("relu", name="conv1_relu")(x)
    for stage, filters in enumerate((16, 32, 64), 2):
        for block in range(1, (depth - 2) // 6 + 1):
            strides = 2 if stage > 2 and block == 1 else 1
            block_name = f"conv{stage}_block{block}"
            y = _cifar_conv(x, filters, 3, strides, f"{block_name}_1_conv")
            y = BatchNormalization(name=f"{block_name}_1_bn")(y)
            y = Activation("relu", name=f"{block_name}_1_relu")(y)
            y = _cifar_conv(y, filters, 3, 1, f"{block_name}_2_conv")
            y = BatchNormalization(name=f"{block_name}_2_bn")(y)
            if strides != 1:
                x = _cifar_conv(x, filters, 1, strides, f"{block_name}_0_conv")
            x = Add(name=f"{block_name}_add")([x, y])
            x = Activation("relu", name=f"{block_name}_out")(x)
    if include_top:
        x = GlobalAveragePooling2D(name="avg_pool")(x)
        x = Dense(
            classes,
            activation=classifier_activation,
            kernel_initializer="he_normal",
            name="predictions",
        )(x)
    else:
        x = pool_features(x, pooling)
    return load_application_weights(Model(inputs, x, name=name or f"resnet{depth}"), weights)


def _cifar_conv(x, filters, kernel_size, strides, name):
    return Conv2D(
        filters,
        kernel_size,
        strides=strides,
        padding="same",
        kernel_initializer="he_normal",
        name=name,
    )(x)


# -- ResNet50, ResNet101, ResNet152: Keras's bottleneck ResNets ---------------------------------


def _resnet_v1(
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
    """The bottleneck ResNet of He et al. (2015) with Keras's layer names and layout.

    Stem ``pad 3 → conv 7×7/2 (64, bias) → BN → relu → pad 1 → max pool 3×3/2``, then four
    stages of bottleneck blocks (``blocks`` per stage) with 64, 128, 256 and 512 filters
    (×4 at each block's output); stages 3-5 start with stride 2 in the first 1×1 conv.
    """
    image, inputs, shape = application_input(
        weights, include_top, pooling, classes, input_shape, input_tensor,
        default_size=224, min_size=32, model=name,
    )  # fmt: skip
    x = ZeroPadding2D(3, name="conv1_pad")(image)
    x = Conv2D(64, 7, strides=2, name="conv1_conv")(x)
    x = BatchNormalization(epsilon=_BN_EPSILON, name="conv1_bn")(x)
    x = Activation("relu", name="conv1_relu")(x)
    x = ZeroPadding2D(1, name="pool1_pad")(x)
    x = MaxPooling2D(3, strides=2, name="pool1_pool")(x)
    for stage, (filters, count) in enumerate(zip((64, 128, 256, 512), blocks), 2):
        for block in range(1, count + 1):
            strides = 2 if stage > 2 and block == 1 else 1
            x = _bottleneck(x, filters, strides, block == 1, f"conv{stage}_block{block}")
    model = Model(inputs, _top(x, include_top, pooling, classes, classifier_activation), name=name)
    return load_application_weights(model, weights)


def _bottleneck(x, filters, strides, projection, name):
    """relu(BN(conv1×1(relu(BN(conv3×3(relu(BN(conv1×1/s(x)))))))) + shortcut), Keras's block1."""
    if projection:
        shortcut = Conv2D(4 * filters, 1, strides=strides, name=f"{name}_0_conv")(x)
        shortcut = BatchNormalization(epsilon=_BN_EPSILON, name=f"{name}_0_bn")(shortcut)
    else:
        shortcut = x
    y = Conv2D(filters, 1, strides=strides, name=f"{name}_1_conv")(x)
    y = BatchNormalization(epsilon=_BN_EPSILON, name=f"{name}_1_bn")(y)
    y = Activation("relu", name=f"{name}_1_relu")(y)
    y = Conv2D(filters, 3, padding="same", name=f"{name}_2_conv")(y)
    y = BatchNormalization(epsilon=_BN_EPSILON, name=f"{name}_2_bn")(y)
    y = Activation("relu", name=f"{name}_2_relu")(y)
    y = Conv2D(4 * filters, 1, name=f"{name}_3_conv")(y)
    y = BatchNormalization(epsilon=_BN_EPSILON, name=f"{name}_3_bn")(y)
    x = Add(name=f"{name}_add")([shortcut, y])
    return Activation("relu", name=f"{name}_out")(x)


def _top(x, include_top, pooling, classes, classifier_activation):
    if include_top:
        x = GlobalAveragePooling2D(name="avg_pool")(x)
        return Dense(classes, activation=classifier_activation, name="predictions")(x)
    return pool_features(x, pooling)


_APPLICATION_ARGS = """
    Args:
        include_top: whether to add the average pooling and the ``Dense(classes)`` top.
        weights: None (random initialization) or the path of a weights file for this
            architecture (Keras's ``.weights.h5``, or a legacy Keras ``.h5`` weights file).
        input_tensor: optional symbolic tensor to use as the image input.
        input_shape: ``(height, width, channels)``; default ``(224, 224, 3)`` with the
            top, ``(None, None, 3)`` without; at least 32×32.
        pooling: with ``include_top=False``: None (the 4-D feature map), ``"avg"`` or
            ``"max"``.
        classes: number of classes, with ``include_top=True``.
        classifier_activation: activation of the last layer (None for logits).
        name: model name.

    Returns:
        An uncompiled functional :class:`~cnnkit.models.Model` with Keras's layer names,
        so Keras's weight files for the architecture load into it.
"""


def ResNet50(
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="resnet50",
) -> Model:
    return _resnet_v1(
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


def ResNet101(
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="resnet101",
) -> Model:
    return _resnet_v1(
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


def ResNet152(
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="resnet152",
) -> Model:
    return _resnet_v1(
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


ResNet50.__doc__ = (
    """ResNet-50 (He et al., 2015, "Deep residual learning for image recognition").

    Bottleneck blocks 3, 4, 6, 3; 25,636,712 parameters with the 1000-class top, Keras's
    count.
"""
    + _APPLICATION_ARGS
    + """
    Example:
        >>> ResNet50(weights=None, input_shape=(32, 32, 3), classes=10).output_shape
        (None, 10)
"""
)
ResNet101.__doc__ = (
    """ResNet-101: bottleneck blocks 3, 4, 23, 3 (see :func:`ResNet50`).
"""
    + _APPLICATION_ARGS
)
ResNet152.__doc__ = (
    """ResNet-152: bottleneck blocks 3, 8, 36, 3 (see :func:`ResNet50`).
"""
    + _APPLICATION_ARGS
)


def preprocess_input(x, data_format=None):
    """Keras's ``"caffe"`` preprocessing of ResNet V1: RGB → BGR, minus the ImageNet mean
    pixel (103.939, 116.779, 123.68), no scaling. Returns a new float32 array."""
    return imagenet_preprocess(x, mode="caffe", data_format=data_format)
