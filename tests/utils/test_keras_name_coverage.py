"""Every public name of Keras 3's ``utils``, ``preprocessing`` and ``wrappers`` exists in cnnkit,
except the exclusions listed (with the reason) here."""

import importlib

import pytest

keras = pytest.importorskip("keras")

MODULES = [
    "utils",
    "utils.legacy",
    "preprocessing",
    "preprocessing.image",
    "preprocessing.sequence",
    "wrappers",
]

EXCLUDED = {
    "utils": {
        "FeatureSpace": "structured-data preprocessing built on tf.data; out of scope",
        "audio_dataset_from_directory": "audio decoding needs tf.audio; out of scope",
        "bounding_boxes": "object-detection box utilities; out of scope",
    },
}


def _public(module) -> set:
    return {name for name in dir(module) if not name.startswith("_")}


@pytest.mark.parametrize("path", MODULES)
def test_every_keras_name_exists(path):
    theirs = importlib.import_module(f"keras.{path}")
    ours = importlib.import_module(f"cnnkit.{path}") if path != "utils.legacy" else None
    if ours is None:
        import cnnkit.utils

        ours = cnnkit.utils.legacy
    wanted = _public(theirs) - set(EXCLUDED.get(path, {}))
    missing = sorted(name for name in wanted if not hasattr(ours, name))
    assert not missing, f"cnnkit.{path} lacks {missing}"


def test_exclusions_are_still_keras_names():
    for path, names in EXCLUDED.items():
        theirs = importlib.import_module(f"keras.{path}")
        assert set(names) <= _public(theirs)
