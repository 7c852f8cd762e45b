"""Converters of activations, core, merging and reshaping layers."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from cnnkit import activations, backend
from cnnkit.export.onnx.graph import (
    _FIRST,
    _INT64_MAX,
    _LAST,
    _along,
    _axis,
    _cast,
    _describe,
    _Graph,
    _numpy,
    _Value,
    _weight,
)
from cnnkit.kernels.activations import SELU_ALPHA, SELU_SCALE
from cnnkit.kernels.resize import aspect_ratio_box
from cnnkit.layers import (
    Average,
    KerasTensor,
    Maximum,
    Minimum,
    Multiply,
    Subtract,
)

# ---------------------------------------------------------------------------
# Activations
# ---------------------------------------------------------------------------


def _activation(g: _Graph, v: _Value, fn, layer) -> _Value:
    """``fn`` (a ``cnnkit.activations`` function) applied to ``v``."""
    h = layer.name
    if fn is activations.linear:
        return v
    if fn is activations.relu:
        y = g.op("Relu", [v.name], h)
    elif fn is activations.sigmoid:
        y = g.op("Sigmoid", [v.name], h)
    elif fn is activations.tanh:
        y = g.op("Tanh", [v.name], h)
    elif fn is activations.softmax:
        y = g.op("Softmax", [v.name], h, axis=_axis(v, -1))
    elif fn is activations.elu:
        y = g.op("Elu", [v.name], h, alpha=1.0)
    elif fn is activations.leaky_relu:
        y = g.op("LeakyRelu", [v.name], h, alpha=0.2)
    elif fn is activations.selu:
        y = g.op("Selu", [v.name], h, alpha=SELU_ALPHA, gamma=SELU_SCALE)
    elif fn is activations.gelu:
        y = _gelu(g, v.name, h)
    elif fn is activations.silu:
        y = g.op("Mul", [v.name, g.op("Sigmoid", [v.name], h)], h)
    elif fn in _MORE_ACTIVATIONS:
        y = _MORE_ACTIVATIONS[fn](g, v, h)
    else:
        name = getattr(fn, "__name__", repr(fn))
        raise NotImplementedError(
            f"Cannot export {_describe(layer)}: activation {name!r} has no ONNX conversion. "
            "Supported: linear, relu, sigmoid, tanh, softmax, elu, leaky_relu, selu, gelu, "
            f"silu/swish, {', '.join(sorted(f.__name__ for f in _MORE_ACTIVATIONS))}."
        )
    return replace(v, name=y)


def _mish(g: _Graph, v: _Value, h: str) -> str:
    """``x tanh(softplus(x))``: ONNX's ``Mish`` from opset 18, composed before."""
    if g.opset >= 18:
        return g.op("Mish", [v.name], h)
    return g.op("Mul", [v.name, g.op("Tanh", [g.op("Softplus", [v.name], h)], h)], h)


def _squareplus(g: _Graph, v: _Value, h: str) -> str:
    """``(x + sqrt(x^2 + 4)) / 2`` (Keras's default ``b=4``)."""
    root = g.op("Sqrt", [g.op("Add", [g.op("Mul", [v.name, v.name], h), g.floats(4.0)], h)], h)
    return g.op("Mul", [g.op("Add", [v.name, root], h), g.floats(0.5)], h)


def _sparse_plus(g: _Graph, v: _Value, h: str) -> str:
    """0 below -1, ``(x + 1)^2 / 4`` on (-1, 1), ``x`` from 1: ``Where(x >= 1, x, q)`` with
    ``q = clip(x + 1, 0, 2)^2 / 4``."""
    shifted = _clip(g, g.op("Add", [v.name, g.floats(1.0)], h), 0.0, 2.0, h)
    quad = g.op("Mul", [g.op("Mul", [shifted, shifted], h), g.floats(0.25)], h)
    above = g.op("Not", [g.op("Less", [v.name, g.floats(1.0)], h)], h)
    return g.op("Where", [above, v.name, quad], h)


def _clip(g: _Graph, x: str, lo: float, hi: float, h: str) -> str:
    return g.op("Clip", [x, g.floats(lo), g.floats(hi)], h)


