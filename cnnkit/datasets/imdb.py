"""IMDB movie reviews: 50,000 reviews labelled positive (1) or negative (0), as word indices.

Keras's ``imdb.npz`` holds four arrays: ``x_train`` and ``x_test``, 25,000 reviews each, every
review a list of word indices (index ``i`` is the ``i``-th most frequent word, from 1), and
``y_train``, ``y_test``, the labels. :func:`load_data` reproduces ``keras.datasets.imdb.load_data``
(Keras 3): the same shuffle, the same ``start_char``/``oov_char``/``index_from`` offsets, the same
``maxlen`` filter and ``num_words``/``skip_top`` cut, so a seed gives the very same arrays.

Where the file is looked for: ``path`` itself when it has a folder part (``"data/imdb.npz"``,
``"/abs/imdb.npz"``); otherwise ``path`` is a file name, looked for in the cache
(``$CNNKIT_DATA_DIR/imdb/`` when that variable is set, else ``~/.cnnkit/datasets/imdb/``), then
in ``SYSTEM_DIRS`` (Keras's own cache ``~/.keras/datasets/`` and ``/usr/share/datasets/imdb/``),
and the official file is otherwise downloaded from ``ORIGIN`` into the cache. A file named
``imdb.npz`` must be the official one: its SHA-256 is checked against ``DATA_SHA256`` (the value
Keras checks) before it is read; give your own files another name.

How the file is read without ``numpy.load(allow_pickle=True)``, which would run any code a
crafted file holds: the ``.npz`` is opened with ``zipfile`` and each ``.npy`` member's header
with ``numpy.lib.format.read_magic``/``read_array_header_*`` (which parse a literal, never
evaluate code). Numeric arrays (the labels) are then taken from the raw bytes. The ``x`` arrays
are ``object`` arrays, which ``.npy`` stores as a pickle of the array; that pickle is read by
``_ListsUnpickler``, whose ``find_class`` admits only the three names NumPy's pickle of an
array uses (``numpy.core.multiarray._reconstruct`` or ``numpy._core.multiarray._reconstruct``,
``numpy.ndarray``, ``numpy.dtype``) and maps them to local stand-ins, not to NumPy itself: the
pickle can build lists, ints and the stand-ins, and call nothing else. This is the approach of
``_pickle.py`` and of Keras 3.15's own ``npz_utils``, but stricter: no NumPy function runs.
The result must then be a 1-D object array whose every item is a ``list`` of ``int``; anything
else (another global such as ``os.system``, a dtype other than ``object``, floats, nested
lists) is a ``ValueError`` naming the file and member.

A pickle-free variant is read too, and written by :func:`save_npz`: each ``x`` is stored as
two integer arrays, ``x_train_values`` (all reviews' indices, concatenated) and
``x_train_offsets`` (``int64``, ``n + 1`` values from 0: review ``i`` is
``values[offsets[i]:offsets[i + 1]]``), with ``y_train``, and the same for ``x_test``.
``imdb.save_npz("imdb_flat.npz", **imdb.read_npz(official_path))`` converts the official file.

Example:
    >>> from cnnkit.datasets import imdb
    >>> (x_train, y_train), (x_test, y_test) = imdb.load_data(num_words=10000)  # doctest: +SKIP
    >>> x_train.shape, x_train[0][:4], y_train[:4]  # doctest: +SKIP
    ((25000,), [1, 14, 22, 16], array([1, 0, 0, 1]))
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import zipfile
from collections.abc import Sequence

import numpy
from numpy.lib import format as npy_format

from cnnkit.datasets import _files
from cnnkit.datasets._pickle import CORRUPT_PICKLE_ERRORS, _check_memo_indexes
from cnnkit.io_utils import atomic_write, open_regular

NAME = "imdb"
ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
DATA_FILE = "imdb.npz"
WORD_INDEX_FILE = "imdb_word_index.json"
DATA_SHA256 = "69664113be75683a8fe16e3ed0ab59fda8886cb3cd7ada244f7d9544e4676b9f"
WORD_INDEX_MD5 = "bfafd718b763782e994055a2d397834f"
SYSTEM_DIRS = ("~/.keras/datasets", "/usr/share/datasets/imdb")
SPLITS = ("train", "test")
MAX_MEMBER_BYTES = 1 << 30  # uncompressed; the official x_train member is about 60 MB

Splits = tuple[tuple[numpy.ndarray, numpy.ndarray], tuple[numpy.ndarray, numpy.ndarray]]


def load_data(
    path: str | os.PathLike = DATA_FILE,
    num_words: int | None = None,
    skip_top: int = 0,
    maxlen: int | None = None,
    seed: int = 113,
    start_char: int | None = 1,
    oov_char: int | None = 2,
    index_from: int = 3,
) -> Splits:
    """Load the IMDB reviews as Keras 3's ``imdb.load_data`` does.

    Steps, exactly as Keras: ``rng = numpy.random.RandomState(seed)`` shuffles an index array
    of the training reviews, then (same ``rng``) one of the test reviews; every index ``w``
    becomes ``w + index_from``, preceded by ``start_char`` unless it is ``None``; with a
    ``maxlen``, reviews of ``maxlen`` indices or more are dropped (``len < maxlen`` is kept,
    the start character included); then an index is kept only if
    ``skip_top <= w < num_words``, else replaced by ``oov_char`` (or dropped when
    ``oov_char`` is ``None``). ``num_words=None`` (or 0) means the largest index present,
    which Keras's strict ``<`` then turns into ``oov_char`` too: kept as in Keras.

    Deviations from Keras: ``x`` is always a 1-D object array (Keras's
    ``numpy.array(lists, dtype="object")`` becomes 2-D when all reviews have the same length);
    unknown keyword arguments raise ``TypeError`` (Keras ignores them); an empty review does
    not crash the ``num_words=None`` maximum; ``path`` with a folder part is a file path, not
    a name under the cache.

    Args:
        path: the file name in the cache (default ``"imdb.npz"``), or a path to a file.
        num_words: keep indices below this (``None``: all but the largest).
        skip_top: indices below this become ``oov_char``.
        maxlen: drop reviews whose length (start character included) is ``maxlen`` or more.
        seed: the seed of the shuffle.
        start_char: the index put before every review, or ``None`` for none.
        oov_char: the index replacing cut words, or ``None`` to drop them.
        index_from: added to every stored index.

    Returns:
        ``((x_train, y_train), (x_test, y_test))``: ``x`` 1-D ``object`` arrays whose items are
        ``list`` of ``int``; ``y`` the stored labels (``int64`` 0 or 1 in the official file).

    Raises:
        FileNotFoundError: when the file is nowhere and cannot be downloaded; the message says
            where to put it.
        ValueError: for a file of the wrong hash, format or content (the message names the file
            and the member), or when ``maxlen`` leaves no review (Keras's message).

    Example:
        >>> (x_train, y_train), _ = load_data(num_words=5000, maxlen=200)  # doctest: +SKIP
        >>> max(max(x) for x in x_train) < 5000  # doctest: +SKIP
        True
    """
    file = _locate(path, DATA_FILE, ("SHA-256", DATA_SHA256))
    arrays = read_npz(file)
    x_train, labels_train = arrays["x_train"], arrays["y_train"]
    x_test, labels_test = arrays["x_test"], arrays["y_test"]

    rng = numpy.random.RandomState(seed)
    indices = numpy.arange(len(x_train))
    rng.shuffle(indices)
    x_train = [x_train[i] for i in indices]
    labels_train = labels_train[indices]

    indices = numpy.arange(len(x_test))
    rng.shuffle(indices)
    x_test = [x_test[i] for i in indices]
    labels_test = labels_test[indices]

    if start_char is not None:
        x_train = [[start_char] + [w + index_from for w in x] for x in x_train]
        x_test = [[start_char] + [w + index_from for w in x] for x in x_test]
    elif index_from:
        x_train = [[w + index_from for w in x] for x in x_train]
        x_test = [[w + index_from for w in x] for x in x_test]
    else:
        x_train = [list(x) for x in x_train]
        x_test = [list(x) for x in x_test]

    if maxlen:
        x_train, labels_train = _remove_long_seq(maxlen, x_train, labels_train)
        x_test, labels_test = _remove_long_seq(maxlen, x_test, labels_test)
        if not x_train or not x_test:
            raise ValueError(
                "After filtering for sequences shorter than maxlen="
                f"{maxlen}, no sequence was kept. Increase maxlen."
            )

    xs = x_train + x_test
    labels = numpy.concatenate([labels_train, labels_test])

    if not num_words:
        num_words = max((max(x) for x in xs if x), default=0)

    # By convention 0 is padding, 1 the start and 2 out-of-vocabulary (index_from=3).
    if oov_char is not None:
        xs = [[w if (skip_top <= w < num_words) else oov_char for w in x] for x in xs]
    else:
        xs = [[w for w in x if skip_top <= w < num_words] for x in xs]

    idx = len(x_train)
    return (_object_array(xs[:idx]), labels[:idx]), (_object_array(xs[idx:]), labels[idx:])


def get_word_index(path: str | os.PathLike = WORD_INDEX_FILE) -> dict[str, int]:
    """The dictionary from a word to its index in the stored reviews (from 1, by frequency).

    Add ``index_from`` (3 by default) to find a word in ``load_data``'s sequences. The file
    is found like ``imdb.npz`` (see the module docstring); one named ``imdb_word_index.json``
    is checked against Keras's MD5 ``WORD_INDEX_MD5``.

    Returns:
        ``{word: index}`` (88,584 words in the official file).

    Raises:
        FileNotFoundError: when the file is nowhere and cannot be downloaded.
        ValueError: for a wrong MD5, or a file that is not a JSON object of ``str`` to ``int``.

    Example:
        >>> word_index = get_word_index()  # doctest: +SKIP
        >>> word_index["the"], word_index["movie"]  # doctest: +SKIP
        (1, 17)
    """
    file = _locate(path, WORD_INDEX_FILE, ("MD5", WORD_INDEX_MD5))
    with open_regular(file, "dataset file") as f:
        data = f.read()
    try:
        index = json.loads(data)
    except (ValueError, UnicodeDecodeError) as e:
        raise ValueError(f"{file}: not a JSON file ({e}).") from e
    if not isinstance(index, dict) or not all(
        isinstance(k, str) and type(v) is int for k, v in index.items()
    ):
        raise ValueError(f"{file}: expected a JSON object mapping words to integer indices.")
    return index


def _remove_long_seq(maxlen: int, seq: list, label: numpy.ndarray) -> tuple[list, list]:
    """Keras's ``remove_long_seq``: keep the sequences shorter than ``maxlen``."""
    new_seq, new_label = [], []
    for x, y in zip(seq, label):
        if len(x) < maxlen:
            new_seq.append(x)
            new_label.append(y)
    return new_seq, new_label


def _object_array(items: Sequence) -> numpy.ndarray:
    """A 1-D object array holding ``items`` (``numpy.array`` would stack equal-length lists)."""
    array = numpy.empty(len(items), dtype=object)
    array[:] = items
    return array


# --- finding the files ----------------------------------------------------------------------


def _locate(path: str | os.PathLike, official: str, digest: tuple[str, str]) -> str:
    """The file for ``path`` (see the module docstring), hash-checked if named ``official``."""
    given = os.path.expanduser(os.fspath(path))
    if os.path.dirname(given):
        if not os.path.exists(given) or os.path.isdir(given):  # a FIFO is refused on read
            raise FileNotFoundError(f"IMDB file not found: {given} does not exist.")
        found = given
        downloaded = False
    else:
        found, downloaded = _search(given, official)
    if os.path.basename(found) == official:
        try:
            _check_digest(found, *digest)
        except ValueError:
            if downloaded:  # never keep a wrong download in the cache
                os.remove(found)
            raise
    return found


def _search(name: str, official: str) -> tuple[str, bool]:
    """``(file, downloaded)``: ``name`` in the cache or a system folder, else downloaded."""
    cache = _files.cache_dir(NAME)
    searched = []
    for directory in (cache, *(os.path.expanduser(d) for d in SYSTEM_DIRS)):
        candidate = os.path.join(directory, name)
        if os.path.isfile(candidate):
            return candidate, False
        state = "folder absent" if not os.path.isdir(directory) else f"no {name}"
        searched.append(f"  {directory} ({state})")
    where = (
        f"Looked for {name} in:\n" + "\n".join(searched) + "\n"
        f"Put it in {cache} (set CNNKIT_DATA_DIR to use <CNNKIT_DATA_DIR>/{NAME} instead of "
        f"~/.cnnkit/datasets/{NAME}), or pass its path with a folder part (e.g. ./{name})"
    )
    if name != official:
        raise FileNotFoundError(f"IMDB file not found. {where}; only {official} is downloaded.")

    import http.client  # only when a download is attempted

    url = ORIGIN + official
    try:
        return _files.download(url, os.path.join(cache, official), None), True
    except (OSError, http.client.HTTPException) as e:
        raise FileNotFoundError(
            f"IMDB file not found. {where}; or allow the download: fetching {url} failed: "
            f"{type(e).__name__}: {e}"
        ) from e


def _check_digest(file: str, kind: str, expected: str) -> None:
    digest = hashlib.sha256() if kind == "SHA-256" else hashlib.md5(usedforsecurity=False)
    with open_regular(file, "dataset file") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    received = digest.hexdigest()
    if received != expected:
        raise ValueError(
            f"{file}: wrong {kind}: expected {expected} (the official "
            f"{os.path.basename(file)}), received {received}. The file is corrupt or not the "
            "official one: delete it and load again, or give your own file another name."
        )


# --- reading and writing .npz files ------------------------------------------------------


def read_npz(path: str | os.PathLike) -> dict[str, list[list[int]] | numpy.ndarray]:
    """Read an IMDB ``.npz`` (Keras's, or the flat variant) without running any pickle code.

    Returns:
        ``{"x_train", "y_train", "x_test", "y_test"}``: the ``x`` as lists of lists of ``int``
        (the stored indices, no offset), the ``y`` as stored (a 1-D integer array).

    Raises:
        ValueError: naming the file and member, for a file that is not a zip of ``.npy``
            members, a missing member, a corrupt or refused ``.npy`` or pickle, or ``x`` and
            ``y`` of different lengths.
    """
    path = os.fspath(path)
    try:
        with open_regular(path, "dataset file") as f, zipfile.ZipFile(f) as archive:
            members = {n[:-4]: n for n in archive.namelist() if n.endswith(".npy")}
            flat = "x_train_values" in members
            wanted = [f"y_{s}" for s in SPLITS]
            wanted += (
                [f"x_{s}_{p}" for s in SPLITS for p in ("values", "offsets")]
                if flat
                else [f"x_{s}" for s in SPLITS]
            )
            missing = [k for k in wanted if k not in members]
            if missing:
                raise ValueError(
                    f"{path}: no {', '.join(m + '.npy' for m in missing)} member; expected "
                    "x_train, y_train, x_test, y_test (Keras's imdb.npz), or x_train_values, "
                    "x_train_offsets, ... (the flat variant)."
                )
            arrays = {k: _read_member(archive, members[k], f"{path}:{members[k]}") for k in wanted}
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError) as e:
        raise ValueError(f"{path}: not a readable .npz (zip) file ({e}).") from e

    result: dict[str, list[list[int]] | numpy.ndarray] = {}
    for split in SPLITS:
        labels = arrays[f"y_{split}"]
        where = f"{path}:y_{split}.npy"
        if (
            not isinstance(labels, numpy.ndarray)
            or labels.ndim != 1
            or labels.dtype.kind not in "iu"
        ):
            raise ValueError(f"{where}: labels must be a 1-D integer array.")
        if flat:
            x = _unflatten(arrays[f"x_{split}_values"], arrays[f"x_{split}_offsets"], path, split)
        else:
            x = arrays[f"x_{split}"]
            if isinstance(x, numpy.ndarray):
                raise ValueError(
                    f"{path}:x_{split}.npy: a {x.dtype} array of shape {x.shape}; expected an "
                    "object array of lists of word indices."
                )
        if len(x) != len(labels):
            raise ValueError(f"{path}: {len(x)} x_{split} reviews but {len(labels)} labels.")
        result[f"x_{split}"], result[f"y_{split}"] = x, labels
    return result


