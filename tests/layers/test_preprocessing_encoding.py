"""CategoryEncoding, Discretization and CenterCrop: values, shapes, configs, Keras 3 fidelity."""

import numpy as np
import pytest

from cnnkit.layers import CategoryEncoding, CenterCrop, Discretization, Input
from cnnkit.models import Model, load_model
from tests.harness import run_layer_test

RNG = np.random.default_rng(0)
IDS = RNG.integers(0, 5, (6, 3))
VALUES = RNG.standard_normal((50, 4)).astype("float32")


# -- CategoryEncoding ---------------------------------------------------------------------
def test_category_encoding_against_numpy_counts():
    counts = np.stack([np.bincount(row, minlength=5) for row in IDS]).astype("float32")
    np.testing.assert_array_equal(CategoryEncoding(5, "count")(IDS).numpy(), counts)
    np.testing.assert_array_equal(CategoryEncoding(5)(IDS).numpy(), (counts > 0).astype("float32"))
    np.testing.assert_array_equal(
        CategoryEncoding(5, "one_hot")(IDS[:, 0]).numpy(), np.eye(5, dtype="float32")[IDS[:, 0]]
    )
    weights = RNG.random((6, 3)).astype("float32")
    expected = np.stack([np.bincount(r, w, minlength=5) for r, w in zip(IDS, weights)])
    out = CategoryEncoding(5, "count")(IDS, count_weights=weights).numpy()
    np.testing.assert_allclose(out, expected, rtol=1e-6)


def test_category_encoding_negative_ids_are_zero_rows_and_large_ids_fail():
    np.testing.assert_array_equal(
        CategoryEncoding(3, "one_hot")(np.array([-1, 2])).numpy(), [[0, 0, 0], [0, 0, 1]]
    )
    with pytest.raises(ValueError, match="every id must be < 3"):
        CategoryEncoding(3)(np.array([[0, 3]]))


def test_category_encoding_lifecycle_and_symbolic_model():
    layer = CategoryEncoding(num_tokens=4, output_mode="one_hot")
    config = layer.get_config()
    assert CategoryEncoding.from_config(config).get_config() == config
    inputs = Input((3,), dtype="int64")
    model = Model(inputs, CategoryEncoding(5, "count")(inputs))
    assert model.output_shape == (None, 5)
    np.testing.assert_array_equal(
        model.predict(IDS, verbose=0), CategoryEncoding(5, "count")(IDS).numpy()
    )


