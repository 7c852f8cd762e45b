"""Turn a ``PyDataset``, a cnnkit ``Dataset`` or a generator with a step count into the
indexed or iterable data that the training loop reads (``cnnkit.models.training``).

The training loop reads an object with ``__len__`` and ``__getitem__`` as
``source[0] .. source[len - 1]`` each epoch, then calls ``source.on_epoch_end()``; anything
else iterable is iterated (with a step count, one iterator carried across epochs).
:func:`adapt` makes the inputs of this module fit that contract:

- a finite ``PyDataset`` becomes an :class:`_EpochView`: each epoch draws its batches (in a
  new random order when ``shuffle``, with the dataset's worker pool), and runs the
  dataset's ``on_epoch_begin``/``on_epoch_end``;
- an infinite ``PyDataset`` (``num_batches`` is ``None``) becomes one endless generator;
- a generator or iterator with ``steps`` (``validation_steps``) becomes a view of ``steps``
  batches per pass, drawn from the one iterator;
- a ``Dataset`` with ``steps`` gives its first ``steps`` batches at each pass;
- anything else is returned unchanged (a ``Dataset`` is re-iterated each epoch).
"""

from __future__ import annotations

from cnnkit.utils.dataset import Dataset
from cnnkit.utils.py_dataset import PyDataset, batches


class _EpochView:
    """``len(view)`` batches per epoch, read in index order, drawn from a per-epoch iterator."""

    def __init__(self, length: int, start_epoch, end_epoch=None, persistent: bool = False):
        self._length = length
        self._persistent = persistent  # one iterator for every epoch (a generator)
        self._start_epoch = start_epoch  # returns an iterator of the epoch's batches
        self._end_epoch = end_epoch
        self._iterator = None
        self._next_index = 0

    def __len__(self) -> int:
        return self._length

    def __getitem__(self, index: int):
        restart = index == 0 or index != self._next_index
        if self._iterator is None or (restart and not self._persistent):
            self._close()
            self._iterator = self._start_epoch()
        self._next_index = index + 1
        try:
            return next(self._iterator)
        except StopIteration:
            raise ValueError(
                f"The data ran out after {index} batches; expected {self._length} per epoch."
            ) from None

    def _close(self) -> None:
        close = getattr(self._iterator, "close", None)
        if callable(close):
            close()  # shuts down a worker pool
        self._iterator = None

    def on_epoch_end(self) -> None:
        if not self._persistent:
            self._close()
        self._next_index = 0
        if self._end_epoch is not None:
            self._end_epoch()


def _py_dataset_view(dataset: PyDataset, shuffle: bool):
    count = dataset.num_batches
    if count is None:
        return batches(dataset)

    def start():
        dataset.on_epoch_begin()
        return batches(dataset, shuffle)

    return _EpochView(int(count), start, dataset.on_epoch_end)


def adapt(data, shuffle: bool = False, steps=None):
    """``data`` in a form the training loop reads (see the module docstring).

    Args:
        data: the ``x`` (or ``validation_data``) given to ``fit``/``evaluate``/``predict``.
        shuffle: visit a finite ``PyDataset``'s batches in a new random order each epoch.
        steps: for a plain generator or iterator, the batches of each pass (the
            ``validation_steps`` of ``fit``); ``None`` leaves it unchanged.
    """
    if isinstance(data, PyDataset):
        return _py_dataset_view(data, shuffle)
    if steps is not None and isinstance(data, Dataset):
        return data.take(int(steps))  # a fresh pass each time: its first `steps` batches
    if steps is not None and hasattr(data, "__next__"):
        return _EpochView(int(steps), lambda: data, persistent=True)
    return data
