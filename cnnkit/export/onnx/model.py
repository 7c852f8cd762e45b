"""Walking a model's layer calls in order, one converter per layer class."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from cnnkit.export.onnx.conv import (
    _convert_conv,
    _convert_conv_transpose,
    _convert_depthwise,
    _convert_global_pool,
    _convert_pool,
    _convert_separable,
)
from cnnkit.export.onnx.graph import _LAST, _cast, _describe, _Graph, _Value
from cnnkit.export.onnx.layers import (
    _convert_activation,
    _convert_batch_norm,
    _convert_concatenate,
    _convert_cropping,
    _convert_dense,
    _convert_elu,
    _convert_embedding,
    _convert_flatten,
    _convert_identity,
    _convert_layer_scale,
    _convert_leaky_relu,
    _convert_masking,
    _convert_merge,
    _convert_normalization,
    _convert_operation,
    _convert_random_crop,
    _convert_relu,
    _convert_rescaling,
    _convert_reshape,
    _convert_resizing,
    _convert_scale_residual,
    _convert_softmax,
    _convert_upsampling,
    _convert_zero_padding,
)
from cnnkit.export.onnx.normalization import (
    _convert_group_norm,
    _convert_layer_norm,
    _convert_permute,
    _convert_prelu,
    _convert_repeat_vector,
)
from cnnkit.export.onnx.recurrent import _convert_bidirectional, _convert_recurrent
from cnnkit.layers import (
    ELU,
    GRU,
    LSTM,
    Activation,
    Add,
    AugMix,
    Average,
    AveragePooling1D,
    AveragePooling2D,
    AveragePooling3D,
    BatchNormalization,
    Bidirectional,
    Concatenate,
    Conv1D,
    Conv1DTranspose,
    Conv2D,
    Conv2DTranspose,
    Conv3D,
    Cropping2D,
    CutMix,
    Dense,
    DepthwiseConv1D,
    DepthwiseConv2D,
    Dropout,
    Embedding,
    Flatten,
    GlobalAveragePooling1D,
    GlobalAveragePooling2D,
    GlobalAveragePooling3D,
    GlobalMaxPooling1D,
    GlobalMaxPooling2D,
    GlobalMaxPooling3D,
    GroupNormalization,
    LayerNormalization,
    LeakyReLU,
    Masking,
    Maximum,
    MaxPooling1D,
    MaxPooling2D,
    MaxPooling3D,
    Minimum,
    MixUp,
    Multiply,
    Normalization,
    Permute,
    PReLU,
    RandAugment,
    RandomBrightness,
    RandomContrast,
    RandomCrop,
    RandomElasticTransform,
    RandomFlip,
    RandomPerspective,
    RandomRotation,
    RandomShear,
    RandomTranslation,
    RandomZoom,
    ReLU,
    RepeatVector,
    Rescaling,
    Reshape,
    Resizing,
    SeparableConv1D,
    SeparableConv2D,
    SimpleRNN,
    Softmax,
    SpatialDropout1D,
    SpatialDropout2D,
    SpatialDropout3D,
    Subtract,
    UpSampling2D,
    ZeroPadding2D,
)
from cnnkit.layers.operations import Operation

# ---------------------------------------------------------------------------
# Walking the model
# ---------------------------------------------------------------------------


def _build_model(onnx, model, opset: int):
    import cnnkit

    helper = onnx.helper
    if not _is_graph_model(model):
        raise NotImplementedError(
            f"Cannot export model {model.name!r} ({type(model).__name__}): only functional and "
            "Sequential models can be exported, not subclassed models with their own `call`."
        )
    if not model.built or not model.inputs:
        raise ValueError(
            f"Model {model.name!r} is not built, so its input shape is unknown. Build it "
            "first: call it on data, `model.build(input_shape)`, or start it with an `Input`."
        )
    g = _Graph(onnx, opset)
    inputs, graph_inputs = [], []
    for tensor in model.inputs:
        dtype = _input_dtype(tensor)
        name = g.unique(tensor.name or "input")
        inputs.append(_Value(name, tuple(tensor.shape), dtype))
        graph_inputs.append(
            helper.make_tensor_value_info(
                name, helper.np_dtype_to_tensor_dtype(dtype), _dims(tensor.shape)
            )
        )
    outputs = _convert_model(g, model, inputs)
    graph_outputs = []
    for tensor, value in zip(model.outputs, outputs):
        value = g.as_layout(value, _LAST)
        name = g.unique(tensor._keras_history[0].name)
        g.nodes.append(helper.make_node("Identity", [value.name], [name], name=name))
        graph_outputs.append(
            helper.make_tensor_value_info(
                name, helper.np_dtype_to_tensor_dtype(value.dtype), _dims(value.shape)
            )
        )
    graph = helper.make_graph(
        g.nodes, model.name, graph_inputs, graph_outputs, initializer=g.initializers
    )
    opsets = [helper.make_opsetid("", opset)]
    proto = helper.make_model(
        graph,
        opset_imports=opsets,
        producer_name="cnnkit",
        producer_version=cnnkit.__version__,
        doc_string=f"cnnkit model {model.name!r}, exported for inference.",
    )
    proto.ir_version = helper.find_min_ir_version_for(opsets)
    return proto


def _dims(shape) -> list:
    return ["batch", *shape[1:]]


def _input_dtype(tensor) -> np.dtype:
    if tensor.dtype == "string":
        raise NotImplementedError(
            f"Input {tensor.name!r} takes strings (a TextVectorization model); ONNX export "
            "supports numeric inputs only. Export the model that follows the text layer."
        )
    dtype = np.dtype(tensor.dtype)
    if dtype.kind == "f" and dtype != np.float32:
        raise ValueError(
            f"Input {tensor.name!r} has dtype {dtype}; ONNX export supports float32 models."
        )
    return dtype


def _is_graph_model(layer) -> bool:
    """A functional or ``Sequential`` model that runs its graph: the class whose ``call`` runs
    declares ``_is_graph_network = True`` (a subclass with its own ``call`` does not)."""
    runs = next((c for c in type(layer).__mro__ if "call" in vars(c)), None)
    return runs is not None and vars(runs).get("_is_graph_network", False) is True


def _convert_model(g: _Graph, model, inputs: list[_Value]) -> list[_Value]:
    """Inline a functional model (its call nodes) or a ``Sequential`` one (its layer stack)
    on the given input values."""
    if getattr(model, "_nodes", None) is None:  # a Sequential model: a stack of layers
        if not model.built or not model.inputs:
            raise ValueError(f"Nested Sequential model {model.name!r} is not built.")
        value = _conform(g, model.inputs[0], inputs[0])
        for layer in model.layers:
            (value,) = _convert_call(g, layer, [value], False, {})
        return [value]
    if len(inputs) != len(model.inputs):
        raise ValueError(
            f'Model "{model.name}" expects {len(model.inputs)} input(s), but it received '
            f"{len(inputs)}."
        )
    values = {id(t): _conform(g, t, v) for t, v in zip(model.inputs, inputs)}
    for node in model._nodes:
        given = [values[id(t)] for t in node.input_tensors]
        is_list = isinstance(node.inputs, (list, tuple))
        outs = _convert_call(g, node.layer, given, is_list, node.kwargs)
        for tensor, value in zip(node.output_tensors, outs):
            values[id(tensor)] = value
    return [values[id(t)] for t in model.outputs]


def _conform(g: _Graph, tensor, value: _Value) -> _Value:
    """Cast a value to the dtype of the ``Input`` it feeds, as ``Functional`` does."""
    dtype = _input_dtype(tensor)
    return _cast(g, value, dtype, tensor.name or "input") if value.dtype != dtype else value


def _convert_call(g: _Graph, layer, ins: list[_Value], is_list: bool, kwargs) -> list[_Value]:
    """The values of one layer call: inline a model, or run the layer's converter."""
    if _is_graph_model(layer):
        return _convert_model(g, layer, ins)
    convert = _converter(layer)
    if kwargs:
        raise NotImplementedError(
            f"Cannot export {_describe(layer)}: it was called with keyword arguments "
            f"{sorted(kwargs)}, which the ONNX export does not support."
        )
    if np.dtype(layer.dtype) != np.float32:
        raise ValueError(
            f"Cannot export {_describe(layer)}: its dtype is {layer.dtype}; ONNX export "
            "supports float32 models."
        )
    masked = any(v.masked for v in ins)
    if masked and layer._call_takes_mask():
        raise NotImplementedError(
            f"Cannot export {_describe(layer)}: it receives a timestep mask (from "
            "`Embedding(mask_zero=True)` or `Masking`), and masks are not supported by the "
            "ONNX export. Build the model without the mask to export it."
        )
    if not getattr(layer, "_keeps_integer_inputs", False):
        ins = [
            _cast(g, v, np.float32, f"{layer.name}/input") if v.dtype.kind != "f" else v
            for v in ins
        ]
    if isinstance(layer, Operation):  # an op node is called once: its traced output shapes
        shapes = [tuple(t.shape) for t in layer._inbound_nodes[0].output_tensors]
        shapes = shapes if len(shapes) > 1 else shapes[0]
    else:
        shapes = layer.compute_output_shape([v.shape for v in ins] if is_list else ins[0].shape)
    shapes = shapes if isinstance(shapes, list) else [shapes]
    outs = convert(g, layer, ins, [tuple(s) for s in shapes])
    if isinstance(layer, Embedding):
        masked = layer.mask_zero
    elif isinstance(layer, Masking):
        masked = True
    elif masked:
        masked = layer.compute_mask(None, True) is not None
    return [replace(v, masked=bool(masked)) for v in outs]


