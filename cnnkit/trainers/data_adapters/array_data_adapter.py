"""Batches of in-memory arrays: NumPy arrays, lists or tuples of them, cnnkit Tensors, and
anything ``np.asarray`` reads (a CPU ``torch.Tensor``, nested lists of numbers).

Every array is converted and checked when the adapter is made: a ragged list, a non-numeric
dtype, NaN or Inf values, or arrays with different numbers of samples raise a ``ValueError``
or ``TypeError`` before the first weight update.
"""

from __future__ import annotations

import math

import numpy as np

from cnnkit import backend
from cnnkit.autodiff import Tensor
from cnnkit.layers.base import _is_string_array
from cnnkit.trainers.data_adapters.data_adapter import DataAdapter


class ArrayDataAdapter(DataAdapter):
    """Batches of ``batch_size`` samples of in-memory arrays, reshuffled every epoch.

    Args:
        x: an array, a list of arrays (one per model input), or a dict of arrays (the
            named inputs of a subclassed model's ``call``).
        y: targets: ``None``, an array, or a list of arrays (one per output).
        sample_weight: one weight per sample, or ``None``.
        batch_size: samples per batch (``None``: the whole data in one batch).
        shuffle: visit the samples in a new random order each epoch.
        class_weight: dict class index → weight, multiplied into each sample's weight.

    Attributes:
        permutation: the function drawing each epoch's order (``backend.rng().permutation``
            by default; data-parallel training sets process 0's, broadcast to every process).

    Example:
        >>> import numpy as np
        >>> adapter = ArrayDataAdapter(np.arange(5.0)[:, None], np.arange(5), batch_size=2)
        >>> [(len(x), y.tolist()) for x, y, _ in adapter.get_numpy_iterator()]
        [(2, [0, 1]), (2, [2, 3]), (1, [4])]
    """

    def __init__(
        self, x, y=None, sample_weight=None, batch_size=None, shuffle=False, class_weight=None
    ):
        if x is None:
            raise ValueError("Argument `x` must be provided. Received: x=None")
        self.x = as_arrays(x, "x")
        self.y = None if y is None else as_arrays(y, "y", numeric_check=False)
        xs = list(self.x.values()) if isinstance(self.x, dict) else self.x
        xs = xs if isinstance(xs, list) else [xs]
        ys = [] if self.y is None else (self.y if isinstance(self.y, list) else [self.y])
        sizes = {len(a) for a in xs + ys}
        if len(sizes) > 1:
            raise ValueError(
                "Data cardinality is ambiguous. Make sure all arrays contain the same number "
                f"of samples. 'x' sizes: {', '.join(str(len(a)) for a in xs)}; "
                f"'y' sizes: {', '.join(str(len(a)) for a in ys)}"
            )
        self.n = sizes.pop()
        if self.n == 0:
            raise ValueError("Expected input data to be non-empty. Received arrays of 0 samples.")
        self.sample_weight = sample_weights(sample_weight, class_weight, self.y, self.n)
        self.batch_size = batch_size or self.n
        self.shuffle = shuffle
        self.num_batches = math.ceil(self.n / self.batch_size)
        self.permutation = None

    def get_numpy_iterator(self, batches_per_item: int = 1):
        """One epoch of ``(x, y, sample_weight)`` batches; with ``batches_per_item`` > 1,
        each item holds that many consecutive batches' samples (a run, see
        :class:`~cnnkit.trainers.epoch_iterator.EpochIterator`)."""
        size = self.batch_size * batches_per_item
        order = None
        if self.shuffle:
            order = (self.permutation or backend.rng().permutation)(self.n)
        for start in range(0, self.n, size):
            rows = slice(start, start + size) if order is None else order[start : start + size]
            yield (
                take(self.x, rows),
                None if self.y is None else take(self.y, rows),
                None if self.sample_weight is None else take(self.sample_weight, rows),
            )


def can_convert_arrays(x) -> bool:
    """Whether ``x`` is in-memory data for :class:`ArrayDataAdapter` (and not a dataset,
    a generator or another iterable of batches)."""
    if x is None or isinstance(x, (np.ndarray, list, tuple, dict, Tensor)):
        return True
    if hasattr(x, "__array__") and hasattr(x, "shape"):  # an array of another library (torch)
        return True
    indexed = hasattr(x, "__len__") and hasattr(x, "__getitem__")
    return not (indexed or hasattr(x, "__iter__") or hasattr(x, "__next__"))


def as_arrays(data, name: str, numeric_check: bool = True):
    """``data`` as one checked NumPy array, or a list of them when it is a list or tuple of
    arrays (one per model input or output).

    Raises:
        ValueError: ragged sequences, NaN/Inf values (when ``numeric_check``), a scalar.
        TypeError: a dtype that is neither numeric nor text.
    """
    if (
        isinstance(data, (list, tuple))
        and data
        and all(isinstance(a, (np.ndarray, Tensor)) for a in data)
    ):
        return [_as_array(a, f"{name}[{i}]", numeric_check) for i, a in enumerate(data)]
    if isinstance(data, dict):  # named inputs of a subclassed model's call, as Keras
        return {k: _as_array(a, f"{name}[{k!r}]", numeric_check) for k, a in data.items()}
    return _as_array(data, name, numeric_check)


