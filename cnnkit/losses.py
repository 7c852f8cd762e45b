"""Loss functions and classes with Keras 3's names, arguments and numerics (``keras.losses``).

Functions (``mean_squared_error``, ``categorical_crossentropy``, ...) return per-sample losses:
``(N,)`` for ``(N, K)`` predictions. Classes (``MeanSquaredError``, ...) are callables that add
sample weights and a batch reduction and return a scalar Tensor::

    "sum_over_batch_size" (default), "mean":  sum(w * loss) / number of loss values
    "sum":                                    sum(w * loss)
    "mean_with_sample_weight":                sum(w * loss) / sum(w)
    "none" or None:                           the weighted per-sample losses

Cross-entropies clip probabilities to ``[1e-7, 1 - 1e-7]`` (after normalising by their sum, for
the categorical ones). When ``y_pred`` is the output of ``cnnkit.activations.softmax`` and
``from_logits=False``, the loss works from the recorded logits (``y_pred._keras_logits``)
instead, as TF-Keras does: the same value without the clipping, and exact gradients even for
saturated probabilities.

Deliberate deviations: only the last axis can be the class axis (``axis=-1``); the ``dtype``
argument casts constant predictions only (arrays, Tensors outside the autodiff graph): a
prediction that needs gradients keeps its own float dtype.

Example:
    >>> import numpy as np
    >>> y_true = np.array([1, 2])
    >>> y_pred = np.array([[0.05, 0.95, 0.0], [0.1, 0.8, 0.1]], dtype="float32")
    >>> round(float(SparseCategoricalCrossentropy()(y_true, y_pred).numpy()), 3)
    1.177
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

from cnnkit import backend
from cnnkit.argument_validation import snake_case
from cnnkit.autodiff import Tensor
from cnnkit.backend import xp
from cnnkit.kernels import losses as ops

__all__ = [
    "Loss",
    "LossFunctionWrapper",
    "MeanSquaredError",
    "MeanAbsoluteError",
    "BinaryCrossentropy",
    "CategoricalCrossentropy",
    "SparseCategoricalCrossentropy",
    "mean_squared_error",
    "mean_absolute_error",
    "mse",
    "mae",
    "binary_crossentropy",
    "categorical_crossentropy",
    "sparse_categorical_crossentropy",
    "get",
    "serialize",
    "deserialize",
]

_REDUCTIONS = ("sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", "none", None)


# ---------------------------------------------------------------------------
# Argument handling
# ---------------------------------------------------------------------------


def _prediction(y_pred, cast_arrays: bool = False) -> Tensor:
    """Float Tensors pass through; other inputs become constants.

    Lists and non-float arrays take ``backend.floatx()``; float arrays keep their dtype unless
    ``cast_arrays`` (what ``Loss.__call__`` does, like Keras's loss ``dtype``).
    """
    if isinstance(y_pred, Tensor):
        if y_pred.dtype.kind != "f":
            return Tensor(y_pred.data.astype(backend.floatx()))
        return y_pred
    is_float_array = isinstance(y_pred, xp.ndarray) and y_pred.dtype.kind == "f"
    if is_float_array and not cast_arrays:
        return Tensor(y_pred)
    return Tensor(xp.asarray(y_pred, dtype=backend.floatx()))


def _array(x):
    return x.data if isinstance(x, Tensor) else xp.asarray(x)


def _same_rank(y_true, y_pred: Tensor):
    """Keras's squeeze-or-expand: fix a rank difference of one trailing axis of size 1."""
    t = _array(y_true)
    if t.ndim == y_pred.ndim + 1 and t.shape[-1] == 1:
        if y_pred.ndim == 1:
            y_pred = y_pred.reshape(y_pred.shape + (1,))
        else:
            t = t.reshape(t.shape[:-1])
    elif y_pred.ndim == t.ndim + 1 and y_pred.shape[-1] == 1:
        if t.ndim == 1:
            t = t.reshape(t.shape + (1,))
        else:
            y_pred = y_pred.reshape(y_pred.shape[:-1])
    return t, y_pred


def _check_axis(axis) -> None:
    if isinstance(axis, bool) or axis != -1:
        raise ValueError(
            "Only the last axis can be the class axis in cnnkit losses. "
            f"Expected axis=-1. Received: axis={axis!r}"
        )


def _check_label_smoothing(label_smoothing) -> float:
    value = float(label_smoothing)
    if not 0.0 <= value <= 1.0:
        raise ValueError(
            "Invalid value for argument `label_smoothing`. Expected a float in [0, 1]. "
            f"Received: label_smoothing={label_smoothing!r}"
        )
    return value


def _logits_of(y_pred: Tensor, from_logits: bool, fn_name: str):
    """Use a softmax output's recorded logits, as TF-Keras does; returns (y_pred, from_logits)."""
    logits = getattr(y_pred, "_keras_logits", None)
    if logits is None:
        return y_pred, from_logits
    if from_logits:
        warnings.warn(
            f"`{fn_name}` received `from_logits=True`, but the `y_pred` argument was produced "
            "by a softmax activation and thus does not represent logits. Was this intended?",
            stacklevel=3,
        )
    return logits, True


# ---------------------------------------------------------------------------
# Loss functions: per-sample values
# ---------------------------------------------------------------------------


def mean_squared_error(y_true, y_pred) -> Tensor:
    """Mean squared error over the last axis: ``mean(square(y_true - y_pred), axis=-1)``.

    Args:
        y_true: targets, shape ``(N, d0, ..., dk)``.
        y_pred: predictions, same shape (a trailing axis of 1 on either side is reconciled).

    Returns:
        Tensor ``(N, d0, ..., dk-1)``.

    Raises:
        ValueError: if the shapes differ.
    """
    y_pred = _prediction(y_pred)
    y_true, y_pred = _same_rank(y_true, y_pred)
    return ops.mean_squared_error(y_true, y_pred)


def mean_absolute_error(y_true, y_pred) -> Tensor:
    """Mean absolute error over the last axis: ``mean(abs(y_true - y_pred), axis=-1)``.

    Args and Returns as :func:`mean_squared_error`.
    """
    y_pred = _prediction(y_pred)
    y_true, y_pred = _same_rank(y_true, y_pred)
    return ops.mean_absolute_error(y_true, y_pred)


mse = mean_squared_error
mae = mean_absolute_error


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1) -> Tensor:
    """Binary cross-entropy, averaged over the last axis.

    Args:
        y_true: targets in [0, 1], shape ``(N, d0, ..., dk)``.
        y_pred: probabilities (or logits when ``from_logits``), same shape.
        from_logits: whether ``y_pred`` holds logits.
        label_smoothing: in [0, 1]; targets become ``y * (1 - s) + 0.5 * s``.
        axis: must be ``-1``.

    Returns:
        Tensor ``(N, d0, ..., dk-1)``.

    Raises:
        ValueError: on mismatched shapes or invalid arguments.

    Example:
        >>> y_true = [[0.0, 1.0], [0.0, 0.0]]
        >>> y_pred = [[0.6, 0.4], [0.4, 0.6]]
        >>> binary_crossentropy(y_true, y_pred).numpy().round(3)
        array([0.916, 0.714], dtype=float32)
    """
    _check_axis(axis)
    smoothing = _check_label_smoothing(label_smoothing)
    y_pred = _prediction(y_pred)
    y_true, y_pred = _same_rank(y_true, y_pred)
    y_true = y_true.astype(y_pred.dtype, copy=False)
    if smoothing:
        dt = y_pred.dtype.type
        y_true = y_true * dt(1.0 - smoothing) + dt(0.5 * smoothing)
    return ops.binary_crossentropy(y_true, y_pred, from_logits=bool(from_logits))


