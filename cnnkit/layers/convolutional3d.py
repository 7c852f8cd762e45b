"""``Conv3D`` and ``Conv3DTranspose``: convolutions of volumes ``(N, D, H, W, C)`` (Keras 3).

A 3-D cross-correlation is a sum over kernel depth of 2-D ones: with the depth axis padded
as the ``padding`` rule says, output slice ``o`` is
``sum_i conv2d(x[:, o·sd + i·dd], kernel[i])``. Each term is one batched call of the 2-D
kernel of :mod:`cnnkit.kernels.conv` on the ``N·OD`` strided input slices (no loop over
samples or pixels; a loop over the ``KD`` kernel slices), so gradients come from the 2-D
kernel's backward.

Output size per axis (kernel ``K``, stride ``s``, dilation ``d``, ``K' = (K - 1)·d + 1``):
valid ``floor((L - K') / s) + 1``; same ``ceil(L / s)``.

``Conv3DTranspose`` is the input gradient of ``Conv3D`` written the same way: for each kernel
slice ``i``, one batched 2-D transposed convolution of all ``N·D`` input slices, whose results
land on depth rows ``y·sd + i·dd`` of a canvas (zero-stuffing by concatenation and
reshaping); the output is the canvas' rows ``crop .. crop + OD - 1`` (Keras's formulas, see
:func:`cnnkit.kernels.conv.conv_transpose_output_length`).

Example:
    >>> import numpy as np
    >>> Conv3D(4, 3, padding="same", strides=(1, 2, 2))(np.ones((1, 4, 6, 6, 2))).shape
    (1, 4, 3, 3, 4)
    >>> Conv3DTranspose(2, 3, strides=2, padding="same")(np.ones((1, 2, 3, 3, 4))).shape
    (1, 4, 6, 6, 2)
"""

from __future__ import annotations

from cnnkit.autodiff import Tensor
from cnnkit.backend import xp
from cnnkit.kernels import conv as conv_ops
from cnnkit.kernels import shape as shape_ops
from cnnkit.layers.base import InputSpec, standardize_tuple
from cnnkit.layers.convolutional import Conv2D, Conv2DTranspose, _check_strides_and_dilation
from cnnkit.layers.core import _activate, _activity_penalty
from cnnkit.layers.reshaping_1d_3d import _volume_depth


def conv3d(x, kernel, strides, padding: str, dilation_rate) -> Tensor:
    """The 3-D cross-correlation of volumes ``x`` (N, D, H, W, C) with ``kernel``
    (KD, KH, KW, C, F), no bias: a sum over the ``KD`` kernel slices of batched 2-D
    convolutions (see the module docstring). Returns ``(N, OD, OH, OW, F)``."""
    n, depth, h, w, c = x.shape
    kd, (sd, *strides_hw), (dd, *dilation_hw) = kernel.shape[0], strides, dilation_rate
    out_depth, before, after = conv_ops._pads(depth, kd, sd, padding, dd)
    if before or after:
        x = _volume_depth(x, lambda t: shape_ops.pad2d(t, ((before, after), (0, 0))))
    out = None
    for i in range(kd):  # one batched 2-D convolution per kernel slice
        start = i * dd
        planes = x[:, start : start + (out_depth - 1) * sd + 1 : sd]  # (N, OD, H, W, C)
        term = conv_ops.conv2d(
            planes.reshape(n * out_depth, h, w, c),
            kernel[i],
            None,
            tuple(strides_hw),
            padding,
            tuple(dilation_hw),
        )
        out = term if out is None else out + term
    return out.reshape(n, out_depth, *out.shape[1:])


