"""AutoContrast, Equalization, CLAHE: against Keras 3 and NumPy references, at inference too,
per image, configs, saving and errors."""

import warnings

import numpy as np
import pytest

from cnnkit import layers as L
from cnnkit.models import Sequential, load_model
from tests.harness import run_layer_test

RNG = np.random.default_rng(0)
IMAGES = RNG.uniform(0, 255, (3, 9, 11, 3)).astype("float32")
LEVELS = RNG.integers(0, 256, (3, 9, 11, 3)).astype("float32")
LOW_CONTRAST = IMAGES * 0.4 + 60
CLAHE = L.ContrastLimitedAdaptiveHistogramEqualization


def _keras(name, kwargs, x, per_image=False):
    keras = pytest.importorskip("keras")
    layer = getattr(keras.layers, name)(**kwargs)
    with warnings.catch_warnings():  # Keras's Equalization trips a torch deprecation warning
        warnings.simplefilter("ignore", UserWarning)
        if per_image:  # Keras counts one histogram over the whole batch: image by image
            return np.stack([keras.ops.convert_to_numpy(layer(image[None]))[0] for image in x])
        return keras.ops.convert_to_numpy(layer(x))


@pytest.mark.parametrize(
    "kwargs, x",
    [({}, LOW_CONTRAST), ({"value_range": (0, 1)}, LOW_CONTRAST / 255), ({}, IMAGES)],
)
def test_auto_contrast_matches_keras_and_numpy(kwargs, x):
    out = L.AutoContrast(**kwargs)(x).numpy()
    np.testing.assert_allclose(out, _keras("AutoContrast", kwargs, x), rtol=1e-5, atol=1e-4)
    high = kwargs.get("value_range", (0, 255))[1]
    low, top = x.min(axis=(1, 2), keepdims=True), x.max(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(out, (x - low) / (top - low) * high, rtol=1e-4, atol=1e-4 * high)


def test_auto_contrast_leaves_flat_channels_and_applies_at_inference():
    x = LOW_CONTRAST.copy()
    x[1, ..., 2] = 42.0
    out = L.AutoContrast()(x, training=False).numpy()
    np.testing.assert_array_equal(out[1, ..., 2], x[1, ..., 2])
    assert out[0].min() == 0 and out[0].max() == 255


def _equalize_reference(channel, bins):
    """One (H, W) channel in [0, 255], with loops: the rule written out plainly."""
    index = np.clip((channel * (bins - 1) / 255).astype(int), 0, bins - 1)
    hist = np.bincount(index.ravel(), minlength=bins)
    if np.count_nonzero(hist) <= 1:
        return channel
    cdf = np.cumsum(hist)
    cdf_min = cdf[np.nonzero(cdf)[0][0]]
    table = np.clip(np.round((cdf - cdf_min) * 255 / max(cdf[-1] - cdf_min, 1)), 0, 255)
    return table[index]


@pytest.mark.parametrize(
    "kwargs, x",
    [
        ({}, LEVELS),
        ({}, IMAGES),
        ({"bins": 64}, IMAGES),
        ({"value_range": (0, 1)}, IMAGES / 255),
        ({"bins": 7}, LOW_CONTRAST),
    ],
)
def test_equalization_matches_keras_image_by_image(kwargs, x):
    out = L.Equalization(**kwargs)(x).numpy()
    expected = _keras("Equalization", kwargs, x, per_image=True)
    np.testing.assert_allclose(out, expected, rtol=1e-6, atol=1e-5)


def test_equalization_against_a_loop_reference_per_image():
    x = LEVELS.copy()
    x[2, ..., 1] = 17.0  # a single-bin channel stays as it is
    out = L.Equalization(bins=32)(x).numpy()
    expected = np.empty_like(x)
    for i in range(len(x)):
        for c in range(3):
            expected[i, ..., c] = _equalize_reference(x[i, ..., c], 32)
    np.testing.assert_array_equal(out, expected)
    one = L.Equalization(bins=32)(x[1]).numpy()  # an unbatched image: the same result
    np.testing.assert_array_equal(one, out[1])


# Keras 3.15 on torch pads with edge values and truncates the clip limit to an integer: the
# cases compare where that makes no difference (padding <= 1 pixel, a whole-number limit).
@pytest.mark.parametrize(
    "shape, kwargs",
    [
        ((2, 32, 32, 3), {"tile_grid_size": (4, 4)}),  # limit 4 * 64 / 256 = 1
        ((2, 37, 45, 3), {"tile_grid_size": (2, 2), "clip_limit": 0.0}),  # padded by 1
        ((1, 35, 40, 1), {"tile_grid_size": (4, 5), "clip_limit": 0.0}),
        ((2, 24, 24, 3), {"tile_grid_size": (3, 3), "clip_limit": 32.0}),  # limit 8
        ((1, 32, 32, 3), {"tile_grid_size": (4, 4), "value_range": (0, 1)}),
    ],
)
def test_clahe_matches_keras(shape, kwargs):
    x = np.random.default_rng(1).uniform(0, 255, shape).astype("float32")
    scale = 1 if kwargs.get("value_range") == (0, 1) else 255
    x = x * (scale / 255)
    out = CLAHE(**kwargs)(x).numpy()
    expected = _keras("ContrastLimitedAdaptiveHistogramEqualization", kwargs, x)
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-3 * scale)


