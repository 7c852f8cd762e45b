"""Batches from a generator, an iterator, or any re-iterable source of batches (a cnnkit
``Dataset``), each batch ``x``, ``(x,)``, ``(x, y)`` or ``(x, y, sample_weight)``."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from cnnkit.trainers.data_adapters.array_data_adapter import as_arrays, length, sample_weights
from cnnkit.trainers.data_adapters.data_adapter import DataAdapter, unpack_x_y_sample_weight


class GeneratorDataAdapter(DataAdapter):
    """Batches drawn from ``source``.

    An iterator (a generator) is one stream: each epoch carries on where the last one
    stopped. Any other iterable is iterated afresh each epoch. ``num_batches`` is
    ``len(source)`` when the source has a length, else ``None`` (an epoch then ends when
    the stream does, or after ``steps_per_epoch`` steps).

    Args:
        source: the generator or iterable.
        class_weight: dict class index → weight, multiplied into each batch's sample weights.

    Example:
        >>> import numpy as np
        >>> stream = ((np.zeros((2, 3)), np.ones(2)) for _ in range(3))
        >>> [x.shape for x, y, sw in GeneratorDataAdapter(stream).get_numpy_iterator()]
        [(2, 3), (2, 3), (2, 3)]
    """

    def __init__(self, source, class_weight=None):
        self.source = source
        self.class_weight = class_weight
        self._stream = source if hasattr(source, "__next__") else None
        try:
            self.num_batches = None if self._stream is not None else len(source)
        except TypeError:  # a length that is not known (a dataset of unknown cardinality)
            self.num_batches = None

    def _batches(self):
        """The source's raw batches for one epoch."""
        return self._stream if self._stream is not None else iter(self.source)

    def get_numpy_iterator(self):
        for batch in self._batches():
            yield standardize(batch, self.class_weight)


def standardize(batch, class_weight=None) -> tuple:
    """One raw batch as ``(x, y, sample_weight)`` of checked NumPy arrays, with
    ``class_weight`` folded into the sample weights."""
    x, y, sample_weight = unpack_x_y_sample_weight(batch)
    x = _as_arrays(x, "x")
    y = None if y is None else _as_arrays(y, "y", numeric_check=False)
    if class_weight is not None:
        sample_weight = sample_weights(sample_weight, class_weight, y, length(x))
    elif sample_weight is not None:
        sample_weight = np.asarray(sample_weight, "float32")
    return x, y, sample_weight


def _as_arrays(data, name: str, numeric_check: bool = True):
    """:func:`as_arrays`, through a dict of arrays keyed by input or output name."""
    if isinstance(data, Mapping):
        return {k: as_arrays(v, f"{name}[{k!r}]", numeric_check) for k, v in data.items()}
    return as_arrays(data, name, numeric_check)
