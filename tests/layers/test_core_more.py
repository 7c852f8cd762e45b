"""RepeatVector, Permute, Identity, Dot, PReLU, noise layers, ActivityRegularization, Wrapper,
SpectralNormalization and Pipeline: lifecycle, values, Keras 3 numerics, errors."""

from __future__ import annotations

import numpy as np
import pytest

import cnnkit
from cnnkit import layers
from tests.harness import run_layer_test
from tests.layers.keras_reference import compare_with_keras

RNG = np.random.default_rng(0)

LIFECYCLE = [
    ("RepeatVector", {"n": 3}, (2, 4), (2, 3, 4)),
    ("Permute", {"dims": (2, 1)}, (2, 3, 4), (2, 4, 3)),
    ("Permute", {"dims": (3, 1, 2)}, (2, 3, 4, 5), (2, 5, 3, 4)),
    ("Identity", {}, (2, 3), (2, 3)),
    ("PReLU", {}, (2, 3, 4), (2, 3, 4)),
    ("PReLU", {"shared_axes": [1], "alpha_initializer": "ones"}, (2, 3, 4), (2, 3, 4)),
    ("GaussianNoise", {"stddev": 0.1, "seed": 1}, (2, 3), (2, 3)),
    ("GaussianDropout", {"rate": 0.3, "seed": 1}, (2, 3), (2, 3)),
    ("AlphaDropout", {"rate": 0.3, "noise_shape": (None, 1), "seed": 1}, (2, 3), (2, 3)),
    ("ActivityRegularization", {"l1": 0.1, "l2": 0.2}, (2, 3), (2, 3)),
]


@pytest.mark.parametrize("name,kwargs,shape,expected", LIFECYCLE)
def test_lifecycle(name, kwargs, shape, expected):
    run_layer_test(getattr(layers, name), kwargs, shape, expected_output_shape=expected)


@pytest.mark.parametrize("name,kwargs,shape,expected", LIFECYCLE)
def test_matches_keras(name, kwargs, shape, expected):
    keras = pytest.importorskip("keras")
    x = RNG.standard_normal(shape).astype("float32")
    ours, theirs = getattr(layers, name)(**kwargs), getattr(keras.layers, name)(**kwargs)
    if name == "PReLU":
        theirs(x)
        theirs.set_weights([RNG.uniform(0.1, 0.9, w.shape) for w in theirs.get_weights()])
    compare_with_keras(ours, theirs, (x,))  # inference: the noise layers are the identity
    expected = {**theirs.get_config(), "dtype": "float32", "name": ours.name}
    assert _lists(ours.get_config()) == _lists(expected)


def _lists(config: dict) -> dict:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in config.items()}


def test_noise_layers_in_training():
    x = RNG.standard_normal((4000, 50)).astype("float32")
    noisy = layers.GaussianNoise(0.5, seed=1)(x, training=True).numpy()
    assert abs((noisy - x).std() - 0.5) < 0.01 and abs((noisy - x).mean()) < 0.01
    scaled = layers.GaussianDropout(0.2, seed=1)(x, training=True).numpy() / x
    assert abs(scaled.mean() - 1) < 0.01 and abs(scaled.std() - 0.5) < 0.01
    selu = layers.AlphaDropout(0.2, seed=1)(x, training=True).numpy()
    assert abs(selu.mean()) < 0.01 and abs(selu.std() - 1) < 0.01  # SELU's fixed point kept
    assert (layers.GaussianNoise(0.5)(x).numpy() == x).all()


def test_activity_regularization_adds_its_penalty():
    layer = layers.ActivityRegularization(l1=0.1, l2=0.2)
    x = np.array([[1.0, -2.0]], "float32")
    layer(x)
    np.testing.assert_allclose(float(layer.losses[0].numpy()), 0.1 * 3 + 0.2 * 5, rtol=1e-6)


@pytest.mark.parametrize(
    "axes,shapes",
    [(1, [(2, 3), (2, 3)]), (-1, [(2, 4, 3), (2, 5, 3)]), ((2, 1), [(2, 4, 3), (2, 3, 5)])],
)
@pytest.mark.parametrize("normalize", [False, True])
def test_dot(axes, shapes, normalize):
    x, y = (RNG.standard_normal(s).astype("float32") for s in shapes)
    run_layer_test_pair = layers.Dot(axes, normalize=normalize)
    out = run_layer_test_pair([x, y]).numpy()
    assert out.shape == run_layer_test_pair.compute_output_shape(shapes)
    keras = pytest.importorskip("keras")
    compare_with_keras(layers.Dot(axes, normalize), keras.layers.Dot(axes, normalize), ([x, y],))
    sym = layers.Dot(axes, normalize)([layers.Input(s[1:]) for s in shapes])
    assert sym.shape == (None, *out.shape[1:])


