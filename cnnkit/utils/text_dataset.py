"""``text_dataset_from_directory``: a folder of ``.txt`` files as a streaming ``Dataset``.

Files are listed, labelled, shuffled and split as Keras 3 does (see
:mod:`cnnkit.utils.dataset_utils`), and read (UTF-8) only when their batch is drawn.

Deliberate deviation from Keras 3: the texts are Python ``str`` (an object array per
batch), where ``tf.data`` gives byte strings; cnnkit's ``TextVectorization`` takes them.
"""

from __future__ import annotations

import os

import numpy as np

from cnnkit.utils import dataset_utils
from cnnkit.utils.dataset import Dataset


def _read_text(path: str, max_length) -> str:
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as err:
        raise ValueError(f"Could not read the text file {path!r}: {err}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ValueError(f"The text file {path!r} is not valid UTF-8: {err}") from None
    return text[:max_length] if max_length is not None else text


def text_dataset_from_directory(
    directory,
    labels="inferred",
    label_mode="int",
    class_names=None,
    batch_size=32,
    max_length=None,
    shuffle=True,
    seed=None,
    validation_split=None,
    subset=None,
    follow_links=False,
    format="tf",
    verbose=True,
):
    """A :class:`~cnnkit.utils.dataset.Dataset` of text batches (and labels) from a folder.

    Args:
        directory: with ``labels="inferred"``, one sub-folder per class of ``.txt`` files.
        labels: ``"inferred"``, ``None``, or a list of integer labels in sorted path order.
        label_mode: ``"int"``, ``"categorical"``, ``"binary"`` or ``None``.
        class_names: with ``"inferred"``: the class folders to use, in label order.
        batch_size: texts per batch; ``None`` yields single texts.
        max_length: keep at most this many characters of each text.
        shuffle, seed, validation_split, subset, follow_links, verbose: as
            :func:`~cnnkit.utils.image_dataset_from_directory`.
        format: ``"tf"`` (accepted for compatibility).

    Returns:
        A ``Dataset`` with ``class_names`` and ``file_paths`` (a list of two with
        ``subset="both"``).
    """
    if labels not in ("inferred", None):
        if not isinstance(labels, (list, tuple, np.ndarray)):
            raise ValueError(
                "`labels` argument should be a list/tuple of integer labels, of the same size "
                "as the number of text files in the target directory. If you wish to infer "
                'the labels from the subdirectory names in the target directory, pass `labels="'
                'inferred"`. If you wish to get a dataset that only contains text (no labels), '
                f"pass `labels=None`. Received: labels={labels}"
            )
        if class_names:
            raise ValueError(
                'You can only pass `class_names` if `labels="inferred"`. Received: '
                f"labels={labels}, and class_names={class_names}"
            )
    if label_mode not in {"int", "categorical", "binary", None}:
        raise ValueError(
            '`label_mode` argument must be one of "int", "categorical", "binary", or None. '
            f"Received: label_mode={label_mode}"
        )
    if max_length is not None and (isinstance(max_length, bool) or int(max_length) < 1):
        raise ValueError(f"`max_length` must be a positive integer. Received: {max_length!r}")
    if format not in ("tf", "grain"):
        raise ValueError(f'`format` should be either "tf" or "grain". Received: format={format}')
    if labels is None or label_mode is None:
        labels, label_mode = None, None
    if batch_size is not None:
        dataset_utils.check_batch_size(batch_size)
    dataset_utils.check_validation_split_arg(validation_split, subset, shuffle, seed)
    if seed is None:
        seed = np.random.randint(1e6)  # noqa: NPY002 - Keras's draw
    paths, labels, class_names = dataset_utils.index_directory(
        directory,
        labels,
        formats=(".txt",),
        class_names=class_names,
        shuffle=shuffle,
        seed=seed,
        follow_links=follow_links,
        verbose=verbose,
    )
    if label_mode == "binary" and len(class_names) != 2:
        raise ValueError(
            'When passing `label_mode="binary"`, there must be exactly 2 class_names. '
            f"Received: class_names={class_names}"
        )
    num_classes = len(class_names) if class_names else 0
    buffer_size = batch_size * 8 if batch_size is not None else 1024

    def make(subset_paths, subset_labels, shuffled: bool) -> Dataset:
        files = np.asarray(subset_paths, dtype=object)
        if subset_labels is None:
            ds = Dataset.from_tensor_slices(files)
        else:
            encoded = dataset_utils.labels_array(subset_labels, label_mode, num_classes)
            ds = Dataset.from_tensor_slices((files, encoded))
        if shuffled:
            ds = ds.shuffle(buffer_size, seed=seed)
        if subset_labels is None:
            ds = ds.map(lambda p: np.asarray(_read_text(str(p), max_length), dtype=object))
        else:
            ds = ds.map(lambda p, y: (np.asarray(_read_text(str(p), max_length), dtype=object), y))
        if batch_size is not None:
            ds = ds.batch(batch_size)
        ds.class_names = class_names
        ds.file_paths = list(subset_paths)
        return ds

    where = f"No text files found in directory {os.fspath(directory)}. Allowed format: .txt"
    if subset == "both":
        train = dataset_utils.training_or_validation_split(
            paths, labels, validation_split, "training", verbose
        )
        val = dataset_utils.training_or_validation_split(
            paths, labels, validation_split, "validation", verbose
        )
        if not train[0] or not val[0]:
            raise ValueError(where)
        return [make(*train, shuffle), make(*val, False)]
    paths, labels = dataset_utils.training_or_validation_split(
        paths, labels, validation_split, subset, verbose
    )
    if not paths:
        raise ValueError(where)
    return make(paths, labels, shuffle)
