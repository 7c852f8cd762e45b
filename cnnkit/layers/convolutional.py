"""Convolution layers (channels last)."""

from __future__ import annotations

from cnnkit import activations, initializers, regularizers
from cnnkit.argument_validation import check_positive_int
from cnnkit.kernels import conv as conv_ops
from cnnkit.kernels import shape as shape_ops
from cnnkit.layers.base import (
    InputSpec,
    Layer,
    standardize_data_format,
    standardize_padding,
    standardize_tuple,
)
from cnnkit.layers.core import (
    _activate,
    _activity_penalty,
    _add_bias,
    _serialize_callable,
    _set_constraints,
)


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
        groups: split the input channels and the filters into this many groups, each
            group of filters seeing its own channels (both must divide by it); one group
            per channel is a depthwise convolution.
        activation: activation function or name.
        use_bias: add one bias per feature map, broadcast over all pixels.
        kernel_initializer, bias_initializer: initializers of the ``(KH, KW, C, F)``
            kernel and the ``(F,)`` bias.
        kernel_regularizer, bias_regularizer, activity_regularizer: optional penalties.
        kernel_constraint, bias_constraint: optional constraints (``cnnkit.constraints``)
            applied to the weights after each optimizer update.

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

    samplewise = True

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
        filters = check_positive_int("filters", filters)
        groups = check_positive_int("groups", groups)
        if filters % groups:
            raise ValueError(
                "The number of filters must be evenly divisible by the number of groups. "
                f"Received: groups={groups}, filters={filters}."
            )
        _set_constraints(self, kernel_constraint=kernel_constraint, bias_constraint=bias_constraint)
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
        self.groups = groups
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self.input_spec = InputSpec(ndim=4)

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels is None:
            raise ValueError(
                f'Layer "{self.name}": the channel dimension (last axis) of the inputs should '
                f"be defined. Found None. Full input shape received: {tuple(input_shape)}"
            )
        self.kernel = self.add_weight(
            self._kernel_shape(channels),
            self.kernel_initializer,
            name="kernel",
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self.bias = _add_bias(self, self.filters)
        self.input_spec = InputSpec(ndim=self.input_spec.ndim, axes={-1: channels})
        self.built = True

    def _kernel_shape(self, channels: int) -> tuple:
        if channels % self.groups:
            raise ValueError(
                f'Layer "{self.name}": the number of input channels must be evenly divisible '
                f"by the number of groups. Received: groups={self.groups}, input channels "
                f"{channels}."
            )
        return (*self.kernel_size, channels // self.groups, self.filters)

    def convolution_op(self, inputs, kernel):
        """``ops.conv(inputs, kernel)`` with this layer's strides, padding and dilation.

        Keras's ``BaseConv.convolution_op``: a subclass that overrides it (a standardized or
        masked kernel, another convolution) changes what ``call`` computes, which then is
        ``activation(convolution_op(inputs, kernel) + bias)``.
        """
        from cnnkit.ops import nn as ops_nn

        rank = len(kernel.shape) - 2  # Conv1D keeps (1, s) strides for its 2-D kernel op
        return ops_nn.conv(
            inputs,
            kernel,
            strides=self.strides[-rank:],
            padding=self.padding,
            data_format=self.data_format,
            dilation_rate=self.dilation_rate[-rank:],
        )

    def _overrides_convolution_op(self) -> bool:
        return type(self).convolution_op is not Conv2D.convolution_op

    def _call_convolution_op(self, inputs):
        """``call`` through an overridden :meth:`convolution_op` (Keras's generic path)."""
        out = self.convolution_op(inputs, self.kernel)
        if self.use_bias:
            out = out + self.bias
        out = _activate(self, out)
        _activity_penalty(self, out)
        return out

    def call(self, inputs):
        self._check_spatial(inputs.shape)
        if self._overrides_convolution_op():
            return self._call_convolution_op(inputs)
        fuse = self.activation is activations.relu and self.groups == 1
        args = (self.strides, self.padding, self.dilation_rate)
        if self.groups == 1:
            out = conv_ops.conv2d(inputs, self.kernel, self.bias, *args, relu=fuse)
        else:
            out = self._grouped(inputs, args)
        if not fuse:
            out = _activate(self, out)
        _activity_penalty(self, out)
        return out

    def _grouped(self, inputs, args, kernel=None):
        """Grouped convolution (Keras's ``groups``): input channels and filters split into
        ``groups`` equal parts, part ``g`` of the filters seeing only part ``g`` of the
        channels. One group per channel is a depthwise convolution; otherwise one
        convolution per group."""
        kernel = self.kernel if kernel is None else kernel  # (KH, KW, C / groups, F)
        kh, kw, per_group, filters = kernel.shape
        if per_group == 1:  # depthwise: filter o reads channel o // (filters // groups)
            depthwise = kernel.reshape(kh, kw, self.groups, filters // self.groups)
            return conv_ops.depthwise_conv2d(inputs, depthwise, self.bias, *args)
        width = filters // self.groups
        parts = [
            conv_ops.conv2d(
                inputs[..., g * per_group : (g + 1) * per_group],
                kernel[..., g * width : (g + 1) * width],
                None if self.bias is None else self.bias[g * width : (g + 1) * width],
                *args,
            )
            for g in range(self.groups)
        ]
        return shape_ops.concatenate(parts, axis=-1)

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
            "kernel_constraint": _serialize_callable(self.kernel_constraint),
            "bias_constraint": _serialize_callable(self.bias_constraint),
        }


# ---------------------------------------------------------------------------
# Depthwise, separable and transposed convolutions. Shared argument checks first.
# ---------------------------------------------------------------------------


def _check_strides_and_dilation(strides, dilation_rate) -> None:
    if max(strides) > 1 and max(dilation_rate) > 1:
        raise ValueError(
            "`strides > 1` not supported in conjunction with `dilation_rate > 1`. "
            f"Received: strides={strides} and dilation_rate={dilation_rate}"
        )


def _channels(layer: Layer, input_shape) -> int:
    channels = input_shape[-1]
    if channels is None:
        raise ValueError(
            f'Layer "{layer.name}": the channel dimension (last axis) of the inputs should '
            f"be defined. Found None. Full input shape received: {tuple(input_shape)}"
        )
    return int(channels)


def _check_not_empty(layer: Layer, input_shape, out_hw) -> None:
    if any(size is not None and size <= 0 for size in out_hw):
        raise ValueError(
            f'Layer "{layer.name}": the input {tuple(input_shape)} is too small for kernel size '
            f"{layer.kernel_size} with padding={layer.padding!r}, strides {layer.strides} and "
            f"dilation {layer.dilation_rate}; the output would be empty."
        )


class _DepthwiseBase(Layer):
    """The depthwise step shared by DepthwiseConv2D and SeparableConv2D: arguments and sizes."""

    def _init_depthwise(self, kernel_size, strides, padding, dilation_rate, depth_multiplier):
        self.kernel_size = standardize_tuple(kernel_size, 2, "kernel_size")
        self.strides = standardize_tuple(strides, 2, "strides")
        self.padding = standardize_padding(padding, ("valid", "same", "full"))
        self.dilation_rate = standardize_tuple(dilation_rate, 2, "dilation_rate")
        _check_strides_and_dilation(self.strides, self.dilation_rate)
        self.depth_multiplier = check_positive_int("depth_multiplier", depth_multiplier)
        self.input_spec = InputSpec(ndim=4)

    def _output_hw(self, input_shape):
        out = tuple(
            conv_ops.conv_output_length(size, k, s, self.padding, d)
            for size, k, s, d in zip(
                input_shape[1:3], self.kernel_size, self.strides, self.dilation_rate
            )
        )
        _check_not_empty(self, input_shape, out)
        return out

    def _depthwise_config(self) -> dict:
        return {
            "kernel_size": self.kernel_size,
            "strides": self.strides,
            "padding": self.padding,
            "depth_multiplier": self.depth_multiplier,
            "data_format": self.data_format,
            "dilation_rate": self.dilation_rate,
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
        }


class DepthwiseConv2D(_DepthwiseBase):
    """Depthwise 2-D convolution: each input channel filtered on its own, never mixed.

    Every input channel ``c`` is correlated with ``depth_multiplier`` kernels of its own,
    giving output channels ``c·M .. c·M + M - 1`` (``M = depth_multiplier``). The layer has
    ``KH·KW·C·M + C·M`` parameters, against ``KH·KW·C·F + F`` for a Conv2D.

    Args:
        kernel_size: int or (KH, KW).
        strides: int or (sh, sw).
        padding: ``"valid"``, ``"same"`` or ``"full"`` (a cnnkit extension, as in Conv2D).
        depth_multiplier: ``M``, kernels per input channel.
        data_format: only ``"channels_last"``.
        dilation_rate: int or (dh, dw); with dilation > 1, strides must be 1.
        activation: activation function or name.
        use_bias: add one bias per output channel.
        depthwise_initializer, bias_initializer: of the ``(KH, KW, C, M)`` kernel (weight
            name ``"kernel"``, as Keras 3) and the ``(C·M,)`` bias.
        depthwise_regularizer, bias_regularizer, activity_regularizer: optional penalties.
        depthwise_constraint, bias_constraint: optional constraints applied after each update.

    Input shape:
        ``(batch_size, H, W, C)``
    Output shape:
        ``(batch_size, OH, OW, C·M)``, ``OH`` and ``OW`` as Conv2D.

    Example:
        >>> DepthwiseConv2D(3, depth_multiplier=2)(np.ones((1, 8, 8, 3), "float32")).shape
        (1, 6, 6, 6)
    """

    samplewise = True

    def __init__(
        self,
        kernel_size,
        strides=(1, 1),
        padding="valid",
        depth_multiplier=1,
        data_format=None,
        dilation_rate=(1, 1),
        activation=None,
        use_bias=True,
        depthwise_initializer="glorot_uniform",
        bias_initializer="zeros",
        depthwise_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        depthwise_constraint=None,
        bias_constraint=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        _set_constraints(
            self, depthwise_constraint=depthwise_constraint, bias_constraint=bias_constraint
        )
        self._init_depthwise(kernel_size, strides, padding, dilation_rate, depth_multiplier)
        self.data_format = standardize_data_format(data_format)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.depthwise_initializer = initializers.get(depthwise_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.depthwise_regularizer = regularizers.get(depthwise_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.activity_regularizer = regularizers.get(activity_regularizer)

    def build(self, input_shape):
        channels = _channels(self, input_shape)
        self.kernel = self.add_weight(
            (*self.kernel_size, channels, self.depth_multiplier),
            self.depthwise_initializer,
            name="kernel",
            regularizer=self.depthwise_regularizer,
            constraint=self.depthwise_constraint,
        )
        self.bias = _add_bias(self, channels * self.depth_multiplier)
        self.input_spec = InputSpec(ndim=4, axes={-1: channels})
        self.built = True

    def call(self, inputs):
        self._output_hw(inputs.shape)
        out = conv_ops.depthwise_conv2d(
            inputs, self.kernel, self.bias, self.strides, self.padding, self.dilation_rate
        )
        out = _activate(self, out)
        _activity_penalty(self, out)
        return out

    def compute_output_shape(self, input_shape):
        oh, ow = self._output_hw(input_shape)
        c = input_shape[-1]
        return (input_shape[0], oh, ow, None if c is None else c * self.depth_multiplier)

    def get_config(self):
        return {
            **super().get_config(),
            **self._depthwise_config(),
            "depthwise_initializer": initializers.serialize(self.depthwise_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "depthwise_regularizer": _serialize_callable(self.depthwise_regularizer),
            "bias_regularizer": _serialize_callable(self.bias_regularizer),
            "activity_regularizer": _serialize_callable(self.activity_regularizer),
            "depthwise_constraint": _serialize_callable(self.depthwise_constraint),
            "bias_constraint": _serialize_callable(self.bias_constraint),
        }


class SeparableConv2D(_DepthwiseBase):
    """Depthwise separable convolution: a depthwise step, then a 1×1 convolution mixing channels.

    ``out = activation(conv1x1(depthwise(x, depthwise_kernel), pointwise_kernel) + bias)``
    (Chollet, 2017, https://arxiv.org/abs/1610.02357): ``KH·KW·C·M + C·M·F + F`` parameters
    instead of ``KH·KW·C·F + F``.

    Args:
        filters: number of output channels ``F``.
        kernel_size, strides, padding, dilation_rate: of the depthwise step, as Conv2D.
        depth_multiplier: ``M``, depthwise kernels per input channel.
        data_format: only ``"channels_last"``.
        activation: activation function or name.
        use_bias: add one bias per output channel (after the pointwise step).
        depthwise_initializer, pointwise_initializer, bias_initializer: of the weights
            ``depthwise_kernel (KH, KW, C, M)``, ``pointwise_kernel (1, 1, C·M, F)`` and
            ``bias (F,)`` (Keras's names and shapes).
        depthwise_regularizer, pointwise_regularizer, bias_regularizer, activity_regularizer:
            optional penalties.
        depthwise_constraint, pointwise_constraint, bias_constraint: optional constraints
            applied after each optimizer update.

    Input shape:
        ``(batch_size, H, W, C)``
    Output shape:
        ``(batch_size, OH, OW, F)``, ``OH`` and ``OW`` as Conv2D.

    Example:
        >>> SeparableConv2D(4, 3, padding="same")(np.ones((1, 8, 8, 3), "float32")).shape
        (1, 8, 8, 4)
    """

    samplewise = True

    def __init__(
        self,
        filters,
        kernel_size,
        strides=(1, 1),
        padding="valid",
        data_format=None,
        dilation_rate=(1, 1),
        depth_multiplier=1,
        activation=None,
        use_bias=True,
        depthwise_initializer="glorot_uniform",
        pointwise_initializer="glorot_uniform",
        bias_initializer="zeros",
        depthwise_regularizer=None,
        pointwise_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        depthwise_constraint=None,
        pointwise_constraint=None,
        bias_constraint=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        _set_constraints(
            self,
            depthwise_constraint=depthwise_constraint,
            pointwise_constraint=pointwise_constraint,
            bias_constraint=bias_constraint,
        )
        self.filters = check_positive_int("filters", filters)
        self._init_depthwise(kernel_size, strides, padding, dilation_rate, depth_multiplier)
        self.data_format = standardize_data_format(data_format)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.depthwise_initializer = initializers.get(depthwise_initializer)
        self.pointwise_initializer = initializers.get(pointwise_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.depthwise_regularizer = regularizers.get(depthwise_regularizer)
        self.pointwise_regularizer = regularizers.get(pointwise_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.activity_regularizer = regularizers.get(activity_regularizer)

    def build(self, input_shape):
        channels = _channels(self, input_shape)
        self.depthwise_kernel = self.add_weight(
            (*self.kernel_size, channels, self.depth_multiplier),
            self.depthwise_initializer,
            name="depthwise_kernel",
            regularizer=self.depthwise_regularizer,
            constraint=self.depthwise_constraint,
        )
        self.pointwise_kernel = self.add_weight(
            (1, 1, channels * self.depth_multiplier, self.filters),
            self.pointwise_initializer,
            name="pointwise_kernel",
            regularizer=self.pointwise_regularizer,
            constraint=self.pointwise_constraint,
        )
        self.bias = _add_bias(self, self.filters)
        self.input_spec = InputSpec(ndim=4, axes={-1: channels})
        self.built = True

    def call(self, inputs):
        self._output_hw(inputs.shape)
        out = conv_ops.separable_conv2d(
            inputs,
            self.depthwise_kernel,
            self.pointwise_kernel,
            self.bias,
            self.strides,
            self.padding,
            self.dilation_rate,
        )
        out = _activate(self, out)
        _activity_penalty(self, out)
        return out

    def compute_output_shape(self, input_shape):
        oh, ow = self._output_hw(input_shape)
        return (input_shape[0], oh, ow, self.filters)

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            **self._depthwise_config(),
            "depthwise_initializer": initializers.serialize(self.depthwise_initializer),
            "pointwise_initializer": initializers.serialize(self.pointwise_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "depthwise_regularizer": _serialize_callable(self.depthwise_regularizer),
            "pointwise_regularizer": _serialize_callable(self.pointwise_regularizer),
            "bias_regularizer": _serialize_callable(self.bias_regularizer),
            "activity_regularizer": _serialize_callable(self.activity_regularizer),
            "depthwise_constraint": _serialize_callable(self.depthwise_constraint),
            "pointwise_constraint": _serialize_callable(self.pointwise_constraint),
            "bias_constraint": _serialize_callable(self.bias_constraint),
        }


class Conv2DTranspose(Layer):
    """Transposed 2-D convolution ("deconvolution"): learnable upsampling.

    The forward pass of this layer is the backward pass (input gradient) of a Conv2D with
    the same kernel: each input pixel adds ``x[y, x] · kernel`` to a ``KH × KW`` patch of the
    output at ``(y·sh, x·sw)``. With ``strides=2`` and ``padding="same"`` it doubles the
    height and width.

    Args:
        filters: number of output channels ``F``.
        kernel_size: int or (KH, KW).
        strides: int or (sh, sw).
        padding: ``"valid"`` or ``"same"``.
        output_padding: ``None``, an int or (ph, pw): extra rows/columns at the bottom/right,
            each smaller than its stride; ``None`` infers the sizes below.
        data_format: only ``"channels_last"``.
        dilation_rate: int or (dh, dw); with dilation > 1, strides must be 1.
        activation: activation function or name.
        use_bias: add one bias per output channel.
        kernel_initializer, bias_initializer: of the ``(KH, KW, F, C)`` kernel (Keras's
            layout) and the ``(F,)`` bias.
        kernel_regularizer, bias_regularizer, activity_regularizer: optional penalties.
        kernel_constraint, bias_constraint: optional constraints (``cnnkit.constraints``)
            applied to the weights after each optimizer update.

    Input shape:
        ``(batch_size, H, W, C)``
    Output shape:
        ``(batch_size, OH, OW, F)`` with, per axis, ``K' = (K - 1)·d + 1`` and ``p`` the
        output padding (Keras's formulas): valid ``OH = (H - 1)·s + K' + p`` (``p`` defaults
        to ``max(K', s) - K'``, i.e. ``(H - 1)·s + max(K', s)``); same ``OH = H·s``, or
        ``(H - 1)·s + K' % 2 + p`` when ``p`` is given.

    Example:
        >>> layer = Conv2DTranspose(8, 3, strides=2, padding="same")
        >>> layer(np.ones((1, 7, 7, 4), "float32")).shape
        (1, 14, 14, 8)
    """

    samplewise = True

    def __init__(
        self,
        filters,
        kernel_size,
        strides=(1, 1),
        padding="valid",
        output_padding=None,
        data_format=None,
        dilation_rate=(1, 1),
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
        _set_constraints(self, kernel_constraint=kernel_constraint, bias_constraint=bias_constraint)
        self.filters = check_positive_int("filters", filters)
        self.kernel_size = standardize_tuple(kernel_size, 2, "kernel_size")
        self.strides = standardize_tuple(strides, 2, "strides")
        self.padding = standardize_padding(padding, conv_ops.TRANSPOSE_PADDINGS)
        self.output_padding = None
        if output_padding is not None:
            self.output_padding = standardize_tuple(
                output_padding, 2, "output_padding", allow_zero=True
            )
            if any(p >= s for p, s in zip(self.output_padding, self.strides)):
                raise ValueError(
                    f"`output_padding` must be < `strides`. Received: "
                    f"output_padding={self.output_padding}, strides={self.strides}"
                )
        self.data_format = standardize_data_format(data_format)
        self.dilation_rate = standardize_tuple(dilation_rate, 2, "dilation_rate")
        _check_strides_and_dilation(self.strides, self.dilation_rate)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self.input_spec = InputSpec(ndim=4)

    def build(self, input_shape):
        channels = _channels(self, input_shape)
        self.kernel = self.add_weight(
            (*self.kernel_size, self.filters, channels),
            self.kernel_initializer,
            name="kernel",
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self.bias = _add_bias(self, self.filters)
        self.input_spec = InputSpec(ndim=4, axes={-1: channels})
        self.built = True

    def call(self, inputs):
        self.compute_output_shape(inputs.shape)
        out = conv_ops.conv2d_transpose(
            inputs,
            self.kernel,
            self.bias,
            self.strides,
            self.padding,
            self.output_padding,
            self.dilation_rate,
        )
        out = _activate(self, out)
        _activity_penalty(self, out)
        return out

    def compute_output_shape(self, input_shape):
        output_padding = self.output_padding or (None, None)
        oh, ow = (
            conv_ops.conv_transpose_output_length(size, k, s, self.padding, p, d)
            for size, k, s, p, d in zip(
                input_shape[1:3],
                self.kernel_size,
                self.strides,
                output_padding,
                self.dilation_rate,
            )
        )
        _check_not_empty(self, input_shape, (oh, ow))
        return (input_shape[0], oh, ow, self.filters)

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "strides": self.strides,
            "padding": self.padding,
            "output_padding": self.output_padding,
            "data_format": self.data_format,
            "dilation_rate": self.dilation_rate,
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": _serialize_callable(self.kernel_regularizer),
            "bias_regularizer": _serialize_callable(self.bias_regularizer),
            "activity_regularizer": _serialize_callable(self.activity_regularizer),
            "kernel_constraint": _serialize_callable(self.kernel_constraint),
            "bias_constraint": _serialize_callable(self.bias_constraint),
        }
