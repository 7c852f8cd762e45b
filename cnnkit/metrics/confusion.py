"""Confusion counts at thresholds, and the metrics built on them: Precision, Recall, TP/FP/TN/FN.

Every metric here keeps, for each threshold ``t``, the (weighted) counts of

    true positives   y_true = 1 and y_pred > t      false positives  y_true = 0 and y_pred > t
    false negatives  y_true = 1 and y_pred <= t     true negatives   y_true = 0 and y_pred <= t

over all elements of the batch (flattened, unless ``AUC(multi_label=True)``).
The numerics follow Keras 3 (``keras/src/metrics/confusion_metrics.py`` and
``metrics_utils.py``): evenly spaced thresholds use Keras's bucketed counting
(``bucket = ceil(p * (T - 1)) - 1`` in float32), other thresholds a direct
comparison; divisions by zero give 0.

Deviation from Keras: integer class labels ``(N,)`` (or ``(N, 1)``) next to
predictions ``(N, C)`` with ``C > 1`` are one-hot encoded first, instead of being
broadcast against the predictions; other mismatched shapes raise a ValueError.

Example:
    >>> m = Precision()
    >>> m.update_state([0, 1, 1, 1], [1, 0, 1, 1])
    >>> round(float(m.result()), 4)
    0.6667
"""

from __future__ import annotations

import numpy as np

from cnnkit import backend
from cnnkit.argument_validation import is_int
from cnnkit.metrics.base import Metric, _host

NEG_INF = -1e10  # Keras's threshold when only top-k decides
_EPSILON = 1e-7  # Keras's backend.epsilon(): the AUC end thresholds are -eps and 1 + eps


# ---------------------------------------------------------------------------
# Shared helpers
# ---------------------------------------------------------------------------


def _parse_thresholds(thresholds, default) -> list[float]:
    values = [default] if thresholds is None else _to_list(thresholds)
    if thresholds is not None:
        bad = [t for t in values if t is None or not 0 <= t <= 1]
        if bad:
            raise ValueError(f"Threshold values must be in [0, 1]. Received: {bad}")
    return [float(t) for t in values]


def _to_list(x) -> list:
    if isinstance(x, (list, tuple)):
        return list(x)
    if isinstance(x, np.ndarray):
        return x.reshape(-1).tolist()
    return [x]


def _evenly_distributed(thresholds) -> bool:
    """Whether ``thresholds`` are ``0, 1/(n-1), ..., 1`` (Keras's fast bucketed path)."""
    n = len(thresholds)
    if n < 3:
        return False
    even = np.arange(n, dtype=np.float32) / (n - 1)
    return bool(np.allclose(thresholds, even, atol=_EPSILON))


def _same_rank(x1: np.ndarray, x2: np.ndarray, expand_rank_1: bool = True):
    """Keras's ``squeeze_or_expand_to_same_rank``: fix a rank difference of one size-1 axis."""
    r1, r2 = x1.ndim, x2.ndim
    if r1 == r2 + 1 and x1.shape[-1] == 1:
        if r2 == 1 and expand_rank_1:
            x2 = x2[..., None]
        else:
            x1 = x1[..., 0]
    elif r2 == r1 + 1 and x2.shape[-1] == 1:
        if r1 == 1 and expand_rank_1:
            x1 = x1[..., None]
        else:
            x2 = x2[..., 0]
    return x1, x2


