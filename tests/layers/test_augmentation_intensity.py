"""Colour and intensity augmentations (``layers/augmentation_intensity.py`` and
``layers/augmentation_local.py``): certain draws against Keras 3, rules against NumPy
references, inference identity, seeding, value ranges, configs, saving and errors."""

import colorsys

import numpy as np
import pytest

from cnnkit import layers as L
from cnnkit.models import Sequential, load_model
from tests.harness import run_layer_test

RNG = np.random.default_rng(0)
IMAGES = RNG.uniform(0, 255, (3, 9, 11, 3)).astype("float32")
LEVELS = RNG.integers(0, 256, (3, 9, 11, 3)).astype("float32")

# (layer name, arguments that make every draw certain, the input's value range)
CERTAIN = [
    ("RandomHue", {"factor": (1.0, 1.0)}, 255),  # ±1/2 turn: the same hue either way
    ("RandomHue", {"factor": (1.0, 1.0), "value_range": (0, 1)}, 1),
    ("RandomHue", {"factor": (0.0, 0.0)}, 255),
    ("RandomSaturation", {"factor": (0.3, 0.3)}, 255),
    ("RandomSaturation", {"factor": (0.8, 0.8), "value_range": (0, 1)}, 1),
    ("RandomSaturation", {"factor": (0.0, 0.0)}, 255),
    ("RandomSaturation", {"factor": (-0.4, -0.4)}, 255),  # a pair Keras writes for 0.4
    ("RandomColorDegeneration", {"factor": (0.6, 0.6)}, 255),
    ("RandomColorDegeneration", {"factor": (1.0, 1.0), "value_range": (0, 1)}, 1),
    ("RandomColorDegeneration", {"factor": (-0.5, -0.5)}, 255),
    ("RandomSharpness", {"factor": (0.2, 0.2)}, 255),
    ("RandomSharpness", {"factor": (0.9, 0.9), "value_range": (0, 1)}, 1),
    ("RandomPosterization", {"factor": (3, 3)}, 255),
    ("RandomPosterization", {"factor": (2, 2), "value_range": (0, 1)}, 1),
    ("RandomPosterization", {"factor": 1}, 255),
    ("RandomGaussianBlur", {"factor": (1.0, 1.0), "sigma": (0.7, 0.7)}, 255),
    ("RandomGaussianBlur", {"factor": (1.0, 1.0), "sigma": (0.5, 0.5), "kernel_size": 5}, 255),
    ("RandomGaussianBlur", {"factor": (1.0, 1.0), "kernel_size": (3, 3), "sigma": (1, 1)}, 255),
    ("RandomErasing", {"factor": (1.0, 1.0), "scale": (1.0, 1.0), "fill_value": 7.0}, 255),
    ("RandomErasing", {"factor": (1.0, 1.0), "scale": (1, 1), "fill_value": [1, 300, -3]}, 255),
    (
        "RandomColorJitter",
        {
            "brightness_factor": (0.2, 0.2),
            "contrast_factor": 0.0,
            "saturation_factor": (0.3, 0.3),
            "hue_factor": (1.0, 1.0),
        },
        255,
    ),
    ("RandomColorJitter", {"value_range": (0, 1), "saturation_factor": (0.7, 0.7)}, 1),
]


def _input(scale):
    return IMAGES if scale == 255 else IMAGES / 255


@pytest.mark.parametrize("name, kwargs, scale", CERTAIN)
def test_certain_draws_match_keras(name, kwargs, scale):
    keras = pytest.importorskip("keras")
    x = _input(scale)
    expected = keras.ops.convert_to_numpy(getattr(keras.layers, name)(**kwargs)(x, training=True))
    out = getattr(L, name)(**kwargs)(x, training=True).numpy()
    assert out.dtype == np.float32 and out.shape == x.shape
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=2e-4 * scale)


def test_posterization_of_whole_levels_matches_keras():
    keras = pytest.importorskip("keras")
    expected = keras.layers.RandomPosterization((5, 5))(LEVELS, training=True)
    out = L.RandomPosterization((5, 5))(LEVELS, training=True).numpy()
    np.testing.assert_array_equal(out, keras.ops.convert_to_numpy(expected))
    np.testing.assert_array_equal(out, (LEVELS.astype(np.uint8) & 0b11111000).astype("float32"))