# The activations added after the first ONNX converter, with their default arguments (the ones
# an ``activation="name"`` argument gets). glu, sparsemax and threshold have none.
_MORE_ACTIVATIONS = {
    activations.softplus: lambda g, v, h: g.op("Softplus", [v.name], h),
    activations.softsign: lambda g, v, h: g.op("Softsign", [v.name], h),
    activations.relu6: lambda g, v, h: _clip(g, v.name, 0.0, 6.0, h),
    activations.hard_tanh: lambda g, v, h: _clip(g, v.name, -1.0, 1.0, h),
    activations.hard_sigmoid: lambda g, v, h: g.op(
        "HardSigmoid", [v.name], h, alpha=1.0 / 6.0, beta=0.5
    ),
    activations.hard_silu: lambda g, v, h: g.op("HardSwish", [v.name], h),
    activations.sparse_sigmoid: lambda g, v, h: _clip(
        g, g.op("Mul", [g.op("Add", [v.name, g.floats(1.0)], h), g.floats(0.5)], h), 0.0, 1.0, h
    ),
    activations.mish: _mish,
    activations.celu: lambda g, v, h: g.op("Celu", [v.name], h, alpha=1.0),
    activations.exponential: lambda g, v, h: g.op("Exp", [v.name], h),
    activations.log_softmax: lambda g, v, h: g.op("LogSoftmax", [v.name], h, axis=_axis(v, -1)),
    activations.log_sigmoid: lambda g, v, h: g.op(
        "Neg", [g.op("Softplus", [g.op("Neg", [v.name], h)], h)], h
    ),
    activations.soft_shrink: lambda g, v, h: g.op("Shrink", [v.name], h, bias=0.5, lambd=0.5),
    activations.hard_shrink: lambda g, v, h: g.op("Shrink", [v.name], h, bias=0.0, lambd=0.5),
    activations.tanh_shrink: lambda g, v, h: g.op("Sub", [v.name, g.op("Tanh", [v.name], h)], h),
    activations.squareplus: _squareplus,
    activations.sparse_plus: _sparse_plus,
}


def _gelu(g: _Graph, x: str, h: str) -> str:
    """Exact GELU ``x Phi(x) = 0.5 x (1 + erf(x / sqrt 2))`` (Keras's default)."""
    if g.opset >= 20:
        return g.op("Gelu", [x], h)
    erf = g.op("Erf", [g.op("Mul", [x, g.floats(1.0 / math.sqrt(2.0))], h)], h)
    half_x = g.op("Mul", [x, g.floats(0.5)], h)
    return g.op("Mul", [half_x, g.op("Add", [erf, g.floats(1.0)], h)], h)


def _convert_activation(g, layer, ins, shapes):
    return [replace(_activation(g, ins[0], layer.activation, layer), shape=shapes[0])]


def _convert_relu(g, layer, ins, shapes):
    """Keras's ``relu(x, negative_slope, max_value, threshold)``, as cnnkit computes it."""
    v, h = ins[0], layer.name
    slope, ceiling, threshold = layer.negative_slope, layer.max_value, layer.threshold
    if threshold != 0:  # x where x > threshold, else 0
        above = g.op("Greater", [v.name, g.floats(threshold)], h)
        pos = g.op("Where", [above, v.name, g.floats(0.0)], h)
    else:
        pos = g.op("Relu", [v.name], h)
    if ceiling is not None:
        pos = g.op("Clip", [pos, g.floats(0.0), g.floats(ceiling)], h)
    if slope != 0:  # pos - slope * max(threshold - x, 0)
        below = g.op("Relu", [g.op("Sub", [g.floats(threshold), v.name], h)], h)
        pos = g.op("Sub", [pos, g.op("Mul", [g.floats(slope), below], h)], h)
    return [replace(v, name=pos, shape=shapes[0])]


def _convert_leaky_relu(g, layer, ins, shapes):
    y = g.op("LeakyRelu", [ins[0].name], layer.name, alpha=layer.negative_slope)
    return [replace(ins[0], name=y, shape=shapes[0])]


def _convert_elu(g, layer, ins, shapes):
    y = g.op("Elu", [ins[0].name], layer.name, alpha=layer.alpha)
    return [replace(ins[0], name=y, shape=shapes[0])]


def _convert_softmax(g, layer, ins, shapes):
    y = g.op("Softmax", [ins[0].name], layer.name, axis=_axis(ins[0], layer.axis))
    return [replace(ins[0], name=y, shape=shapes[0])]


# ---------------------------------------------------------------------------
# Core layers
# ---------------------------------------------------------------------------


def _convert_identity(g, layer, ins, shapes):
    """Dropout and the random augmentation layers: the identity at inference."""
    return [replace(ins[0], shape=shapes[0])]


