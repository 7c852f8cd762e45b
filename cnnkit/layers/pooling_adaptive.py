"""Adaptive pooling to a fixed output size, 1-D to 3-D: ``AdaptiveAveragePooling{1,2,3}D`` and
``AdaptiveMaxPooling{1,2,3}D`` (Keras 3).

The window adapts to the input: along an axis of length ``L`` pooled to ``O`` outputs, output
``i`` reduces the input slice ``[floor(i * L / O), ceil((i + 1) * L / O))`` (PyTorch's rule,
which Keras follows), so neighbouring windows may overlap by one element when ``O`` does not
divide ``L``. The layers call :func:`cnnkit.ops.adaptive_average_pool` /
:func:`cnnkit.ops.adaptive_max_pool`, whose gradients are checked in the op table.

Unlike cnnkit's fixed-window pooling layers, these accept ``data_format="channels_first"``
too (the op moves the channels last and back).

Example:
    >>> import numpy as np
    >>> x = np.arange(5, dtype="float32").reshape(1, 5, 1)
    >>> AdaptiveMaxPooling1D(2)(x).numpy().ravel()  # windows [0, 3) and [2, 5)
    array([2., 4.], dtype=float32)
    >>> AdaptiveAveragePooling1D(2)(x).numpy().ravel()
    array([1., 3.], dtype=float32)
"""

from __future__ import annotations

import numbers

from cnnkit import backend
from cnnkit.layers.base import InputSpec, Layer


class _AdaptivePooling(Layer):
    """Shared logic: ``output_size`` and ``data_format`` checks, shapes and config."""

    samplewise = True
    rank = 0
    _op_name = ""

    def __init__(self, output_size, data_format=None, **kwargs):
        super().__init__(**kwargs)
        names = {1: "(length,)", 2: "(height, width)", 3: "(depth, height, width)"}[self.rank]
        if isinstance(output_size, numbers.Integral) and not isinstance(output_size, bool):
            sizes = (int(output_size),) * self.rank
        elif (
            isinstance(output_size, (tuple, list))
            and len(output_size) == self.rank
            and all(isinstance(s, numbers.Integral) for s in output_size)
        ):
            sizes = tuple(int(s) for s in output_size)
        else:
            raise TypeError(
                f"`output_size` must be an integer or {names} tuple. Received: "
                f"{output_size!r} of type {type(output_size)}"
            )
        if any(s < 1 for s in sizes):
            raise ValueError(
                "Invalid value for argument `output_size`. Expected strictly positive sizes. "
                f"Received: output_size={output_size!r}"
            )
        data_format = data_format or backend.image_data_format()
        if data_format not in ("channels_first", "channels_last"):
            raise ValueError(
                f"Invalid data_format: {data_format}. Expected 'channels_first' or 'channels_last'."
            )
        self.output_size = sizes
        self.data_format = data_format
        self.input_spec = InputSpec(ndim=self.rank + 2)

    def call(self, inputs):
        # cnnkit.ops is not loaded by `import cnnkit`; the layer loads it on first use.
        from cnnkit.ops import nn

        op = getattr(nn, self._op_name)
        return op(inputs, self.output_size, data_format=self.data_format)

    def compute_output_shape(self, input_shape):
        self._check_input(tuple(input_shape))
        if self.data_format == "channels_last":
            return (input_shape[0], *self.output_size, input_shape[-1])
        return (input_shape[0], input_shape[1], *self.output_size)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "output_size": self.output_size,
            "data_format": self.data_format,
        }


class AdaptiveAveragePooling1D(_AdaptivePooling):
    """Adaptive average pooling of sequences to a fixed output size (the mean of each window).

    Args:
        output_size: an integer or a tuple of 1 integers, the output's spatial size.
        data_format: ``"channels_last"`` or ``"channels_first"``; defaults to
            ``keras.config.image_data_format()``.
        name: layer name.

    Input shape:
        ``(batch, steps, channels)`` (channels last),
        or ``(batch, channels, steps)``.
    Output shape:
        The same, with the spatial axes replaced by ``output_size``.

    Raises:
        TypeError: ``output_size`` neither an integer nor a tuple of 1 integers.
        ValueError: a size < 1 or an unknown ``data_format``.

    Example:
        >>> import numpy as np
        >>> AdaptiveAveragePooling1D(4)(np.ones((2, 10, 3), "float32")).shape
        (2, 4, 3)
    """

    rank = 1
    _op_name = "adaptive_average_pool"


