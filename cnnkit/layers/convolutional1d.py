"""1-D convolution over sequences (channels last), the text CNN's feature extractor."""

from __future__ import annotations

from cnnkit import activations, initializers
from cnnkit.kernels import conv as conv_ops
from cnnkit.layers.base import InputSpec, standardize_padding, standardize_tuple
from cnnkit.layers.convolutional import Conv2D
from cnnkit.layers.core import _activate, _activity_penalty


class Conv1D(Conv2D):
    """1-D convolution layer: ``activation(correlate(inputs, kernel) + bias)`` along time.

    Each output step of filter ``f`` is the weighted sum of a ``K × C`` window of the input
    (``K`` consecutive steps), the same kernel at every step. Computed as a 2-D convolution of
    height 1, so it shares the 2-D op and its tests.

    Args:
        filters: number of output channels ``F``.
        kernel_size: int or (K,).
        strides: int or (s,).
        padding: ``"valid"``, ``"same"``, ``"causal"`` (``K' - 1`` zeros before the sequence
            only, so output ``t`` sees inputs ``<= t``) or ``"full"`` (``K' - 1`` zeros each
            side; a cnnkit extension).
        data_format: only ``"channels_last"``.
        dilation_rate: int or (d,); with dilation > 1, strides must be 1.
        groups: split the input channels and the filters into this many groups (as
            :class:`~cnnkit.layers.Conv2D`).
        activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer,
        bias_regularizer, activity_regularizer: as :class:`Conv2D`; the kernel is
        ``(K, C, F)``.

    Input shape:
        ``(batch_size, steps, C)``
    Output shape:
        ``(batch_size, new_steps, F)``; with ``K' = (K - 1)·d + 1``: valid
        ``floor((steps - K') / s) + 1``; same ``ceil(steps / s)``; causal
        ``floor((steps - 1) / s) + 1``; full ``floor((steps + K' - 2) / s) + 1``.

    Example:
        >>> Conv1D(8, 3, activation="relu")(np.ones((2, 10, 4), "float32")).shape
        (2, 8, 8)
        >>> Conv1D(8, 3, padding="causal")(np.ones((2, 10, 4), "float32")).shape
        (2, 10, 8)
    """

    samplewise = True

    def __init__(self, filters, kernel_size, strides=1, padding="valid", dilation_rate=1, **kwargs):
        kernel_size = (1, *standardize_tuple(kernel_size, 1, "kernel_size"))
        strides = (1, *standardize_tuple(strides, 1, "strides"))
        dilation_rate = (1, *standardize_tuple(dilation_rate, 1, "dilation_rate"))
        padding = standardize_padding(padding, ("valid", "same", "causal", "full"))
        # Conv2D validates everything else; "valid" stands in for "causal" there.
        super().__init__(
            filters,
            kernel_size,
            strides=strides,
            padding="valid" if padding == "causal" else padding,
            dilation_rate=dilation_rate,
            **kwargs,
        )
        self.padding = padding
        self.input_spec = InputSpec(ndim=3)

    def _kernel_shape(self, channels: int) -> tuple:
        return super()._kernel_shape(channels)[1:]  # (K, C / groups, F), Keras's layout

    def call(self, inputs):
        self._check_steps(inputs.shape)
        if self._overrides_convolution_op():
            return self._call_convolution_op(inputs)
        n, steps, channels = inputs.shape
        fuse = self.activation is activations.relu and self.groups == 1
        args = (self.strides, self.padding, self.dilation_rate)
        kernel = self.kernel.reshape(1, *self.kernel.shape)
        if self.groups == 1:
            out = conv_ops.conv2d(
                inputs.reshape(n, 1, steps, channels), kernel, self.bias, *args, relu=fuse
            )
        else:
            out = self._grouped(inputs.reshape(n, 1, steps, channels), args, kernel)
        out = out.reshape(n, out.shape[2], self.filters)
        if not fuse:
            out = _activate(self, out)
        _activity_penalty(self, out)
        return out

    def _output_steps(self, steps):
        return conv_ops.conv_output_length(
            steps, self.kernel_size[1], self.strides[1], self.padding, self.dilation_rate[1]
        )

    def _check_steps(self, shape) -> None:
        out = self._output_steps(shape[1])
        if out is not None and out <= 0:
            raise ValueError(
                f'Layer "{self.name}": the input length {shape[1]} is too small for kernel size '
                f"{self.kernel_size[1]} with padding={self.padding!r} and dilation "
                f"{self.dilation_rate[1]}; the output would be empty. Input shape: {tuple(shape)}"
            )

    def compute_output_shape(self, input_shape):
        self._check_input(tuple(input_shape))
        self._check_steps(input_shape)
        return (input_shape[0], self._output_steps(input_shape[1]), self.filters)

    def get_config(self):
        config = super().get_config()
        config.update(
            kernel_size=self.kernel_size[1:],
            strides=self.strides[1:],
            dilation_rate=self.dilation_rate[1:],
            kernel_initializer=initializers.serialize(self.kernel_initializer),
        )
        return config


Convolution1D = Conv1D
