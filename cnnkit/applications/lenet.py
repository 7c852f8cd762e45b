"""LeNet-5 (LeCun et al., 1998): two convolutions with subsampling, then three dense layers."""

from __future__ import annotations

from cnnkit.applications.imagenet_utils import (
    check_application_args,
    load_application_weights,
    model_input,
    obtain_input_shape,
    pool_features,
)
from cnnkit.layers import AveragePooling2D, Conv2D, Dense, Flatten
from cnnkit.models import Model


def LeNet5(
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=10,
    classifier_activation="softmax",
    padding="auto",
    activation="tanh",
    name="lenet5",
) -> Model:
    """Build LeNet-5, the classic digit classifier of "Gradient-based learning applied to
    document recognition" (LeCun, Bottou, Bengio & Haffner, 1998).

    ``Conv2D(6, 5×5) → AveragePooling2D(2) → Conv2D(16, 5×5) → AveragePooling2D(2) →
    Flatten → Dense(120) → Dense(84) → Dense(classes)``; on 32×32×1 the feature maps
    are 28×28×6, 14×14×6, 10×10×16 and 5×5×16. 61,706 parameters with 10 classes.

    Choices, as in most modern re-implementations:

    * ``tanh`` activations (the paper's scaled ``1.7159·tanh(2x/3)`` without the scale);
    * plain 2×2 average pooling for the paper's subsampling layers, which also had a
      trainable coefficient and bias per map (12 + 32 parameters, left out);
    * every C3 map sees all six S2 maps (the paper connected each to a subset);
    * C5, a 5×5 convolution over a 5×5 map, is written as ``Flatten → Dense(120)``:
      the same 48,120 parameters;
    * a softmax ``Dense`` output instead of the paper's Euclidean RBF units.

    MNIST's 28×28 digits were centred in 32×32 fields in the paper; with
    ``padding="auto"`` the first convolution uses ``"same"`` padding on inputs
    smaller than 32×32 (zero-padding 28×28 to 32×32 in effect), so that 28×28×1 gives
    the same 5×5×16 map and the same parameter count.

    Args:
        include_top: whether to add the three dense layers.
        weights: None (random initialization) or the path of a weights file (nothing is
            downloaded).
        input_tensor: optional symbolic tensor to use as the image input.
        input_shape: ``(height, width, channels)``; default ``(32, 32, 1)`` with the top,
            ``(None, None, 1)`` without.
        pooling: with ``include_top=False``: None (the 4-D feature map), ``"avg"`` or
            ``"max"``.
        classes: number of classes, with ``include_top=True``.
        classifier_activation: activation of the last layer (None for logits).
        padding: padding of the first convolution: ``"valid"`` (the paper), ``"same"``,
            or ``"auto"`` (``"same"`` below 32×32, else ``"valid"``).
        activation: activation of the hidden layers.
        name: model name.

    Returns:
        An uncompiled functional :class:`~cnnkit.models.Model`.

    Raises:
        ValueError: ``weights`` is neither None nor a file, ``padding`` is unknown, or the input is
            smaller than 16×16 (first padding ``"valid"``) or 12×12 (``"same"``).

    Example:
        >>> LeNet5().count_params()
        61706
        >>> LeNet5(input_shape=(28, 28, 1)).get_layer("pool2").output.shape
        (None, 5, 5, 16)
    """
    check_application_args(weights, include_top, pooling, classes)
    if padding not in ("auto", "valid", "same"):
        raise ValueError(
            "Invalid value for argument `padding`. Expected one of 'auto', 'valid', 'same'. "
            f"Received: padding={padding!r}"
        )
    shape = obtain_input_shape(
        input_shape,
        input_tensor,
        default_size=32,
        # the smallest map that conv1 ("same"), 2×2 pool, 5×5 conv, 2×2 pool leave 1×1
        min_size=12,
        require_flatten=include_top,
        model="LeNet5",
        channels=1,
    )
    if padding == "auto":
        padding = "same" if any(d is not None and d < 32 for d in shape[:2]) else "valid"
    if padding == "valid" and any(d is not None and d < 16 for d in shape[:2]):
        raise ValueError(
            "Input size must be at least 16x16 for LeNet5 with padding='valid'. "
            f"Received: input_shape={shape}"
        )
    image, inputs = model_input(input_tensor, shape)
    x = Conv2D(6, (5, 5), padding=padding, activation=activation, name="conv1")(image)
    x = AveragePooling2D((2, 2), name="pool1")(x)
    x = Conv2D(16, (5, 5), activation=activation, name="conv2")(x)
    x = AveragePooling2D((2, 2), name="pool2")(x)
    if include_top:
        x = Flatten(name="flatten")(x)
        x = Dense(120, activation=activation, name="fc1")(x)
        x = Dense(84, activation=activation, name="fc2")(x)
        x = Dense(classes, activation=classifier_activation, name="predictions")(x)
    else:
        x = pool_features(x, pooling)
    return load_application_weights(Model(inputs, x, name=name), weights)
