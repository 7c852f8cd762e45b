"""Batches of a ``tf.data.Dataset``, read as NumPy through its ``as_numpy_iterator`` without
importing TensorFlow here."""

from __future__ import annotations

from cnnkit.trainers.data_adapters.generator_data_adapter import GeneratorDataAdapter


class TFDatasetAdapter(GeneratorDataAdapter):
    """The dataset iterated afresh each epoch; ``num_batches`` is its cardinality when
    known (``None`` for an infinite or unknown one)."""

    def __init__(self, dataset, class_weight=None):
        self.source = dataset
        self.class_weight = class_weight
        self._stream = None
        cardinality = int(dataset.cardinality())
        self.num_batches = cardinality if cardinality >= 0 else None

    def _batches(self):
        return iter(self.source.as_numpy_iterator())


def is_tf_dataset(x) -> bool:
    """Whether ``x`` is a ``tf.data.Dataset`` (by its classes' names and modules, as Keras's
    check: TensorFlow is never imported for it)."""
    return any(
        klass.__name__ in ("DatasetV2", "DistributedDataset", "DistributedDatasetsFromFunction")
        and "tensorflow.python." in klass.__module__
        for klass in type(x).__mro__
    )
