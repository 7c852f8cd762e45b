"""``model.summary()``: the Keras 3 table of layers, output shapes and parameter counts.

``model.summary(explain=True)`` adds, for every convolution, what *parameter
sharing* saves: the parameters of a dense layer mapping the same input to the
same output (see :func:`parameter_sharing`).
"""

from __future__ import annotations

import math
from typing import NamedTuple

from cnnkit.layers.convolutional import Conv2D, Conv2DTranspose, _DepthwiseBase
from cnnkit.layers.operations import Operation


def _shape_of(layer) -> str:
    nodes = getattr(layer, "_inbound_nodes", [])
    if not nodes:
        return "?"
    shapes = [t.shape for t in nodes[-1].output_tensors]
    return str(shapes[0]) if len(shapes) == 1 else str(shapes)


def _listed(model) -> list:
    """The rows of the table: a functional model's operations (``x + y``) too, as Keras."""
    return list(getattr(model, "operations", model.layers))


def _params(layer) -> int:
    return int(sum(math.prod(w.shape) for w in layer.weights))


def _bytes(count: int, itemsize: int = 4) -> str:
    size = float(count * itemsize)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.2f} {unit}"
        size /= 1024
    return f"{size:.2f} GB"  # pragma: no cover


def summary_rows(model) -> list[tuple[str, str, int]]:
    """``(name (Type), output shape, parameter count)`` for each layer, InputLayers included
    (``"?"`` and 0 for a layer not built yet)."""
    rows = []
    for layer in _listed(model):
        kind = layer.class_name if isinstance(layer, Operation) else type(layer).__name__
        rows.append((f"{layer.name} ({kind})", _shape_of(layer), _params(layer)))
    return rows


class SharingRow(NamedTuple):
    """One convolution layer against the dense layer with the same input and output."""

    layer: str  # the layer's name
    conv_params: int  # the convolution's parameters (kernel + bias)
    dense_weights: int  # inputs x outputs of the equivalent dense layer
    dense_biases: int  # one bias per output value
    ratio: float  # (dense_weights + dense_biases) / conv_params


def _conv_types() -> tuple[type, ...]:
    return (Conv2D, _DepthwiseBase, Conv2DTranspose)  # Conv1D is a Conv2D


def _io_shapes(layer):
    """The layer's (input, output) shapes, batch axis included, or None when unknown."""
    nodes = getattr(layer, "_inbound_nodes", [])
    if nodes:
        in_shape = nodes[-1].input_tensors[0].shape
        out_shape = nodes[-1].output_tensors[0].shape
    elif getattr(layer, "_build_shapes_arg", None) is not None:
        in_shape = tuple(layer._build_shapes_arg)
        out_shape = tuple(layer.compute_output_shape(in_shape))
    else:
        return None
    if None in in_shape[1:] or None in out_shape[1:]:
        return None
    return in_shape, out_shape


def parameter_sharing(model) -> list[SharingRow]:
    """What each convolution of ``model`` would cost as a dense layer.

    A convolution applies the same ``KH x KW x C`` kernel at every position of the
    image (*parameter sharing*), so its parameter count does not grow with the image.
    A dense layer producing the same output from the same input needs one weight per
    (input value, output value) pair, ``prod(input) x prod(output)``, plus one bias per
    output value. Convolutions whose shapes are unknown (never built) are skipped;
    layers of nested models are included.

    Args:
        model: a built model.

    Returns:
        One :class:`SharingRow` ``(layer, conv_params, dense_weights, dense_biases, ratio)``
        per Conv1D/Conv2D/DepthwiseConv2D/SeparableConv2D/Conv2DTranspose layer, in order.

    Example:
        The lecture's example: a 32x32x3 image, 64 filters of 5x5, ``"valid"`` padding,
        a 28x28x64 output. The kernel has 3·5·5·64 = 4,800 weights (+ 64 biases); the
        dense layer 3,072 x 50,176 = 154,140,672 weights (+ 50,176 biases), about
        32 thousand times the kernel's 4,800 weights.

        >>> from cnnkit.layers import Input, Conv2D
        >>> from cnnkit.models import Sequential
        >>> model = Sequential([Input(shape=(32, 32, 3)), Conv2D(64, 5, name="conv")])
        >>> row = parameter_sharing(model)[0]
        >>> row.layer, row.conv_params, row.dense_weights, row.dense_biases
        ('conv', 4864, 154140672, 50176)
        >>> round(row.ratio)
        31700
        >>> round(row.dense_weights / 4800)
        32113
    """
    rows = []
    for layer in model._flatten_layers(include_self=False):
        if not isinstance(layer, _conv_types()):
            continue
        shapes = _io_shapes(layer)
        if shapes is None:
            continue
        n_in, n_out = math.prod(shapes[0][1:]), math.prod(shapes[1][1:])
        params = _params(layer)
        dense = n_in * n_out + n_out
        rows.append(SharingRow(layer.name, params, n_in * n_out, n_out, dense / params))
    return rows


