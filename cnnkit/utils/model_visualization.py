"""``plot_model`` and ``model_to_dot``: a picture of a model's graph of layers.

The graph (one box per layer, an arrow per tensor passed between layers, nested models as one
box or, with ``expand_nested``, as their own layers inside a dashed frame) is written in
Graphviz's DOT language. When Graphviz's ``dot`` program is installed, ``plot_model`` runs it
(any format it knows: ``png``, ``svg``, ``pdf``...). Without it, cnnkit lays the graph out
itself (layers in rows by depth, like ``dot``'s top-to-bottom ranks) and draws it: ``.svg``
as SVG text, ``.png``/``.jpg`` through Pillow; ``.dot`` writes the DOT source in both cases.

Deliberate deviation from Keras 3: ``model_to_dot`` returns a small :class:`DotGraph` (its
``to_string()``, ``create()`` and ``write()``) rather than a ``pydot.Dot``, so that it works
without pydot.

Example:
    >>> from cnnkit import layers, models
    >>> model = models.Sequential([layers.Input((4,)), layers.Dense(2, name="out")], name="net")
    >>> print(model_to_dot(model, show_shapes=True).to_string().splitlines()[0])
    digraph "net" {
"""

from __future__ import annotations

import os
import shutil
import subprocess
from html import escape


class DotGraph:
    """A graph in the DOT language, with the ``pydot.Dot`` calls ``plot_model`` users make."""

    def __init__(self, name: str, nodes: list, edges: list, clusters: list, rankdir: str, dpi):
        self.name = name
        self.nodes = nodes  # [(id, [label lines])]
        self.edges = edges  # [(from id, to id)]
        self.clusters = clusters  # [(title, [node ids])]
        self.rankdir = rankdir
        self.dpi = dpi

    def to_string(self) -> str:
        def quote(text: str) -> str:
            return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'

        lines = [f"digraph {quote(self.name)} {{"]
        lines.append(f"  graph [rankdir={self.rankdir}, dpi={self.dpi}];")
        lines.append('  node [shape=record, fontname="Helvetica"];')
        in_cluster = {n for _, ids in self.clusters for n in ids}
        labels = dict(self.nodes)

        def node_line(node_id, indent="  "):
            label = "\\n".join(line.replace('"', '\\"') for line in labels[node_id])
            return f'{indent}{quote(node_id)} [label="{label}", shape=box];'

        for node_id, _ in self.nodes:
            if node_id not in in_cluster:
                lines.append(node_line(node_id))
        for i, (title, ids) in enumerate(self.clusters):
            lines.append(f"  subgraph cluster_{i} {{")
            lines.append(f"    label={quote(title)}; style=dashed;")
            lines.extend(node_line(n, "    ") for n in ids)
            lines.append("  }")
        lines.extend(f"  {quote(a)} -> {quote(b)};" for a, b in self.edges)
        lines.append("}")
        return "\n".join(lines) + "\n"

    def create(self, prog: str = "dot", format: str = "png") -> bytes:
        """The graph rendered by Graphviz (``prog`` must be installed)."""
        program = shutil.which(prog)
        if program is None:
            raise OSError(f"Graphviz's `{prog}` program was not found on the PATH.")
        done = subprocess.run(  # noqa: S603 - a fixed program, DOT text on stdin, no shell
            [program, f"-T{format}"],
            input=self.to_string().encode(),
            capture_output=True,
            check=False,
        )
        if done.returncode != 0:
            raise OSError(f"`{prog}` failed: {done.stderr.decode(errors='replace').strip()}")
        return done.stdout

    def write(self, path, format: str = "raw") -> None:
        data = self.to_string().encode() if format in ("raw", "dot") else self.create(format=format)
        with open(path, "wb") as f:
            f.write(data)


# -- the graph of a model -------------------------------------------------------------


def _shape_text(tensors) -> str:
    shapes = [tuple(t.shape) for t in tensors]
    return str(shapes[0]) if len(shapes) == 1 else str(shapes)