def _as_array(a, name: str, numeric_check: bool):
    if isinstance(a, Tensor):
        a = a.numpy()
    try:
        arr = np.asarray(a)
    except ValueError as err:
        _raise_if_ragged(a, name)
        raise ValueError(f"Could not convert `{name}` to an array: {err}") from None
    if arr.dtype.kind == "O" and not _is_string_array(arr):  # texts differ in length
        _raise_if_ragged(a, name)
    if _is_string_array(arr):
        if arr.ndim == 0:
            raise ValueError(f"Expected `{name}` to have a batch axis. Received a scalar: {a!r}")
        return arr
    if arr.dtype.kind not in "biuf":
        raise TypeError(
            f"Expected `{name}` to be a numeric array. Received an array of dtype {arr.dtype} "
            f"and shape {arr.shape}."
        )
    if numeric_check and arr.dtype.kind == "f" and not _all_finite(arr):
        bad = np.argwhere(~np.isfinite(arr))[0]
        raise ValueError(
            f"`{name}` contains NaN or Inf values (first at index {tuple(int(i) for i in bad)}). "
            "Clean or impute the data before training."
        )
    if arr.ndim == 0:
        raise ValueError(f"Expected `{name}` to have a batch axis. Received a scalar: {a!r}")
    return arr


def _all_finite(arr) -> bool:
    """Whether every value of a float array is finite, without a temporary array of its size.

    A sum is finite exactly when every value is, unless it overflowed: the sum in the
    array's own dtype first (4x faster than in float64 for float32), in float64 only when
    that one is not finite.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(arr.sum()):
            return True
    return bool(np.isfinite(arr.sum(dtype=np.float64)))


def _raise_if_ragged(a, name: str) -> None:
    """Sequences of different lengths: say so, and how to pad them."""
    try:
        lengths = [len(row) for row in a]
    except TypeError:
        return
    if len(set(lengths)) > 1:
        first = next(i for i, n in enumerate(lengths) if n != lengths[0])
        raise ValueError(
            f"`{name}` is ragged: its sequences have different lengths (sample 0 has "
            f"{lengths[0]} elements, sample {first} has {lengths[first]}). Pad them to one "
            "length first, e.g. `cnnkit.preprocessing.sequence.pad_sequences(x, maxlen=...)`."
        )


def take(arrays, rows):
    """``rows`` (a slice or index array) of an array or of each array of a list."""
    if isinstance(arrays, list):
        return [a[rows] for a in arrays]
    if isinstance(arrays, dict):
        return {k: a[rows] for k, a in arrays.items()}
    return arrays[rows]


def length(x) -> int:
    """Samples in an array, or in the first array of a list."""
    if isinstance(x, dict):
        return len(next(iter(x.values())))
    return len(x[0]) if isinstance(x, list) else len(x)


def sample_weights(sample_weight, class_weight, y, n: int):
    """One float32 weight per sample: ``sample_weight`` times the weight of each sample's
    class (``class_weight``), or ``None`` when neither is given; with several targets, a
    list of such arrays, one per output, is taken as it is (as Keras)."""
    weights = None
    if _per_output(sample_weight, y):
        if class_weight is not None:
            raise ValueError("`class_weight` is only supported for Models with a single output.")
        return [sample_weights(w, None, None, n) for w in sample_weight]
    if sample_weight is not None:
        weights = np.asarray(sample_weight, dtype="float32").reshape(-1)
        if len(weights) != n:
            raise ValueError(
                f"`sample_weight` must have one weight per sample: expected {n}, "
                f"received {len(weights)}."
            )
    if class_weight is not None:
        if isinstance(y, (list, tuple, dict)):  # Keras's message and check
            raise ValueError("`class_weight` is only supported for Models with a single output.")
        if y is None:
            raise ValueError("`class_weight` needs a single array of targets `y`.")
        labels = y.argmax(axis=-1) if y.ndim > 1 and y.shape[-1] > 1 else y.reshape(len(y))
        labels = labels.astype("int64")
        table = np.ones(int(max(labels.max(), max(class_weight)) + 1), dtype="float32")
        for cls, w in class_weight.items():
            table[int(cls)] = float(w)
        cw = table[labels]
        weights = cw if weights is None else weights * cw
    return weights


def _per_output(sample_weight, y) -> bool:
    """Whether ``sample_weight`` is a list of arrays, one per target of a list ``y``."""
    return (
        isinstance(sample_weight, (list, tuple))
        and isinstance(y, list)
        and len(sample_weight) == len(y) > 1
        and all(w is not None and np.ndim(w) >= 1 for w in sample_weight)
    )


def train_validation_split(x, y, sample_weight, validation_split: float):
    """Hold out the last ``validation_split`` of the samples (before shuffling), as Keras.

    Returns:
        ``(x, y, sample_weight, (x_val, y_val, sample_weight_val))``.

    Raises:
        ValueError: for data that is not arrays (Keras's message), or a split that leaves
            no training or no validation sample.

    Example:
        >>> import numpy as np
        >>> x, y, _, (vx, vy, _) = train_validation_split(np.arange(10.0), None, None, 0.2)
        >>> x.tolist()[-1], vx.tolist()
        (7.0, [8.0, 9.0])
    """
    if not can_convert_arrays(x):
        raise ValueError(
            "Argument `validation_split` is only supported for tensors or NumPy arrays. "
            f"Found incompatible type in the input: {type(x)}"
        )
    xs = as_arrays(x, "x")
    n = length(xs)
    cut = int(n * (1.0 - validation_split))
    if cut == 0 or cut == n:
        raise ValueError(
            f"validation_split={validation_split} leaves no training or no validation samples "
            f"out of {n}."
        )

    def part(a, rows):
        if a is None:
            return None
        a = as_arrays(a, "y", numeric_check=False) if not isinstance(a, np.ndarray) else a
        return take(a, rows)

    train, held = slice(0, cut), slice(cut, None)
    val = (part(xs, held), part(y, held), part(sample_weight, held))
    return part(xs, train), part(y, train), part(sample_weight, train), val
