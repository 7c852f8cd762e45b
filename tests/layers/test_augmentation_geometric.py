"""RandomShear, RandomPerspective, RandomElasticTransform: Keras's transformations replayed,
exact geometry, the dict convention, seeding, inference, configs, saving, errors, training."""

import numpy as np
import pytest

from cnnkit import backend, layers
from cnnkit.autodiff import Variable
from cnnkit.models import Sequential, load_model
from cnnkit.ops import image as image_ops
from tests.harness import run_layer_test


def _images(shape=(3, 7, 9, 2), seed=0):
    return np.random.default_rng(seed).uniform(0, 255, shape).astype("float32")


def _all_layers(seed=None):
    return [
        layers.RandomShear(0.3, (0.1, 0.4), seed=seed),
        layers.RandomPerspective((0.5, 1.0), scale=0.5, seed=seed),
        layers.RandomElasticTransform(1.0, (0.5, 1.0), seed=seed),
    ]


def _numpy(transformation, keras):
    """A Keras transformation (torch tensors) as NumPy arrays, for cnnkit's layers."""
    return {
        k: keras.ops.convert_to_numpy(v) if k not in ("input_shape", "seed") else v
        for k, v in transformation.items()
    }


# -- Keras's own transformations, replayed -------------------------------------------------


@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
@pytest.mark.parametrize("fill_mode", ["constant", "nearest"])  # Keras-torch: no wrap, reflect
def test_shear_applies_a_keras_transformation_as_keras(fill_mode, interpolation):
    keras = pytest.importorskip("keras")
    x = _images((4, 9, 11, 2))
    kwargs = dict(fill_mode=fill_mode, interpolation=interpolation, fill_value=3.0)
    theirs = keras.layers.RandomShear(0.4, (0.1, 0.3), seed=1, **kwargs)
    t = theirs.get_random_transformation(x)
    expected = keras.ops.convert_to_numpy(theirs.transform_images(x, t))
    ours = layers.RandomShear(0.4, (0.1, 0.3), **kwargs).transform_images(x, _numpy(t, keras))
    np.testing.assert_allclose(ours, expected, atol=1e-3)


def test_pinned_shear_is_keras_shear_of_either_sign():
    """``x_factor=(0.3, 0.3)``: every image is sheared by +0.3 or -0.3 (Keras's coin)."""
    keras = pytest.importorskip("keras")
    x = _images((8, 6, 6, 1))
    out = layers.RandomShear(x_factor=(0.3, 0.3), seed=4)(x, training=True).numpy()
    theirs = keras.layers.RandomShear(x_factor=(0.3, 0.3))
    signs = []
    for sign in (1.0, -1.0):
        t = {"shear_factor": np.tile(np.float32([[0.3 * sign, 0.0]]), (8, 1))}
        candidate = keras.ops.convert_to_numpy(theirs.transform_images(x, t))
        signs.append(np.abs(out - candidate).max(axis=(1, 2, 3)) < 1e-3)
    assert (signs[0] | signs[1]).all()
    assert signs[0].any() and signs[1].any()  # both signs drawn over 8 images


@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
def test_perspective_applies_a_keras_transformation_as_keras(interpolation):
    keras = pytest.importorskip("keras")
    x = _images((4, 9, 11, 2))
    kwargs = dict(interpolation=interpolation, fill_value=7.0)
    theirs = keras.layers.RandomPerspective((0.5, 1.0), 0.6, seed=3, **kwargs)
    t = theirs.get_random_transformation(x)
    expected = keras.ops.convert_to_numpy(theirs.transform_images(x, t))
    ours = layers.RandomPerspective((0.5, 1.0), 0.6, **kwargs)
    np.testing.assert_allclose(ours.transform_images(x, _numpy(t, keras)), expected, atol=2e-3)