def _label(layer, options: dict) -> list[str]:
    kind = type(layer).__name__
    lines = [f"{layer.name} ({kind})" if options["show_layer_names"] else kind]
    nodes = getattr(layer, "_inbound_nodes", None) or []
    if options["show_shapes"]:
        if nodes:
            ins = nodes[-1].input_tensors
            lines.append(
                f"Input shape: {_shape_text(ins) if ins else _shape_text(nodes[-1].output_tensors)}"
            )
            lines.append(f"Output shape: {_shape_text(nodes[-1].output_tensors)}")
        else:
            lines.append("Output shape: ?")
    if options["show_dtype"]:
        dtype = nodes[-1].output_tensors[0].dtype if nodes else getattr(layer, "dtype", "?")
        lines.append(f"Output dtype: {dtype}")
    if options["show_layer_activations"]:
        activation = getattr(layer, "activation", None)
        if activation is not None:
            lines.append(f"Activation: {getattr(activation, '__name__', activation)}")
    if options["show_trainable"]:
        lines.append(f"Trainable: {bool(getattr(layer, 'trainable', True))}")
    return lines


def _graph(model, options: dict, prefix: str, out: dict):
    """Add ``model``'s layers and edges to ``out``; returns (entry ids, exit ids)."""
    from cnnkit.layers.core import InputLayer
    from cnnkit.models.model import Model

    layers = list(model.layers)
    spans: dict[int, tuple[list, list]] = {}
    for layer in layers:
        node_id = prefix + layer.name
        if options["expand_nested"] and isinstance(layer, Model):
            members = len(out["nodes"])
            spans[id(layer)] = _graph(layer, options, node_id + "/", out)
            out["clusters"].append((layer.name, [n for n, _ in out["nodes"][members:]]))
        else:
            out["nodes"].append((node_id, _label(layer, options)))
            spans[id(layer)] = ([node_id], [node_id])
    nodes = getattr(model, "_nodes", None)
    if nodes is not None:  # functional: one edge per tensor into a layer call
        for node in nodes:
            for tensor in node.input_tensors:
                source = tensor._keras_history[0]
                if id(source) in spans and id(node.layer) in spans:
                    for a in spans[id(source)][1]:
                        for b in spans[id(node.layer)][0]:
                            out["edges"].append((a, b))
        entries = [
            n for layer in layers if isinstance(layer, InputLayer) for n in spans[id(layer)][0]
        ]
        outputs = {id(t._keras_history[0]) for t in getattr(model, "outputs", []) or []}
        exits = [n for layer in layers if id(layer) in outputs for n in spans[id(layer)][1]]
    else:  # sequential: a chain
        for before, after in zip(layers, layers[1:]):
            for a in spans[id(before)][1]:
                for b in spans[id(after)][0]:
                    out["edges"].append((a, b))
        entries = spans[id(layers[0])][0] if layers else []
        exits = spans[id(layers[-1])][1] if layers else []
    return entries or (out["nodes"][0][0:1] if out["nodes"] else []), exits


def model_to_dot(
    model,
    show_shapes=False,
    show_dtype=False,
    show_layer_names=True,
    rankdir="TB",
    expand_nested=False,
    dpi=200,
    subgraph=False,
    show_layer_activations=False,
    show_trainable=False,
    **kwargs,
) -> DotGraph:
    """The graph of ``model``'s layers as a :class:`DotGraph` (see the module docstring).

    Args:
        model: a built model.
        show_shapes / show_dtype / show_layer_activations / show_trainable: add those lines
            to each layer's box.
        show_layer_names: show ``name (Type)`` rather than the type only.
        rankdir: ``"TB"`` (top to bottom) or ``"LR"`` (left to right).
        expand_nested: draw the layers of nested models inside a dashed frame.
        dpi: resolution of Graphviz's raster output.
    """
    if rankdir not in ("TB", "LR"):
        raise ValueError(f'`rankdir` must be "TB" or "LR". Received: rankdir={rankdir!r}')
    if not getattr(model, "built", True) or not list(model.layers):
        raise ValueError(
            "This model has not yet been built. Build the model first by calling `build()` "
            "or by calling the model on a batch of data."
        )
    options = dict(
        show_shapes=show_shapes,
        show_dtype=show_dtype,
        show_layer_names=show_layer_names,
        expand_nested=expand_nested,
        show_layer_activations=show_layer_activations,
        show_trainable=show_trainable,
    )
    out = {"nodes": [], "edges": [], "clusters": []}
    _graph(model, options, "", out)
    return DotGraph(model.name, out["nodes"], out["edges"], out["clusters"], rankdir, dpi)


