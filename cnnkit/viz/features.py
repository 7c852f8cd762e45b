"""What a convolutional network looks at: its first-layer filters and its feature maps.

A convolution layer with ``F`` filters turns an ``H x W x C`` input into ``F`` *feature maps*,
images that show where each filter's pattern was found (the lecture's "Feature maps" section).
:func:`plot_feature_maps` shows them for one image, one row per convolution layer, by running a
functional sub-model ``Model(model.inputs, layer.output)``; :func:`plot_filters` shows the
first layer's kernels themselves.

Example:
    >>> import numpy as np
    >>> from cnnkit.layers import Conv2D, Input
    >>> from cnnkit.models import Model
    >>> from cnnkit.viz import conv_layers, plot_filters
    >>> i = Input(shape=(8, 8, 1))
    >>> model = Model(i, Conv2D(4, 3, name="edges")(i))
    >>> [layer.name for _, layer in conv_layers(model)]
    ['edges']
    >>> len(plot_filters(model).axes)
    4
"""

from __future__ import annotations

import os

import numpy as np

from cnnkit.viz._figure import as_image, blank_axes, finish, grid, new_figure


def _conv_types() -> tuple:
    from cnnkit import layers

    return (layers.Conv2D, layers.DepthwiseConv2D, layers.SeparableConv2D, layers.Conv2DTranspose)


def conv_layers(model) -> list:
    """``(owner, layer)`` for every 2-D convolution layer of ``model``, in execution order.

    ``owner`` is the (possibly nested) model whose graph holds ``layer``, so that
    ``Model(owner.inputs, layer.output)`` is a valid sub-model; models used as layers (e.g. a
    network behind augmentation layers) are searched recursively.
    """
    from cnnkit.models import Model

    found, stack = [], [(model, layer) for layer in reversed(model.layers)]
    while stack:
        owner, layer = stack.pop()
        if isinstance(layer, Model):
            stack.extend((layer, inner) for inner in reversed(layer.layers))
        elif isinstance(layer, _conv_types()):
            found.append((owner, layer))
    return found


def find_conv_layer(model, layer=None, which: str = "last"):
    """``(owner, layer)`` for ``layer`` (a name, a Layer or ``None`` for the first/last one).

    Raises:
        ValueError: if the model has no 2-D convolution layer, or none with that name.
    """
    found = conv_layers(model)
    if not found:
        raise ValueError(
            f"Model {model.name!r} has no 2-D convolution layer (Conv2D and its variants)."
        )
    if layer is None:
        return found[-1] if which == "last" else found[0]
    for owner, candidate in found:
        if candidate is layer or candidate.name == layer:
            return owner, candidate
    names = [candidate.name for _, candidate in found]
    raise ValueError(
        f"Invalid value for argument `layer`. Expected one of the convolution layers {names}. "
        f"Received: layer={getattr(layer, 'name', layer)!r}"
    )


def plot_filters(layer, max_filters: int = 64, path: str | os.PathLike | None = None):
    """The kernels of a convolution layer as small images, one panel per filter.

    Each ``KH x KW`` kernel is rescaled to [0, 1] on its own (dark = negative weights, light =
    positive). Kernels over 3 input channels show as RGB; over 1 channel, or any other count,
    as grayscale (averaged over the channels).

    Args:
        layer: a ``Conv2D`` (anything with a 4-D ``kernel`` of shape ``(KH, KW, C, F)``), or a
            model, whose first convolution layer is then used.
        max_filters: show at most this many filters.
        path: optional PNG file to write.

    Returns:
        The ``Figure``.

    Raises:
        TypeError: if the layer has no 4-D ``kernel``.
        ValueError: if it is not built yet.
    """
    if hasattr(layer, "layers"):
        _, layer = find_conv_layer(layer, which="first")
    if not isinstance(layer, _conv_types()) or hasattr(layer, "depthwise_kernel"):
        raise TypeError(
            "Invalid value for argument `layer`. Expected a convolution layer with a kernel of "
            f"shape (KH, KW, C, F). Received: {getattr(layer, 'name', type(layer).__name__)!r}"
        )
    if not layer.built:
        raise ValueError(f"Layer {layer.name!r} is not built yet: it has no weights to plot.")
    kernel = layer.kernel
    weights = np.asarray(kernel, dtype="float64")  # (KH, KW, C, F)
    count = min(weights.shape[3], max_filters)
    rows, columns = grid(count, columns=min(8, count))
    fig = new_figure(1.1 * columns, 1.25 * rows + 0.4)
    for f in range(count):
        w = weights[..., f]  # (KH, KW, C)
        if w.shape[2] != 3:
            w = w.mean(axis=2)
        low, high = w.min(), w.max()
        w = (w - low) / (high - low) if high > low else np.zeros_like(w)
        ax = fig.add_subplot(rows, columns, f + 1)
        image, cmap = as_image(w)
        ax.imshow(image, cmap=cmap, vmin=0.0, vmax=1.0, interpolation="nearest")
        blank_axes(ax)
        ax.set_title(str(f), fontsize=7)
    fig.suptitle(
        f"{layer.name}: {weights.shape[3]} filters of {weights.shape[0]}x"
        f"{weights.shape[1]}x{weights.shape[2]}",
        fontsize=10,
    )
    fig.subplots_adjust(
        left=0.02,
        right=0.98,
        bottom=0.02,
        top=1 - 0.5 / fig.get_figheight(),
        wspace=0.15,
        hspace=0.35,
    )
    return finish(fig, path)


