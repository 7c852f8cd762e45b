"""RandAugment and AugMix: Keras's operation lists and sublayer arguments, the picks applied in
order, AugMix's blend, seeding, inference, configs, saving, errors, training."""

import numpy as np
import pytest

from cnnkit import backend, layers
from cnnkit.models import Sequential, load_model


def _images(shape=(3, 8, 8, 3), seed=0):
    return np.random.default_rng(seed).uniform(0, 255, shape).astype("float32")


def _both(seed=None):
    return [layers.RandAugment(num_ops=3, seed=seed), layers.AugMix(seed=seed)]


# -- Keras's lists and arguments ----------------------------------------------------------------


def test_operation_lists_and_sublayers_are_keras():
    keras = pytest.importorskip("keras")
    from keras.src.layers.preprocessing.image_preprocessing import aug_mix

    cases = [
        (layers.RandAugment(), keras.layers.RandAugment._AUGMENT_LAYERS),
        (layers.AugMix(), aug_mix.AUGMENT_LAYERS_ALL),
        (layers.AugMix(all_ops=False), aug_mix.AUGMENT_LAYERS),
    ]
    for policy, expected in cases:
        assert policy._operations == list(expected)
        for name in expected:
            class_name = "".join(part.title() for part in name.split("_"))
            assert type(getattr(policy, name)) is getattr(layers, class_name), name


@pytest.mark.parametrize(
    "name, kwargs",
    [
        ("RandAugment", {"factor": 0.4, "value_range": (0, 1), "interpolation": "nearest"}),
        ("AugMix", {"factor": (0.1, 0.6), "value_range": (-1, 1)}),
    ],
)
def test_sublayers_get_keras_arguments(name, kwargs):
    keras = pytest.importorskip("keras")
    ours, theirs = getattr(layers, name)(**kwargs), getattr(keras.layers, name)(**kwargs)
    for op in ours._operations:
        mine, keras_config = getattr(ours, op).get_config(), getattr(theirs, op).get_config()
        for key in set(mine) & set(keras_config) - {"name", "seed", "dtype"}:
            value = keras_config[key]
            assert mine[key] == (tuple(value) if isinstance(value, list) else value), (op, key)


@pytest.mark.parametrize(
    "make",
    [
        lambda L: L.RandAugment((0, 1), 3, (0.2, 0.7), "nearest", seed=4),
        lambda L: L.AugMix((0, 1), 2, 4, 0.6, 0.5, False, "nearest", seed=4),
    ],
)
def test_configs_have_keras_keys_and_values(make):
    keras = pytest.importorskip("keras")
    mine, theirs = make(layers).get_config(), make(keras.layers).get_config()
    assert set(mine) == set(theirs)
    for key in set(mine) - {"name", "dtype"}:
        expected = tuple(theirs[key]) if isinstance(theirs[key], list) else theirs[key]
        assert mine[key] == expected, key


# -- what the policies compute --------------------------------------------------------------------


def test_rand_augment_applies_the_picked_operations_in_order():
    x = _images()
    policy, twin = layers.RandAugment(seed=9), layers.RandAugment(seed=9)
    n = len(policy._operations)
    picks = np.array([n - 1, 0, n - 1])
    out = policy.transform_images(x, {"layer_idxes": picks})
    expected = x
    for pick in picks:
        expected = getattr(twin, twin._operations[pick])._augment(expected)
    np.testing.assert_allclose(out, expected, rtol=1e-6, atol=1e-4)
    assert not np.allclose(out, x)


def test_rand_augment_picks_num_ops_operations_per_call():
    policy = layers.RandAugment(num_ops=4, seed=0)
    picks = np.concatenate(
        [policy.get_random_transformation(_images())["layer_idxes"] for _ in range(200)]
    )
    assert len(picks) == 800
    counts = np.bincount(picks, minlength=len(policy._operations))
    assert len(counts) == len(policy._operations) and counts.min() > 0  # all drawn


def test_augmix_blends_the_image_with_the_weighted_chains():
    x = _images()
    policy, twin = layers.AugMix(num_chains=2, chain_depth=2, seed=5), layers.AugMix(seed=5)
    none = len(policy._operations)  # the "no operation" pick
    t = {
        "chain_mixing_weights": np.float32([0.3, 0.7]),
        "weight_sample": np.float32(0.4),
        "chain_transforms": np.array([[0, none], [none, none]]),
    }
    chain = getattr(twin, twin._operations[0])._augment(x)
    expected = np.clip(0.4 * x + 0.6 * (0.3 * chain + 0.7 * x), 0, 255)
    np.testing.assert_allclose(policy.transform_images(x, t), expected, rtol=1e-5, atol=1e-3)


