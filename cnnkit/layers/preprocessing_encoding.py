"""Integer features to vectors: ``CategoryEncoding`` and ``Discretization`` (Keras 3).

:func:`encode_categorical` is the one encoder behind both (and the lookup layers): it turns
integer ids into ``"one_hot"``, ``"multi_hot"`` or ``"count"`` vectors of ``depth`` columns,
with Keras 3's rules on the torch backend:

* a scalar input is a batch of one id;
* ``"one_hot"`` adds a last axis of ``depth`` (replacing a trailing axis of size 1);
* ``"multi_hot"``/``"count"`` reduce axis 1 of inputs of rank >= 2 (axis 0 of rank 1);
* negative ids encode as all-zero rows; ids ``>= depth`` are an error.

Example:
    >>> import numpy as np
    >>> CategoryEncoding(num_tokens=4, output_mode="count")(np.array([[0, 1, 1]])).numpy()
    array([[1., 2., 0., 0.]], dtype=float32)
    >>> Discretization(bin_boundaries=[0.0, 1.0])(np.array([[-0.5, 0.0, 2.0]])).numpy()
    array([[0, 1, 2]], dtype=int32)
"""

from __future__ import annotations

import numbers

import numpy as np

from cnnkit import backend
from cnnkit.autodiff import Tensor
from cnnkit.layers.base import Layer

ENCODING_MODES = ("one_hot", "multi_hot", "count")


def _as_numpy(value) -> np.ndarray:
    if isinstance(value, Tensor):
        return backend.to_numpy(value.data)
    return np.asarray(value)


def encode_categorical(ids, output_mode: str, depth: int, dtype: str, count_weights=None):
    """Encode integer ``ids`` as Keras's ``encode_categorical_inputs`` does (torch backend).

    Args:
        ids: integer array of any rank.
        output_mode: ``"int"`` (a cast), ``"one_hot"``, ``"multi_hot"`` or ``"count"``.
        depth: the number of columns.
        dtype: the output dtype (``count_weights``'s dtype in ``"count"`` mode when given).
        count_weights: ``"count"`` mode only: one weight per id, summed instead of 1.

    Returns:
        a NumPy array.

    Raises:
        ValueError: for an id ``>= depth``.
    """
    ids = np.asarray(ids)
    if output_mode == "int":
        return ids.astype(dtype)
    if ids.ndim == 0:
        ids = ids[None]
    if ids.size and int(ids.max()) >= depth:
        raise ValueError(
            f"Encoding found an id out of range: every id must be < {depth} (the number of "
            f"tokens). Received: max id {int(ids.max())}"
        )
    if output_mode == "one_hot" and ids.ndim > 1 and ids.shape[-1] == 1:
        ids = ids[..., 0]
    ids = ids.astype(np.int64)
    one_hot = (ids[..., None] == np.arange(depth)).astype(dtype)  # (..., depth)
    if output_mode == "one_hot":
        return one_hot
    axis = 1 if ids.ndim > 1 else 0
    if output_mode == "multi_hot":
        return one_hot.max(axis=axis)
    if count_weights is not None:
        weights = np.asarray(count_weights)
        one_hot = one_hot.astype(weights.dtype) * weights[..., None]
    return one_hot.sum(axis=axis)


def encoded_shape(input_shape, output_mode: str, depth: int) -> tuple:
    """The output shape of :func:`encode_categorical` for ``input_shape``."""
    shape = tuple(input_shape)
    if output_mode == "int":
        return shape
    if not shape:  # a scalar is a batch of one id
        return (1, depth) if output_mode == "one_hot" else (depth,)
    if output_mode == "one_hot":
        if len(shape) > 1 and shape[-1] == 1:
            return (*shape[:-1], depth)
        return (*shape, depth)
    if len(shape) >= 2:
        return (shape[0], *shape[2:], depth)
    return (depth,)


def _check_mode(value, allowed, cls_name: str) -> str:
    if value not in allowed:
        raise ValueError(
            f"Invalid value for argument `output_mode` of {cls_name}. Expected one of "
            f"{allowed}. Received: output_mode={value!r}"
        )
    return value


