"""Boston housing prices: 506 districts, 13 features, the median home value (in $1000s).

``load_data`` reads Keras's ``boston_housing.npz`` (members ``x`` ``(506, 13)`` and ``y``
``(506,)``) and splits it as ``keras.datasets.boston_housing.load_data`` does; where the
file is looked for: :mod:`cnnkit.datasets._keras_npz`.
"""

from __future__ import annotations

from cnnkit.datasets import _keras_npz

NAME = "boston_housing"
DATA_FILE = "boston_housing.npz"
DATA_SHA256 = "f553886a1f8d56431e820c5b82552d9d95cfcb96d1e678153f8839538947dff5"


def load_data(path=DATA_FILE, test_split=0.2, seed=113):
    """``((x_train, y_train), (x_test, y_test))``, shuffled by ``RandomState(seed)``.

    Args:
        path: the file name in the cache, or a path (with a folder part) to a file.
        test_split: fraction of the samples for the test split, in ``[0, 1)``.
        seed: the shuffle's seed.

    Raises:
        ValueError: a bad ``test_split``; a file of the wrong hash or content (naming it).
        FileNotFoundError: when the file is not cached and cannot be downloaded.
    """
    _keras_npz.check_test_split(test_split)
    file = _keras_npz.locate(NAME, path, DATA_FILE, DATA_SHA256, "Boston housing")
    arrays = _keras_npz.read_numeric(file)
    return _keras_npz.shuffle_split(arrays["x"], arrays["y"], test_split, seed)