@pytest.mark.parametrize("name, kwargs, scale", CERTAIN)
def test_inference_is_the_identity_and_single_images_work(name, kwargs, scale):
    x = _input(scale)
    layer = getattr(L, name)(**kwargs)
    np.testing.assert_array_equal(layer(x, training=False).numpy(), x)
    batched = layer(x, training=True).numpy()
    np.testing.assert_allclose(layer(x[1], training=True).numpy(), batched[1], rtol=1e-5)


def _hue_shift_reference(image, delta):
    """colorsys: rotate each pixel's hue by ``delta`` turns."""
    flat = image.reshape(-1, 3).astype("float64") / 255
    out = []
    for r, g, b in flat:
        h, s, v = colorsys.rgb_to_hsv(r, g, b)
        out.append(colorsys.hsv_to_rgb((h + delta) % 1.0, s, v))
    return np.array(out).reshape(image.shape) * 255


def test_hue_turns_each_image_a_quarter_either_way():
    out = L.RandomHue((0.5, 0.5), seed=3)(IMAGES, training=True).numpy()
    signs = set()
    for image, result in zip(IMAGES, out):
        plus, minus = _hue_shift_reference(image, 0.25), _hue_shift_reference(image, -0.25)
        if np.allclose(result, plus, atol=1e-2):
            signs.add(1)
        else:
            np.testing.assert_allclose(result, minus, atol=1e-2)
            signs.add(-1)
    many = np.repeat(IMAGES[:1], 64, axis=0)
    turned = L.RandomHue((0.5, 0.5), seed=4)(many, training=True).numpy()
    plus = _hue_shift_reference(IMAGES[0], 0.25)
    share = np.mean([np.allclose(t, plus, atol=1e-2) for t in turned])
    assert 0.25 < share < 0.75  # a fair coin picks the direction


def test_saturation_extremes():
    gray = L.RandomSaturation((0.0, 0.0))(IMAGES, training=True).numpy()
    np.testing.assert_allclose(gray, np.repeat(IMAGES.max(-1, keepdims=True), 3, -1), rtol=1e-6)
    full = L.RandomSaturation((1.0, 1.0))(IMAGES, training=True).numpy()
    np.testing.assert_allclose(full.min(-1), 0, atol=1e-3)  # S = 1: the minimum channel is 0
    np.testing.assert_allclose(full.max(-1), IMAGES.max(-1), rtol=1e-5)  # V unchanged
    assert full.min() >= 0 and full.max() <= 255


def test_degeneration_and_sharpness_against_numpy():
    gray = IMAGES @ np.array([0.2989, 0.587, 0.114], "float32")
    out = L.RandomColorDegeneration((0.25, 0.25))(IMAGES, training=True).numpy()
    np.testing.assert_allclose(out, IMAGES + 0.25 * (gray[..., None] - IMAGES), rtol=1e-5)

    kernel = np.full((3, 3), 1 / 13)
    kernel[1, 1] = 5 / 13
    padded = np.pad(IMAGES.astype("float64"), ((0, 0), (1, 1), (1, 1), (0, 0)))
    smooth = sum(
        kernel[i, j] * padded[:, i : i + 9, j : j + 11] for i in range(3) for j in range(3)
    )
    out = L.RandomSharpness((0.8, 0.8))(IMAGES, training=True).numpy()
    expected = np.clip(IMAGES + (1 - 1.6) * (smooth - IMAGES), 0, 255)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(
        L.RandomSharpness((0.5, 0.5))(IMAGES, training=True).numpy(), IMAGES, rtol=1e-6
    )


def test_posterization_draws_both_ends_of_its_range():
    x = np.full((200, 1, 1, 1), 255.0, "float32")
    out = L.RandomPosterization((1, 2), seed=0)(x, training=True).numpy().ravel()
    assert set(out.tolist()) == {128.0, 192.0}


def test_gaussian_blur_probability_and_reference():
    scipy_ndimage = pytest.importorskip("scipy.ndimage")
    out = L.RandomGaussianBlur((1.0, 1.0), kernel_size=5, sigma=(0.8, 0.8))(
        IMAGES, training=True
    ).numpy()
    t = np.arange(5) - 2.0
    k = np.exp(-0.5 * (t / (0.8 + 1e-6)) ** 2)
    k /= k.sum()
    expected = scipy_ndimage.correlate(
        IMAGES.astype("float64"), np.outer(k, k)[None, :, :, None], mode="constant"
    )
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-3)
    none = L.RandomGaussianBlur((0.0, 0.0))(IMAGES, training=True).numpy()
    np.testing.assert_array_equal(none, IMAGES)
    many = np.repeat(IMAGES[:1], 200, axis=0)
    blurred = L.RandomGaussianBlur((0.5, 0.5), seed=1)(many, training=True).numpy()
    share = (blurred != many).any(axis=(1, 2, 3)).mean()
    assert 0.35 < share < 0.65