class CategoryEncoding(Layer):
    """Encodes integer ids as one-hot, multi-hot or count vectors of a fixed size.

    Args:
        num_tokens: the number of ids (the output's last size); inputs must lie in
            ``[0, num_tokens)``.
        output_mode: ``"multi_hot"`` (default; ``"binary"`` is an alias), ``"one_hot"`` or
            ``"count"``.
        sparse: must be False (no sparse tensors here, as on Keras's torch backend).
        name: layer name.

    Call arguments:
        inputs: integer ids, of rank 0, 1 or 2 (or more for ``"one_hot"``).
        count_weights: ``"count"`` mode only: weights of the same shape as ``inputs``.

    Input shape:
        ``(batch_size,)`` or ``(batch_size, k)`` integers.
    Output shape:
        ``"one_hot"``: the input shape plus ``num_tokens`` (a trailing axis of size 1 is
        replaced); otherwise ``(batch_size, num_tokens)``. Float, in the layer's dtype.

    Raises:
        ValueError: ``num_tokens`` missing or < 1, an unknown ``output_mode``, ``sparse``,
            ``count_weights`` outside ``"count"`` mode, or an id ``>= num_tokens``.

    Example:
        >>> import numpy as np
        >>> CategoryEncoding(num_tokens=4, output_mode="one_hot")(np.array([3, 0])).numpy()
        array([[0., 0., 0., 1.],
               [1., 0., 0., 0.]], dtype=float32)
    """

    samplewise = True  # each output sample depends on its input sample alone

    _keeps_integer_inputs = True

    def __init__(self, num_tokens=None, output_mode="multi_hot", sparse=False, **kwargs):
        super().__init__(**kwargs)
        if output_mode == "binary":
            output_mode = "multi_hot"
        _check_mode(output_mode, ENCODING_MODES, "CategoryEncoding")
        if num_tokens is None:
            raise ValueError(
                "num_tokens must be set to use this layer. If the number of tokens is not "
                "known beforehand, use the IntegerLookup layer instead."
            )
        if not isinstance(num_tokens, numbers.Integral) or num_tokens < 1:
            raise ValueError(f"`num_tokens` must be >= 1. Received: num_tokens={num_tokens!r}.")
        if sparse:
            raise ValueError(
                "`sparse=True` is not supported: cnnkit has no sparse tensors (Keras refuses "
                f"it on the torch backend). Received: sparse={sparse!r}"
            )
        self.num_tokens = int(num_tokens)
        self.output_mode = output_mode
        self.sparse = False

    def call(self, inputs, count_weights=None):
        if count_weights is not None:
            if self.output_mode != "count":
                raise ValueError(
                    "`count_weights` is not used when `output_mode` is not `'count'`. "
                    f"Received `count_weights={count_weights!r}`."
                )
            count_weights = _as_numpy(count_weights).astype(self.dtype)
        ids = _as_numpy(inputs)
        out = encode_categorical(ids, self.output_mode, self.num_tokens, self.dtype, count_weights)
        return Tensor(out)

    def compute_output_shape(self, input_shape):
        return encoded_shape(input_shape, self.output_mode, self.num_tokens)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "num_tokens": self.num_tokens,
            "output_mode": self.output_mode,
        }


# -- Discretization's quantile summaries (Keras's algorithm) -------------------------------
def _summarize(values: np.ndarray, epsilon: float) -> np.ndarray:
    """Every ``step``-th sorted value with weight ``step``: ``(2, n)`` values and weights."""
    values = np.sort(values.reshape(-1))
    step = max(values.size * epsilon, 1)
    picked = values[int(step - 1) :: int(step)]
    return np.stack([picked, np.full_like(picked, step)])


def _compress(summary: np.ndarray, epsilon: float) -> np.ndarray:
    """Re-bin a summary to about ``1 / epsilon`` points by interpolating cumulative weights."""
    if summary.shape[1] * epsilon < 1:
        return summary
    percents = epsilon + np.arange(0.0, 1.0, epsilon)
    cumulative = summary[1].cumsum()
    fractions = cumulative / cumulative[-1]
    points = np.interp(percents, fractions, summary[0])
    cumulative = np.interp(percents, fractions, cumulative)
    weights = np.diff(cumulative, prepend=0.0)
    return np.stack((points, weights)).astype("float32")


def _merge(first: np.ndarray, second: np.ndarray, epsilon: float) -> np.ndarray:
    merged = np.concatenate((first, second), axis=1)
    merged = merged[:, np.argsort(merged[0])]
    return _compress(merged, epsilon)