def save_npz(
    path: str | os.PathLike,
    x_train: Sequence[Sequence[int]],
    y_train: Sequence[int],
    x_test: Sequence[Sequence[int]],
    y_test: Sequence[int],
) -> None:
    """Write reviews in the flat, pickle-free ``.npz`` variant (see the module docstring).

    The file is written through ``atomic_write``. Indices are stored as ``int32``, offsets as
    ``int64``, labels as ``int64``.

    Example:
        >>> import os, tempfile
        >>> file = os.path.join(tempfile.mkdtemp(), "tiny_imdb.npz")
        >>> save_npz(file, [[5, 6], [7]], [1, 0], [[8, 9, 10]], [0])
        >>> read_npz(file)["x_train"], read_npz(file)["y_test"]
        ([[5, 6], [7]], array([0]))
    """
    arrays = {}
    for split, x, y in (("train", x_train, y_train), ("test", x_test, y_test)):
        lengths = numpy.fromiter((len(seq) for seq in x), dtype=numpy.int64, count=len(x))
        offsets = numpy.zeros(len(x) + 1, dtype=numpy.int64)
        numpy.cumsum(lengths, out=offsets[1:])
        values = numpy.fromiter(
            (w for seq in x for w in seq), dtype=numpy.int32, count=int(offsets[-1])
        )
        arrays[f"x_{split}_values"], arrays[f"x_{split}_offsets"] = values, offsets
        arrays[f"y_{split}"] = numpy.asarray(y, dtype=numpy.int64).reshape(len(x))
    with atomic_write(path) as f:
        numpy.savez(f, **arrays)


