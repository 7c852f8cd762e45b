"""The ONNX graph under construction: values with a layout tag, nodes, initializers."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from cnnkit import backend

DEFAULT_OPSET = 17
MIN_OPSET = 13

_LAST, _FIRST = "channels_last", "channels_first"
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_TWO_GIB = 2**31


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


def _cast(g: _Graph, v: _Value, dtype, hint: str) -> _Value:
    to = g.onnx.helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
    return replace(v, name=g.op("Cast", [v.name], hint, to=to), dtype=np.dtype(dtype))
