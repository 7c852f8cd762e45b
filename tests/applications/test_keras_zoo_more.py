"""Inception-ResNet v2 and ConvNeXt against Keras, and Keras 2 ``.h5`` weight files loaded in
Keras's layer order."""

from __future__ import annotations

import numpy as np
import pytest

import cnnkit as keras
from cnnkit import applications as apps

# Keras 3.15's count_params() with weights=None, with and without the 1000-class top.
COUNTS = {
    "InceptionResNetV2": (55_873_736, 54_336_736),
    "ConvNeXtTiny": (28_589_128, 27_820_128),
    "ConvNeXtSmall": (50_223_688, 49_454_688),
    "ConvNeXtBase": (88_591_464, 87_566_464),
    "ConvNeXtLarge": (197_767_336, 196_230_336),
    "ConvNeXtXLarge": (350_196_968, 348_147_968),
}
SLOW = ("InceptionResNetV2", "ConvNeXtSmall", "ConvNeXtBase", "ConvNeXtLarge", "ConvNeXtXLarge")


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n for n in sorted(COUNTS)]
)
def test_parameter_counts(name):
    builder = getattr(apps, name)
    with_top, without = COUNTS[name]
    assert builder(weights=None).count_params() == with_top
    assert builder(weights=None, include_top=False).count_params() == without


def _weight_shapes(model):
    return [[tuple(w.shape) for w in layer.weights] for layer in model.layers if layer.weights]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["InceptionResNetV2", "ConvNeXtTiny", "InceptionV3"])
def test_counts_and_layer_order_equal_keras(name):
    k = pytest.importorskip("keras")
    theirs = getattr(k.applications, name)(weights=None)
    ours = getattr(apps, name)(weights=None)
    assert ours.count_params() == theirs.count_params()
    assert _weight_shapes(ours) == _weight_shapes(theirs)  # files load layer by layer


@pytest.mark.parametrize(
    "name, module, shape",
    [("InceptionResNetV2", "inception_resnet_v2", (75, 75, 3)), ("ConvNeXtTiny", "convnext",
     (32, 32, 3))],
)  # fmt: skip
def test_keras_legacy_h5_file_loads_in_order_and_predicts_like_keras(tmp_path, name, module, shape):
    k = pytest.importorskip("keras")
    h5py = pytest.importorskip("h5py")
    from keras.src.legacy.saving import legacy_h5_format

    k.utils.set_random_seed(0)
    theirs = getattr(k.applications, name)(weights=None, input_shape=shape, classes=5)
    path = tmp_path / "weights.h5"  # Keras 2's format, written by Keras itself
    with h5py.File(path, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, theirs)
    ours = getattr(apps, name)(weights=str(path), input_shape=shape, classes=5)
    x = np.random.default_rng(0).uniform(0, 255, (2, *shape)).astype("float32")
    x = getattr(apps, module).preprocess_input(x)
    want = np.asarray(theirs.predict(x, verbose=0))
    np.testing.assert_allclose(ours.predict(x, verbose=0), want, rtol=1e-4, atol=1e-5)


def test_load_weights_from_legacy_h5_by_order_and_by_name(tmp_path):
    h5py = pytest.importorskip("h5py")

    def model(seed, names=("a", "b")):
        keras.utils.set_random_seed(seed)
        inputs = keras.Input((4,))
        x = keras.layers.Dense(3, name=names[0])(inputs)
        return keras.Model(inputs, keras.layers.Dense(2, name=names[1])(x))

    source = model(0)
    path = tmp_path / "w.h5"
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = [b"a", b"b"]
        for layer in source.layers[1:]:
            group = f.create_group(layer.name)
            names = [f"{layer.name}/{n}:0".encode() for n in ("kernel", "bias")]
            group.attrs["weight_names"] = names
            for n, w in zip(names, layer.get_weights()):
                group.create_dataset(n.decode(), data=w)
    renamed = model(1, names=("x", "y"))  # by order: names need not match
    renamed.load_weights(str(path))
    for a, b in zip(source.get_weights(), renamed.get_weights()):
        np.testing.assert_array_equal(a, b)
    partial = model(2, names=("a", "z"))
    before = partial.get_weights()
    partial.load_weights(str(path), by_name=True)  # only "a" is in the file
    np.testing.assert_array_equal(partial.get_weights()[0], source.get_weights()[0])
    np.testing.assert_array_equal(partial.get_weights()[2], before[2])
    bigger = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3), keras.layers.Dense(2),
                               keras.layers.Dense(1)])  # fmt: skip
    with pytest.raises(ValueError, match=r"w\.h5.*model has 3 layers with weights, the file 2"):
        bigger.load_weights(str(path))
    with pytest.raises(ValueError, match="Invalid keyword arguments"):
        source.load_weights(str(path), by_nmae=True)


