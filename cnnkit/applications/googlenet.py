"""GoogLeNet / Inception v1 (Szegedy et al., 2014): a stack of nine inception modules."""

from __future__ import annotations

from cnnkit.applications.imagenet_utils import (
    application_input,
    load_application_weights,
    pool_features,
)
from cnnkit.layers import (
    Activation,
    BatchNormalization,
    Concatenate,
    Conv2D,
    Dense,
    Dropout,
    GlobalAveragePooling2D,
    MaxPooling2D,
    ZeroPadding2D,
)
from cnnkit.models import Model

# name: (1×1, 3×3 reduce, 3×3, 5×5 reduce, 5×5, pool projection) filters, from the paper's
# table 1 (and torchvision's googlenet.py, which has the same numbers).
INCEPTION_FILTERS = {
    "3a": (64, 96, 128, 16, 32, 32),
    "3b": (128, 128, 192, 32, 96, 64),
    "4a": (192, 96, 208, 16, 48, 64),
    "4b": (160, 112, 224, 24, 64, 64),
    "4c": (128, 128, 256, 24, 64, 64),
    "4d": (112, 144, 288, 32, 64, 64),
    "4e": (256, 160, 320, 32, 128, 128),
    "5a": (256, 160, 320, 32, 128, 128),
    "5b": (384, 192, 384, 48, 128, 128),
}


def GoogLeNet(
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    batch_norm=False,
    name="googlenet",
) -> Model:
    """Build GoogLeNet (Inception v1) of "Going deeper with convolutions" (Szegedy et al., 2014).

    Stem ``conv1 7×7/2 (64) → max pool 3/2 → conv2 1×1 (64) → conv3 3×3 (192) → max
    pool 3/2``; inception modules 3a, 3b, max pool 3/2, 4a–4e, max pool, 5a, 5b;
    then global average pooling, dropout and ``Dense(classes)``. An inception
    module runs four branches on the same input and joins them with
    ``Concatenate`` along the channels: a 1×1 convolution; 1×1 then 3×3; 1×1 then
    "5×5"; 3×3 max pooling (stride 1) then a 1×1 projection (filters in
    :data:`INCEPTION_FILTERS`). On 224×224×3 the maps are 112, 56, 28, 14 and 7
    pixels wide, as in the paper; pools use ``"same"`` padding (torchvision's
    ``ceil_mode=True`` at these even sizes), and conv1 pads 3 pixels each side
    before a valid convolution, as torchvision does. Every layer keeps at least a
    1×1 map, so any input size works (32×32 ends in a 1×1×1024 map).

    Two variants:

    * ``batch_norm=False`` — the paper: convolutions with biases and relu, true 5×5
      convolutions, a 3×3/2 pool before 5a, dropout 0.4. 6,998,552 parameters at
      1000 classes. The two auxiliary classifiers (used only in training) and the
      local response normalisation layers of the stem are left out.
    * ``batch_norm=True`` — torchvision's ``googlenet(aux_logits=False)``: every
      convolution is ``Conv2D(use_bias=False) → BatchNormalization(epsilon=1e-3) →
      relu``; the "5×5" branch uses a **3×3** convolution (torchvision's known
      deviation, pytorch/vision#906, kept so the weights and counts match); a 2×2/2
      pool before 5a; dropout 0.2. torchvision counts 6,624,904 parameters: those
      are the *trainable* ones here (kernels, biases, and BN's gamma and beta).
      Keras's BatchNormalization also stores a moving mean and variance per
      channel (non-trainable; buffers, not parameters, in PyTorch), which adds
      2 × 7,280 = 14,560 to ``count_params()``: 6,639,464.

    Args:
        include_top: whether to add the dropout and the classifier.
        weights: None (random initialization) or the path of a weights file (nothing is
            downloaded).
        input_tensor: optional symbolic tensor to use as the image input.
        input_shape: ``(height, width, channels)``; default ``(224, 224, 3)`` with the
            top, ``(None, None, 3)`` without.
        pooling: with ``include_top=False``: None (the 4-D feature map), ``"avg"`` or
            ``"max"``.
        classes: number of classes, with ``include_top=True``.
        classifier_activation: activation of the last layer (None for logits).
        batch_norm: torchvision's batch-normalised variant (see above).
        name: model name.

    Returns:
        An uncompiled functional :class:`~cnnkit.models.Model`.

    Raises:
        ValueError: ``weights`` is neither None nor an existing file, or ``pooling`` is unknown.

    Example:
        >>> model = GoogLeNet(input_shape=(32, 32, 3), classes=10, batch_norm=True)
        >>> model.get_layer("inception5b").output.shape
        (None, 1, 1, 1024)
    """
    image, inputs, shape = application_input(
        weights, include_top, pooling, classes, input_shape, input_tensor,
        default_size=224, min_size=1, model="GoogLeNet",
    )  # fmt: skip
    x = ZeroPadding2D(3, name="conv1_pad")(image)
    x = _conv(x, 64, 7, batch_norm, "conv1", strides=2, padding="valid")
    x = MaxPooling2D(3, strides=2, padding="same", name="pool1")(x)
    x = _conv(x, 64, 1, batch_norm, "conv2")
    x = _conv(x, 192, 3, batch_norm, "conv3")
    x = MaxPooling2D(3, strides=2, padding="same", name="pool2")(x)
    for module in ("3a", "3b"):
        x = _inception(x, module, batch_norm)
    x = MaxPooling2D(3, strides=2, padding="same", name="pool3")(x)
    for module in ("4a", "4b", "4c", "4d", "4e"):
        x = _inception(x, module, batch_norm)
    x = MaxPooling2D(2 if batch_norm else 3, strides=2, padding="same", name="pool4")(x)
    for module in ("5a", "5b"):
        x = _inception(x, module, batch_norm)
    if include_top:
        x = GlobalAveragePooling2D(name="avg_pool")(x)
        x = Dropout(0.2 if batch_norm else 0.4, name="dropout")(x)
        x = Dense(classes, activation=classifier_activation, name="predictions")(x)
    else:
        x = pool_features(x, pooling)
    return load_application_weights(Model(inputs, x, name=name), weights)


