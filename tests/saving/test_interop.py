"""Files move between Keras 3 and cnnkit both ways.

The fixtures in ``tests/data/keras_fixtures`` were written by Keras 3.15 (JAX backend) with
``make_fixtures.py`` there: each ``.keras`` file comes with its inputs, Keras's predictions
and Keras's optimizer variables. The last test runs only where Keras 3 is importable: it
saves models with cnnkit and loads them with Keras.
"""

from __future__ import annotations

import os
import pathlib
import warnings

import numpy as np
import pytest

import cnnkit
from cnnkit.models import load_model
from cnnkit.saving.h5_weights import optimizer_variables_in_keras_order

FIXTURES = pathlib.Path(__file__).resolve().parents[1] / "data" / "keras_fixtures"
NAMES = ["sequential_cnn", "functional_branches", "embedding_lstm"]


def fixture(name):
    with np.load(FIXTURES / f"{name}.npz", allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    xs = [arrays[f"x{i}"] for i in range(len(arrays)) if f"x{i}" in arrays]
    optimizer = [arrays[f"optimizer_{i}"] for i in range(len(arrays)) if f"optimizer_{i}" in arrays]
    return (xs if len(xs) > 1 else xs[0]), arrays["y"], optimizer


@pytest.mark.parametrize("name", NAMES)
def test_keras_files_load_with_the_same_predictions_and_optimizer_state(name):
    x, expected, optimizer_state = fixture(name)
    model = load_model(FIXTURES / f"{name}.keras")
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=0, atol=1e-5)
    assert model.compiled
    variables = optimizer_variables_in_keras_order(model.optimizer, model)
    assert len(variables) == len(optimizer_state)
    for variable, saved in zip(variables, optimizer_state, strict=True):
        np.testing.assert_array_equal(variable.numpy(), saved)
    model.fit(x, np.zeros(len(expected), "int64"), epochs=1, verbose=0)  # training carries on
    assert int(model.optimizer.iterations) == int(optimizer_state[0]) + 1


def test_keras_configs_rebuild_the_same_architecture():
    model = load_model(FIXTURES / "functional_branches.keras", compile=False)
    assert [layer.name for layer in model.layers] == [
        "a", "b", "shared", "concat", "add", "merge", "out"
    ]  # fmt: skip
    assert not model.compiled
    assert len(model.get_layer("shared")._inbound_nodes) == 2
    model = load_model(FIXTURES / "embedding_lstm.keras")
    assert model.layers[0].mask_zero and model.inputs[0].dtype == "int32"


def cnnkit_models(K):
    """The fixtures' architectures, written as Keras code (``K`` is keras or cnnkit)."""
    layers = K.layers
    cnn = K.Sequential(
        [
            K.Input((8, 8, 1)),
            layers.Conv2D(3, 3, activation="relu"),
            layers.BatchNormalization(),
            layers.MaxPooling2D(),
            layers.Flatten(),
            layers.Dropout(0.25),
            layers.Dense(4, activation="softmax"),
        ]
    )
    cnn.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    a, b = K.Input((5,), name="a"), K.Input((5,), name="b")
    shared = layers.Dense(5, activation="tanh", name="shared")
    left = layers.Concatenate()([shared(a), b])
    right = layers.Add()([shared(b), a])
    out = layers.Dense(3, activation="softmax")(layers.Concatenate()([left, right]))
    branches = K.Model([a, b], out)
    branches.compile(optimizer=K.optimizers.SGD(0.05, momentum=0.9), loss="mse")
    lstm = K.Sequential(
        [
            K.Input((7,), dtype="int32"),
            layers.Embedding(12, 4, mask_zero=True),
            layers.LSTM(5),
            layers.Dense(2),
        ]
    )
    lstm.compile(optimizer="rmsprop", loss="mse")
    return {"sequential_cnn": cnn, "functional_branches": branches, "embedding_lstm": lstm}


def test_cnnkit_files_load_in_keras(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        os.environ.setdefault("KERAS_BACKEND", "torch")
        keras = pytest.importorskip("keras")
    if not keras.__version__.startswith("3."):
        pytest.skip(f"needs Keras 3, found {keras.__version__}")
    for name, model in cnnkit_models(cnnkit).items():
        x, _, _ = fixture(name)
        targets = np.zeros((len(x[0]) if isinstance(x, list) else len(x), 3), "float32")
        if name != "functional_branches":
            targets = np.zeros(len(targets), "int64")
            if name == "embedding_lstm":
                targets = np.zeros((len(targets), 2), "float32")
        model.fit(x, targets, epochs=2, batch_size=3, verbose=0)
        model.save(tmp_path / f"{name}.keras")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            loaded = keras.saving.load_model(tmp_path / f"{name}.keras")
            predictions = np.asarray(loaded.predict(x, verbose=0))
        np.testing.assert_allclose(predictions, model.predict(x, verbose=0), rtol=0, atol=1e-5)
        expected = [v.numpy() for v in optimizer_variables_in_keras_order(model.optimizer, model)]
        found = [np.asarray(v) for v in loaded.optimizer.variables]
        assert [e.shape for e in expected] == [f.shape for f in found]
        for e, f in zip(expected, found, strict=True):
            np.testing.assert_array_equal(e, f)