class Conv3D(Conv2D):
    """3-D convolution: ``filters`` kernels slid over depth, height and width.

    Args:
        filters: number of output channels ``F``.
        kernel_size: an int or ``(KD, KH, KW)``.
        strides: an int or three ints (default 1).
        padding: ``"valid"`` (default) or ``"same"`` (``"full"`` too, as cnnkit's Conv2D).
        data_format: only ``"channels_last"``.
        dilation_rate: an int or three ints; with dilation > 1, strides must be 1.
        groups: only 1.
        activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer,
        bias_regularizer, activity_regularizer, kernel_constraint, bias_constraint: as
            :class:`Conv2D`; the kernel has Keras's shape ``(KD, KH, KW, C, F)``.

    Input shape:
        ``(batch_size, D, H, W, C)``.
    Output shape:
        ``(batch_size, OD, OH, OW, F)`` (sizes in the module docstring).

    Raises:
        ValueError: invalid arguments, or an input too small for the kernel.

    Example:
        >>> import numpy as np
        >>> Conv3D(2, (1, 2, 2))(np.ones((2, 3, 4, 4, 1))).shape
        (2, 3, 3, 3, 2)
    """

    samplewise = True  # each output sample depends on its input sample alone

    def __init__(
        self,
        filters,
        kernel_size,
        strides=(1, 1, 1),
        padding="valid",
        data_format=None,
        dilation_rate=(1, 1, 1),
        groups=1,
        **kwargs,
    ):
        kernel_size = standardize_tuple(kernel_size, 3, "kernel_size")
        strides = standardize_tuple(strides, 3, "strides")
        dilation_rate = standardize_tuple(dilation_rate, 3, "dilation_rate")
        _check_strides_and_dilation(strides, dilation_rate)
        if groups != 1:
            raise NotImplementedError(f"Conv3D supports only groups=1. Received: groups={groups}")
        super().__init__(
            filters,
            kernel_size[1:],
            strides=strides[1:],
            padding=padding,
            data_format=data_format,
            dilation_rate=dilation_rate[1:],
            groups=groups,
            **kwargs,
        )
        self.kernel_size, self.strides, self.dilation_rate = kernel_size, strides, dilation_rate
        self.input_spec = InputSpec(ndim=5)

    def call(self, inputs):
        self._check_spatial(inputs.shape)
        if self._overrides_convolution_op():
            return self._call_convolution_op(inputs)
        out = conv3d(inputs, self.kernel, self.strides, self.padding, self.dilation_rate)
        if self.bias is not None:
            out = out + self.bias
        out = _activate(self, out)
        _activity_penalty(self, out)
        return out

    def _out_sizes(self, spatial):
        return tuple(
            conv_ops.conv_output_length(size, k, s, self.padding, d)
            for size, k, s, d in zip(spatial, self.kernel_size, self.strides, self.dilation_rate)
        )

    def _check_spatial(self, shape) -> None:
        self._check_input(tuple(shape))
        for axis, size, out in zip(
            ("depth", "height", "width"), shape[1:4], self._out_sizes(shape[1:4])
        ):
            if out is not None and out <= 0:
                raise ValueError(
                    f'Layer "{self.name}": the input {axis} {size} is too small for kernel size '
                    f"{self.kernel_size} with padding={self.padding!r} and dilation "
                    f"{self.dilation_rate}; the output would be empty. Input shape: {tuple(shape)}"
                )

    def compute_output_shape(self, input_shape):
        self._check_spatial(input_shape)
        return (input_shape[0], *self._out_sizes(input_shape[1:4]), self.filters)


