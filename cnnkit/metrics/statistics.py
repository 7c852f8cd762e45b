"""Metrics that are statistics of the whole stream rather than means of a loss.

``Sum``, ``RootMeanSquaredError``, ``CosineSimilarity``, ``R2Score`` (the coefficient of
determination, scikit-learn's ``r2_score``), and the per-sample correlations
``PearsonCorrelation`` / ``ConcordanceCorrelation`` with their functions, as in Keras 3.

Example:
    >>> m = R2Score()
    >>> m.update_state([[1.0], [2.0], [3.0]], [[1.0], [2.5], [2.5]])
    >>> round(float(m.result()), 4)
    0.75
"""

from __future__ import annotations

import warnings

import numpy as np

from cnnkit.metrics.base import Mean, MeanMetricWrapper, Metric, _host

_EPSILON = 1e-7


def _pair(y_true, y_pred):
    """Float32 arrays at the same rank (a trailing axis of 1 on either side reconciled)."""
    t, p = _host(y_true, "float32"), _host(y_pred, "float32")
    if t.ndim == p.ndim + 1 and t.shape[-1] == 1:
        t = t.reshape(t.shape[:-1])
    elif p.ndim == t.ndim + 1 and p.shape[-1] == 1:
        p = p.reshape(p.shape[:-1])
    return t, p


def _samplewise(values: np.ndarray) -> np.ndarray:
    """Keras's ``reduce_to_samplewise_values``: the mean over every axis but the first."""
    return values.reshape(values.shape[0], -1).mean(axis=1) if values.ndim > 1 else values


