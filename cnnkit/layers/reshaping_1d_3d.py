"""Cropping, zero-padding and up-sampling of sequences (1-D) and volumes (3-D), as Keras 3.

Each layer reuses the 2-D kernels of :mod:`cnnkit.kernels.shape`, so it is differentiable
through them: a sequence ``(N, S, C)`` is an image of height 1; a volume ``(N, D, H, W, C)`` is
handled as ``N * D`` images for the ``H, W`` axes, then as ``N`` images of shape
``(D, H * W, C)`` for the depth axis.

Example:
    >>> import numpy as np
    >>> x = np.arange(4, dtype="float32").reshape(1, 4, 1)
    >>> Cropping1D((1, 2))(x).numpy()[0, :, 0]
    array([1.], dtype=float32)
    >>> ZeroPadding1D(1)(x).numpy()[0, :, 0]
    array([0., 0., 1., 2., 3., 0.], dtype=float32)
    >>> UpSampling1D(2)(x).numpy()[0, :, 0]
    array([0., 0., 1., 1., 2., 2., 3., 3.], dtype=float32)
"""

from __future__ import annotations

import numpy as np

from cnnkit.kernels import shape as shape_ops
from cnnkit.layers.base import InputSpec, Layer, standardize_data_format, standardize_tuple


def standardize_triple_pairs(value, name: str) -> tuple:
    """``p``, ``(d, h, w)`` or three ``(before, after)`` pairs -> three pairs, validated."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        if value < 0:
            raise ValueError(f"`{name}` cannot be negative. Received: {name}={value}.")
        return ((int(value),) * 2,) * 3
    if not hasattr(value, "__len__") or len(value) != 3:
        raise ValueError(
            f"`{name}` should be either an int, a tuple of 3 ints (symmetric_dim1_{name}, "
            f"symmetric_dim2_{name}, symmetric_dim3_{name}), or a tuple of 3 tuples of 2 ints "
            f"((left_dim1_{name}, right_dim1_{name}), ...). Received: {name}={value!r}."
        )
    return tuple(
        standardize_tuple(entry, 2, f"entry {i} of {name}", allow_zero=True)
        for i, entry in enumerate(value)
    )


def _volume_hw(x, fn):
    """Apply the NHWC function ``fn`` to the ``(H, W)`` axes of the NDHWC volume ``x``."""
    n, d, h, w, c = x.shape
    out = fn(x.reshape(n * d, h, w, c))
    return out.reshape(n, d, *out.shape[1:])


def _volume_depth(x, fn):
    """Apply the NHWC function ``fn`` to the depth axis of ``x`` (the ``H`` of ``(D, H*W)``)."""
    n, d, h, w, c = x.shape
    out = fn(x.reshape(n, d, h * w, c))
    return out.reshape(n, out.shape[1], h, w, c)


def _added(size, before: int, after: int, sign: int):
    return None if size is None else size + sign * (before + after)


class Cropping1D(Layer):
    """Removes steps at the start and end of sequences.

    Args:
        cropping: an int (both ends) or ``(start, end)`` non-negative ints.

    Input shape:
        ``(batch_size, steps, channels)``.
    Output shape:
        ``(batch_size, steps - start - end, channels)``.

    Raises:
        ValueError: negative cropping, or cropping that leaves no step.

    Example:
        >>> Cropping1D(1)(np.zeros((2, 5, 3))).shape
        (2, 3, 3)
    """

    samplewise = True  # each output sample depends on its input sample alone

    def __init__(self, cropping=(1, 1), **kwargs):
        super().__init__(**kwargs)
        self.cropping = standardize_tuple(cropping, 2, "cropping", allow_zero=True)
        self.input_spec = InputSpec(ndim=3)

    def call(self, inputs):
        self.compute_output_shape(inputs.shape)
        start, end = self.cropping
        return inputs[:, start : inputs.shape[1] - end, :]

    def compute_output_shape(self, input_shape):
        self._check_input(tuple(input_shape))
        n, steps, c = input_shape
        out = _added(steps, *self.cropping, -1)
        if out is not None and out <= 0:
            raise ValueError(
                "`cropping` parameter of `Cropping1D` layer must be smaller than the input "
                f"length. Received: inputs.shape={tuple(input_shape)}, and "
                f"cropping={self.cropping}"
            )
        return (n, out, c)

    def get_config(self):
        return {**super().get_config(), "cropping": self.cropping}


class Cropping3D(Layer):
    """Removes slices at both ends of the three spatial axes of volumes.

    Args:
        cropping: an int, three ints (symmetric per axis), or three ``(before, after)``
            pairs for depth, height and width.
        data_format: only ``"channels_last"``.

    Input shape:
        ``(batch_size, D, H, W, C)``.
    Output shape:
        ``(batch_size, D', H', W', C)`` with each axis reduced by its two croppings.

    Raises:
        ValueError: negative cropping, or cropping that leaves nothing along an axis.

    Example:
        >>> Cropping3D(((1, 0), (0, 1), 1))(np.zeros((1, 3, 3, 4, 2))).shape
        (1, 2, 2, 2, 2)
    """

    samplewise = True  # each output sample depends on its input sample alone

    def __init__(self, cropping=((1, 1), (1, 1), (1, 1)), data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.cropping = standardize_triple_pairs(cropping, "cropping")
        self.data_format = standardize_data_format(data_format)
        self.input_spec = InputSpec(ndim=5)

    def call(self, inputs):
        self.compute_output_shape(inputs.shape)
        index = [slice(None)]
        for (before, after), size in zip(self.cropping, inputs.shape[1:4]):
            index.append(slice(before, size - after))
        return inputs[(*index, slice(None))]

    def compute_output_shape(self, input_shape):
        self._check_input(tuple(input_shape))
        n, *spatial, c = input_shape
        out = [_added(s, *pair, -1) for s, pair in zip(spatial, self.cropping)]
        if any(o is not None and o <= 0 for o in out):
            raise ValueError(
                "Values in `cropping` argument should be smaller than the corresponding "
                f"spatial dimension of the input. Received: input_shape={tuple(input_shape)}, "
                f"cropping={self.cropping}"
            )
        return (n, *out, c)

    def get_config(self):
        return {**super().get_config(), "cropping": self.cropping, "data_format": self.data_format}


class ZeroPadding1D(Layer):
    """Adds zeros at the start and end of sequences.

    Args:
        padding: an int (both ends) or ``(start, end)`` non-negative ints.
        data_format: only ``"channels_last"``.

    Input shape:
        ``(batch_size, steps, channels)``.
    Output shape:
        ``(batch_size, start + steps + end, channels)``.

    Example:
        >>> ZeroPadding1D((1, 2))(np.ones((2, 3, 4))).shape
        (2, 6, 4)
    """

    samplewise = True  # each output sample depends on its input sample alone

    def __init__(self, padding=1, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.padding = standardize_tuple(padding, 2, "padding", allow_zero=True)
        self.data_format = standardize_data_format(data_format)
        self.input_spec = InputSpec(ndim=3)

    def call(self, inputs):
        n, steps, c = inputs.shape
        out = shape_ops.pad2d(inputs.reshape(n, 1, steps, c), ((0, 0), self.padding))
        return out.reshape(n, out.shape[2], c)

    def compute_output_shape(self, input_shape):
        self._check_input(tuple(input_shape))
        n, steps, c = input_shape
        return (n, _added(steps, *self.padding, 1), c)

    def get_config(self):
        return {**super().get_config(), "padding": self.padding, "data_format": self.data_format}


class ZeroPadding3D(Layer):
    """Adds zeros at both ends of the three spatial axes of volumes.

    Args:
        padding: an int, three ints (symmetric per axis), or three ``(before, after)`` pairs
            for depth, height and width.
        data_format: only ``"channels_last"``.

    Input shape:
        ``(batch_size, D, H, W, C)``.
    Output shape:
        ``(batch_size, D', H', W', C)`` with each axis grown by its two paddings.

    Example:
        >>> ZeroPadding3D((1, 0, 2))(np.ones((1, 2, 2, 2, 3))).shape
        (1, 4, 2, 6, 3)
    """

    samplewise = True  # each output sample depends on its input sample alone

    def __init__(self, padding=((1, 1), (1, 1), (1, 1)), data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.padding = standardize_triple_pairs(padding, "padding")
        self.data_format = standardize_data_format(data_format)
        self.input_spec = InputSpec(ndim=5)

    def call(self, inputs):
        depth, height, width = self.padding
        out = _volume_hw(inputs, lambda x: shape_ops.pad2d(x, (height, width)))
        return _volume_depth(out, lambda x: shape_ops.pad2d(x, (depth, (0, 0))))

    def compute_output_shape(self, input_shape):
        self._check_input(tuple(input_shape))
        n, *spatial, c = input_shape
        return (n, *(_added(s, *pair, 1) for s, pair in zip(spatial, self.padding)), c)

    def get_config(self):
        return {**super().get_config(), "padding": self.padding, "data_format": self.data_format}


class UpSampling1D(Layer):
    """Repeats every step of sequences ``size`` times.

    Args:
        size: a positive int.

    Input shape:
        ``(batch_size, steps, channels)``.
    Output shape:
        ``(batch_size, steps * size, channels)``.

    Raises:
        TypeError: ``size`` not an int.

    Example:
        >>> UpSampling1D(3)(np.ones((2, 4, 1))).shape
        (2, 12, 1)
    """

    samplewise = True  # each output sample depends on its input sample alone

    def __init__(self, size=2, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(size, (int, np.integer)) or isinstance(size, bool):
            raise TypeError(
                f"UpSampling1D expects `size` to be an integer. Received: size={size!r} "
                f"(of type {type(size).__name__})"
            )
        self.size = int(standardize_tuple(size, 1, "size")[0])
        self.input_spec = InputSpec(ndim=3)

    def call(self, inputs):
        n, steps, c = inputs.shape
        out = shape_ops.upsample2d_nearest(inputs.reshape(n, 1, steps, c), (1, self.size))
        return out.reshape(n, steps * self.size, c)

    def compute_output_shape(self, input_shape):
        self._check_input(tuple(input_shape))
        n, steps, c = input_shape
        return (n, None if steps is None else steps * self.size, c)

    def get_config(self):
        return {**super().get_config(), "size": self.size}


class UpSampling3D(Layer):
    """Repeats every voxel of volumes ``size = (SD, SH, SW)`` times along the three axes.

    Args:
        size: an int or three positive ints.
        data_format: only ``"channels_last"``.

    Input shape:
        ``(batch_size, D, H, W, C)``.
    Output shape:
        ``(batch_size, D * SD, H * SH, W * SW, C)``.

    Example:
        >>> UpSampling3D((1, 2, 3))(np.ones((1, 2, 2, 2, 1))).shape
        (1, 2, 4, 6, 1)
    """

    samplewise = True  # each output sample depends on its input sample alone

    def __init__(self, size=(2, 2, 2), data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.size = standardize_tuple(size, 3, "size")
        self.data_format = standardize_data_format(data_format)
        self.input_spec = InputSpec(ndim=5)

    def call(self, inputs):
        sd, sh, sw = self.size
        out = _volume_hw(inputs, lambda x: shape_ops.upsample2d_nearest(x, (sh, sw)))
        return _volume_depth(out, lambda x: shape_ops.upsample2d_nearest(x, (sd, 1)))

    def compute_output_shape(self, input_shape):
        self._check_input(tuple(input_shape))
        n, *spatial, c = input_shape
        return (n, *(None if s is None else s * k for s, k in zip(spatial, self.size)), c)

    def get_config(self):
        return {**super().get_config(), "size": self.size, "data_format": self.data_format}
