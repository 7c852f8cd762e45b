"""Preprocessing layers inside the model: Rescaling and Resizing of images.

Example:
    >>> import numpy as np
    >>> images = np.full((1, 4, 4, 3), 255, dtype="uint8")
    >>> float(Rescaling(1.0 / 255)(images).numpy().max())
    1.0
    >>> Resizing(2, 6)(np.ones((1, 4, 4, 3), "float32")).shape
    (1, 2, 6, 3)
"""

from __future__ import annotations

import numbers

import numpy as np

from cnnkit.autodiff import Tensor
from cnnkit.backend import xp
from cnnkit.kernels import resize as resize_ops
from cnnkit.layers.base import Layer, standardize_data_format


def _number_or_numbers(value, name: str):
    """A float, or a tuple of floats (one per channel), as given to Rescaling."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return float(value)
    try:
        values = tuple(float(v) for v in np.asarray(value, dtype=float).ravel())
    except (TypeError, ValueError):
        values = ()
    if not values:
        raise ValueError(
            f"Invalid value for argument `{name}`. Expected a number or a sequence of numbers. "
            f"Received: {name}={value!r}"
        )
    return values


class Rescaling(Layer):
    """Multiplies by ``scale`` and adds ``offset``: ``outputs = inputs * scale + offset``.

    ``Rescaling(1 / 255)`` maps ``[0, 255]`` pixels to ``[0, 1]``; ``Rescaling(1 / 127.5,
    offset=-1)`` to ``[-1, 1]``. Integer inputs are cast to the layer's float dtype first.

    Args:
        scale: a number, or one number per channel (broadcast along the last axis).
        offset: a number, or one number per channel.

    Input shape:
        any; output shape: the same.

    Example:
        >>> Rescaling(0.5, offset=1.0)(np.array([[2.0, 4.0]], "float32")).numpy()
        array([[2., 3.]], dtype=float32)
    """

    samplewise = True

    def __init__(self, scale, offset=0.0, **kwargs):
        super().__init__(**kwargs)
        self.scale = _number_or_numbers(scale, "scale")
        self.offset = _number_or_numbers(offset, "offset")

    def _constant(self, value):
        return value if isinstance(value, float) else xp.asarray(value, dtype=self.dtype)

    def call(self, inputs):
        return inputs * self._constant(self.scale) + self._constant(self.offset)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "scale": self.scale, "offset": self.offset}


class Resizing(Layer):
    """Resizes images to ``(height, width)``, as Keras's ``Resizing`` (TensorFlow's sampling).

    Bilinear uses half-pixel centres without antialiasing; nearest picks
    ``floor((o + 0.5) · in / out)``; see :mod:`cnnkit.kernels.resize`. The layer is
    differentiable, so it may sit anywhere in a model.

    Args:
        height, width: the output size, positive ints.
        interpolation: ``"bilinear"`` (default) or ``"nearest"``.
        crop_to_aspect_ratio: first crop the largest centred window with the target aspect
            ratio (no distortion).
        pad_to_aspect_ratio: first pad the short side evenly with ``fill_value`` instead.
        fill_mode: only ``"constant"`` (as Keras).
        fill_value: the padding value of ``pad_to_aspect_ratio``.
        antialias: only ``False`` (no antialiasing filter; ``NotImplementedError`` for True).
        data_format: only ``"channels_last"``.

    Input shape:
        ``(batch_size, H, W, C)`` or one image ``(H, W, C)``.
    Output shape:
        ``(batch_size, height, width, C)`` (or ``(height, width, C)``). Float inputs keep
        their dtype; integer images are rounded and saturated back to their dtype, as Keras.

    Example:
        >>> x = np.arange(8, dtype="float32").reshape(1, 2, 4, 1)
        >>> Resizing(2, 2, crop_to_aspect_ratio=True)(x).numpy()[0, :, :, 0]
        array([[1., 2.],
               [5., 6.]], dtype=float32)
    """

    samplewise = True

    _keeps_integer_inputs = True

    def __init__(
        self,
        height,
        width,
        interpolation="bilinear",
        crop_to_aspect_ratio=False,
        pad_to_aspect_ratio=False,
        fill_mode="constant",
        fill_value=0.0,
        antialias=False,
        data_format=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if antialias:
            raise NotImplementedError(
                "Resizing has no antialiasing filter here: use antialias=False (Keras's default)."
            )
        for name, value in (("height", height), ("width", width)):
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value <= 0:
                raise ValueError(
                    f"Invalid value for argument `{name}`. Expected a strictly positive "
                    f"integer. Received: {name}={value!r}"
                )
        if crop_to_aspect_ratio and pad_to_aspect_ratio:
            raise ValueError(
                "Only one of `crop_to_aspect_ratio` & `pad_to_aspect_ratio` can be True."
            )
        if fill_mode != "constant":
            raise ValueError(
                "Invalid value for argument `fill_mode`: only 'constant' is supported. "
                f"Received: fill_mode={fill_mode!r}"
            )
        self.height, self.width = int(height), int(width)
        self.interpolation = resize_ops.check_interpolation(interpolation)
        self.crop_to_aspect_ratio = bool(crop_to_aspect_ratio)
        self.pad_to_aspect_ratio = bool(pad_to_aspect_ratio)
        self.fill_mode = fill_mode
        self.fill_value = float(fill_value)
        self.data_format = standardize_data_format(data_format)

    def call(self, inputs, training=True):
        self.compute_output_shape(inputs.shape)
        in_dtype = inputs.dtype
        if in_dtype.kind != "f":
            inputs = Tensor(inputs.data.astype(self.dtype))
        out = resize_ops.resize(
            inputs,
            (self.height, self.width),
            self.interpolation,
            crop_to_aspect_ratio=self.crop_to_aspect_ratio,
            pad_to_aspect_ratio=self.pad_to_aspect_ratio,
            fill_value=self.fill_value,
        )
        if in_dtype.kind in "iu":  # Keras: round, then saturate into the integer range
            info = np.iinfo(in_dtype)
            values = xp.clip(xp.round(out.data), info.min, info.max).astype(in_dtype)
            return Tensor(values)
        return out

    def compute_output_shape(self, input_shape):
        shape = tuple(input_shape)
        if len(shape) not in (3, 4):
            raise ValueError(
                f'Layer "{self.name}" expects images of rank 3 (H, W, C) or 4 (N, H, W, C). '
                f"Received: input_shape={shape}"
            )
        return (*shape[:-3], self.height, self.width, shape[-1])

    def get_config(self):
        return {
            **super().get_config(),
            "height": self.height,
            "width": self.width,
            "interpolation": self.interpolation,
            "crop_to_aspect_ratio": self.crop_to_aspect_ratio,
            "pad_to_aspect_ratio": self.pad_to_aspect_ratio,
            "fill_mode": self.fill_mode,
            "fill_value": self.fill_value,
            "antialias": False,
            "data_format": self.data_format,
        }
