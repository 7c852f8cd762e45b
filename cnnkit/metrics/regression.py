"""Regression metrics: mean squared and mean absolute error."""

from __future__ import annotations

import numpy as np

from cnnkit.metrics.base import MeanMetricWrapper, _array


def _mse(y_true, y_pred):
    y_true, y_pred = _array(y_true), _array(y_pred)
    return ((y_pred - y_true.reshape(y_pred.shape)) ** 2).mean(axis=-1)


def _mae(y_true, y_pred):
    y_true, y_pred = _array(y_true), _array(y_pred)
    return np.abs(y_pred - y_true.reshape(y_pred.shape)).mean(axis=-1)


class MeanSquaredError(MeanMetricWrapper):
    def __init__(self, name="mean_squared_error", dtype=None):
        super().__init__(_mse, name=name, dtype=dtype)


class MeanAbsoluteError(MeanMetricWrapper):
    def __init__(self, name="mean_absolute_error", dtype=None):
        super().__init__(_mae, name=name, dtype=dtype)