def _unflatten(values, offsets, path: str, split: str) -> list[list[int]]:
    where = f"{path}:x_{split}_values.npy/x_{split}_offsets.npy"
    for name, array in (("values", values), ("offsets", offsets)):
        if not isinstance(array, numpy.ndarray) or array.ndim != 1 or array.dtype.kind not in "iu":
            raise ValueError(f"{where}: {name} must be a 1-D integer array.")
    if (
        len(offsets) == 0
        or offsets[0] != 0
        or offsets[-1] != len(values)
        or numpy.any(numpy.diff(offsets) < 0)
    ):
        raise ValueError(
            f"{where}: offsets must start at 0, never decrease and end at len(values) "
            f"(= {len(values)})."
        )
    bounds = offsets.tolist()
    flat = values.tolist()
    return [flat[a:b] for a, b in zip(bounds[:-1], bounds[1:])]


def _read_member(archive: zipfile.ZipFile, member: str, where: str):
    """One ``.npy`` member: an integer array, or the lists of an object array."""
    info = archive.getinfo(member)
    if info.file_size > MAX_MEMBER_BYTES:
        raise ValueError(f"{where}: {info.file_size} bytes, over the {MAX_MEMBER_BYTES} limit.")
    data = archive.read(member)
    stream = io.BytesIO(data)
    try:
        version = npy_format.read_magic(stream)
        if version == (1, 0):
            shape, fortran_order, dtype = npy_format.read_array_header_1_0(stream)
        elif version in ((2, 0), (3, 0)):  # 3.0 differs only by a UTF-8 header
            shape, fortran_order, dtype = npy_format.read_array_header_2_0(stream)
        else:
            raise ValueError(f"unsupported .npy version {version[0]}.{version[1]}")
    except ValueError as e:
        raise ValueError(f"{where}: not a valid .npy member ({e}).") from e
    payload = memoryview(data)[stream.tell() :]
    if dtype.hasobject:
        if dtype != numpy.dtype(object) or len(shape) != 1:
            raise ValueError(
                f"{where}: a {dtype} array of shape {shape}; only 1-D object arrays of lists of "
                "word indices are read."
            )
        return _unpickle_int_lists(payload, shape[0], where)
    if dtype.kind not in "iu" or dtype.fields is not None or dtype.subdtype is not None:
        raise ValueError(f"{where}: a {dtype} array; only integer arrays are read.")
    count = int(numpy.prod(shape, dtype=numpy.int64))
    if len(payload) != count * dtype.itemsize:
        raise ValueError(
            f"{where}: {len(payload)} bytes of data, expected {count * dtype.itemsize} for a "
            f"{dtype} array of shape {shape} (truncated or corrupt)."
        )
    array = numpy.frombuffer(payload, dtype=dtype, count=count)
    return array.reshape(shape, order="F" if fortran_order else "C").copy()