def categorical_crossentropy(
    y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1
) -> Tensor:
    """Categorical cross-entropy against one-hot targets.

    Args:
        y_true: one-hot (or soft) targets, shape ``(N, K)``.
        y_pred: probabilities (or logits when ``from_logits``), shape ``(N, K)``. A softmax
            output is evaluated from its logits.
        from_logits: whether ``y_pred`` holds logits.
        label_smoothing: in [0, 1]; targets become ``y * (1 - s) + s / K``.
        axis: must be ``-1``.

    Returns:
        Tensor ``(N,)``.

    Raises:
        ValueError: on a batch-size or class-count mismatch, or invalid arguments.

    Example:
        >>> y_true = [[0, 1, 0], [0, 0, 1]]
        >>> y_pred = [[0.05, 0.95, 0], [0.1, 0.8, 0.1]]
        >>> categorical_crossentropy(y_true, y_pred).numpy().round(4)
        array([0.0513, 2.3026], dtype=float32)
    """
    _check_axis(axis)
    smoothing = _check_label_smoothing(label_smoothing)
    y_pred = _prediction(y_pred)
    y_pred, from_logits = _logits_of(y_pred, bool(from_logits), "categorical_crossentropy")
    y_true = _array(y_true).astype(y_pred.dtype, copy=False)
    if smoothing:
        dt = y_pred.dtype.type
        y_true = y_true * dt(1.0 - smoothing) + dt(smoothing / y_true.shape[-1])
    return ops.categorical_crossentropy(y_true, y_pred, from_logits=from_logits)


