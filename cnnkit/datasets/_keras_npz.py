"""Finding and reading Keras's small ``.npz`` dataset files (Boston and California housing,
Reuters), shared by their loaders.

Where a file is looked for (as ``imdb``): ``path`` itself when it has a folder part;
otherwise the file name in the cache (``$CNNKIT_DATA_DIR/<name>/`` or
``~/.cnnkit/datasets/<name>/``), then Keras's cache ``~/.keras/datasets/``; else the official
file is downloaded into the cache (through :func:`cnnkit.utils.get_file`). A file with the
official name must have the official SHA-256 (the value Keras checks). Offline and not
cached: a ``FileNotFoundError`` that says where to put the file.

Numeric ``.npz`` members are read with ``numpy.load(allow_pickle=False)``; Reuters' lists of
word indices (pickled object arrays) with ``cnnkit.datasets.imdb``'s restricted reader, which
runs no pickle code.
"""

from __future__ import annotations

import hashlib
import os
import zipfile

import numpy

from cnnkit.datasets import _files

ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
KERAS_CACHE = "~/.keras/datasets"


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def locate(name: str, path, official: str, sha256: str, title: str) -> str:
    """The file for ``path`` (see the module docstring), its hash checked if ``official``."""
    given = os.path.expanduser(os.fspath(path))
    if os.path.dirname(given):
        if not os.path.isfile(given):
            raise FileNotFoundError(f"{title} file not found: {given} does not exist.")
        found = given
    else:
        cache = _files.cache_dir(name)
        found = None
        searched = []
        for directory in (cache, os.path.expanduser(KERAS_CACHE)):
            candidate = os.path.join(directory, given)
            if os.path.isfile(candidate):
                found = candidate
                break
            state = "folder absent" if not os.path.isdir(directory) else f"no {given}"
            searched.append(f"  {directory} ({state})")
        if found is None:
            where = (
                f"Looked for {given} in:\n" + "\n".join(searched) + f"\nPut it in {cache} "
                f"(set CNNKIT_DATA_DIR to use <CNNKIT_DATA_DIR>/{name}), or pass its path with "
                f"a folder part (e.g. ./{given})"
            )
            if given != official:
                raise FileNotFoundError(
                    f"{title} file not found. {where}; only {official} is downloaded."
                )
            from cnnkit.utils.file_utils import get_file

            try:
                found = get_file(
                    official,
                    ORIGIN + official,
                    file_hash=sha256,
                    cache_dir=cache,
                    cache_subdir="",
                )
            except ValueError as e:
                raise FileNotFoundError(f"{title} file not found. {where}; {e}") from e
    if os.path.basename(found) == official:
        received = _sha256(found)
        if received != sha256:
            raise ValueError(
                f"{found}: wrong SHA-256: expected {sha256} (the official {official}), "
                f"received {received}. The file is corrupt or not the official one: delete it "
                "and load again, or give your own file another name."
            )
    return found


def read_numeric(path: str, keys=("x", "y")) -> dict:
    """The numeric arrays ``keys`` of an ``.npz``, read without pickle."""
    try:
        with numpy.load(path, allow_pickle=False) as f:
            missing = [k for k in keys if k not in f.files]
            if missing:
                raise ValueError(
                    f"{path}: no {', '.join(k + '.npy' for k in missing)} member; expected "
                    f"{', '.join(keys)}."
                )
            arrays = {k: f[k] for k in keys}
    except (zipfile.BadZipFile, EOFError, OSError) as e:
        raise ValueError(f"{path}: not a readable .npz file ({e}).") from e
    except ValueError as e:
        if str(e).startswith(path):
            raise
        raise ValueError(f"{path}: {e}") from e
    for k, a in arrays.items():
        if a.dtype.kind not in "biuf":
            raise ValueError(f"{path}:{k}.npy: a {a.dtype} array; expected numbers.")
    if len(arrays[keys[0]]) != len(arrays[keys[1]]):
        raise ValueError(
            f"{path}: {len(arrays[keys[0]])} {keys[0]} rows but {len(arrays[keys[1]])} "
            f"{keys[1]} values."
        )
    return arrays


def check_test_split(test_split) -> None:
    if not 0 <= test_split < 1:
        raise ValueError(
            f"Invalid `test_split` argument: {test_split}. It must be between 0 and 1 "
            "(exclusive of 1)."
        )


def shuffle_split(x, y, test_split: float, seed: int):
    """Keras's ``RandomState(seed)`` shuffle, then the first ``1 - test_split`` for training."""
    indices = numpy.arange(len(x))
    numpy.random.RandomState(seed).shuffle(indices)
    x, y = x[indices], y[indices]
    cut = int(len(x) * (1 - test_split))
    return (numpy.array(x[:cut]), numpy.array(y[:cut])), (
        numpy.array(x[cut:]),
        numpy.array(y[cut:]),
    )
