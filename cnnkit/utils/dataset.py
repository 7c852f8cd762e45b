"""A small streaming ``Dataset``: the ``tf.data.Dataset`` calls that Keras's examples make.

``image_dataset_from_directory``, ``text_dataset_from_directory`` and
``timeseries_dataset_from_array`` return one. ``fit``, ``evaluate`` and ``predict`` take it
directly; a user can iterate it (NumPy arrays), and chain ``take(n)``, ``skip(n)``,
``map(f)``, ``filter(f)``, ``batch(n)``, ``unbatch()``, ``shuffle(buffer_size)``,
``repeat()``, ``cache()`` and ``prefetch()`` (a no-op: batches are produced on demand).

Each pass over a dataset re-runs its pipeline from the source: elements (a file read and
decoded, a window sliced) exist only while they are consumed, so memory stays bounded by a
batch (and the ``shuffle`` buffer). ``cache()`` keeps the elements of the first complete
pass in memory, as ``tf.data``'s in-memory cache.

An element is an array, a tuple of arrays (``(x, y)``), or a dict of arrays. ``map(f)``
calls ``f(*element)`` for a tuple, as ``tf.data`` does.

Example:
    >>> import numpy as np
    >>> ds = Dataset.from_tensor_slices((np.arange(5), np.arange(5) * 10))
    >>> [(x.tolist(), y.tolist()) for x, y in ds.batch(2)]
    [([0, 1], [0, 10]), ([2, 3], [20, 30]), ([4], [40])]
    >>> [int(v) for v in ds.map(lambda x, y: x + y).take(3)]
    [0, 11, 22]
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator

import numpy as np

INFINITE = -1  # tf.data.INFINITE_CARDINALITY
UNKNOWN = -2  # tf.data.UNKNOWN_CARDINALITY


def _to_numpy(value):
    """Arrays (cnnkit Tensors included) as NumPy arrays, through tuples, lists and dicts."""
    if isinstance(value, tuple):
        return tuple(_to_numpy(v) for v in value)
    if isinstance(value, list):
        return [_to_numpy(v) for v in value]
    if isinstance(value, dict):
        return {k: _to_numpy(v) for k, v in value.items()}
    numpy = getattr(value, "numpy", None)
    if callable(numpy) and not isinstance(value, np.ndarray):
        return np.asarray(numpy())
    return np.asarray(value)


class EagerArray(np.ndarray):
    """An element's array as iteration gives it: a NumPy array that also has ``numpy()``.

    ``tf.data`` yields eager tensors, and Keras code reads them with ``batch.numpy()``
    (``for text_batch, label_batch in ds.take(1): text_batch.numpy()[0]``); this view lets
    that code run while everything else sees an ordinary ``ndarray``.
    """

    def numpy(self) -> np.ndarray:
        """The array itself, as a plain ``ndarray``."""
        return self.view(np.ndarray)


def _eager(value):
    """``value`` with its arrays viewed as :class:`EagerArray`, through tuples, lists, dicts."""
    if isinstance(value, tuple):
        return tuple(_eager(v) for v in value)
    if isinstance(value, list):
        return [_eager(v) for v in value]
    if isinstance(value, dict):
        return {k: _eager(v) for k, v in value.items()}
    if isinstance(value, (np.ndarray, np.generic)):
        return np.asarray(value).view(EagerArray)
    return value


def _stack(elements: list):
    first = elements[0]
    if isinstance(first, tuple):
        return tuple(_stack([e[i] for e in elements]) for i in range(len(first)))
    if isinstance(first, dict):
        return {k: _stack([e[k] for e in elements]) for k in first}
    return np.stack([np.asarray(e) for e in elements])


def _unstack(batch) -> Iterator:
    if isinstance(batch, tuple):
        yield from zip(*(_unstack(part) for part in batch))
        return
    if isinstance(batch, dict):
        keys = list(batch)
        for values in zip(*(_unstack(batch[k]) for k in keys)):
            yield dict(zip(keys, values))
        return
    yield from np.asarray(batch)


def _slice(value, index):
    if isinstance(value, tuple):
        return tuple(_slice(v, index) for v in value)
    if isinstance(value, dict):
        return {k: _slice(v, index) for k, v in value.items()}
    return value[index]


def _length(value) -> int:
    if isinstance(value, tuple):
        return _length(value[0])
    if isinstance(value, dict):
        return _length(next(iter(value.values())))
    return len(value)


def _check_count(name: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(
            f"Invalid value for argument `{name}`. Expected an integer >= {minimum}. "
            f"Received: {name}={value!r}"
        )
    return int(value)


class Dataset:
    """A re-iterable pipeline of elements (see the module docstring).

    Args:
        make_iterator: a callable returning a fresh iterator over the elements (called once
            per pass).
        cardinality: number of elements, ``INFINITE`` (-1) or ``UNKNOWN`` (-2).
    """

    def __init__(self, make_iterator: Callable[[], Iterator], cardinality: int = UNKNOWN):
        self._make_iterator = make_iterator
        self._cardinality = int(cardinality)
        self.class_names = None
        self.file_paths = None

    # -- constructors -----------------------------------------------------------------
    @staticmethod
    def from_tensor_slices(tensors) -> Dataset:
        """Elements are the slices of ``tensors`` (an array, tuple or dict) along axis 0."""
        data = _to_numpy(tensors)
        if isinstance(data, list):
            data = np.asarray(data)
        n = _length(data)
        lengths = (
            {_length(v) for v in data}
            if isinstance(data, tuple)
            else {_length(v) for v in data.values()}
            if isinstance(data, dict)
            else {n}
        )
        if len(lengths) > 1:
            raise ValueError(
                "Dimensions of the components of `tensors` must match along axis 0. "
                f"Received lengths: {sorted(lengths)}"
            )
        return Dataset(lambda: (_slice(data, i) for i in range(n)), n)

    @staticmethod
    def from_generator(generator: Callable[[], Iterator]) -> Dataset:
        """Elements from ``generator()`` (a callable, called at each pass)."""
        if not callable(generator):
            raise TypeError(f"`generator` must be a callable. Received: {type(generator).__name__}")
        return Dataset(lambda: (_to_numpy(e) for e in generator()), UNKNOWN)

    @staticmethod
    def range(*args) -> Dataset:
        """``Dataset.range(stop)`` / ``(start, stop[, step])``: integers, as ``range``."""
        r = range(*args)
        return Dataset(lambda: (np.int64(v) for v in r), len(r))

    # -- the protocol -----------------------------------------------------------------
    def __iter__(self) -> Iterator:
        """The elements, their arrays with a ``numpy()`` method as eager tensors have."""
        return (_eager(e) for e in self._make_iterator())

    def __len__(self) -> int:
        if self._cardinality == INFINITE:
            raise TypeError("The dataset is infinite.")
        if self._cardinality == UNKNOWN:
            raise TypeError("The dataset length is unknown.")
        return self._cardinality

    def cardinality(self) -> int:
        """Number of elements, ``-1`` if infinite, ``-2`` if unknown (as ``tf.data``)."""
        return self._cardinality

    def as_numpy_iterator(self) -> Iterator:
        return iter(self._make_iterator())

    def _derive(self, make_iterator, cardinality) -> Dataset:
        out = Dataset(make_iterator, cardinality)
        out.class_names, out.file_paths = self.class_names, self.file_paths
        return out

    # -- transformations --------------------------------------------------------------
    def take(self, count: int) -> Dataset:
        """The first ``count`` elements (``-1``: all)."""
        if count == -1:
            return self
        count = _check_count("count", count, 0)
        n = self._cardinality
        card = count if n == INFINITE else (min(n, count) if n >= 0 else UNKNOWN)
        return self._derive(lambda: itertools.islice(iter(self), count), card)

    def skip(self, count: int) -> Dataset:
        """All but the first ``count`` elements."""
        count = _check_count("count", count, 0)
        n = self._cardinality
        card = max(n - count, 0) if n >= 0 else n
        return self._derive(lambda: itertools.islice(iter(self), count, None), card)

    def map(self, map_func: Callable, num_parallel_calls=None, deterministic=None) -> Dataset:
        """``map_func(*element)`` (tuple elements unpacked) for each element."""
        if not callable(map_func):
            raise TypeError(f"`map_func` must be callable. Received: {map_func!r}")

        def apply(element):
            out = map_func(*element) if isinstance(element, tuple) else map_func(element)
            return _to_numpy(out)

        return self._derive(lambda: (apply(e) for e in self), self._cardinality)

    def filter(self, predicate: Callable) -> Dataset:
        """The elements for which ``predicate(*element)`` is true."""

        def keep(element):
            out = predicate(*element) if isinstance(element, tuple) else predicate(element)
            return bool(np.asarray(_to_numpy(out)))

        card = INFINITE if self._cardinality == INFINITE else UNKNOWN
        return self._derive(lambda: (e for e in self if keep(e)), card)

    def batch(self, batch_size: int, drop_remainder: bool = False, **kwargs) -> Dataset:
        """Consecutive elements stacked into batches of ``batch_size`` (the last may be short
        unless ``drop_remainder``)."""
        batch_size = _check_count("batch_size", batch_size, 1)

        def batches():
            iterator = iter(self)
            while True:
                chunk = list(itertools.islice(iterator, batch_size))
                if not chunk or (drop_remainder and len(chunk) < batch_size):
                    return
                yield _stack(chunk)

        n = self._cardinality
        if n >= 0:
            card = n // batch_size if drop_remainder else -(-n // batch_size)
        else:
            card = n
        return self._derive(batches, card)

    def unbatch(self) -> Dataset:
        """Split each batch into its elements (along axis 0)."""
        card = INFINITE if self._cardinality == INFINITE else UNKNOWN
        return self._derive(lambda: (e for b in self for e in _unstack(b)), card)

    def rebatch(self, batch_size: int, drop_remainder: bool = False) -> Dataset:
        return self.unbatch().batch(batch_size, drop_remainder)

    def shuffle(self, buffer_size: int, seed=None, reshuffle_each_iteration=True) -> Dataset:
        """Elements drawn at random from a buffer of the next ``buffer_size`` ones (as
        ``tf.data``): a buffer as large as the dataset gives a uniform shuffle."""
        buffer_size = _check_count("buffer_size", buffer_size, 1)
        seeds = np.random.SeedSequence(seed)
        passes = itertools.count()

        def shuffled():
            index = next(passes) if reshuffle_each_iteration else 0
            rng = np.random.default_rng(np.random.SeedSequence(seeds.entropy, spawn_key=(index,)))
            buffer: list = []
            for element in self:
                if len(buffer) < buffer_size:
                    buffer.append(element)
                    continue
                k = int(rng.integers(buffer_size))
                yield buffer[k]
                buffer[k] = element
            while buffer:
                yield buffer.pop(int(rng.integers(len(buffer))))

        return self._derive(shuffled, self._cardinality)

    def repeat(self, count: int | None = None) -> Dataset:
        """The elements ``count`` times (``None`` or ``-1``: forever)."""
        forever = count is None or count == -1
        if not forever:
            count = _check_count("count", count, 0)
        n = self._cardinality

        def repeated():
            for _ in itertools.count() if forever else range(count):
                yield from self

        if forever:
            card = 0 if n == 0 else INFINITE
        else:
            card = n * count if n >= 0 else n
        return self._derive(repeated, card)

    def cache(self, filename: str = "") -> Dataset:
        """Keep the elements of the first complete pass in memory for later passes.

        Only the in-memory cache exists (``filename`` must be empty).
        """
        if filename:
            raise NotImplementedError(
                "cnnkit's Dataset.cache() keeps elements in memory only; "
                f"Received: filename={filename!r}"
            )
        store: dict = {}

        def cached():
            if "elements" in store:
                yield from store["elements"]
                return
            elements = []
            for element in self:
                elements.append(element)
                yield element
            store["elements"] = elements

        return self._derive(cached, self._cardinality)

    def prefetch(self, buffer_size=None) -> Dataset:
        """A no-op: elements are produced when they are consumed."""
        return self

    def with_options(self, options=None) -> Dataset:
        return self

    def enumerate(self, start: int = 0) -> Dataset:
        return self._derive(
            lambda: ((np.int64(i), e) for i, e in enumerate(self, start)), self._cardinality
        )

    @staticmethod
    def zip(*datasets) -> Dataset:
        """Elements of several datasets side by side, as tuples."""
        if len(datasets) == 1 and isinstance(datasets[0], tuple):
            datasets = datasets[0]
        cards = [d.cardinality() for d in datasets]
        finite = [c for c in cards if c >= 0]
        card = min(finite) if finite else (UNKNOWN if UNKNOWN in cards else INFINITE)
        return Dataset(lambda: zip(*datasets), card)

    def __repr__(self) -> str:
        n = self._cardinality
        size = {INFINITE: "infinite", UNKNOWN: "unknown"}.get(n, str(n))
        return f"<cnnkit Dataset: {size} elements>"
