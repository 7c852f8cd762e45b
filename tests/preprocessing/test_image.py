"""ImageDataGenerator and its NumpyArrayIterator (tf.keras 2's API)."""

import numpy as np
import pytest

from cnnkit import layers
from cnnkit.models import Sequential
from cnnkit.preprocessing.image import ImageDataGenerator, NumpyArrayIterator


def _images(shape=(10, 4, 6, 3), seed=0):
    return np.random.default_rng(seed).uniform(0, 255, shape).astype("float32")


def _epoch(iterator):
    return [next(iterator) for _ in range(len(iterator))]


# -- normalisation ------------------------------------------------------------------


def test_rescale_and_dtype():
    x = np.random.default_rng(0).integers(0, 256, (5, 4, 4, 1)).astype("uint8")
    batch_x, batch_y = next(
        ImageDataGenerator(rescale=1 / 255).flow(x, np.arange(5), shuffle=False)
    )
    assert batch_x.dtype == np.float32
    np.testing.assert_allclose(batch_x, x / 255, rtol=1e-6)
    np.testing.assert_array_equal(batch_y, np.arange(5))


def test_featurewise_center_and_std_from_fit():
    x = _images((20, 4, 4, 3)) * np.float32([1, 2, 3]) + np.float32([0, 10, -50])
    datagen = ImageDataGenerator(featurewise_center=True, featurewise_std_normalization=True)
    datagen.fit(x)
    assert datagen.mean.shape == datagen.std.shape == (1, 1, 3)
    np.testing.assert_allclose(datagen.mean.ravel(), x.mean(axis=(0, 1, 2)), rtol=1e-5)
    np.testing.assert_allclose(datagen.std.ravel(), x.std(axis=(0, 1, 2)), rtol=1e-4)
    batch = next(datagen.flow(x, batch_size=20, shuffle=False))
    np.testing.assert_allclose(batch.mean(axis=(0, 1, 2)), 0, atol=1e-5)
    np.testing.assert_allclose(batch.std(axis=(0, 1, 2)), 1, atol=1e-4)


def test_fit_applies_rescale_before_the_statistics():
    x = _images((6, 3, 3, 1))
    datagen = ImageDataGenerator(featurewise_center=True, rescale=0.5)
    datagen.fit(x)
    np.testing.assert_allclose(datagen.mean.ravel(), [x.mean() * 0.5], rtol=1e-5)


def test_samplewise_normalisation_is_per_image():
    x = _images((4, 5, 5, 3))
    with pytest.warns(UserWarning, match="overrides setting of `samplewise_center`"):
        datagen = ImageDataGenerator(samplewise_std_normalization=True)
    out = datagen.standardize(x)
    np.testing.assert_allclose(out.mean(axis=(1, 2, 3)), 0, atol=1e-4)
    np.testing.assert_allclose(out.std(axis=(1, 2, 3)), 1, atol=1e-4)
    np.testing.assert_allclose(datagen.standardize(x[1]), out[1], rtol=1e-5, atol=1e-5)
    assert not np.array_equal(out, x)  # a new array; x is unchanged
    np.testing.assert_array_equal(x, _images((4, 5, 5, 3)))


def test_zca_whitening_decorrelates_the_fitted_data():
    x = np.random.default_rng(0).standard_normal((300, 2, 2, 1)).astype("float32")
    x[..., 0, 0, 0] += 2 * x[..., 1, 1, 0]  # correlated pixels
    datagen = ImageDataGenerator(zca_whitening=True, featurewise_center=True)
    datagen.fit(x)
    flat = datagen.standardize(x).reshape(300, -1)
    # the centring is per channel (tf.keras), so the second moment, not the covariance, is I
    np.testing.assert_allclose(flat.T @ flat / 300, np.eye(4), atol=1e-4)


def test_standardize_before_fit_warns():
    datagen = ImageDataGenerator(featurewise_center=True)
    with pytest.warns(UserWarning, match="hasn't been fit on any training data"):
        datagen.standardize(_images((2, 3, 3, 1)))


def test_preprocessing_function_sees_one_image_after_augmentation():
    shapes = []

    def record(img):
        shapes.append(img.shape)
        return img + 1

    datagen = ImageDataGenerator(preprocessing_function=record, rescale=2.0)
    x = _images((3, 4, 4, 1))
    np.testing.assert_allclose(next(datagen.flow(x, shuffle=False)), (x + 1) * 2, rtol=1e-6)
    assert shapes == [(4, 4, 1)] * 3


# -- augmentation ------------------------------------------------------------------