def _convert_dense(g, layer, ins, shapes):
    v, h = g.as_layout(ins[0], _LAST), layer.name
    kernel = _weight(g, layer, _numpy(layer.kernel), "kernel")
    bias = _weight(g, layer, _numpy(layer.bias), "bias") if layer.use_bias else None
    if v.rank == 2:
        y = g.op("Gemm", [v.name, kernel] + ([bias] if bias else []), h)
    else:
        y = g.op("MatMul", [v.name, kernel], h)
        y = g.op("Add", [y, bias], h) if bias else y
    out = _Value(y, shapes[0], np.dtype(np.float32))
    return [_activation(g, out, layer.activation, layer)]


def _convert_flatten(g, layer, ins, shapes):
    v = g.as_layout(ins[0], _LAST)  # Keras's order: channels last
    return [_Value(g.op("Flatten", [v.name], layer.name, axis=1), shapes[0], v.dtype)]


def _convert_reshape(g, layer, ins, shapes):
    v = g.as_layout(ins[0], _LAST)
    target = g.ints([0, *layer.target_shape])  # 0: keep the batch size
    return [_Value(g.op("Reshape", [v.name, target], layer.name), shapes[0], v.dtype)]


def _convert_rescaling(g, layer, ins, shapes):
    v, h = ins[0], layer.name
    scale, offset = (np.asarray(s, dtype=np.float32) for s in (layer.scale, layer.offset))
    scale = _along(v, scale) if scale.ndim else scale
    offset = _along(v, offset) if offset.ndim else offset
    y = g.op("Mul", [v.name, g.floats(scale)], h)
    if np.any(offset != 0):
        y = g.op("Add", [y, g.floats(offset)], h)
    return [replace(v, name=y, shape=shapes[0])]


def _convert_batch_norm(g, layer, ins, shapes):
    """The inference affine map ``x * scale + shift``, computed as cnnkit's op computes it."""
    v, h = ins[0], layer.name
    f32 = np.float32
    mean, variance = _numpy(layer.moving_mean), _numpy(layer.moving_variance)
    inv_std = f32(1.0) / np.sqrt(variance + f32(layer.epsilon))
    scale = inv_std if layer.gamma is None else _numpy(layer.gamma) * inv_std
    shift = -mean * scale if layer.beta is None else _numpy(layer.beta) - mean * scale
    scale, shift = _along(v, scale, layer.axis), _along(v, shift, layer.axis)
    scale = g.const(scale, f"{h}/scale", key=(id(layer), "scale", scale.shape))
    shift = g.const(shift, f"{h}/shift", key=(id(layer), "shift", shift.shape))
    y = g.op("Add", [g.op("Mul", [v.name, scale], h), shift], h)
    return [replace(v, name=y, shape=shapes[0])]


def _convert_embedding(g, layer, ins, shapes):
    v = ins[0]
    indices = v.name
    if v.dtype.kind not in "iu":
        indices = _cast(g, v, np.int64, layer.name).name
    table = _weight(g, layer, _numpy(layer.embeddings), "embeddings")
    y = g.op("Gather", [table, indices], layer.name, axis=0)
    return [_Value(y, shapes[0], np.dtype(np.float32))]


def _convert_masking(g, layer, ins, shapes):
    """``x * any(x != mask_value, axis=-1)``: masked steps become zeros."""
    v, h = g.as_layout(ins[0], _LAST), layer.name
    differs = g.op("Not", [g.op("Equal", [v.name, g.floats(layer.mask_value)], h)], h)
    to_float = g.onnx.TensorProto.FLOAT
    keep = g.reduce("ReduceMax", g.op("Cast", [differs], h, to=to_float), [-1], True, h)
    return [replace(v, name=g.op("Mul", [v.name, keep], h), shape=shapes[0])]


# ---------------------------------------------------------------------------
# Merging
# ---------------------------------------------------------------------------


def _convert_merge(g, layer, ins, shapes):
    """Element-wise merges; lower-rank inputs get size-1 axes after the batch axis (Keras)."""
    h = layer.name
    if len({v.rank for v in ins}) > 1 or len({v.layout for v in ins}) > 1:
        rank = max(v.rank for v in ins)
        aligned = []
        for v in ins:
            v = g.as_layout(v, _LAST)
            if v.rank < rank:
                axes = g.ints(range(1, 1 + rank - v.rank))
                v = replace(v, name=g.op("Unsqueeze", [v.name, axes], h), shape=(None,) * rank)
            aligned.append(v)
        ins = aligned
    names = [v.name for v in ins]
    if isinstance(layer, Subtract):
        y = g.op("Sub", names, h)
    elif isinstance(layer, (Maximum, Minimum)):
        y = g.op("Max" if isinstance(layer, Maximum) else "Min", names, h)
    else:  # Add, Multiply, Average: left to right, as cnnkit sums
        op = "Mul" if isinstance(layer, Multiply) else "Add"
        y = names[0]
        for name in names[1:]:
            y = g.op(op, [y, name], h)
        if isinstance(layer, Average):
            y = g.op("Div", [y, g.floats(float(len(names)))], h)
    return [_Value(y, shapes[0], np.dtype(np.float32), ins[0].layout)]


