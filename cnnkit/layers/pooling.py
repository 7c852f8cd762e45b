"""Pooling layers (channels last): max and average over windows, and global pooling."""

from __future__ import annotations

from cnnkit.autodiff import Tensor
from cnnkit.backend import xp
from cnnkit.kernels import conv as conv_ops
from cnnkit.kernels import pool as pool_ops
from cnnkit.layers.base import (
    InputSpec,
    Layer,
    standardize_data_format,
    standardize_padding,
    standardize_tuple,
)


class _Pooling2D(Layer):
    """Shared logic of MaxPooling2D and AveragePooling2D.

    Output size per spatial axis, window ``p`` and stride ``s``:
    valid ``floor((H - p) / s) + 1``; same ``ceil(H / s)``.
    """

    _op = None

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.pool_size = standardize_tuple(pool_size, 2, "pool_size")
        self.strides = (
            self.pool_size if strides is None else standardize_tuple(strides, 2, "strides")
        )
        self.padding = standardize_padding(padding)
        self.data_format = standardize_data_format(data_format)
        self.input_spec = InputSpec(ndim=4)

    def call(self, inputs):
        self.compute_output_shape(inputs.shape)
        return type(self)._op(inputs, self.pool_size, self.strides, self.padding)

    def compute_output_shape(self, input_shape):
        n, h, w, c = input_shape
        oh, ow = (
            conv_ops.conv_output_length(size, p, s, self.padding)
            for size, p, s in zip((h, w), self.pool_size, self.strides)
        )
        if (oh is not None and oh <= 0) or (ow is not None and ow <= 0):
            raise ValueError(
                f'Layer "{self.name}": the input {tuple(input_shape)} is smaller than the pool '
                f"size {self.pool_size} with padding='valid'; the output would be empty. "
                "Use padding='same' or a smaller pool_size."
            )
        return (n, oh, ow, c)

    def get_config(self):
        return {
            **super().get_config(),
            "pool_size": self.pool_size,
            "strides": self.strides,
            "padding": self.padding,
            "data_format": self.data_format,
        }


class MaxPooling2D(_Pooling2D):
    """Max pooling: the largest value of each ``pool_size`` window, moved by ``strides``.

    Args:
        pool_size: int or (ph, pw), default (2, 2).
        strides: int or (sh, sw); defaults to ``pool_size``.
        padding: ``"valid"`` or ``"same"`` (TensorFlow semantics).

    Input shape:
        ``(batch_size, H, W, C)``
    Output shape:
        ``(batch_size, OH, OW, C)``; valid ``OH = floor((H - ph) / sh) + 1``, same ``ceil(H / sh)``.

    Example:
        >>> x = np.arange(16, dtype="float32").reshape(1, 4, 4, 1)
        >>> MaxPooling2D()(x).numpy()[0, :, :, 0]
        array([[ 5.,  7.],
               [13., 15.]], dtype=float32)
    """

    samplewise = True

    _op = staticmethod(pool_ops.max_pool2d)


class AveragePooling2D(_Pooling2D):
    """Average pooling: the mean of each window (with ``"same"``, of its non-padded part).

    Args, shapes: as :class:`MaxPooling2D`.

    Example:
        >>> x = np.arange(16, dtype="float32").reshape(1, 4, 4, 1)
        >>> AveragePooling2D()(x).numpy()[0, :, :, 0]
        array([[ 2.5,  4.5],
               [10.5, 12.5]], dtype=float32)
    """

    samplewise = True

    _op = staticmethod(pool_ops.avg_pool2d)


class _GlobalPooling2D(Layer):
    _op = None

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        self.data_format = standardize_data_format(data_format)
        self.keepdims = bool(keepdims)
        self.input_spec = InputSpec(ndim=4)

    def call(self, inputs):
        return type(self)._op(inputs, keepdims=self.keepdims)

    def compute_output_shape(self, input_shape):
        n, _, _, c = input_shape
        return (n, 1, 1, c) if self.keepdims else (n, c)

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format, "keepdims": self.keepdims}


class GlobalMaxPooling2D(_GlobalPooling2D):
    """The maximum of each feature map over all pixels: ``(N, H, W, C) → (N, C)``.

    Works on images of any size, so it is the layer to use after convolutions
    on ``Input(shape=(None, None, C))``.

    Args:
        keepdims: keep the spatial axes as size 1, giving ``(N, 1, 1, C)``.

    Example:
        >>> GlobalMaxPooling2D()(np.arange(8, dtype="float32").reshape(1, 2, 2, 2)).numpy()
        array([[6., 7.]], dtype=float32)
    """

    samplewise = True

    _op = staticmethod(pool_ops.global_max_pool2d)


class GlobalAveragePooling2D(_GlobalPooling2D):
    """The mean of each feature map over all pixels: ``(N, H, W, C) → (N, C)``.

    Example:
        >>> GlobalAveragePooling2D()(np.arange(8, dtype="float32").reshape(1, 2, 2, 2)).numpy()
        array([[3., 4.]], dtype=float32)
    """

    samplewise = True

    _op = staticmethod(pool_ops.global_avg_pool2d)


# ---------------------------------------------------------------------------
# 1-D pooling over sequences (batch, steps, channels): the 2-D ops on height-1 images.
# ---------------------------------------------------------------------------


