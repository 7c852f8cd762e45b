"""``PyDataset`` (and the legacy ``Sequence``): batches produced by Python code, in parallel.

A subclass implements ``__len__`` (or the ``num_batches`` property; ``None`` means an
infinite dataset) and ``__getitem__(index)`` returning one batch: ``x``, ``(x,)``,
``(x, y)`` or ``(x, y, sample_weight)``. ``fit``/``evaluate``/``predict`` take it directly.

As Keras 3:

- ``workers``/``use_multiprocessing``/``max_queue_size`` are constructor arguments (passed
  on with ``super().__init__(**kwargs)``); with ``workers > 1`` batches are produced by a
  pool of threads (``use_multiprocessing=True`` uses a pool of processes, which needs a
  picklable dataset), at most ``max_queue_size`` batches ahead, and arrive in order.
- ``fit(shuffle=True)`` (the default) visits the batches of a finite dataset in a new random
  order each epoch (Python's ``random``, as Keras), ``evaluate``/``predict`` in order.
- ``on_epoch_begin``/``on_epoch_end`` run at the start/end of every epoch.

Example:
    >>> import numpy as np
    >>> class Squares(PyDataset):
    ...     def __len__(self):
    ...         return 3
    ...     def __getitem__(self, index):
    ...         x = np.full((2, 1), float(index))
    ...         return x, x**2
    >>> [float(y[0, 0]) for _, y in epoch_batches(Squares(), shuffle=False)]
    [0.0, 1.0, 4.0]
"""

from __future__ import annotations

import itertools
import random
import warnings
from collections import deque

import numpy as np


class PyDataset:
    """Base class for a dataset of batches computed by Python code.

    Args:
        workers: number of threads (or processes) producing batches in parallel; ``0`` or
            ``1`` makes them in the training thread (``1`` with ``use_multiprocessing``: in one
            worker process).
        use_multiprocessing: use processes instead of threads (the dataset must pickle).
        max_queue_size: most batches produced ahead of the one being trained on.
    """

    def __init__(self, workers=1, use_multiprocessing=False, max_queue_size=10):
        for name, value, low in (("workers", workers, 0), ("max_queue_size", max_queue_size, 1)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(
                    f"Invalid value for argument `{name}`. Expected an integer >= {low}. "
                    f"Received: {name}={value!r}"
                )
        self._workers = workers
        self._use_multiprocessing = bool(use_multiprocessing)
        self._max_queue_size = max_queue_size

    def _warn_if_super_not_called(self) -> None:
        missing = False
        for name, default in (
            ("_workers", 1),
            ("_use_multiprocessing", False),
            ("_max_queue_size", 10),
        ):
            if not hasattr(self, name):
                setattr(self, name, default)
                missing = True
        if missing:
            warnings.warn(
                "Your `PyDataset` class should call `super().__init__(**kwargs)` in its "
                "constructor. `**kwargs` can include `workers`, `use_multiprocessing`, "
                "`max_queue_size`. Do not pass these arguments to `fit()`, as they will be "
                "ignored.",
                stacklevel=3,
            )

    @property
    def workers(self) -> int:
        self._warn_if_super_not_called()
        return self._workers

    @workers.setter
    def workers(self, value) -> None:
        self._workers = value

    @property
    def use_multiprocessing(self) -> bool:
        self._warn_if_super_not_called()
        return self._use_multiprocessing

    @use_multiprocessing.setter
    def use_multiprocessing(self, value) -> None:
        self._use_multiprocessing = value

    @property
    def max_queue_size(self) -> int:
        self._warn_if_super_not_called()
        return self._max_queue_size

    @max_queue_size.setter
    def max_queue_size(self, value) -> None:
        self._max_queue_size = value

    def __getitem__(self, index):
        """The batch at position ``index``."""
        raise NotImplementedError

    @property
    def num_batches(self):
        """Number of batches, or ``None`` for an infinite dataset (default: ``len(self)``)."""
        if hasattr(self, "__len__"):
            return len(self)
        raise NotImplementedError(
            "You need to implement the `num_batches` property:\n\n"
            "@property\ndef num_batches(self):\n  return ..."
        )

    def __iter__(self):
        count = self.num_batches
        for index in itertools.count() if count is None else range(count):
            yield self[index]

    def on_epoch_begin(self) -> None:
        """Called at the beginning of every epoch."""

    def on_epoch_end(self) -> None:
        """Called at the end of every epoch."""


class Sequence(PyDataset):
    """The legacy name of :class:`PyDataset` (``keras.utils.Sequence``)."""


def standardize_batch(batch):
    """A batch as ``(x,)``, ``(x, y)`` or ``(x, y, sample_weight)`` (dicts pass through)."""
    if isinstance(batch, dict):
        return batch
    if isinstance(batch, np.ndarray):
        batch = (batch,)
    if isinstance(batch, list):
        batch = tuple(batch)
    if not isinstance(batch, tuple) or len(batch) not in (1, 2, 3):
        raise ValueError(
            "PyDataset.__getitem__() must return a tuple or a dict. If a tuple, it must be "
            "ordered either (input,) or (inputs, targets) or (inputs, targets, sample_weights). "
            f"Received: {str(batch)[:100]}... of type {type(batch)}"
        )
    return batch


def _fetch(dataset, index):  # module level so that a process pool can pickle it
    return dataset[index]


def epoch_batches(dataset: PyDataset, shuffle: bool = False):
    """One epoch of ``dataset``'s batches, standardized, in order (or shuffled order).

    Runs ``on_epoch_begin`` first and ``on_epoch_end`` after the last batch.
    """
    dataset.on_epoch_begin()
    yield from batches(dataset, shuffle)
    dataset.on_epoch_end()


def batches(dataset: PyDataset, shuffle: bool = False):
    """``dataset``'s batches, standardized, in order (or shuffled order; forever when it has
    no ``num_batches``). With ``workers > 1`` a pool computes up to ``max_queue_size``
    batches ahead; the pool is shut down when the consumer stops or closes the generator.
    """
    count = dataset.num_batches
    if count is None:
        indices = itertools.count()
    else:
        indices = list(range(count))
        if shuffle:
            random.shuffle(indices)
    import concurrent.futures  # only with workers: it starts nothing, but takes time to import

    workers = dataset.workers
    # as Keras: a pool for workers > 1, or for one worker process; else the calling thread
    if workers <= 1 and not (workers == 1 and dataset.use_multiprocessing):
        for index in indices:
            yield standardize_batch(dataset[index])
    else:
        pool_class = (
            concurrent.futures.ProcessPoolExecutor
            if dataset.use_multiprocessing
            else concurrent.futures.ThreadPoolExecutor
        )
        indices = iter(indices)
        with pool_class(max_workers=workers) as pool:
            pending: deque = deque()
            try:
                for index in itertools.islice(indices, max(dataset.max_queue_size, workers)):
                    pending.append(pool.submit(_fetch, dataset, index))
                while pending:
                    batch = pending.popleft().result()
                    for index in itertools.islice(indices, 1):
                        pending.append(pool.submit(_fetch, dataset, index))
                    yield standardize_batch(batch)
            finally:
                for future in pending:
                    future.cancel()