def _convert_concatenate(g, layer, ins, shapes):
    if len({v.layout for v in ins}) > 1:
        ins = [g.as_layout(v, _LAST) for v in ins]
    y = g.op("Concat", [v.name for v in ins], layer.name, axis=_axis(ins[0], layer.axis))
    return [_Value(y, shapes[0], ins[0].dtype, ins[0].layout)]


# ---------------------------------------------------------------------------
# Spatial reshaping and resizing
# ---------------------------------------------------------------------------


def _convert_zero_padding(g, layer, ins, shapes):
    v = ins[0]
    (top, bottom), (left, right) = layer.padding
    begins, ends = [0] * v.rank, [0] * v.rank
    begins[_axis(v, 1)], ends[_axis(v, 1)] = top, bottom
    begins[_axis(v, 2)], ends[_axis(v, 2)] = left, right
    y = g.op("Pad", [v.name, g.ints(begins + ends), g.floats(0.0)], layer.name)
    return [replace(v, name=y, shape=shapes[0])]


def _crop(g, v: _Value, crops, h: str) -> str:
    """Slice ``((top, bottom), (left, right))`` off the spatial axes (sizes may be unknown)."""
    (top, bottom), (left, right) = crops
    starts = g.ints([top, left])
    ends = g.ints([-bottom if bottom else _INT64_MAX, -right if right else _INT64_MAX])
    return g.op("Slice", [v.name, starts, ends, g.ints([_axis(v, 1), _axis(v, 2)])], h)


def _convert_cropping(g, layer, ins, shapes):
    return [replace(ins[0], name=_crop(g, ins[0], layer.cropping, layer.name), shape=shapes[0])]


def _convert_upsampling(g, layer, ins, shapes):
    """Resize by integer factors: nearest repeats pixels, bilinear uses half-pixel centres."""
    x = g.as_layout(ins[0], _FIRST)
    scales = g.floats([1.0, 1.0, *layer.size])
    if layer.interpolation == "nearest":
        attrs = {"mode": "nearest", "coordinate_transformation_mode": "asymmetric"}
        attrs["nearest_mode"] = "floor"
    else:
        attrs = {"mode": "linear", "coordinate_transformation_mode": "half_pixel"}
    y = g.op("Resize", [x.name, "", scales], layer.name, **attrs)
    return [_Value(y, shapes[0], x.dtype, _FIRST)]


def _resize(g, layer, v: _Value, size, interpolation, crop, pad, fill_value, shape) -> _Value:
    """Keras's ``ops.image.resize`` to ``size``: optional aspect-ratio crop or pad, then
    Resize with half-pixel centres (nearest: ``floor((o + 0.5) · in / out)``)."""
    h = layer.name
    dtype = v.dtype
    if dtype.kind != "f":
        v = _cast(g, v, np.float32, h)
    x = g.as_layout(v, _FIRST)
    if crop or pad:
        height, width = x.shape[1:3]
        if height is None or width is None:
            raise NotImplementedError(
                f"Cannot export {_describe(layer)}: cropping or padding to the aspect ratio "
                "needs a known input height and width. Give the model's Input a fixed size."
            )
        box = aspect_ratio_box(height, width, size, "crop" if crop else "pad")
        if crop and any(box[0] + box[1]):
            x = replace(x, name=_crop(g, x, box, h))
        elif pad and any(box[0] + box[1]):
            (top, bottom), (left, right) = box
            pads = g.ints([0, 0, top, left, 0, 0, bottom, right])
            x = replace(x, name=g.op("Pad", [x.name, pads, g.floats(fill_value)], h))
    batch_channels = g.op(
        "Slice", [g.op("Shape", [x.name], h), g.ints([0]), g.ints([2]), g.ints([0])], h
    )
    sizes = g.op("Concat", [batch_channels, g.ints(size)], h, axis=0)
    if interpolation == "nearest":  # round_prefer_ceil(src - 0.5) == floor(src)
        attrs = {"mode": "nearest", "nearest_mode": "round_prefer_ceil"}
    else:
        attrs = {"mode": "linear"}
    y = g.op(
        "Resize", [x.name, "", "", sizes], h, coordinate_transformation_mode="half_pixel", **attrs
    )
    out = _Value(y, shape, np.dtype(np.float32), _FIRST)
    if dtype.kind in "iu":  # Keras rounds integer images back to their dtype
        out = _cast(g, replace(out, name=g.op("Round", [y], h)), dtype, h)
    return out