def sparse_categorical_crossentropy(
    y_true, y_pred, from_logits=False, ignore_class=None, axis=-1
) -> Tensor:
    """Categorical cross-entropy against integer labels.

    Args:
        y_true: integer labels (int or float), shape ``(N,)`` or ``(N, 1)``.
        y_pred: probabilities (or logits when ``from_logits``), shape ``(N, K)``. A softmax
            output is evaluated from its logits.
        from_logits: whether ``y_pred`` holds logits.
        ignore_class: a label value whose samples get a loss of 0 (and no gradient), e.g. a
            "void" class such as -1 or 255; ``None`` to use every sample.
        axis: must be ``-1``.

    Returns:
        Tensor ``(N,)``.

    Raises:
        ValueError: on a shape mismatch or a label outside ``[0, K)`` (other than
            ``ignore_class``), e.g. "Received a label value of 10 which is outside the
            valid range of [0, 10)".

    Example:
        >>> y_pred = [[0.05, 0.95, 0], [0.1, 0.8, 0.1]]
        >>> sparse_categorical_crossentropy([1, 2], y_pred).numpy().round(4)
        array([0.0513, 2.3026], dtype=float32)
    """
    _check_axis(axis)
    y_pred = _prediction(y_pred)
    y_pred, from_logits = _logits_of(y_pred, bool(from_logits), "sparse_categorical_crossentropy")
    labels = _array(y_true)
    if ignore_class is None:
        return ops.sparse_categorical_crossentropy(labels, y_pred, from_logits=from_logits)
    valid = _valid_mask(labels, y_pred, ignore_class)
    labels = xp.where(valid.reshape(labels.shape), labels, 0)
    losses = ops.sparse_categorical_crossentropy(labels, y_pred, from_logits=from_logits)
    return losses * valid.astype(y_pred.dtype)


def _valid_mask(labels, y_pred, ignore_class):
    """Samples whose label is not ``ignore_class``, shaped like the per-sample losses."""
    valid = labels != ignore_class
    if valid.ndim == y_pred.ndim and valid.ndim > 0 and valid.shape[-1] == 1:
        valid = valid.reshape(valid.shape[:-1])
    return valid


# ---------------------------------------------------------------------------
# Reduction
# ---------------------------------------------------------------------------


def _standardize_reduction(reduction):
    if reduction not in _REDUCTIONS:
        raise ValueError(
            "Invalid value for argument `reduction`. "
            f"Expected one of {_REDUCTIONS}. Received: reduction={reduction!r}"
        )
    return reduction


def reduce_weighted_values(values: Tensor, sample_weight=None, mask=None, reduction=None):
    """Weight per-sample losses and reduce them (see the module docstring).

    Args:
        values: per-sample losses ``(N, ...)``.
        sample_weight: optional weights, shape ``(N,)`` or broadcastable to ``values``.
        mask: optional boolean array of ``values``' shape; masked-out values count as absent
            (the "mean" reductions divide by the number of valid values).
        reduction: one of the reductions in the module docstring.

    Returns:
        A scalar Tensor, or ``values``' shape for ``"none"``/``None``.
    """
    dtype = values.dtype
    weight = None
    if sample_weight is not None:
        weight = _array(sample_weight).astype(dtype, copy=False)
        if weight.ndim < values.ndim:
            weight = weight.reshape(weight.shape + (1,) * (values.ndim - weight.ndim))
        elif weight.ndim == values.ndim + 1 and weight.shape[-1] == 1:
            weight = weight.reshape(weight.shape[:-1])
    if mask is not None:
        m = mask.astype(dtype)
        if reduction in ("mean", "sum_over_batch_size"):
            valid = m.sum()
            m = m * (dtype.type(m.size) / valid if valid > 0 else dtype.type(0))
        weight = m if weight is None else weight * m
    if weight is not None:
        values = values * Tensor(weight)
    if reduction in (None, "none") or values.ndim == 0:
        return values
    total = values.sum()
    if reduction == "sum":
        return total
    if reduction == "mean_with_sample_weight" and weight is not None:
        denom = xp.broadcast_to(weight, values.shape).sum()
        return total / Tensor(dtype.type(denom)) if denom != 0 else total * dtype.type(0)
    count = values.data.size
    if count == 0:
        return total
    return total / Tensor(dtype.type(count))