def test_elastic_parameters_and_clipping_are_keras():
    keras = pytest.importorskip("keras")
    theirs = keras.layers.RandomElasticTransform(value_range=(0, 100))
    ours = layers.RandomElasticTransform(value_range=(0, 100))
    for h, w, d in ((8, 12, 0.5), (30, 20, 1.0)):
        np.testing.assert_allclose(
            ours.get_elastic_transform_params(h, w, d),
            theirs.get_elastic_transform_params(h, w, d),
            rtol=1e-6,
        )
    x = _images((3, 6, 6, 1))  # values up to 255: clipped to the range, as Keras
    t = {"apply_transform": np.zeros(3, bool), "distortion_factor": np.float32(0.5), "seed": 0}
    np.testing.assert_array_equal(ours.transform_images(x, t), np.clip(x, 0, 100))
    kt = {**t, "apply_transform": keras.ops.convert_to_tensor(t["apply_transform"])}
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(theirs.transform_images(x, kt)), ours.transform_images(x, t)
    )


@pytest.mark.parametrize(
    "make",
    [
        lambda L: L.RandomShear(0.2, (0.1, 0.3), seed=5),
        lambda L: L.RandomPerspective((0.2, 0.7), 0.4, "nearest", 2.0),
        lambda L: L.RandomElasticTransform(0.4, (0.1, 0.6), "nearest", "wrap", 1.0),
    ],
)
def test_configs_have_keras_keys_and_values(make):
    keras = pytest.importorskip("keras")
    mine, theirs = make(layers).get_config(), make(keras.layers).get_config()
    assert set(mine) == set(theirs)
    for key in set(mine) - {"name", "dtype"}:
        expected = tuple(theirs[key]) if isinstance(theirs[key], list) else theirs[key]
        assert mine[key] == expected, key


# -- exact geometry ---------------------------------------------------------------------------


@pytest.mark.parametrize("shear", [1.0, -1.0])
def test_integer_shear_moves_each_row_by_its_index(shear):
    x = _images((1, 5, 6, 1))
    layer = layers.RandomShear(x_factor=(1.0, 1.0), fill_mode="constant", fill_value=-1.0)
    out = layer.transform_images(x, {"shear_factor": np.float32([[shear, 0.0]])})
    expected = np.full_like(x, -1.0)
    for y in range(5):  # output (x, y) reads input (x + shear * y, y)
        for col in range(6):
            src = col + int(shear) * y
            if 0 <= src < 6:
                expected[0, y, col] = x[0, y, src]
    np.testing.assert_array_equal(out, expected)


def test_vertical_shear_moves_each_column_by_its_index():
    x = _images((1, 6, 4, 1))
    layer = layers.RandomShear(y_factor=(1.0, 1.0), fill_mode="nearest", interpolation="nearest")
    out = layer.transform_images(x, {"shear_factor": np.float32([[0.0, 1.0]])})
    rows = np.clip(np.arange(6)[:, None] + np.arange(4)[None, :], 0, 5)
    np.testing.assert_array_equal(out[0, ..., 0], x[0, rows, np.arange(4)[None, :], 0])


def test_perspective_with_corners_moved_by_one_pixel_is_a_shift():
    x = _images((2, 5, 6, 1))
    corners = np.float32([[0, 0], [5, 0], [0, 4], [5, 4]])
    t = {
        "apply_perspective": np.array([True, False]),
        "start_points": np.stack([corners, corners]),
        "end_points": np.stack([corners + [1, 0], corners + [1, 0]]),
    }
    layer = layers.RandomPerspective(interpolation="nearest", fill_value=-1.0)
    out = layer.transform_images(x, t)
    np.testing.assert_allclose(out[0, :, 1:], x[0, :, :-1], atol=1e-4)  # moved right
    np.testing.assert_array_equal(out[0, :, 0], -1.0)
    np.testing.assert_array_equal(out[1], x[1])  # not drawn: untouched


