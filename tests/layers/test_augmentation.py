"""Random augmentation layers: exact geometric cases, fill modes, seeding, inference, errors."""

import numpy as np
import pytest

from cnnkit import backend, layers
from cnnkit.autodiff import Variable
from cnnkit.layers import augmentation as aug
from cnnkit.models import Sequential
from tests.harness import gradcheck

ROW = np.array([1, 2, 3, 4], "float32").reshape(1, 1, 4, 1)  # a b c d


def _images(shape=(3, 5, 5, 2), seed=0):
    return np.random.default_rng(seed).uniform(0, 255, shape).astype("float32")


def _all_layers(seed=None):
    return [
        layers.RandomFlip(seed=seed),
        layers.RandomRotation(0.3, seed=seed),
        layers.RandomTranslation(0.3, 0.3, seed=seed),
        layers.RandomZoom(0.3, seed=seed),
        layers.RandomContrast(0.5, seed=seed),
        layers.RandomBrightness(0.5, seed=seed),
        layers.RandomCrop(3, 4, seed=seed),
    ]


# -- exact geometry and fill modes ------------------------------------------


@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
@pytest.mark.parametrize(
    "fill_mode, right, left",
    [  # the row a b c d moved 2 pixels right / left; fill_value 9
        ("reflect", [2, 1, 1, 2], [3, 4, 4, 3]),
        ("wrap", [3, 4, 1, 2], [3, 4, 1, 2]),
        ("nearest", [1, 1, 1, 2], [3, 4, 4, 4]),
        ("constant", [9, 9, 1, 2], [3, 4, 9, 9]),
    ],
)
def test_integer_translation_fills_each_mode(fill_mode, right, left, interpolation):
    for fraction, expected in ((0.5, right), (-0.5, left)):
        layer = layers.RandomTranslation(
            0.0, (fraction, fraction), fill_mode, interpolation, fill_value=9.0
        )
        np.testing.assert_array_equal(layer(ROW, training=True).numpy().ravel(), expected)


@pytest.mark.parametrize("fill_mode", aug.FILL_MODES)
def test_one_row_down_equals_a_shifted_array(fill_mode):
    x = _images((3, 4, 5, 2))
    out = layers.RandomTranslation((0.25, 0.25), 0.0, fill_mode, fill_value=-1.0)(x, training=True)
    expected = np.empty_like(x)
    expected[:, 1:] = x[:, :-1]
    first_row = {"reflect": x[:, 0], "wrap": x[:, -1], "nearest": x[:, 0], "constant": -1.0}
    expected[:, 0] = first_row[fill_mode]
    np.testing.assert_array_equal(out.numpy(), expected)


@pytest.mark.parametrize(
    "fill_mode, scipy_mode",
    [
        ("reflect", "reflect"),
        ("wrap", "grid-wrap"),
        ("nearest", "nearest"),
        ("constant", "grid-constant"),
    ],
)
def test_bilinear_resampling_matches_scipy(fill_mode, scipy_mode):
    ndimage = pytest.importorskip("scipy.ndimage")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 7, 9, 2))
    rows = np.concatenate(
        [
            aug.rotation_transforms(rng.uniform(-3, 3, 2), 7, 9),
            aug.zoom_transforms(rng.uniform(0.3, 2.5, 2), rng.uniform(0.3, 2.5, 2), 7, 9),
        ]
    )
    rows[:, 2] += rng.uniform(-12, 12, 4)  # far outside the image, several periods
    rows[:, 5] += rng.uniform(-10, 10, 4)
    out = aug.affine_transform(x, rows, "bilinear", fill_mode, fill_value=0.5)
    for i in range(4):
        a0, a1, a2, b0, b1, b2 = rows[i, :6].astype("float32").astype("float64")
        for ch in range(2):  # scipy works in (row, column) coordinates
            expected = ndimage.affine_transform(
                x[i, :, :, ch], [[b1, b0], [a1, a0]], offset=[b2, a2], order=1,
                mode=scipy_mode, cval=0.5,
            )  # fmt: skip
            np.testing.assert_allclose(out[i, :, :, ch], expected, atol=1e-5)


@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
def test_quarter_turn_equals_rot90(interpolation):
    x = _images((3, 5, 5, 2))
    rows = aug.rotation_transforms(np.full(3, np.pi / 2), 5, 5)
    out = aug.affine_transform(x, rows, interpolation, "constant")
    np.testing.assert_allclose(out, np.rot90(x, 1, axes=(1, 2)), atol=1e-3)
    layer = layers.RandomRotation((0.25, 0.25), interpolation=interpolation)
    np.testing.assert_allclose(layer(x, training=True), out, atol=1e-3)


