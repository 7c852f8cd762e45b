"""``model.summary()``: the Keras 3 table of layers, output shapes and parameter counts."""

from __future__ import annotations

import math


def _shape_of(layer) -> str:
    nodes = getattr(layer, "_inbound_nodes", [])
    if not nodes:
        return "?"
    shapes = [t.shape for t in nodes[-1].output_tensors]
    return str(shapes[0]) if len(shapes) == 1 else str(shapes)


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
    """``(name (Type), output shape, parameter count)`` for each layer, InputLayers included."""
    rows = []
    for layer in model.layers:
        rows.append((f"{layer.name} ({type(layer).__name__})", _shape_of(layer), _params(layer)))
    return rows


def print_summary(model, line_length=None, print_fn=None, **kwargs) -> None:
    """Print the summary table; ``print_fn(line)`` receives each line (default ``print``)."""
    print_fn = print_fn or print
    if not model.built:
        raise ValueError(
            f"Model {model.name!r} has not yet been built. Build the model first by calling "
            "`build()` or by calling the model on a batch of data."
        )
    rows = summary_rows(model)
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
        print_fn(cells((name, shape, f"{params:,}"), "│"))
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
