"""VGG networks: the lecture's CIFAR-10 model, and VGG16/VGG19 as in ``keras.applications``.

This module also holds the argument checks every Keras-style builder of
:mod:`cnnkit.applications` shares (Keras keeps them in ``imagenet_utils``).
"""

from __future__ import annotations

from cnnkit.applications.imagenet_utils import (
    application_input,
    decode_predictions,  # noqa: F401 (Keras's name)
    load_application_weights,
    pool_features,
)
from cnnkit.applications.imagenet_utils import preprocess_input as imagenet_preprocess
from cnnkit.layers import (
    BatchNormalization,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    Input,
    MaxPooling2D,
)
from cnnkit.models import Model


def vgg_cifar(
    input_shape=(32, 32, 3), classes=10, filters=(32, 64, 128), dropout=0.2, name="vgg_cifar"
) -> Model:
    """Build the VGG-style CIFAR-10 model of the lecture.

    Each block is ``Conv2D(f, 3, same, relu) → BatchNormalization → Conv2D(f, 3, same,
    relu) → BatchNormalization → MaxPooling2D(2)``, for ``f`` in ``filters``; then
    ``Flatten → Dropout → Dense(1024, relu) → Dropout → Dense(classes, softmax)``.

    Args:
        input_shape: one image, channels last; height and width must survive
            ``len(filters)`` halvings.
        classes: number of output classes.
        filters: feature maps of each block.
        dropout: dropout rate before each dense layer.
        name: model name.

    Returns:
        An uncompiled functional :class:`~cnnkit.models.Model`.

    Example:
        >>> vgg_cifar().count_params()
        2397226
    """
    i = Input(shape=input_shape)
    x = i
    for f in filters:
        x = Conv2D(f, (3, 3), padding="same", activation="relu")(x)
        x = BatchNormalization()(x)
        x = Conv2D(f, (3, 3), padding="same", activation="relu")(x)
        x = BatchNormalization()(x)
        x = MaxPooling2D((2, 2))(x)
    x = Flatten()(x)
    x = Dropout(dropout)(x)
    x = Dense(1024, activation="relu")(x)
    x = Dropout(dropout)(x)
    x = Dense(classes, activation="softmax")(x)
    return Model(i, x, name=name)


# -- Shared by every Keras-style builder (``keras.applications.imagenet_utils``) --------------


def VGG16(
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="vgg16",
) -> Model:
    """Build VGG16 (Simonyan & Zisserman, 2014, configuration D), as ``keras.applications.VGG16``.

    Five blocks of ``3×3`` convolutions (``same`` padding, relu) with 2, 2, 3, 3, 3
    layers of 64, 128, 256, 512, 512 filters, each block closed by a ``2×2`` max
    pool; then ``Flatten → Dense(4096, relu) → Dense(4096, relu) →
    Dense(classes)``. The layer names are Keras's (``block1_conv1`` ... ``fc1``,
    ``fc2``, ``predictions``). No dropout, as in Keras's builder.

    Parameters at 224×224×3 with 1000 classes: 138,357,544 (Keras and the paper);
    14,714,688 without the top. The five pools divide the image by 32, so inputs
    must be at least 32×32 (Keras's rule): on 32×32 the top sees a 1×1×512 map.

    Args:
        include_top: whether to add the three fully connected layers.
        weights: None (random initialization) or the path of a weights file (nothing is
            downloaded).
        input_tensor: optional symbolic tensor to use as the image input.
        input_shape: ``(height, width, channels)``; default ``(224, 224, 3)`` with the
            top, ``(None, None, 3)`` without.
        pooling: with ``include_top=False``: None (the 4-D feature map), ``"avg"`` or
            ``"max"`` (global pooling to a vector).
        classes: number of classes, with ``include_top=True``.
        classifier_activation: activation of the last layer (None for logits).
        name: model name.

    Returns:
        An uncompiled functional :class:`~cnnkit.models.Model`.

    Raises:
        ValueError: ``weights`` is neither None nor a file, the input is smaller than 32×32,
            ``pooling`` is unknown, or the top is asked for without a static shape.

    Example:
        >>> VGG16(include_top=False, input_shape=(32, 32, 3)).count_params()
        14714688
    """
    return _vgg(
        (2, 2, 3, 3, 3),
        "VGG16",
        include_top,
        weights,
        input_tensor,
        input_shape,
        pooling,
        classes,
        classifier_activation,
        name,
    )


def VGG19(
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="vgg19",
) -> Model:
    """Build VGG19 (configuration E), as ``keras.applications.VGG19``.

    As :func:`VGG16` with 2, 2, 4, 4, 4 convolutions in the five blocks.
    Parameters at 224×224×3 with 1000 classes: 143,667,240 (Keras and the paper);
    20,024,384 without the top. Inputs must be at least 32×32.

    Args, Returns and Raises: as :func:`VGG16`.

    Example:
        >>> VGG19(include_top=False, input_shape=(32, 32, 3), pooling="max").output_shape
        (None, 512)
    """
    return _vgg(
        (2, 2, 4, 4, 4),
        "VGG19",
        include_top,
        weights,
        input_tensor,
        input_shape,
        pooling,
        classes,
        classifier_activation,
        name,
    )


def _vgg(
    convs_per_block,
    model,
    include_top,
    weights,
    input_tensor,
    input_shape,
    pooling,
    classes,
    classifier_activation,
    name,
) -> Model:
    image, inputs, shape = application_input(
        weights, include_top, pooling, classes, input_shape, input_tensor,
        default_size=224, min_size=32, model=model,
    )  # fmt: skip
    x = image
    for block, (convs, filters) in enumerate(zip(convs_per_block, (64, 128, 256, 512, 512)), 1):
        for conv in range(1, convs + 1):
            x = Conv2D(
                filters,
                (3, 3),
                padding="same",
                activation="relu",
                name=f"block{block}_conv{conv}",
            )(x)
        x = MaxPooling2D((2, 2), strides=(2, 2), name=f"block{block}_pool")(x)
    if include_top:
        x = Flatten(name="flatten")(x)
        x = Dense(4096, activation="relu", name="fc1")(x)
        x = Dense(4096, activation="relu", name="fc2")(x)
        x = Dense(classes, activation=classifier_activation, name="predictions")(x)
    else:
        x = pool_features(x, pooling)
    return load_application_weights(Model(inputs, x, name=name), weights)


def preprocess_input(x, data_format=None):
    """Keras's ``"caffe"`` preprocessing of VGG: RGB → BGR, minus the ImageNet mean pixel
    (103.939, 116.779, 123.68), no scaling. Returns a new float32 array."""
    return imagenet_preprocess(x, mode="caffe", data_format=data_format)
