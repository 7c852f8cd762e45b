"""Keras's application architectures: parameter counts, layer names, weights from Keras's
files, predictions equal to Keras's, preprocessing, and training on CIFAR-sized images."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

import cnnkit as keras
from cnnkit import applications as apps
from cnnkit.applications import imagenet_utils

# Keras 3.15's count_params() for weights=None, with and without the 1000-class top
# (the same for every backend); test_counts_equal_keras checks them against Keras itself.
COUNTS = {
    "ResNet50": (25_636_712, 23_587_712),
    "ResNet101": (44_707_176, 42_658_176),
    "ResNet152": (60_419_944, 58_370_944),
    "ResNet50V2": (25_613_800, 23_564_800),
    "ResNet101V2": (44_675_560, 42_626_560),
    "ResNet152V2": (60_380_648, 58_331_648),
    "DenseNet121": (8_062_504, 7_037_504),
    "DenseNet169": (14_307_880, 12_642_880),
    "DenseNet201": (20_242_984, 18_321_984),
    "MobileNet": (4_253_864, 3_228_864),
    "MobileNetV2": (3_538_984, 2_257_984),
    "InceptionV3": (23_851_784, 21_802_784),
    "Xception": (22_910_480, 20_861_480),
}


BIG = ("ResNet101", "ResNet152", "ResNet101V2", "ResNet152V2", "DenseNet169", "DenseNet201")


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=pytest.mark.slow) if n in BIG else n for n in sorted(COUNTS)]
)
def test_parameter_counts(name):
    builder = getattr(apps, name)
    with_top, without = COUNTS[name]
    assert builder(weights=None).count_params() == with_top
    assert builder(weights=None, include_top=False).count_params() == without


@pytest.mark.slow
@pytest.mark.parametrize("name", ["ResNet50", "DenseNet121", "MobileNetV2", "Xception"])
def test_counts_and_layer_names_equal_keras(name):
    k = pytest.importorskip("keras")
    theirs = getattr(k.applications, name)(weights=None)
    ours = getattr(apps, name)(weights=None)
    assert ours.count_params() == theirs.count_params() == COUNTS[name][0]

    def shapes(model):  # layer name -> its weights' shapes (files match layers by name)
        return {la.name: [tuple(w.shape) for w in la.weights] for la in model.layers if la.weights}

    if name == "Xception":  # Keras leaves Xception's shortcut layers unnamed
        assert sorted(shapes(ours).values()) == sorted(shapes(theirs).values())
    else:
        assert shapes(ours) == shapes(theirs)


@pytest.mark.parametrize("name", ["MobileNetV2", "ResNet50V2"])
def test_keras_weights_file_loads_and_predicts_like_keras(tmp_path, name):
    k = pytest.importorskip("keras")
    shape = (32, 32, 3)
    theirs = getattr(k.applications, name)(weights=None, input_shape=shape, classes=7)
    path = str(tmp_path / "model.weights.h5")
    theirs.save_weights(path)
    ours = getattr(apps, name)(weights=path, input_shape=shape, classes=7)
    x = np.random.default_rng(0).uniform(0, 255, (2, *shape)).astype("float32")
    module = {"MobileNetV2": apps.mobilenet_v2, "ResNet50V2": apps.resnet_v2}[name]
    x = module.preprocess_input(x)
    want = np.asarray(theirs.predict(x, verbose=0))
    got = ours.predict(x, verbose=0)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def _write_legacy_h5(model, path) -> None:
    """A Keras 2 style ``.h5`` weights file: layer_names, weight_names, one dataset each."""
    with h5py.File(path, "w") as f:
        layers = [la for la in model.layers if la.weights]
        f.attrs["layer_names"] = [la.name.encode() for la in layers]
        for la in layers:
            group = f.create_group(la.name)
            names = [f"{la.name}/{w.name}:0".encode() for w in la.weights]
            group.attrs["weight_names"] = names
            for n, w in zip(names, la.get_weights()):
                group.create_dataset(n.decode(), data=w)


def test_legacy_h5_weights_load_by_layer_name(tmp_path):
    keras.utils.set_random_seed(0)
    source = apps.MobileNet(input_shape=(32, 32, 3), classes=5, alpha=0.25)
    path = str(tmp_path / "mobilenet.h5")
    _write_legacy_h5(source, path)
    keras.utils.set_random_seed(1)
    loaded = apps.MobileNet(input_shape=(32, 32, 3), classes=5, alpha=0.25, weights=path)
    for a, b in zip(source.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_legacy_h5_mismatch_names_the_file_and_layer(tmp_path):
    source = apps.MobileNet(input_shape=(32, 32, 3), classes=5, alpha=0.25)
    path = str(tmp_path / "other.h5")
    _write_legacy_h5(source, path)
    with pytest.raises(ValueError, match=r"other\.h5.*conv_preds.*shape \(1, 1, 256, 5\)"):
        apps.MobileNet(input_shape=(32, 32, 3), classes=6, alpha=0.25, weights=path)
    bad = tmp_path / "junk.h5"
    bad.write_bytes(b"not hdf5 at all")
    with pytest.raises(ValueError, match=r"junk\.h5.*not a readable Keras \.h5 weights file"):
        apps.MobileNet(input_shape=(32, 32, 3), classes=5, alpha=0.25, weights=str(bad))


def test_weights_argument_errors(tmp_path):
    with pytest.raises(ValueError, match=r"does not download pretrained weights"):
        apps.ResNet50(weights="imagenet")
    with pytest.raises(ValueError, match=r"either `None`.*Received: weights='missing.h5'"):
        apps.DenseNet121(weights="missing.h5")


@pytest.mark.parametrize("mode", ["caffe", "tf", "torch"])
def test_preprocess_input_equals_keras(mode):
    k = pytest.importorskip("keras")
    x = np.random.default_rng(0).uniform(0, 255, (2, 4, 4, 3)).astype("float32")
    want = k.applications.imagenet_utils.preprocess_input(x.copy(), mode=mode)
    got = imagenet_utils.preprocess_input(x, mode=mode)
    np.testing.assert_allclose(got, np.asarray(want), rtol=1e-6, atol=1e-5)
    assert got is not x


def test_preprocess_input_values_and_errors():
    x = np.array([[[[255, 0, 10]]]], dtype="uint8")
    np.testing.assert_allclose(
        apps.resnet.preprocess_input(x)[0, 0, 0], [10 - 103.939, 0 - 116.779, 255 - 123.68], 1e-5
    )
    np.testing.assert_allclose(apps.mobilenet.preprocess_input(x)[0, 0, 0], [1, -1, -0.92157], 1e-4)
    with pytest.raises(ValueError, match="`mode`.*Received: mode='caffee'"):
        imagenet_utils.preprocess_input(x, mode="caffee")
    with pytest.raises(ValueError, match="3 colour channels"):
        imagenet_utils.preprocess_input(np.zeros((1, 2, 2, 4)))


def test_decode_predictions(tmp_path):
    index = {str(i): [f"n{i:08d}", f"class_{i}"] for i in range(1000)}
    path = tmp_path / "imagenet_class_index.json"
    path.write_text(json.dumps(index))
    preds = np.zeros((2, 1000), "float32")
    preds[0, [3, 7, 1]] = [0.5, 0.3, 0.2]
    preds[1, 999] = 1.0
    top = apps.resnet50.decode_predictions(preds, top=2, class_index_path=str(path))
    assert top[0] == [("n00000003", "class_3", 0.5), ("n00000007", "class_7", 0.30000001192092896)]
    assert top[1][0] == ("n00000999", "class_999", 1.0)
    with pytest.raises(ValueError, match=r"\(samples, 1000\).*\(2, 10\)"):
        apps.resnet50.decode_predictions(np.zeros((2, 10)), class_index_path=str(path))
    path.write_text('{"0": 1}')
    with pytest.raises(ValueError, match="Could not read the ImageNet class index"):
        apps.resnet50.decode_predictions(preds, class_index_path=str(path))


@pytest.mark.slow
@pytest.mark.parametrize(
    "name, kwargs",
    [
        ("ResNet50", {}),
        ("ResNet50V2", {}),
        ("DenseNet121", {}),
        ("MobileNet", {"alpha": 0.25}),
        ("MobileNetV2", {"alpha": 0.35}),
    ],
)
def test_cifar_sized_images_train(name, kwargs):
    keras.utils.set_random_seed(0)
    model = getattr(apps, name)(input_shape=(32, 32, 3), classes=10, **kwargs)
    model.compile(keras.optimizers.SGD(0.01), "sparse_categorical_crossentropy")
    rng = np.random.default_rng(0)
    x = rng.random((8, 32, 32, 3), dtype=np.float32)
    y = rng.integers(0, 10, 8)
    before = [w.copy() for w in model.get_weights()]
    history = model.fit(x, y, batch_size=4, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    assert model.predict(x[:2], verbose=0).shape == (2, 10)


@pytest.mark.parametrize("name", ["InceptionV3", "Xception"])
def test_minimum_sizes(name):
    builder = getattr(apps, name)
    with pytest.raises(ValueError, match=f"at least .* for {name}"):
        builder(input_shape=(32, 32, 3), include_top=False)
    model = builder(input_shape=(75, 75, 3), include_top=False, pooling="avg")
    assert model.output_shape == (None, 2048)
