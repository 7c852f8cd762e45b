"""EfficientNet B0-B7 and EfficientNetV2: Keras's parameter counts, layout and predictions,
the built-in preprocessing, Keras's weight files, and training on CIFAR-sized images."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

import cnnkit as keras
from cnnkit import applications as apps
from cnnkit.applications import efficientnet, efficientnet_v2
from tests.applications.keras_reference import (
    assert_predicts_like,
    assert_same_layout,
    keras_weights_perturbed,
)
from tests.applications.test_keras_zoo import _write_legacy_h5

# Keras 3.15.1's count_params() for weights=None, with and without the 1000-class top
# (B0's and V2B0's are also the figures of Keras's documentation).
COUNTS = {
    "EfficientNetB0": (5_330_571, 4_049_571),
    "EfficientNetB1": (7_856_239, 6_575_239),
    "EfficientNetB2": (9_177_569, 7_768_569),
    "EfficientNetB3": (12_320_535, 10_783_535),
    "EfficientNetB4": (19_466_823, 17_673_823),
    "EfficientNetB5": (30_562_527, 28_513_527),
    "EfficientNetB6": (43_265_143, 40_960_143),
    "EfficientNetB7": (66_658_687, 64_097_687),
    "EfficientNetV2B0": (7_200_312, 5_919_312),
    "EfficientNetV2B1": (8_212_124, 6_931_124),
    "EfficientNetV2B2": (10_178_374, 8_769_374),
    "EfficientNetV2B3": (14_467_622, 12_930_622),
    "EfficientNetV2S": (21_612_360, 20_331_360),
    "EfficientNetV2M": (54_431_388, 53_150_388),
    "EfficientNetV2L": (119_027_848, 117_746_848),
}
BIG = ("EfficientNetB5", "EfficientNetB6", "EfficientNetB7", "EfficientNetV2M", "EfficientNetV2L")


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=pytest.mark.slow) if n in BIG else n for n in COUNTS]
)
def test_parameter_counts(name):
    builder = getattr(apps, name)
    with_top, without = COUNTS[name]
    model = builder()
    assert model.count_params() == with_top
    assert model.output_shape == (None, 1000)
    assert builder(include_top=False).count_params() == without


SMALL = (32, 32, 3)


@pytest.fixture(scope="module", params=["EfficientNetB0", "EfficientNetV2B0"])
def pair(request):
    """(name, ours, Keras's) at 32×32 with a 10-class logits top (Keras takes 10-40 s to
    build one, hence the slow marks of the tests that use it)."""
    k = pytest.importorskip("keras")
    kwargs = dict(input_shape=SMALL, classes=10, classifier_activation=None)
    theirs = getattr(k.applications, request.param)(weights=None, **kwargs)
    return request.param, getattr(apps, request.param)(**kwargs), theirs


@pytest.mark.slow
def test_layout_equals_keras(pair):
    name, ours, theirs = pair
    assert_same_layout(ours, theirs)
    assert ours.name == theirs.name
    drops = [la for la in ours.layers if isinstance(la, keras.layers.Dropout)]
    assert drops[-1].name == "top_dropout" and drops[-1].noise_shape is None
    assert all(la.noise_shape == (None, 1, 1, 1) for la in drops[:-1])  # stochastic depth


@pytest.mark.slow
def test_predictions_equal_keras(pair):
    _, ours, theirs = pair
    weights = keras_weights_perturbed(theirs)
    theirs.set_weights(weights)
    ours.set_weights(weights)
    x = np.random.default_rng(1).uniform(0, 255, (2, *SMALL)).astype("float32")
    assert_predicts_like(ours, theirs, x)


@pytest.mark.slow
def test_keras_weights_file_loads(tmp_path, pair):
    name, _, theirs = pair
    path = str(tmp_path / "model.weights.h5")
    theirs.set_weights(keras_weights_perturbed(theirs, seed=2))
    theirs.save_weights(path)
    ours = getattr(apps, name)(
        weights=path, input_shape=SMALL, classes=10, classifier_activation=None
    )
    x = np.random.default_rng(3).uniform(0, 255, (2, *SMALL)).astype("float32")
    assert_predicts_like(ours, theirs, x)


def _features(model, layer, x):
    return keras.Model(model.inputs, model.get_layer(layer).output).predict(x, verbose=0)


IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], "float32")
IMAGENET_STD = np.array([0.229, 0.224, 0.225], "float32")


def test_published_h5_file_gets_keras_imagenet_normalisation(tmp_path):
    """Keras's published files store the standard deviations as the variance; loaded from
    such a legacy .h5, the model normalises by the standard deviation, as Keras's
    weights="imagenet" does (tensorflow/tensorflow#49930)."""
    keras.utils.set_random_seed(0)
    source = apps.EfficientNetB0(include_top=False, input_shape=SMALL)
    source.get_layer("normalization").set_weights([IMAGENET_MEAN, IMAGENET_STD, np.int64(0)])
    path = str(tmp_path / "efficientnetb0_notop.h5")
    _write_legacy_h5(source, path)
    with h5py.File(path, "a") as f:  # Keras 2 keeps the count as int64
        group = f["normalization"]
        del group["normalization/count:0"]
        group.create_dataset("normalization/count:0", data=np.int64(0))
    loaded = apps.EfficientNetB0(include_top=False, input_shape=SMALL, weights=path)
    x = np.random.default_rng(0).uniform(0, 255, (2, *SMALL)).astype("float32")
    np.testing.assert_allclose(
        _features(loaded, "rescaling_1", x),
        (x / 255 - IMAGENET_MEAN) / IMAGENET_STD,
        rtol=1e-5,
        atol=1e-6,
    )
    for a, b in zip(source.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert "rescaling_1" not in [la.name for la in source.layers]
    with h5py.File(path, "a") as f:
        del f["normalization/normalization/count:0"]
        f["normalization"].create_dataset("normalization/count:0", data=b"zero")
    with pytest.raises(ValueError, match=r"notop\.h5.*count:0' is not a numeric array"):
        apps.EfficientNetB0(include_top=False, input_shape=SMALL, weights=path)


def test_v2_preprocessing():
    x = np.random.default_rng(0).uniform(0, 255, (2, *SMALL)).astype("float32")
    b0 = apps.EfficientNetV2B0(include_top=False, input_shape=SMALL)
    np.testing.assert_allclose(
        _features(b0, "normalization", x),
        (x / 255 - IMAGENET_MEAN) / IMAGENET_STD,
        rtol=1e-5,
        atol=1e-6,
    )
    s = apps.EfficientNetV2S(include_top=False, input_shape=SMALL)
    np.testing.assert_allclose(_features(s, "rescaling", x), x / 128 - 1, rtol=1e-6)
    raw = apps.EfficientNetV2B0(include_top=False, input_shape=SMALL, include_preprocessing=False)
    assert raw.layers[1].name == "stem_conv"
    assert raw.count_params() == b0.count_params()
    assert efficientnet.preprocess_input(x) is x
    assert efficientnet_v2.preprocess_input(x) is x


@pytest.mark.parametrize(
    "builder, channels", [(apps.EfficientNetB0, 1280), (apps.EfficientNetV2B0, 1280)]
)
def test_feature_extractor_pooling(builder, channels):
    avg = builder(include_top=False, pooling="avg")
    assert avg.input_shape == (None, None, None, 3)
    assert avg.output_shape == (None, channels)
    assert avg.layers[-1].name == "avg_pool"
    assert builder(include_top=False, pooling="max").layers[-1].name == "max_pool"
    x = np.random.default_rng(0).uniform(0, 255, (1, 40, 48, 3)).astype("float32")
    assert avg.predict(x, verbose=0).shape == (1, channels)
    assert builder(include_top=False, input_shape=(64, 64, 3)).output_shape == (
        None, 2, 2, channels,
    )  # fmt: skip


def test_argument_errors():
    with pytest.raises(ValueError, match="at least 32x32 for EfficientNetB3"):
        apps.EfficientNetB3(include_top=False, input_shape=(31, 64, 3))
    with pytest.raises(ValueError, match="at least 32x32 for EfficientNetV2S"):
        apps.EfficientNetV2S(include_top=False, input_shape=(16, 16, 3))
    with pytest.raises(ValueError, match="`pooling`.*Received: pooling='mean'"):
        apps.EfficientNetB0(include_top=False, pooling="mean")
    with pytest.raises(ValueError, match="does not download pretrained weights"):
        apps.EfficientNetV2B0(weights="imagenet")
    with pytest.raises(ValueError, match="static `input_shape`"):
        apps.EfficientNetB0(input_shape=(None, None, 3))


def test_input_tensor_and_default_shapes():
    image = keras.Input((48, 48, 3))
    model = apps.EfficientNetV2B1(input_tensor=image, include_top=False, pooling="avg")
    assert model.inputs[0] is image
    assert apps.EfficientNetB2().input_shape == (None, 260, 260, 3)
    assert apps.EfficientNetV2B3().input_shape == (None, 300, 300, 3)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["EfficientNetB0", "EfficientNetV2B0"])
def test_cifar_sized_images_train(name):
    keras.utils.set_random_seed(0)
    model = getattr(apps, name)(input_shape=SMALL, classes=10)
    model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy")
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (8, *SMALL)).astype("float32")
    y = rng.integers(0, 10, 8)
    loss = model.fit(x, y, batch_size=8, epochs=5, verbose=0).history["loss"]
    assert np.all(np.isfinite(loss))
    assert loss[-1] < loss[0]
    assert model.predict(x[:2], verbose=0).shape == (2, 10)
