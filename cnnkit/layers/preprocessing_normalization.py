"""``Normalization``: shift and scale features by a mean and variance, given or learned (Keras 3).

``outputs = (inputs - mean) / max(sqrt(variance), epsilon)``, or with ``invert=True`` the
inverse ``outputs = mean + inputs * max(sqrt(variance), epsilon)``, where ``epsilon`` is
:func:`cnnkit.backend.epsilon` (1e-7). One mean and variance are kept per position of the
``axis`` dimensions; every other dimension is reduced over.

The statistics come either from the ``mean``/``variance`` arguments (then the layer has no
weights) or from :meth:`Normalization.adapt`, which stores them, as Keras does, in three
non-trainable weights ``mean``, ``variance`` (float) and ``count`` (int32, left at 0 as Keras
leaves it): these travel in
``.keras`` archives and ``.weights.h5`` files like any weight.

Example:
    >>> import numpy as np
    >>> layer = Normalization(axis=None)
    >>> layer.adapt(np.array([1.0, 2.0, 3.0], "float32"))
    >>> layer(np.array([[1.0], [3.0]], "float32")).numpy().round(4)
    array([[-1.2247],
           [ 1.2247]], dtype=float32)
"""

from __future__ import annotations

import itertools
import math
import numbers

import numpy as np

from cnnkit import backend
from cnnkit.autodiff import Tensor
from cnnkit.backend import xp
from cnnkit.layers.base import Layer


def _normalize_axis(axis) -> tuple[int, ...]:
    if axis is None:
        return ()
    if isinstance(axis, numbers.Integral) and not isinstance(axis, bool):
        return (int(axis),)
    try:
        values = tuple(axis)
    except TypeError:
        values = None
    if values is None or not all(
        isinstance(a, numbers.Integral) and not isinstance(a, bool) for a in values
    ):
        raise ValueError(
            "Invalid value for argument `axis`. Expected None, an integer or a tuple of "
            f"integers. Received: axis={axis!r}"
        )
    return tuple(int(a) for a in values)


def _first_of(batch):
    """The features of a batch yielded by a dataset: ``x`` of ``(x, y)`` / ``(x, y, w)``."""
    if isinstance(batch, (tuple, list)) and batch and not np.isscalar(batch[0]):
        return batch[0]
    return batch


def _as_array(value) -> np.ndarray:
    if isinstance(value, Tensor):
        return backend.to_numpy(value.data)
    return np.asarray(value)


