"""The rest of Keras 3's losses: functions and classes, re-exported by
:mod:`cnnkit.losses` (import them from there: ``cnnkit.losses.Huber``).

Functions return per-sample values; classes add sample weights and the reduction of
:class:`cnnkit.losses.Loss`. The maths (and each formula) lives in
:mod:`cnnkit.kernels.losses_extra`. Targets are constants: only ``y_pred`` is differentiated.

Deliberate deviations: ``dtype`` as in :class:`cnnkit.losses.Loss`; the focal cross-entropies
take only ``axis=-1``; Huber and CosineSimilarity keep ``delta``/``axis`` in their configs.

Example:
    >>> from cnnkit import losses
    >>> round(float(losses.KLDivergence()([[0.5, 0.5]], [[0.25, 0.75]]).numpy()), 4)
    0.1438
"""

from __future__ import annotations

import numpy as np

from cnnkit.autodiff import Tensor
from cnnkit.kernels import circle_loss
from cnnkit.kernels import losses_extra as ops
from cnnkit.losses import (
    Loss,
    LossFunctionWrapper,
    _check_axis,
    _check_label_smoothing,
    _prediction,
    _same_rank,
)
from cnnkit.ops import nn as nn_ops

__all__ = [
    "Hinge",
    "SquaredHinge",
    "CategoricalHinge",
    "MeanAbsolutePercentageError",
    "MeanSquaredLogarithmicError",
    "Huber",
    "LogCosh",
    "Poisson",
    "KLDivergence",
    "CosineSimilarity",
    "BinaryFocalCrossentropy",
    "CategoricalFocalCrossentropy",
    "CategoricalGeneralizedCrossEntropy",
    "Dice",
    "Tversky",
    "Circle",
    "CTC",
    "hinge",
    "squared_hinge",
    "categorical_hinge",
    "mean_absolute_percentage_error",
    "mean_squared_logarithmic_error",
    "huber",
    "log_cosh",
    "poisson",
    "kl_divergence",
    "cosine_similarity",
    "binary_focal_crossentropy",
    "categorical_focal_crossentropy",
    "categorical_generalized_cross_entropy",
    "dice",
    "tversky",
    "circle",
    "ctc",
]


def _pair(y_true, y_pred):
    """``y_pred`` as a float Tensor and both at the same rank (Keras's squeeze-or-expand)."""
    return _same_rank(y_true, _prediction(y_pred))


# ---------------------------------------------------------------------------
# Functions
# ---------------------------------------------------------------------------


def hinge(y_true, y_pred) -> Tensor:
    """``mean(max(1 - y_true * y_pred, 0), axis=-1)``; 0/1 targets are mapped to -1/1.

    Example:
        >>> hinge([[0.0, 1.0]], [[0.5, 0.2]]).numpy()
        array([1.15], dtype=float32)
    """
    return ops.hinge(*_pair(y_true, y_pred))


def squared_hinge(y_true, y_pred) -> Tensor:
    """``mean(square(max(1 - y_true * y_pred, 0)), axis=-1)``; 0/1 targets become -1/1."""
    return ops.squared_hinge(*_pair(y_true, y_pred))


def categorical_hinge(y_true, y_pred) -> Tensor:
    """``max(max((1 - y_true) * y_pred) - sum(y_true * y_pred) + 1, 0)`` over the last axis."""
    return ops.categorical_hinge(*_pair(y_true, y_pred))


def mean_absolute_percentage_error(y_true, y_pred) -> Tensor:
    """``100 * mean(abs((y_true - y_pred) / max(abs(y_true), 1e-7)), axis=-1)``."""
    return ops.mean_absolute_percentage_error(*_pair(y_true, y_pred))


def mean_squared_logarithmic_error(y_true, y_pred) -> Tensor:
    """``mean(square(log(max(y_pred, eps) + 1) - log(max(y_true, eps) + 1)), axis=-1)``."""
    return ops.mean_squared_logarithmic_error(*_pair(y_true, y_pred))