# ---------------------------------------------------------------------------
# Loss classes
# ---------------------------------------------------------------------------


class Loss:
    """Base class of losses: per-sample values from ``call``, then weights and a reduction.

    Args:
        name: optional name (default: the class name in snake case).
        reduction: ``"sum_over_batch_size"`` (default), ``"sum"``, ``"mean"``,
            ``"mean_with_sample_weight"``, ``"none"`` or ``None``.
        dtype: the float dtype constant predictions are cast to (default: ``floatx``).

    Subclasses implement ``call(y_true, y_pred) -> Tensor`` of per-sample losses.

    Example:
        >>> class MyMSE(Loss):
        ...     def call(self, y_true, y_pred):
        ...         return mean_squared_error(y_true, y_pred)
        >>> MyMSE().name
        'my_mse'
    """

    def __init__(self, name: str | None = None, reduction="sum_over_batch_size", dtype=None):
        self.name = name or snake_case(type(self).__name__)
        self.reduction = _standardize_reduction(reduction)
        self.dtype = dtype

    def __call__(self, y_true, y_pred, sample_weight=None) -> Tensor:
        """The reduced loss (a scalar Tensor unless the reduction is ``"none"``)."""
        y_pred = _prediction(y_pred, cast_arrays=True)
        if self.dtype is not None and not y_pred.requires_grad:
            y_pred = Tensor(y_pred.data.astype(self.dtype, copy=False))  # constants only
        values = self.call(y_true, y_pred)
        mask = self._mask(y_true, y_pred)
        out_mask = getattr(values, "_keras_mask", None)  # e.g. Circle's rows without pairs
        if out_mask is not None:
            mask = out_mask if mask is None else mask & out_mask
        return reduce_weighted_values(values, sample_weight, mask, self.reduction)

    def call(self, y_true, y_pred) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def _mask(self, y_true, y_pred):
        """Which per-sample values count (``None``: all); see ``ignore_class``."""
        return None

    def get_config(self) -> dict:
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r}, reduction={self.reduction!r}>"


class LossFunctionWrapper(Loss):
    """A :class:`Loss` around a per-sample loss function and its keyword arguments.

    Args:
        fn: ``fn(y_true, y_pred, **kwargs) -> per-sample Tensor``.
        reduction, name: as :class:`Loss`.
        **kwargs: passed to ``fn`` on every call.
    """

    def __init__(
        self, fn: Callable, reduction="sum_over_batch_size", name=None, dtype=None, **kwargs
    ):
        super().__init__(
            name=name or getattr(fn, "__name__", None), reduction=reduction, dtype=dtype
        )
        self.fn = fn
        self._fn_kwargs = kwargs

    def call(self, y_true, y_pred) -> Tensor:
        return self.fn(y_true, y_pred, **self._fn_kwargs)

    def get_config(self) -> dict:
        return {**super().get_config(), "fn": self.fn, **self._fn_kwargs}


class MeanSquaredError(LossFunctionWrapper):
    """``mean(square(y_true - y_pred))``: per sample over the last axis, then reduced.

    Example:
        >>> float(MeanSquaredError()([[0.0, 1.0]], [[1.0, 1.0]]).numpy())
        0.5
    """

    def __init__(self, reduction="sum_over_batch_size", name="mean_squared_error", dtype=None):
        super().__init__(mean_squared_error, reduction=reduction, name=name, dtype=dtype)

    def get_config(self) -> dict:
        return Loss.get_config(self)


class MeanAbsoluteError(LossFunctionWrapper):
    """``mean(abs(y_true - y_pred))``: per sample over the last axis, then reduced."""

    def __init__(self, reduction="sum_over_batch_size", name="mean_absolute_error", dtype=None):
        super().__init__(mean_absolute_error, reduction=reduction, name=name, dtype=dtype)

    def get_config(self) -> dict:
        return Loss.get_config(self)


