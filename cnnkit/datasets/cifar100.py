"""CIFAR-100: 60,000 colour 32x32 images in 100 fine classes grouped in 20 coarse ones.

500 training and 100 test images per fine class (Krizhevsky, 2009). The official
``cifar-100-python.tar.gz`` is found, downloaded and checked exactly as CIFAR-10's (see
``cifar10``): cache ``$CNNKIT_DATA_DIR/cifar-100/`` (or ``~/.cnnkit/datasets/cifar-100/``), then
``SYSTEM_DIRS``, then ``URL``; size ``ARCHIVE_BYTES`` and SHA-256 ``ARCHIVE_SHA256`` (the value
Keras 3 checks) before anything is read; members listed in memory, never extracted (only the
folder ``cifar-100-python`` and its files ``train``, ``test``, ``meta`` and ``file.txt~`` are
accepted); the ``train`` and ``test`` pickles read with the restricted unpickler. Downloads are
checked against ``ARCHIVE_MD5``.

Labels are ``int64``, as Keras 3 actually returns them (it reshapes the pickled Python list;
its docstring says ``uint8``, its code gives ``int64``).

Example:
    >>> from cnnkit.datasets import cifar100
    >>> (x_train, y_train), _ = cifar100.load_data(label_mode="coarse")  # doctest: +SKIP
    >>> x_train.shape, y_train.shape, y_train.dtype, int(y_train.max())  # doctest: +SKIP
    ((50000, 32, 32, 3), (50000, 1), dtype('int64'), 19)
"""

from __future__ import annotations

import os

from cnnkit.datasets import _files, _pickle, cifar10

NAME = "cifar-100"
ARCHIVE = "cifar-100-python.tar.gz"
URL = "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"
SYSTEM_DIRS = ("/usr/share/datasets/cifar-100",)
ARCHIVE_BYTES = 169_001_437
ARCHIVE_SHA256 = "85cd44d02ba6437773c5bbd22e183051d648de2e7d6b014e1ef29b855ba677a7"
ARCHIVE_MD5 = "eb9058c3a382ffc7106e4002c42a8d85"

FOLDER = "cifar-100-python"
TRAIN_FILE = "train"
TEST_FILE = "test"
OTHER_MEMBERS = ("meta", "file.txt~")  # in the official archive, never read
NUM_TRAIN = 50000
NUM_TEST = 10000
NUM_CLASSES = {"fine": 100, "coarse": 20}


def load_data(label_mode: str = "fine", path: str | os.PathLike | None = None) -> _files.Splits:
    """Load CIFAR-100, from a local archive when present, else from the official site.

    Args:
        label_mode: ``"fine"`` (100 classes) or ``"coarse"`` (the 20 superclasses).
        path: the archive ``cifar-100-python.tar.gz``, or a folder holding it. When given, only
            that file is read: no search, no download (an extension of Keras's API).

    Returns:
        ``((x_train, y_train), (x_test, y_test))``: ``uint8`` images of shapes
        ``(50000, 32, 32, 3)`` and ``(10000, 32, 32, 3)``; ``int64`` labels of shapes
        ``(50000, 1)`` and ``(10000, 1)``, in 0..99 (fine) or 0..19 (coarse).

    Raises:
        ValueError: for a ``label_mode`` other than ``"fine"``/``"coarse"``; for a truncated,
            corrupt or modified archive (the message names the file and the expected
            SHA-256), an unexpected, unsafe or link member, a refused pickle, a download whose
            MD5 is wrong, or files of the wrong content.
        FileNotFoundError: when the archive is in no searched folder and the download fails.

    Example:
        >>> (x_train, y_train), _ = load_data()  # doctest: +SKIP
        >>> y_train.shape, int(y_train.max())  # doctest: +SKIP
        ((50000, 1), 99)
    """
    if not isinstance(label_mode, str) or label_mode not in NUM_CLASSES:
        raise ValueError(
            '`label_mode` must be one of `"fine"`, `"coarse"`. '
            f"Received: label_mode={label_mode!r}."
        )
    archive = cifar10.locate_archive(
        title="CIFAR-100",
        name=NAME,
        archive=ARCHIVE,
        path=path,
        system_dirs=SYSTEM_DIRS,
        url=URL,
        md5=ARCHIVE_MD5,
    )
    members = cifar10.read_archive(
        archive,
        size=ARCHIVE_BYTES,
        sha256=ARCHIVE_SHA256,
        folder=FOLDER,
        required=(TRAIN_FILE, TEST_FILE),
        optional=OTHER_MEMBERS,
    )
    splits = []
    for member, count, split in (
        (TRAIN_FILE, NUM_TRAIN, "training"),
        (TEST_FILE, NUM_TEST, "test"),
    ):
        x, y = _pickle.load_batch(
            members.pop(member),
            f"{archive}:{FOLDER}/{member}",
            label_key=f"{label_mode}_labels".encode(),
            num_classes=NUM_CLASSES[label_mode],
        )
        if len(x) != count:
            raise ValueError(f"{archive}: {len(x)} {split} images, expected {count} for CIFAR-100.")
        splits.append((x, y.reshape(-1, 1)))
    return splits[0], splits[1]