class _Pooling1D(Layer):
    """Shared logic of MaxPooling1D and AveragePooling1D.

    Output steps, window ``p`` and stride ``s``: valid ``floor((steps - p) / s) + 1``; same
    ``ceil(steps / s)``.
    """

    _op = None

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.pool_size = standardize_tuple(pool_size, 1, "pool_size")
        self.strides = (
            self.pool_size if strides is None else standardize_tuple(strides, 1, "strides")
        )
        self.padding = standardize_padding(padding)
        self.data_format = standardize_data_format(data_format)
        self.input_spec = InputSpec(ndim=3)

    def call(self, inputs):
        self.compute_output_shape(inputs.shape)
        n, steps, c = inputs.shape
        out = type(self)._op(
            inputs.reshape(n, 1, steps, c),
            (1, *self.pool_size),
            (1, *self.strides),
            self.padding,
        )
        return out.reshape(n, out.shape[2], c)

    def compute_output_shape(self, input_shape):
        n, steps, c = input_shape
        out = conv_ops.conv_output_length(steps, self.pool_size[0], self.strides[0], self.padding)
        if out is not None and out <= 0:
            raise ValueError(
                f'Layer "{self.name}": the input {tuple(input_shape)} is shorter than the pool '
                f"size {self.pool_size} with padding='valid'; the output would be empty. "
                "Use padding='same' or a smaller pool_size."
            )
        return (n, out, c)

    def get_config(self):
        return {
            **super().get_config(),
            "pool_size": self.pool_size,
            "strides": self.strides,
            "padding": self.padding,
            "data_format": self.data_format,
        }


class MaxPooling1D(_Pooling1D):
    """Max pooling along time: the largest value of each ``pool_size`` window of steps.

    Args:
        pool_size: int, default 2.
        strides: int; defaults to ``pool_size``.
        padding: ``"valid"`` or ``"same"``.

    Input shape:
        ``(batch_size, steps, C)``
    Output shape:
        ``(batch_size, new_steps, C)``: valid ``floor((steps - p) / s) + 1``, same
        ``ceil(steps / s)``.

    Example:
        >>> x = np.array([[[1.0], [3.0], [2.0], [0.0], [5.0]]], "float32")
        >>> MaxPooling1D()(x).numpy()[0, :, 0]
        array([3., 2.], dtype=float32)
    """

    samplewise = True

    _op = staticmethod(pool_ops.max_pool2d)


class AveragePooling1D(_Pooling1D):
    """Average pooling along time: the mean of each window of steps.

    Args, shapes: as :class:`MaxPooling1D`.

    Example:
        >>> x = np.array([[[1.0], [3.0], [2.0], [0.0]]], "float32")
        >>> AveragePooling1D()(x).numpy()[0, :, 0]
        array([2., 1.], dtype=float32)
    """

    samplewise = True

    _op = staticmethod(pool_ops.avg_pool2d)


class _GlobalPooling1D(Layer):
    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        self.data_format = standardize_data_format(data_format)
        self.keepdims = bool(keepdims)
        self.input_spec = InputSpec(ndim=3)
        self.supports_masking = True

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        n, _, c = input_shape
        return (n, 1, c) if self.keepdims else (n, c)

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format, "keepdims": self.keepdims}


class GlobalMaxPooling1D(_GlobalPooling1D):
    """The maximum of each channel over all steps: ``(N, steps, C) → (N, C)``.

    As in Keras 3, a timestep mask is not applied (padded steps take part in the maximum);
    use :class:`GlobalAveragePooling1D` to pool only the real steps.

    Args:
        keepdims: keep the steps axis as size 1, giving ``(N, 1, C)``.

    Example:
        >>> GlobalMaxPooling1D()(np.arange(6, dtype="float32").reshape(1, 3, 2)).numpy()
        array([[4., 5.]], dtype=float32)
    """

    samplewise = True

    def call(self, inputs):
        n, steps, c = inputs.shape
        out = pool_ops.global_max_pool2d(inputs.reshape(n, 1, steps, c))
        return out.reshape(n, 1, c) if self.keepdims else out


class GlobalAveragePooling1D(_GlobalPooling1D):
    """The mean of each channel over the steps: ``(N, steps, C) → (N, C)``.

    With a timestep mask (e.g. from ``Embedding(mask_zero=True)``), only the unmasked steps
    are averaged, as in Keras.

    Args:
        keepdims: keep the steps axis as size 1, giving ``(N, 1, C)``.

    Example:
        >>> x = np.arange(6, dtype="float32").reshape(1, 3, 2)
        >>> GlobalAveragePooling1D()(x).numpy()
        array([[2., 3.]], dtype=float32)
        >>> GlobalAveragePooling1D()(x, mask=np.array([[True, True, False]])).numpy()
        array([[1., 2.]], dtype=float32)
    """

    samplewise = True

    def call(self, inputs, mask=None):
        if mask is None:
            return inputs.mean(axis=1, keepdims=self.keepdims)
        weights = Tensor(xp.asarray(mask)[..., None].astype(inputs.dtype))
        return (inputs * weights).sum(axis=1, keepdims=self.keepdims) / weights.sum(
            axis=1, keepdims=self.keepdims
        )


MaxPool1D = MaxPooling1D
AvgPool1D = AveragePooling1D
GlobalMaxPool1D = GlobalMaxPooling1D
GlobalAvgPool1D = GlobalAveragePooling1D
MaxPool2D = MaxPooling2D
AvgPool2D = AveragePooling2D
GlobalMaxPool2D = GlobalMaxPooling2D
GlobalAvgPool2D = GlobalAveragePooling2D
