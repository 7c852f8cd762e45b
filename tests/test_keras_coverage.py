"""Coverage by name of Keras 3's activations, losses, metrics and optimizers.

Every public name of ``keras.activations``, ``keras.losses``, ``keras.metrics`` and
``keras.optimizers`` exists in the cnnkit module of the same name, except the deliberate
exclusions below (each with its reason). Runs where Keras is importable. A last test trains and
saves a model that uses the newer objects by name, through the ``.keras`` archive.
"""

from __future__ import annotations

import importlib

import numpy as np
import pytest

EXCLUDED = {
    "optimizers": {
        "legacy": "TF-Keras 2's optimizer namespace, kept by Keras 3 for imports only",
    },
    "layers": {
        "FlaxLayer": "wraps a Flax module: needs the JAX backend",
        "JaxLayer": "wraps a JAX function: needs the JAX backend",
        "TFSMLayer": "runs a TensorFlow SavedModel graph (code from a file)",
        "TorchModuleWrapper": "wraps a torch.nn.Module: needs the torch backend",
        "MaxNumBoundingBoxes": "bounding-box preprocessing is out of scope",
    },
}

FAMILIES = ["activations", "losses", "metrics", "optimizers"]


@pytest.mark.parametrize("family", FAMILIES)
def test_every_keras_name_exists(family):
    keras = pytest.importorskip("keras")
    theirs = {n for n in dir(getattr(keras, family)) if not n.startswith("_")}
    ours = importlib.import_module(f"cnnkit.{family}")
    excluded = EXCLUDED.get(family, {})
    missing = sorted(n for n in theirs - set(excluded) if not hasattr(ours, n))
    assert not missing, f"cnnkit.{family} lacks {missing}"
    # The exclusion list stays honest: nothing excluded that Keras lacks or cnnkit has.
    assert set(excluded) <= theirs
    assert not [n for n in excluded if hasattr(ours, n)]


def test_every_keras_layer_name_exists():
    keras = pytest.importorskip("keras")
    from cnnkit import layers

    theirs = {n for n in dir(keras.layers) if not n.startswith("_")}
    excluded = set(EXCLUDED["layers"])
    missing = sorted(n for n in theirs - excluded if not hasattr(layers, n))
    assert not missing, f"cnnkit.layers lacks {missing}"
    assert excluded <= theirs and not [n for n in excluded if hasattr(layers, n)]


@pytest.mark.parametrize("family", ["losses", "metrics", "optimizers"])
def test_every_keras_class_is_a_class_of_the_family(family):
    keras = pytest.importorskip("keras")
    ours = importlib.import_module(f"cnnkit.{family}")
    base = {"losses": "Loss", "metrics": "Metric", "optimizers": "Optimizer"}[family]
    for name in dir(getattr(keras, family)):
        obj = getattr(getattr(keras, family), name)
        if name in EXCLUDED.get(family, {}) or not isinstance(obj, type):
            continue
        if issubclass(obj, getattr(getattr(keras, family), base)):  # not OptimizerMap
            assert issubclass(getattr(ours, name), getattr(ours, base)), name
        assert name in ours.__all__, f"{name} missing from cnnkit.{family}.__all__"


def test_activations_resolve_by_every_keras_name():
    keras = pytest.importorskip("keras")
    from cnnkit import activations

    names = [n for n in dir(keras.activations) if not n.startswith("_")]
    for name in set(names) - {"get", "serialize", "deserialize"}:
        assert activations.get(name) is getattr(activations, name)
        assert activations.serialize(activations.get(name)) == keras.activations.serialize(
            keras.activations.get(name)
        )


def test_a_model_with_the_new_objects_trains_saves_and_loads(tmp_path):
    import cnnkit as keras_like
    from cnnkit import layers

    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 6)).astype("float32")
    y = np.eye(3)[rng.integers(0, 3, 64)].astype("float32")
    model = keras_like.Sequential(
        [
            layers.Input((6,)),
            layers.Dense(8, activation="mish"),
            layers.Dense(8, activation="hard_swish"),
            layers.Dense(3, activation="softmax"),
        ]
    )
    model.compile(
        optimizer=keras_like.optimizers.Nadam(0.01, use_ema=True),
        loss=keras_like.losses.CategoricalFocalCrossentropy(),
        metrics=["kl_divergence", keras_like.metrics.OneHotMeanIoU(num_classes=3)],
    )
    history = model.fit(x, y, epochs=3, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras_like.saving.load_model(path)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert type(loaded.optimizer).__name__ == "Nadam"
    assert type(loaded.loss).__name__ == "CategoricalFocalCrossentropy"
    for a, b in zip(loaded.optimizer.variables, model.optimizer.variables, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy())


def test_a_keras_archive_with_the_new_objects_loads(tmp_path):
    """Keras writes the archive (torch backend: its optimizers live in keras.src.backend.*)."""
    keras = pytest.importorskip("keras")
    import cnnkit

    rng = np.random.default_rng(0)
    x = rng.standard_normal((16, 5)).astype("float32")
    y = rng.standard_normal((16, 2)).astype("float32")
    model = keras.Sequential(
        [
            keras.Input((5,)),
            keras.layers.Dense(4, activation="mish"),
            keras.layers.Dense(4, activation="hard_swish"),
            keras.layers.Dense(2, activation="softplus"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Nadam(0.01),
        loss=keras.losses.LogCosh(),
        metrics=[keras.metrics.RootMeanSquaredError(), "mape", keras.metrics.R2Score()],
    )
    model.fit(x, y, epochs=1, verbose=0)
    path = str(tmp_path / "k.keras")
    model.save(path)
    ours = cnnkit.saving.load_model(path)
    theirs = keras.saving.load_model(path)
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), atol=1e-6)
    assert type(ours.optimizer).__name__ == "Nadam"
    for a, b in zip(ours.optimizer.variables, theirs.optimizer.variables, strict=True):
        np.testing.assert_allclose(a.numpy(), keras.ops.convert_to_numpy(b))
    got = ours.evaluate(x, y, verbose=0, return_dict=True)
    expected = theirs.evaluate(x, y, verbose=0, return_dict=True)
    assert set(got) == set(expected)
    for key in expected:
        np.testing.assert_allclose(got[key], expected[key], rtol=1e-5, err_msg=key)
