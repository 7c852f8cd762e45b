"""The lecture's improved CIFAR-10 model: three VGG blocks with batch normalisation."""

from __future__ import annotations

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
