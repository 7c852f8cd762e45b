"""3-D pooling of volumes ``(N, D, H, W, C)``: max, average and global, as Keras 3.

A box window is separable, so 3-D pooling is 2-D pooling over ``(H, W)`` of the ``N * D``
slices, then 2-D pooling over depth of the ``N`` images ``(D, H' * W', C)`` with a
``(pool_depth, 1)`` window. For the maximum this is exact; for the average too, because the
part of a box inside the (padded) volume is a product of intervals, so the mean of per-axis
means without padding equals the mean over the box without padding (Keras's ``"same"`` rule).
Gradients flow through the 2-D kernels of :mod:`cnnkit.kernels.pool`.

Deviation, as cnnkit's ``AveragePooling2D``: where ``"same"`` padding is uneven, Keras's torch
backend pads by replicating the border (the copies count in the mean); cnnkit follows
TensorFlow and leaves the padding out. Even padding and ``"valid"`` agree with Keras.

Output size per axis, window ``p`` and stride ``s``: valid ``floor((L - p) / s) + 1``;
same ``ceil(L / s)``.

Example:
    >>> import numpy as np
    >>> x = np.arange(8, dtype="float32").reshape(1, 2, 2, 2, 1)
    >>> MaxPooling3D(2)(x).numpy().ravel(), AveragePooling3D(2)(x).numpy().ravel()
    (array([7.], dtype=float32), array([3.5], dtype=float32))
"""

from __future__ import annotations

from cnnkit.kernels import conv as conv_ops
from cnnkit.kernels import pool as pool_ops
from cnnkit.layers.base import (
    InputSpec,
    Layer,
    standardize_data_format,
    standardize_padding,
    standardize_tuple,
)


class _Pooling3D(Layer):
    """Shared logic of MaxPooling3D and AveragePooling3D."""

    samplewise = True  # each output sample depends on its input sample alone

    _op = None

    def __init__(
        self, pool_size=(2, 2, 2), strides=None, padding="valid", data_format=None, **kwargs
    ):
        super().__init__(**kwargs)
        self.pool_size = standardize_tuple(pool_size, 3, "pool_size")
        self.strides = (
            self.pool_size if strides is None else standardize_tuple(strides, 3, "strides")
        )
        self.padding = standardize_padding(padding)
        self.data_format = standardize_data_format(data_format)
        self.input_spec = InputSpec(ndim=5)

    def call(self, inputs):
        self.compute_output_shape(inputs.shape)
        op = type(self)._op
        n, d, h, w, c = inputs.shape
        (pd, ph, pw), (sd, sh, sw) = self.pool_size, self.strides
        planes = op(inputs.reshape(n * d, h, w, c), (ph, pw), (sh, sw), self.padding)
        _, oh, ow, _ = planes.shape
        out = op(planes.reshape(n, d, oh * ow, c), (pd, 1), (sd, 1), self.padding)
        return out.reshape(n, out.shape[1], oh, ow, c)

    def compute_output_shape(self, input_shape):
        self._check_input(tuple(input_shape))
        n, *spatial, c = input_shape
        out = [
            conv_ops.conv_output_length(size, p, s, self.padding)
            for size, p, s in zip(spatial, self.pool_size, self.strides)
        ]
        if any(o is not None and o <= 0 for o in out):
            raise ValueError(
                f'Layer "{self.name}": the input {tuple(input_shape)} is smaller than the pool '
                f"size {self.pool_size} with padding='valid'; the output would be empty. "
                "Use padding='same' or a smaller pool_size."
            )
        return (n, *out, c)

    def get_config(self):
        return {
            **super().get_config(),
            "pool_size": self.pool_size,
            "strides": self.strides,
            "padding": self.padding,
            "data_format": self.data_format,
        }


class MaxPooling3D(_Pooling3D):
    """The maximum over each ``pool_size`` window of volumes.

    Args:
        pool_size: an int or three ints ``(depth, height, width)`` (default 2).
        strides: an int or three ints; None (default) means ``pool_size``.
        padding: ``"valid"`` (default) or ``"same"`` (padded positions never win).
        data_format: only ``"channels_last"``.

    Input shape:
        ``(batch_size, D, H, W, C)``.
    Output shape:
        ``(batch_size, D', H', W', C)`` (sizes in the module docstring).

    Example:
        >>> import numpy as np
        >>> MaxPooling3D((1, 2, 2), padding="same")(np.ones((2, 3, 5, 5, 4))).shape
        (2, 3, 3, 3, 4)
    """

    _op = staticmethod(pool_ops.max_pool2d)


class AveragePooling3D(_Pooling3D):
    """The mean over each ``pool_size`` window of volumes (padding excluded from the mean).

    Args:
        pool_size, strides, padding, data_format: as :class:`MaxPooling3D`.

    Input shape:
        ``(batch_size, D, H, W, C)``.
    Output shape:
        ``(batch_size, D', H', W', C)``.

    Example:
        >>> import numpy as np
        >>> AveragePooling3D(2, strides=1)(np.ones((1, 3, 3, 3, 2))).shape
        (1, 2, 2, 2, 2)
    """

    _op = staticmethod(pool_ops.avg_pool2d)


class _GlobalPooling3D(Layer):
    samplewise = True  # each output sample depends on its input sample alone
    _op = None

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        self.data_format = standardize_data_format(data_format)
        self.keepdims = bool(keepdims)
        self.input_spec = InputSpec(ndim=5)

    def call(self, inputs):
        n, d, h, w, c = inputs.shape
        out = type(self)._op(inputs.reshape(n, d * h, w, c))  # (N, C)
        return out.reshape(n, 1, 1, 1, c) if self.keepdims else out

    def compute_output_shape(self, input_shape):
        self._check_input(tuple(input_shape))
        n, c = input_shape[0], input_shape[-1]
        return (n, 1, 1, 1, c) if self.keepdims else (n, c)

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format, "keepdims": self.keepdims}


class GlobalMaxPooling3D(_GlobalPooling3D):
    """The maximum of each channel over all voxels: ``(N, D, H, W, C) -> (N, C)``.

    Args:
        data_format: only ``"channels_last"``.
        keepdims: keep the spatial axes with size 1: ``(N, 1, 1, 1, C)``.

    Example:
        >>> import numpy as np
        >>> GlobalMaxPooling3D(keepdims=True)(np.ones((2, 3, 4, 5, 6))).shape
        (2, 1, 1, 1, 6)
    """

    _op = staticmethod(pool_ops.global_max_pool2d)


class GlobalAveragePooling3D(_GlobalPooling3D):
    """The mean of each channel over all voxels: ``(N, D, H, W, C) -> (N, C)``.

    Args:
        data_format: only ``"channels_last"``.
        keepdims: keep the spatial axes with size 1: ``(N, 1, 1, 1, C)``.

    Example:
        >>> import numpy as np
        >>> GlobalAveragePooling3D()(np.ones((2, 3, 4, 5, 6))).shape
        (2, 6)
    """

    _op = staticmethod(pool_ops.global_avg_pool2d)


MaxPool3D = MaxPooling3D
AvgPool3D = AveragePooling3D
GlobalMaxPool3D = GlobalMaxPooling3D
GlobalAvgPool3D = GlobalAveragePooling3D
