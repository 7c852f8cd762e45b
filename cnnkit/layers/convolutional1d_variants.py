"""``Conv1DTranspose``, ``DepthwiseConv1D`` and ``SeparableConv1D`` (channels last, Keras 3).

Each is its 2-D counterpart on sequences seen as images of height 1: the input ``(N, S, C)``
becomes ``(N, 1, S, C)``, the kernels gain a leading axis of 1, and the 2-D kernels of
:mod:`cnnkit.kernels.conv` (forward and backward) do the work. The weights keep Keras's 1-D
shapes, so ``set_weights`` takes Keras's arrays unchanged.

Example:
    >>> import numpy as np
    >>> Conv1DTranspose(4, 3, strides=2, padding="same")(np.ones((2, 5, 3))).shape
    (2, 10, 4)
    >>> DepthwiseConv1D(3, depth_multiplier=2)(np.ones((2, 5, 3))).shape
    (2, 3, 6)
    >>> SeparableConv1D(4, 3, padding="same")(np.ones((2, 5, 3))).shape
    (2, 5, 4)
"""

from __future__ import annotations

from cnnkit.kernels import conv as conv_ops
from cnnkit.layers.base import InputSpec, standardize_tuple
from cnnkit.layers.convolutional import (
    Conv2DTranspose,
    DepthwiseConv2D,
    SeparableConv2D,
    _channels,
)
from cnnkit.layers.core import _activate, _activity_penalty, _add_bias


def _as_2d(value, name: str, allow_zero: bool = False, lead: int = 1):
    """A 1-D int argument as the 2-D pair ``(lead, value)``."""
    return (lead, *standardize_tuple(value, 1, name, allow_zero=allow_zero))


def _image(x):
    n, steps, c = x.shape
    return x.reshape(n, 1, steps, c)


def _sequence(out):
    n, _, steps, c = out.shape
    return out.reshape(n, steps, c)


def _strip_height(config: dict, *keys) -> dict:
    for key in keys:
        if config.get(key) is not None:
            config[key] = tuple(config[key][1:])
    return config


def _check_rank3(layer, input_shape) -> None:
    if len(input_shape) != 3:
        raise ValueError(
            f'Input 0 of layer "{layer.name}" is incompatible with the layer: expected ndim=3, '
            f"found ndim={len(input_shape)}. Full shape received: {tuple(input_shape)}"
        )


