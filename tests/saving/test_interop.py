"""Files move between Keras 3 and cnnkit both ways.

The fixtures in ``tests/data/keras_fixtures`` were written by Keras 3.15 (JAX backend, and
``torch_dense_bn`` on the torch backend) with ``make_fixtures.py`` there: each ``.keras`` file
comes with its inputs, Keras's predictions and Keras's optimizer variables. The last test runs
only where Keras 3 is importable: it saves models with cnnkit and loads them with Keras.
"""

from __future__ import annotations

import json
import os
import pathlib
import warnings
import zipfile

import numpy as np
import pytest

import cnnkit
from cnnkit.models import load_model
from cnnkit.saving.h5_weights import optimizer_variables_in_keras_order

FIXTURES = pathlib.Path(__file__).resolve().parents[1] / "data" / "keras_fixtures"
NAMES = ["sequential_cnn", "functional_branches", "embedding_lstm", "torch_dense_bn"]


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


def test_keras_on_torch_names_its_optimizer_by_a_backend_module():
    with zipfile.ZipFile(FIXTURES / "torch_dense_bn.keras") as archive:
        config = json.loads(archive.read("config.json"))
    optimizer = config["compile_config"]["optimizer"]
    assert optimizer["module"] == "keras.src.backend.torch.optimizers.torch_adam"
    model = load_model(FIXTURES / "torch_dense_bn.keras")
    assert type(model.optimizer) is cnnkit.optimizers.Adam


def _with_optimizer_module(tmp_path, module, class_name="Adam", registered_name="Adam"):
    """The torch fixture with its optimizer's module (and names) rewritten."""
    source = FIXTURES / "torch_dense_bn.keras"
    target = tmp_path / "edited.keras"
    with zipfile.ZipFile(source) as archive, zipfile.ZipFile(target, "w") as out:
        for info in archive.infolist():
            data = archive.read(info)
            if info.filename == "config.json":
                config = json.loads(data)
                optimizer = config["compile_config"]["optimizer"]
                optimizer.update(module=module, class_name=class_name)
                optimizer["registered_name"] = registered_name
                data = json.dumps(config).encode()
            out.writestr(info, data)
    return target


@pytest.mark.parametrize(
    "module",
    [
        "keras.src.backend.tensorflow.optimizer",  # TFOptimizer's module
        "keras.src.backend.jax.optimizer",  # JaxOptimizer's module
        "keras.src.backend.torch.optimizers.torch_adam",
        "keras.src.optimizers.adam",
        "keras.src.backend.openvino.some_future_module",
        "keras.optimizers",
    ],
)
def test_builtin_classes_resolve_by_registered_name_whatever_keras_module(tmp_path, module):
    x, expected, _ = fixture("torch_dense_bn")
    model = load_model(_with_optimizer_module(tmp_path, module))
    assert type(model.optimizer) is cnnkit.optimizers.Adam
    assert model.optimizer.learning_rate.numpy() == pytest.approx(0.01)
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=0, atol=1e-5)


def test_modules_named_in_a_file_are_never_imported(tmp_path):
    import sys

    module = "keras.src.backend.torch.optimizers.not_a_real_module_cnnkit_test"
    with pytest.raises(TypeError, match="Could not locate class 'Nope'"):
        load_model(_with_optimizer_module(tmp_path, module, "Nope", "Nope"))
    assert module not in sys.modules
    # a custom registered name under a keras module does not fall back to the built-in class
    with pytest.raises(TypeError, match="Could not locate class 'Adam'"):
        load_model(_with_optimizer_module(tmp_path, "keras.src.x.y", "Adam", "mypkg>Adam"))


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
