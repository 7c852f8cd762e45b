"""F-scores: ``FBetaScore`` and ``F1Score``, per class or averaged, as in Keras 3.

    precision = tp / (tp + fp + eps)        recall = tp / (tp + fn + eps)
    F_beta = (1 + beta²) · precision · recall / (beta² · precision + recall + eps)

with ``eps = 1e-7`` (Keras's), so the values differ from scikit-learn's exact
fractions by about 1e-7.

Deviations from Keras: integer class labels ``(N,)`` are accepted next to
``(N, C)`` predictions (one-hot encoded first; Keras requires one-hot labels),
and ``beta``/``threshold`` may be Python ints as well as floats.
"""

from __future__ import annotations

import numbers

import numpy as np

from cnnkit.metrics.base import Metric, _host
from cnnkit.metrics.confusion import _sparse_to_one_hot

_EPSILON = 1e-7
_AVERAGES = (None, "micro", "macro", "weighted")


class FBetaScore(Metric):
    """The F-beta score: the weighted harmonic mean of precision and recall.

    Args:
        average: ``None`` (one score per class), ``"micro"`` (global counts),
            ``"macro"`` (unweighted mean of the class scores) or ``"weighted"``
            (mean weighted by each class's support).
        beta: weight of recall against precision (> 0, default 1).
        threshold: a score above it is a positive prediction; ``None`` marks the
            arg-max of each row (all maxima on ties; an all-zero row marks nothing).
        name: default ``"fbeta_score"``.
        dtype: dtype of the result.

    Input shape:
        ``y_true``: one-hot (or multi-label) ``(N, C)``, or integer labels ``(N,)``;
        ``y_pred``: scores ``(N, C)``.

    Returns:
        ``result()``: float32 scores of shape ``(C,)``, or a scalar when averaged.

    Raises:
        ValueError: for an unknown ``average``, ``beta <= 0``, a threshold outside
            ``(0, 1]``, or inputs that are not 2-D.

    Example:
        >>> metric = FBetaScore(beta=2.0, threshold=0.5)
        >>> y_true = np.array([[1, 1, 1], [1, 0, 0], [1, 1, 0]], np.int32)
        >>> y_pred = np.array([[0.2, 0.6, 0.7], [0.2, 0.6, 0.6], [0.6, 0.8, 0.0]], np.float32)
        >>> metric.update_state(y_true, y_pred)
        >>> np.round(metric.result(), 4)
        array([0.3846, 0.9091, 0.8333], dtype=float32)
    """

    def __init__(self, average=None, beta=1.0, threshold=None, name="fbeta_score", dtype=None):
        if average not in _AVERAGES:
            raise ValueError(
                "Invalid `average` argument value. Expected one of: "
                f"{{None, 'micro', 'macro', 'weighted'}}. Received: average={average!r}"
            )
        if isinstance(beta, bool) or not isinstance(beta, numbers.Real) or not beta > 0:
            raise ValueError(
                f"Invalid `beta` argument value. It should be a number > 0. Received: beta={beta!r}"
            )
        if threshold is not None and (
            isinstance(threshold, bool)
            or not isinstance(threshold, numbers.Real)
            or not 0.0 < threshold <= 1.0
        ):
            raise ValueError(
                "Invalid `threshold` argument value. It should verify 0 < threshold <= 1. "
                f"Received: threshold={threshold!r}"
            )
        self.average = average
        self.beta = float(beta)
        self.threshold = None if threshold is None else float(threshold)
        self.axis = None if average == "micro" else 0
        super().__init__(name=name, dtype=dtype)
        self.reset_state()

    def reset_state(self) -> None:
        self.true_positives = self.false_positives = self.false_negatives = None
        self.intermediate_weights = None

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        y_pred = _host(y_pred, "float32")
        y_true = _sparse_to_one_hot(_host(y_true, "float32"), y_pred)
        if y_pred.ndim != 2 or y_true.ndim != 2:
            raise ValueError(
                f"{type(self).__name__} expects 2D inputs with shape (batch_size, output_dim). "
                f"Received input shapes: y_pred.shape={y_pred.shape} and "
                f"y_true.shape={y_true.shape}."
            )
        if y_true.shape != y_pred.shape:
            raise ValueError(
                "`y_true` and `y_pred` must have the same shape. Received: "
                f"y_true.shape={y_true.shape}, y_pred.shape={y_pred.shape}"
            )
        if self.threshold is None:
            top = y_pred.max(axis=-1, keepdims=True)
            predicted = (y_pred >= top) & (np.abs(y_pred) > 1e-9)
        else:
            predicted = y_pred > self.threshold
        predicted = predicted.astype(np.float64)
        y_true = y_true.astype(np.float64)
        weights = None
        if sample_weight is not None:
            weights = _host(sample_weight, "float64").reshape(-1, 1)

        def weighted_sum(values):
            if weights is not None:
                values = values * weights
            return values.sum(axis=self.axis)

        new = {
            "true_positives": weighted_sum(predicted * y_true),
            "false_positives": weighted_sum(predicted * (1 - y_true)),
            "false_negatives": weighted_sum((1 - predicted) * y_true),
            "intermediate_weights": weighted_sum(y_true),
        }
        for attr, value in new.items():
            old = getattr(self, attr)
            if old is not None and np.shape(old) != np.shape(value):
                raise ValueError(
                    f"{type(self).__name__} was built for {np.shape(old)[0]} classes; received "
                    f"predictions with {y_pred.shape[-1]} columns."
                )
            setattr(self, attr, value if old is None else old + value)

    def result(self):
        if self.true_positives is None:
            return np.float32(0.0)
        tp, fp, fn = self.true_positives, self.false_positives, self.false_negatives
        precision = tp / (tp + fp + _EPSILON)
        recall = tp / (tp + fn + _EPSILON)
        b2 = self.beta**2
        score = precision * recall / (b2 * precision + recall + _EPSILON) * (1 + b2)
        if self.average == "weighted":
            weights = self.intermediate_weights / (self.intermediate_weights.sum() + _EPSILON)
            score = (score * weights).sum()
        elif self.average is not None:
            score = np.mean(score)
        return np.asarray(score, dtype=np.float32)[()]

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "average": self.average,
            "beta": self.beta,
            "threshold": self.threshold,
        }


class F1Score(FBetaScore):
    """The F1 score ``2 · precision · recall / (precision + recall)``: ``FBetaScore(beta=1)``.

    Args:
        average: ``None``, ``"micro"``, ``"macro"`` or ``"weighted"`` (see ``FBetaScore``).
        threshold: a score above it is a positive prediction; ``None``: the row's arg-max.
        name: default ``"f1_score"``.
        dtype: dtype of the result.

    Example:
        >>> metric = F1Score(threshold=0.5)
        >>> y_true = np.array([[1, 1, 1], [1, 0, 0], [1, 1, 0]], np.int32)
        >>> y_pred = np.array([[0.2, 0.6, 0.7], [0.2, 0.6, 0.6], [0.6, 0.8, 0.0]], np.float32)
        >>> metric.update_state(y_true, y_pred)
        >>> np.round(metric.result(), 4)
        array([0.5   , 0.8   , 0.6667], dtype=float32)
    """

    def __init__(self, average=None, threshold=None, name="f1_score", dtype=None):
        super().__init__(average=average, beta=1.0, threshold=threshold, name=name, dtype=dtype)

    def get_config(self) -> dict:
        config = super().get_config()
        del config["beta"]
        return config
