"""Grad-CAM: which pixels made the network choose a class (Selvaraju et al., 2017).

For the feature maps ``A^k`` (``h x w``, ``k = 1..K``) of a convolution layer and the score
``y^c`` of class ``c``::

    alpha_k = mean over (i, j) of d y^c / d A^k_ij       (how much map k matters for class c)
    L^c     = ReLU(sum_k alpha_k A^k)                    (h x w: where the evidence is)

``L^c`` is upsampled (bilinear, :func:`cnnkit.kernels.resize.resize`) to the image size and divided
by its maximum. The gradients come from cnnkit's own autodiff: the model runs eagerly on a
``Tensor`` with ``training=False``; the chosen layer's output is replaced by a fresh leaf tensor
(so ``backward`` stores its gradient), and ``backward`` is called on the score.

As in the paper, the score is taken *before* the output softmax (or sigmoid): when the output
layer is a ``Dense``/``Activation``/``Conv2D`` with such an activation, it is swapped for the
identity during the pass (the usual "replace softmax by linear" step), since a saturated
softmax has gradients that vanish in float32. Deliberate deviation: an output ``Softmax``
layer is kept, and the gradient of the probability is used.

Example:
    >>> import numpy as np
    >>> from cnnkit.layers import Conv2D, Dense, GlobalAveragePooling2D, Input
    >>> from cnnkit.models import Model
    >>> i = Input(shape=(6, 6, 1))
    >>> x = GlobalAveragePooling2D()(Conv2D(2, 3, padding="same", activation="relu")(i))
    >>> model = Model(i, Dense(2, activation="softmax")(x))
    >>> heatmap = grad_cam(model, np.random.default_rng(0).random((6, 6, 1)))
    >>> heatmap.shape, bool(0.0 <= heatmap.min() and heatmap.max() <= 1.0)
    ((6, 6), True)
"""

from __future__ import annotations

import contextlib
import os

import numpy as np

from cnnkit.viz._figure import as_image, blank_axes, finish, grid, new_figure
from cnnkit.viz.features import _batch_of_one, find_conv_layer

_SQUASHING = ("softmax", "sigmoid")


def _output_layer(model):
    """The layer that produces the model's (first) output, looking inside nested models."""
    from cnnkit.models import Model

    layer = model
    while isinstance(layer, Model):
        outputs = layer.outputs
        if not outputs:
            return None
        layer = outputs[0]._keras_history[0]
    return layer


@contextlib.contextmanager
def _linear_output(model):
    """Swap a softmax/sigmoid output activation for the identity during the block."""
    from cnnkit import activations

    layer = _output_layer(model)
    activation = getattr(layer, "activation", None)
    if activation is None or getattr(activation, "__name__", "") not in _SQUASHING:
        yield
        return
    layer.activation = activations.linear
    try:
        yield
    finally:
        layer.activation = activation


@contextlib.contextmanager
def _capture_output(layer, captured: dict):
    """Replace ``layer``'s output by a leaf tensor during the block, so it receives ``.grad``."""
    from cnnkit.autodiff import Tensor

    original = layer.call
    shadowed = "call" in vars(layer)  # already an instance attribute: put it back afterwards

    def call(inputs, **kwargs):  # `training` among kwargs only when the layer's call takes it
        out = original(inputs, **kwargs)
        leaf = Tensor(out.data, requires_grad=True)
        captured["maps"] = leaf
        return leaf

    layer.call = call  # an instance attribute: shadows the class's ``call`` for this layer only
    try:
        yield
    finally:
        if shadowed:
            layer.call = original
        else:
            del layer.call


