"""Batches of a ``PyDataset`` (``keras.utils.PyDataset``), or of any object read by index
(``__len__`` and ``__getitem__``, as a legacy ``keras.utils.Sequence``)."""

from __future__ import annotations

from cnnkit.trainers.data_adapters.data_adapter import DataAdapter
from cnnkit.trainers.data_adapters.generator_data_adapter import standardize
from cnnkit.utils.py_dataset import PyDataset, batches


class PyDatasetAdapter(DataAdapter):
    """``dataset[0] .. dataset[num_batches - 1]`` each epoch.

    Each epoch runs the dataset's ``on_epoch_begin``, reads its batches (in a new random
    order when ``shuffle``; with the dataset's worker pool, which is shut down at the end of
    the epoch) and runs ``on_epoch_end``. An infinite ``PyDataset`` (``num_batches`` is
    ``None``) is one endless stream: ``steps_per_epoch`` cuts it into epochs.

    Args:
        dataset: a ``PyDataset``, or an object with ``__len__`` and ``__getitem__``.
        shuffle: visit a finite dataset's batches in a new random order each epoch.
        class_weight: dict class index → weight, multiplied into each batch's sample weights.
    """

    def __init__(self, dataset, shuffle: bool = False, class_weight=None):
        self.dataset = dataset
        self.shuffle = shuffle
        self.class_weight = class_weight
        if isinstance(dataset, PyDataset):
            self.num_batches = dataset.num_batches
        else:
            self.num_batches = len(dataset)

    def get_numpy_iterator(self):
        if isinstance(self.dataset, PyDataset):
            source = batches(self.dataset, self.shuffle and self.num_batches is not None)
        else:
            source = (self.dataset[i] for i in range(self.num_batches))
        try:
            for batch in source:
                yield standardize(batch, self.class_weight)
        finally:
            source.close()  # shuts the dataset's worker pool down

    def on_epoch_begin(self) -> None:
        if isinstance(self.dataset, PyDataset):
            self.dataset.on_epoch_begin()

    def on_epoch_end(self) -> None:
        on_epoch_end = getattr(self.dataset, "on_epoch_end", None)
        if callable(on_epoch_end):
            on_epoch_end()
