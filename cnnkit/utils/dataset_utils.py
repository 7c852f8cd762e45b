"""Listing a directory of class folders, and splitting data into training and validation.

The file order, the global shuffle and the split are Keras 3's
(``keras/src/utils/dataset_utils.py``), so that a ``seed`` selects the same files:

- classes are the sorted names of the sub-directories (hidden ones skipped), or
  ``class_names`` in the given order;
- in each class folder, ``os.walk`` order sorted by directory then file name; only files
  whose lower-cased name ends with one of ``formats``;
- with ``shuffle``, paths and labels are shuffled by ``np.random.RandomState(seed)``
  (a random seed in ``[0, 1e6)`` when ``seed`` is ``None``);
- ``validation_split`` keeps the last ``int(validation_split * n)`` files for validation.

Example:
    >>> train, val = split_dataset(np.arange(10), left_size=0.8, shuffle=False)
    >>> [int(v) for v in val]
    [8, 9]
"""

from __future__ import annotations

import os

import numpy as np


def check_validation_split_arg(validation_split, subset, shuffle, seed) -> None:
    """Keras's checks of ``validation_split``/``subset``/``seed``."""
    if validation_split and not 0 < validation_split < 1:
        raise ValueError(
            f"`validation_split` must be between 0 and 1, received: {validation_split}"
        )
    if (validation_split or subset) and not (validation_split and subset):
        raise ValueError("If `subset` is set, `validation_split` must be set, and inversely.")
    if subset not in ("training", "validation", "both", None):
        raise ValueError(
            f'`subset` must be either "training", "validation" or "both", received: {subset}'
        )
    if validation_split and shuffle and seed is None:
        raise ValueError(
            "If using `validation_split` and shuffling the data, you must provide a `seed` "
            "argument, to make sure that there is no overlap between the training and "
            "validation subset."
        )


