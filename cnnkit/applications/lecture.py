"""The lecture's Fashion-MNIST CNN: three strided convolutions, then a dense classifier."""

from __future__ import annotations

from cnnkit.layers import Conv2D, Dense, Dropout, Flatten, Input
from cnnkit.models import Model


def lecture_cnn(input_shape=(28, 28, 1), classes=10, dropout=0.2, name="lecture_cnn") -> Model:
    """Build the lecture's CNN (section 2.2), with the functional API.

    ``Conv2D(32, 3, strides=2, relu) → Conv2D(64) → Conv2D(128) → Flatten →
    Dropout(0.2) → Dense(512, relu) → Dropout(0.2) → Dense(classes, softmax)``;
    on 28×28×1 inputs the feature maps are 13×13×32, 6×6×64 and 2×2×128.

    Args:
        input_shape: one image, channels last.
        classes: number of output classes.
        dropout: dropout rate before each dense layer.
        name: model name.

    Returns:
        An uncompiled functional :class:`~cnnkit.models.Model`.

    Example:
        >>> lecture_cnn().count_params()
        360458
    """
    i = Input(shape=input_shape)
    x = Conv2D(32, (3, 3), strides=2, activation="relu")(i)
    x = Conv2D(64, (3, 3), strides=2, activation="relu")(x)
    x = Conv2D(128, (3, 3), strides=2, activation="relu")(x)
    x = Flatten()(x)
    x = Dropout(dropout)(x)
    x = Dense(512, activation="relu")(x)
    x = Dropout(dropout)(x)
    x = Dense(classes, activation="softmax")(x)
    return Model(i, x, name=name)
