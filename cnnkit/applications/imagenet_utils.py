"""Argument checks and plumbing shared by the ``cnnkit.applications`` builders.

Keras keeps the same helpers in ``keras.applications.imagenet_utils``: validate
``weights``/``include_top``/``pooling``/``classes``, resolve the input shape (with a
minimum size per architecture), accept an ``input_tensor``, and pool the features when
the classifier is left out.
"""

from __future__ import annotations

from numbers import Integral

from cnnkit.layers import GlobalAveragePooling2D, GlobalMaxPooling2D, Input, InputLayer, KerasTensor


def check_application_args(weights, include_top, pooling, classes) -> None:
    """Validate the arguments every ``keras.applications``-style builder shares.

    Raises:
        ValueError: ``weights`` is not None (no pretrained weights ship with cnnkit),
            ``pooling`` is not None, ``"avg"`` or ``"max"``, or ``classes`` is not a
            positive integer.
    """
    if weights is not None:
        raise ValueError(
            "Pretrained weights are not available offline: cnnkit builds every application "
            "with random initialization, so `weights` must be None. "
            f"Received: weights={weights!r}"
        )
    if pooling not in (None, "avg", "max"):
        raise ValueError(
            "Invalid value for argument `pooling`. Expected one of None, 'avg', 'max'. "
            f"Received: pooling={pooling!r}"
        )
    if include_top and (
        isinstance(classes, bool) or not isinstance(classes, Integral) or classes < 1
    ):
        raise ValueError(
            "Invalid value for argument `classes`. Expected a strictly positive integer. "
            f"Received: classes={classes!r}"
        )


def obtain_input_shape(
    input_shape, input_tensor, *, default_size, min_size, require_flatten, model, channels=3
) -> tuple:
    """The image shape ``(height, width, channels)`` a builder works on, checked.

    Follows Keras's ``imagenet_utils.obtain_input_shape``: without ``input_shape``
    it is ``(default_size, default_size, channels)`` when the classifier needs a
    static shape (``require_flatten``), else ``(None, None, channels)``; a known
    height or width below ``min_size`` is an error. With ``input_tensor``, its
    shape is the one used (and ``input_shape``, if also given, must agree).

    Raises:
        ValueError: the shape is not three sizes, is smaller than ``min_size``, or
            has unknown sizes while ``require_flatten`` is set.
        TypeError: ``input_tensor`` is not a symbolic tensor.
    """
    if input_tensor is not None:
        if not isinstance(input_tensor, KerasTensor):
            raise TypeError(
                "Expected `input_tensor` to be a symbolic tensor (from `cnnkit.layers.Input` "
                f"or a layer called on one). Received: input_tensor={input_tensor!r}"
            )
        tensor_shape = tuple(input_tensor.shape[1:])
        if input_shape is not None and tuple(input_shape) != tensor_shape:
            raise ValueError(
                f"`input_shape` {tuple(input_shape)} does not match the shape of `input_tensor` "
                f"{tensor_shape}. Pass only one of them."
            )
        input_shape = tensor_shape
    if input_shape is None:
        size = default_size if require_flatten else None
        return (size, size, channels)
    input_shape = tuple(input_shape)
    if len(input_shape) != 3 or not all(
        d is None or (isinstance(d, Integral) and not isinstance(d, bool) and d > 0)
        for d in input_shape
    ):
        raise ValueError(
            "`input_shape` must be a tuple of three positive integers (height, width, "
            f"channels). Received: input_shape={input_shape}"
        )
    if any(d is not None and d < min_size for d in input_shape[:2]):
        raise ValueError(
            f"Input size must be at least {min_size}x{min_size} for {model}. "
            f"Received: input_shape={input_shape}"
        )
    if require_flatten and None in input_shape:
        raise ValueError(
            "If `include_top` is True, you should specify a static `input_shape`. "
            f"Received: input_shape={input_shape}"
        )
    return input_shape


def model_input(input_tensor, input_shape):
    """``(image_tensor, model_inputs)``: a new ``Input`` or ``input_tensor`` and its sources."""
    if input_tensor is None:
        x = Input(shape=input_shape)
        return x, x
    sources, stack, seen = [], [input_tensor._keras_history[1]], set()
    while stack:  # walk back to the Input layers that feed `input_tensor`
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node.layer, InputLayer):
            sources.append(node.output_tensors[0])
        else:
            stack.extend(node.parent_nodes)
    return input_tensor, sources[0] if len(sources) == 1 else sources


def pool_features(x, pooling):
    """Apply ``pooling`` (None, ``"avg"`` or ``"max"``) to a feature map, as Keras does."""
    if pooling == "avg":
        return GlobalAveragePooling2D()(x)
    if pooling == "max":
        return GlobalMaxPooling2D()(x)
    return x


# -- VGG16 and VGG19 ---------------------------------------------------------------------------
