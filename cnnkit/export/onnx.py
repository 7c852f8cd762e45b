"""ONNX export: a functional or sequential model as an ONNX graph for inference.

:func:`export_onnx` walks the model's layer calls in order and writes one or a few ONNX
nodes per layer with the ``onnx.helper`` API; ``Model.export(path, format="onnx")`` calls it.
The exported graph computes what ``model.predict`` computes (inference mode: dropout and the
random augmentation layers are the identity, BatchNormalization uses its moving statistics).

Inputs and outputs have Keras's shapes, channels last, with a dynamic batch dimension named
``"batch"``; unknown sizes (``Input(shape=(None, None, 3))``) stay dynamic. Input names are
the ``Input`` layers' names, output names the names of the layers that produce them.

**Layout.** ONNX's Conv, ConvTranspose, MaxPool, AveragePool and Resize take channels-first
tensors (NCHW, NCW), cnnkit's layers channels-last ones. Every tensor of the graph being built
carries a layout tag; a layer that needs channels-first input gets one ``Transpose`` if its
input is channels-last, and its output stays channels-first. Element-wise layers (activations,
BatchNormalization, merges of same-layout tensors), padding, cropping and global pooling work in
either layout, so a chain ``Conv2D → BatchNormalization → relu → MaxPooling2D → Conv2D`` has
a single transpose at its start. Layers that depend on the order of the axes (``Flatten``,
``Reshape``, ``Dense``, recurrent layers) and the model's outputs get channels-last tensors back
(one ``Transpose``), so ``Flatten`` keeps Keras's channels-last order.

**Padding.** ``"same"`` convolutions and pools pad as TensorFlow does (the odd pixel at the
bottom/right) with explicit ``pads``; where the input size is unknown and the stride is above 1
(the padding then depends on the size) the node uses ``auto_pad="SAME_UPPER"``, which is the
same rule. Average pools use ``count_include_pad=0``: the mean of the real pixels, as Keras.

**Recurrent layers** become ONNX ``RNN``, ``LSTM`` and ``GRU`` nodes, time-major inside. The
weights are converted from Keras's gate order (LSTM ``i, f, c, o``; GRU ``z, r, h``) to ONNX's
(``i, o, f, c``; ``z, r, h``); a ``reset_after=True`` GRU is ``linear_before_reset=1`` with its
two biases as ONNX's ``Wb`` and ``Rb``. ``go_backwards`` reverses the sequence before the node
(the outputs are then in processing order, as Keras returns them). ``return_state`` and
``initial_state`` (states from other layers) are supported.

Supported layers: see :func:`supported_layers`. Models used as layers (functional or
sequential) are inlined. Anything else raises ``NotImplementedError`` naming the layer, its
class and the supported layers.

Not exported (a clear ``NotImplementedError``): timestep masks reaching a layer that uses them
(``Embedding(mask_zero=True)`` or ``Masking`` before a recurrent layer or
``GlobalAveragePooling1D``), ``stateful`` recurrent layers, custom activation functions,
subclassed models with their own ``call``, string inputs (``TextVectorization``), and
``Resizing(crop_to_aspect_ratio=True)``/``pad_to_aspect_ratio`` and ``RandomCrop`` on inputs of
unknown height or width. Only float32 models are exported.

Deviations from ``predict``: ``Embedding`` indices are not range-checked (ONNX ``Gather``
wraps negative indices and fails on too large ones instead of cnnkit's ValueError); the
numerics agree to float32 rounding (about 1e-6 relative), not bit for bit.

Opsets 13 to the newest one the installed ``onnx`` knows are supported (default 17); from
opset 20 GELU is ONNX's ``Gelu`` node, before it ``0.5 x (1 + erf(x / sqrt 2))``.

Example:
    >>> "Conv2D" in supported_layers() and "LSTM" in supported_layers()
    True
    >>> from cnnkit.layers import Input, Conv2D, Flatten, Dense
    >>> from cnnkit.models import Model
    >>> i = Input(shape=(8, 8, 3))
    >>> model = Model(i, Dense(2)(Flatten()(Conv2D(4, 3)(i))))
    >>> model.export("model.onnx", format="onnx")  # doctest: +SKIP
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, replace

import numpy as np

from cnnkit import activations, backend
from cnnkit.io_utils import atomic_write
from cnnkit.layers import (
    ELU,
    GRU,
    LSTM,
    Activation,
    Add,
    Average,
    AveragePooling1D,
    AveragePooling2D,
    BatchNormalization,
    Bidirectional,
    Concatenate,
    Conv1D,
    Conv2D,
    Conv2DTranspose,
    Cropping2D,
    Dense,
    DepthwiseConv2D,
    Dropout,
    Embedding,
    Flatten,
    GlobalAveragePooling1D,
    GlobalAveragePooling2D,
    GlobalMaxPooling1D,
    GlobalMaxPooling2D,
    LeakyReLU,
    Masking,
    Maximum,
    MaxPooling1D,
    MaxPooling2D,
    Minimum,
    Multiply,
    RandomBrightness,
    RandomContrast,
    RandomCrop,
    RandomFlip,
    RandomRotation,
    RandomTranslation,
    RandomZoom,
    ReLU,
    Rescaling,
    Reshape,
    Resizing,
    SeparableConv2D,
    SimpleRNN,
    Softmax,
    SpatialDropout2D,
    Subtract,
    UpSampling2D,
    ZeroPadding2D,
)
from cnnkit.models.functional import Functional
from cnnkit.models.sequential import Sequential
from cnnkit.ops.activations import SELU_ALPHA, SELU_SCALE
from cnnkit.ops.resize import aspect_ratio_box

DEFAULT_OPSET = 17
MIN_OPSET = 13

_LAST, _FIRST = "channels_last", "channels_first"
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_TWO_GIB = 2**31


# ---------------------------------------------------------------------------
# Public entry points
# ---------------------------------------------------------------------------


def export_onnx(model, filepath, opset: int = DEFAULT_OPSET):
    """Write ``model`` as an ONNX file for inference.

    Args:
        model: a built functional or ``Sequential`` model (models used as layers are inlined).
        filepath: where to write, usually ending in ``.onnx``; written atomically.
        opset: the ONNX opset of the default domain, from 13 to the newest one the installed
            ``onnx`` supports (default 17).

    Returns:
        The ``onnx.ModelProto`` written (already checked with ``onnx.checker.check_model``).

    Raises:
        ImportError: when the ``onnx`` package is not installed.
        ValueError: an unbuilt model, an opset out of range, a model that is not float32, or a
            model over 2 GB.
        NotImplementedError: a layer (or a layer option) with no ONNX conversion; the message
            names the layer, its class and the supported layers.

    Example:
        >>> from cnnkit.layers import Input, Dense
        >>> from cnnkit.models import Model
        >>> i = Input(shape=(4,))
        >>> proto = export_onnx(Model(i, Dense(2)(i)), "dense.onnx")  # doctest: +SKIP
        >>> [n.op_type for n in proto.graph.node]  # doctest: +SKIP
        ['Gemm', 'Identity']
    """
    onnx = _import_onnx()
    proto = _build_model(onnx, model, _check_opset(onnx, opset))
    if proto.ByteSize() >= _TWO_GIB:
        raise ValueError(
            f"Model {model.name!r} is over 2 GB as ONNX ({proto.ByteSize():,} bytes); files with "
            "external weight data are not supported."
        )
    onnx.checker.check_model(proto, full_check=True)
    with atomic_write(os.fspath(filepath)) as f:
        f.write(proto.SerializeToString())
    return proto


def export_command(model_path, out_path, opset: int = DEFAULT_OPSET) -> int:
    """``cnnkit export MODEL OUT.onnx``: load a saved model and write it as ONNX.

    Args:
        model_path: a model file readable by ``cnnkit.models.load_model`` (``.keras``).
        out_path: the ONNX file to write.
        opset: as :func:`export_onnx`.

    Returns:
        0, after printing one line about the file written.

    Raises:
        FileNotFoundError: ``model_path`` does not exist.
        NotImplementedError: this cnnkit cannot read model files (no ``load_model``).
        ImportError, ValueError: as :func:`export_onnx`.
    """
    path = os.fspath(model_path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No such model file: {path!r}")
    try:
        from cnnkit.models import load_model
    except ImportError:
        raise NotImplementedError(
            "Reading model files needs `cnnkit.models.load_model`, which this version of "
            "cnnkit does not have."
        ) from None
    model = load_model(path)
    proto = export_onnx(model, out_path, opset=opset)
    print(
        f"Exported {path} to {os.fspath(out_path)} (ONNX opset {opset}, "
        f"{len(proto.graph.node)} nodes)."
    )
    return 0


def supported_layers() -> list[str]:
    """The names of the layer classes :func:`export_onnx` converts, sorted."""
    names = {cls.__name__ for cls in _CONVERTERS} | {"InputLayer", "Functional", "Sequential"}
    return sorted(names)


def _import_onnx():
    try:
        import onnx
        import onnx.checker
        import onnx.helper
        import onnx.numpy_helper
    except ImportError:
        raise ImportError(
            "ONNX export needs the `onnx` package: pip install 'cnnkit[onnx]'."
        ) from None
    return onnx


def _check_opset(onnx, opset) -> int:
    newest = onnx.defs.onnx_opset_version()
    if isinstance(opset, bool) or not isinstance(opset, (int, np.integer)):
        raise ValueError(f"Argument `opset` must be an int. Received: opset={opset!r}")
    if not MIN_OPSET <= opset <= newest:
        raise ValueError(
            f"Invalid value for argument `opset`: expected {MIN_OPSET} to {newest} (the newest "
            f"the installed onnx {onnx.__version__} knows). Received: opset={opset}"
        )
    return int(opset)


# ---------------------------------------------------------------------------
# The graph under construction
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Value:
    """A tensor of the ONNX graph, with what the converters need to know about it."""

    name: str
    shape: tuple  # Keras's shape (channels last), None for unknown sizes
    dtype: np.dtype
    layout: str = _LAST  # how the ONNX tensor is laid out: as Keras, or channels moved to axis 1
    masked: bool = False  # carries a Keras timestep mask (not exported)

    @property
    def rank(self) -> int:
        return len(self.shape)


class _Graph:
    """Nodes, initializers and unique names of the ONNX graph being built."""

    def __init__(self, onnx, opset: int):
        self.onnx = onnx
        self.opset = opset
        self.nodes: list = []
        self.initializers: list = []
        self._names: set[str] = set()
        self._consts: dict = {}
        self._layouts: dict = {}  # (value name, layout) -> the transposed _Value

    def unique(self, hint: str) -> str:
        name, i = hint, 1
        while name in self._names:
            name, i = f"{hint}_{i}", i + 1
        self._names.add(name)
        return name

    def const(self, array, hint: str, key=None) -> str:
        """An initializer holding ``array`` (shared when the same ``key`` comes again)."""
        if key is not None and key in self._consts:
            return self._consts[key]
        array = np.ascontiguousarray(array)
        name = self.unique(hint)
        self.initializers.append(self.onnx.numpy_helper.from_array(array, name))
        if key is not None:
            self._consts[key] = name
        return name

    def ints(self, values) -> str:
        values = tuple(int(v) for v in values)
        return self.const(np.asarray(values, dtype=np.int64), "const", key=("int64", values))

    def floats(self, value) -> str:
        array = np.asarray(value, dtype=np.float32)
        return self.const(array, "const", key=("float32", array.shape, array.tobytes()))

    def op(self, op_type: str, inputs, hint: str, outputs: int = 1, **attrs):
        """Add a node; return its output name (or the list of names when ``outputs > 1``)."""
        names = [self.unique(f"{hint}/{op_type}") for _ in range(outputs)]
        attrs = {k: v for k, v in attrs.items() if v is not None}
        node = self.onnx.helper.make_node(op_type, list(inputs), names, name=names[0], **attrs)
        self.nodes.append(node)
        return names[0] if outputs == 1 else names

    def reduce(self, op_type: str, x: str, axes, keepdims: bool, hint: str) -> str:
        """ReduceMax/ReduceMean: ``axes`` is an input from opset 18, an attribute before."""
        if self.opset >= 18:
            return self.op(op_type, [x, self.ints(axes)], hint, keepdims=int(keepdims))
        return self.op(op_type, [x], hint, axes=list(axes), keepdims=int(keepdims))

    def as_layout(self, v: _Value, layout: str) -> _Value:
        """``v`` laid out as ``layout`` (one Transpose, made once per value and layout)."""
        if v.rank < 3 or v.layout == layout:
            return v
        key = (v.name, layout)
        if key not in self._layouts:
            perm = _to_first_perm(v.rank) if layout == _FIRST else _to_last_perm(v.rank)
            name = self.op("Transpose", [v.name], v.name, perm=perm)
            self._layouts[key] = replace(v, name=name, layout=layout)
        return self._layouts[key]


def _to_first_perm(rank: int) -> list[int]:
    """``(N, d1, ..., C) -> (N, C, d1, ...)``: axis ``j`` of the result is axis ``perm[j]``."""
    return [0, rank - 1, *range(1, rank - 1)]


def _to_last_perm(rank: int) -> list[int]:
    return [0, *range(2, rank), 1]


def _axis(v: _Value, axis: int) -> int:
    """Where Keras's ``axis`` of ``v`` is in the ONNX tensor (which may be channels-first)."""
    axis %= v.rank
    return _to_first_perm(v.rank).index(axis) if v.layout == _FIRST else axis


