"""AlexNet (Krizhevsky, Sutskever & Hinton, 2012): five convolutions and three dense layers."""

from __future__ import annotations

from cnnkit.applications.imagenet_utils import (
    application_input,
    load_application_weights,
    pool_features,
)
from cnnkit.layers import Conv2D, Dense, Dropout, Flatten, MaxPooling2D
from cnnkit.models import Model


def AlexNet(
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    dropout=0.5,
    name="alexnet",
) -> Model:
    """Build AlexNet, the network of "ImageNet classification with deep convolutional
    neural networks" (NeurIPS 2012), in its single-tower form.

    ``Conv2D(96, 11×11, stride 4) → MaxPool(3, 2) → Conv2D(256, 5×5, same) →
    MaxPool(3, 2) → Conv2D(384, 3×3, same) → Conv2D(384, 3×3, same) → Conv2D(256,
    3×3, same) → MaxPool(3, 2) → Flatten → Dropout → Dense(4096) → Dropout →
    Dense(4096) → Dense(classes)``, relu everywhere, the paper's overlapping 3×3
    pools with stride 2. On the default 227×227×3 input the maps are 55×55×96,
    27×27×96, 27×27×256, 13×13×256, 13×13×384, 13×13×384, 13×13×256 and 6×6×256
    (9,216 features), the sizes the paper gives. (Its text says 224×224, which
    does not give 55×55 with an 11×11 stride-4 window; 227 does, as in Caffe.)

    The variant: the paper's layer sizes with every convolution seeing all the
    maps of the layer below. The paper split conv2, conv4 and conv5 into two
    groups, one per GPU (Caffe's ``bvlc_alexnet``: 60,965,224 parameters); cnnkit's
    ``Conv2D`` has no groups, so this single-tower network has 62,378,344
    parameters at 227×227×3 with 1000 classes (the "62.3 million" usually quoted).
    Local response normalisation is left out (no such layer; the VGG paper found
    it did not help). torchvision's ``alexnet`` is a different variant (64, 192,
    384, 256, 256 filters, 61,100,840 parameters).

    The three valid 3×3 stride-2 pools and the stride-4 first convolution need
    inputs of at least 67×67 (67 → 15 → 7 → 7 → 3 → 3 → 1): 28×28 and 32×32
    images are too small; use :func:`~cnnkit.applications.vgg_cifar` or
    :func:`~cnnkit.applications.resnet_small` for those.

    Args:
        include_top: whether to add the three dense layers.
        weights: None (random initialization) or the path of a weights file (nothing is
            downloaded).
        input_tensor: optional symbolic tensor to use as the image input.
        input_shape: ``(height, width, channels)``; default ``(227, 227, 3)`` with the
            top, ``(None, None, 3)`` without.
        pooling: with ``include_top=False``: None (the 4-D feature map), ``"avg"`` or
            ``"max"``.
        classes: number of classes, with ``include_top=True``.
        classifier_activation: activation of the last layer (None for logits).
        dropout: rate of the dropout before each of the first two dense layers.
        name: model name.

    Returns:
        An uncompiled functional :class:`~cnnkit.models.Model`.

    Raises:
        ValueError: ``weights`` is neither None nor an existing file, or the input is
            smaller than 67×67.

    Example:
        >>> AlexNet(include_top=False, pooling="avg").count_params()
        3747200
    """
    image, inputs, shape = application_input(
        weights, include_top, pooling, classes, input_shape, input_tensor,
        default_size=227, min_size=67, model="AlexNet",
    )  # fmt: skip
    x = Conv2D(96, (11, 11), strides=(4, 4), activation="relu", name="conv1")(image)
    x = MaxPooling2D((3, 3), strides=(2, 2), name="pool1")(x)
    x = Conv2D(256, (5, 5), padding="same", activation="relu", name="conv2")(x)
    x = MaxPooling2D((3, 3), strides=(2, 2), name="pool2")(x)
    x = Conv2D(384, (3, 3), padding="same", activation="relu", name="conv3")(x)
    x = Conv2D(384, (3, 3), padding="same", activation="relu", name="conv4")(x)
    x = Conv2D(256, (3, 3), padding="same", activation="relu", name="conv5")(x)
    x = MaxPooling2D((3, 3), strides=(2, 2), name="pool5")(x)
    if include_top:
        x = Flatten(name="flatten")(x)
        x = Dropout(dropout, name="dropout1")(x)
        x = Dense(4096, activation="relu", name="fc6")(x)
        x = Dropout(dropout, name="dropout2")(x)
        x = Dense(4096, activation="relu", name="fc7")(x)
        x = Dense(classes, activation=classifier_activation, name="predictions")(x)
    else:
        x = pool_features(x, pooling)
    return load_application_weights(Model(inputs, x, name=name), weights)
