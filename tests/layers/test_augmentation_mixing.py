"""CutMix and MixUp: Keras's transformations replayed, the mixing property on images and labels,
the Beta draws, unbatched inputs, seeding, inference, configs, saving, errors, training."""

import numpy as np
import pytest

from cnnkit import backend, layers
from cnnkit.models import Sequential, load_model


def _images(shape=(6, 8, 10, 3), seed=0):
    return np.random.default_rng(seed).uniform(0, 255, shape).astype("float32")


def _both(seed=None):
    return [layers.CutMix((0.3, 1.0), seed=seed), layers.MixUp(0.4, seed=seed)]


def _partners(mixed_labels):
    """``(λ, partner)`` per sample from one-hot ``eye(N)`` labels after mixing."""
    n = len(mixed_labels)
    lam = mixed_labels[np.arange(n), np.arange(n)]
    others = mixed_labels.copy()
    others[np.arange(n), np.arange(n)] = -1
    partner = np.where(np.isclose(lam, 1.0, atol=1e-6), np.arange(n), others.argmax(axis=1))
    return lam, partner


# -- Keras's own transformations, replayed ------------------------------------------------------


@pytest.mark.parametrize("name, kwargs", [("CutMix", {"factor": (0.5, 1.0)}), ("MixUp", {})])
def test_keras_transformation_gives_keras_images_and_labels(name, kwargs):
    keras = pytest.importorskip("keras")
    x, y = _images(), np.eye(6, dtype="float32")
    theirs = getattr(keras.layers, name)(seed=2, **kwargs)
    t = theirs.get_random_transformation(x)
    tx, ty = keras.ops.convert_to_tensor(x), keras.ops.convert_to_tensor(y)
    expected_x = keras.ops.convert_to_numpy(theirs.transform_images(tx, t))
    expected_y = keras.ops.convert_to_numpy(theirs.transform_labels(ty, t))
    ours = getattr(layers, name)(**kwargs)
    t = {k: keras.ops.convert_to_numpy(v) for k, v in t.items()}
    np.testing.assert_allclose(ours.transform_images(x, t), expected_x, rtol=1e-6)
    np.testing.assert_allclose(ours.transform_labels(y, t), expected_y, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("make", [lambda L: L.CutMix((0.2, 0.6), seed=1), lambda L: L.MixUp(0.7)])
def test_configs_have_keras_keys_and_values(make):
    keras = pytest.importorskip("keras")
    mine, theirs = make(layers).get_config(), make(keras.layers).get_config()
    assert set(mine) == set(theirs)
    for key in set(mine) - {"name", "dtype"}:
        expected = tuple(theirs[key]) if isinstance(theirs[key], list) else theirs[key]
        assert mine[key] == expected, key


# -- the mixing property -----------------------------------------------------------------------


def test_mixup_output_is_lambda_a_plus_one_minus_lambda_b_with_labels_by_the_same_lambda():
    x, y = _images(), np.eye(6, dtype="float32")
    out = layers.MixUp(alpha=0.5, seed=3)({"images": x, "labels": y})
    lam, partner = _partners(out["labels"].numpy())
    assert (partner != np.arange(6)).any() and ((lam > 0.01) & (lam < 0.99)).any()
    expected = lam[:, None, None, None] * x + (1 - lam[:, None, None, None]) * x[partner]
    np.testing.assert_allclose(out["images"].numpy(), expected, rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(out["labels"].numpy().sum(axis=1), 1.0, rtol=1e-6)
    assert sorted(partner) == list(range(6))  # a permutation of the batch


def test_cutmix_pastes_a_box_of_the_partner_covering_one_minus_lambda():
    x, y = _images((8, 12, 16, 3)), np.eye(8, dtype="float32")
    out = layers.CutMix(seed=5)({"images": x, "labels": y})
    images, (lam, partner) = out["images"].numpy(), _partners(out["labels"].numpy())
    h, w = x.shape[1:3]
    for i in range(8):  # checking each sample; the layer itself has no loop
        pasted = np.all(images[i] == x[partner[i]], axis=-1)
        kept = np.all(images[i] == x[i], axis=-1)
        assert (pasted | kept).all()
        if partner[i] == i:
            continue
        rows, cols = np.nonzero(pasted & ~kept)
        if len(rows):  # one rectangle
            box = np.zeros((h, w), bool)
            box[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1] = True
            np.testing.assert_array_equal(box, pasted & ~kept)
        # λ is 1 - area of the real-valued box: within a pixel border of the pasted share
        assert abs(pasted.mean() - (1 - lam[i])) <= (h + w + 1) / (h * w)
    assert ((lam > 0.05) & (lam < 0.95)).any()


def test_mixing_weights_follow_the_beta_distribution():
    stats = pytest.importorskip("scipy.stats")
    x = np.zeros((2000, 1, 1, 1), "float32")
    weights = layers.MixUp(alpha=0.3, seed=0).get_random_transformation(x)["mix_weight"]
    assert stats.kstest(weights, stats.beta(0.3, 0.3).cdf).pvalue > 1e-3
    box = layers.CutMix(factor=(1.0, 1.0), seed=0).get_random_transformation(
        np.zeros((2000, 40, 40, 1), "float32")
    )  # a = 1: λ uniform, up to the box's rounding
    assert abs(np.mean(box["mix_weight"]) - 0.5) < 0.03


def test_masks_follow_the_images_and_unknown_keys_pass():
    x = _images((4, 6, 6, 1))
    masks = np.random.default_rng(2).integers(0, 2, (4, 6, 6, 1)).astype("float32")
    for make in (lambda: layers.CutMix(seed=1), lambda: layers.MixUp(seed=1)):
        out = make()({"images": x, "segmentation_masks": masks, "meta": [1, 2]})
        layer = make()
        t = layer.get_random_transformation(x)
        np.testing.assert_array_equal(out["images"].numpy(), layer.transform_images(x, t))
        np.testing.assert_array_equal(
            out["segmentation_masks"].numpy(), layer.transform_segmentation_masks(masks, t)
        )
        assert out["meta"] == [1, 2]


# -- the layer contract -------------------------------------------------------------------------


def test_a_single_image_is_left_unchanged_as_in_keras():
    x, y = _images((5, 6, 3)), np.float32([0, 1, 0])
    for layer in _both(seed=0):
        out = layer({"images": x, "labels": y})  # MixUp: λ·x + (1 - λ)·x, rounded
        np.testing.assert_allclose(out["images"].numpy(), x, rtol=1e-6)
        np.testing.assert_allclose(out["labels"].numpy(), y, rtol=1e-6)
        assert layer(x, training=True).shape == x.shape


def test_inference_is_untouched():
    x, y = _images(), np.eye(6, dtype="float32")
    for layer in _both():
        np.testing.assert_array_equal(layer(x, training=False).numpy(), x)
        out = layer({"images": x, "labels": y}, training=False)
        np.testing.assert_array_equal(out["images"].numpy(), x)
        np.testing.assert_array_equal(out["labels"].numpy(), y)


def test_outputs_are_float32_and_integer_labels_become_float():
    for dtype in ("uint8", "float64"):
        x = _images((4, 5, 5, 2)).astype(dtype)
        for layer in _both(seed=0):
            assert layer(x, training=True).dtype == np.float32
            out = layer({"images": x, "labels": np.eye(4, dtype="int32")})
            assert out["images"].dtype == np.float32 and out["labels"].dtype == np.float32


def test_seeded_layers_reproduce_and_set_seed_reproduces_unseeded_ones():
    x = _images()
    for first, second in zip(_both(seed=7), _both(seed=7)):
        draws = [first(x, training=True).numpy() for _ in range(2)]
        assert not np.array_equal(draws[0], draws[1])
        for a in draws:
            np.testing.assert_array_equal(a, second(x, training=True).numpy())
    runs = []
    for _ in range(2):
        backend.set_seed(3)
        runs.append([layer(x, training=True).numpy() for layer in _both()])
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b)


def test_get_config_round_trips_and_the_archive_reloads(tmp_path):
    for layer in _both(seed=2):
        config = layer.get_config()
        assert type(layer).from_config(config).get_config() == config
    model = Sequential([layers.Input(shape=(5, 5, 2)), *_both(seed=1), layers.Flatten()])
    model.save(tmp_path / "m.keras")
    loaded = load_model(tmp_path / "m.keras")
    assert loaded.get_config() == model.get_config()
    x = _images((3, 5, 5, 2))
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_layers_train_inside_a_model():
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (16, 6, 6, 1)).astype("float32")
    y = rng.integers(0, 2, 16)
    model = Sequential(
        [
            layers.Input(shape=(6, 6, 1)),
            *_both(),
            layers.Flatten(),
            layers.Dense(2, activation="softmax"),
        ]
    )
    model.compile("sgd", "sparse_categorical_crossentropy")
    history = model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: layers.CutMix(1.5), "`factor`.*\\[0, 1\\].*factor=1.5"),
        (lambda: layers.CutMix((0.2, -0.1)), "`factor`"),
        (lambda: layers.MixUp(alpha=0.0), "argument `alpha`.*> 0.*alpha=0.0"),
        (lambda: layers.MixUp(alpha="big"), "argument `alpha`"),
        (lambda: layers.MixUp(seed=1.5), "argument `seed`"),
    ],
)
def test_invalid_arguments_name_the_argument(make, match):
    with pytest.raises(ValueError, match=match):
        make()
