"""``keras.utils.plot_model``: draw a model's graph of layers to an image file.

Keras renders through pydot and Graphviz; cnnkit draws the same picture (one box per
layer, arrows along the connections, layers placed by their depth in the graph) with
Pillow, so it works without system packages. Pillow is only imported when plotting.

Example:
    >>> import os, tempfile
    >>> from cnnkit import Input, Model, layers
    >>> i = Input((4,), name="x")
    >>> model = Model(i, layers.Dense(2, name="out")(i))
    >>> path = os.path.join(tempfile.mkdtemp(), "model.png")
    >>> plot_model(model, path, show_shapes=True)
    >>> os.path.getsize(path) > 0
    True
"""

from __future__ import annotations

import os

_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".pdf": "PDF", ".bmp": "BMP"}


def _outputs(layer, tensors=None) -> tuple:
    """``(shape text, dtype)`` of a layer's output, or ``(None, None)`` when unknown."""
    if tensors is None:
        nodes = getattr(layer, "_inbound_nodes", [])
        tensors = nodes[-1].output_tensors if nodes else []
    if tensors:
        shapes = [tuple(t.shape) for t in tensors]
        return (str(shapes[0]) if len(shapes) == 1 else str(shapes)), tensors[0].dtype
    built = getattr(layer, "_build_shapes_arg", None)
    if built is not None:
        try:
            return str(tuple(layer.compute_output_shape(tuple(built)))), layer.dtype
        except Exception:  # noqa: BLE001 - a layer that cannot say leaves the shape out
            return None, None
    return None, None


def _graph(model):
    """``(boxes, edges)``: each box ``(layer, shape text, dtype)``; edges as index pairs."""
    from cnnkit.models.functional import Functional
    from cnnkit.models.sequential import Sequential

    if isinstance(model, Sequential):
        stack = list(model.layers)
        if model._input_layer is not None:
            batch_shape = tuple(model._input_layer.batch_shape)
            stack = [model._input_layer, *stack]
        boxes = []
        for layer in stack:
            if layer is model._input_layer:
                boxes.append((layer, str(batch_shape), layer.dtype))
            else:
                boxes.append((layer, *_outputs(layer)))
        return boxes, [(i, i + 1) for i in range(len(boxes) - 1)]
    if isinstance(model, Functional):
        boxes, edges, index = [], [], {}
        for tensor in model.inputs:
            layer = tensor._keras_history[0]
            if id(layer) not in index:
                index[id(layer)] = len(boxes)
                boxes.append((layer, *_outputs(layer, [tensor])))
        for node in model._nodes:
            if id(node.layer) not in index:
                index[id(node.layer)] = len(boxes)
                boxes.append((node.layer, *_outputs(node.layer, node.output_tensors)))
            for parent in node.input_tensors:
                edge = (index[id(parent._keras_history[0])], index[id(node.layer)])
                if edge not in edges:
                    edges.append(edge)
        return boxes, edges
    return [(model, None, None)], []