def test_half_turn_of_a_non_square_image_turns_about_its_centre():
    x = _images((2, 4, 6, 1))
    out = layers.RandomRotation((0.5, 0.5), fill_mode="constant")(x, training=True).numpy()
    np.testing.assert_allclose(out, x[:, ::-1, ::-1], atol=1e-3)


def test_zoom_out_by_two_samples_every_other_pixel():
    x = np.arange(5, dtype="float32").reshape(1, 1, 5, 1)
    layer = layers.RandomZoom((1.0, 1.0), fill_mode="constant", fill_value=-1.0)
    np.testing.assert_array_equal(layer(x, training=True).numpy().ravel(), [-1, 0, 2, 4, -1])


@pytest.mark.parametrize(
    "layer, atol",
    [
        (layers.RandomRotation(0.0), 0.0),
        (layers.RandomZoom(0.0), 0.0),
        (layers.RandomTranslation(0.0, 0.0), 0.0),
        (layers.RandomContrast(0.0), 1e-4),  # (x - m) * 1 + m rounds
        (layers.RandomBrightness(0.0), 0.0),
    ],
    ids=lambda case: type(case).__name__,
)
def test_zero_factor_is_the_identity(layer, atol):
    x = _images()
    np.testing.assert_allclose(layer(x, training=True).numpy(), x, rtol=0, atol=atol)


def test_each_image_gets_its_own_transform_in_one_batched_pass():
    x = np.repeat(_images((1, 6, 6, 1)), 4, axis=0)
    out = layers.RandomRotation(0.5, seed=0)(x, training=True).numpy()
    assert len({out[i].tobytes() for i in range(4)}) == 4
    rows = aug.rotation_transforms(np.array([0.1, 1.0, -2.0, 3.0]), 6, 6)
    batched = aug.affine_transform(x, rows, "bilinear", "reflect")
    for i in range(4):
        alone = aug.affine_transform(x[i : i + 1], rows[i : i + 1], "bilinear", "reflect")
        np.testing.assert_array_equal(batched[i : i + 1], alone)


@pytest.mark.parametrize("mode", layers.RandomFlip.MODES)
def test_flip_twice_with_the_same_draws_is_the_identity(mode):
    x = _images((8, 3, 4, 2))
    once = layers.RandomFlip(mode, seed=3)(x, training=True).numpy()
    twice = layers.RandomFlip(mode, seed=3)(once, training=True).numpy()
    np.testing.assert_array_equal(twice, x)
    flipped = {
        "horizontal": x[:, :, ::-1],
        "vertical": x[:, ::-1],
        "horizontal_and_vertical": x[:, ::-1, ::-1],
    }[mode]
    kept = [np.array_equal(once[i], x[i]) for i in range(8)]
    turned = [np.array_equal(once[i], flipped[i]) for i in range(8)]
    assert all(k or t for k, t in zip(kept, turned)) and any(kept) and any(turned)


def test_random_crop_training_window_and_inference_centre():
    x = _images((2, 6, 5, 1))
    out = layers.RandomCrop(3, 2, seed=0)(x, training=True).numpy()
    windows = [x[:, i : i + 3, j : j + 2] for i in range(4) for j in range(4)]
    assert any(np.array_equal(out, w) for w in windows)  # one position for the batch
    np.testing.assert_array_equal(layers.RandomCrop(2, 5)(x, training=False).numpy(), x[:, 2:4])
    small = layers.RandomCrop(8, 8)(x, training=True)  # too small: centre crop + resize
    assert small.shape == (2, 8, 8, 1)


def test_random_crop_is_differentiable():
    x = _images((1, 4, 5, 1))
    gradcheck(lambda t: layers.RandomCrop(2, 3, seed=0)(t, training=True), x)
    gradcheck(lambda t: layers.RandomCrop(2, 3)(t, training=False), x)


def test_unbatched_images():
    x = _images((5, 5, 2))
    out = layers.RandomRotation((0.25, 0.25))(x, training=True).numpy()
    np.testing.assert_allclose(out, np.rot90(x), atol=1e-3)
    assert layers.RandomCrop(2, 3)(x, training=True).shape == (2, 3, 2)
    assert layers.RandomFlip()(x, training=True).shape == x.shape


# -- colour ------------------------------------------------------------------


def test_contrast_and_brightness_stay_in_value_range():
    x = np.random.default_rng(1).uniform(0, 1, (16, 4, 4, 3)).astype("float32")
    for layer in (
        layers.RandomContrast(1.0, value_range=(0, 1)),
        layers.RandomBrightness(1.0, value_range=(0, 1)),
    ):
        out = layer(x, training=True).numpy()
        assert out.min() >= 0.0 and out.max() <= 1.0 and not np.array_equal(out, x)


