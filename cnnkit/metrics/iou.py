"""Intersection-over-union metrics for segmentation and classification (Keras 3's ``IoU``
family): a running ``(num_classes, num_classes)`` confusion matrix, rows the true classes.

For each class ``c``: ``IoU_c = TP_c / (TP_c + FP_c + FN_c)``; the result is the mean over
the target classes that occur (in the labels or the predictions) at all, which is
``sklearn.metrics.jaccard_score(average="macro")`` over those classes.

Deliberate deviation: Keras keeps the matrix in integers by default (``dtype="int"``), so it
truncates float sample weights; cnnkit accumulates weights as floats.

Example:
    >>> m = MeanIoU(num_classes=2)
    >>> m.update_state([0, 0, 1, 1], [0, 1, 0, 1])
    >>> round(float(m.result()), 4)
    0.3333
"""

from __future__ import annotations

import numpy as np

from cnnkit.argument_validation import is_int
from cnnkit.metrics.base import Metric, _host

_EPSILON = 1e-7


def _class_ids(name: str, value, num_classes: int) -> list[int]:
    ids = [int(v) for v in value]
    if not ids or max(ids) >= num_classes or min(ids) < 0:
        raise ValueError(
            f"Invalid value for argument `{name}`: every class id must be in "
            f"[0, {num_classes}). Received: {name}={list(value)!r}"
        )
    return ids


class IoU(Metric):
    """Mean intersection-over-union of ``target_class_ids``.

    Args:
        num_classes: number of classes (the confusion matrix is square of that size).
        target_class_ids: the classes whose IoU is averaged.
        name, dtype: as every metric.
        ignore_class: a label whose samples are left out (e.g. a "void" class).
        sparse_y_true: labels are class ids (else one-hot/scores: ``argmax`` along ``axis``).
        sparse_y_pred: predictions are class ids (else scores: ``argmax`` along ``axis``).
        axis: the class axis of dense inputs.

    Ids outside ``[0, num_classes)`` are ignored, as in Keras.

    Raises:
        ValueError: for a non-positive ``num_classes`` or a target id out of range.
    """

    def __init__(
        self,
        num_classes,
        target_class_ids,
        name=None,
        dtype=None,
        ignore_class=None,
        sparse_y_true=True,
        sparse_y_pred=True,
        axis=-1,
    ):
        if not is_int(num_classes) or num_classes < 1:
            raise ValueError(
                "Invalid value for argument `num_classes`. Expected a strictly positive "
                f"integer. Received: num_classes={num_classes!r}"
            )
        self.num_classes = num_classes
        self.target_class_ids = _class_ids("target_class_ids", target_class_ids, num_classes)
        self.ignore_class = ignore_class
        self.sparse_y_true = sparse_y_true
        self.sparse_y_pred = sparse_y_pred
        self.axis = axis
        super().__init__(name=name, dtype=dtype)
        self.reset_state()

    def reset_state(self) -> None:
        self.total_cm = np.zeros((self.num_classes, self.num_classes))

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        t, p = _host(y_true), _host(y_pred)
        if not self.sparse_y_true:
            t = t.argmax(axis=self.axis)
        if not self.sparse_y_pred:
            p = p.argmax(axis=self.axis)
        t, p = t.reshape(-1).astype(np.int64), p.reshape(-1).astype(np.int64)
        w = np.ones(t.shape) if sample_weight is None else _host(sample_weight, "float64")
        w = np.broadcast_to(w.reshape(-1) if w.ndim > 1 else w, t.shape)
        keep = (t >= 0) & (t < self.num_classes) & (p >= 0) & (p < self.num_classes)
        if self.ignore_class is not None:
            keep &= t != self.ignore_class
        k = self.num_classes
        cm = np.bincount(t[keep] * k + p[keep], weights=w[keep], minlength=k * k)
        self.total_cm += cm.reshape(k, k)

    def result(self):
        tp = np.diag(self.total_cm)
        denom = self.total_cm.sum(axis=0) + self.total_cm.sum(axis=1) - tp
        ids = self.target_class_ids
        tp, denom = tp[ids], denom[ids]
        valid = denom > 1e-9
        iou = np.where(valid, tp / (denom + _EPSILON), 0.0)
        return np.float32(iou.sum() / (valid.sum() + _EPSILON))

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "num_classes": self.num_classes,
            "target_class_ids": self.target_class_ids,
            "ignore_class": self.ignore_class,
            "sparse_y_true": self.sparse_y_true,
            "sparse_y_pred": self.sparse_y_pred,
            "axis": self.axis,
        }


class BinaryIoU(IoU):
    """IoU of binary labels against scores thresholded at ``threshold`` (``>=``).

    Args:
        target_class_ids: ``(0, 1)`` for both classes, ``[1]`` for the positives only.
        threshold: scores at or above it count as class 1.
    """

    def __init__(self, target_class_ids=(0, 1), threshold=0.5, name=None, dtype=None):
        super().__init__(num_classes=2, target_class_ids=target_class_ids, name=name, dtype=dtype)
        self.threshold = threshold

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        predicted = (_host(y_pred, "float32") >= self.threshold).astype(np.int64)
        super().update_state(_host(y_true), predicted, sample_weight)

    def get_config(self) -> dict:
        return {
            "target_class_ids": self.target_class_ids,
            "threshold": self.threshold,
            "name": self.name,
            "dtype": self.dtype,
        }


class MeanIoU(IoU):
    """IoU averaged over every class; see :class:`IoU` for the arguments."""

    def __init__(
        self,
        num_classes,
        name=None,
        dtype=None,
        ignore_class=None,
        sparse_y_true=True,
        sparse_y_pred=True,
        axis=-1,
    ):
        super().__init__(
            num_classes,
            list(range(num_classes)) if isinstance(num_classes, int) else [0],
            name=name,
            dtype=dtype,
            ignore_class=ignore_class,
            sparse_y_true=sparse_y_true,
            sparse_y_pred=sparse_y_pred,
            axis=axis,
        )

    def get_config(self) -> dict:
        config = super().get_config()
        del config["target_class_ids"]
        return config


class OneHotIoU(IoU):
    """IoU of one-hot labels and class scores (both ``argmax``-ed along ``axis``)."""

    def __init__(
        self,
        num_classes,
        target_class_ids,
        name=None,
        dtype=None,
        ignore_class=None,
        sparse_y_pred=False,
        axis=-1,
    ):
        super().__init__(
            num_classes,
            target_class_ids,
            name=name,
            dtype=dtype,
            ignore_class=ignore_class,
            sparse_y_true=False,
            sparse_y_pred=sparse_y_pred,
            axis=axis,
        )

    def get_config(self) -> dict:
        config = super().get_config()
        del config["sparse_y_true"]
        return config


class OneHotMeanIoU(MeanIoU):
    """Mean IoU over every class of one-hot labels and class scores."""

    def __init__(
        self, num_classes, name=None, dtype=None, ignore_class=None, sparse_y_pred=False, axis=-1
    ):
        super().__init__(
            num_classes,
            name=name,
            dtype=dtype,
            ignore_class=ignore_class,
            sparse_y_true=False,
            sparse_y_pred=sparse_y_pred,
            axis=axis,
        )

    def get_config(self) -> dict:
        config = super().get_config()
        del config["sparse_y_true"]
        return config