def plot_model(
    model,
    to_file="model.png",
    show_shapes=False,
    show_dtype=False,
    show_layer_names=False,
    rankdir="TB",
    expand_nested=False,
    dpi=200,
    show_layer_activations=False,
    show_trainable=False,
    **kwargs,
):
    """Draw ``model``'s layers and their connections to ``to_file``.

    Args:
        model: a built ``Model`` (functional, ``Sequential`` or subclassed: a subclassed
            model is drawn as one box, as Keras does).
        to_file: the image path; its extension picks the format (``.png``, ``.jpg``,
            ``.pdf``, ``.bmp``).
        show_shapes: add each layer's output shape.
        show_dtype: add each layer's output dtype.
        show_layer_names: add each layer's name.
        rankdir: ``"TB"`` (top to bottom) or ``"LR"`` (left to right).
        expand_nested: accepted for Keras compatibility; nested models are one box.
        dpi: the resolution written in the image's metadata.
        show_layer_activations: add a layer's ``activation`` where it has one.
        show_trainable: add whether each layer is trainable.

    Returns:
        None (Keras returns an IPython image inside notebooks only).

    Raises:
        ValueError: for an unbuilt model, an unknown ``rankdir`` or file extension.
        ImportError: if Pillow is not installed.
    """
    del expand_nested, kwargs
    if rankdir not in ("TB", "LR"):
        raise ValueError(f"`rankdir` must be 'TB' or 'LR'. Received: rankdir={rankdir!r}")
    path = os.fspath(to_file)
    extension = os.path.splitext(path)[1].lower()
    if extension not in _FORMATS:
        raise ValueError(
            f"plot_model cannot write {extension or 'files without an extension'!r}: use one "
            f"of {sorted(_FORMATS)}. Received: to_file={path!r}"
        )
    if not getattr(model, "built", False):
        raise ValueError(
            "This model has not yet been built. Build the model first by calling `build()` or "
            "by calling the model on a batch of data."
        )
    try:
        from PIL import Image, ImageDraw, ImageFont
    except ImportError as err:  # pragma: no cover - Pillow is a test dependency
        raise ImportError(
            "You must install Pillow (`pip install pillow`) for `plot_model`."
        ) from err

    boxes, edges = _graph(model)
    lines = []
    for layer, shape, dtype in boxes:
        kind = type(layer).__name__
        text = [f"{layer.name} ({kind})" if show_layer_names else kind]
        activation = getattr(layer, "activation", None)
        if show_layer_activations and activation is not None:
            text.append(f"Activation: {getattr(activation, '__name__', str(activation))}")
        if show_shapes and shape is not None:
            text.append(f"Output shape: {shape}")
        if show_dtype and dtype is not None:
            text.append(f"Output dtype: {dtype}")
        if show_trainable:
            text.append(f"Trainable: {'yes' if layer.trainable else 'no'}")
        lines.append(text)

    depth = [0] * len(boxes)  # longest path from an input: the box's rank
    for _ in range(len(boxes)):
        changed = False
        for a, b in edges:
            if depth[b] < depth[a] + 1:
                depth[b] = depth[a] + 1
                changed = True
        if not changed:
            break

    font = ImageFont.load_default()
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    line_height = 14
    sizes = [
        (max(int(probe.textlength(t, font=font)) for t in text) + 24, len(text) * line_height + 16)
        for text in lines
    ]
    box_w, box_h = max(w for w, _ in sizes), max(h for _, h in sizes)
    ranks: dict[int, list[int]] = {}
    for i, d in enumerate(depth):
        ranks.setdefault(d, []).append(i)
    gap_rank, gap_side, margin = 40, 24, 20
    widest = max(len(v) for v in ranks.values())
    positions = {}
    for d, members in ranks.items():
        for k, i in enumerate(members):
            offset = (widest - len(members)) / 2 + k
            along = margin + d * ((box_h if rankdir == "TB" else box_w) + gap_rank)
            across = margin + offset * ((box_w if rankdir == "TB" else box_h) + gap_side)
            positions[i] = (across, along) if rankdir == "TB" else (along, across)
    width = int(max(x for x, _ in positions.values()) + box_w + margin)
    height = int(max(y for _, y in positions.values()) + box_h + margin)
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    for a, b in edges:
        (ax, ay), (bx, by) = positions[a], positions[b]
        if rankdir == "TB":
            start, end = (ax + box_w / 2, ay + box_h), (bx + box_w / 2, by)
            head = [(end[0] - 5, end[1] - 8), (end[0] + 5, end[1] - 8), end]
        else:
            start, end = (ax + box_w, ay + box_h / 2), (bx, by + box_h / 2)
            head = [(end[0] - 8, end[1] - 5), (end[0] - 8, end[1] + 5), end]
        draw.line([start, end], fill="black", width=1)
        draw.polygon(head, fill="black")
    for i, text in enumerate(lines):
        x, y = positions[i]
        draw.rectangle([x, y, x + box_w, y + box_h], outline="black", fill="#f0f0f0")
        for k, t in enumerate(text):
            draw.text((x + 12, y + 8 + k * line_height), t, fill="black", font=font)
    image.save(path, format=_FORMATS[extension], dpi=(dpi, dpi))
