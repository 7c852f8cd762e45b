"""The lecture's evaluation plots: confusion matrix, training curves, misclassified examples.

Every function returns a ``matplotlib.figure.Figure`` (pyplot is never used, so nothing needs a
display) and, given ``path``, also writes it there as a PNG through
:func:`cnnkit.io_utils.atomic_write`. The PNG is ``100 * width`` by ``100 * height`` pixels for a
figure of ``fig.get_size_inches() == (width, height)``.

Example:
    >>> import numpy as np
    >>> from cnnkit.viz import plot_confusion_matrix
    >>> fig = plot_confusion_matrix(np.array([[5, 1], [2, 7]]), ["cat", "dog"])
    >>> [ax.get_title() for ax in fig.axes][:1]
    ['Confusion matrix']
"""

from __future__ import annotations

import os

import numpy as np

from cnnkit.viz._figure import as_image, blank_axes, finish, grid, new_figure

TRAIN_COLOR = "#2563eb"
VALIDATION_COLOR = "#dc2626"


def plot_confusion_matrix(
    cm,
    classes,
    normalize: bool = False,
    title: str = "Confusion matrix",
    cmap=None,
    path: str | os.PathLike | None = None,
):
    """Draw a confusion matrix with its values printed in the cells (the lecture's function).

    Rows are true labels, columns predicted labels. With ``normalize=True`` each row is divided
    by its sum (the recall of that class on the diagonal) and values print with two decimals;
    a class with no samples gives a row of zeros. Cell text turns white above half the maximum,
    as in the lecture. Values are not printed for more than 30 classes (they would not fit).

    Args:
        cm: ``(K, K)`` array of counts, e.g. from ``cnnkit.metrics.confusion_matrix``.
        classes: ``K`` class names (or an int ``K`` for ``0..K-1``).
        normalize: divide each row by its sum.
        title: the axes title.
        cmap: a matplotlib colormap or its name; default ``"Blues"`` (the lecture's
            ``plt.cm.Blues``).
        path: optional PNG file to write.

    Returns:
        The ``Figure``.

    Raises:
        ValueError: if ``cm`` is not square or ``classes`` does not have one name per row.
    """
    cm = np.asarray(cm)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1] or cm.shape[0] == 0:
        raise ValueError(
            f"Invalid value for argument `cm`. Expected a non-empty square (K, K) array. "
            f"Received: cm.shape={cm.shape}"
        )
    k = cm.shape[0]
    classes = [str(c) for c in (range(classes) if isinstance(classes, int) else classes)]
    if len(classes) != k:
        raise ValueError(
            f"Invalid value for argument `classes`. Expected {k} names, one per row of `cm`. "
            f"Received {len(classes)} names."
        )
    if normalize:
        totals = cm.sum(axis=1, keepdims=True).astype("float64")
        cm = np.divide(cm, totals, out=np.zeros(cm.shape), where=totals > 0)
    side = min(14.0, max(4.5, 0.55 * k + 2.5))
    fig = new_figure(side + 1.0, side)
    ax = fig.add_subplot()
    image = ax.imshow(cm, interpolation="nearest", cmap=cmap or "Blues")
    ax.set_title(title)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    ticks = np.arange(k)
    ax.set_xticks(ticks, classes, rotation=45, ha="right", rotation_mode="anchor")
    ax.set_yticks(ticks, classes)
    if k <= 30:
        fmt = ".2f" if normalize else "d"
        thresh = cm.max() / 2.0
        size = 10 if k <= 12 else 7
        for i in range(k):
            for j in range(k):
                value = cm[i, j] if normalize else int(cm[i, j])
                ax.text(
                    j,
                    i,
                    format(value, fmt),
                    ha="center",
                    va="center",
                    fontsize=size,
                    color="white" if cm[i, j] > thresh else "black",
                )
    ax.set_ylabel("True label")
    ax.set_xlabel("Predicted label")
    fig.tight_layout()
    return finish(fig, path)


def _history_dict(history) -> dict:
    record = getattr(history, "history", history)
    if not isinstance(record, dict):
        raise TypeError(
            "Invalid value for argument `history`. Expected a History (from `fit`) or its "
            f"`history` dict. Received: {type(history).__name__}"
        )
    return record


def plot_history(history, path: str | os.PathLike | None = None):
    """Loss and accuracy per epoch, training against validation.

    One panel for ``loss``/``val_loss`` and one for ``accuracy``/``val_accuracy`` when the
    history has it; validation curves are dashed. Epochs are numbered from 1.

    Args:
        history: the ``History`` returned by ``fit``, or its ``history`` dict
            (``{"loss": [...], "val_loss": [...], ...}``).
        path: optional PNG file to write.

    Returns:
        The ``Figure``.

    Raises:
        TypeError: if ``history`` is neither a History nor a dict.
        ValueError: if it has no ``loss`` entry.
    """
    record = _history_dict(history)
    if not record.get("loss"):
        raise ValueError(
            "Invalid value for argument `history`: it has no `loss` entry. "
            f"Received keys: {sorted(record)}"
        )
    panels = [("loss", "Loss")]
    if record.get("accuracy"):
        panels.append(("accuracy", "Accuracy"))
    fig = new_figure(5.0 * len(panels) + 1.0, 4.0)
    for index, (key, label) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), index + 1)
        for name, color, style, legend in (
            (key, TRAIN_COLOR, "-", "training"),
            (f"val_{key}", VALIDATION_COLOR, "--", "validation"),
        ):
            values = record.get(name)
            if values:
                epochs = np.arange(1, len(values) + 1)
                ax.plot(epochs, values, style, color=color, marker="o", markersize=3, label=legend)
        ax.set_title(label)
        ax.set_xlabel("Epoch")
        ax.grid(True, color="#e5e7eb")
        ax.legend(frameon=False)
        ax.xaxis.get_major_locator().set_params(integer=True)
    fig.tight_layout()
    return finish(fig, path)