@pytest.mark.parametrize(
    "layer",
    [
        layers.RandomShear(0.0, 0.0),
        layers.RandomPerspective(factor=0.0),
        layers.RandomPerspective(scale=0.0),
        layers.RandomElasticTransform(factor=0.0),
        layers.RandomElasticTransform(scale=0.0),
    ],
)
def test_zero_strength_is_the_identity(layer):
    x = _images((3, 6, 6, 2))
    np.testing.assert_allclose(layer(x, training=True).numpy(), x, atol=1e-4)


def test_elastic_deforms_as_the_elastic_transform_op():
    x = _images((4, 10, 12, 1))
    layer = layers.RandomElasticTransform(factor=(1.0, 1.0), scale=(0.8, 0.8), seed=0)
    t = layer.get_random_transformation(x)
    assert t["apply_transform"].all() and np.isclose(t["distortion_factor"], 0.8)
    alpha, sigma = 12 * 0.1 * 0.8, 10 * 0.05 * 0.8
    expected = image_ops.elastic_transform(x, alpha, sigma, fill_mode="reflect", seed=t["seed"])
    np.testing.assert_allclose(layer.transform_images(x, t), np.clip(expected, 0, 255), atol=1e-4)
    assert not np.allclose(layer.transform_images(x, t), x)


def test_perspective_and_elastic_draw_per_image_with_probability_factor():
    x = np.zeros((400, 2, 2, 1), "float32")
    for layer, key in (
        (layers.RandomPerspective(factor=(0.5, 0.5), seed=0), "apply_perspective"),
        (layers.RandomElasticTransform(factor=(0.5, 0.5), seed=0), "apply_transform"),
    ):
        share = layer.get_random_transformation(x)[key].mean()
        assert 0.4 < share < 0.6, (type(layer).__name__, share)


# -- the dict convention ------------------------------------------------------------------------


def test_dict_call_transforms_images_and_masks_by_one_draw_and_keeps_labels():
    x = _images((3, 6, 6, 2))
    masks = np.random.default_rng(1).integers(0, 3, (3, 6, 6, 1)).astype("float32")
    labels = np.eye(3, dtype="float32")
    layer = layers.RandomShear(0.5, 0.5, fill_mode="nearest", seed=2)
    out = layer({"images": x, "labels": labels, "segmentation_masks": masks, "id": "batch"})
    same = layers.RandomShear(0.5, 0.5, fill_mode="nearest", seed=2)
    t = same.get_random_transformation(x)
    np.testing.assert_array_equal(out["images"].numpy(), same.transform_images(x, t))
    nearest = layers.RandomShear(0.5, 0.5, "nearest", "nearest").transform_images(masks, t)
    np.testing.assert_array_equal(out["segmentation_masks"].numpy(), nearest)
    np.testing.assert_array_equal(out["labels"].numpy(), labels)
    assert out["id"] == "batch"
    assert set(np.unique(out["segmentation_masks"].numpy())) <= {0.0, 1.0, 2.0}


def test_dict_call_defaults_to_training_and_honours_training_false():
    x = _images((2, 6, 6, 1))
    layer = layers.RandomPerspective(factor=(1.0, 1.0), seed=0)
    assert not np.allclose(layer({"images": x})["images"].numpy(), x)
    np.testing.assert_array_equal(layer({"images": x}, training=False)["images"].numpy(), x)


def test_dict_call_errors():
    layer = layers.RandomShear(0.2)
    with pytest.raises(ValueError, match="expects a dict with an 'images' key"):
        layer({"labels": np.ones(2)})
    boxes = {"boxes": np.zeros((1, 1, 4)), "labels": np.zeros((1, 1))}
    with pytest.raises(NotImplementedError, match="does not transform 'bounding_boxes'"):
        layer({"images": _images((1, 4, 4, 1)), "bounding_boxes": boxes})


# -- the layer contract -------------------------------------------------------------------------


def test_inference_is_untouched():
    x = _images((2, 6, 6, 3))
    for layer in _all_layers():
        np.testing.assert_array_equal(layer(x, training=False).numpy(), x)


