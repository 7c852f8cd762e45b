"""Converters of convolutions and pooling (ONNX's channels-first nodes)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from cnnkit.export.onnx.graph import _FIRST, _LAST, _axis, _numpy, _Value, _weight
from cnnkit.export.onnx.layers import _activation
from cnnkit.layers import (
    Conv1D,
    GlobalMaxPooling1D,
    GlobalMaxPooling2D,
    GlobalMaxPooling3D,
    MaxPooling1D,
    MaxPooling2D,
    MaxPooling3D,
)

# ---------------------------------------------------------------------------
# Convolutions and pooling (channels first)
# ---------------------------------------------------------------------------


def _padding_attrs(sizes, kernels, strides, dilations, padding: str) -> dict:
    """ONNX ``pads`` (all begins, then all ends) for Keras's padding of each spatial axis.

    ``"same"`` is TensorFlow's: ``out = ceil(size / s)``, ``total = max((out - 1)·s + K' - size,
    0)`` split with the odd pixel after. When a size is unknown and its stride is above 1 the
    split depends on it: ``auto_pad="SAME_UPPER"`` is then the same rule, computed at run time.
    """
    begins, ends = [], []
    for size, k, s, d in zip(sizes, kernels, strides, dilations):
        eff = (k - 1) * d + 1
        if padding == "valid":
            before = after = 0
        elif padding == "full":
            before = after = eff - 1
        elif padding == "causal":
            before, after = eff - 1, 0
        else:  # same
            if size is None and s > 1:
                return {"auto_pad": "SAME_UPPER"}
            total = eff - 1 if size is None else max((-(-size // s) - 1) * s + eff - size, 0)
            before, after = total // 2, total - total // 2
        begins.append(before)
        ends.append(after)
    return {"pads": begins + ends}


def _conv_node(g, layer, x: _Value, kernel, bias, geometry, h, group=None) -> _Value:
    """One ONNX Conv of a channels-first value; ``geometry = (kernel, strides, dilations,
    padding)`` per spatial axis, Keras's values."""
    ks, ss, ds, padding = geometry
    attrs = _padding_attrs(x.shape[1:-1], ks, ss, ds, padding)
    inputs = [x.name, kernel] + ([bias] if bias is not None else [])
    y = g.op(
        "Conv",
        inputs,
        h,
        kernel_shape=list(ks),
        strides=list(ss),
        dilations=list(ds),
        group=group,
        **attrs,
    )
    return _Value(y, x.shape, np.dtype(np.float32), _FIRST)


def _bias(g, layer):
    return _weight(g, layer, _numpy(layer.bias), "bias") if layer.use_bias else None


def _convert_conv(g, layer, ins, shapes):
    """Conv1D, Conv2D and Conv3D: kernels ``(K, C, F) -> (F, C, K)``, ``(KH, KW, C, F) ->
    (F, C, KH, KW)``, ``(KD, KH, KW, C, F) -> (F, C, KD, KH, KW)``."""
    x = g.as_layout(ins[0], _FIRST)
    kernel = _numpy(layer.kernel)
    if isinstance(layer, Conv1D):
        w, start = kernel.transpose(2, 1, 0), 1  # Conv1D stores (1, K) sizes
    elif kernel.ndim == 5:
        w, start = kernel.transpose(4, 3, 0, 1, 2), 0
    else:
        w, start = kernel.transpose(3, 2, 0, 1), 0
    geometry = (
        layer.kernel_size[start:],
        layer.strides[start:],
        layer.dilation_rate[start:],
        layer.padding,
    )
    w = _weight(g, layer, w, "kernel")
    groups = getattr(layer, "groups", 1)  # a grouped kernel is (..., C / groups, F)
    y = _conv_node(g, layer, x, w, _bias(g, layer), geometry, layer.name, group=groups)
    return [_activation(g, replace(y, shape=shapes[0]), layer.activation, layer)]


def _depthwise_geometry(layer, start: int = 0):
    """Keras's sizes per spatial axis; ``start=1`` drops the height of a 1-D layer's
    ``(1, K)`` sizes."""
    return (
        layer.kernel_size[start:],
        layer.strides[start:],
        layer.dilation_rate[start:],
        layer.padding,
    )


def _depthwise_weight(kernel):
    """``(*K, C, M) -> (C·M, 1, *K)``: output channel ``c·M + m`` sees input ``c``."""
    *ks, c, m = kernel.shape
    flat = kernel.reshape(*ks, c * m)
    return flat.transpose(len(ks), *range(len(ks)))[:, None]


def _start(x: _Value) -> int:
    """1 for a sequence (a 1-D layer keeps ``(1, K)`` sizes), 0 for images."""
    return 1 if x.rank == 3 else 0


def _convert_depthwise(g, layer, ins, shapes):
    x = g.as_layout(ins[0], _FIRST)
    kernel = _numpy(layer.kernel)
    w = _weight(g, layer, _depthwise_weight(kernel), "kernel")
    geometry = _depthwise_geometry(layer, _start(x))
    group = kernel.shape[-2]
    y = _conv_node(g, layer, x, w, _bias(g, layer), geometry, layer.name, group=group)
    return [_activation(g, replace(y, shape=shapes[0]), layer.activation, layer)]