@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        ({}, "num_tokens must be set"),
        ({"num_tokens": 0}, "`num_tokens` must be >= 1"),
        ({"num_tokens": 3, "output_mode": "int"}, "Invalid value for argument `output_mode`"),
        ({"num_tokens": 3, "sparse": True}, "sparse=True"),
    ],
)
def test_category_encoding_bad_arguments(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        CategoryEncoding(**kwargs)


def test_category_encoding_count_weights_only_in_count_mode():
    with pytest.raises(ValueError, match="`count_weights` is not used"):
        CategoryEncoding(5)(IDS, count_weights=np.ones((6, 3)))


@pytest.mark.parametrize("mode", ["one_hot", "multi_hot", "count"])
@pytest.mark.parametrize("ids", [IDS, IDS[:, 0], IDS[:, :1]])
def test_category_encoding_matches_keras(mode, ids):
    keras = pytest.importorskip("keras")
    expected = keras.ops.convert_to_numpy(keras.layers.CategoryEncoding(5, mode)(ids))
    layer = CategoryEncoding(5, mode)
    out = layer(ids).numpy()
    assert out.dtype == expected.dtype and layer.compute_output_shape(ids.shape) == out.shape
    np.testing.assert_array_equal(out, expected)


# -- Discretization -----------------------------------------------------------------------
def test_discretization_buckets_as_np_digitize():
    bounds = [-1.0, 0.0, 0.5]
    out = Discretization(bin_boundaries=bounds)(VALUES).numpy()
    assert out.dtype == np.int32
    np.testing.assert_array_equal(out, np.digitize(VALUES, bounds))
    one_hot = Discretization(bin_boundaries=bounds, output_mode="one_hot")(VALUES[:, :1])
    np.testing.assert_array_equal(one_hot.numpy(), np.eye(4)[np.digitize(VALUES[:, 0], bounds)])


def test_discretization_adapt_learns_quantiles():
    layer = Discretization(num_bins=4, epsilon=0.001)
    layer.adapt(np.arange(1000, dtype="float32"))
    np.testing.assert_allclose(layer.bin_boundaries, [250, 500, 750], atol=1.5)
    batched = Discretization(num_bins=4, epsilon=0.001)
    batched.adapt(np.split(np.arange(1000, dtype="float32"), 4))
    np.testing.assert_allclose(batched.bin_boundaries, [250, 500, 750], atol=3)
    out = layer(np.array([[0.0, 260.0, 600.0, 999.0]])).numpy()
    np.testing.assert_array_equal(out, [[0, 1, 2, 3]])


def test_discretization_config_keeps_adapted_boundaries(tmp_path):
    layer = Discretization(num_bins=3)
    layer.adapt(VALUES)
    config = layer.get_config()
    clone = Discretization.from_config(config)
    assert clone.bin_boundaries == layer.bin_boundaries and clone.get_config() == config
    inputs = Input((4,))
    model = Model(inputs, layer(inputs))
    model.save(tmp_path / "m.keras")
    loaded = load_model(tmp_path / "m.keras")
    np.testing.assert_array_equal(loaded.predict(VALUES, verbose=0), layer(VALUES).numpy())
    run_layer_test(Discretization, {"bin_boundaries": [0.0, 1.0]}, (2, 3), trains=False)


@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        ({}, "either `num_bins` or `bin_boundaries`"),
        ({"num_bins": 2, "bin_boundaries": [0.0]}, "should not be set"),
        ({"num_bins": -1}, "greater than or equal to 0"),
        ({"num_bins": 2, "output_mode": "tf_idf"}, "`output_mode`"),
        ({"num_bins": 2, "sparse": True}, "sparse=True"),
    ],
)
def test_discretization_bad_arguments(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        Discretization(**kwargs)


def test_discretization_errors_on_use():
    with pytest.raises(ValueError, match="Cannot adapt"):
        Discretization(bin_boundaries=[0.0]).adapt(VALUES)
    with pytest.raises(ValueError, match="call `adapt"):
        Discretization(num_bins=3)(VALUES)


@pytest.mark.parametrize("num_bins, epsilon", [(4, 0.01), (7, 0.1), (3, 0.001)])
def test_discretization_matches_keras(num_bins, epsilon):
    keras = pytest.importorskip("keras")
    from keras.src.layers.preprocessing import discretization as kd

    # Keras's adapt needs TensorFlow to type-check its data; run its summary steps directly.
    batches = [VALUES[:20], VALUES[20:]]
    summary = np.zeros((2, 0), "float32")
    for batch in batches:
        summary = kd.merge_summaries(kd.summarize(batch, epsilon), summary, epsilon)
    expected_bounds = kd.get_bin_boundaries(summary, num_bins).tolist()
    ours = Discretization(num_bins=num_bins, epsilon=epsilon)
    ours.adapt(batches)
    assert ours.bin_boundaries == expected_bounds
    for mode in ["int", "one_hot", "multi_hot", "count"]:
        theirs = keras.layers.Discretization(bin_boundaries=expected_bounds, output_mode=mode)
        ours.output_mode = mode
        expected = keras.ops.convert_to_numpy(theirs(VALUES[:5]))
        out = ours(VALUES[:5]).numpy()
        assert out.dtype == expected.dtype
        np.testing.assert_array_equal(out, expected)


# -- CenterCrop ---------------------------------------------------------------------------
def test_center_crop_slices_the_middle_and_passes_gradients():
    x = RNG.standard_normal((2, 7, 6, 3)).astype("float32")
    np.testing.assert_array_equal(CenterCrop(3, 4)(x).numpy(), x[:, 2:5, 1:5])
    np.testing.assert_array_equal(CenterCrop(3, 4)(x[0]).numpy(), x[0, 2:5, 1:5])
    run_layer_test(CenterCrop, {"height": 2, "width": 3}, (2, 5, 5, 1), (2, 2, 3, 1))


def test_center_crop_bad_arguments():
    with pytest.raises(ValueError, match="Invalid value for argument `height`"):
        CenterCrop(0, 2)
    with pytest.raises(ValueError, match="rank 3 .* or 4"):
        CenterCrop(2, 2)(np.zeros((4, 4)))


@pytest.mark.parametrize(
    "shape, size",
    [((2, 7, 6, 3), (3, 4)), ((2, 5, 6, 3), (8, 7)), ((5, 6, 3), (4, 9)), ((2, 7, 6, 3), (9, 2))],
)
def test_center_crop_matches_keras(shape, size):
    keras = pytest.importorskip("keras")
    x = RNG.standard_normal(shape).astype("float32")
    expected = keras.ops.convert_to_numpy(keras.layers.CenterCrop(*size)(x))
    np.testing.assert_allclose(CenterCrop(*size)(x).numpy(), expected, atol=1e-5)
    images = RNG.integers(0, 255, (2, 6, 6, 3)).astype("uint8")
    expected = keras.ops.convert_to_numpy(keras.layers.CenterCrop(3, 3)(images))
    out = CenterCrop(3, 3)(images).numpy()
    assert out.dtype == expected.dtype
    np.testing.assert_array_equal(out, expected)