def huber(y_true, y_pred, delta=1.0) -> Tensor:
    """Huber loss: quadratic for ``|error| <= delta``, linear beyond; mean over the last axis."""
    return ops.huber(*_pair(y_true, y_pred), delta=delta)


def log_cosh(y_true, y_pred) -> Tensor:
    """``mean(log(cosh(y_pred - y_true)), axis=-1)``, computed without overflow."""
    return ops.log_cosh(*_pair(y_true, y_pred))


def poisson(y_true, y_pred) -> Tensor:
    """``mean(y_pred - y_true * log(y_pred + 1e-7), axis=-1)``."""
    return ops.poisson(*_pair(y_true, y_pred))


def kl_divergence(y_true, y_pred) -> Tensor:
    """``sum(y_true * log(y_true / y_pred), axis=-1)``, both clipped to ``[1e-7, 1]``."""
    return ops.kl_divergence(*_pair(y_true, y_pred))


def cosine_similarity(y_true, y_pred, axis=-1) -> Tensor:
    """``-sum(l2_normalize(y_true) * l2_normalize(y_pred), axis)``: -1 for the same direction."""
    return ops.cosine_similarity(*_pair(y_true, y_pred), axis=axis)


def binary_focal_crossentropy(
    y_true,
    y_pred,
    apply_class_balancing=False,
    alpha=0.25,
    gamma=2.0,
    from_logits=False,
    label_smoothing=0.0,
    axis=-1,
) -> Tensor:
    """Focal binary cross-entropy ``(1 - p_t)^gamma * bce``, averaged over the last axis.

    Args:
        y_true, y_pred: targets in [0, 1] and probabilities (logits when ``from_logits``).
        apply_class_balancing: weigh by ``alpha`` (positives) and ``1 - alpha`` (negatives).
        alpha, gamma: the balancing weight and the focusing exponent.
        label_smoothing: targets become ``y * (1 - s) + 0.5 * s``.
        axis: must be ``-1``.
    """
    _check_axis(axis)
    smoothing = _check_label_smoothing(label_smoothing)
    y_true, y_pred = _pair(y_true, y_pred)
    y_true = y_true.astype(y_pred.dtype, copy=False)
    if smoothing:
        y_true = y_true * (1.0 - smoothing) + 0.5 * smoothing
    return ops.binary_focal_crossentropy(
        y_true, y_pred, apply_class_balancing, alpha, gamma, from_logits
    )


def categorical_focal_crossentropy(
    y_true, y_pred, alpha=0.25, gamma=2.0, from_logits=False, label_smoothing=0.0, axis=-1
) -> Tensor:
    """Focal categorical cross-entropy ``-sum(alpha (1 - p)^gamma y log p)`` over the last axis.

    Probabilities are normalised by their sum and clipped to ``[1e-7, 1 - 1e-7]``; with
    ``label_smoothing`` targets become ``y * (1 - s) + s / K``.
    """
    _check_axis(axis)
    smoothing = _check_label_smoothing(label_smoothing)
    y_true, y_pred = _pair(y_true, y_pred)
    y_true = y_true.astype(y_pred.dtype, copy=False)
    if smoothing:
        y_true = y_true * (1.0 - smoothing) + smoothing / y_true.shape[-1]
    return ops.categorical_focal_crossentropy(y_true, y_pred, alpha, gamma, from_logits)


def categorical_generalized_cross_entropy(y_true, y_pred, q) -> Tensor:
    """Generalized cross-entropy ``(1 - p[label]^q) / q`` against integer labels (noisy labels).

    Raises:
        ValueError: for a label outside ``[0, K)``.
    """
    return ops.categorical_generalized_cross_entropy(y_true, _prediction(y_pred), q)