def test_unbatched_image_is_transformed_as_a_batch_of_one():
    x = _images((1, 6, 7, 2))
    for first, second in zip(_all_layers(seed=3), _all_layers(seed=3)):
        single = first(x[0], training=True).numpy()
        assert single.shape == x.shape[1:]
        np.testing.assert_allclose(single, second(x, training=True).numpy()[0], atol=1e-4)


def test_outputs_are_float32_whatever_the_input_dtype():
    for dtype in ("uint8", "float32", "float64"):
        x = _images((2, 6, 6, 3)).astype(dtype)
        for layer in _all_layers(seed=0):
            assert layer(x, training=True).dtype == np.float32, type(layer).__name__
            assert layer({"images": x})["images"].dtype == np.float32


def test_seeded_layers_reproduce_and_set_seed_reproduces_unseeded_ones():
    x = _images((4, 6, 6, 3))
    for first, second in zip(_all_layers(seed=7), _all_layers(seed=7)):
        draws = [first(x, training=True).numpy() for _ in range(2)]
        assert not np.array_equal(draws[0], draws[1])  # the generator moves on
        for a in draws:
            np.testing.assert_array_equal(a, second(x, training=True).numpy())
    runs = []
    for _ in range(2):
        backend.set_seed(11)
        runs.append([layer(x, training=True).numpy() for layer in _all_layers()])
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "cls, kwargs",
    [
        (layers.RandomShear, {"x_factor": 0.2, "y_factor": (0.1, 0.2), "seed": 1}),
        (layers.RandomPerspective, {"factor": (0.3, 0.9), "scale": 0.2}),
        (layers.RandomElasticTransform, {"scale": 0.5, "fill_mode": "constant"}),
        (layers.CutMix, {"factor": 0.4}),
        (layers.MixUp, {"alpha": 0.5}),
        (layers.RandAugment, {"num_ops": 1, "value_range": (-3, 3)}),
        (layers.AugMix, {"num_chains": 2, "all_ops": False}),
    ],
)
def test_layer_lifecycle(cls, kwargs):
    run_layer_test(cls, kwargs, (2, 6, 5, 3), expected_output_shape=(2, 6, 5, 3))


def test_get_config_round_trips():
    for layer in _all_layers(seed=2):
        config = layer.get_config()
        assert type(layer).from_config(config).get_config() == config


def test_shear_reads_back_keras_symmetric_ranges():
    config = layers.RandomShear(0.25, (0.1, 0.2)).get_config()
    assert config["x_factor"] == (-0.25, 0.25) and config["y_factor"] == (0.1, 0.2)
    clone = layers.RandomShear.from_config({**config, "x_factor": [-0.25, 0.25]})
    assert clone.get_config() == config


def test_keras_archive_round_trip(tmp_path):
    model = Sequential([layers.Input(shape=(6, 6, 2)), *_all_layers(seed=1), layers.Flatten()])
    model.save(tmp_path / "m.keras")
    loaded = load_model(tmp_path / "m.keras")
    assert [type(a) for a in loaded.layers] == [type(b) for b in model.layers]
    assert loaded.get_config() == model.get_config()
    x = _images((2, 6, 6, 2))
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_gradient_through_the_layer_is_a_clear_error():
    v = Variable(np.ones((1, 4, 4, 1), "float32"))
    out = layers.RandomShear(0.2, name="slant")(v, training=True)
    with pytest.raises(RuntimeError, match="'slant' has no gradient with respect to its input"):
        out.sum().backward()


def test_layers_train_inside_a_model():
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (16, 8, 8, 1)).astype("float32")
    y = rng.integers(0, 2, 16)
    model = Sequential(
        [
            layers.Input(shape=(8, 8, 1)),
            *_all_layers(),
            layers.Rescaling(1 / 255),
            layers.Conv2D(2, 3),
            layers.Flatten(),
            layers.Dense(2, activation="softmax"),
        ]
    )
    model.compile("adam", "sparse_categorical_crossentropy")
    history = model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert model.predict(x, verbose=0).shape == (16, 2)