@pytest.mark.parametrize("flag, flip", [("horizontal_flip", 2), ("vertical_flip", 1)])
def test_flips_leave_or_mirror_each_image(flag, flip):
    x = _images((16, 4, 6, 1))
    batch = next(ImageDataGenerator(**{flag: True}).flow(x, batch_size=16, shuffle=False, seed=0))
    mirrored = np.flip(x, axis=flip)
    kept = [np.array_equal(batch[i], x[i]) for i in range(16)]
    flipped = [np.array_equal(batch[i], mirrored[i]) for i in range(16)]
    assert all(k or f for k, f in zip(kept, flipped)) and any(kept) and any(flipped)


def _shift(x, pixels, axis):
    """Shift the picture by whole ``pixels`` along ``axis``, repeating the edge ("nearest")."""
    size = x.shape[axis]
    source = np.clip(np.arange(size) - pixels, 0, size - 1)
    return np.take(x, source, axis=axis)


@pytest.mark.parametrize("argument, axis", [("width_shift_range", 2), ("height_shift_range", 1)])
def test_pixel_shifts_with_nearest_fill(argument, axis):
    x = _images((16, 5, 6, 3))
    datagen = ImageDataGenerator(**{argument: [2]}, fill_mode="nearest")
    batch = next(datagen.flow(x, batch_size=16, shuffle=False, seed=1))
    options = {p: _shift(x, p, axis) for p in (-2, 2)}
    matches = [
        [np.allclose(batch[i], options[p][i], atol=1e-4) for p in (-2, 2)] for i in range(16)
    ]
    assert all(any(m) for m in matches)
    assert any(m[0] for m in matches) and any(m[1] for m in matches)


def test_apply_transform_parameters():
    x = _images((5, 5, 2))
    datagen = ImageDataGenerator()
    np.testing.assert_allclose(datagen.apply_transform(x, {"tx": 1}), _shift(x, -1, 1), atol=1e-4)
    np.testing.assert_allclose(datagen.apply_transform(x, {"ty": -2}), _shift(x, 2, 0), atol=1e-4)
    quarter = datagen.apply_transform(x, {"theta": 90})  # counter-clockwise
    np.testing.assert_allclose(quarter, np.rot90(x), atol=1e-3)
    wide = _images((4, 6, 1))
    half = datagen.apply_transform(wide, {"theta": 180})  # about the centre of a wide image
    np.testing.assert_allclose(half, wide[::-1, ::-1], atol=1e-3)
    np.testing.assert_array_equal(datagen.apply_transform(x, {}), x)


def test_random_transform_is_reproducible_with_a_seed():
    x = _images((6, 6, 3))
    datagen = ImageDataGenerator(rotation_range=30, zoom_range=0.2, shear_range=10)
    a, b = datagen.random_transform(x, seed=4), datagen.random_transform(x, seed=4)
    np.testing.assert_array_equal(a, b)
    assert a.shape == x.shape and not np.array_equal(a, x)
    params = datagen.get_random_transform(x.shape, seed=4)
    assert -30 <= params["theta"] <= 30 and 0.8 <= params["zx"] <= 1.2
    assert params["brightness"] is None and params["flip_horizontal"] is False


def test_brightness_quantises_and_scales_like_tf_keras():
    x = np.random.default_rng(0).integers(0, 256, (3, 4, 4, 3)).astype("float32")
    out = next(ImageDataGenerator(brightness_range=(0.5, 0.5)).flow(x, shuffle=False))
    np.testing.assert_array_equal(out, np.floor(x * 0.5))


def test_channel_shift_stays_within_each_image_range():
    x = _images((8, 4, 4, 3))
    out = next(ImageDataGenerator(channel_shift_range=100).flow(x, shuffle=False, seed=0))
    assert np.all(out.min(axis=(1, 2, 3)) >= x.min(axis=(1, 2, 3)) - 1e-3)
    assert np.all(out.max(axis=(1, 2, 3)) <= x.max(axis=(1, 2, 3)) + 1e-3)
    assert not np.array_equal(out, x)


def test_all_transforms_together_keep_shapes_and_dtype():
    datagen = ImageDataGenerator(
        rotation_range=20,
        width_shift_range=0.2,
        height_shift_range=2,
        shear_range=5,
        zoom_range=(0.9, 1.2),
        channel_shift_range=5.0,
        brightness_range=(0.8, 1.2),
        horizontal_flip=True,
        vertical_flip=True,
        fill_mode="reflect",
        interpolation_order=0,
    )
    out = next(datagen.flow(_images((7, 8, 6, 3)), batch_size=7, seed=0))
    assert out.shape == (7, 8, 6, 3) and out.dtype == np.float32 and np.isfinite(out).all()


# -- the iterator --------------------------------------------------------------------------