def _along(v: _Value, array, axis: int = -1):
    """A per-channel ``(C,)`` array shaped to broadcast along Keras's ``axis`` of ``v``."""
    shape = [1] * v.rank
    shape[_axis(v, axis)] = -1
    return np.asarray(array).reshape(shape)


def _numpy(variable) -> np.ndarray:
    return np.asarray(backend.to_numpy(variable.data))


def _weight(g: _Graph, layer, array, what: str) -> str:
    """An initializer for one of ``layer``'s (converted) weights, shared across calls."""
    return g.const(array, f"{layer.name}/{what}", key=(id(layer), what))


def _describe(layer) -> str:
    return f"layer {layer.name!r} ({type(layer).__name__})"


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
    return (isinstance(layer, Functional) and type(layer).call is Functional.call) or (
        isinstance(layer, Sequential) and type(layer).call is Sequential.call
    )


def _convert_model(g: _Graph, model, inputs: list[_Value]) -> list[_Value]:
    """Inline a functional or sequential model on the given input values."""
    if isinstance(model, Sequential):
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


def _cast(g: _Graph, v: _Value, dtype, hint: str) -> _Value:
    to = g.onnx.helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
    return replace(v, name=g.op("Cast", [v.name], hint, to=to), dtype=np.dtype(dtype))


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


