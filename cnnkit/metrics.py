"""Metrics: stateless functions and stateful metric objects, as in ``keras.metrics``.

A metric object accumulates over batches (``update_state``), reports a running
value (``result``) and starts over with ``reset_state``; ``fit`` resets the
metrics at the start of every epoch. Metric maths runs on plain arrays, outside
the autodiff graph.

Example:
    >>> m = SparseCategoricalAccuracy()
    >>> m.update_state(np.array([1, 0]), np.array([[0.1, 0.9], [0.2, 0.8]]))
    >>> float(m.result())
    0.5
"""

from __future__ import annotations

import numpy as np

from cnnkit.autodiff import Tensor
from cnnkit.backend import xp


def _array(x):
    return x.data if isinstance(x, Tensor) else xp.asarray(x)


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


class Metric:
    """Base class: subclasses implement ``update_state``, ``result`` and ``reset_state``."""

    def __init__(self, name=None, dtype=None):
        self.name = name or _snake(type(self).__name__)
        self.dtype = dtype or "float32"
        self.reset_state()

    def reset_state(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def update_state(self, *args, **kwargs) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def result(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def __call__(self, *args, **kwargs):
        self.update_state(*args, **kwargs)
        return self.result()

    def get_config(self) -> dict:
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}>"


class Mean(Metric):
    """The (weighted) mean of the values it is given.

    Example:
        >>> m = Mean()
        >>> m.update_state([1, 3, 5, 7])
        >>> float(m.result())
        4.0
    """

    def reset_state(self) -> None:
        self.total = 0.0
        self.count = 0.0

    def update_state(self, values, sample_weight=None) -> None:
        values = np.asarray(_array(values), dtype="float64")
        if sample_weight is None:
            self.total += float(values.sum())
            self.count += float(values.size)
        else:
            w = np.broadcast_to(np.asarray(_array(sample_weight), dtype="float64"), values.shape)
            self.total += float((values * w).sum())
            self.count += float(w.sum())

    def result(self):
        return np.float32(self.total / self.count) if self.count else np.float32(0.0)


class MeanMetricWrapper(Mean):
    """Averages a per-sample function ``fn(y_true, y_pred)`` over all samples seen."""

    def __init__(self, fn, name=None, dtype=None, **kwargs):
        self._fn = fn
        self._fn_kwargs = kwargs
        super().__init__(name=name or fn.__name__, dtype=dtype)

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        super().update_state(self._fn(y_true, y_pred, **self._fn_kwargs), sample_weight)

    def get_config(self) -> dict:
        return {"name": self.name, "dtype": self.dtype, **self._fn_kwargs}


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


class MeanSquaredError(MeanMetricWrapper):
    def __init__(self, name="mean_squared_error", dtype=None):
        super().__init__(_mse, name=name, dtype=dtype)


class MeanAbsoluteError(MeanMetricWrapper):
    def __init__(self, name="mean_absolute_error", dtype=None):
        super().__init__(_mae, name=name, dtype=dtype)


def _mse(y_true, y_pred):
    y_true, y_pred = _array(y_true), _array(y_pred)
    return ((y_pred - y_true.reshape(y_pred.shape)) ** 2).mean(axis=-1)


def _mae(y_true, y_pred):
    y_true, y_pred = _array(y_true), _array(y_pred)
    return np.abs(y_pred - y_true.reshape(y_pred.shape)).mean(axis=-1)


_BY_NAME = {
    "sparse_categorical_accuracy": SparseCategoricalAccuracy,
    "categorical_accuracy": CategoricalAccuracy,
    "binary_accuracy": BinaryAccuracy,
    "mean_squared_error": MeanSquaredError,
    "mse": MeanSquaredError,
    "mean_absolute_error": MeanAbsoluteError,
    "mae": MeanAbsoluteError,
    "mean": Mean,
}
_ACCURACY_IDS = ("accuracy", "acc")


def get(identifier, y_true=None, y_pred=None) -> Metric:
    """Resolve a metric identifier to a fresh metric object.

    ``"accuracy"``/``"acc"`` becomes binary, sparse categorical or categorical
    accuracy from the shapes of the labels and predictions, as in Keras, and
    keeps the name ``"accuracy"``.

    Raises:
        ValueError: for an unknown identifier (lists the valid ones).
    """
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Metric):
        return identifier()
    if isinstance(identifier, str):
        key = identifier
        if key in _ACCURACY_IDS:
            return _resolve_accuracy(key, y_true, y_pred)
        snake = _snake(key)
        if snake in _BY_NAME:
            return _BY_NAME[snake]() if snake not in ("mse", "mae") else _BY_NAME[snake](name=key)
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


def _snake(name: str) -> str:
    from cnnkit.layers.base import to_snake_case

    return to_snake_case(name)