class BinaryCrossentropy(LossFunctionWrapper):
    """Binary cross-entropy; see :func:`binary_crossentropy` for the arguments."""

    def __init__(
        self,
        from_logits=False,
        label_smoothing=0.0,
        axis=-1,
        reduction="sum_over_batch_size",
        name="binary_crossentropy",
        dtype=None,
    ):
        _check_axis(axis)
        label_smoothing = _check_label_smoothing(label_smoothing)
        super().__init__(
            binary_crossentropy,
            reduction=reduction,
            name=name,
            dtype=dtype,
            from_logits=from_logits,
            label_smoothing=label_smoothing,
            axis=axis,
        )
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing
        self.axis = axis

    def get_config(self) -> dict:
        return {
            **Loss.get_config(self),
            "from_logits": self.from_logits,
            "label_smoothing": self.label_smoothing,
            "axis": self.axis,
        }


class CategoricalCrossentropy(LossFunctionWrapper):
    """Categorical cross-entropy; see :func:`categorical_crossentropy` for the arguments.

    Example:
        >>> y_true = [[0, 1, 0], [0, 0, 1]]
        >>> y_pred = [[0.05, 0.95, 0], [0.1, 0.8, 0.1]]
        >>> round(float(CategoricalCrossentropy()(y_true, y_pred).numpy()), 3)
        1.177
    """

    def __init__(
        self,
        from_logits=False,
        label_smoothing=0.0,
        axis=-1,
        reduction="sum_over_batch_size",
        name="categorical_crossentropy",
        dtype=None,
    ):
        _check_axis(axis)
        label_smoothing = _check_label_smoothing(label_smoothing)
        super().__init__(
            categorical_crossentropy,
            reduction=reduction,
            name=name,
            dtype=dtype,
            from_logits=from_logits,
            label_smoothing=label_smoothing,
            axis=axis,
        )
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing
        self.axis = axis

    def get_config(self) -> dict:
        return {
            **Loss.get_config(self),
            "from_logits": self.from_logits,
            "label_smoothing": self.label_smoothing,
            "axis": self.axis,
        }


class SparseCategoricalCrossentropy(LossFunctionWrapper):
    """Cross-entropy against integer labels; see :func:`sparse_categorical_crossentropy`.

    With ``ignore_class``, ignored samples contribute 0 and the mean reductions divide by the
    number of the other samples, as in Keras.
    """

    def __init__(
        self,
        from_logits=False,
        ignore_class=None,
        reduction="sum_over_batch_size",
        axis=-1,
        name="sparse_categorical_crossentropy",
        dtype=None,
    ):
        _check_axis(axis)
        super().__init__(
            sparse_categorical_crossentropy,
            reduction=reduction,
            name=name,
            dtype=dtype,
            from_logits=from_logits,
            ignore_class=ignore_class,
        )
        self.from_logits = from_logits
        self.ignore_class = ignore_class

    def _mask(self, y_true, y_pred):
        if self.ignore_class is None:
            return None
        return _valid_mask(_array(y_true), y_pred, self.ignore_class)

    def get_config(self) -> dict:
        return {
            **Loss.get_config(self),
            "from_logits": self.from_logits,
            "ignore_class": self.ignore_class,
        }


# ---------------------------------------------------------------------------
# The rest of Keras's losses (they subclass the classes above)
# ---------------------------------------------------------------------------

from cnnkit.losses_extra import (  # noqa: E402
    CTC,
    BinaryFocalCrossentropy,
    CategoricalFocalCrossentropy,
    CategoricalGeneralizedCrossEntropy,
    CategoricalHinge,
    Circle,
    CosineSimilarity,
    Dice,
    Hinge,
    Huber,
    KLDivergence,
    LogCosh,
    MeanAbsolutePercentageError,
    MeanSquaredLogarithmicError,
    Poisson,
    SquaredHinge,
    Tversky,
    binary_focal_crossentropy,
    categorical_focal_crossentropy,
    categorical_generalized_cross_entropy,
    categorical_hinge,
    circle,
    cosine_similarity,
    ctc,
    dice,
    hinge,
    huber,
    kl_divergence,
    log_cosh,
    mean_absolute_percentage_error,
    mean_squared_logarithmic_error,
    poisson,
    squared_hinge,
    tversky,
)
from cnnkit.losses_extra import __all__ as _extra_names  # noqa: E402