def dice(y_true, y_pred, axis=None) -> Tensor:
    """Dice loss ``1 - 2 sum(y p) / (sum y + sum p + eps)`` over ``axis`` (``None``: all)."""
    return ops.dice(y_true, _prediction(y_pred), axis=axis)


def tversky(y_true, y_pred, alpha=0.5, beta=0.5, axis=None) -> Tensor:
    """Tversky loss ``1 - TP / (TP + alpha FP + beta FN + eps)`` over ``axis`` (``None``: all)."""
    return ops.tversky(y_true, _prediction(y_pred), alpha=alpha, beta=beta, axis=axis)


def circle(
    y_true,
    y_pred,
    ref_labels=None,
    ref_embeddings=None,
    remove_diagonal=True,
    gamma=80,
    margin=0.4,
) -> Tensor:
    """Circle loss of (L2-normalised) embeddings ``y_pred`` with integer labels ``y_true``.

    See :class:`cnnkit.kernels.circle_loss.Circle`; samples with a loss of 0 are masked out
    of the mean reductions.
    """
    return circle_loss.circle(
        y_true, _prediction(y_pred), ref_labels, ref_embeddings, remove_diagonal, gamma, margin
    )


def ctc(y_true, y_pred) -> Tensor:
    """Connectionist temporal classification loss, per sample (see ``cnnkit.ops.ctc_loss``).

    Class 0 is the blank and pads the targets: each target's length is its number of non-zero
    labels, and every output step counts.

    Args:
        y_true: integer labels ``(batch_size, max_label_length)``, padded with 0.
        y_pred: logits ``(batch_size, max_length, num_classes)`` (not softmax-normalised).

    Returns:
        The losses, shape ``(batch_size,)``.

    Example:
        >>> import numpy as np
        >>> round(float(ctc([[1, 0]], np.zeros((1, 2, 2), dtype="float32")).numpy()[0]), 4)
        0.2877
    """
    y_pred = _prediction(y_pred)
    labels = y_true.data if isinstance(y_true, Tensor) else np.asarray(y_true)
    if labels.ndim != 2:
        raise ValueError(
            "Targets `y_true` are expected to be a tensor of shape `(batch_size, max_length)` "
            f"in integer format. Received: y_true.shape={labels.shape}"
        )
    if y_pred.ndim != 3:
        raise ValueError(
            "Logits `y_pred` are expected to be a tensor of shape "
            f"`(batch_size, max_length, num_classes)`. Received: y_pred.shape={y_pred.shape}"
        )
    batch, steps = y_pred.shape[:2]
    label_length = (labels != 0).sum(axis=-1).astype("int32")
    output_length = np.full(batch, steps, dtype="int32")
    return nn_ops.ctc_loss(labels, y_pred, label_length, output_length, mask_index=0)


# ---------------------------------------------------------------------------
# Classes
# ---------------------------------------------------------------------------


class _Simple(LossFunctionWrapper):
    """A loss class around one of the functions above, whose config has extra arguments."""

    _fn = None
    _args: tuple = ()

    def __init__(self, reduction="sum_over_batch_size", name=None, dtype=None, **kwargs):
        if isinstance(kwargs.get("axis"), list):  # a tuple of axes, read back from a JSON config
            kwargs["axis"] = tuple(kwargs["axis"])
        super().__init__(type(self)._fn, reduction=reduction, name=name, dtype=dtype, **kwargs)
        for key in self._args:
            setattr(self, key, kwargs[key])

    def get_config(self) -> dict:
        return {**Loss.get_config(self), **{k: getattr(self, k) for k in self._args}}


class Hinge(_Simple):
    """Hinge loss; see :func:`hinge`."""

    _fn = staticmethod(hinge)

    def __init__(self, reduction="sum_over_batch_size", name="hinge", dtype=None):
        super().__init__(reduction=reduction, name=name, dtype=dtype)


