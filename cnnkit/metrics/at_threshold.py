"""One rate at the best threshold that meets a constraint on another (Keras 3's
``SensitivityAtSpecificity``, ``SpecificityAtSensitivity``, ``PrecisionAtRecall``,
``RecallAtPrecision``).

Counts are kept at ``num_thresholds`` evenly spaced thresholds ``0, 1/(T-1), ..., 1`` (a
score counts as positive when it is above the threshold) with the bucketed update of
:func:`cnnkit.metrics.confusion.confusion_counts`; the result is the largest value of the
dependent rate among the thresholds where the constrained rate is ``>=`` the target (0 if
none is).

Example:
    >>> m = PrecisionAtRecall(recall=0.5, num_thresholds=5)
    >>> m.update_state([0, 0, 1, 1], [0.1, 0.6, 0.4, 0.9])
    >>> float(m.result())
    1.0
"""

from __future__ import annotations

import numpy as np

from cnnkit.metrics.base import Metric
from cnnkit.metrics.confusion import _divide_no_nan, confusion_counts


class _AtThreshold(Metric):
    """Counts at evenly spaced thresholds; subclasses pick the constrained and dependent rates."""

    _argument = ""  # the constrained rate: "specificity", "sensitivity", "recall", "precision"

    def __init__(self, value, num_thresholds=200, class_id=None, name=None, dtype=None):
        arg = self._argument
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
            raise ValueError(
                f"Argument `{arg}` must be in the range [0, 1]. Received: {arg}={value!r}"
            )
        if (
            isinstance(num_thresholds, bool)
            or not isinstance(num_thresholds, int)
            or num_thresholds <= 0
        ):
            raise ValueError(
                "Argument `num_thresholds` must be an integer > 0. "
                f"Received: num_thresholds={num_thresholds!r}"
            )
        setattr(self, arg, value)
        self.value = value
        self.num_thresholds = num_thresholds
        self.class_id = class_id
        if num_thresholds == 1:
            self.thresholds, self._evenly = [0.5], False
        else:
            inner = [(i + 1) / (num_thresholds - 1) for i in range(num_thresholds - 2)]
            self.thresholds, self._evenly = [0.0, *inner, 1.0], True
        super().__init__(name=name, dtype=dtype)
        self.reset_state()

    def reset_state(self) -> None:
        zeros = np.zeros(len(self.thresholds))
        self.true_positives, self.false_positives = zeros.copy(), zeros.copy()
        self.true_negatives, self.false_negatives = zeros.copy(), zeros.copy()

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        counts = confusion_counts(
            y_true,
            y_pred,
            self.thresholds,
            class_id=self.class_id,
            sample_weight=sample_weight,
            evenly=self._evenly,
        )
        self.true_positives += counts["tp"]
        self.false_positives += counts["fp"]
        self.true_negatives += counts["tn"]
        self.false_negatives += counts["fn"]

    def _rates(self):
        tp, fp, tn, fn = (
            self.true_positives,
            self.false_positives,
            self.true_negatives,
            self.false_negatives,
        )
        return {
            "sensitivity": _divide_no_nan(tp, tp + fn),
            "recall": _divide_no_nan(tp, tp + fn),
            "specificity": _divide_no_nan(tn, tn + fp),
            "precision": _divide_no_nan(tp, tp + fp),
        }

    def _dependent(self) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def result(self):
        rates = self._rates()
        feasible = rates[self._argument] >= self.value
        return np.float32(np.where(feasible, rates[self._dependent()], 0.0).max(initial=0.0))

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "class_id": self.class_id,
            "num_thresholds": self.num_thresholds,
            self._argument: self.value,
        }


class SensitivityAtSpecificity(_AtThreshold):
    """The best sensitivity (recall) among the thresholds with specificity ``>= specificity``."""

    _argument = "specificity"

    def __init__(self, specificity, num_thresholds=200, class_id=None, name=None, dtype=None):
        super().__init__(specificity, num_thresholds, class_id, name, dtype)

    def _dependent(self) -> str:
        return "sensitivity"


class SpecificityAtSensitivity(_AtThreshold):
    """The best specificity among the thresholds with sensitivity ``>= sensitivity``."""

    _argument = "sensitivity"

    def __init__(self, sensitivity, num_thresholds=200, class_id=None, name=None, dtype=None):
        super().__init__(sensitivity, num_thresholds, class_id, name, dtype)

    def _dependent(self) -> str:
        return "specificity"


class PrecisionAtRecall(_AtThreshold):
    """The best precision among the thresholds with recall ``>= recall``."""

    _argument = "recall"

    def __init__(self, recall, num_thresholds=200, class_id=None, name=None, dtype=None):
        super().__init__(recall, num_thresholds, class_id, name, dtype)

    def _dependent(self) -> str:
        return "precision"


class RecallAtPrecision(_AtThreshold):
    """The best recall among the thresholds with precision ``>= precision``."""

    _argument = "precision"

    def __init__(self, precision, num_thresholds=200, class_id=None, name=None, dtype=None):
        super().__init__(precision, num_thresholds, class_id, name, dtype)

    def _dependent(self) -> str:
        return "recall"
