"""Convolution layers (channels last)."""

from __future__ import annotations

import numpy as np

from cnnkit import activations, initializers
from cnnkit.layers.base import (
    InputSpec,
    Layer,
    standardize_data_format,
    standardize_padding,
    standardize_tuple,
)
from cnnkit.layers.core import _activity_penalty, _no_constraints, _serialize_callable
from cnnkit.ops import conv as conv_ops


class Conv2D(Layer):
    """2-D convolution layer: ``activation(correlate(inputs, kernel) + bias)``.

    Every output pixel of feature map ``f`` is the weighted sum of a
    ``KH × KW × C`` window of the input with kernel ``f``: the same weights at
    every position (*parameter sharing*), so the layer has only
    ``KH·KW·C·F + F`` parameters whatever the image size.

    Args:
        filters: number of output feature maps ``F``.
        kernel_size: int or (KH, KW).
        strides: int or (sh, sw).
        padding: ``"valid"`` (no padding), ``"same"`` (TensorFlow's, output
            ``ceil(H / s)``) or ``"full"`` (``K - 1`` zeros each side; a cnnkit extension).
        data_format: only ``"channels_last"``.
        dilation_rate: int or (dh, dw); with dilation > 1, strides must be 1.
        groups: only 1.
        activation: activation function or name.
        use_bias: add one bias per feature map, broadcast over all pixels.
        kernel_initializer, bias_initializer: initializers of the ``(KH, KW, C, F)``
            kernel and the ``(F,)`` bias.
        kernel_regularizer, bias_regularizer, activity_regularizer: optional penalties.

    Input shape:
        ``(batch_size, H, W, C)``
    Output shape:
        ``(batch_size, OH, OW, F)`` with, for each spatial axis and ``K' = (K-1)·d + 1``:
        valid ``OH = floor((H - K') / s) + 1``; same ``OH = ceil(H / s)``;
        full ``OH = floor((H + K' - 2) / s) + 1``.

    Example:
        >>> layer = Conv2D(32, (3, 3), strides=2, activation="relu")
        >>> layer(np.ones((1, 28, 28, 1), "float32")).shape
        (1, 13, 13, 32)
    """

    def __init__(
        self,
        filters,
        kernel_size,
        strides=(1, 1),
        padding="valid",
        data_format=None,
        dilation_rate=(1, 1),
        groups=1,
        activation=None,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not isinstance(filters, (int, np.integer)) or isinstance(filters, bool) or filters <= 0:
            raise ValueError(
                "Invalid value for argument `filters`. Expected a strictly positive value. "
                f"Received filters={filters}."
            )
        if groups != 1:
            raise NotImplementedError(f"Conv2D supports only groups=1. Received: groups={groups}")
        _no_constraints(self, kernel_constraint, bias_constraint)
        self.filters = int(filters)
        self.kernel_size = standardize_tuple(kernel_size, 2, "kernel_size")
        self.strides = standardize_tuple(strides, 2, "strides")
        self.padding = standardize_padding(padding, ("valid", "same", "full"))
        self.data_format = standardize_data_format(data_format)
        self.dilation_rate = standardize_tuple(dilation_rate, 2, "dilation_rate")
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(
                "`strides > 1` not supported in conjunction with `dilation_rate > 1`. "
                f"Received: strides={self.strides} and dilation_rate={self.dilation_rate}"
            )
        self.groups = 1
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = kernel_regularizer
        self.bias_regularizer = bias_regularizer
        self.activity_regularizer = activity_regularizer
        self.input_spec = InputSpec(ndim=4)

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels is None:
            raise ValueError(
                f'Layer "{self.name}": the channel dimension (last axis) of the inputs should '
                f"be defined. Found None. Full input shape received: {tuple(input_shape)}"
            )
        self.kernel = self.add_weight(
            (*self.kernel_size, channels, self.filters),
            self.kernel_initializer,
            name="kernel",
            regularizer=self.kernel_regularizer,
        )
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(
                (self.filters,),
                self.bias_initializer,
                name="bias",
                regularizer=self.bias_regularizer,
            )
        self.input_spec = InputSpec(ndim=4, axes={-1: channels})
        self.built = True

    def call(self, inputs, training=False):
        self._check_spatial(inputs.shape)
        fuse = self.activation is activations.relu
        out = conv_ops.conv2d(
            inputs,
            self.kernel,
            self.bias,
            self.strides,
            self.padding,
            self.dilation_rate,
            relu=fuse,
        )
        if not fuse:
            out = self.activation(out)
        _activity_penalty(self, out)
        return out

    def _check_spatial(self, shape) -> None:
        for axis, size, k, s, d in zip(
            ("height", "width"), shape[1:3], self.kernel_size, self.strides, self.dilation_rate
        ):
            out = conv_ops.conv_output_length(size, k, s, self.padding, d)
            if out is not None and out <= 0:
                raise ValueError(
                    f'Layer "{self.name}": the input {axis} {size} is too small for kernel size '
                    f"{self.kernel_size} with padding={self.padding!r} and dilation "
                    f"{self.dilation_rate}; the output would be empty. Input shape: {tuple(shape)}"
                )

    def compute_output_shape(self, input_shape):
        self._check_spatial(input_shape)
        n, h, w, _ = input_shape
        oh, ow = (
            conv_ops.conv_output_length(size, k, s, self.padding, d)
            for size, k, s, d in zip((h, w), self.kernel_size, self.strides, self.dilation_rate)
        )
        return (n, oh, ow, self.filters)

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "strides": self.strides,
            "padding": self.padding,
            "data_format": self.data_format,
            "dilation_rate": self.dilation_rate,
            "groups": self.groups,
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": _serialize_callable(self.kernel_regularizer),
            "bias_regularizer": _serialize_callable(self.bias_regularizer),
            "activity_regularizer": _serialize_callable(self.activity_regularizer),
            "kernel_constraint": None,
            "bias_constraint": None,
        }
