"""Converters of SimpleRNN, LSTM and GRU (time-major ONNX nodes) and Bidirectional."""

from __future__ import annotations

import numpy as np

from cnnkit.export.onnx.graph import _INT64_MIN, _LAST, _describe, _Graph, _numpy, _Value, _weight
from cnnkit.layers import (
    GRU,
    LSTM,
    SimpleRNN,
)

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
