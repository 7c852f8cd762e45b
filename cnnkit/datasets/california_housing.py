"""California housing prices: 20,640 districts, 8 features, the median house value.

``load_data`` reads Keras's ``california_housing.npz`` (members ``x`` ``(20640, 8)`` and
``y``) as ``keras.datasets.california_housing.load_data`` does (``version="small"``: the
first 600 samples); where the file is looked for: :mod:`cnnkit.datasets._keras_npz`.
"""

from __future__ import annotations

from cnnkit.datasets import _keras_npz

NAME = "california_housing"
DATA_FILE = "california_housing.npz"
DATA_SHA256 = "1a2e3a52e0398de6463aebe6f4a8da34fb21fbb6b934cf88c3425e766f2a1a6f"


def load_data(version="large", path=DATA_FILE, test_split=0.2, seed=113):
    """``((x_train, y_train), (x_test, y_test))``, shuffled by ``RandomState(seed)``.

    Args:
        version: ``"large"`` (all samples) or ``"small"`` (the first 600).
        path: the file name in the cache, or a path (with a folder part) to a file.
        test_split: fraction of the samples for the test split, in ``[0, 1)``.
        seed: the shuffle's seed.
    """
    _keras_npz.check_test_split(test_split)
    if version not in ("large", "small"):
        raise ValueError(
            f"Argument `version` must be one of 'small', 'large'. Received: version={version}"
        )
    file = _keras_npz.locate(NAME, path, DATA_FILE, DATA_SHA256, "California housing")
    arrays = _keras_npz.read_numeric(file)
    x, y = arrays["x"], arrays["y"]
    if version == "small":
        x, y = x[:600], y[:600]
    return _keras_npz.shuffle_split(x, y, test_split, seed)