# --- the pickle of an object array -------------------------------------------------------


# Each load gets fresh stand-ins, all with ``__slots__ = ()``: a pickle's BUILD cannot give
# them attributes, and nothing it does to them outlives the load.


class _NdarrayName:
    """What ``numpy.ndarray`` resolves to: a name the pickle may pass, not call."""

    __slots__ = ()

    def __call__(self, *args, **kwargs):
        raise pickle.UnpicklingError("refused to call numpy.ndarray")


class _ReconstructName:
    """Stands for ``_reconstruct(numpy.ndarray, (0,), b"b")``, how NumPy pickles an array."""

    __slots__ = ()

    def __call__(self, subtype, shape, typecode) -> _ObjectArray:
        if type(subtype) is not _NdarrayName or shape != (0,) or typecode not in (b"b", "b"):
            raise pickle.UnpicklingError(f"refused _reconstruct arguments {shape!r}, {typecode!r}")
        return _ObjectArray()


class _DtypeName:
    """Stands for ``numpy.dtype("O8", False, True)``: only the object dtype is accepted."""

    __slots__ = ()

    def __call__(self, name, align=False, copy=True) -> _Dtype:
        if name not in ("O8", "O4", "O", b"O8", b"O4", b"O"):
            raise pickle.UnpicklingError(f"refused dtype {name!r}: only the object dtype")
        return _Dtype()


