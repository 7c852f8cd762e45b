"""Converters of the feature normalisations, PReLU, and the sequence reshapes Permute and
RepeatVector.

LayerNormalization and GroupNormalization are written out as ONNX reductions, the same maths
as :mod:`cnnkit.kernels.feature_norm` (``(x - mean) / sqrt(biased var + epsilon)``, then
``gamma`` and ``beta``), so they export at every supported opset and for any ``axis`` (ONNX's
own ``LayerNormalization`` node needs opset 17 and normalises a trailing run of axes only).
All four work on channels-last values.
"""

from __future__ import annotations

import numpy as np

from cnnkit.export.onnx.graph import _LAST, _describe, _Graph, _numpy, _Value, _weight


def _normalize(g: _Graph, x: str, axes, epsilon: float, h: str) -> str:
    """``(x - mean) / sqrt(mean((x - mean)^2) + epsilon)`` over ``axes``."""
    centred = g.op("Sub", [x, g.reduce("ReduceMean", x, axes, True, h)], h)
    variance = g.reduce("ReduceMean", g.op("Mul", [centred, centred], h), axes, True, h)
    std = g.op("Sqrt", [g.op("Add", [variance, g.floats(epsilon)], h)], h)
    return g.op("Div", [centred, std], h)


def _affine(g: _Graph, layer, y: str, shape, h: str) -> str:
    """``y * gamma + beta`` with the layer's parameters reshaped to ``shape``."""
    if layer.gamma is not None:
        gamma = _weight(g, layer, _numpy(layer.gamma).reshape(shape), "gamma")
        y = g.op("Mul", [y, gamma], h)
    if layer.beta is not None:
        beta = _weight(g, layer, _numpy(layer.beta).reshape(shape), "beta")
        y = g.op("Add", [y, beta], h)
    return y


def _convert_layer_norm(g, layer, ins, shapes):
    v = g.as_layout(ins[0], _LAST)
    axes = [a % v.rank for a in layer.axis]
    y = _normalize(g, v.name, axes, layer.epsilon, layer.name)
    view = [v.shape[i] if i in axes else 1 for i in range(v.rank)]
    return [_Value(_affine(g, layer, y, view, layer.name), shapes[0], v.dtype)]


def _convert_group_norm(g, layer, ins, shapes):
    """Channels split into ``(groups, C / groups)``, normalised over the spatial axes and each
    group's channels."""
    v, h = g.as_layout(ins[0], _LAST), layer.name
    if layer.axis % v.rank != v.rank - 1:
        raise NotImplementedError(
            f"Cannot export {_describe(layer)}: only the channels axis -1 is supported "
            f"(received axis={layer.axis})."
        )
    channels = v.shape[-1]
    keep = [0] * (v.rank - 1)  # Reshape's 0: copy that size (batch and spatial sizes)
    grouped = g.op("Reshape", [v.name, g.ints([*keep, layer.groups, channels // layer.groups])], h)
    axes = [*range(1, v.rank - 1), v.rank]  # spatial axes and the channels within a group
    y = _normalize(g, grouped, axes, layer.epsilon, h)
    y = g.op("Reshape", [y, g.ints([*keep, channels])], h)
    return [_Value(_affine(g, layer, y, (channels,), h), shapes[0], v.dtype)]


def _convert_prelu(g, layer, ins, shapes):
    v = g.as_layout(ins[0], _LAST)
    alpha = _weight(g, layer, _numpy(layer.alpha), "alpha")  # broadcasts after the batch axis
    return [_Value(g.op("PRelu", [v.name, alpha], layer.name), shapes[0], v.dtype)]


def _convert_permute(g, layer, ins, shapes):
    v = g.as_layout(ins[0], _LAST)
    y = g.op("Transpose", [v.name], layer.name, perm=[0, *layer.dims])
    return [_Value(y, shapes[0], v.dtype)]


def _convert_repeat_vector(g, layer, ins, shapes):
    """``(N, F) -> (N, n, F)``: a new axis 1, tiled ``n`` times."""
    v, h = ins[0], layer.name
    y = g.op("Unsqueeze", [v.name, g.ints([1])], h)
    y = g.op("Tile", [y, g.ints([1, layer.n, 1])], h)
    return [_Value(y, shapes[0], np.dtype(v.dtype))]
