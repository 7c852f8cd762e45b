"""Fashion-MNIST: 70,000 grayscale 28x28 images of clothing in 10 classes (Zalando Research).

Classes: 0 T-shirt/top, 1 Trouser, 2 Pullover, 3 Dress, 4 Coat, 5 Sandal, 6 Shirt, 7 Sneaker,
8 Bag, 9 Ankle boot; 6,000 training and 1,000 test images each.

Files are looked for in ``$CNNKIT_DATA_DIR/fashion-mnist/`` (or
``~/.cnnkit/datasets/fashion-mnist/`` when the variable is unset), then in
``/usr/share/datasets/fashion-mnist/``, where Debian's ``dataset-fashion-mnist`` package installs
the four official ``.gz`` files, and are otherwise downloaded from ``BASE_URL`` into the cache.

Every file's header is checked, and the SHA-256 of its *uncompressed* content against
``PAYLOAD_SHA256``: Debian recompresses the ``.gz`` files, so their own hashes differ from the
official ones while the content is identical. Downloads are checked against the official ``.gz``
MD5s in ``GZ_MD5``.

Example:
    >>> from cnnkit.datasets import fashion_mnist
    >>> (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()  # doctest: +SKIP
    >>> x_train.shape, x_train.dtype, y_test.shape  # doctest: +SKIP
    ((60000, 28, 28), dtype('uint8'), (10000,))
"""

from __future__ import annotations

import os

from cnnkit.datasets import _files

NAME = "fashion-mnist"
BASE_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
SYSTEM_DIRS = ("/usr/share/datasets/fashion-mnist",)
NUM_TRAIN = 60000
NUM_TEST = 10000

PAYLOAD_SHA256 = {
    "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}
GZ_MD5 = {
    "train-images-idx3-ubyte": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    "train-labels-idx1-ubyte": "25c81989df183df01b3e8a0aad5dffbe",
    "t10k-images-idx3-ubyte": "bef4ecab320f06d8554ea6380940ec79",
    "t10k-labels-idx1-ubyte": "bb300cfdad3c16e7a12a480ee83cd310",
}


def load_data(path: str | os.PathLike | None = None) -> _files.Splits:
    """Load Fashion-MNIST, from local files when present, else from the official mirror.

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
        ValueError: for a corrupt, truncated or modified file (the message names the file and
            the expected and received hashes), or a download whose MD5 is wrong.

    Example:
        >>> (x_train, y_train), _ = load_data()  # doctest: +SKIP
        >>> x_train.shape  # doctest: +SKIP
        (60000, 28, 28)
    """
    return _files.load_mnist_like(
        title="Fashion-MNIST",
        name=NAME,
        path=path,
        system_dirs=SYSTEM_DIRS,
        base_url=BASE_URL,
        gz_md5=GZ_MD5,
        payload_sha256=PAYLOAD_SHA256,
        num_train=NUM_TRAIN,
        num_test=NUM_TEST,
        install_hint=(
            "apt-get install dataset-fashion-mnist (it installs the files in "
            "/usr/share/datasets/fashion-mnist)"
        ),
    )