def _sparse_to_one_hot(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """One-hot encode integer labels ``(N,)``/``(N, 1)`` next to predictions ``(N, C)``, C > 1."""
    if y_pred.ndim < 2 or y_pred.shape[-1] < 2 or y_true.shape == y_pred.shape:
        return y_true
    lead = y_pred.shape[:-1]
    if y_true.shape == lead + (1,):
        y_true = y_true[..., 0]
    if y_true.shape != lead:
        return y_true
    n_classes = y_pred.shape[-1]
    if y_true.size and (
        np.any(y_true != np.round(y_true)) or y_true.min() < 0 or y_true.max() >= n_classes
    ):
        raise ValueError(
            f"`y_true` of shape {y_true.shape} next to `y_pred` of shape {y_pred.shape} must "
            f"hold integer class labels in [0, {n_classes}). Received values from "
            f"{y_true.min()} to {y_true.max()}."
        )
    return np.eye(n_classes, dtype=y_pred.dtype)[y_true.astype("int64")]


def _filter_top_k(x: np.ndarray, k: int) -> np.ndarray:
    """Keep the ``k`` largest values of the last axis (the first ones on ties), rest NEG_INF."""
    order = np.argsort(-x, axis=-1, kind="stable")[..., :k]
    mask = np.zeros(x.shape, dtype=bool)
    np.put_along_axis(mask, order, True, axis=-1)
    return np.where(mask, x, np.float32(NEG_INF)).astype(x.dtype)


def confusion_counts(
    y_true,
    y_pred,
    thresholds,
    *,
    top_k=None,
    class_id=None,
    sample_weight=None,
    multi_label=False,
    label_weights=None,
    evenly=None,
) -> dict[str, np.ndarray]:
    """Weighted ``tp``, ``fp``, ``tn``, ``fn`` of one batch at each threshold.

    Args:
        y_true: labels, cast to bool (non-zero is positive).
        y_pred: scores, compared in float32 with each threshold (``y_pred > t``).
        thresholds: sorted list of floats.
        top_k: keep only the ``top_k`` highest scores of each row (the rest count as negative).
        class_id: look at this column of ``(N, C)`` labels and scores only.
        sample_weight: broadcastable to the labels; ``(N,)`` weighs whole rows.
        multi_label: keep the last axis apart (counts of shape ``(T, C)``) instead of flattening.
        label_weights: per-column weights of the flattened counts.
        evenly: use the bucketed path; default: whether ``thresholds`` are evenly spaced,
            ignoring end points outside ``[0, 1]``.

    Returns:
        ``{"tp", "fp", "tn", "fn"}`` float64 arrays of shape ``(T,)``, or ``(T, C)``.
    """
    y_true = _host(y_true, "float32")
    y_pred = _host(y_pred, "float32")
    thresholds = np.asarray(thresholds, dtype=np.float32)
    y_true = _sparse_to_one_hot(y_true, y_pred)
    y_pred, y_true = _same_rank(y_pred, y_true)
    weights = None
    if sample_weight is not None:
        weights = _host(sample_weight, "float32")[..., None]
        _, weights = _same_rank(y_true, weights, expand_rank_1=False)
    if y_true.shape != y_pred.shape:
        raise ValueError(
            "`y_true` and `y_pred` must have the same shape (or integer labels next to "
            f"class scores). Received: y_true.shape={y_true.shape}, y_pred.shape={y_pred.shape}"
        )
    if top_k is not None:
        y_pred = _filter_top_k(y_pred, top_k)
    if class_id is not None:
        if y_pred.ndim == 1:
            raise ValueError(
                "When class_id is provided, y_pred must be a 2D array with shape "
                f"(num_samples, num_classes), found shape: {y_pred.shape}"
            )
        if not 0 <= class_id < y_pred.shape[-1]:
            raise ValueError(
                f"Invalid value for argument `class_id`. Expected a class in "
                f"[0, {y_pred.shape[-1]}). Received: class_id={class_id}"
            )
        y_true, y_pred = y_true[..., class_id, None], y_pred[..., class_id, None]
    if multi_label and y_pred.ndim != 2:
        raise ValueError(
            "`y_pred` must have rank 2 when `multi_label=True`. "
            f"Found rank {y_pred.ndim}. Full shape received for `y_pred`: {y_pred.shape}"
        )
    w = np.ones(y_pred.shape, dtype=np.float64)
    if weights is not None:
        try:
            w = w * np.broadcast_to(weights, y_pred.shape)
        except ValueError:
            raise ValueError(
                f"`sample_weight` of shape {weights.shape} cannot be broadcast to the "
                f"predictions' shape {y_pred.shape}."
            ) from None
    if label_weights is not None and not multi_label:
        w = w * np.broadcast_to(np.asarray(label_weights, dtype=np.float32), y_pred.shape)
    positive = y_true != 0
    if not multi_label:
        y_pred, positive, w = y_pred.reshape(-1), positive.reshape(-1), w.reshape(-1)
    true_w = np.where(positive, w, 0.0)  # (N,) or (N, C)
    false_w = np.where(positive, 0.0, w)
    if evenly is None:
        evenly = _evenly_distributed(thresholds)
    if evenly:
        with_epsilon = bool(thresholds[0] < 0.0 or thresholds[-1] > 1.0)
        tp, fp = _bucketed(y_pred, true_w, false_w, len(thresholds), with_epsilon)
    else:
        # pred_is_pos: (T, N) or (T, N, C)
        pred_is_pos = y_pred[None] > thresholds.reshape((-1,) + (1,) * y_pred.ndim)
        tp = (pred_is_pos * true_w).sum(axis=1)
        fp = (pred_is_pos * false_w).sum(axis=1)
    return {"tp": tp, "fp": fp, "tn": false_w.sum(axis=0) - fp, "fn": true_w.sum(axis=0) - tp}


def _bucketed(y_pred, true_w, false_w, n_thresholds: int, with_epsilon: bool):
    """Counts at evenly spaced thresholds in one pass (Keras's optimised update).

    A score ``p`` falls in bucket ``ceil(p * (T - 1)) - 1`` (float32) and counts as positive
    at every threshold up to its bucket: a reversed cumulative sum of the bucket totals.
    """
    p = np.clip(y_pred, np.float32(0.0), np.float32(1.0))
    buckets = np.ceil(p * np.float32(n_thresholds - 1)) - 1
    if with_epsilon:
        buckets = np.maximum(buckets, 0)  # every score in [0, 1] beats -epsilon
    buckets = np.nan_to_num(buckets, nan=-1).astype(np.int64)
    keep = buckets >= 0  # a negative bucket is dropped, as segment_sum does

    def per_bucket(b, v):
        return np.bincount(b, weights=v, minlength=n_thresholds)[:n_thresholds]

    def cumulative(values):
        if values.ndim == 1:
            sums = per_bucket(buckets[keep], values[keep])
        else:  # one column per label: (T, C)
            columns = range(values.shape[1])
            sums = np.stack(
                [per_bucket(buckets[keep[:, j], j], values[keep[:, j], j]) for j in columns], 1
            )
        return np.flip(np.cumsum(np.flip(sums, axis=0), axis=0), axis=0)

    return cumulative(true_w), cumulative(false_w)


def _divide_no_nan(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    out = np.zeros(np.broadcast(a, b).shape)
    np.divide(a, b, out=out, where=b != 0)
    return out


def _scalar_or_vector(values: np.ndarray):
    values = values.astype(np.float32)
    return values[0] if values.shape == (1,) else values


# ---------------------------------------------------------------------------
# Counts, precision and recall
# ---------------------------------------------------------------------------


class _ThresholdMetric(Metric):
    """Shared state of the metrics that keep counts at a list of thresholds."""

    _counts: tuple[str, ...] = ()
    _default_name = ""

    def __init__(self, thresholds=None, top_k=None, class_id=None, name=None, dtype=None):
        if top_k is not None and (not is_int(top_k) or top_k < 1):
            raise ValueError(
                "Invalid value for argument `top_k`. Expected a strictly positive integer. "
                f"Received: top_k={top_k!r}"
            )
        if class_id is not None and (
            isinstance(class_id, bool)
            or not isinstance(class_id, (int, np.integer))
            or class_id < 0
        ):
            raise ValueError(
                "Invalid value for argument `class_id`. Expected a non-negative integer. "
                f"Received: class_id={class_id!r}"
            )
        self.init_thresholds = thresholds
        self.top_k = top_k
        self.class_id = class_id
        default = 0.5 if top_k is None else NEG_INF
        self.thresholds = _parse_thresholds(thresholds, default)
        self._evenly = _evenly_distributed(self.thresholds)
        super().__init__(name=name or backend.unique_name(self._default_name), dtype=dtype)
        self.reset_state()

    def reset_state(self) -> None:
        for key in self._counts:
            setattr(self, _ATTRS[key], np.zeros(len(self.thresholds)))

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        counts = confusion_counts(
            y_true,
            y_pred,
            self.thresholds,
            top_k=self.top_k,
            class_id=self.class_id,
            sample_weight=sample_weight,
            evenly=self._evenly,
        )
        for key in self._counts:
            setattr(self, _ATTRS[key], getattr(self, _ATTRS[key]) + counts[key])

    def get_config(self) -> dict:
        return {**super().get_config(), "thresholds": self.init_thresholds}


_ATTRS = {
    "tp": "true_positives",
    "fp": "false_positives",
    "tn": "true_negatives",
    "fn": "false_negatives",
}


class _ConditionCount(_ThresholdMetric):
    def __init__(self, thresholds=None, name=None, dtype=None):
        super().__init__(thresholds=thresholds, name=name, dtype=dtype)

    def result(self):
        return _scalar_or_vector(getattr(self, _ATTRS[self._counts[0]]))


class TruePositives(_ConditionCount):
    """The (weighted) number of true positives at each threshold (default 0.5).

    Example:
        >>> m = TruePositives()
        >>> m.update_state([0, 1, 1, 1], [1, 0, 1, 1])
        >>> float(m.result())
        2.0
    """

    _counts = ("tp",)
    _default_name = "true_positives"


class FalsePositives(_ConditionCount):
    """The (weighted) number of false positives at each threshold (default 0.5)."""

    _counts = ("fp",)
    _default_name = "false_positives"


class TrueNegatives(_ConditionCount):
    """The (weighted) number of true negatives at each threshold (default 0.5)."""

    _counts = ("tn",)
    _default_name = "true_negatives"


class FalseNegatives(_ConditionCount):
    """The (weighted) number of false negatives at each threshold (default 0.5)."""

    _counts = ("fn",)
    _default_name = "false_negatives"


class Precision(_ThresholdMetric):
    """Precision ``tp / (tp + fp)`` of the predictions, accumulated over batches.

    Args:
        thresholds: a float or a list of floats in ``[0, 1]``; a score above a threshold
            is a positive prediction. One value per threshold is returned. Default 0.5
            (or, with ``top_k``, no threshold). With logits, use ``thresholds=0``.
        top_k: only the ``top_k`` highest scores of each row count as positive predictions.
        class_id: compute the binary metric of this class (a column of ``(N, C)`` inputs).
        name: default ``"precision"`` (``precision_1``... for later instances, as in Keras).
        dtype: dtype of the result.

    Returns:
        ``result()``: a float32 scalar, or one value per threshold.

    Example:
        >>> m = Precision(top_k=2)
        >>> m.update_state([0, 0, 1, 1], [1, 1, 1, 1])
        >>> float(m.result())
        0.0
    """

    _counts = ("tp", "fp")
    _default_name = "precision"

    def result(self):
        return _scalar_or_vector(
            _divide_no_nan(self.true_positives, self.true_positives + self.false_positives)
        )

    def get_config(self) -> dict:
        return {**super().get_config(), "top_k": self.top_k, "class_id": self.class_id}


class Recall(_ThresholdMetric):
    """Recall ``tp / (tp + fn)`` of the predictions, accumulated over batches.

    Args:
        thresholds: a float or a list of floats in ``[0, 1]`` (default 0.5, or none with
            ``top_k``); one value per threshold is returned.
        top_k: only the ``top_k`` highest scores of each row count as positive predictions.
        class_id: compute the binary metric of this class (a column of ``(N, C)`` inputs).
        name: default ``"recall"`` (``recall_1``... for later instances, as in Keras).
        dtype: dtype of the result.

    Example:
        >>> m = Recall()
        >>> m.update_state([0, 1, 1, 1], [1, 0, 1, 1], sample_weight=[0, 0, 1, 0])
        >>> float(m.result())
        1.0
    """

    _counts = ("tp", "fn")
    _default_name = "recall"

    def result(self):
        return _scalar_or_vector(
            _divide_no_nan(self.true_positives, self.true_positives + self.false_negatives)
        )

    def get_config(self) -> dict:
        return {**super().get_config(), "top_k": self.top_k, "class_id": self.class_id}
