"""Keras's loss-based metrics: each averages a loss function of :mod:`cnnkit.losses` over
every sample seen (``MeanMetricWrapper``), with Keras 3's names and arguments.

Cross-entropies (``BinaryCrossentropy``, ``CategoricalCrossentropy``,
``SparseCategoricalCrossentropy``), divergences (``KLDivergence``, ``Poisson``), hinges
(``Hinge``, ``SquaredHinge``, ``CategoricalHinge``) and the regression errors
``MeanAbsolutePercentageError``, ``MeanSquaredLogarithmicError``, ``LogCoshError``. The loss
runs outside the autodiff graph.

Example:
    >>> m = KLDivergence()
    >>> m.update_state([[0.5, 0.5]], [[0.25, 0.75]])
    >>> round(float(m.result()), 4)
    0.1438
"""

from __future__ import annotations

import numpy as np

from cnnkit import losses
from cnnkit.autodiff import no_grad
from cnnkit.metrics.base import MeanMetricWrapper, _host


def _float32(x):
    return _host(x, "float32")


class _LossMetric(MeanMetricWrapper):
    """The sample-wise mean of a loss function, computed in float32 without gradients."""

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        with no_grad():
            values = self._fn(_host(y_true), _float32(y_pred), **self._fn_kwargs)
        values = np.asarray(values.numpy() if hasattr(values, "numpy") else values)
        if sample_weight is not None:
            sample_weight = _host(sample_weight, "float64")
            if sample_weight.ndim == values.ndim + 1 and sample_weight.shape[-1] == 1:
                sample_weight = sample_weight.reshape(sample_weight.shape[:-1])
        super(MeanMetricWrapper, self).update_state(values, sample_weight)


class BinaryCrossentropy(_LossMetric):
    """Mean binary cross-entropy; see :func:`cnnkit.losses.binary_crossentropy`."""

    def __init__(
        self, name="binary_crossentropy", dtype=None, from_logits=False, label_smoothing=0
    ):
        super().__init__(
            losses.binary_crossentropy,
            name=name,
            dtype=dtype,
            from_logits=from_logits,
            label_smoothing=label_smoothing,
        )


class CategoricalCrossentropy(_LossMetric):
    """Mean categorical cross-entropy; see :func:`cnnkit.losses.categorical_crossentropy`."""

    def __init__(
        self,
        name="categorical_crossentropy",
        dtype=None,
        from_logits=False,
        label_smoothing=0,
        axis=-1,
    ):
        super().__init__(
            losses.categorical_crossentropy,
            name=name,
            dtype=dtype,
            from_logits=from_logits,
            label_smoothing=label_smoothing,
            axis=axis,
        )


class SparseCategoricalCrossentropy(_LossMetric):
    """Mean cross-entropy against integer labels (``ignore_class`` samples count as 0)."""

    def __init__(
        self,
        name="sparse_categorical_crossentropy",
        dtype=None,
        from_logits=False,
        ignore_class=None,
        axis=-1,
    ):
        super().__init__(
            losses.sparse_categorical_crossentropy,
            name=name,
            dtype=dtype,
            from_logits=from_logits,
            ignore_class=ignore_class,
            axis=axis,
        )


class KLDivergence(_LossMetric):
    """Mean Kullback-Leibler divergence; see :func:`cnnkit.losses.kl_divergence`."""

    def __init__(self, name="kl_divergence", dtype=None):
        super().__init__(losses.kl_divergence, name=name, dtype=dtype)


class Poisson(_LossMetric):
    """Mean Poisson loss; see :func:`cnnkit.losses.poisson`."""

    def __init__(self, name="poisson", dtype=None):
        super().__init__(losses.poisson, name=name, dtype=dtype)


class Hinge(_LossMetric):
    """Mean hinge loss; see :func:`cnnkit.losses.hinge`."""

    def __init__(self, name="hinge", dtype=None):
        super().__init__(losses.hinge, name=name, dtype=dtype)


class SquaredHinge(_LossMetric):
    """Mean squared hinge loss; see :func:`cnnkit.losses.squared_hinge`."""

    def __init__(self, name="squared_hinge", dtype=None):
        super().__init__(losses.squared_hinge, name=name, dtype=dtype)


class CategoricalHinge(_LossMetric):
    """Mean categorical hinge loss; see :func:`cnnkit.losses.categorical_hinge`."""

    def __init__(self, name="categorical_hinge", dtype=None):
        super().__init__(losses.categorical_hinge, name=name, dtype=dtype)


class MeanAbsolutePercentageError(_LossMetric):
    """Mean absolute percentage error (in percent)."""

    def __init__(self, name="mean_absolute_percentage_error", dtype=None):
        super().__init__(losses.mean_absolute_percentage_error, name=name, dtype=dtype)


class MeanSquaredLogarithmicError(_LossMetric):
    """Mean squared logarithmic error."""

    def __init__(self, name="mean_squared_logarithmic_error", dtype=None):
        super().__init__(losses.mean_squared_logarithmic_error, name=name, dtype=dtype)


class LogCoshError(_LossMetric):
    """Mean ``log(cosh(y_pred - y_true))`` (Keras names it ``logcosh``)."""

    def __init__(self, name="logcosh", dtype=None):
        super().__init__(losses.log_cosh, name=name, dtype=dtype)