def predicted_labels(model_or_predictions, x) -> np.ndarray:
    """Integer predictions from a model (run on ``x``), probabilities, or labels."""
    if hasattr(model_or_predictions, "predict"):
        outputs = np.asarray(model_or_predictions.predict(x, verbose=0))
    else:
        outputs = np.asarray(model_or_predictions)
    if outputs.ndim == 2 and outputs.shape[1] == 1:  # one sigmoid unit
        return (outputs[:, 0] > 0.5).astype("int64")
    if outputs.ndim == 2:
        return outputs.argmax(axis=1)
    return outputs.reshape(-1).astype("int64")


def _label(labels, index: int) -> str:
    if labels is not None and 0 <= index < len(labels):
        return str(labels[index])
    return str(index)


def plot_misclassified(
    model_or_predictions,
    x,
    y,
    labels=None,
    n: int = 16,
    path: str | os.PathLike | None = None,
):
    """A gallery of up to ``n`` misclassified images with their true and predicted labels.

    The first ``n`` mistakes in the order of ``x`` are shown (deterministic, unlike the
    lecture's ``np.random.choice``), each titled "true: ... / pred: ...".

    Args:
        model_or_predictions: a model (its ``predict`` is run on ``x``), its ``(N, K)``
            probabilities, ``(N, 1)`` sigmoid outputs, or ``(N,)`` predicted labels.
        x: the ``(N, H, W)`` or ``(N, H, W, C)`` images (C = 1 or 3), values in [0, 1].
        y: the ``N`` true labels.
        labels: optional class names, indexed by label.
        n: how many mistakes to show at most.
        path: optional PNG file to write.

    Returns:
        The ``Figure`` (a single message panel when there is no mistake).

    Raises:
        ValueError: if ``n`` is not a positive integer or the lengths disagree.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n <= 0:
        raise ValueError(
            f"Invalid value for argument `n`. Expected a positive integer. Received: n={n!r}"
        )
    x, y = np.asarray(x), np.asarray(y).reshape(-1)
    predicted = predicted_labels(model_or_predictions, x)
    if not len(x) == len(y) == len(predicted):
        raise ValueError(
            "Arguments `x`, `y` and the predictions must have one entry per sample. Received "
            f"{len(x)} images, {len(y)} labels and {len(predicted)} predictions."
        )
    wrong = np.flatnonzero(predicted != y)[:n]
    if len(wrong) == 0:
        fig = new_figure(4.0, 1.5)
        ax = fig.add_subplot()
        blank_axes(ax)
        ax.text(0.5, 0.5, "No misclassified examples", ha="center", va="center")
        return finish(fig, path)
    rows, columns = grid(len(wrong), columns=min(8, len(wrong)))
    fig = new_figure(1.5 * columns, 1.85 * rows)
    for panel, i in enumerate(wrong):
        ax = fig.add_subplot(rows, columns, panel + 1)
        image, cmap = as_image(x[i])
        ax.imshow(image, cmap=cmap, vmin=0.0, vmax=1.0, interpolation="nearest")
        blank_axes(ax)
        ax.set_title(
            f"true: {_label(labels, int(y[i]))}\npred: {_label(labels, int(predicted[i]))}",
            fontsize=8,
        )
    fig.subplots_adjust(left=0.02, right=0.98, bottom=0.02, top=0.88, wspace=0.1, hspace=0.5)
    return finish(fig, path)


def plot_lr_schedule(schedule, steps: int, path: str | os.PathLike | None = None):
    """The learning rate of ``schedule`` at optimizer steps ``0 .. steps - 1``.

    Args:
        schedule: a ``LearningRateSchedule`` (any callable ``step -> rate``), or a number for a
            constant rate.
        steps: how many optimizer steps to draw, a positive integer.
        path: optional PNG file to write.

    Returns:
        The ``Figure``.

    Raises:
        ValueError: if ``steps`` is not a positive integer.
    """
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps <= 0:
        raise ValueError(
            "Invalid value for argument `steps`. Expected a positive integer. "
            f"Received: steps={steps!r}"
        )
    points = np.unique(np.linspace(0, steps - 1, num=min(int(steps), 500)).astype("int64"))
    if callable(schedule):
        rates = [float(np.asarray(schedule(int(s)))) for s in points]
        name = type(schedule).__name__
    else:
        rates = [float(schedule)] * len(points)
        name = "constant"
    fig = new_figure(6.0, 3.5)
    ax = fig.add_subplot()
    ax.plot(points, rates, color=TRAIN_COLOR)
    ax.set_title(f"Learning rate ({name})")
    ax.set_xlabel("Optimizer step")
    ax.set_ylabel("Learning rate")
    ax.grid(True, color="#e5e7eb")
    ax.ticklabel_format(axis="y", style="sci", scilimits=(-3, 3))
    fig.tight_layout()
    return finish(fig, path)