def test_contrast_scales_each_image_about_its_channel_means():
    x = _images((6, 4, 4, 3))
    out = layers.RandomContrast((0.2, 0.5), value_range=(-1e6, 1e6), seed=0)(x, training=True)
    mean = x.mean(axis=(1, 2), keepdims=True)
    ratio = (out.numpy() - mean) / (x - mean)
    per_image = ratio.reshape(6, -1)
    np.testing.assert_allclose(per_image, per_image[:, :1] * np.ones_like(per_image), rtol=1e-3)
    assert np.all((per_image >= 0.8 - 1e-4) & (per_image <= 1.5 + 1e-4))


def test_brightness_adds_one_delta_per_image_scaled_by_the_range():
    x = _images((6, 3, 3, 2))
    out = layers.RandomBrightness(0.1, value_range=(-1e3, 1e3), seed=0)(x, training=True)
    delta = (out.numpy() - x).reshape(6, -1)
    np.testing.assert_allclose(delta, delta[:, :1] * np.ones_like(delta), atol=1e-3)
    assert np.all(np.abs(delta) <= 0.1 * 2e3 + 1e-3)


# -- the layer contract ------------------------------------------------------------


def test_inference_is_untouched():
    x = _images((2, 6, 6, 3))
    for layer in _all_layers()[:-1]:
        np.testing.assert_array_equal(layer(x, training=False).numpy(), x)


def test_outputs_are_float32_whatever_the_input_dtype():
    for dtype in ("uint8", "float32", "float64"):
        x = _images((2, 6, 6, 3)).astype(dtype)
        for layer in _all_layers(seed=0):
            assert layer(x, training=True).dtype == np.float32, type(layer).__name__


def test_seeded_layers_reproduce_and_set_seed_reproduces_unseeded_ones():
    x = _images((4, 6, 6, 3))
    for first, second in zip(_all_layers(seed=7), _all_layers(seed=7)):
        for _ in range(2):  # the whole sequence, not only the first draw
            a, b = first(x, training=True).numpy(), second(x, training=True).numpy()
            np.testing.assert_array_equal(a, b)
    runs = []
    for _ in range(2):
        backend.set_seed(11)
        runs.append([layer(x, training=True).numpy() for layer in _all_layers()])
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b)


def test_gradient_through_an_augmentation_layer_is_a_clear_error():
    v = Variable(np.ones((1, 3, 3, 1), "float32"))
    out = layers.RandomRotation(0.1, name="spin")(v, training=True)
    with pytest.raises(RuntimeError, match="'spin' has no gradient with respect to its input"):
        out.sum().backward()


def test_augmentation_layers_train_inside_a_model():
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (16, 8, 8, 1)).astype("float32")
    y = rng.integers(0, 2, 16)
    model = Sequential(
        [
            layers.Input(shape=(8, 8, 1)),
            layers.RandomFlip(),
            layers.RandomRotation(0.1),
            layers.RandomZoom(0.1),
            layers.RandomTranslation(0.1, 0.1),
            layers.RandomContrast(0.2, value_range=(0, 1)),
            layers.RandomBrightness(0.2, value_range=(0, 1)),
            layers.RandomCrop(6, 6),
            layers.Conv2D(2, 3),
            layers.Flatten(),
            layers.Dense(2, activation="softmax"),
        ]
    )
    model.compile("adam", "sparse_categorical_crossentropy")
    history = model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert model.predict(x, verbose=0).shape == (16, 2)


# -- errors ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: layers.RandomRotation(1.5), "argument `factor`.*Received: factor=1.5"),
        (lambda: layers.RandomRotation((0.1,)), "argument `factor`"),
        (lambda: layers.RandomRotation(0.1, fill_mode="mirror"), "argument `fill_mode`"),
        (lambda: layers.RandomZoom(0.1, interpolation="bicubic"), "argument `interpolation`"),
        (lambda: layers.RandomTranslation(0.1, (0.1, 2.0)), "argument `width_factor`"),
        (lambda: layers.RandomZoom("big"), "argument `height_factor`"),
        (lambda: layers.RandomFlip("diagonal"), "argument `mode`"),
        (lambda: layers.RandomContrast(-0.1), "argument `factor`.*in \\[0.0, 1.0\\]"),
        (lambda: layers.RandomContrast(0.1, value_range=(1, 1)), "argument `value_range`"),
        (lambda: layers.RandomBrightness(0.1, value_range=[0]), "argument `value_range`"),
        (lambda: layers.RandomCrop(0, 2), "argument `height`"),
        (lambda: layers.RandomFlip(seed="x"), "argument `seed`"),
    ],
)
def test_invalid_arguments_name_the_argument(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_images_must_have_rank_3_or_4():
    with pytest.raises(ValueError, match="expects images of rank 3"):
        layers.RandomFlip()(np.ones((2, 3), "float32"), training=True)
