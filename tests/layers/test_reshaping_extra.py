"""RepeatVector, Permute, Identity and GaussianNoise against Keras 3 and finite differences."""

import numpy as np
import pytest

from cnnkit import layers
from tests.harness import gradcheck, run_layer_test


@pytest.mark.parametrize(
    "cls, kwargs, shape, expected",
    [
        (layers.RepeatVector, {"n": 3}, (2, 4), (2, 3, 4)),
        (layers.Permute, {"dims": (2, 1)}, (2, 5, 4), (2, 4, 5)),
        (layers.Permute, {"dims": (3, 1, 2)}, (2, 3, 4, 5), (2, 5, 3, 4)),
        (layers.Identity, {}, (2, 3), (2, 3)),
        (layers.GaussianNoise, {"stddev": 0.1, "seed": 1}, (2, 3), (2, 3)),
    ],
)
def test_lifecycle(cls, kwargs, shape, expected):
    run_layer_test(cls, kwargs, shape, expected_output_shape=expected)


@pytest.mark.parametrize(
    "name, kwargs, shape",
    [("RepeatVector", {"n": 3}, (2, 4)), ("Permute", {"dims": (3, 1, 2)}, (2, 3, 4, 5))],
)
def test_values_match_keras(name, kwargs, shape):
    keras = pytest.importorskip("keras")
    x = np.random.default_rng(0).standard_normal(shape).astype("float32")
    ours = np.asarray(getattr(layers, name)(**kwargs)(x))
    theirs = keras.ops.convert_to_numpy(getattr(keras.layers, name)(**kwargs)(x))
    np.testing.assert_array_equal(ours, theirs)


def test_gradients_match_finite_differences():
    x = np.random.default_rng(1).standard_normal((2, 3))
    gradcheck(lambda t: layers.RepeatVector(4)(t), x)
    y = np.random.default_rng(2).standard_normal((2, 3, 4))
    gradcheck(lambda t: layers.Permute((2, 1))(t), y)


def test_gaussian_noise_only_in_training():
    x = np.zeros((2000, 5), "float32")
    layer = layers.GaussianNoise(0.5, seed=3)
    np.testing.assert_array_equal(np.asarray(layer(x)), x)
    noisy = np.asarray(layer(x, training=True))
    assert noisy.dtype == np.float32
    assert abs(noisy.mean()) < 0.02 and abs(noisy.std() - 0.5) < 0.02


def test_bad_arguments():
    with pytest.raises(ValueError, match="`n` to be a positive integer. Received: n=0"):
        layers.RepeatVector(0)
    with pytest.raises(ValueError, match="must be consecutive and start from 1"):
        layers.Permute((0, 1))
    with pytest.raises(ValueError, match="stddev"):
        layers.GaussianNoise(-1.0)
    with pytest.raises(ValueError, match="ndim|rank|expected"):
        layers.RepeatVector(2)(np.ones((2, 3, 4), "float32"))
