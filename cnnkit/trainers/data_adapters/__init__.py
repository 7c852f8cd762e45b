"""One data adapter per kind of input, and :func:`get_data_adapter`, which picks it.

=====================================  ==============================================
input ``x``                            adapter
=====================================  ==============================================
arrays, lists/tuples/dicts of arrays   :class:`ArrayDataAdapter` (``y``, ``sample_weight``,
                                       ``batch_size``, ``shuffle``, ``class_weight``)
``PyDataset`` (or ``len`` + index)     :class:`PyDatasetAdapter` (``shuffle``, ``class_weight``)
``tf.data.Dataset``                    :class:`TFDatasetAdapter` (``class_weight``)
``torch.utils.data.DataLoader``        :class:`TorchDataLoaderAdapter`
generator, iterator, other iterable    :class:`GeneratorDataAdapter` (``class_weight`` except
                                       for a generator, as Keras)
=====================================  ==============================================

TensorFlow and torch are never imported here: their objects are recognised by their
classes' names and modules, and read through their NumPy conversions.
"""

from __future__ import annotations

import types

from cnnkit.trainers.data_adapters.array_data_adapter import (
    ArrayDataAdapter,
    can_convert_arrays,
    train_validation_split,
)
from cnnkit.trainers.data_adapters.data_adapter import (
    DataAdapter,
    pack_x_y_sample_weight,
    unpack_x_y_sample_weight,
)
from cnnkit.trainers.data_adapters.generator_data_adapter import GeneratorDataAdapter
from cnnkit.trainers.data_adapters.py_dataset_adapter import PyDatasetAdapter
from cnnkit.trainers.data_adapters.tf_dataset_adapter import TFDatasetAdapter, is_tf_dataset
from cnnkit.trainers.data_adapters.torch_data_loader_adapter import (
    TorchDataLoaderAdapter,
    is_torch_dataloader,
)
from cnnkit.utils.py_dataset import PyDataset

__all__ = [
    "ArrayDataAdapter",
    "DataAdapter",
    "GeneratorDataAdapter",
    "PyDatasetAdapter",
    "TFDatasetAdapter",
    "TorchDataLoaderAdapter",
    "can_convert_arrays",
    "get_data_adapter",
    "is_tf_dataset",
    "is_torch_dataloader",
    "pack_x_y_sample_weight",
    "train_validation_split",
    "unpack_x_y_sample_weight",
]


def get_data_adapter(
    x,
    y=None,
    sample_weight=None,
    batch_size=None,
    steps_per_epoch=None,
    shuffle=False,
    class_weight=None,
) -> DataAdapter:
    """The adapter for ``x`` (see the module's table), as Keras's ``get_data_adapter``.

    ``steps_per_epoch`` is the :class:`~cnnkit.trainers.epoch_iterator.EpochIterator`'s
    business; it is accepted here for Keras's signature. ``shuffle`` applies to arrays and
    finite ``PyDataset``s; other sources are expected to come shuffled, as in Keras.

    Raises:
        ValueError: ``y`` or ``sample_weight`` given beside a dataset or generator (they
            belong in its batches), or ``class_weight`` with a generator or a DataLoader.

    Example:
        >>> import numpy as np
        >>> type(get_data_adapter(np.zeros((4, 2)), batch_size=2)).__name__
        'ArrayDataAdapter'
        >>> type(get_data_adapter(iter([np.zeros((2, 2))]))).__name__
        'GeneratorDataAdapter'
    """
    del steps_per_epoch
    if isinstance(x, DataAdapter):
        return x
    if can_convert_arrays(x) and not is_tf_dataset(x):
        return ArrayDataAdapter(
            x, y, sample_weight, batch_size, shuffle=shuffle, class_weight=class_weight
        )
    kind = _kind(x)
    if y is not None:
        _raise_unsupported_arg("y", "the targets", kind)
    if sample_weight is not None:
        _raise_unsupported_arg("sample_weight", "the sample weights", kind)
    if is_tf_dataset(x):
        return TFDatasetAdapter(x, class_weight=class_weight)
    if isinstance(x, PyDataset) or (hasattr(x, "__len__") and hasattr(x, "__getitem__")):
        return PyDatasetAdapter(x, shuffle=shuffle, class_weight=class_weight)
    if class_weight is not None and (is_torch_dataloader(x) or isinstance(x, types.GeneratorType)):
        raise ValueError(
            f"Argument `class_weight` is not supported for {kind} inputs. Yield "
            "`(x, y, sample_weight)` batches instead. "
            f"Received: class_weight={class_weight}"
        )
    if is_torch_dataloader(x):
        return TorchDataLoaderAdapter(x)
    return GeneratorDataAdapter(x, class_weight=class_weight)


def _kind(x) -> str:
    if is_tf_dataset(x):
        return "tf.data.Dataset"
    if is_torch_dataloader(x):
        return "torch DataLoader"
    if isinstance(x, PyDataset):
        return "PyDataset"
    if isinstance(x, types.GeneratorType):
        return "Python generator"
    return "dataset or iterable of batches"


def _raise_unsupported_arg(name: str, description: str, kind: str):
    raise ValueError(
        f"When providing `x` as a {kind}, `{name}` should not be passed. Instead, "
        f"{description} should be included as part of the {kind}."
    )