def feature_maps(model, image, layers=None) -> list[tuple[str, np.ndarray]]:
    """``(layer name, (H', W', F) activations)`` of convolution layers for one image.

    Args:
        model: a built model.
        image: one ``(H, W)`` or ``(H, W, C)`` input, scaled as in training.
        layers: layer names or layers; default every 2-D convolution layer.
    """
    from cnnkit.models import Model

    chosen = (
        conv_layers(model)
        if layers is None
        else [find_conv_layer(model, layer) for layer in layers]
    )
    if not chosen:
        raise ValueError(
            f"Model {model.name!r} has no 2-D convolution layer (Conv2D and its variants)."
        )
    batch = _batch_of_one(model, image)
    maps = []
    for owner, layer in chosen:
        sub = Model(owner.inputs, layer.output, name=f"{layer.name}_maps")
        maps.append((layer.name, np.asarray(sub.predict(batch, verbose=0))[0]))
    return maps


def _batch_of_one(model, image) -> np.ndarray:
    """``image`` as a batch of one, with a channel axis added when the model expects one."""
    image = np.asarray(image, dtype="float32")
    shape = tuple(model.inputs[0].shape) if model.inputs else None
    if shape is not None and len(shape) == 4 and image.ndim == 2:
        image = image[..., None]
    return image[None]


def plot_feature_maps(
    model, image, layers=None, max_maps: int = 16, path: str | os.PathLike | None = None
):
    """Activations of the convolution layers for one image: one row per layer.

    The input image comes first; then each row shows up to ``max_maps`` feature maps of one
    layer (each scaled to its own range, brighter = stronger response), titled with the
    layer's name and output shape.

    Args:
        model: a built model.
        image: one ``(H, W)`` or ``(H, W, C)`` input, scaled as in training.
        layers: layer names or layers; default every 2-D convolution layer.
        max_maps: maps shown per layer at most.
        path: optional PNG file to write.

    Returns:
        The ``Figure``.

    Raises:
        ValueError: if the model has no convolution layer or a name is not one of them.
    """
    maps = feature_maps(model, image, layers)
    columns = max(min(max_maps, m.shape[-1]) for _, m in maps)
    rows = len(maps) + 1
    fig = new_figure(1.05 * columns + 0.2, 1.3 * rows)
    top = fig.add_subplot(rows, columns, 1)
    picture, cmap = as_image(np.asarray(image))
    top.imshow(picture, cmap=cmap, interpolation="nearest")
    blank_axes(top)
    top.set_title("input", fontsize=10, loc="left")
    for row, (name, activation) in enumerate(maps, start=1):
        shown = min(max_maps, activation.shape[-1])
        for f in range(shown):
            ax = fig.add_subplot(rows, columns, row * columns + f + 1)
            ax.imshow(activation[..., f], cmap="viridis", interpolation="nearest")
            blank_axes(ax)
            if f == 0:
                h, w, c = activation.shape
                ax.set_title(f"{name}  {h}x{w}x{c}", fontsize=10, loc="left")
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.01, top=0.95, wspace=0.08, hspace=0.45)
    return finish(fig, path)