def test_erasing_rectangles_and_noise():
    x = np.full((50, 20, 30, 3), 100.0, "float32")
    out = L.RandomErasing(1.0 - 0.0, scale=(0.1, 0.4), fill_value=0.0, seed=2)(
        x, training=True
    ).numpy()
    erased = out[..., 0] == 0
    assert (out[erased[..., None].repeat(3, -1)] == 0).all()
    for mask in erased[erased.any(axis=(1, 2))]:  # each erased region is one rectangle
        rows, cols = np.nonzero(mask.any(1))[0], np.nonzero(mask.any(0))[0]
        assert mask.sum() == len(rows) * len(cols)
        assert np.ptp(rows) + 1 == len(rows) and np.ptp(cols) + 1 == len(cols)
        assert 0.02 <= mask.mean() <= 0.45
    noise = L.RandomErasing((1.0, 1.0), scale=(1.0, 1.0), value_range=(0, 1), seed=3)(
        x / 100, training=True
    ).numpy()
    assert noise.min() >= 0 and noise.max() <= 1 and 0.2 < (noise == 0).mean() < 0.8
    assert len(np.unique(noise)) > 100  # Gaussian noise, not a constant


def test_color_jitter_is_its_stages_in_order():
    x = IMAGES / 255
    jitter = L.RandomColorJitter(
        (0, 1), brightness_factor=(0.1, 0.1), saturation_factor=(0.2, 0.2), hue_factor=(1, 1)
    )
    staged = L.RandomBrightness((0.1, 0.1), value_range=(0, 1))(x, training=True)
    staged = L.RandomSaturation((0.2, 0.2), value_range=(0, 1))(staged, training=True)
    staged = L.RandomHue((1.0, 1.0), value_range=(0, 1))(staged, training=True)
    np.testing.assert_allclose(jitter(x, training=True).numpy(), staged.numpy(), atol=1e-6)


RANDOM = [
    (L.RandomHue, {"factor": 0.5}),
    (L.RandomSaturation, {"factor": (0.2, 0.9)}),
    (L.RandomColorDegeneration, {"factor": 0.7}),
    (L.RandomSharpness, {"factor": 0.9}),
    (L.RandomPosterization, {"factor": (2, 6)}),
    (L.RandomGaussianBlur, {"factor": 0.8, "sigma": (0.2, 1.0)}),
    (L.RandomErasing, {"factor": (0.9, 1.0)}),
    (
        L.RandomColorJitter,
        {
            "brightness_factor": 0.2,
            "contrast_factor": 0.3,
            "saturation_factor": 0.8,
            "hue_factor": 0.4,
        },
    ),
]


@pytest.mark.parametrize("cls, kwargs", RANDOM)
def test_seeded_layers_repeat_their_draws_and_stay_in_range(cls, kwargs):
    a = cls(**kwargs, seed=7)(IMAGES, training=True).numpy()
    b = cls(**kwargs, seed=7)(IMAGES, training=True).numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, IMAGES)
    assert a.min() >= 0 and a.max() <= 255 and a.dtype == np.float32
    unit = cls(**kwargs, value_range=(0, 1), seed=7)(IMAGES / 255, training=True).numpy()
    assert unit.min() >= 0 and unit.max() <= 1


@pytest.mark.parametrize("cls, kwargs", RANDOM)
def test_config_round_trip(cls, kwargs):
    layer = cls(**kwargs, value_range=(0, 1), seed=3)
    config = layer.get_config()
    assert config["seed"] == 3 and config["value_range"] == (0.0, 1.0)
    assert config["data_format"] == "channels_last"
    rebuilt = cls.from_config(config)
    assert rebuilt.get_config() == config
    np.testing.assert_array_equal(
        rebuilt(IMAGES / 255, training=True).numpy(), layer(IMAGES / 255, training=True).numpy()
    )


def test_keras_configs_load():
    keras = pytest.importorskip("keras")
    from cnnkit.saving import deserialize_keras_object

    for cls, kwargs in RANDOM:
        theirs = getattr(keras.layers, cls.__name__)(**kwargs, seed=1)
        layer = deserialize_keras_object(keras.saving.serialize_keras_object(theirs))
        assert type(layer) is cls and layer.seed == 1
        assert layer.get_config()["value_range"] == tuple(theirs.get_config()["value_range"])


