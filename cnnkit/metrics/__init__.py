"""Metrics, as in ``keras.metrics``: stateful metric objects, per-sample functions, reports.

A metric object accumulates over batches (``update_state``), reports a running
value (``result``) and starts over with ``reset_state``; ``fit`` resets the
metrics at the start of every epoch and logs each under its ``name`` (with a
``val_`` twin for validation data).

- :mod:`~cnnkit.metrics.base`: ``Metric``, ``Mean``, ``MeanMetricWrapper``.
- :mod:`~cnnkit.metrics.accuracy`: accuracy and top-k accuracy.
- :mod:`~cnnkit.metrics.regression`: mean squared / absolute error.
- :mod:`~cnnkit.metrics.confusion`: ``Precision``, ``Recall``, TP/FP/TN/FN counts.
- :mod:`~cnnkit.metrics.auc`: ``AUC`` (ROC or PR, Keras's bucketed approximation).
- :mod:`~cnnkit.metrics.f_score`: ``F1Score``, ``FBetaScore``.
- :mod:`~cnnkit.metrics.evaluation`: ``confusion_matrix``, ``classification_report``,
  ``top_k_accuracy`` on whole prediction arrays (scikit-learn's numbers).

Example:
    >>> m = SparseCategoricalAccuracy()
    >>> m.update_state(np.array([1, 0]), np.array([[0.1, 0.9], [0.2, 0.8]]))
    >>> float(m.result())
    0.5
"""

from __future__ import annotations

from cnnkit.metrics.accuracy import (
    Accuracy,
    BinaryAccuracy,
    CategoricalAccuracy,
    SparseCategoricalAccuracy,
    SparseTopKCategoricalAccuracy,
    TopKCategoricalAccuracy,
    accuracy,
    binary_accuracy,
    categorical_accuracy,
    sparse_categorical_accuracy,
    sparse_top_k_categorical_accuracy,
    top_k_categorical_accuracy,
)
from cnnkit.metrics.auc import AUC
from cnnkit.metrics.base import Mean, MeanMetricWrapper, Metric, _snake
from cnnkit.metrics.base import _array as _array
from cnnkit.metrics.confusion import (
    FalseNegatives,
    FalsePositives,
    Precision,
    Recall,
    TrueNegatives,
    TruePositives,
)
from cnnkit.metrics.evaluation import classification_report, confusion_matrix, top_k_accuracy
from cnnkit.metrics.f_score import F1Score, FBetaScore
from cnnkit.metrics.regression import MeanAbsoluteError, MeanSquaredError
from cnnkit.metrics.regression import _mae as _mae
from cnnkit.metrics.regression import _mse as _mse

__all__ = [
    "AUC",
    "Accuracy",
    "BinaryAccuracy",
    "CategoricalAccuracy",
    "F1Score",
    "FBetaScore",
    "FalseNegatives",
    "FalsePositives",
    "Mean",
    "MeanAbsoluteError",
    "MeanMetricWrapper",
    "MeanSquaredError",
    "Metric",
    "Precision",
    "Recall",
    "SparseCategoricalAccuracy",
    "SparseTopKCategoricalAccuracy",
    "TopKCategoricalAccuracy",
    "TrueNegatives",
    "TruePositives",
    "accuracy",
    "binary_accuracy",
    "categorical_accuracy",
    "classification_report",
    "confusion_matrix",
    "get",
    "sparse_categorical_accuracy",
    "sparse_top_k_categorical_accuracy",
    "top_k_accuracy",
    "top_k_categorical_accuracy",
]

# String ids: the snake_case class names, as Keras 3's ``metrics.get`` accepts them
# (``"Precision"`` and ``"precision"`` alike), plus Keras's short aliases.
_CLASSES = (
    AUC,
    Accuracy,
    BinaryAccuracy,
    CategoricalAccuracy,
    F1Score,
    FBetaScore,
    FalseNegatives,
    FalsePositives,
    Mean,
    MeanAbsoluteError,
    MeanSquaredError,
    Precision,
    Recall,
    SparseCategoricalAccuracy,
    SparseTopKCategoricalAccuracy,
    TopKCategoricalAccuracy,
    TrueNegatives,
    TruePositives,
)
_BY_NAME = {_snake(cls.__name__): cls for cls in _CLASSES}
_BY_NAME.update({"mse": MeanSquaredError, "mae": MeanAbsoluteError})
_ACCURACY_IDS = ("accuracy", "acc")


def get(identifier, y_true=None, y_pred=None) -> Metric:
    """Resolve a metric identifier to a fresh metric object.

    Strings are class names in either case (``"precision"``, ``"AUC"``,
    ``"f1_score"``, ``"top_k_categorical_accuracy"``...) or ``"mse"``/``"mae"``;
    the metric is named after the string, as Keras names it. ``"accuracy"``/``"acc"``
    becomes binary, sparse categorical or categorical accuracy from the shapes of the
    labels and predictions. A ``{"class_name": ..., "config": {...}}`` dict is
    deserialized; a plain function is averaged over samples.

    Raises:
        ValueError: for an unknown identifier (lists the valid ones).

    Example:
        >>> get("precision").name, get("AUC").name
        ('precision', 'AUC')
    """
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Metric):
        return identifier()
    if isinstance(identifier, dict) and "class_name" in identifier:
        cls = _BY_NAME.get(_snake(str(identifier["class_name"])))
        if cls is None:
            raise ValueError(f"Could not interpret metric identifier: {identifier!r}.")
        return cls.from_config(dict(identifier.get("config") or {}))
    if isinstance(identifier, str):
        key = identifier
        if key.lower() in _ACCURACY_IDS:
            return _resolve_accuracy(key, y_true, y_pred)
        cls = _BY_NAME.get(_snake(key))
        if cls is not None:
            metric = cls()
            metric.name = key
            return metric
        raise ValueError(
            f"Could not interpret metric identifier: {identifier!r}. Expected one of "
            f"{sorted([*_BY_NAME, *_ACCURACY_IDS])}, a Metric instance or a function."
        )
    if callable(identifier):
        return MeanMetricWrapper(identifier, name=getattr(identifier, "__name__", None))
    raise ValueError(f"Could not interpret metric identifier: {identifier!r}.")


def _resolve_accuracy(name, y_true, y_pred) -> Metric:
    if y_pred is None:
        return SparseCategoricalAccuracy(name=name)
    true_rank, pred_rank = len(y_true.shape), len(y_pred.shape)
    if y_pred.shape[-1] == 1:
        return BinaryAccuracy(name=name)
    if true_rank < pred_rank or (y_true.shape[-1] == 1 and y_pred.shape[-1] > 1):
        return SparseCategoricalAccuracy(name=name)
    return CategoricalAccuracy(name=name)