def test_clahe_with_one_tile_and_no_clipping_is_plain_equalization():
    x = LEVELS[:1, :8, :8]
    out = CLAHE(tile_grid_size=(1, 1), clip_limit=0.0)(x).numpy()
    for c in range(3):
        level = x[0, ..., c].astype(int)
        cdf = np.cumsum(np.bincount(level.ravel(), minlength=256))
        table = (cdf - cdf[0]) * 255 / max(64 - cdf[0], 1)
        np.testing.assert_allclose(out[0, ..., c], table[level], rtol=1e-5, atol=1e-3)


def test_clahe_limits_contrast_in_flat_regions():
    x = np.full((1, 32, 32, 1), 100.0, "float32")
    x[0, ::2, ::2] = 102.0  # a nearly flat image
    free = CLAHE(tile_grid_size=(2, 2), clip_limit=0.0)(x).numpy()
    limited = CLAHE(tile_grid_size=(2, 2), clip_limit=2.0)(x).numpy()
    assert np.ptp(limited) < np.ptp(free)
    assert limited.min() >= 0 and limited.max() <= 255


LAYERS = [
    (L.AutoContrast, {"value_range": (0, 1)}),
    (L.Equalization, {"value_range": (0, 1), "bins": 64}),
    (CLAHE, {"value_range": (0, 1), "clip_limit": 2.0, "tile_grid_size": (2, 3)}),
]


@pytest.mark.parametrize("cls, kwargs", LAYERS)
def test_deterministic_in_training_and_inference_and_in_range(cls, kwargs):
    x = IMAGES / 255
    layer = cls(**kwargs)
    out = layer(x).numpy()
    assert not np.allclose(out, x) and out.dtype == np.float32
    np.testing.assert_array_equal(layer(x, training=True).numpy(), out)
    np.testing.assert_array_equal(cls(**kwargs)(x).numpy(), out)
    assert out.min() >= 0 and out.max() <= 1


@pytest.mark.parametrize("cls, kwargs", LAYERS)
def test_config_round_trip_and_keras_configs(cls, kwargs):
    layer = cls(**kwargs)
    config = layer.get_config()
    assert "seed" not in config and config["data_format"] == "channels_last"
    assert cls.from_config(config).get_config() == config
    keras = pytest.importorskip("keras")
    from cnnkit.saving import deserialize_keras_object

    theirs = getattr(keras.layers, cls.__name__)(**kwargs)
    loaded = deserialize_keras_object(keras.saving.serialize_keras_object(theirs))
    assert type(loaded) is cls
    assert {k: loaded.get_config()[k] for k in kwargs} == {
        k: tuple(v) if isinstance(v, (tuple, list)) else v for k, v in kwargs.items()
    }


@pytest.mark.parametrize("cls, kwargs", LAYERS)
def test_lifecycle(cls, kwargs):
    run_layer_test(cls, kwargs, (2, 6, 6, 3))


def test_saved_model_predicts_with_the_layers(tmp_path):
    x = IMAGES / 255
    model = Sequential(
        [L.Input((9, 11, 3)), L.AutoContrast((0, 1)), L.Equalization((0, 1)), CLAHE((0, 1))]
    )
    expected = CLAHE((0, 1))(L.Equalization((0, 1))(L.AutoContrast((0, 1))(x))).numpy()
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=1e-6)
    model.save(tmp_path / "m.keras")
    loaded = load_model(tmp_path / "m.keras")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_a_cnn_trains_behind_them():
    rng = np.random.default_rng(1)
    x = rng.uniform(0, 1, (16, 8, 8, 3)).astype("float32")
    y = rng.integers(0, 2, 16)
    model = Sequential(
        [
            L.Input((8, 8, 3)),
            L.AutoContrast((0, 1)),
            L.Equalization((0, 1)),
            CLAHE((0, 1), tile_grid_size=(2, 2)),
            L.Conv2D(2, 3),
            L.Flatten(),
            L.Dense(2, activation="softmax"),
        ]
    )
    model.compile("adam", "sparse_categorical_crossentropy")
    history = model.fit(x, y, batch_size=8, epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()


@pytest.mark.parametrize(
    "make, pattern",
    [
        (lambda: L.AutoContrast(value_range=(0, 0)), "`value_range`"),
        (lambda: L.Equalization(bins=0), "`bins`.*Received: bins=0"),
        (lambda: L.Equalization(bins=2.5), "`bins`"),
        (lambda: CLAHE(clip_limit=-1.0), "`clip_limit`.*Received: clip_limit=-1.0"),
        (lambda: CLAHE(tile_grid_size=(0, 2)), "`tile_grid_size`"),
        (lambda: CLAHE(tile_grid_size=8), "`tile_grid_size`"),
        (lambda: L.Equalization(data_format="channels_first"), "channels_last"),
    ],
)
def test_bad_arguments(make, pattern):
    with pytest.raises(ValueError, match=pattern):
        make()