def _conv(x, filters, kernel_size, batch_norm, name, strides=1, padding="same"):
    """relu(conv(x)), or torchvision's BasicConv2d: relu(BN(conv(x) without bias))."""
    if not batch_norm:
        return Conv2D(
            filters, kernel_size, strides=strides, padding=padding, activation="relu", name=name
        )(x)
    x = Conv2D(filters, kernel_size, strides=strides, padding=padding, use_bias=False, name=name)(x)
    x = BatchNormalization(epsilon=1e-3, name=f"{name}_bn")(x)
    return Activation("relu", name=f"{name}_relu")(x)


def _inception(x, module, batch_norm):
    """One inception module: four parallel branches concatenated along the channels."""
    f1, f3r, f3, f5r, f5, fp = INCEPTION_FILTERS[module]
    name = f"inception{module}"
    branch1 = _conv(x, f1, 1, batch_norm, f"{name}_1x1")
    branch3 = _conv(x, f3r, 1, batch_norm, f"{name}_3x3_reduce")
    branch3 = _conv(branch3, f3, 3, batch_norm, f"{name}_3x3")
    branch5 = _conv(x, f5r, 1, batch_norm, f"{name}_5x5_reduce")
    branch5 = _conv(branch5, f5, 3 if batch_norm else 5, batch_norm, f"{name}_5x5")
    branch_pool = MaxPooling2D(3, strides=1, padding="same", name=f"{name}_pool")(x)
    branch_pool = _conv(branch_pool, fp, 1, batch_norm, f"{name}_pool_proj")
    return Concatenate(name=name)([branch1, branch3, branch5, branch_pool])