def test_flow_batches_len_and_epochs():
    x, y = _images((10, 2, 2, 1)), np.arange(10)
    it = ImageDataGenerator().flow(x, y, batch_size=4, shuffle=False)
    assert isinstance(it, NumpyArrayIterator) and len(it) == 3 and iter(it) is it
    batches = _epoch(it)
    assert [b[0].shape for b in batches] == [(4, 2, 2, 1), (4, 2, 2, 1), (2, 2, 2, 1)]
    np.testing.assert_array_equal(np.concatenate([b[1] for b in batches]), y)
    np.testing.assert_array_equal(next(it)[1], [0, 1, 2, 3])  # the next epoch starts over
    np.testing.assert_array_equal(it[2][1], [8, 9])
    np.testing.assert_array_equal(it.next()[1], [4, 5, 6, 7])


def test_flow_shuffles_every_epoch_and_seed_reproduces():
    x, y = _images((12, 2, 2, 1)), np.arange(12)
    it = ImageDataGenerator().flow(x, y, batch_size=5, seed=3)
    orders = [np.concatenate([b[1] for b in _epoch(it)]) for _ in range(2)]
    for order in orders:
        np.testing.assert_array_equal(np.sort(order), y)
    assert not np.array_equal(orders[0], orders[1]) and not np.array_equal(orders[0], y)
    augment = ImageDataGenerator(rotation_range=45)
    a = _epoch(augment.flow(x, y, batch_size=5, seed=3))
    b = _epoch(augment.flow(x, y, batch_size=5, seed=3))
    for (xa, ya), (xb, yb) in zip(a, b):
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ya, yb)


def test_flow_sample_weight_no_labels_and_subsets():
    x, y = _images((8, 2, 2, 1)), np.array([0, 1] * 4)
    w = np.linspace(0.1, 0.8, 8)
    batch = next(ImageDataGenerator().flow(x, y, sample_weight=w, shuffle=False))
    assert len(batch) == 3
    np.testing.assert_allclose(batch[2], w)
    assert next(ImageDataGenerator().flow(x, batch_size=3)).shape == (3, 2, 2, 1)
    datagen = ImageDataGenerator(validation_split=0.25)
    val = datagen.flow(x, y, shuffle=False, subset="validation")
    train = datagen.flow(x, y, shuffle=False, subset="training")
    assert val.n == 2 and train.n == 6
    np.testing.assert_allclose(next(val)[0], x[:2])
    with pytest.raises(ValueError, match="different number of classes"):
        datagen.flow(x, np.sort(y), subset="validation")


def test_model_fit_on_a_flow():
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (64, 8, 8, 1)).astype("float32")
    y = (x.mean(axis=(1, 2, 3)) > 127).astype("int64")
    datagen = ImageDataGenerator(rescale=1 / 255, width_shift_range=0.1, horizontal_flip=True)
    model = Sequential(
        [
            layers.Input(shape=(8, 8, 1)),
            layers.Conv2D(2, 3, activation="relu"),
            layers.Flatten(),
            layers.Dense(2, activation="softmax"),
        ]
    )
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(
        datagen.flow(x, y, batch_size=32), steps_per_epoch=len(x) // 32, epochs=2, verbose=0
    )
    assert len(history.history["loss"]) == 2
    assert np.all(np.isfinite(history.history["loss"]))


# -- errors ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"zoom_range": "big"}, "`zoom_range` should be a float"),
        ({"brightness_range": 3}, "`brightness_range` should be a tuple"),
        ({"fill_mode": "mirror"}, "argument `fill_mode`"),
        ({"validation_split": 1.5}, "`validation_split` must be strictly between 0 and 1"),
        ({"width_shift_range": "x"}, "argument `width_shift_range`"),
        ({"data_format": "channels_first"}, "channels_last"),
    ],
)
def test_invalid_generator_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ImageDataGenerator(**kwargs)


def test_invalid_flow_arguments():
    datagen = ImageDataGenerator()
    with pytest.raises(NotImplementedError, match="interpolation_order"):
        ImageDataGenerator(interpolation_order=3)
    with pytest.raises(ValueError, match="should have rank 4"):
        datagen.flow(np.ones((3, 4, 4), "float32"))
    with pytest.raises(ValueError, match="same length"):
        datagen.flow(np.ones((3, 4, 4, 1)), np.arange(2))
    with pytest.raises(ValueError, match="`subset` needs a `validation_split`"):
        datagen.flow(np.ones((3, 4, 4, 1)), subset="training")
    with pytest.raises(ValueError, match="has length 1"):
        datagen.flow(np.ones((3, 4, 4, 1)))[1]
    with pytest.raises(NotImplementedError, match="does not read image files"):
        datagen.flow_from_directory("images/")