def supported_layers() -> list[str]:
    """The names of the layer classes :func:`export_onnx` converts, sorted."""
    names = {cls.__name__ for cls in _CONVERTERS} | {"InputLayer", "Functional", "Sequential"}
    return sorted(names | set(_DECLARING_LAYERS))


def _converter(layer):
    """The converter of ``layer``'s class (or a base class whose ``call`` it keeps), or the one
    its class declares (``_onnx_conversion``)."""
    runs = type(layer).call
    for cls in type(layer).__mro__:
        if getattr(cls, "call", None) is not runs:
            continue
        if cls in _CONVERTERS:
            return _CONVERTERS[cls]
        if vars(cls).get("_onnx_conversion") in _DECLARED_CONVERSIONS:
            return _DECLARED_CONVERSIONS[vars(cls)["_onnx_conversion"]]
    raise NotImplementedError(
        f"Cannot export {_describe(layer)} to ONNX: {type(layer).__name__} has no ONNX "
        f"conversion. Supported layers: {', '.join(supported_layers())}."
    )


_CONVERTERS = {
    Activation: _convert_activation,
    ReLU: _convert_relu,
    LeakyReLU: _convert_leaky_relu,
    ELU: _convert_elu,
    Softmax: _convert_softmax,
    Dense: _convert_dense,
    Flatten: _convert_flatten,
    Reshape: _convert_reshape,
    Dropout: _convert_identity,
    SpatialDropout2D: _convert_identity,
    Rescaling: _convert_rescaling,
    BatchNormalization: _convert_batch_norm,
    Embedding: _convert_embedding,
    Masking: _convert_masking,
    Conv1D: _convert_conv,
    Conv2D: _convert_conv,
    DepthwiseConv2D: _convert_depthwise,
    SeparableConv2D: _convert_separable,
    Conv2DTranspose: _convert_conv_transpose,
    MaxPooling1D: _convert_pool,
    AveragePooling1D: _convert_pool,
    MaxPooling2D: _convert_pool,
    AveragePooling2D: _convert_pool,
    GlobalMaxPooling1D: _convert_global_pool,
    GlobalAveragePooling1D: _convert_global_pool,
    GlobalMaxPooling2D: _convert_global_pool,
    GlobalAveragePooling2D: _convert_global_pool,
    Add: _convert_merge,
    Subtract: _convert_merge,
    Multiply: _convert_merge,
    Average: _convert_merge,
    Maximum: _convert_merge,
    Minimum: _convert_merge,
    Concatenate: _convert_concatenate,
    ZeroPadding2D: _convert_zero_padding,
    Cropping2D: _convert_cropping,
    UpSampling2D: _convert_upsampling,
    Resizing: _convert_resizing,
    RandomCrop: _convert_random_crop,
    RandomFlip: _convert_identity,
    RandomRotation: _convert_identity,
    RandomTranslation: _convert_identity,
    RandomZoom: _convert_identity,
    RandomContrast: _convert_identity,
    RandomBrightness: _convert_identity,
    RandomShear: _convert_identity,
    RandomPerspective: _convert_identity,
    RandomElasticTransform: _convert_identity,
    CutMix: _convert_identity,
    MixUp: _convert_identity,
    RandAugment: _convert_identity,
    AugMix: _convert_identity,
    SimpleRNN: _convert_recurrent,
    LSTM: _convert_recurrent,
    GRU: _convert_recurrent,
    Bidirectional: _convert_bidirectional,
    LayerNormalization: _convert_layer_norm,
    GroupNormalization: _convert_group_norm,
    PReLU: _convert_prelu,
    Permute: _convert_permute,
    RepeatVector: _convert_repeat_vector,
    Conv1DTranspose: _convert_conv_transpose,
    DepthwiseConv1D: _convert_depthwise,
    SeparableConv1D: _convert_separable,
    Conv3D: _convert_conv,
    MaxPooling3D: _convert_pool,
    AveragePooling3D: _convert_pool,
    GlobalMaxPooling3D: _convert_global_pool,
    GlobalAveragePooling3D: _convert_global_pool,
    SpatialDropout1D: _convert_identity,
    SpatialDropout3D: _convert_identity,
    Normalization: _convert_normalization,
    Operation: _convert_operation,
}

# Layers defined outside cnnkit.layers declare the conversion that computes them in their class
# body (``_onnx_conversion = "layer_scale"``): the exporter imports no model or application.
_DECLARED_CONVERSIONS = {
    "identity": _convert_identity,
    "layer_scale": _convert_layer_scale,
    "scale_residual": _convert_scale_residual,
}
_DECLARING_LAYERS = ("CustomScaleLayer", "LayerScale", "StochasticDepth")  # in applications