class _Dtype:
    """Stands for ``numpy.dtype("O")``; ``__setstate__`` takes the dtype's pickled state."""

    __slots__ = ()

    def __setstate__(self, state) -> None:
        if not isinstance(state, tuple):
            raise pickle.UnpicklingError(f"refused dtype state {type(state).__name__}")


class _ObjectArray:
    """Stands for an object ``numpy.ndarray``; ``__setstate__`` keeps the list of its items."""

    __slots__ = ("items",)

    def __init__(self) -> None:
        self.items: list | None = None

    def __setstate__(self, state) -> None:
        # ndarray's state: (version, shape, dtype, is_fortran, items); older: no version.
        if not isinstance(state, tuple) or len(state) not in (4, 5):
            raise pickle.UnpicklingError("refused array state: not ndarray's tuple")
        shape, dtype, _, items = state[-4:]
        if not isinstance(dtype, _Dtype) or not isinstance(items, list):
            raise pickle.UnpicklingError("refused array state: not an object array")
        if not isinstance(shape, tuple) or len(shape) != 1 or shape[0] != len(items):
            raise pickle.UnpicklingError(
                f"refused array state: shape {shape!r} for {len(items)} items"
            )
        self.items = items


_STAND_INS = {
    ("numpy.core.multiarray", "_reconstruct"): _ReconstructName,
    ("numpy._core.multiarray", "_reconstruct"): _ReconstructName,
    ("numpy", "ndarray"): _NdarrayName,
    ("numpy", "dtype"): _DtypeName,
}