class Discretization(Layer):
    """Buckets continuous values into integer bins (optionally one/multi-hot or count encoded).

    A value ``x`` goes to bin ``i`` when ``bin_boundaries[i - 1] <= x < bin_boundaries[i]``
    (``np.digitize``): ``len(bin_boundaries) + 1`` bins in all. :meth:`adapt` learns
    ``num_bins - 1`` boundaries at the quantiles of the data, with Keras's approximate
    quantile summaries (precision ``epsilon``), so the boundaries equal Keras's.

    Args:
        bin_boundaries: sorted boundaries, or None to ``adapt``.
        num_bins: the number of bins to learn with ``adapt`` (exclusive with
            ``bin_boundaries``).
        epsilon: the error tolerance of the quantile summaries (default 0.01).
        output_mode: ``"int"`` (default), ``"one_hot"``, ``"multi_hot"`` or ``"count"``.
        sparse: must be False.
        dtype: the dtype of encoded outputs (``"int"`` mode outputs int32).
        name: layer name.

    Input shape:
        any float array.
    Output shape:
        ``"int"``: the input shape, int32; other modes as :class:`CategoryEncoding`.

    Raises:
        ValueError: both or neither of ``bin_boundaries``/``num_bins``, a negative
            ``num_bins``, an unknown ``output_mode``, ``sparse``, adapting a layer built from
            boundaries, or calling before boundaries exist.

    Example:
        >>> import numpy as np
        >>> layer = Discretization(num_bins=4, epsilon=0.01)
        >>> layer.adapt(np.arange(100, dtype="float32"))
        >>> [round(b, 3) for b in layer.bin_boundaries]
        [24.0, 49.0, 74.0]
    """

    samplewise = True  # each output sample depends on its input sample alone

    _keeps_integer_inputs = True

    def __init__(
        self,
        bin_boundaries=None,
        num_bins=None,
        epsilon=0.01,
        output_mode="int",
        sparse=False,
        dtype=None,
        name=None,
        **kwargs,
    ):
        super().__init__(name=name, dtype=dtype, **kwargs)
        if sparse:
            raise ValueError(
                "`sparse=True` is not supported: cnnkit has no sparse tensors (Keras refuses "
                f"it on the torch backend). Received: sparse={sparse!r}"
            )
        _check_mode(output_mode, ("int", *ENCODING_MODES), "Discretization")
        if num_bins is not None and num_bins < 0:
            raise ValueError(
                f"`num_bins` must be greater than or equal to 0. Received: `num_bins={num_bins}`"
            )
        if num_bins is not None and bin_boundaries is not None:
            raise ValueError(
                "Both `num_bins` and `bin_boundaries` should not be set. Received: "
                f"`num_bins={num_bins}` and `bin_boundaries={bin_boundaries}`"
            )
        if num_bins is None and bin_boundaries is None:
            raise ValueError("You need to set either `num_bins` or `bin_boundaries`.")
        if bin_boundaries is not None:
            bin_boundaries = [float(b) for b in _as_numpy(bin_boundaries).reshape(-1)]
        self.bin_boundaries = bin_boundaries
        self.num_bins = num_bins
        self.epsilon = float(epsilon)
        self.output_mode = output_mode
        self.sparse = False
        self.reset_state()

    # -- adapt -----------------------------------------------------------
    def adapt(self, data, steps: int | None = None) -> None:
        """Learn ``num_bins - 1`` quantile boundaries from ``data``.

        Args:
            data: a NumPy array or Tensor, or an iterable of batches.
            steps: read at most this many batches of an iterable.

        Raises:
            ValueError: when the layer was built with ``bin_boundaries``.
        """
        if self.num_bins is None:
            raise ValueError(
                "Cannot adapt a Discretization layer that has been initialized with "
                "`bin_boundaries`, use `num_bins` instead."
            )
        self.reset_state()
        if isinstance(data, (np.ndarray, Tensor)) or not hasattr(data, "__iter__"):
            self.update_state(data)
        else:
            for i, batch in enumerate(data):
                if steps is not None and i >= steps:
                    break
                self.update_state(batch)
        self.finalize_state()

    def update_state(self, data) -> None:
        values = _as_numpy(data).astype("float32")
        self.summary = _merge(_summarize(values, self.epsilon), self.summary, self.epsilon)

    def finalize_state(self) -> None:
        if self.num_bins is None:
            return
        boundaries = _compress(self.summary, 1.0 / self.num_bins)[0, :-1]
        self.bin_boundaries = boundaries.tolist()

    def reset_state(self) -> None:
        if self.num_bins is not None:
            self.summary = np.zeros((2, 0), dtype="float32")

    # -- call ------------------------------------------------------------
    @property
    def _output_dtype(self) -> str:
        return "int32" if self.output_mode == "int" else self.dtype

    def call(self, inputs):
        if self.bin_boundaries is None:
            raise ValueError(
                "You need to either pass the `bin_boundaries` argument at construction time "
                "or call `adapt(dataset)` before you can start using the `Discretization` "
                "layer."
            )
        values = _as_numpy(inputs).astype(backend.floatx())
        ids = np.digitize(values, np.asarray(self.bin_boundaries, dtype=values.dtype))
        depth = len(self.bin_boundaries) + 1
        return Tensor(encode_categorical(ids, self.output_mode, depth, self._output_dtype))

    def compute_output_shape(self, input_shape):
        depth = len(self.bin_boundaries) + 1 if self.bin_boundaries is not None else self.num_bins
        return encoded_shape(input_shape, self.output_mode, depth)

    def get_config(self) -> dict:
        config = super().get_config()
        config.pop("trainable")  # Keras's Discretization takes no `trainable` argument
        return {
            **config,
            "bin_boundaries": self.bin_boundaries,
            "num_bins": self.num_bins,
            "epsilon": self.epsilon,
            "output_mode": self.output_mode,
            "sparse": self.sparse,
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """Rebuild, keeping adapted ``bin_boundaries`` saved next to ``num_bins``."""
        config = dict(config)
        if config.get("bin_boundaries") is not None and config.get("num_bins") is not None:
            boundaries = config.pop("bin_boundaries")
            layer = cls(**config)
            layer.bin_boundaries = [float(b) for b in boundaries]
            return layer
        return cls(**config)