@pytest.mark.parametrize("cls, kwargs", RANDOM)
def test_lifecycle(cls, kwargs):
    run_layer_test(cls, {**kwargs, "seed": 1}, (2, 6, 6, 3))


def test_saved_model_reloads_and_a_cnn_trains(tmp_path):
    rng = np.random.default_rng(1)
    x = rng.uniform(0, 1, (16, 8, 8, 3)).astype("float32")
    y = rng.integers(0, 2, 16)
    model = Sequential(
        [
            L.Input((8, 8, 3)),
            L.RandomHue(0.2, value_range=(0, 1), seed=1),
            L.RandomSaturation((0.3, 0.7), value_range=(0, 1), seed=2),
            L.RandomColorJitter((0, 1), brightness_factor=0.1, contrast_factor=0.1, seed=3),
            L.RandomColorDegeneration(0.3, value_range=(0, 1), seed=4),
            L.RandomSharpness(0.8, value_range=(0, 1), seed=5),
            L.RandomPosterization((4, 8), value_range=(0, 1), seed=6),
            L.RandomGaussianBlur(0.5, value_range=(0, 1), seed=7),
            L.RandomErasing(0.5, value_range=(0, 1), seed=8),
            L.Conv2D(2, 3),
            L.Flatten(),
            L.Dense(2, activation="softmax"),
        ]
    )
    model.compile("adam", "sparse_categorical_crossentropy")
    history = model.fit(x, y, batch_size=8, epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    model.save(tmp_path / "m.keras")
    loaded = load_model(tmp_path / "m.keras")
    assert loaded.get_config() == model.get_config()
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


@pytest.mark.parametrize(
    "make, pattern",
    [
        (lambda: L.RandomHue(1.5), "`factor`.*Received: factor=1.5"),
        (lambda: L.RandomHue((-0.5, 0.5)), "`factor`.*range \\[0, 1\\]"),
        (lambda: L.RandomSaturation("a"), "`factor`"),
        (lambda: L.RandomColorDegeneration((0.1, 0.2, 0.3)), "`factor`"),
        (lambda: L.RandomColorDegeneration(-0.5), "`factor`"),
        (lambda: L.RandomSaturation((-1.5, 0.5)), "`factor`"),
        (lambda: L.RandomSharpness(0.5, value_range=(1, 1)), "`value_range`"),
        (lambda: L.RandomPosterization(9), "`factor`.*\\[1, 8\\].*Received: factor=9"),
        (lambda: L.RandomPosterization(2.5), "`factor`"),
        (lambda: L.RandomPosterization((0, 4)), "`factor`"),
        (lambda: L.RandomGaussianBlur(kernel_size=4), "`kernel_size`.*Received: kernel_size=4"),
        (lambda: L.RandomGaussianBlur(kernel_size=(3, 5)), "`kernel_size`.*square"),
        (lambda: L.RandomGaussianBlur(sigma=2.0), "`sigma`"),
        (lambda: L.RandomErasing(scale=(0.1, 1.5)), "`scale`"),
        (lambda: L.RandomErasing(fill_value=(1, 2)), "`fill_value`.*Received: fill_value"),
        (lambda: L.RandomErasing(seed=-1), "`seed`"),
        (lambda: L.RandomColorJitter(hue_factor=2.0), "`factor`"),
        (lambda: L.RandomColorJitter(value_range=[0]), "`value_range`"),
        (lambda: L.RandomHue(0.1, data_format="channels_first"), "channels_last"),
    ],
)
def test_bad_arguments(make, pattern):
    with pytest.raises(ValueError, match=pattern):
        make()


@pytest.mark.parametrize("cls", [L.RandomHue, L.RandomSaturation, L.RandomColorDegeneration])
def test_colour_layers_need_three_channels(cls):
    with pytest.raises(ValueError, match="3 channels.*Received"):
        cls(0.5)(np.zeros((1, 2, 2, 1), "float32"), training=True)
    with pytest.raises(ValueError, match="rank 3.*or 4"):
        cls(0.5)(np.zeros((2, 2), "float32"))


def test_color_jitter_needs_three_channels_only_for_saturation_and_hue():
    x = np.full((1, 2, 2, 1), 100.0, "float32")
    out = L.RandomColorJitter(brightness_factor=(0.1, 0.1))(x, training=True).numpy()
    np.testing.assert_allclose(out, 125.5)
    with pytest.raises(ValueError, match="random_color_jitter.*3 channels"):
        L.RandomColorJitter(hue_factor=0.1)(x, training=True)