def _print_sharing(model, print_fn) -> None:
    rows = parameter_sharing(model)
    print_fn(" Parameter sharing: a convolution reuses one kernel at every position; a dense")
    print_fn(" layer with the same input and output needs one weight per (input, output) pair.")
    if not rows:
        print_fn("   (no convolution layers with known shapes)")
    for row in rows:
        dense = row.dense_weights + row.dense_biases
        print_fn(f"   {row.layer}: {row.conv_params:,} parameters")
        print_fn(
            f"     dense equivalent: {row.dense_weights:,} weights + {row.dense_biases:,} "
            f"biases = {dense:,} ({row.ratio:,.0f}x more)"
        )


def print_summary(model, line_length=None, print_fn=None, explain=False, **kwargs) -> None:
    """Print the summary table; ``print_fn(line)`` receives each line (default ``print``).

    With ``explain=True``, also one line per convolution layer comparing its
    parameters with those of a dense layer of the same input and output
    (:func:`parameter_sharing`).
    """
    print_fn = print_fn or print
    rows = [  # as Keras: "0 (unbuilt)" for a layer without weights yet
        (name, shape, f"{params:,}" if layer.built else "0 (unbuilt)")
        for layer, (name, shape, params) in zip(_listed(model), summary_rows(model))
    ]
    headers = ("Layer (type)", "Output Shape", "Param #")
    widths = [
        max(len(headers[0]), *(len(r[0]) for r in rows)) + 2 if rows else 31,
        max(len(headers[1]), *(len(r[1]) for r in rows)) + 2 if rows else 24,
        15,
    ]
    widths[0] = max(widths[0], 31)
    widths[1] = max(widths[1], 24)

    def rule(left, mid, right, fill):
        return left + mid.join(fill * (w + 2) for w in widths) + right

    def cells(values, edge, align_right_last=True):
        parts = []
        for i, (value, w) in enumerate(zip(values, widths)):
            text = f"{value:>{w}}" if (i == 2 and align_right_last) else f"{value:<{w}}"
            parts.append(f" {text} ")
        return edge + edge.join(parts) + edge

    print_fn(f'Model: "{model.name}"')
    print_fn(rule("┏", "┳", "┓", "━"))
    print_fn(cells(headers, "┃"))
    print_fn(rule("┡", "╇", "┩", "━"))
    for i, (name, shape, params) in enumerate(rows):
        print_fn(cells((name, shape, params), "│"))
        if i < len(rows) - 1:
            print_fn(rule("├", "┼", "┤", "─"))
    print_fn(rule("└", "┴", "┘", "─"))
    trainable = sum(w.data.size for w in model.trainable_weights)
    non_trainable = sum(w.data.size for w in model.non_trainable_weights)
    optimizer = getattr(model, "optimizer", None)
    slots = list(optimizer.variables) if optimizer is not None and optimizer.built else []
    optimizer_params = sum(v.data.size for v in slots)
    optimizer_bytes = sum(v.data.nbytes for v in slots)
    total = trainable + non_trainable + optimizer_params  # Keras 3 counts the optimizer too
    total_bytes = 4 * (trainable + non_trainable) + optimizer_bytes
    print_fn(f" Total params: {total:,} ({_bytes(total_bytes, 1)})")
    print_fn(f" Trainable params: {trainable:,} ({_bytes(trainable)})")
    print_fn(f" Non-trainable params: {non_trainable:,} ({_bytes(non_trainable)})")
    if slots:
        print_fn(f" Optimizer params: {optimizer_params:,} ({_bytes(optimizer_bytes, 1)})")
    if explain:
        _print_sharing(model, print_fn)