def grad_cam(model, image, class_index: int | None = None, layer=None) -> np.ndarray:
    """The Grad-CAM heatmap of ``class_index`` for one image.

    Args:
        model: a built image model (Sequential, functional, or nested in another model).
        image: one ``(H, W)`` or ``(H, W, C)`` input, scaled as in training.
        class_index: the class to explain; default the predicted class.
        layer: a convolution layer or its name; default the last convolution layer.

    Returns:
        A float32 ``(H, W)`` array in [0, 1] (all zeros when no pixel speaks for the class).

    Raises:
        ValueError: if the model has no convolution layer, ``layer`` is not one of them, or
            ``class_index`` is out of range.
    """
    from cnnkit.autodiff import Tensor
    from cnnkit.kernels.resize import resize

    _, target = find_conv_layer(model, layer)
    batch = _batch_of_one(model, image)
    saved_grads = [(w, w.grad) for w in model.weights]
    captured: dict = {}
    try:
        with _linear_output(model), _capture_output(target, captured):
            scores = model(Tensor(batch), training=False)
        if isinstance(scores, (list, tuple)):
            scores = scores[0]
        count = int(np.prod(scores.shape[1:]))
        if class_index is None:
            class_index = 0 if count == 1 else int(np.argmax(scores.numpy().reshape(-1)))
        if not 0 <= int(class_index) < count:
            raise ValueError(
                f"Invalid value for argument `class_index`. Expected 0 <= class_index < {count}. "
                f"Received: class_index={class_index}"
            )
        score = scores.reshape(-1)[int(class_index)]
        if not score.requires_grad:
            raise ValueError(
                f"The output of model {model.name!r} does not depend on layer {target.name!r}."
            )
        score.backward()
    finally:
        for w, grad in saved_grads:  # leave the weights' gradients as they were
            w.grad = grad
    maps = captured["maps"]
    activation = maps.numpy()[0].astype("float64")  # (h, w, K)
    gradient = np.zeros_like(activation) if maps.grad is None else np.asarray(maps.grad)[0]
    alpha = gradient.mean(axis=(0, 1))  # (K,)
    cam = np.maximum(activation @ alpha, 0.0).astype("float32")  # (h, w)
    height, width = batch.shape[1:3]
    heatmap = resize(cam[None, :, :, None], (height, width)).numpy()[0, ..., 0]  # (H, W)
    peak = heatmap.max()
    heatmap = heatmap / peak if peak > 0 else np.zeros_like(heatmap)
    return np.clip(heatmap, 0.0, 1.0)


def plot_grad_cam(
    model,
    images,
    class_index: int | None = None,
    layer=None,
    labels=None,
    y=None,
    alpha: float = 0.45,
    path: str | os.PathLike | None = None,
):
    """Grad-CAM heatmaps over their images, one panel per image.

    Args:
        model: a built image model.
        images: one image ``(H, W[, C])`` or a batch ``(N, H, W[, C])``.
        class_index: the class to explain; default each image's predicted class.
        layer: a convolution layer or its name; default the last one.
        labels: optional class names for the panel titles.
        y: optional true labels, one per image, added to the titles.
        alpha: opacity of the heatmap (``jet`` colormap) over the image.
        path: optional PNG file to write.

    Returns:
        The ``Figure``.
    """
    images = np.asarray(images, dtype="float32")
    sample = tuple(model.inputs[0].shape[1:]) if getattr(model, "inputs", None) else ()
    if images.shape in (sample, sample[:2]) or images.ndim == 2:
        images = images[None]  # one image
    rows, columns = grid(len(images), columns=min(6, len(images)))
    fig = new_figure(1.9 * columns, 2.3 * rows)
    for index, image in enumerate(images):
        heatmap = grad_cam(model, image, class_index=class_index, layer=layer)
        probabilities = np.asarray(model.predict(_batch_of_one(model, image), verbose=0))[0]
        shown = int(np.argmax(probabilities)) if class_index is None else int(class_index)
        title = f"pred: {_name(labels, shown)}"
        if y is not None:
            title += f"\ntrue: {_name(labels, int(np.asarray(y).reshape(-1)[index]))}"
        ax = fig.add_subplot(rows, columns, index + 1)
        picture, cmap = as_image(image)
        ax.imshow(picture, cmap=cmap, interpolation="nearest")
        ax.imshow(heatmap, cmap="jet", alpha=alpha, vmin=0.0, vmax=1.0, interpolation="bilinear")
        blank_axes(ax)
        ax.set_title(title, fontsize=8)
    fig.subplots_adjust(left=0.02, right=0.98, bottom=0.02, top=0.86, wspace=0.1, hspace=0.4)
    return finish(fig, path)


def _name(labels, index: int) -> str:
    return str(labels[index]) if labels is not None and 0 <= index < len(labels) else str(index)
