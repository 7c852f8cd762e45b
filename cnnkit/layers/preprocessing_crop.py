"""``CenterCrop``: the central ``height x width`` window of images (Keras 3).

Example:
    >>> import numpy as np
    >>> x = np.arange(16, dtype="float32").reshape(1, 4, 4, 1)
    >>> CenterCrop(2, 2)(x).numpy()[0, :, :, 0]
    array([[ 5.,  6.],
           [ 9., 10.]], dtype=float32)
"""

from __future__ import annotations

import numbers

from cnnkit.autodiff import Tensor
from cnnkit.kernels import resize as resize_ops
from cnnkit.layers.base import Layer, standardize_data_format


class CenterCrop(Layer):
    """Crops the centre of images to ``(height, width)``; smaller images are resized instead.

    When the image is at least ``height x width``, the window starts at
    ``((H - height) // 2, (W - width) // 2)`` (a plain slice, differentiable). When it is
    smaller in either side, the image is resized as Keras's ``smart_resize`` does: the largest
    centred window with the target aspect ratio, resized bilinearly (half-pixel centres).
    Integer images are cast to the layer's float dtype, as in Keras.

    Args:
        height, width: the output size, positive ints.
        data_format: only ``"channels_last"`` (cnnkit's one layout).
        name: layer name.

    Input shape:
        ``(batch_size, H, W, C)`` or one image ``(H, W, C)``.
    Output shape:
        the same with ``H, W`` replaced by ``height, width``.

    Raises:
        ValueError: ``height``/``width`` not positive ints, or inputs not of rank 3 or 4.

    Example:
        >>> import numpy as np
        >>> CenterCrop(2, 3)(np.zeros((5, 5, 3))).shape
        (2, 3, 3)
    """

    samplewise = True  # each output sample depends on its input sample alone

    _keeps_integer_inputs = True

    def __init__(self, height, width, data_format=None, **kwargs):
        super().__init__(**kwargs)
        for name, value in (("height", height), ("width", width)):
            if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value <= 0:
                raise ValueError(
                    f"Invalid value for argument `{name}`. Expected a strictly positive "
                    f"integer. Received: {name}={value!r}"
                )
        self.height, self.width = int(height), int(width)
        self.data_format = standardize_data_format(data_format)

    @staticmethod
    def _spatial_axes(ndim: int) -> tuple[int, int]:
        return ndim - 3, ndim - 2

    def call(self, inputs, training=True):
        self.compute_output_shape(inputs.shape)
        if inputs.dtype.kind != "f":
            inputs = Tensor(inputs.data.astype(self.dtype))
        h_axis, w_axis = self._spatial_axes(inputs.ndim)
        in_h, in_w = inputs.shape[h_axis], inputs.shape[w_axis]
        if in_h >= self.height and in_w >= self.width:
            top, left = (in_h - self.height) // 2, (in_w - self.width) // 2
            index = [slice(None)] * inputs.ndim
            index[h_axis] = slice(top, top + self.height)
            index[w_axis] = slice(left, left + self.width)
            return inputs[tuple(index)]
        return resize_ops.resize(inputs, (self.height, self.width), crop_to_aspect_ratio=True)

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        if len(shape) not in (3, 4):
            raise ValueError(
                f'Layer "{self.name}" expects images of rank 3 (unbatched) or 4 (batched). '
                f"Received: input_shape={tuple(shape)}"
            )
        h_axis, w_axis = self._spatial_axes(len(shape))
        shape[h_axis], shape[w_axis] = self.height, self.width
        return tuple(shape)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "height": self.height,
            "width": self.width,
            "data_format": self.data_format,
        }
