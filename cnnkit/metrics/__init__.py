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
- :mod:`~cnnkit.metrics.losses_as_metrics`: cross-entropies, divergences, hinges, MAPE, MSLE,
  log-cosh: the mean of a loss function.
- :mod:`~cnnkit.metrics.statistics`: ``Sum``, ``RootMeanSquaredError``, ``CosineSimilarity``,
  ``R2Score``, ``PearsonCorrelation``, ``ConcordanceCorrelation``.
- :mod:`~cnnkit.metrics.iou`: ``IoU``, ``MeanIoU``, ``BinaryIoU``, ``OneHotIoU``, ``OneHotMeanIoU``.
- :mod:`~cnnkit.metrics.at_threshold`: ``PrecisionAtRecall``, ``RecallAtPrecision``,
  ``SensitivityAtSpecificity``, ``SpecificityAtSensitivity``.
- :mod:`~cnnkit.metrics.evaluation`: ``confusion_matrix``, ``classification_report``,
  ``top_k_accuracy`` on whole prediction arrays (scikit-learn's numbers).

Example:
    >>> m = SparseCategoricalAccuracy()
    >>> m.update_state(np.array([1, 0]), np.array([[0.1, 0.9], [0.2, 0.8]]))
    >>> float(m.result())
    0.5
"""

from __future__ import annotations

from cnnkit.argument_validation import snake_case
from cnnkit.losses import (
    binary_crossentropy,
    binary_focal_crossentropy,
    categorical_crossentropy,
    categorical_focal_crossentropy,
    categorical_hinge,
    hinge,
    huber,
    kl_divergence,
    log_cosh,
    mean_absolute_error,
    mean_absolute_percentage_error,
    mean_squared_error,
    mean_squared_logarithmic_error,
    poisson,
    sparse_categorical_crossentropy,
    squared_hinge,
)
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
from cnnkit.metrics.at_threshold import (
    PrecisionAtRecall,
    RecallAtPrecision,
    SensitivityAtSpecificity,
    SpecificityAtSensitivity,
)
from cnnkit.metrics.auc import AUC
from cnnkit.metrics.base import Mean, MeanMetricWrapper, Metric
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
from cnnkit.metrics.iou import BinaryIoU, IoU, MeanIoU, OneHotIoU, OneHotMeanIoU
from cnnkit.metrics.losses_as_metrics import (
    BinaryCrossentropy,
    CategoricalCrossentropy,
    CategoricalHinge,
    Hinge,
    KLDivergence,
    LogCoshError,
    MeanAbsolutePercentageError,
    MeanSquaredLogarithmicError,
    Poisson,
    SparseCategoricalCrossentropy,
    SquaredHinge,
)
from cnnkit.metrics.regression import MeanAbsoluteError, MeanSquaredError
from cnnkit.metrics.regression import _mae as _mae
from cnnkit.metrics.regression import _mse as _mse
from cnnkit.metrics.statistics import (
    ConcordanceCorrelation,
    CosineSimilarity,
    PearsonCorrelation,
    R2Score,
    RootMeanSquaredError,
    Sum,
    concordance_correlation,
    pearson_correlation,
)

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
    "BinaryCrossentropy",
    "BinaryIoU",
    "CategoricalCrossentropy",
    "CategoricalHinge",
    "ConcordanceCorrelation",
    "CosineSimilarity",
    "Hinge",
    "IoU",
    "KLDivergence",
    "LogCoshError",
    "MeanAbsolutePercentageError",
    "MeanIoU",
    "MeanSquaredLogarithmicError",
    "OneHotIoU",
    "OneHotMeanIoU",
    "PearsonCorrelation",
    "Poisson",
    "PrecisionAtRecall",
    "R2Score",
    "RecallAtPrecision",
    "RootMeanSquaredError",
    "SensitivityAtSpecificity",
    "SparseCategoricalCrossentropy",
    "SpecificityAtSensitivity",
    "SquaredHinge",
    "Sum",
    "binary_crossentropy",
    "binary_focal_crossentropy",
    "categorical_crossentropy",
    "categorical_focal_crossentropy",
    "categorical_hinge",
    "concordance_correlation",
    "hinge",
    "huber",
    "kl_divergence",
    "log_cosh",
    "mean_absolute_error",
    "mean_absolute_percentage_error",
    "mean_squared_error",
    "mean_squared_logarithmic_error",
    "pearson_correlation",
    "poisson",
    "sparse_categorical_crossentropy",
    "squared_hinge",
    "serialize",
    "deserialize",
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
    BinaryCrossentropy,
    BinaryIoU,
    CategoricalCrossentropy,
    CategoricalHinge,
    ConcordanceCorrelation,
    CosineSimilarity,
    Hinge,
    IoU,
    KLDivergence,
    LogCoshError,
    MeanAbsolutePercentageError,
    MeanIoU,
    MeanSquaredLogarithmicError,
    OneHotIoU,
    OneHotMeanIoU,
    PearsonCorrelation,
    Poisson,
    PrecisionAtRecall,
    R2Score,
    RecallAtPrecision,
    RootMeanSquaredError,
    SensitivityAtSpecificity,
    SparseCategoricalCrossentropy,
    SpecificityAtSensitivity,
    SquaredHinge,
    Sum,
)
_BY_NAME = {snake_case(cls.__name__): cls for cls in _CLASSES}
_BY_NAME.update({"mse": MeanSquaredError, "mae": MeanAbsoluteError})
_BY_NAME.update(
    {
        "bce": BinaryCrossentropy,
        "mape": MeanAbsolutePercentageError,
        "msle": MeanSquaredLogarithmicError,
    }
)
_FUNCTIONS = {
    fn.__name__: fn
    for fn in (huber, log_cosh, binary_focal_crossentropy, categorical_focal_crossentropy)
}
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
        return deserialize(identifier)
    if isinstance(identifier, str):
        key = identifier
        if key.lower() in _ACCURACY_IDS:
            return _resolve_accuracy(key, y_true, y_pred)
        cls = _BY_NAME.get(snake_case(key))
        if cls is not None:
            metric = cls()
            metric.name = key
            return metric
        if key in _FUNCTIONS:  # a loss function without a metric class of its name
            return MeanMetricWrapper(_FUNCTIONS[key], name=key)
        raise ValueError(
            f"Could not interpret metric identifier: {identifier!r}. Expected one of "
            f"{sorted([*_BY_NAME, *_FUNCTIONS, *_ACCURACY_IDS])}, a Metric instance or a "
            "function."
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


def serialize(metric) -> dict:
    """A metric object as ``{"class_name", "config"}`` (Keras's layout)."""
    if not isinstance(metric, Metric):
        raise ValueError(f"Cannot serialize {metric!r}: expected a Metric instance.")
    # cnnkit.saving imports this module: imported at call time
    from cnnkit.saving.serialization import serialize_keras_object

    return serialize_keras_object(metric)


def deserialize(config, custom_objects=None) -> Metric:
    """Inverse of :func:`serialize` (a name is accepted too, as by :func:`get`).

    ``custom_objects`` maps class names to Metric classes defined elsewhere.

    Example:
        >>> type(deserialize(serialize(R2Score()))).__name__
        'R2Score'
    """
    if isinstance(config, dict) and "class_name" in config:
        # cnnkit.saving imports this module: imported at call time
        from cnnkit.saving.serialization import deserialize_family_object

        def unknown(name):
            return ValueError(f"Could not interpret metric identifier: {config!r}.")

        names = {**_BY_NAME, **{cls.__name__: cls for cls in _CLASSES}}
        return deserialize_family_object(config, names, custom_objects, unknown)
    return get(config)
