"""Layer, Group, RMS and Unit normalization: lifecycle, values by hand, Keras 3 numerics."""

from __future__ import annotations

import numpy as np
import pytest

import cnnkit
from cnnkit import layers
from tests.harness import run_layer_test
from tests.layers.keras_reference import compare_with_keras

X = np.random.default_rng(0).standard_normal((2, 3, 4, 6)).astype("float32")

CASES = [
    ("LayerNormalization", {}),
    ("LayerNormalization", {"axis": [1, 3], "epsilon": 1e-5}),
    ("LayerNormalization", {"center": False}),
    ("LayerNormalization", {"scale": False, "beta_initializer": "ones"}),
    ("GroupNormalization", {"groups": 2}),
    ("GroupNormalization", {"groups": -1, "center": False}),
    ("GroupNormalization", {"groups": 3, "axis": 1}),
    ("RMSNormalization", {}),
    ("RMSNormalization", {"axis": [2, 3], "epsilon": 1e-3}),
    ("UnitNormalization", {}),
    ("UnitNormalization", {"axis": [1, 2]}),
]


@pytest.mark.parametrize("name,kwargs", CASES)
def test_lifecycle(name, kwargs):
    run_layer_test(getattr(layers, name), kwargs, X.shape, expected_output_shape=X.shape)


@pytest.mark.parametrize("name,kwargs", CASES)
def test_matches_keras(name, kwargs):
    keras = pytest.importorskip("keras")
    ours, theirs = getattr(layers, name)(**kwargs), getattr(keras.layers, name)(**kwargs)
    compare_with_keras(ours, theirs, (X,))
    expected = {**theirs.get_config(), "dtype": "float32", "name": ours.name}
    assert ours.get_config() == expected


def test_values_by_hand():
    x = X.astype("float64")
    mean = x.mean(-1, keepdims=True)
    expected = (x - mean) / np.sqrt(x.var(-1, keepdims=True) + 1e-3)
    np.testing.assert_allclose(layers.LayerNormalization()(X).numpy(), expected, atol=1e-5)
    g = x.reshape(2, 3, 4, 2, 3)
    gm, gv = g.mean((1, 2, 4), keepdims=True), g.var((1, 2, 4), keepdims=True)
    expected = ((g - gm) / np.sqrt(gv + 1e-3)).reshape(x.shape)
    np.testing.assert_allclose(layers.GroupNormalization(2)(X).numpy(), expected, atol=1e-5)
    expected = x / np.sqrt((x**2).mean(-1, keepdims=True) + 1e-6)
    np.testing.assert_allclose(layers.RMSNormalization()(X).numpy(), expected, atol=1e-5)
    expected = x / np.linalg.norm(x, axis=-1, keepdims=True)
    np.testing.assert_allclose(layers.UnitNormalization()(X).numpy(), expected, atol=1e-6)
    assert np.all(layers.UnitNormalization()(np.zeros((1, 3), "float32")).numpy() == 0)


def test_mask_passes_through():
    emb = layers.Embedding(5, 4, mask_zero=True)(np.array([[1, 2, 0]]))
    out = layers.LayerNormalization()(emb)
    np.testing.assert_array_equal(out._keras_mask, [[True, True, False]])


def test_invalid_arguments():
    with pytest.raises(TypeError, match="axis"):
        layers.LayerNormalization(axis="last")
    with pytest.raises(ValueError, match="epsilon"):
        layers.LayerNormalization(epsilon=-1.0)
    with pytest.raises(ValueError, match="out of bounds"):
        layers.LayerNormalization(axis=4)(X)
    with pytest.raises(ValueError, match="groups"):
        layers.GroupNormalization(groups=0)
    with pytest.raises(ValueError, match="divisor"):
        layers.GroupNormalization(groups=4)(X)
    with pytest.raises(ValueError, match="cannot be more"):
        layers.GroupNormalization(groups=8)(X)
    with pytest.raises(NotImplementedError, match="RMSNormalization"):
        layers.LayerNormalization(rms_scaling=True)


def test_saved_model_round_trip(tmp_path):
    inputs = layers.Input(X.shape[1:])
    x = layers.LayerNormalization(axis=[2, 3])(inputs)
    x = layers.GroupNormalization(3)(x)
    x = layers.RMSNormalization()(x)
    model = cnnkit.Model(inputs, layers.UnitNormalization()(x))
    for w in model.weights:
        w.assign(np.random.default_rng(1).uniform(0.5, 2.0, w.shape))
    path = str(tmp_path / "n.keras")
    model.save(path)
    loaded = cnnkit.saving.load_model(path)
    np.testing.assert_allclose(loaded.predict(X, verbose=0), model.predict(X, verbose=0))