def _converter(layer):
    """The converter of ``layer``'s class (or a base class whose ``call`` it keeps)."""
    for cls in type(layer).__mro__:
        if cls in _CONVERTERS and type(layer).call is cls.call:
            return _CONVERTERS[cls]
    raise NotImplementedError(
        f"Cannot export {_describe(layer)} to ONNX: {type(layer).__name__} has no ONNX "
        f"conversion. Supported layers: {', '.join(supported_layers())}."
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
    else:
        name = getattr(fn, "__name__", repr(fn))
        raise NotImplementedError(
            f"Cannot export {_describe(layer)}: activation {name!r} has no ONNX conversion. "
            "Supported: linear, relu, sigmoid, tanh, softmax, elu, leaky_relu, selu, gelu, "
            "silu/swish."
        )
    return replace(v, name=y)


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
    """Conv2D and Conv1D: kernels ``(KH, KW, C, F) -> (F, C, KH, KW)``, ``(K, C, F) -> (F, C,
    K)``."""
    x = g.as_layout(ins[0], _FIRST)
    kernel = _numpy(layer.kernel)
    if isinstance(layer, Conv1D):
        w, start = kernel.transpose(2, 1, 0), 1  # Conv1D stores (1, K) sizes
    else:
        w, start = kernel.transpose(3, 2, 0, 1), 0
    geometry = (
        layer.kernel_size[start:],
        layer.strides[start:],
        layer.dilation_rate[start:],
        layer.padding,
    )
    w = _weight(g, layer, w, "kernel")
    y = _conv_node(g, layer, x, w, _bias(g, layer), geometry, layer.name)
    return [_activation(g, replace(y, shape=shapes[0]), layer.activation, layer)]


def _depthwise_geometry(layer):
    return (layer.kernel_size, layer.strides, layer.dilation_rate, layer.padding)


def _depthwise_weight(kernel):
    """``(KH, KW, C, M) -> (C·M, 1, KH, KW)``: output channel ``c·M + m`` sees input ``c``."""
    kh, kw, c, m = kernel.shape
    return kernel.reshape(kh, kw, c * m).transpose(2, 0, 1)[:, None]


def _convert_depthwise(g, layer, ins, shapes):
    x = g.as_layout(ins[0], _FIRST)
    kernel = _numpy(layer.kernel)
    w = _weight(g, layer, _depthwise_weight(kernel), "kernel")
    geometry = _depthwise_geometry(layer)
    y = _conv_node(g, layer, x, w, _bias(g, layer), geometry, layer.name, group=kernel.shape[2])
    return [_activation(g, replace(y, shape=shapes[0]), layer.activation, layer)]


def _convert_separable(g, layer, ins, shapes):
    """Depthwise Conv (``group = C``, no bias), then a 1×1 Conv with the bias."""
    x = g.as_layout(ins[0], _FIRST)
    kernel = _numpy(layer.depthwise_kernel)
    w = _weight(g, layer, _depthwise_weight(kernel), "depthwise_kernel")
    geometry = _depthwise_geometry(layer)
    mid = _conv_node(g, layer, x, w, None, geometry, layer.name, group=kernel.shape[2])
    mid = replace(mid, shape=shapes[0])  # only the spatial sizes matter below
    pointwise = _numpy(layer.pointwise_kernel).transpose(3, 2, 0, 1)
    pointwise = _weight(g, layer, pointwise, "pointwise_kernel")
    one = ((1, 1), (1, 1), (1, 1), "valid")
    y = _conv_node(g, layer, mid, pointwise, _bias(g, layer), one, layer.name)
    return [_activation(g, replace(y, shape=shapes[0]), layer.activation, layer)]


def _transpose_padding(k: int, s: int, d: int, padding: str, output_padding) -> tuple:
    """``(pad_begin, pad_end, onnx_output_padding)`` of one axis of a Conv2DTranspose.

    Keras (see :mod:`cnnkit.ops.conv`) pads the stride-dilated input with ``left`` and
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
    """ConvTranspose: kernel ``(KH, KW, F, C) -> (C, F, KH, KW)``."""
    x = g.as_layout(ins[0], _FIRST)
    w = _weight(g, layer, _numpy(layer.kernel).transpose(3, 2, 0, 1), "kernel")
    output_padding = layer.output_padding or (None, None)
    begins, ends, extras = zip(
        *(
            _transpose_padding(k, s, d, layer.padding, p)
            for k, s, d, p in zip(
                layer.kernel_size, layer.strides, layer.dilation_rate, output_padding
            )
        )
    )
    inputs = [x.name, w] + ([_bias(g, layer)] if layer.use_bias else [])
    y = g.op(
        "ConvTranspose",
        inputs,
        layer.name,
        kernel_shape=list(layer.kernel_size),
        strides=list(layer.strides),
        dilations=list(layer.dilation_rate),
        pads=list(begins + ends),
        output_padding=list(extras) if any(extras) else None,
    )
    out = _Value(y, shapes[0], np.dtype(np.float32), _FIRST)
    return [_activation(g, out, layer.activation, layer)]


def _convert_pool(g, layer, ins, shapes):
    x = g.as_layout(ins[0], _FIRST)
    pool, strides = list(layer.pool_size), list(layer.strides)
    attrs = _padding_attrs(x.shape[1:-1], pool, strides, [1] * len(pool), layer.padding)
    if isinstance(layer, (MaxPooling2D, MaxPooling1D)):
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
    is_max = isinstance(layer, (GlobalMaxPooling2D, GlobalMaxPooling1D))
    op = "ReduceMax" if is_max else "ReduceMean"
    spatial = [_axis(v, a) for a in range(1, v.rank - 1)]
    y = g.reduce(op, v.name, spatial, layer.keepdims, layer.name)
    return [_Value(y, shapes[0], v.dtype, v.layout if layer.keepdims else _LAST)]


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
# Recurrent layers
# ---------------------------------------------------------------------------

# name -> (ONNX activation, alpha, beta); Keras 3's hard_sigmoid is clip(x / 6 + 1/2, 0, 1)
_RNN_ACTIVATIONS = {
    "tanh": ("Tanh", None, None),
    "sigmoid": ("Sigmoid", None, None),
    "relu": ("Relu", None, None),
    "hard_sigmoid": ("HardSigmoid", 1.0 / 6.0, 0.5),
    "linear": ("Affine", 1.0, 0.0),
}


def _gate_blocks(matrix, order, units: int):
    """Reorder the ``units``-wide gate blocks of the first axis of ``matrix``."""
    return np.concatenate([matrix[i * units : (i + 1) * units] for i in order], axis=0)


def _recurrent_outputs(g: _Graph, layer, x: _Value, states: list[_Value]) -> list[str]:
    """One SimpleRNN, LSTM or GRU layer: ``[output, *final states]`` (value names)."""
    h = layer.name
    if layer.stateful:
        raise NotImplementedError(
            f"Cannot export {_describe(layer)}: stateful recurrent layers carry states between "
            "batches, which an ONNX graph cannot. Export a copy built with stateful=False."
        )
    units = layer.units
    x = g.as_layout(x, _LAST)
    seq = g.op("Transpose", [x.name], h, perm=[1, 0, 2])  # (T, N, F): ONNX is time-major
    if layer.go_backwards:  # Keras returns the outputs in processing order
        seq = g.op("Slice", [seq, g.ints([-1]), g.ints([_INT64_MIN]), g.ints([0]), g.ints([-1])], h)
    kernel, recurrent = _numpy(layer.kernel).T, _numpy(layer.recurrent_kernel).T  # (G·U, .)
    gates = kernel.shape[0] // units
    bias = _numpy(layer.bias) if layer.use_bias else np.zeros(gates * units, np.float32)
    attrs = {"hidden_size": units}
    names = [layer.activation]
    if isinstance(layer, LSTM):
        op, order = "LSTM", (0, 3, 1, 2)  # Keras i, f, c, o -> ONNX i, o, f, c
        names = [layer.recurrent_activation, layer.activation, layer.activation]
        w_bias, r_bias = bias, np.zeros_like(bias)
    elif isinstance(layer, GRU):
        op, order = "GRU", (0, 1, 2)  # z, r, h in both
        names = [layer.recurrent_activation, layer.activation]
        if layer.reset_after:  # bias (2, 3U): input bias, recurrent bias (inside r * (...))
            attrs["linear_before_reset"] = 1
            w_bias, r_bias = (bias[0], bias[1]) if bias.ndim == 2 else (bias, np.zeros_like(bias))
        else:
            w_bias, r_bias = bias, np.zeros_like(bias)
    else:
        op, order = "RNN", (0,)
        w_bias, r_bias = bias, np.zeros_like(bias)
    w = _gate_blocks(kernel, order, units)[None]
    r = _gate_blocks(recurrent, order, units)[None]
    b = np.concatenate([_gate_blocks(w_bias, order, units), _gate_blocks(r_bias, order, units)])
    acts = [_RNN_ACTIVATIONS[name] for name in names]
    attrs["activations"] = [a[0] for a in acts]
    if any(a[1] is not None for a in acts):  # consumed by the activations that take them
        attrs["activation_alpha"] = [a[1] for a in acts if a[1] is not None]
        attrs["activation_beta"] = [a[2] for a in acts if a[2] is not None]
    inputs = [
        seq,
        _weight(g, layer, w, "W"),
        _weight(g, layer, r, "R"),
        _weight(g, layer, b[None], "B"),
        "",  # sequence_lens: every sequence is whole
    ]
    inputs += [g.op("Unsqueeze", [g.as_layout(s, _LAST).name, g.ints([0])], h) for s in states]
    count = 3 if op == "LSTM" else 2
    ys = g.op(op, inputs, h, outputs=count, **attrs)
    if layer.return_sequences:  # Y (T, 1, N, U) -> (N, T, U)
        y = g.op("Squeeze", [ys[0], g.ints([1])], h)
        output = g.op("Transpose", [y], h, perm=[1, 0, 2])
    else:
        output = g.op("Squeeze", [ys[1], g.ints([0])], h)
    final = [g.op("Squeeze", [s, g.ints([0])], h) for s in ys[1:]] if layer.return_state else []
    return [output, *final]


def _convert_recurrent(g, layer, ins, shapes):
    names = _recurrent_outputs(g, layer, ins[0], ins[1:])
    return [_Value(n, s, np.dtype(np.float32)) for n, s in zip(names, shapes)]


def _convert_bidirectional(g, layer, ins, shapes):
    """The forward and the backward layer, the backward outputs put back in input order."""
    h = layer.name
    for sub in (layer.forward_layer, layer.backward_layer):
        if type(sub) not in (SimpleRNN, LSTM, GRU):
            raise NotImplementedError(
                f"Cannot export {_describe(layer)}: it wraps {_describe(sub)}; only SimpleRNN, "
                "LSTM and GRU are supported inside Bidirectional."
            )
    states = ins[1:]
    half = len(states) // 2
    forward = _recurrent_outputs(g, layer.forward_layer, ins[0], states[:half])
    backward = _recurrent_outputs(g, layer.backward_layer, ins[0], states[half:])
    y, y_rev = forward[0], backward[0]
    if layer.return_sequences:
        y_rev = g.op(
            "Slice", [y_rev, g.ints([-1]), g.ints([_INT64_MIN]), g.ints([1]), g.ints([-1])], h
        )
    mode = layer.merge_mode
    if mode == "concat":
        outputs = [g.op("Concat", [y, y_rev], h, axis=-1)]
    elif mode == "sum":
        outputs = [g.op("Add", [y, y_rev], h)]
    elif mode == "ave":
        outputs = [g.op("Mul", [g.op("Add", [y, y_rev], h), g.floats(0.5)], h)]
    elif mode == "mul":
        outputs = [g.op("Mul", [y, y_rev], h)]
    else:
        outputs = [y, y_rev]
    names = outputs + forward[1:] + backward[1:]
    return [_Value(n, s, np.dtype(np.float32)) for n, s in zip(names, shapes)]


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
    SimpleRNN: _convert_recurrent,
    LSTM: _convert_recurrent,
    GRU: _convert_recurrent,
    Bidirectional: _convert_bidirectional,
}
