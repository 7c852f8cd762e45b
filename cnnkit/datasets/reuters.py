"""Reuters newswires: 11,228 wires in 46 topics, as word indices (``keras.datasets.reuters``).

``load_data`` reads Keras's ``reuters.npz`` (members ``x``, a pickled object array of lists of
word indices, and ``y``, the topics) with :mod:`cnnkit.datasets.imdb`'s restricted reader (no
pickle code runs) and applies Keras 3's steps: ``RandomState(seed)`` shuffle, ``start_char``
and ``index_from`` offsets, the ``maxlen`` filter, the ``num_words``/``skip_top`` cut with
``oov_char``, then the ``test_split``. Where the file is looked for:
:mod:`cnnkit.datasets._keras_npz`.

Deviation from Keras: ``x`` is always a 1-D object array of lists.
"""

from __future__ import annotations

import json
import os
import zipfile

import numpy

from cnnkit.datasets import _keras_npz, imdb

NAME = "reuters"
DATA_FILE = "reuters.npz"
DATA_SHA256 = "d6586e694ee56d7a4e65172e12b3e987c03096cb01eab99753921ef915959916"
WORD_INDEX_FILE = "reuters_word_index.json"

LABEL_NAMES = (
    "cocoa", "grain", "veg-oil", "earn", "acq", "wheat", "copper", "housing", "money-supply",
    "coffee", "sugar", "trade", "reserves", "ship", "cotton", "carcass", "crude", "nat-gas",
    "cpi", "money-fx", "interest", "gnp", "meal-feed", "alum", "oilseed", "gold", "tin",
    "strategic-metal", "livestock", "retail", "ipi", "iron-steel", "rubber", "heat", "jobs",
    "lei", "bop", "zinc", "orange", "pet-chem", "dlr", "gas", "silver", "wpi", "hog", "lead",
)  # fmt: skip


def read_npz(path) -> tuple[list, numpy.ndarray]:
    """``(x, y)`` of a Reuters ``.npz``: ``x`` lists of ``int``, ``y`` an integer array."""
    path = os.fspath(path)
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            missing = [m for m in ("x.npy", "y.npy") if m not in names]
            if missing:
                raise ValueError(f"{path}: no {', '.join(missing)} member; expected x and y.")
            x = imdb._read_member(archive, "x.npy", f"{path}:x.npy")
            y = imdb._read_member(archive, "y.npy", f"{path}:y.npy")
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError) as e:
        raise ValueError(f"{path}: not a readable .npz (zip) file ({e}).") from e
    if isinstance(x, numpy.ndarray):
        raise ValueError(f"{path}:x.npy: expected an object array of lists of word indices.")
    if not isinstance(y, numpy.ndarray) or y.ndim != 1:
        raise ValueError(f"{path}:y.npy: labels must be a 1-D integer array.")
    if len(x) != len(y):
        raise ValueError(f"{path}: {len(x)} wires but {len(y)} labels.")
    return x, y


def load_data(
    path=DATA_FILE,
    num_words=None,
    skip_top=0,
    maxlen=None,
    test_split=0.2,
    seed=113,
    start_char=1,
    oov_char=2,
    index_from=3,
):
    """``((x_train, y_train), (x_test, y_test))`` as Keras 3's ``reuters.load_data``."""
    file = _keras_npz.locate(NAME, path, DATA_FILE, DATA_SHA256, "Reuters")
    xs, labels = read_npz(file)
    indices = numpy.arange(len(xs))
    numpy.random.RandomState(seed).shuffle(indices)
    xs = [xs[i] for i in indices]
    labels = labels[indices]
    if start_char is not None:
        xs = [[start_char] + [w + index_from for w in x] for x in xs]
    elif index_from:
        xs = [[w + index_from for w in x] for x in xs]
    if maxlen:
        xs, labels = imdb._remove_long_seq(maxlen, xs, labels)
        labels = numpy.asarray(labels)
    if not num_words:
        num_words = max((max(x) for x in xs if x), default=0)
    if oov_char is not None:
        xs = [[w if skip_top <= w < num_words else oov_char for w in x] for x in xs]
    else:
        xs = [[w for w in x if skip_top <= w < num_words] for x in xs]
    cut = int(len(xs) * (1 - test_split))
    return (
        (imdb._object_array(xs[:cut]), numpy.array(labels[:cut])),
        (imdb._object_array(xs[cut:]), numpy.array(labels[cut:])),
    )


def get_word_index(path=WORD_INDEX_FILE) -> dict:
    """The word → index mapping (``reuters_word_index.json``)."""
    given = os.path.expanduser(os.fspath(path))
    if not os.path.dirname(given):
        from cnnkit.datasets import _files

        for directory in (_files.cache_dir(NAME), os.path.expanduser(_keras_npz.KERAS_CACHE)):
            if os.path.isfile(os.path.join(directory, given)):
                given = os.path.join(directory, given)
                break
        else:
            from cnnkit.utils.file_utils import get_file

            try:
                given = get_file(
                    WORD_INDEX_FILE,
                    _keras_npz.ORIGIN + WORD_INDEX_FILE,
                    file_hash="4d44cc38712099c9e383dc6e5f11a921",
                    cache_dir=_files.cache_dir(NAME),
                    cache_subdir="",
                )
            except ValueError as e:
                raise FileNotFoundError(f"Reuters word index not found: {e}") from e
    try:
        with open(given, encoding="utf-8") as f:
            index = json.load(f)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{given}: not a readable word index ({e}).") from e
    if not isinstance(index, dict) or not all(isinstance(v, int) for v in index.values()):
        raise ValueError(f"{given}: expected a JSON object of word -> integer index.")
    return index


def get_label_names() -> tuple:
    """The 46 topic names, in label order."""
    return LABEL_NAMES