class AdaptiveAveragePooling2D(_AdaptivePooling):
    """Adaptive average pooling of images to a fixed output size (the mean of each window).

    Args:
        output_size: an integer or a tuple of 2 integers, the output's spatial size.
        data_format: ``"channels_last"`` or ``"channels_first"``; defaults to
            ``keras.config.image_data_format()``.
        name: layer name.

    Input shape:
        ``(batch, height, width, channels)`` (channels last),
        or ``(batch, channels, height, width)``.
    Output shape:
        The same, with the spatial axes replaced by ``output_size``.

    Raises:
        TypeError: ``output_size`` neither an integer nor a tuple of 2 integers.
        ValueError: a size < 1 or an unknown ``data_format``.

    Example:
        >>> import numpy as np
        >>> AdaptiveAveragePooling2D((3, 4))(np.ones((1, 7, 9, 2), "float32")).shape
        (1, 3, 4, 2)
    """

    rank = 2
    _op_name = "adaptive_average_pool"


class AdaptiveAveragePooling3D(_AdaptivePooling):
    """Adaptive average pooling of volumes to a fixed output size (the mean of each window).

    Args:
        output_size: an integer or a tuple of 3 integers, the output's spatial size.
        data_format: ``"channels_last"`` or ``"channels_first"``; defaults to
            ``keras.config.image_data_format()``.
        name: layer name.

    Input shape:
        ``(batch, depth, height, width, channels)`` (channels last),
        or ``(batch, channels, depth, height, width)``.
    Output shape:
        The same, with the spatial axes replaced by ``output_size``.

    Raises:
        TypeError: ``output_size`` neither an integer nor a tuple of 3 integers.
        ValueError: a size < 1 or an unknown ``data_format``.

    Example:
        >>> import numpy as np
        >>> AdaptiveAveragePooling3D(2)(np.ones((1, 5, 5, 5, 1), "float32")).shape
        (1, 2, 2, 2, 1)
    """

    rank = 3
    _op_name = "adaptive_average_pool"


class AdaptiveMaxPooling1D(_AdaptivePooling):
    """Adaptive max pooling of sequences to a fixed output size (the maximum of each window).

    Args:
        output_size: an integer or a tuple of 1 integers, the output's spatial size.
        data_format: ``"channels_last"`` or ``"channels_first"``; defaults to
            ``keras.config.image_data_format()``.
        name: layer name.

    Input shape:
        ``(batch, steps, channels)`` (channels last),
        or ``(batch, channels, steps)``.
    Output shape:
        The same, with the spatial axes replaced by ``output_size``.

    Raises:
        TypeError: ``output_size`` neither an integer nor a tuple of 1 integers.
        ValueError: a size < 1 or an unknown ``data_format``.

    Example:
        >>> import numpy as np
        >>> AdaptiveMaxPooling1D(4)(np.ones((2, 10, 3), "float32")).shape
        (2, 4, 3)
    """

    rank = 1
    _op_name = "adaptive_max_pool"


class AdaptiveMaxPooling2D(_AdaptivePooling):
    """Adaptive max pooling of images to a fixed output size (the maximum of each window).

    Args:
        output_size: an integer or a tuple of 2 integers, the output's spatial size.
        data_format: ``"channels_last"`` or ``"channels_first"``; defaults to
            ``keras.config.image_data_format()``.
        name: layer name.

    Input shape:
        ``(batch, height, width, channels)`` (channels last),
        or ``(batch, channels, height, width)``.
    Output shape:
        The same, with the spatial axes replaced by ``output_size``.

    Raises:
        TypeError: ``output_size`` neither an integer nor a tuple of 2 integers.
        ValueError: a size < 1 or an unknown ``data_format``.

    Example:
        >>> import numpy as np
        >>> AdaptiveMaxPooling2D((3, 4))(np.ones((1, 7, 9, 2), "float32")).shape
        (1, 3, 4, 2)
    """

    rank = 2
    _op_name = "adaptive_max_pool"


class AdaptiveMaxPooling3D(_AdaptivePooling):
    """Adaptive max pooling of volumes to a fixed output size (the maximum of each window).

    Args:
        output_size: an integer or a tuple of 3 integers, the output's spatial size.
        data_format: ``"channels_last"`` or ``"channels_first"``; defaults to
            ``keras.config.image_data_format()``.
        name: layer name.

    Input shape:
        ``(batch, depth, height, width, channels)`` (channels last),
        or ``(batch, channels, depth, height, width)``.
    Output shape:
        The same, with the spatial axes replaced by ``output_size``.

    Raises:
        TypeError: ``output_size`` neither an integer nor a tuple of 3 integers.
        ValueError: a size < 1 or an unknown ``data_format``.

    Example:
        >>> import numpy as np
        >>> AdaptiveMaxPooling3D(2)(np.ones((1, 5, 5, 5, 1), "float32")).shape
        (1, 2, 2, 2, 1)
    """

    rank = 3
    _op_name = "adaptive_max_pool"