mape = mean_absolute_percentage_error
msle = mean_squared_logarithmic_error
kld = kl_divergence
__all__ += [*_extra_names, "mape", "msle", "kld"]

# ---------------------------------------------------------------------------
# Lookup by name
# ---------------------------------------------------------------------------

_CLASSES = {
    cls.__name__: cls
    for cls in (
        MeanSquaredError,
        MeanAbsoluteError,
        BinaryCrossentropy,
        CategoricalCrossentropy,
        SparseCategoricalCrossentropy,
        BinaryFocalCrossentropy,
        CategoricalFocalCrossentropy,
        CategoricalGeneralizedCrossEntropy,
        CategoricalHinge,
        Circle,
        CosineSimilarity,
        CTC,
        Dice,
        Hinge,
        Huber,
        KLDivergence,
        LogCosh,
        MeanAbsolutePercentageError,
        MeanSquaredLogarithmicError,
        Poisson,
        SquaredHinge,
        Tversky,
    )
}
_FUNCTIONS: dict[str, Callable] = {
    fn.__name__: fn
    for fn in (
        mean_squared_error,
        mean_absolute_error,
        binary_crossentropy,
        categorical_crossentropy,
        sparse_categorical_crossentropy,
        binary_focal_crossentropy,
        categorical_focal_crossentropy,
        categorical_generalized_cross_entropy,
        categorical_hinge,
        circle,
        cosine_similarity,
        ctc,
        dice,
        hinge,
        huber,
        kl_divergence,
        log_cosh,
        mean_absolute_percentage_error,
        mean_squared_logarithmic_error,
        poisson,
        squared_hinge,
        tversky,
    )
}
_FUNCTIONS.update(
    {
        "mse": mean_squared_error,
        "MSE": mean_squared_error,
        "mae": mean_absolute_error,
        "MAE": mean_absolute_error,
        "bce": binary_crossentropy,
        "BCE": binary_crossentropy,
        "kld": kl_divergence,
        "KLD": kl_divergence,
        "mape": mean_absolute_percentage_error,
        "MAPE": mean_absolute_percentage_error,
        "msle": mean_squared_logarithmic_error,
        "MSLE": mean_squared_logarithmic_error,
    }
)


def _unknown(identifier) -> ValueError:
    return ValueError(
        f"Could not interpret loss identifier: {identifier!r}. "
        f"Expected one of {sorted(_FUNCTIONS) + sorted(_CLASSES)}"
    )


def get(identifier):
    """Resolve a loss: a function name (or ``mse``/``mae``/``bce``), a class name (a new
    instance), a ``{"class_name", "config"}`` dict, a Loss instance or any callable.

    Returns ``None`` for ``None``.

    Raises:
        ValueError: for an unknown name or a non-callable object.
    """
    if identifier is None:
        return None
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        if identifier in _FUNCTIONS:
            return _FUNCTIONS[identifier]
        if identifier in _CLASSES:
            return _CLASSES[identifier]()
        raise _unknown(identifier)
    if callable(identifier):
        return identifier
    raise _unknown(identifier)


def serialize(loss):
    """A Loss as ``serialize_keras_object`` writes it; a loss function as its name."""
    if isinstance(loss, Loss):
        # cnnkit.saving imports this module: imported at call time
        from cnnkit.saving.serialization import serialize_keras_object

        return serialize_keras_object(loss)
    name = getattr(loss, "__name__", None)
    if name is None:
        raise ValueError(f"Cannot serialize loss {loss!r}: it has no `__name__`.")
    return name


def deserialize(config):
    """Inverse of :func:`serialize` (a name or a ``{"class_name", "config"}`` dict)."""
    if isinstance(config, str):
        if config in _FUNCTIONS:
            return _FUNCTIONS[config]
        if config in _CLASSES:
            return _CLASSES[config]()
        raise _unknown(config)
    if isinstance(config, dict) and "class_name" in config:
        # cnnkit.saving imports this module: imported at call time
        from cnnkit.saving.serialization import deserialize_family_object

        return deserialize_family_object(config, _CLASSES, None, _unknown)
    raise _unknown(config)