def test_dot_by_hand():
    x = RNG.standard_normal((2, 3)).astype("float32")
    y = RNG.standard_normal((2, 3)).astype("float32")
    out = layers.Dot(1, normalize=True)([x, y]).numpy()
    cos = (x * y).sum(1) / np.linalg.norm(x, axis=1) / np.linalg.norm(y, axis=1)
    np.testing.assert_allclose(out[:, 0], cos, rtol=1e-5)


def test_spectral_normalization():
    keras = pytest.importorskip("keras")
    x = RNG.standard_normal((2, 4)).astype("float32")
    for iterations in (1, 3):
        ours = layers.SpectralNormalization(layers.Dense(3), power_iterations=iterations)
        theirs = keras.layers.SpectralNormalization(keras.layers.Dense(3), iterations)
        compare_with_keras(ours, theirs, (x,), {"training": True})
    images = RNG.standard_normal((2, 5, 5, 2)).astype("float32")
    ours = layers.SpectralNormalization(layers.Conv2D(3, 3))
    theirs = keras.layers.SpectralNormalization(keras.layers.Conv2D(3, 3))
    compare_with_keras(ours, theirs, (images,), {"training": True})


def test_spectral_normalization_converges_and_saves(tmp_path):
    cnnkit.backend.set_seed(0)  # the kernel and the power iteration's start, whatever ran before
    layer = layers.SpectralNormalization(layers.Dense(4), power_iterations=30)
    x = RNG.standard_normal((2, 6)).astype("float32")
    layer(x, training=True)
    assert abs(np.linalg.svd(layer.layer.kernel.numpy())[1][0] - 1.0) < 1e-4
    inputs = layers.Input((6,))
    model = cnnkit.Model(inputs, layers.SpectralNormalization(layers.Dense(4))(inputs))
    model.compile("sgd", "mse")
    model.fit(x, np.ones((2, 4), "float32"), epochs=2, verbose=0)
    path = str(tmp_path / "s.keras")
    model.save(path)
    loaded = cnnkit.saving.load_model(path)
    for a, b in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="power_iterations"):
        layers.SpectralNormalization(layers.Dense(2), power_iterations=0)
    with pytest.raises(ValueError, match="kernel"):
        layers.SpectralNormalization(layers.Identity())(x)
    with pytest.raises(ValueError, match="Wrapper"):
        layers.Wrapper("dense")


def test_pipeline():
    x = np.ones((2, 3), "float32")
    pipe = layers.Pipeline([layers.Rescaling(2.0), layers.Rescaling(1.0, offset=-1.0)])
    np.testing.assert_array_equal(pipe(x).numpy(), np.ones((2, 3)))
    config = pipe.get_config()
    clone = layers.Pipeline.from_config(config)
    np.testing.assert_array_equal(clone(x).numpy(), pipe(x).numpy())
    assert [type(layer).__name__ for layer in clone.layers] == ["Rescaling", "Rescaling"]
    keras = pytest.importorskip("keras")
    theirs = keras.layers.Pipeline([keras.layers.Rescaling(2.0)])
    assert set(config) == set(theirs.get_config())


def test_saved_model_round_trip(tmp_path):
    inputs = layers.Input((4,))
    x = layers.RepeatVector(3)(inputs)
    x = layers.Permute((2, 1))(x)
    x = layers.PReLU(alpha_initializer="ones")(x)
    x = layers.GaussianNoise(0.1)(x)
    x = layers.AlphaDropout(0.1)(x)
    x = layers.GaussianDropout(0.1)(x)
    x = layers.ActivityRegularization(l2=0.01)(x)
    x = layers.Identity()(x)
    model = cnnkit.Model(inputs, layers.Dot(axes=2)([x, x]))
    path = str(tmp_path / "c.keras")
    model.save(path)
    data = RNG.standard_normal((2, 4)).astype("float32")
    loaded = cnnkit.saving.load_model(path)
    np.testing.assert_allclose(loaded.predict(data, verbose=0), model.predict(data, verbose=0))


def test_invalid_arguments():
    with pytest.raises(TypeError, match="`n`"):
        layers.RepeatVector(2.5)
    with pytest.raises(ValueError, match="positive"):
        layers.RepeatVector(0)
    with pytest.raises(ValueError, match="ndim=2"):
        layers.RepeatVector(2)(np.ones((1, 2, 3), "float32"))
    with pytest.raises(ValueError, match="permutation"):
        layers.Permute((1, 3))
    with pytest.raises(ValueError, match="two elements"):
        layers.Dot((1, 2, 3))
    with pytest.raises(ValueError, match="Incompatible input shapes"):
        layers.Dot(1)([np.ones((2, 3), "float32"), np.ones((2, 4), "float32")])
    with pytest.raises(ValueError, match="stddev"):
        layers.GaussianNoise(2.0)
    with pytest.raises(ValueError, match="rate"):
        layers.AlphaDropout(-0.1)
    with pytest.raises(ValueError, match="shared_axes"):
        layers.PReLU(shared_axes=[3])(np.ones((1, 2, 3), "float32"))