def _convert_resizing(g, layer, ins, shapes):
    if len(ins[0].shape) != 4:
        raise NotImplementedError(f"Cannot export {_describe(layer)}: expects a batch of images.")
    size = (layer.height, layer.width)
    crop, pad = layer.crop_to_aspect_ratio, layer.pad_to_aspect_ratio
    args = (size, layer.interpolation, crop, pad, layer.fill_value, shapes[0])
    return [_resize(g, layer, ins[0], *args)]


def _convert_random_crop(g, layer, ins, shapes):
    """Inference: the largest centred window of the target aspect ratio, resized (bilinear)."""
    size = (layer.height, layer.width)
    return [_resize(g, layer, ins[0], size, "bilinear", True, False, 0.0, shapes[0])]


# ---------------------------------------------------------------------------
# Preprocessing normalization, op nodes and the applications' scaling layers
# ---------------------------------------------------------------------------


def _convert_normalization(g, layer, ins, shapes):
    """``(x - mean) / max(sqrt(variance), epsilon)``, or its inverse, with the layer's
    statistics as constants (broadcast as the layer broadcasts them: channels last)."""
    v, h = g.as_layout(ins[0], _LAST), layer.name
    mean, variance = (np.asarray(a, dtype=np.float32) for a in layer._statistics())
    std = np.maximum(np.sqrt(variance), np.float32(backend.epsilon())).astype(np.float32)
    if layer.invert:
        y = g.op("Add", [g.op("Mul", [v.name, g.floats(std)], h), g.floats(mean)], h)
    else:
        y = g.op("Div", [g.op("Sub", [v.name, g.floats(mean)], h), g.floats(std)], h)
    return [replace(v, name=y, shape=shapes[0])]


# Operator nodes (``x + y``, ``x * 2.0``...) and their ONNX operators.
_OPERATOR_NODES = {
    "add": "Add",
    "subtract": "Sub",
    "multiply": "Mul",
    "true_divide": "Div",
    "divide": "Div",
    "matmul": "MatMul",
    "power": "Pow",
    "negative": "Neg",
    "absolute": "Abs",
    "relu": "Relu",
    "sigmoid": "Sigmoid",
    "tanh": "Tanh",
    "exp": "Exp",
    "sqrt": "Sqrt",
}


def _convert_operation(g, layer, ins, shapes):
    """An op node of a functional graph: element-wise operators and activations, each
    constant operand as an initializer (tensors channels last, as Keras lays them out)."""
    op = _OPERATOR_NODES.get(layer.op)
    if op is None or layer.op_config:
        raise NotImplementedError(
            f"Cannot export {_describe(layer)} to ONNX: the op {layer.op!r} has no ONNX "
            f"conversion (supported: {', '.join(sorted(_OPERATOR_NODES))})."
        )
    node = layer._inbound_nodes[0]  # an op node is called once
    operands, tensors = [], iter(ins)
    for operand in (node.inputs, *node.args):
        if isinstance(operand, KerasTensor):  # a tensor: the next converted input
            operands.append(g.as_layout(next(tensors), _LAST).name)
        else:
            operands.append(g.floats(operand))
    y = g.op(op, operands, layer.name)
    return [_Value(y, shapes[0], np.dtype(np.float32), _LAST)]


def _convert_scale_residual(g, layer, ins, shapes):
    """Inception-ResNet's ``CustomScaleLayer``: ``inputs[0] + scale * inputs[1]``."""
    a, b = (g.as_layout(v, _LAST) for v in ins)
    h = layer.name
    y = g.op("Add", [a.name, g.op("Mul", [b.name, g.floats(layer.scale)], h)], h)
    return [_Value(y, shapes[0], np.dtype(np.float32), _LAST)]


def _convert_layer_scale(g, layer, ins, shapes):
    """ConvNeXt's ``LayerScale``: each channel times its learned factor."""
    v, h = g.as_layout(ins[0], _LAST), layer.name
    gamma = _weight(g, layer, _numpy(layer.gamma), "gamma")
    return [replace(v, name=g.op("Mul", [v.name, gamma], h), shape=shapes[0])]
