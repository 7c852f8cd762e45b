"""RandomGrayscale, RandomInvert, Solarization: deterministic cases against Keras 3, seeding."""

import numpy as np
import pytest

from cnnkit import layers as L
from tests.harness import run_layer_test

RNG = np.random.default_rng(0)
IMAGES = RNG.uniform(0, 255, (4, 5, 6, 3)).astype("float32")


@pytest.mark.parametrize(
    "name, kwargs",
    [
        ("RandomGrayscale", {"factor": 1.0}),
        ("RandomInvert", {"factor": (1.0, 1.0)}),
        ("Solarization", {}),
        ("Solarization", {"value_range": (0, 1)}),
    ],
)
def test_certain_draws_match_keras(name, kwargs):
    keras = pytest.importorskip("keras")
    x = IMAGES / 255.0 if kwargs.get("value_range") == (0, 1) else IMAGES
    expected = keras.ops.convert_to_numpy(getattr(keras.layers, name)(**kwargs)(x, training=True))
    out = getattr(L, name)(**kwargs)(x, training=True).numpy()
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-4)
    np.testing.assert_array_equal(getattr(L, name)(**kwargs)(x, training=False).numpy(), x)


def test_grayscale_weights_and_probability():
    out = L.RandomGrayscale(1.0)(IMAGES, training=True).numpy()
    gray = IMAGES @ np.array([0.2989, 0.587, 0.114], "float32")
    np.testing.assert_allclose(out, np.repeat(gray[..., None], 3, axis=-1), rtol=1e-5)
    np.testing.assert_array_equal(L.RandomGrayscale(0.0)(IMAGES, training=True).numpy(), IMAGES)
    many = np.repeat(IMAGES[:1], 400, axis=0)
    changed = (L.RandomGrayscale(0.5, seed=1)(many, training=True).numpy() != many).any(
        axis=(1, 2, 3)
    )
    assert 0.4 < changed.mean() < 0.6


def test_invert_and_solarization_rules():
    out = L.RandomInvert(factor=(1.0, 1.0), value_range=(0, 1))(IMAGES / 255, training=True)
    np.testing.assert_allclose(out.numpy(), 1 - IMAGES / 255, rtol=1e-6)
    x = np.array([[[[10.0], [100.0], [200.0]]]], "float32")
    # threshold 150 (pair (150/255, 150/255)) and addition 20: y = x + 20, inverted when >= 150
    layer = L.Solarization(addition_factor=(20 / 255, 20 / 255), threshold_factor=(150 / 255,) * 2)
    np.testing.assert_allclose(layer(x, training=True).numpy().ravel(), [30, 120, 35], atol=1e-3)
    ints = np.array([[[[3], [250]]]], "uint8")
    out = L.Solarization()(ints, training=True).numpy()
    assert out.dtype == np.uint8 and out.ravel().tolist() == [252, 5]


def test_seeded_layers_repeat_their_draws():
    a = L.RandomInvert(seed=5)(IMAGES, training=True).numpy()
    b = L.RandomInvert(seed=5)(IMAGES, training=True).numpy()
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "cls, kwargs",
    [
        (L.RandomGrayscale, {"factor": 0.3, "seed": 1}),
        (L.RandomInvert, {"factor": 0.5, "value_range": (0, 1)}),
        (L.Solarization, {"addition_factor": 0.1, "threshold_factor": (0.2, 0.8), "seed": 2}),
    ],
)
def test_lifecycle(cls, kwargs):
    run_layer_test(cls, kwargs, (2, 4, 4, 3))


@pytest.mark.parametrize(
    "make, pattern",
    [
        (lambda: L.RandomGrayscale(1.5), "between 0 and 1"),
        (lambda: L.RandomInvert(factor=2.0), "in the range"),
        (lambda: L.Solarization(threshold_factor=(0.1, 1.2)), "threshold_factor"),
        (lambda: L.Solarization(value_range=(1, 1)), "value_range"),
    ],
)
def test_bad_arguments(make, pattern):
    with pytest.raises(ValueError, match=pattern):
        make()


def test_grayscale_needs_one_or_three_channels():
    with pytest.raises(ValueError, match="expected 3 \\(RGB\\) or 1"):
        L.RandomGrayscale()(np.zeros((1, 2, 2, 4)), training=True)