# -- errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: layers.RandomShear(1.5), "`x_factor`.*\\[0, 1\\].*x_factor=1.5"),
        (lambda: layers.RandomShear(0.1, (-0.2, 0.3)), "`y_factor`.*y_factor=\\(-0.2, 0.3\\)"),
        (lambda: layers.RandomShear(0.1, (0.1,)), "`y_factor`"),
        (lambda: layers.RandomShear(0.1, fill_mode="mirror"), "argument `fill_mode`"),
        (lambda: layers.RandomShear(0.1, interpolation="bicubic"), "argument `interpolation`"),
        (lambda: layers.RandomPerspective(1.2), "`factor`.*factor=1.2"),
        (lambda: layers.RandomPerspective(scale=2.0), "`scale`.*\\[0,1\\].*scale=2.0"),
        (lambda: layers.RandomPerspective(interpolation="area"), "argument `interpolation`"),
        (lambda: layers.RandomElasticTransform(scale=(0.2, 1.5)), "`scale`"),
        (lambda: layers.RandomElasticTransform(fill_mode="edge"), "argument `fill_mode`"),
        (lambda: layers.RandomElasticTransform(value_range=(1, 1)), "argument `value_range`"),
        (lambda: layers.RandomShear(seed=-1), "argument `seed`"),
        (lambda: layers.RandomShear(data_format="channels_first"), "channels_last"),
    ],
)
def test_invalid_arguments_name_the_argument(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_images_must_have_rank_3_or_4():
    for layer in _all_layers():
        with pytest.raises(ValueError, match="expects images of rank 3"):
            layer(np.ones((2, 3), "float32"), training=True)


def _every_new_layer_model(K, shear):
    """A model with the geometric, mixing and policy layers, written as Keras code."""
    L = K.layers
    return K.Sequential(
        [
            K.Input((8, 8, 3)),
            L.RandomShear(shear, (0.1, 0.3)),
            L.RandomPerspective(0.5, 0.3),
            L.RandomElasticTransform(0.5, 0.4, value_range=(0, 1)),
            L.CutMix(0.5),
            L.MixUp(0.3),
            L.RandAugment((0, 1), 1, 0.3),
            L.AugMix((0, 1), 2, 2, 0.2, all_ops=False),
            L.Flatten(),
            L.Dense(2),
        ]
    )


def test_archives_interchange_with_keras(tmp_path):
    keras = pytest.importorskip("keras")
    import cnnkit

    x = _images((4, 8, 8, 3)) / 255
    theirs = _every_new_layer_model(keras, shear=0.2)  # Keras writes x_factor (-0.2, 0.2)
    theirs.save(tmp_path / "keras.keras")
    ours = load_model(tmp_path / "keras.keras")
    for mine, keras_layer in zip(ours.layers, theirs.layers):
        if isinstance(mine, layers.Dense):
            continue
        expected = {
            k: tuple(v) if isinstance(v, list) else v for k, v in keras_layer.get_config().items()
        }
        assert {k: v for k, v in mine.get_config().items() if k != "dtype"} == {
            k: v for k, v in expected.items() if k != "dtype"
        }
    expected = keras.ops.convert_to_numpy(theirs.predict(x, verbose=0))
    np.testing.assert_allclose(ours.predict(x, verbose=0), expected, atol=1e-5)
    # Keras cannot read its own (-f, f) shear range back: a pair of positive numbers here
    ours = _every_new_layer_model(cnnkit, shear=(0.1, 0.2))
    ours.save(tmp_path / "cnnkit.keras")
    theirs = keras.saving.load_model(tmp_path / "cnnkit.keras")
    expected = keras.ops.convert_to_numpy(theirs.predict(x, verbose=0))
    np.testing.assert_allclose(ours.predict(x, verbose=0), expected, atol=1e-5)
