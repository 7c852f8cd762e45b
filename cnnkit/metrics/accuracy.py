"""Accuracy metrics: per-sample functions and the classes that average them.

Top-k accuracy follows Keras's ``in_top_k``: the label counts as found when
fewer than ``k`` classes score strictly higher than it (ties at the boundary
count in its favour).

Example:
    >>> m = SparseTopKCategoricalAccuracy(k=2)
    >>> m.update_state([2, 0], [[0.1, 0.3, 0.6], [0.2, 0.5, 0.3]])
    >>> float(m.result())
    0.5
"""

from __future__ import annotations

import numpy as np

from cnnkit.argument_validation import is_int
from cnnkit.metrics.base import MeanMetricWrapper, _array, _host


def sparse_categorical_accuracy(y_true, y_pred):
    """1.0 where the integer label equals the arg-max of the prediction, per sample."""
    y_true, y_pred = _array(y_true), _array(y_pred)
    if y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1:
        y_true = y_true[..., 0]
    return (y_pred.argmax(axis=-1) == y_true).astype("float32")


def categorical_accuracy(y_true, y_pred):
    """1.0 where the arg-max of the one-hot label equals the arg-max of the prediction."""
    y_true, y_pred = _array(y_true), _array(y_pred)
    return (y_pred.argmax(axis=-1) == y_true.argmax(axis=-1)).astype("float32")


def binary_accuracy(y_true, y_pred, threshold=0.5):
    """Mean over the last axis of 1.0 where ``(y_pred > threshold) == y_true``."""
    y_true, y_pred = _array(y_true), _array(y_pred)
    if y_true.ndim == y_pred.ndim - 1:
        y_true = y_true[..., None]
    return ((y_pred > threshold) == (y_true > 0.5)).astype("float32").mean(axis=-1)


def accuracy(y_true, y_pred):
    """1.0 where the values are exactly equal (Keras's plain ``Accuracy``)."""
    y_true, y_pred = _array(y_true), _array(y_pred)
    return (y_true == y_pred).astype("float32").reshape(len(y_true), -1).mean(axis=-1)


def _check_k(k) -> int:
    if not is_int(k) or k < 1:
        raise ValueError(
            "Invalid value for argument `k`. Expected a strictly positive integer. "
            f"Received: k={k!r}"
        )
    return int(k)


def _in_top_k(labels: np.ndarray, scores: np.ndarray, k: int) -> np.ndarray:
    """1.0 where ``labels[i]`` is among the ``k`` highest of ``scores[i]`` (ties count in)."""
    # labels: (N,) ints; scores: (N, C)
    n_classes = scores.shape[-1]
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        raise ValueError(
            f"Labels must lie in [0, {n_classes}) to match predictions with {n_classes} "
            f"classes. Received labels from {labels.min()} to {labels.max()}."
        )
    at_label = np.take_along_axis(scores, labels[:, None], axis=-1)
    at_label = np.where(np.isnan(at_label), -np.inf, at_label)  # NaN is not a high score
    rank = 1 + (scores > at_label).sum(axis=-1)
    return (rank <= k).astype("float32")


def sparse_top_k_categorical_accuracy(y_true, y_pred, k=5, from_sorted_ids=False):
    """1.0 where the integer label is among the ``k`` top-scored classes, per sample.

    With ``from_sorted_ids=True``, ``y_pred`` holds class ids sorted by score
    (best first), as Keras accepts.
    """
    k = _check_k(k)
    y_true, y_pred = _host(y_true), _host(y_pred)
    if y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1:
        y_true = y_true[..., 0]
    shape = y_true.shape
    labels = y_true.reshape(-1).astype("int64")
    scores = y_pred.reshape(-1, y_pred.shape[-1])
    if from_sorted_ids:
        hits = (scores[:, :k] == labels[:, None]).any(axis=-1).astype("float32")
    else:
        hits = _in_top_k(labels, scores, k)
    return hits.reshape(shape)


def top_k_categorical_accuracy(y_true, y_pred, k=5):
    """1.0 where the arg-max of the one-hot label is among the ``k`` top-scored classes."""
    y_true = _host(y_true)
    return sparse_top_k_categorical_accuracy(y_true.argmax(axis=-1), y_pred, k=k)


class SparseCategoricalAccuracy(MeanMetricWrapper):
    """How often the arg-max prediction equals the integer label."""

    def __init__(self, name="sparse_categorical_accuracy", dtype=None):
        super().__init__(sparse_categorical_accuracy, name=name, dtype=dtype)


class CategoricalAccuracy(MeanMetricWrapper):
    """How often the arg-max prediction equals the arg-max of the one-hot label."""

    def __init__(self, name="categorical_accuracy", dtype=None):
        super().__init__(categorical_accuracy, name=name, dtype=dtype)


class BinaryAccuracy(MeanMetricWrapper):
    """How often ``y_pred > threshold`` matches the 0/1 label."""

    def __init__(self, name="binary_accuracy", dtype=None, threshold=0.5):
        super().__init__(binary_accuracy, name=name, dtype=dtype, threshold=threshold)


class Accuracy(MeanMetricWrapper):
    """How often predictions equal labels exactly."""

    def __init__(self, name="accuracy", dtype=None):
        super().__init__(accuracy, name=name, dtype=dtype)


class TopKCategoricalAccuracy(MeanMetricWrapper):
    """How often the one-hot label is among the ``k`` top-scored classes.

    Args:
        k: how many of the highest scores count as a hit (default 5).
        name, dtype: as for every metric.

    Example:
        >>> m = TopKCategoricalAccuracy(k=1)
        >>> m.update_state([[0, 0, 1], [0, 1, 0]], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]])
        >>> float(m.result())
        0.5
    """

    def __init__(self, k=5, name="top_k_categorical_accuracy", dtype=None):
        super().__init__(top_k_categorical_accuracy, name=name, dtype=dtype, k=_check_k(k))


class SparseTopKCategoricalAccuracy(MeanMetricWrapper):
    """How often the integer label is among the ``k`` top-scored classes.

    Args:
        k: how many of the highest scores count as a hit (default 5).
        from_sorted_ids: ``y_pred`` holds class ids sorted by score instead of scores.
        name, dtype: as for every metric.
    """

    def __init__(
        self, k=5, name="sparse_top_k_categorical_accuracy", dtype=None, from_sorted_ids=False
    ):
        super().__init__(
            sparse_top_k_categorical_accuracy,
            name=name,
            dtype=dtype,
            k=_check_k(k),
            from_sorted_ids=bool(from_sorted_ids),
        )