class Conv3DTranspose(Conv2DTranspose):
    """Transposed 3-D convolution: learnable up-sampling of volumes.

    Args:
        filters: number of output channels ``F``.
        kernel_size: an int or ``(KD, KH, KW)``.
        strides: an int or three ints (default 1).
        padding: ``"valid"`` (default) or ``"same"``.
        output_padding: None, an int or three ints, each smaller than its stride.
        data_format: only ``"channels_last"``.
        dilation_rate: an int or three ints; with dilation > 1, strides must be 1.
        activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer,
        bias_regularizer, activity_regularizer, kernel_constraint, bias_constraint: as
            :class:`Conv2DTranspose`; the kernel has Keras's shape ``(KD, KH, KW, F, C)``.

    Input shape:
        ``(batch_size, D, H, W, C)``.
    Output shape:
        ``(batch_size, OD, OH, OW, F)``, each axis as Conv2DTranspose's.

    Example:
        >>> import numpy as np
        >>> Conv3DTranspose(2, (1, 2, 2), strides=(1, 2, 2))(np.ones((1, 3, 2, 2, 1))).shape
        (1, 3, 4, 4, 2)
    """

    samplewise = True  # each output sample depends on its input sample alone

    def __init__(
        self,
        filters,
        kernel_size,
        strides=(1, 1, 1),
        padding="valid",
        output_padding=None,
        data_format=None,
        dilation_rate=(1, 1, 1),
        **kwargs,
    ):
        kernel_size = standardize_tuple(kernel_size, 3, "kernel_size")
        strides = standardize_tuple(strides, 3, "strides")
        dilation_rate = standardize_tuple(dilation_rate, 3, "dilation_rate")
        if output_padding is not None:
            output_padding = standardize_tuple(output_padding, 3, "output_padding", True)
            if any(p >= s for p, s in zip(output_padding, strides)):
                raise ValueError(
                    f"`output_padding` must be < `strides`. Received: "
                    f"output_padding={output_padding}, strides={strides}"
                )
        super().__init__(
            filters,
            kernel_size[1:],
            strides=strides[1:],
            padding=padding,
            output_padding=None if output_padding is None else output_padding[1:],
            data_format=data_format,
            dilation_rate=dilation_rate[1:],
            **kwargs,
        )
        _check_strides_and_dilation(strides, dilation_rate)
        self.kernel_size, self.strides, self.dilation_rate = kernel_size, strides, dilation_rate
        self.output_padding = output_padding
        self.input_spec = InputSpec(ndim=5)

    def build(self, input_shape):
        super().build(input_shape)  # the (KD, KH, KW, F, C) kernel and the bias
        self.input_spec = InputSpec(ndim=5, axes={-1: input_shape[-1]})

    def call(self, inputs):
        self.compute_output_shape(inputs.shape)
        n, depth, h, w, c = inputs.shape
        kd, sd, dd = self.kernel_size[0], self.strides[0], self.dilation_rate[0]
        pad_d = None if self.output_padding is None else self.output_padding[0]
        out_depth, crop, canvas = conv_ops._transpose_pads(depth, kd, sd, self.padding, pad_d, dd)
        rows = (depth - 1) * sd + 1  # the input slices, stride-spread along depth
        total = None
        for i in range(kd):  # one batched 2-D transposed convolution per kernel slice
            planes = conv_ops.conv2d_transpose(
                inputs.reshape(n * depth, h, w, c),
                self.kernel[i],
                None,
                self.strides[1:],
                self.padding,
                None if self.output_padding is None else self.output_padding[1:],
                self.dilation_rate[1:],
            )
            oh, ow, f = planes.shape[1:]
            term = planes.reshape(n, depth, oh * ow, f)
            if sd > 1:  # zero rows between the slices: slice y lands on row y * sd
                zeros = Tensor(xp.zeros((n, depth, (sd - 1) * oh * ow, f), dtype=term.dtype))
                term = shape_ops.concatenate([term, zeros], axis=2)
                term = term.reshape(n, depth * sd, oh * ow, f)[:, :rows]
            before = i * dd
            term = shape_ops.pad2d(term, ((before, canvas - before - rows), (0, 0)))
            total = term if total is None else total + term
        out = total[:, crop : crop + out_depth].reshape(n, out_depth, oh, ow, f)
        if self.bias is not None:
            out = out + self.bias
        out = _activate(self, out)
        _activity_penalty(self, out)
        return out

    def compute_output_shape(self, input_shape):
        self._check_input(tuple(input_shape))
        output_padding = self.output_padding or (None, None, None)
        out = tuple(
            conv_ops.conv_transpose_output_length(size, k, s, self.padding, p, d)
            for size, k, s, p, d in zip(
                input_shape[1:4],
                self.kernel_size,
                self.strides,
                output_padding,
                self.dilation_rate,
            )
        )
        return (input_shape[0], *out, self.filters)


Convolution3D = Conv3D
Convolution3DTranspose = Conv3DTranspose