def test_functional_layers_are_in_keras_order():
    k = pytest.importorskip("keras")

    def build(lib):
        inputs = lib.Input((8, 8, 3))
        a = lib.layers.Conv2D(4, 1, name="a")(inputs)
        b = lib.layers.Conv2D(4, 3, padding="same", name="b")(inputs)
        b = lib.layers.Conv2D(4, 3, padding="same", name="b2")(b)
        c = lib.layers.Concatenate(name="c")([a, b])
        return lib.Model(inputs, lib.layers.Dense(2, name="d")(c))

    assert [la.name for la in build(keras).layers][1:] == [la.name for la in build(k).layers][1:]


@pytest.mark.slow
def test_convnext_trains_on_cifar_sized_images():
    keras.utils.set_random_seed(0)
    model = apps.convnext.ConvNeXt((1, 1, 1, 1), (8, 16, 16, 16), drop_path_rate=0.1,
                          input_shape=(32, 32, 3), classes=10)  # fmt: skip
    model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy")
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (16, 32, 32, 3)).astype("float32")
    y = rng.integers(0, 10, 16)
    losses = model.fit(x, y, batch_size=8, epochs=4, verbose=0).history["loss"]
    assert losses[-1] < losses[0]
    assert model.predict(x[:2], verbose=0).shape == (2, 10)


def test_convnext_layers_and_preprocessing():
    scale = apps.convnext.LayerScale(1e-6, 3)
    x = np.ones((2, 3), "float32")
    np.testing.assert_allclose(scale(x).numpy(), np.full((2, 3), 1e-6, "float32"))
    assert apps.convnext.LayerScale.from_config(scale.get_config()).projection_dim == 3
    depth = apps.convnext.StochasticDepth(0.5, seed=1)
    np.testing.assert_array_equal(depth(x).numpy(), x)  # identity at inference
    dropped = depth(np.ones((64, 3), "float32"), training=True).numpy()
    assert set(np.unique(dropped)) <= {0.0, 2.0}
    assert (dropped == dropped[:, :1]).all()  # whole samples kept or dropped
    assert depth.get_config()["drop_path_rate"] == 0.5
    pixels = np.full((1, 2, 2, 3), 7.0, "float32")
    assert apps.convnext.preprocess_input(pixels) is pixels


NASNET_COUNTS = {
    "NASNetMobile": (5_326_716, 4_269_716),
    "NASNetLarge": (88_949_818, 84_887_922),
}  # as Keras: no top, any size


@pytest.mark.parametrize(
    "name", ["NASNetMobile", pytest.param("NASNetLarge", marks=pytest.mark.slow)]
)
def test_nasnet_parameter_counts(name):
    builder = getattr(apps, name)
    with_top, without = NASNET_COUNTS[name]
    assert builder().count_params() == with_top
    assert builder(include_top=False).count_params() == without


@pytest.mark.slow
def test_nasnet_mobile_matches_keras_layer_order_and_predictions(tmp_path):
    k = pytest.importorskip("keras")
    h5py = pytest.importorskip("h5py")
    from keras.src.applications import nasnet as keras_nasnet  # Keras refuses NASNetMobile on torch
    from keras.src.legacy.saving import legacy_h5_format

    mobile = dict(penultimate_filters=1056, num_blocks=4, stem_block_filters=32,
                  skip_reduction=False, default_size=224, classes=5)  # fmt: skip
    k.utils.set_random_seed(0)
    theirs = keras_nasnet.NASNet((64, 64, 3), weights=None, **mobile)
    path = tmp_path / "nasnet.h5"
    with h5py.File(path, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, theirs)
    ours = apps.nasnet.NASNet((64, 64, 3), weights=str(path), **mobile)
    assert _weight_shapes(ours) == _weight_shapes(theirs)
    x = apps.nasnet.preprocess_input(
        np.random.default_rng(0).uniform(0, 255, (2, 64, 64, 3)).astype("float32")
    )
    want = np.asarray(theirs.predict(x, verbose=0))
    np.testing.assert_allclose(ours.predict(x, verbose=0), want, rtol=1e-4, atol=1e-5)