class Sum(Metric):
    """The (weighted) sum of every value it is given.

    Example:
        >>> m = Sum()
        >>> m.update_state([1, 3, 5, 7])
        >>> float(m.result())
        16.0
    """

    def __init__(self, name="sum", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.reset_state()

    def reset_state(self) -> None:
        self.total = 0.0

    def update_state(self, values, sample_weight=None) -> None:
        values = _host(values, "float64")
        if sample_weight is not None:
            w = _host(sample_weight, "float64")
            if w.ndim < values.ndim:  # weights per sample: sum each sample first
                values = values.reshape(values.shape[: w.ndim] + (-1,)).sum(axis=-1)
            values = values * np.broadcast_to(w, values.shape)
        self.total += float(values.sum())

    def result(self):
        return np.float32(self.total)


class RootMeanSquaredError(Mean):
    """``sqrt(mean((y_pred - y_true)^2))`` over every sample seen (weights per sample)."""

    def __init__(self, name="root_mean_squared_error", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        t, p = _pair(y_true, y_pred)
        super().update_state(_samplewise((p - t).astype("float64") ** 2), sample_weight)

    def result(self):
        return np.float32(np.sqrt(super().result()))


def _l2_normalize(x, axis):
    return x / np.sqrt(np.maximum((x * x).sum(axis=axis, keepdims=True), 1e-12))


def cosine_similarity(y_true, y_pred, axis=-1):
    """``sum(l2_normalize(y_true) * l2_normalize(y_pred), axis)`` (the metric's function)."""
    t, p = _pair(y_true, y_pred)
    return (_l2_normalize(t, axis) * _l2_normalize(p, axis)).sum(axis=axis)


class CosineSimilarity(MeanMetricWrapper):
    """The mean cosine similarity of predictions and targets along ``axis``."""

    def __init__(self, name="cosine_similarity", dtype=None, axis=-1):
        super().__init__(cosine_similarity, name=name, dtype=dtype, axis=axis)


def pearson_correlation(y_true, y_pred, axis=-1):
    """Pearson's r of each sample's values along ``axis`` (population standard deviations).

    Example:
        >>> round(float(pearson_correlation([[1.0, 2.0, 3.0]], [[2.0, 4.0, 7.0]])[0]), 4)
        0.9934
    """
    t, p = _pair(y_true, y_pred)
    t = t - t.mean(axis=axis, keepdims=True)
    p = p - p.mean(axis=axis, keepdims=True)
    t = t / t.std(axis=axis, keepdims=True)
    p = p / p.std(axis=axis, keepdims=True)
    return (t * p).mean(axis=axis)


def concordance_correlation(y_true, y_pred, axis=-1):
    """Lin's concordance correlation coefficient of each sample along ``axis``.

    ``2 cov(t, p) / (var t + var p + (mean t - mean p)^2 + eps)``, with Keras 3's form of the
    covariance term (``(t - mean p)(p - mean p)``, averaged).
    """
    t, p = _pair(y_true, y_pred)
    t_mean = t.mean(axis=axis, keepdims=True)
    p_mean = p.mean(axis=axis, keepdims=True)
    norm = t.var(axis=axis, keepdims=True) + p.var(axis=axis, keepdims=True)
    norm = norm + (t_mean - p_mean) ** 2
    covar = (t - p_mean) * (p - p_mean)
    return (2 * covar / (norm + np.float32(_EPSILON))).mean(axis=axis)


class PearsonCorrelation(MeanMetricWrapper):
    """The mean over samples of :func:`pearson_correlation`."""

    def __init__(self, name="pearson_correlation", dtype=None, axis=-1):
        super().__init__(pearson_correlation, name=name, dtype=dtype, axis=axis)


class ConcordanceCorrelation(MeanMetricWrapper):
    """The mean over samples of :func:`concordance_correlation`."""

    def __init__(self, name="concordance_correlation", dtype=None, axis=-1):
        super().__init__(concordance_correlation, name=name, dtype=dtype, axis=axis)


_AGGREGATIONS = (None, "uniform_average", "variance_weighted_average")


class R2Score(Metric):
    """Coefficient of determination ``1 - SS_res / SS_tot`` per output, aggregated.

    Args:
        class_aggregation: ``"uniform_average"`` (the mean of the per-output scores),
            ``"variance_weighted_average"`` (weighted by each output's variance) or ``None``
            (one score per output).
        num_regressors: for the adjusted R2 ``1 - (1 - R2)(n - 1) / (n - p - 1)`` (``n``: the
            number of values seen, as Keras counts them).
        name, dtype: as every metric.

    Inputs are ``(batch, outputs)``; sample weights are per sample. Outputs of zero variance
    score 0 (``sklearn.metrics.r2_score`` with ``force_finite=True`` scores them 1 when the
    predictions are exact).

    Raises:
        ValueError: for an unknown ``class_aggregation``, a negative ``num_regressors``, or
            inputs that are not 2-D.
    """

    def __init__(
        self, class_aggregation="uniform_average", num_regressors=0, name="r2_score", dtype=None
    ):
        if class_aggregation not in _AGGREGATIONS:
            raise ValueError(
                "Invalid value for argument `class_aggregation`. Expected one of "
                f"{_AGGREGATIONS}. Received: class_aggregation={class_aggregation!r}"
            )
        if (
            isinstance(num_regressors, bool)
            or not isinstance(num_regressors, int)
            or (num_regressors < 0)
        ):
            raise ValueError(
                "Invalid value for argument `num_regressors`. Expected an integer >= 0. "
                f"Received: num_regressors={num_regressors!r}"
            )
        self.class_aggregation = class_aggregation
        self.num_regressors = num_regressors
        super().__init__(name=name, dtype=dtype)
        self.reset_state()

    def reset_state(self) -> None:
        self.num_samples = 0
        self.sum = self.squared_sum = self.residual = self.count = None

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        t, p = _pair(y_true, y_pred)
        if t.ndim != 2 or p.ndim != 2:
            raise ValueError(
                "R2Score expects 2D inputs with shape (batch_size, output_dim). Received "
                f"input shapes: y_pred.shape={p.shape} and y_true.shape={t.shape}."
            )
        t, p = t.astype("float64"), p.astype("float64")
        w = np.ones(1) if sample_weight is None else _host(sample_weight, "float64")
        if w.ndim == 1:
            w = w[:, None]
        w = np.broadcast_to(w, t.shape)
        if self.sum is None:
            self.sum, self.squared_sum, self.residual, self.count = (
                np.zeros(t.shape[1]) for _ in range(4)
            )
        self.sum += (t * w).sum(axis=0)
        self.squared_sum += (t * t * w).sum(axis=0)
        self.residual += ((t - p) ** 2 * w).sum(axis=0)
        self.count += w.sum(axis=0)
        self.num_samples += t.size

    def result(self):
        if self.sum is None:
            return np.float32(0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            mean = self.sum / self.count
            total = self.squared_sum - self.sum * mean
            raw = 1 - self.residual / total
        raw = np.where(np.isfinite(raw), raw, 0.0)
        if self.class_aggregation == "uniform_average":
            score = raw.mean()
        elif self.class_aggregation == "variance_weighted_average":
            score = (total * raw).sum() / total.sum()
        else:
            return raw.astype(np.float32)
        n, k = self.num_samples, self.num_regressors
        if k:
            if k > n - 1:
                warnings.warn(
                    "More independent predictors than datapoints in adjusted R2 score. "
                    "Falling back to standard R2 score.",
                    stacklevel=2,
                )
            elif k == n - 1:
                warnings.warn(
                    "Division by zero in Adjusted R2 score. Falling back to standard R2 score.",
                    stacklevel=2,
                )
            else:
                score = 1 - (1 - score) * (n - 1) / (n - k - 1)
        return np.float32(score)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "class_aggregation": self.class_aggregation,
            "num_regressors": self.num_regressors,
        }