class SquaredHinge(_Simple):
    """Squared hinge loss; see :func:`squared_hinge`."""

    _fn = staticmethod(squared_hinge)

    def __init__(self, reduction="sum_over_batch_size", name="squared_hinge", dtype=None):
        super().__init__(reduction=reduction, name=name, dtype=dtype)


class CategoricalHinge(_Simple):
    """Categorical hinge loss; see :func:`categorical_hinge`."""

    _fn = staticmethod(categorical_hinge)

    def __init__(self, reduction="sum_over_batch_size", name="categorical_hinge", dtype=None):
        super().__init__(reduction=reduction, name=name, dtype=dtype)


class MeanAbsolutePercentageError(_Simple):
    """Mean absolute percentage error; see :func:`mean_absolute_percentage_error`."""

    _fn = staticmethod(mean_absolute_percentage_error)

    def __init__(
        self, reduction="sum_over_batch_size", name="mean_absolute_percentage_error", dtype=None
    ):
        super().__init__(reduction=reduction, name=name, dtype=dtype)


class MeanSquaredLogarithmicError(_Simple):
    """Mean squared logarithmic error; see :func:`mean_squared_logarithmic_error`."""

    _fn = staticmethod(mean_squared_logarithmic_error)

    def __init__(
        self, reduction="sum_over_batch_size", name="mean_squared_logarithmic_error", dtype=None
    ):
        super().__init__(reduction=reduction, name=name, dtype=dtype)


class Huber(_Simple):
    """Huber loss with threshold ``delta`` (kept in the config, which Keras's omits)."""

    _fn = staticmethod(huber)
    _args = ("delta",)

    def __init__(self, delta=1.0, reduction="sum_over_batch_size", name="huber_loss", dtype=None):
        super().__init__(reduction=reduction, name=name, dtype=dtype, delta=delta)


class LogCosh(_Simple):
    """``log(cosh(error))``; see :func:`log_cosh`."""

    _fn = staticmethod(log_cosh)

    def __init__(self, reduction="sum_over_batch_size", name="log_cosh", dtype=None):
        super().__init__(reduction=reduction, name=name, dtype=dtype)


class Poisson(_Simple):
    """Poisson loss; see :func:`poisson`."""

    _fn = staticmethod(poisson)

    def __init__(self, reduction="sum_over_batch_size", name="poisson", dtype=None):
        super().__init__(reduction=reduction, name=name, dtype=dtype)


class KLDivergence(_Simple):
    """Kullback-Leibler divergence; see :func:`kl_divergence`.

    Example:
        >>> round(float(KLDivergence()([[0.5, 0.5]], [[0.25, 0.75]]).numpy()), 4)
        0.1438
    """

    _fn = staticmethod(kl_divergence)

    def __init__(self, reduction="sum_over_batch_size", name="kl_divergence", dtype=None):
        super().__init__(reduction=reduction, name=name, dtype=dtype)


class CosineSimilarity(_Simple):
    """Negative cosine similarity along ``axis`` (kept in the config, which Keras's omits)."""

    _fn = staticmethod(cosine_similarity)
    _args = ("axis",)

    def __init__(
        self, axis=-1, reduction="sum_over_batch_size", name="cosine_similarity", dtype=None
    ):
        super().__init__(reduction=reduction, name=name, dtype=dtype, axis=axis)


class BinaryFocalCrossentropy(_Simple):
    """Focal binary cross-entropy; see :func:`binary_focal_crossentropy`."""

    _fn = staticmethod(binary_focal_crossentropy)
    _args = ("from_logits", "label_smoothing", "axis", "apply_class_balancing", "alpha", "gamma")

    def __init__(
        self,
        apply_class_balancing=False,
        alpha=0.25,
        gamma=2.0,
        from_logits=False,
        label_smoothing=0.0,
        axis=-1,
        reduction="sum_over_batch_size",
        name="binary_focal_crossentropy",
        dtype=None,
    ):
        _check_axis(axis)
        super().__init__(
            reduction=reduction,
            name=name,
            dtype=dtype,
            apply_class_balancing=apply_class_balancing,
            alpha=alpha,
            gamma=gamma,
            from_logits=from_logits,
            label_smoothing=_check_label_smoothing(label_smoothing),
            axis=axis,
        )