def check_batch_size(batch_size) -> None:
    """``batch_size`` must be a positive integer (or ``None``, checked by the caller)."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
        raise TypeError(f"`batch_size` must be an integer or None. Received: {batch_size!r}")
    if batch_size < 1:
        raise ValueError(f"`batch_size` must be >= 1. Received: batch_size={batch_size}")


def _valid_files(directory: str, follow_links: bool, formats: tuple):
    walk = sorted(os.walk(directory, followlinks=follow_links), key=lambda entry: entry[0])
    for root, _, files in walk:
        for name in sorted(files):
            if name.lower().endswith(formats):
                yield root, name


def index_directory(
    directory,
    labels,
    formats: tuple,
    class_names=None,
    shuffle: bool = True,
    seed=None,
    follow_links: bool = False,
    verbose: bool = True,
):
    """``(file_paths, labels, class_names)`` of the files under ``directory``.

    Args:
        directory: the folder; with ``labels="inferred"`` one sub-folder per class.
        labels: ``"inferred"``, ``None``, or a list of integer labels, one per file in
            sorted path order.
        formats: allowed lower-case extensions, e.g. ``(".jpg", ".png")``.
        class_names: with ``"inferred"``: the classes (sub-folder names) and their order.
        shuffle: shuffle the paths (with their labels).
        seed: the shuffle's seed.
        follow_links: visit sub-directories that are symbolic links.
        verbose: print how many files (and classes) were found.
    """
    directory = os.fspath(directory)
    if not os.path.isdir(directory):
        raise ValueError(f"Directory not found: {directory!r} is not an existing folder.")
    if labels == "inferred":
        subdirs = [
            name
            for name in sorted(os.listdir(directory))
            if os.path.isdir(os.path.join(directory, name)) and not name.startswith(".")
        ]
        if class_names is not None:
            if not set(class_names).issubset(subdirs):
                raise ValueError(
                    "The `class_names` passed did not match the names of the subdirectories "
                    f"of the target directory. Expected: {subdirs} (or a subset of it), but "
                    f"received: class_names={class_names}"
                )
            subdirs = list(class_names)
    else:
        subdirs = [""]
        if class_names is not None:
            if labels is None:
                raise ValueError(
                    "When `labels=None` (no labels), argument `class_names` cannot be specified."
                )
            raise ValueError(
                "When argument `labels` is specified, argument `class_names` cannot be "
                "specified (the `class_names` will be the sorted list of labels)."
            )
    filenames: list[str] = []
    inferred: list[int] = []
    for index, subdir in enumerate(subdirs):
        folder = os.path.join(directory, subdir)
        for root, name in _valid_files(folder, follow_links, formats):
            relative = os.path.relpath(os.path.join(root, name), folder)
            filenames.append(os.path.join(os.path.basename(folder), relative))
            inferred.append(index)
    names = subdirs
    if labels == "inferred":
        labels = np.asarray(inferred, dtype="int32")
    elif labels is None:
        names = None
    else:
        if len(labels) != len(filenames):
            raise ValueError(
                "Expected the lengths of `labels` to match the number of files in the target "
                f"directory. len(labels) is {len(labels)} while we found {len(filenames)} "
                f"files in directory {directory}."
            )
        names = [str(label) for label in sorted(set(labels))]
        labels = np.asarray(labels)
    if verbose:
        if labels is None:
            print(f"Found {len(filenames)} files.")
        else:
            print(f"Found {len(filenames)} files belonging to {len(names)} classes.")
    paths = [os.path.join(directory, name) for name in filenames]
    if shuffle:
        if seed is None:
            seed = np.random.randint(1e6)  # noqa: NPY002 - Keras's draw
        np.random.RandomState(seed).shuffle(paths)
        if labels is not None:
            np.random.RandomState(seed).shuffle(labels)
    return paths, labels, names


def training_or_validation_split(samples, labels, validation_split, subset, verbose=True):
    """The ``subset`` (``"training"``/``"validation"``) part of ``samples`` and ``labels``."""
    if not validation_split:
        return samples, labels
    num_val = int(validation_split * len(samples))
    if subset == "training":
        if verbose:
            print(f"Using {len(samples) - num_val} files for training.")
        cut = slice(0, len(samples) - num_val)
    elif subset == "validation":
        if verbose:
            print(f"Using {num_val} files for validation.")
        cut = slice(len(samples) - num_val, None)
    else:
        raise ValueError(f'`subset` must be either "training" or "validation", received: {subset}')
    return samples[cut], None if labels is None else labels[cut]


def labels_array(labels, label_mode, num_classes: int):
    """Integer labels in ``label_mode``'s form: ``int`` int32, ``binary`` float32 ``(n, 1)``,
    ``categorical`` float32 one-hot rows."""
    labels = np.asarray(labels)
    if label_mode == "binary":
        return labels.astype("float32").reshape(-1, 1)
    if label_mode == "categorical":
        return np.eye(num_classes, dtype="float32")[labels.astype("int64")]
    return labels.astype("int32")


def _split_size(name: str, value, total: int):
    if value is None:
        return None
    if isinstance(value, float):
        if not 0 < value < 1:
            raise ValueError(
                f"`{name}` should be a float in (0, 1) or an integer in [1, {total}). "
                f"Received: {name}={value}"
            )
        return int(round(value * total))
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        if not 0 < value < total:
            raise ValueError(
                f"`{name}` should be an integer in [1, {total}) or a float in (0, 1). "
                f"Received: {name}={value}"
            )
        return int(value)
    raise TypeError(f"`{name}` should be an int or a float. Received: {name}={value!r}")


def split_dataset(dataset, left_size=None, right_size=None, shuffle=False, seed=None):
    """Split a dataset (arrays, a tuple/dict of arrays, or a cnnkit ``Dataset``) in two.

    Args:
        dataset: the data; a ``Dataset`` is read into memory first (element by element).
        left_size: float fraction or int count of the left part (default: the rest).
        right_size: float fraction or int count of the right part (default: the rest).
        shuffle: shuffle the samples before splitting.
        seed: the shuffle's seed.

    Returns:
        ``(left, right)``: two :class:`~cnnkit.utils.dataset.Dataset` of single samples.
    """
    from cnnkit.utils.dataset import Dataset, _length, _slice, _stack

    if isinstance(dataset, Dataset):
        data = _stack(list(dataset))
    elif isinstance(dataset, list):
        data = tuple(np.asarray(a) for a in dataset) if len(dataset) > 1 else dataset[0]
    elif isinstance(dataset, tuple):
        data = tuple(np.asarray(a) for a in dataset)
    elif isinstance(dataset, dict):
        data = {k: np.asarray(v) for k, v in dataset.items()}
    else:
        data = np.asarray(dataset)
    total = _length(data)
    if left_size is None and right_size is None:
        raise ValueError("At least one of `left_size` or `right_size` must be specified.")
    left = _split_size("left_size", left_size, total)
    right = _split_size("right_size", right_size, total)
    if left is None:
        left = total - right
    if right is None:
        right = total - left
    if left + right > total or left <= 0 or right <= 0:
        raise ValueError(
            f"The sum of `left_size` and `right_size` ({left} + {right} samples) should be "
            f"positive and at most the size of the dataset ({total} samples)."
        )
    order = np.arange(total)
    if shuffle:
        np.random.default_rng(seed).shuffle(order)
    left_part = _slice(data, order[:left])
    right_part = _slice(data, order[left : left + right])
    return Dataset.from_tensor_slices(left_part), Dataset.from_tensor_slices(right_part)