def test_augmix_draws_a_dirichlet_blend_and_picks_with_no_operation():
    policy = layers.AugMix(num_chains=4, chain_depth=5, alpha=0.5, seed=1)
    draws = [policy.get_random_transformation(_images()) for _ in range(50)]
    for t in draws:
        np.testing.assert_allclose(t["chain_mixing_weights"].sum(), 1.0, rtol=1e-6)
        assert 0.0 <= t["weight_sample"] <= 1.0
        assert t["chain_transforms"].shape == (4, 5)
    picks = np.concatenate([t["chain_transforms"].ravel() for t in draws])
    assert picks.min() == 0 and picks.max() == len(policy._operations)  # "none" included


def test_no_operation_is_the_identity_and_augmix_stays_in_range():
    x = _images()
    np.testing.assert_array_equal(layers.RandAugment(num_ops=0)(x, training=True).numpy(), x)
    np.testing.assert_allclose(layers.AugMix(chain_depth=0)(x, training=True).numpy(), x, atol=1e-3)
    out = layers.AugMix((0, 255), factor=1.0, seed=2)(x * 2, training=True).numpy()
    assert out.min() >= 0 and out.max() <= 255


# -- the layer contract -------------------------------------------------------------------------


def test_inference_is_untouched_and_labels_pass_through():
    x, y = _images(), np.eye(3, dtype="float32")
    for policy in _both(seed=0):
        np.testing.assert_array_equal(policy(x, training=False).numpy(), x)
        out = policy({"images": x, "labels": y})
        np.testing.assert_array_equal(out["labels"].numpy(), y)
        assert out["images"].shape == x.shape


def test_segmentation_masks_are_refused():
    with pytest.raises(NotImplementedError, match="does not transform 'segmentation_masks'"):
        layers.RandAugment()({"images": _images(), "segmentation_masks": np.zeros((3, 8, 8, 1))})


def test_unbatched_images_and_float32_outputs():
    for policy in _both(seed=1):
        single = policy(_images((8, 8, 3)).astype("uint8"), training=True)
        assert single.shape == (8, 8, 3) and single.dtype == np.float32


def test_seeded_policies_reproduce_and_set_seed_reproduces_unseeded_ones():
    x = _images()
    for first, second in zip(_both(seed=7), _both(seed=7)):
        for _ in range(3):
            a, b = first(x, training=True).numpy(), second(x, training=True).numpy()
            np.testing.assert_array_equal(a, b)
    runs = []
    for _ in range(2):
        backend.set_seed(5)
        runs.append([policy(x, training=True).numpy() for policy in _both()])
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b)


def test_get_config_round_trips_and_the_archive_reloads(tmp_path):
    for policy in _both(seed=2):
        config = policy.get_config()
        assert type(policy).from_config(config).get_config() == config
    model = Sequential([layers.Input(shape=(8, 8, 3)), *_both(seed=1), layers.Flatten()])
    model.save(tmp_path / "m.keras")
    loaded = load_model(tmp_path / "m.keras")
    assert loaded.get_config() == model.get_config()
    x = _images((2, 8, 8, 3))
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_policies_train_inside_a_model():
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (8, 8, 8, 3)).astype("float32")
    y = rng.integers(0, 2, 8)
    model = Sequential(
        [
            layers.Input(shape=(8, 8, 3)),
            *_both(),
            layers.Rescaling(1 / 255),
            layers.Flatten(),
            layers.Dense(2, activation="softmax"),
        ]
    )
    model.compile("sgd", "sparse_categorical_crossentropy")
    history = model.fit(x, y, batch_size=4, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: layers.RandAugment(num_ops=-1), "argument `num_ops`.*>= 0.*num_ops=-1"),
        (lambda: layers.RandAugment(num_ops=1.5), "argument `num_ops`"),
        (lambda: layers.RandAugment(factor=1.2), "`factor`.*factor=1.2"),
        (lambda: layers.RandAugment(value_range=(0,)), "argument `value_range`"),
        (lambda: layers.RandAugment(interpolation="cubic"), "argument `interpolation`"),
        (lambda: layers.AugMix(num_chains=0), "argument `num_chains`.*>= 1"),
        (lambda: layers.AugMix(chain_depth=-2), "argument `chain_depth`"),
        (lambda: layers.AugMix(alpha=0), "argument `alpha`.*> 0"),
        (lambda: layers.AugMix(all_ops="yes"), "argument `all_ops`"),
    ],
)
def test_invalid_arguments_name_the_argument(make, match):
    with pytest.raises(ValueError, match=match):
        make()