# -- cnnkit's own drawing -------------------------------------------------------------

_CHAR_W, _LINE_H, _PAD, _GAP_Y, _GAP_X = 7, 16, 8, 40, 24


def _layout(graph: DotGraph):
    """Boxes ``{id: (x, y, w, h)}`` with layers in rows by longest path from an input."""
    depth: dict[str, int] = {n: 0 for n, _ in graph.nodes}
    for _ in range(len(graph.nodes)):  # longest path (the graph is acyclic)
        changed = False
        for a, b in graph.edges:
            if depth[b] < depth[a] + 1:
                depth[b], changed = depth[a] + 1, True
        if not changed:
            break
    rows: dict[int, list[str]] = {}
    for node_id, _ in graph.nodes:
        rows.setdefault(depth[node_id], []).append(node_id)
    labels = dict(graph.nodes)
    size = {
        n: (
            max(len(s) for s in labels[n]) * _CHAR_W + 2 * _PAD,
            len(labels[n]) * _LINE_H + 2 * _PAD,
        )
        for n in labels
    }
    row_w = {d: sum(size[n][0] for n in ids) + _GAP_X * (len(ids) - 1) for d, ids in rows.items()}
    width = max(row_w.values()) + 2 * _GAP_X
    boxes, y = {}, _GAP_X
    for d in sorted(rows):
        x = (width - row_w[d]) / 2
        height = max(size[n][1] for n in rows[d])
        for n in rows[d]:
            boxes[n] = (x, y, size[n][0], size[n][1])
            x += size[n][0] + _GAP_X
        y += height + _GAP_Y
    if graph.rankdir == "LR":
        boxes = {n: (by, bx, bw, bh) for n, (bx, by, bw, bh) in boxes.items()}
        return boxes, y - _GAP_Y + _GAP_X, width
    return boxes, width, y - _GAP_Y + _GAP_X


def _anchor(box, rankdir: str, end: bool):
    x, y, w, h = box
    if rankdir == "LR":
        return (x, y + h / 2) if end else (x + w, y + h / 2)
    return (x + w / 2, y) if end else (x + w / 2, y + h)


