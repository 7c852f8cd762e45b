"""MNIST: 70,000 grayscale 28x28 images of handwritten digits 0-9 (LeCun, Cortes and Burges).

Files are looked for in ``$CNNKIT_DATA_DIR/mnist/`` (or ``~/.cnnkit/datasets/mnist/`` when the
variable is unset), then in ``/usr/share/datasets/mnist/``, and are otherwise downloaded from
``BASE_URL`` into the cache.

Integrity checks differ from Fashion-MNIST: the official MNIST files could not be fetched where
cnnkit was written, so the SHA-256 of their uncompressed content is unknown and
``PAYLOAD_SHA256`` is empty. Downloads are checked against the official ``.gz`` MD5s in
``GZ_MD5``; files found locally are checked by their IDX header only (magic number, 28x28
dimensions, 60,000/10,000 samples, as many labels as images, exact size) and label range.

Example:
    >>> from cnnkit.datasets import mnist
    >>> (x_train, y_train), (x_test, y_test) = mnist.load_data()  # doctest: +SKIP
    >>> x_train.shape, x_train.dtype, y_test.shape  # doctest: +SKIP
    ((60000, 28, 28), dtype('uint8'), (10000,))
"""

from __future__ import annotations

import os

from cnnkit.datasets import _files

NAME = "mnist"
BASE_URL = "https://ossci-datasets.s3.amazonaws.com/mnist/"
SYSTEM_DIRS = ("/usr/share/datasets/mnist",)
NUM_TRAIN = 60000
NUM_TEST = 10000

PAYLOAD_SHA256: dict[str, str] = {}  # unknown: local files are checked by header only
GZ_MD5 = {
    "train-images-idx3-ubyte": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte": "ec29112dd5afa0611ce80d1b7f02629c",
}


def load_data(path: str | os.PathLike | None = None) -> _files.Splits:
    """Load MNIST, from local files when present, else from the official mirror.

    Args:
        path: a folder holding the four IDX files (``.gz`` or uncompressed). When given, only
            that folder is read: no search, no download. Unlike Keras's ``path`` this is a
            folder, not a cache file name.

    Returns:
        ``((x_train, y_train), (x_test, y_test))``: ``uint8`` arrays of shapes
        ``(60000, 28, 28)``, ``(60000,)``, ``(10000, 28, 28)``, ``(10000,)``; labels in 0..9.

    Raises:
        FileNotFoundError: when the files are in no searched folder and the download fails; the
            message lists the folders searched and the three ways to fix it.
        ValueError: for a corrupt or truncated file (the message names it), or a download whose
            MD5 is wrong.

    Example:
        >>> (x_train, y_train), _ = load_data()  # doctest: +SKIP
        >>> x_train.shape  # doctest: +SKIP
        (60000, 28, 28)
    """
    return _files.load_mnist_like(
        title="MNIST",
        name=NAME,
        path=path,
        system_dirs=SYSTEM_DIRS,
        base_url=BASE_URL,
        gz_md5=GZ_MD5,
        payload_sha256=PAYLOAD_SHA256,
        num_train=NUM_TRAIN,
        num_test=NUM_TEST,
        install_hint=(
            "put the four files in /usr/share/datasets/mnist (Debian has no MNIST package)"
        ),
    )