def _convert_separable(g, layer, ins, shapes):
    """Depthwise Conv (``group = C``, no bias), then a 1×1 Conv with the bias."""
    x = g.as_layout(ins[0], _FIRST)
    kernel = _numpy(layer.depthwise_kernel)
    w = _weight(g, layer, _depthwise_weight(kernel), "depthwise_kernel")
    start = _start(x)
    geometry = _depthwise_geometry(layer, start)
    mid = _conv_node(g, layer, x, w, None, geometry, layer.name, group=kernel.shape[-2])
    mid = replace(mid, shape=shapes[0])  # only the spatial sizes matter below
    pointwise = _numpy(layer.pointwise_kernel)  # (1, 1, C·M, F) or, 1-D, (1, C·M, F)
    pointwise = pointwise.reshape(pointwise.shape[-2:]).T.reshape(
        pointwise.shape[-1], pointwise.shape[-2], *([1] * (2 - start))
    )
    pointwise = _weight(g, layer, pointwise, "pointwise_kernel")
    ones = (1,) * (2 - start)
    one = (ones, ones, ones, "valid")
    y = _conv_node(g, layer, mid, pointwise, _bias(g, layer), one, layer.name)
    return [_activation(g, replace(y, shape=shapes[0]), layer.activation, layer)]


def _transpose_padding(k: int, s: int, d: int, padding: str, output_padding) -> tuple:
    """``(pad_begin, pad_end, onnx_output_padding)`` of one axis of a Conv2DTranspose.

    Keras (see :mod:`cnnkit.kernels.conv`) pads the stride-dilated input with ``left`` and
    ``right`` zeros, which keeps rows ``crop = K' - 1 - left`` onwards of the full result, of
    natural length ``(size - 1)·s + K'``, and ``right - (K' - 1)`` rows more at the end (zeros
    when positive, fewer rows when negative). ONNX crops ``pads`` and adds ``output_padding``.
    """
    eff = (k - 1) * d + 1
    if padding == "valid":
        extra = max(eff, s) - eff if output_padding is None else output_padding
        left, right = eff - 1, eff - 1 + extra
    else:  # same
        total = s + eff - 2 if output_padding is None else eff + eff % 2 - 2 + output_padding
        left = min(total // 2 + total % 2, eff - 1)
        right = total - left
    delta = right - (eff - 1)
    return eff - 1 - left, max(-delta, 0), max(delta, 0)


def _convert_conv_transpose(g, layer, ins, shapes):
    """ConvTranspose: kernel ``(KH, KW, F, C) -> (C, F, KH, KW)`` (1-D: ``(K, F, C) -> (C, F,
    K)``)."""
    x = g.as_layout(ins[0], _FIRST)
    kernel = _numpy(layer.kernel)
    w = _weight(
        g,
        layer,
        kernel.transpose(kernel.ndim - 1, kernel.ndim - 2, *range(kernel.ndim - 2)),
        "kernel",
    )
    start = _start(x)
    sizes, strides = layer.kernel_size[start:], layer.strides[start:]
    dilations = layer.dilation_rate[start:]
    output_padding = (layer.output_padding or (None, None))[start:]
    begins, ends, extras = zip(
        *(
            _transpose_padding(k, s, d, layer.padding, p)
            for k, s, d, p in zip(sizes, strides, dilations, output_padding)
        )
    )
    inputs = [x.name, w] + ([_bias(g, layer)] if layer.use_bias else [])
    y = g.op(
        "ConvTranspose",
        inputs,
        layer.name,
        kernel_shape=list(sizes),
        strides=list(strides),
        dilations=list(dilations),
        pads=list(begins + ends),
        output_padding=list(extras) if any(extras) else None,
    )
    out = _Value(y, shapes[0], np.dtype(np.float32), _FIRST)
    return [_activation(g, out, layer.activation, layer)]


def _convert_pool(g, layer, ins, shapes):
    x = g.as_layout(ins[0], _FIRST)
    pool, strides = list(layer.pool_size), list(layer.strides)
    attrs = _padding_attrs(x.shape[1:-1], pool, strides, [1] * len(pool), layer.padding)
    if isinstance(layer, (MaxPooling3D, MaxPooling2D, MaxPooling1D)):
        y = g.op("MaxPool", [x.name], layer.name, kernel_shape=pool, strides=strides, **attrs)
    else:  # the mean of the real pixels of each window, as Keras
        y = g.op(
            "AveragePool",
            [x.name],
            layer.name,
            kernel_shape=pool,
            strides=strides,
            count_include_pad=0,
            **attrs,
        )
    return [_Value(y, shapes[0], x.dtype, _FIRST)]


def _convert_global_pool(g, layer, ins, shapes):
    v = ins[0]
    is_max = isinstance(layer, (GlobalMaxPooling3D, GlobalMaxPooling2D, GlobalMaxPooling1D))
    op = "ReduceMax" if is_max else "ReduceMean"
    spatial = [_axis(v, a) for a in range(1, v.rank - 1)]
    y = g.reduce(op, v.name, spatial, layer.keepdims, layer.name)
    return [_Value(y, shapes[0], v.dtype, v.layout if layer.keepdims else _LAST)]