class Normalization(Layer):
    """Normalizes continuous features to mean 0 and standard deviation 1 (or undoes it).

    Args:
        axis: the axis or axes that keep separate statistics (default ``-1``: one mean and
            variance per feature of the last axis). ``None`` (or ``()``): one scalar mean and
            variance for the whole input. The batch axis may not be kept.
        mean: the mean to use instead of adapting: a number, or an array broadcastable to
            the kept axes. Must come with ``variance``.
        variance: the variance to use instead of adapting, of the same shape as ``mean``.
        invert: apply the inverse transformation, ``mean + inputs * std``.
        name: layer name.

    Input shape:
        any, with the kept axes of known size.
    Output shape:
        the input's shape, in the layer's float dtype.

    Raises:
        ValueError: ``mean`` without ``variance`` (or the reverse), mismatched shapes, an
            ``axis`` out of range for the input, or adapting on data of another shape.

    Example:
        >>> import numpy as np
        >>> layer = Normalization(mean=[1.0, 2.0], variance=[4.0, 1.0])
        >>> layer(np.array([[3.0, 3.0]], "float32")).numpy()
        array([[1., 1.]], dtype=float32)
        >>> Normalization(mean=2.0, variance=4.0, invert=True)(np.array([[1.0]])).numpy()
        array([[4.]], dtype=float32)
    """

    samplewise = True  # each output sample depends on its input sample alone

    def __init__(self, axis=-1, mean=None, variance=None, invert: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.axis = _normalize_axis(axis)
        if (mean is None) != (variance is None):
            raise ValueError(
                "When setting values directly, both `mean` and `variance` must be set. "
                f"Received: mean={mean!r} and variance={variance!r}"
            )
        if mean is not None:
            if np.shape(mean) != np.shape(variance):
                raise ValueError(
                    "When setting values directly, `mean` and `variance` must have the same "
                    f"shape. Received: mean shape {np.shape(mean)} and variance shape "
                    f"{np.shape(variance)}"
                )
            if len(np.shape(mean)) > len(self.axis):
                raise ValueError(
                    "The rank of `mean` must be less than or equal to the number of axes "
                    f"({len(self.axis)}). Received: mean shape {np.shape(mean)} for axis "
                    f"{self.axis}"
                )
        self.input_mean = mean
        self.input_variance = variance
        self.invert = bool(invert)
        self.supports_masking = True
        self._build_input_shape = None
        self._mean = None  # the fixed statistics (mean/variance arguments), broadcastable
        self._variance = None

    # -- build -----------------------------------------------------------
    def build(self, input_shape):
        input_shape = tuple(input_shape)
        ndim = len(input_shape)
        if any(a < -ndim or a >= ndim for a in self.axis):
            raise ValueError(
                "All `axis` values must be in the range [-ndim, ndim). Received inputs with "
                f"ndim={ndim}, while axis={self.axis}"
            )
        keep = tuple(sorted(a % ndim for a in self.axis))
        for d in keep:
            if input_shape[d] is None:
                raise ValueError(
                    f"All `axis` values to be kept must have a known shape. Received "
                    f"axis={self.axis}, inputs.shape={input_shape}, with unknown axis at "
                    f"index {d}"
                )
        self._build_input_shape = input_shape
        self._keep_axis = keep
        self._reduce_axis = tuple(d for d in range(ndim) if d not in keep)
        self._broadcast_shape = tuple(input_shape[d] if d in keep else 1 for d in range(ndim))
        self._mean_and_var_shape = tuple(input_shape[d] for d in keep)
        if self.input_mean is None:
            self.adapt_mean = self.add_weight(
                shape=self._mean_and_var_shape, initializer="zeros", trainable=False, name="mean"
            )
            self.adapt_variance = self.add_weight(
                shape=self._mean_and_var_shape,
                initializer="ones",
                trainable=False,
                name="variance",
            )
            self.count = self.add_weight(
                shape=(), initializer="zeros", dtype="int32", trainable=False, name="count"
            )
        else:
            self._mean = self._broadcast_statistic(self.input_mean, ndim)
            self._variance = self._broadcast_statistic(self.input_variance, ndim)
        self.built = True

    def _broadcast_statistic(self, value, ndim: int) -> np.ndarray:
        """A given mean/variance laid out along the kept axes (its last dims, right-aligned)."""
        value = np.asarray(_as_array(value), dtype=np.float64)
        expanded = [1] * ndim
        for i in range(1, value.ndim + 1):
            expanded[self._keep_axis[-i]] = value.shape[-i]
        value = np.broadcast_to(value.reshape(expanded), self._broadcast_shape)
        return value.astype(self.dtype)

    # -- adapt -----------------------------------------------------------
    def adapt(self, data) -> None:
        """Compute the mean and variance of ``data``, per position of the kept axes.

        Args:
            data: a NumPy array or Tensor (the whole data set at once), or an iterable of
                batches (a list of arrays, a generator, a ``cnnkit.utils.PyDataset``...);
                ``(x, y)`` tuples contribute their ``x``. Batches are merged with the
                parallel-variance formula, as Keras merges them.

        Raises:
            TypeError: for data that is neither an array nor an iterable of arrays.
            ValueError: for an empty iterable, or batches whose kept axes differ from the
                layer's.
        """
        if isinstance(data, (np.ndarray, Tensor)):
            batches, shape = None, tuple(data.shape)
        elif hasattr(data, "__iter__") or hasattr(data, "__getitem__"):
            iterator = iter(data)
            first = next(iterator, None)
            if first is None:
                raise ValueError(
                    "adapt() received an empty iterable (no batches). Expected at least one "
                    "batch, e.g. layer.adapt([x]) or layer.adapt(list_of_batches)."
                )
            first = _first_of(first)
            if not hasattr(first, "shape"):
                raise TypeError(
                    "adapt() expects an iterable that yields arrays or tensors with a `.shape` "
                    f"attribute. Got an element of type {type(first).__name__}."
                )
            batches, shape = itertools.chain([first], iterator), tuple(first.shape)
        else:
            raise TypeError(
                f"Unsupported data type: {type(data)}. `adapt` supports `np.ndarray`, Tensors "
                "and iterables of batches (e.g. list, generator, PyDataset)."
            )
        if self.input_mean is not None:
            raise ValueError(
                "adapt() cannot be used on a Normalization layer built from `mean` and "
                "`variance` arguments."
            )
        if not self.built:
            self._maybe_build(shape)
        else:
            self._check_kept_shape(shape)

        if batches is None:
            values = _as_array(data).astype(np.float64)
            total_mean = values.mean(axis=self._reduce_axis)
            total_var = values.var(axis=self._reduce_axis)
            total_count = math.prod(values.shape[d] for d in self._reduce_axis)
        else:
            total_mean = np.zeros(self._mean_and_var_shape)
            total_var = np.zeros(self._mean_and_var_shape)
            total_count = 0
            for batch in batches:
                values = _as_array(_first_of(batch)).astype(np.float64)
                self._check_kept_shape(values.shape)
                batch_mean = values.mean(axis=self._reduce_axis)
                batch_var = values.var(axis=self._reduce_axis)
                batch_count = math.prod(values.shape[d] for d in self._reduce_axis)
                total_count += batch_count
                new_weight = batch_count / total_count
                old_weight = 1.0 - new_weight
                new_mean = total_mean * old_weight + batch_mean * new_weight
                total_var = (total_var + (total_mean - new_mean) ** 2) * old_weight + (
                    batch_var + (batch_mean - new_mean) ** 2
                ) * new_weight
                total_mean = new_mean
        self.adapt_mean.assign(np.asarray(total_mean, dtype=self.adapt_mean.dtype))
        self.adapt_variance.assign(np.asarray(total_var, dtype=self.adapt_variance.dtype))

    def _check_kept_shape(self, shape) -> None:
        expected = self._build_input_shape
        if len(shape) != len(expected) or any(
            shape[d] is not None and shape[d] != expected[d] for d in self._keep_axis
        ):
            raise ValueError(
                f"The layer was built with input_shape={expected}, but adapt() is being "
                f"called with data with an incompatible shape, data.shape={tuple(shape)}"
            )

    # -- call ------------------------------------------------------------
    def _statistics(self):
        if self._mean is not None:
            return xp.asarray(self._mean), xp.asarray(self._variance)
        mean = xp.reshape(self.adapt_mean.data, self._broadcast_shape).astype(self.dtype)
        variance = xp.reshape(self.adapt_variance.data, self._broadcast_shape)
        return mean, variance.astype(self.dtype)

    def call(self, inputs):
        mean, variance = self._statistics()
        std = xp.maximum(xp.sqrt(variance), backend.epsilon()).astype(self.dtype)
        if self.invert:
            return inputs * std + mean
        return (inputs - mean) / std

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def compute_mask(self, inputs, mask=None):
        return mask

    def get_config(self) -> dict:
        def listed(value):
            return None if value is None else np.asarray(_as_array(value)).tolist()

        return {
            **super().get_config(),
            "axis": self.axis,
            "invert": self.invert,
            "mean": listed(self.input_mean),
            "variance": listed(self.input_variance),
        }