class _ListsUnpickler(pickle.Unpickler):
    """Resolves only the names of NumPy's array pickle, to fresh stand-ins (above)."""

    def find_class(self, module: str, name: str):
        try:
            return _STAND_INS[(module, name)]()
        except KeyError:
            raise pickle.UnpicklingError(
                f"refused the global {module}.{name}: only "
                + ", ".join(f"{m}.{n}" for m, n in _STAND_INS)
                + " may appear in an object array of word indices"
            ) from None

    def persistent_load(self, pid):
        raise pickle.UnpicklingError("refused a persistent id")


def _unpickle_int_lists(payload: memoryview, count: int, where: str) -> list[list[int]]:
    """The ``count`` lists of ints of a pickled 1-D object array, or ``ValueError``."""
    try:
        _check_memo_indexes(bytes(payload))  # a huge memo index would allocate gigabytes
        # encoding="latin1": a Python 2 pickle's byte strings, as numpy.load reads them.
        result = _ListsUnpickler(io.BytesIO(payload), encoding="latin1").load()
    except pickle.UnpicklingError as e:
        kind = "refused pickle" if str(e).startswith("refused") else "corrupt pickle"
        raise ValueError(f"{where}: {kind} ({e}); nothing in it was run.") from None
    except CORRUPT_PICKLE_ERRORS as e:
        raise ValueError(f"{where}: corrupt pickle ({type(e).__name__}: {e}).") from e
    if not isinstance(result, _ObjectArray) or result.items is None:
        raise ValueError(f"{where}: the pickle is not an object array ({type(result).__name__}).")
    items = result.items
    if len(items) != count:
        raise ValueError(f"{where}: {len(items)} items, the .npy header announces {count}.")
    for i, seq in enumerate(items):
        if type(seq) is not list or not all(type(w) is int for w in seq):
            raise ValueError(
                f"{where}: item {i} is not a list of ints ({type(seq).__name__}); refused."
            )
    return items
