"""Spatial reshaping layers for NHWC images: ZeroPadding2D, Cropping2D, UpSampling2D.

(``Flatten`` and ``Reshape`` live in :mod:`cnnkit.layers.core`.)

Example:
    >>> import numpy as np
    >>> x = np.ones((1, 4, 4, 3), "float32")
    >>> ZeroPadding2D(1)(x).shape, Cropping2D(((1, 0), (0, 2)))(x).shape
    ((1, 6, 6, 3), (1, 3, 2, 3))
    >>> UpSampling2D((2, 3))(x).shape
    (1, 8, 12, 3)
"""

from __future__ import annotations

import numpy as np

from cnnkit.kernels import resize as resize_ops
from cnnkit.kernels import shape as shape_ops
from cnnkit.layers.base import InputSpec, Layer, standardize_data_format, standardize_tuple


def standardize_pairs(value, name: str) -> tuple[tuple[int, int], tuple[int, int]]:
    """``p``, ``(h, w)`` or ``((top, bottom), (left, right))`` -> the last form, validated.

    Used by ``padding`` and ``cropping`` (Keras's rules; every entry must be non-negative).
    """
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        if value < 0:
            raise ValueError(f"`{name}` cannot be negative. Received: {name}={value}.")
        return ((int(value),) * 2,) * 2
    if not hasattr(value, "__len__"):
        raise ValueError(
            f"`{name}` should be either an int, a tuple of 2 ints (symmetric_height_{name}, "
            f"symmetric_width_{name}), or a tuple of 2 tuples of 2 ints ((top_{name}, "
            f"bottom_{name}), (left_{name}, right_{name})). Received: {name}={value!r}."
        )
    if len(value) != 2:
        raise ValueError(f"`{name}` should have two elements. Received: {name}={value!r}.")
    height = standardize_tuple(value[0], 2, f"1st entry of {name}", allow_zero=True)
    width = standardize_tuple(value[1], 2, f"2nd entry of {name}", allow_zero=True)
    return (height, width)


class ZeroPadding2D(Layer):
    """Adds rows and columns of zeros around each image.

    Args:
        padding: an int (the same on all four sides), a tuple of 2 ints (symmetric height
            and width padding) or ``((top, bottom), (left, right))``.
        data_format: only ``"channels_last"``.

    Input shape:
        ``(batch_size, H, W, C)``
    Output shape:
        ``(batch_size, top + H + bottom, left + W + right, C)``

    Example:
        >>> ZeroPadding2D(((1, 0), (2, 3)))(np.ones((1, 2, 2, 1), "float32")).shape
        (1, 3, 7, 1)
    """

    samplewise = True

    def __init__(self, padding=(1, 1), data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.padding = standardize_pairs(padding, "padding")
        self.data_format = standardize_data_format(data_format)
        self.input_spec = InputSpec(ndim=4)

    def call(self, inputs):
        return shape_ops.pad2d(inputs, self.padding)

    def compute_output_shape(self, input_shape):
        n, h, w, c = input_shape
        (top, bottom), (left, right) = self.padding
        return (
            n,
            None if h is None else h + top + bottom,
            None if w is None else w + left + right,
            c,
        )

    def get_config(self):
        return {**super().get_config(), "padding": self.padding, "data_format": self.data_format}


class Cropping2D(Layer):
    """Removes rows and columns at the borders of each image.

    Args:
        cropping: an int, a tuple of 2 ints (symmetric height and width cropping) or
            ``((top, bottom), (left, right))``.
        data_format: only ``"channels_last"``.

    Input shape:
        ``(batch_size, H, W, C)``
    Output shape:
        ``(batch_size, H - top - bottom, W - left - right, C)``

    Raises:
        ValueError: when the cropping leaves no row or column.

    Example:
        >>> Cropping2D((1, 2))(np.ones((1, 5, 6, 1), "float32")).shape
        (1, 3, 2, 1)
    """

    samplewise = True

    def __init__(self, cropping=((0, 0), (0, 0)), data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.cropping = standardize_pairs(cropping, "cropping")
        self.data_format = standardize_data_format(data_format)
        self.input_spec = InputSpec(ndim=4)

    def call(self, inputs):
        return shape_ops.crop2d(inputs, self.cropping)

    def compute_output_shape(self, input_shape):
        n, h, w, c = input_shape
        (top, bottom), (left, right) = self.cropping
        if (h is not None and top + bottom >= h) or (w is not None and left + right >= w):
            raise ValueError(
                "Values in `cropping` argument should be smaller than the corresponding "
                f"spatial dimension of the input. Received: input_shape={tuple(input_shape)}, "
                f"cropping={self.cropping}"
            )
        return (
            n,
            None if h is None else h - top - bottom,
            None if w is None else w - left - right,
            c,
        )

    def get_config(self):
        return {**super().get_config(), "cropping": self.cropping, "data_format": self.data_format}


class UpSampling2D(Layer):
    """Upsamples each image by integer factors: nearest (pixel repetition) or bilinear.

    ``"nearest"`` repeats each pixel into a ``size[0] × size[1]`` block; ``"bilinear"`` is
    :func:`cnnkit.kernels.resize.resize` to ``(H·size[0], W·size[1])`` with half-pixel centres
    (TensorFlow's, no antialiasing), as Keras does.

    Args:
        size: int or ``(rows, cols)`` upsampling factors.
        data_format: only ``"channels_last"``.
        interpolation: ``"nearest"`` (default) or ``"bilinear"``.

    Input shape:
        ``(batch_size, H, W, C)``
    Output shape:
        ``(batch_size, H·rows, W·cols, C)``

    Example:
        >>> x = np.arange(4, dtype="float32").reshape(1, 2, 2, 1)
        >>> UpSampling2D(2)(x).numpy()[0, :, :, 0]
        array([[0., 0., 1., 1.],
               [0., 0., 1., 1.],
               [2., 2., 3., 3.],
               [2., 2., 3., 3.]], dtype=float32)
    """

    samplewise = True

    def __init__(self, size=(2, 2), data_format=None, interpolation="nearest", **kwargs):
        super().__init__(**kwargs)
        self.size = standardize_tuple(size, 2, "size")
        self.data_format = standardize_data_format(data_format)
        self.interpolation = resize_ops.check_interpolation(interpolation)
        self.input_spec = InputSpec(ndim=4)

    def call(self, inputs):
        if self.interpolation == "nearest":
            return shape_ops.upsample2d_nearest(inputs, self.size)
        _, h, w, _ = inputs.shape
        return resize_ops.resize(inputs, (h * self.size[0], w * self.size[1]), "bilinear")

    def compute_output_shape(self, input_shape):
        n, h, w, c = input_shape
        return (
            n,
            None if h is None else h * self.size[0],
            None if w is None else w * self.size[1],
            c,
        )

    def get_config(self):
        return {
            **super().get_config(),
            "size": self.size,
            "data_format": self.data_format,
            "interpolation": self.interpolation,
        }