class CategoricalFocalCrossentropy(_Simple):
    """Focal categorical cross-entropy; see :func:`categorical_focal_crossentropy`."""

    _fn = staticmethod(categorical_focal_crossentropy)
    _args = ("from_logits", "label_smoothing", "axis", "alpha", "gamma")

    def __init__(
        self,
        alpha=0.25,
        gamma=2.0,
        from_logits=False,
        label_smoothing=0.0,
        axis=-1,
        reduction="sum_over_batch_size",
        name="categorical_focal_crossentropy",
        dtype=None,
    ):
        _check_axis(axis)
        super().__init__(
            reduction=reduction,
            name=name,
            dtype=dtype,
            alpha=alpha,
            gamma=gamma,
            from_logits=from_logits,
            label_smoothing=_check_label_smoothing(label_smoothing),
            axis=axis,
        )


class CategoricalGeneralizedCrossEntropy(_Simple):
    """Generalized cross-entropy (``0 < q < 1``); see :func:`categorical_generalized_cross_entropy`.

    Raises:
        ValueError: if ``q`` is not in ``(0, 1)``.
    """

    _fn = staticmethod(categorical_generalized_cross_entropy)
    _args = ("q",)

    def __init__(
        self,
        q=0.5,
        reduction="sum_over_batch_size",
        name="categorical_generalized_cross_entropy",
        dtype=None,
    ):
        if isinstance(q, bool) or not isinstance(q, (int, float)) or not 0 < q < 1:
            raise ValueError(
                f"Invalid value for argument `q`. Expected a float in (0, 1). Received: q={q!r}"
            )
        super().__init__(reduction=reduction, name=name, dtype=dtype, q=q)


class Dice(_Simple):
    """Dice loss over ``axis`` (``None``: the whole batch gives one value); see :func:`dice`."""

    _fn = staticmethod(dice)
    _args = ("axis",)

    def __init__(self, reduction="sum_over_batch_size", name="dice", axis=None, dtype=None):
        super().__init__(reduction=reduction, name=name, dtype=dtype, axis=axis)


class Tversky(_Simple):
    """Tversky loss; ``alpha`` weighs false positives, ``beta`` false negatives."""

    _fn = staticmethod(tversky)
    _args = ("alpha", "beta", "axis")

    def __init__(
        self,
        alpha=0.5,
        beta=0.5,
        reduction="sum_over_batch_size",
        name="tversky",
        axis=None,
        dtype=None,
    ):
        super().__init__(
            reduction=reduction, name=name, dtype=dtype, alpha=alpha, beta=beta, axis=axis
        )


class Circle(_Simple):
    """Circle loss for embeddings; see :func:`circle`."""

    _fn = staticmethod(circle)
    _args = ("gamma", "margin", "remove_diagonal")

    def __init__(
        self,
        gamma=80.0,
        margin=0.4,
        remove_diagonal=True,
        reduction="sum_over_batch_size",
        name="circle",
        dtype=None,
    ):
        super().__init__(
            reduction=reduction,
            name=name,
            dtype=dtype,
            gamma=gamma,
            margin=margin,
            remove_diagonal=remove_diagonal,
        )


class CTC(_Simple):
    """Connectionist temporal classification loss; see :func:`ctc`.

    Example:
        >>> import numpy as np
        >>> round(float(CTC()([[1, 0]], np.zeros((1, 2, 2), dtype="float32")).numpy()), 4)
        0.2877
    """

    _fn = staticmethod(ctc)

    def __init__(self, reduction="sum_over_batch_size", name="ctc", dtype=None):
        super().__init__(reduction=reduction, name=name, dtype=dtype)