class Conv1DTranspose(Conv2DTranspose):
    """Transposed 1-D convolution: learnable up-sampling of sequences.

    Args:
        filters: number of output channels ``F``.
        kernel_size: an int ``K``.
        strides: an int ``s``.
        padding: ``"valid"`` or ``"same"``.
        output_padding: None or an int smaller than ``strides``.
        data_format: only ``"channels_last"``.
        dilation_rate: an int ``d``; with ``d > 1``, strides must be 1.
        activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer,
        bias_regularizer, activity_regularizer, kernel_constraint, bias_constraint: as
            :class:`Conv2DTranspose`; the kernel has Keras's shape ``(K, F, C)``.

    Input shape:
        ``(batch_size, steps, C)``.
    Output shape:
        ``(batch_size, new_steps, F)``: valid ``(S - 1)·s + max(K', s)``, same ``S·s``
        (``K' = (K - 1)·d + 1``), or with ``output_padding`` ``p`` as Conv2DTranspose.

    Example:
        >>> import numpy as np
        >>> Conv1DTranspose(2, 3)(np.ones((1, 4, 1))).shape
        (1, 6, 2)
    """

    samplewise = True  # each output sample depends on its input sample alone

    def __init__(
        self,
        filters,
        kernel_size,
        strides=1,
        padding="valid",
        output_padding=None,
        data_format=None,
        dilation_rate=1,
        **kwargs,
    ):
        super().__init__(
            filters,
            _as_2d(kernel_size, "kernel_size"),
            strides=_as_2d(strides, "strides"),
            padding=padding,
            output_padding=(
                None
                if output_padding is None
                else _as_2d(output_padding, "output_padding", allow_zero=True, lead=0)
            ),
            data_format=data_format,
            dilation_rate=_as_2d(dilation_rate, "dilation_rate"),
            **kwargs,
        )
        self.input_spec = InputSpec(ndim=3)

    def build(self, input_shape):
        channels = _channels(self, input_shape)
        self.kernel = self.add_weight(
            (self.kernel_size[1], self.filters, channels),
            self.kernel_initializer,
            name="kernel",
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self.bias = _add_bias(self, self.filters)
        self.input_spec = InputSpec(ndim=3, axes={-1: channels})
        self.built = True

    def call(self, inputs):
        self.compute_output_shape(inputs.shape)
        out = conv_ops.conv2d_transpose(
            _image(inputs),
            self.kernel.reshape(1, *self.kernel.shape),
            self.bias,
            self.strides,
            self.padding,
            self.output_padding,
            self.dilation_rate,
        )
        out = _activate(self, _sequence(out))
        _activity_penalty(self, out)
        return out

    def compute_output_shape(self, input_shape):
        _check_rank3(self, input_shape)
        n, steps, c = input_shape
        _, _, out_steps, filters = super().compute_output_shape((n, 1, steps, c))
        return (n, out_steps, filters)

    def get_config(self):
        config = super().get_config()
        return _strip_height(config, "kernel_size", "strides", "dilation_rate", "output_padding")


class DepthwiseConv1D(DepthwiseConv2D):
    """Depthwise 1-D convolution: each channel filtered on its own by ``depth_multiplier`` kernels.

    Args:
        kernel_size: an int ``K``.
        strides: an int.
        padding: ``"valid"`` or ``"same"``.
        depth_multiplier: ``M``, kernels per input channel.
        data_format: only ``"channels_last"``.
        dilation_rate: an int; with dilation > 1, strides must be 1.
        activation, use_bias, depthwise_initializer, bias_initializer, depthwise_regularizer,
        bias_regularizer, activity_regularizer, depthwise_constraint, bias_constraint: as
            :class:`DepthwiseConv2D`; the kernel has Keras's shape ``(K, C, M)``.

    Input shape:
        ``(batch_size, steps, C)``.
    Output shape:
        ``(batch_size, new_steps, C·M)``, ``new_steps`` as Conv1D.

    Example:
        >>> import numpy as np
        >>> DepthwiseConv1D(2, padding="same")(np.ones((1, 4, 3))).shape
        (1, 4, 3)
    """

    samplewise = True  # each output sample depends on its input sample alone

    def __init__(self, kernel_size, strides=1, padding="valid", depth_multiplier=1, **kwargs):
        dilation_rate = kwargs.pop("dilation_rate", 1)
        super().__init__(
            _as_2d(kernel_size, "kernel_size"),
            strides=_as_2d(strides, "strides"),
            padding=_valid_or_same(padding),
            depth_multiplier=depth_multiplier,
            dilation_rate=_as_2d(dilation_rate, "dilation_rate"),
            **kwargs,
        )
        self.input_spec = InputSpec(ndim=3)

    def build(self, input_shape):
        channels = _channels(self, input_shape)
        self.kernel = self.add_weight(
            (self.kernel_size[1], channels, self.depth_multiplier),
            self.depthwise_initializer,
            name="kernel",
            regularizer=self.depthwise_regularizer,
            constraint=self.depthwise_constraint,
        )
        self.bias = _add_bias(self, channels * self.depth_multiplier)
        self.input_spec = InputSpec(ndim=3, axes={-1: channels})
        self.built = True

    def call(self, inputs):
        self.compute_output_shape(inputs.shape)
        out = conv_ops.depthwise_conv2d(
            _image(inputs),
            self.kernel.reshape(1, *self.kernel.shape),
            self.bias,
            self.strides,
            self.padding,
            self.dilation_rate,
        )
        out = _activate(self, _sequence(out))
        _activity_penalty(self, out)
        return out

    def compute_output_shape(self, input_shape):
        _check_rank3(self, input_shape)
        n, steps, c = input_shape
        _, _, out_steps, out_c = super().compute_output_shape((n, 1, steps, c))
        return (n, out_steps, out_c)

    def get_config(self):
        return _strip_height(super().get_config(), "kernel_size", "strides", "dilation_rate")


class SeparableConv1D(SeparableConv2D):
    """Depthwise separable 1-D convolution: a depthwise step, then a pointwise channel mix.

    Args:
        filters: number of output channels ``F``.
        kernel_size: an int ``K``.
        strides: an int.
        padding: ``"valid"`` or ``"same"``.
        data_format: only ``"channels_last"``.
        dilation_rate: an int; with dilation > 1, strides must be 1.
        depth_multiplier: ``M``, depthwise kernels per input channel.
        activation, use_bias, the initializers, regularizers and constraints: as
            :class:`SeparableConv2D`; the kernels have Keras's shapes ``(K, C, M)`` and
            ``(1, C·M, F)``.

    Input shape:
        ``(batch_size, steps, C)``.
    Output shape:
        ``(batch_size, new_steps, F)``.

    Example:
        >>> import numpy as np
        >>> SeparableConv1D(2, 3, depth_multiplier=2)(np.ones((1, 5, 3))).shape
        (1, 3, 2)
    """

    samplewise = True  # each output sample depends on its input sample alone

    def __init__(
        self,
        filters,
        kernel_size,
        strides=1,
        padding="valid",
        data_format=None,
        dilation_rate=1,
        depth_multiplier=1,
        **kwargs,
    ):
        super().__init__(
            filters,
            _as_2d(kernel_size, "kernel_size"),
            strides=_as_2d(strides, "strides"),
            padding=_valid_or_same(padding),
            data_format=data_format,
            dilation_rate=_as_2d(dilation_rate, "dilation_rate"),
            depth_multiplier=depth_multiplier,
            **kwargs,
        )
        self.input_spec = InputSpec(ndim=3)

    def build(self, input_shape):
        channels = _channels(self, input_shape)
        self.depthwise_kernel = self.add_weight(
            (self.kernel_size[1], channels, self.depth_multiplier),
            self.depthwise_initializer,
            name="depthwise_kernel",
            regularizer=self.depthwise_regularizer,
            constraint=self.depthwise_constraint,
        )
        self.pointwise_kernel = self.add_weight(
            (1, channels * self.depth_multiplier, self.filters),
            self.pointwise_initializer,
            name="pointwise_kernel",
            regularizer=self.pointwise_regularizer,
            constraint=self.pointwise_constraint,
        )
        self.bias = _add_bias(self, self.filters)
        self.input_spec = InputSpec(ndim=3, axes={-1: channels})
        self.built = True

    def call(self, inputs):
        self.compute_output_shape(inputs.shape)
        out = conv_ops.separable_conv2d(
            _image(inputs),
            self.depthwise_kernel.reshape(1, *self.depthwise_kernel.shape),
            self.pointwise_kernel.reshape(1, *self.pointwise_kernel.shape),
            self.bias,
            self.strides,
            self.padding,
            self.dilation_rate,
        )
        out = _activate(self, _sequence(out))
        _activity_penalty(self, out)
        return out

    def compute_output_shape(self, input_shape):
        _check_rank3(self, input_shape)
        n, steps, c = input_shape
        _, _, out_steps, filters = super().compute_output_shape((n, 1, steps, c))
        return (n, out_steps, filters)

    def get_config(self):
        return _strip_height(super().get_config(), "kernel_size", "strides", "dilation_rate")


def _valid_or_same(padding):
    if not isinstance(padding, str) or padding.lower() not in ("valid", "same"):
        raise ValueError(
            "Invalid value for argument `padding`. Expected one of {'valid', 'same'}. "
            f"Received: padding={padding!r}"
        )
    return padding.lower()
