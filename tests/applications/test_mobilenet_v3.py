"""MobileNetV3 Small and Large: Keras's parameter counts (width multipliers, minimalistic),
layout and predictions, the built-in preprocessing, any input size, training on CIFAR-sized
images."""

from __future__ import annotations

import numpy as np
import pytest

import cnnkit as keras
from cnnkit import applications as apps
from cnnkit.applications import mobilenet_v3
from tests.applications.keras_reference import (
    assert_predicts_like,
    assert_same_layout,
    keras_weights_perturbed,
)

# Keras 3.15.1's count_params() for weights=None with the 1000-class top (Small's 2,554,968
# is also the figure of Keras's documentation), and without it at alpha=1.
COUNTS = {
    ("MobileNetV3Small", ()): 2_554_968,
    ("MobileNetV3Small", (("include_top", False),)): 939_120,
    ("MobileNetV3Small", (("minimalistic", True),)): 2_056_848,
    ("MobileNetV3Small", (("alpha", 0.75),)): 2_051_552,
    ("MobileNetV3Small", (("alpha", 1.25),)): 3_660_640,
    ("MobileNetV3Large", ()): 5_507_432,
    ("MobileNetV3Large", (("include_top", False),)): 2_996_352,
    ("MobileNetV3Large", (("minimalistic", True),)): 3_948_688,
    ("MobileNetV3Large", (("alpha", 0.75),)): 4_012_616,
    ("MobileNetV3Large", (("alpha", 1.25),)): 8_286_760,
}


@pytest.mark.parametrize("name, kwargs", list(COUNTS))
def test_parameter_counts(name, kwargs):
    assert getattr(apps, name)(**dict(kwargs)).count_params() == COUNTS[name, kwargs]


SMALL = (32, 32, 3)


@pytest.fixture(
    scope="module",
    params=[("MobileNetV3Small", {}), ("MobileNetV3Large", {"minimalistic": True})],
    ids=["small", "large-minimalistic"],
)
def pair(request):
    """(name, kwargs, ours, Keras's) at 32×32 with a 10-class logits top."""
    k = pytest.importorskip("keras")
    name, kwargs = request.param
    kwargs = dict(kwargs, input_shape=SMALL, classes=10, classifier_activation=None)
    theirs = getattr(k.applications, name)(weights=None, **kwargs)
    return name, kwargs, getattr(apps, name)(**kwargs), theirs


@pytest.mark.slow
def test_layout_and_predictions_equal_keras(pair):
    _, _, ours, theirs = pair
    assert_same_layout(ours, theirs)
    assert ours.name == theirs.name
    weights = keras_weights_perturbed(theirs)
    theirs.set_weights(weights)
    ours.set_weights(weights)
    x = np.random.default_rng(1).uniform(0, 255, (2, *SMALL)).astype("float32")
    assert_predicts_like(ours, theirs, x)


@pytest.mark.slow
def test_keras_weights_file_loads(tmp_path, pair):
    name, kwargs, _, theirs = pair
    path = str(tmp_path / "model.weights.h5")
    theirs.set_weights(keras_weights_perturbed(theirs, seed=2))
    theirs.save_weights(path)
    ours = getattr(apps, name)(weights=path, **kwargs)
    x = np.random.default_rng(3).uniform(0, 255, (2, *SMALL)).astype("float32")
    assert_predicts_like(ours, theirs, x)


def test_any_input_size_with_the_top():
    model = apps.MobileNetV3Small(classes=5, alpha=0.75)
    assert model.input_shape == (None, None, None, 3)
    rng = np.random.default_rng(0)
    for shape in ((40, 56, 3), (64, 64, 3)):
        x = rng.uniform(0, 255, (2, *shape)).astype("float32")
        probs = model.predict(x, verbose=0)
        assert probs.shape == (2, 5)
        np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)


def test_preprocessing_and_pooling():
    x = np.random.default_rng(0).uniform(0, 255, (2, *SMALL)).astype("float32")
    model = apps.MobileNetV3Large(input_shape=SMALL, include_top=False, pooling="avg")
    scaled = keras.Model(model.inputs, model.layers[1].output).predict(x, verbose=0)
    np.testing.assert_allclose(scaled, x / 127.5 - 1, rtol=1e-5, atol=1e-6)
    assert model.output_shape == (None, 960)
    assert model.layers[-1].name == "avg_pool"
    raw = apps.MobileNetV3Small(include_top=False, pooling="max", include_preprocessing=False)
    assert raw.layers[1].name == "conv"
    assert raw.output_shape == (None, 576)
    assert raw.layers[-1].name == "max_pool"
    assert mobilenet_v3.preprocess_input(x) is x


def test_dropout_rate_and_argument_errors():
    layers = apps.MobileNetV3Small(dropout_rate=0.5).layers
    assert [la.rate for la in layers if isinstance(la, keras.layers.Dropout)] == [0.5]
    no_dropout = apps.MobileNetV3Small(dropout_rate=0.0).layers
    assert not any(isinstance(la, keras.layers.Dropout) for la in no_dropout)
    with pytest.raises(ValueError, match="at least 32x32 for MobileNetV3Large"):
        apps.MobileNetV3Large(input_shape=(24, 24, 3))
    with pytest.raises(ValueError, match="`classes`.*Received: classes=0"):
        apps.MobileNetV3Small(classes=0)
    image = keras.Input((48, 48, 3))
    assert apps.MobileNetV3Small(input_tensor=image).inputs[0] is image


@pytest.mark.slow
def test_cifar_sized_images_train():
    keras.utils.set_random_seed(0)
    model = apps.MobileNetV3Small(input_shape=SMALL, classes=10)
    model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy")
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (8, *SMALL)).astype("float32")
    y = rng.integers(0, 10, 8)
    loss = model.fit(x, y, batch_size=8, epochs=5, verbose=0).history["loss"]
    assert np.all(np.isfinite(loss))
    assert loss[-1] < loss[0]
    assert model.predict(x[:2], verbose=0).shape == (2, 10)