def _svg(graph: DotGraph) -> str:
    boxes, width, height = _layout(graph)
    labels = dict(graph.nodes)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="Helvetica" font-size="12">',
        '<rect width="100%" height="100%" fill="white"/>',
        '<defs><marker id="arrow" markerWidth="8" markerHeight="8" refX="8" refY="4" '
        'orient="auto"><path d="M0,0 L8,4 L0,8 z" fill="black"/></marker></defs>',
    ]
    for title, ids in graph.clusters:
        xs = [boxes[n][0] for n in ids] + [boxes[n][0] + boxes[n][2] for n in ids]
        ys = [boxes[n][1] for n in ids] + [boxes[n][1] + boxes[n][3] for n in ids]
        parts.append(
            f'<rect x="{min(xs) - 6:.1f}" y="{min(ys) - 18:.1f}" '
            f'width="{max(xs) - min(xs) + 12:.1f}" '
            f'height="{max(ys) - min(ys) + 24:.1f}" fill="none" stroke="gray" '
            'stroke-dasharray="4 3"/>'
            f'<text x="{min(xs) - 2:.1f}" y="{min(ys) - 6:.1f}" fill="gray">{escape(title)}</text>'
        )
    for a, b in graph.edges:
        (x1, y1), (x2, y2) = (
            _anchor(boxes[a], graph.rankdir, False),
            _anchor(boxes[b], graph.rankdir, True),
        )
        parts.append(
            f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="black" '
            'marker-end="url(#arrow)"/>'
        )
    for node_id, (x, y, w, h) in boxes.items():
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" fill="#eef3fb" '
            'stroke="black"/>'
        )
        for i, line in enumerate(labels[node_id]):
            parts.append(
                f'<text x="{x + _PAD:.1f}" y="{y + _PAD + (i + 0.8) * _LINE_H:.1f}">'
                f"{escape(line)}</text>"
            )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _raster(graph: DotGraph, path: str, file_format: str) -> None:
    from cnnkit.utils.image_utils import pil_image

    image = pil_image()
    from PIL import ImageDraw

    boxes, width, height = _layout(graph)
    labels = dict(graph.nodes)
    img = image.new("RGB", (int(width) + 1, int(height) + 1), "white")
    draw = ImageDraw.Draw(img)
    for title, ids in graph.clusters:
        xs = [boxes[n][0] for n in ids] + [boxes[n][0] + boxes[n][2] for n in ids]
        ys = [boxes[n][1] for n in ids] + [boxes[n][1] + boxes[n][3] for n in ids]
        draw.rectangle([min(xs) - 6, min(ys) - 18, max(xs) + 6, max(ys) + 6], outline="gray")
        draw.text((min(xs) - 2, min(ys) - 16), title, fill="gray")
    for a, b in graph.edges:
        start = _anchor(boxes[a], graph.rankdir, False)
        end = _anchor(boxes[b], graph.rankdir, True)
        draw.line([start, end], fill="black", width=1)
        draw.ellipse([end[0] - 3, end[1] - 3, end[0] + 3, end[1] + 3], fill="black")
    for node_id, (x, y, w, h) in boxes.items():
        draw.rectangle([x, y, x + w, y + h], fill=(238, 243, 251), outline="black")
        for i, line in enumerate(labels[node_id]):
            draw.text((x + _PAD, y + _PAD + i * _LINE_H), line, fill="black")
    img.save(path, format="JPEG" if file_format in ("jpg", "jpeg") else file_format.upper())


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
    """Draw ``model``'s graph of layers into ``to_file`` (format from its extension).

    Graphviz renders it when its ``dot`` program is installed; otherwise cnnkit draws it
    (``.svg``, ``.png``, ``.jpg``; ``.dot`` writes the DOT source). Arguments as
    :func:`model_to_dot`.

    Raises:
        ValueError: for a format cnnkit cannot draw without Graphviz.
    """
    graph = model_to_dot(
        model,
        show_shapes=show_shapes,
        show_dtype=show_dtype,
        show_layer_names=show_layer_names,
        rankdir=rankdir,
        expand_nested=expand_nested,
        dpi=dpi,
        show_layer_activations=show_layer_activations,
        show_trainable=show_trainable,
    )
    to_file = os.fspath(to_file)
    extension = os.path.splitext(to_file)[1][1:].lower() or "png"
    if extension == "dot":
        graph.write(to_file, "raw")
    elif shutil.which("dot") is not None and kwargs.get("use_graphviz", True):
        graph.write(to_file, extension)
    elif extension == "svg":
        with open(to_file, "w", encoding="utf-8") as f:
            f.write(_svg(graph))
    elif extension in ("png", "jpg", "jpeg", "bmp", "gif"):
        _raster(graph, to_file, extension)
    else:
        raise ValueError(
            f"Without Graphviz (`dot`), cnnkit draws .svg, .png, .jpg, .bmp, .gif or .dot "
            f"files. Received: to_file={to_file!r}"
        )
    return None
