"""3-D pooling, 1-D/3-D cropping, padding, up-sampling and spatial dropout, against Keras 3."""

import numpy as np
import pytest

from cnnkit import layers as L
from tests.harness import gradcheck, run_layer_test

RNG = np.random.default_rng(0)

CASES = [
    ("MaxPooling3D", {"pool_size": 2}, (2, 5, 6, 7, 3)),
    (
        "MaxPooling3D",
        {"pool_size": (2, 3, 2), "strides": (1, 2, 3), "padding": "same"},
        (2, 5, 6, 7, 3),
    ),
    ("AveragePooling3D", {"pool_size": 2}, (2, 5, 6, 7, 3)),
    ("AveragePooling3D", {"pool_size": 3, "strides": 1, "padding": "same"}, (2, 4, 5, 3, 2)),
    ("GlobalMaxPooling3D", {"keepdims": True}, (2, 3, 4, 5, 3)),
    ("GlobalAveragePooling3D", {}, (2, 3, 4, 5, 3)),
    ("Cropping1D", {"cropping": (1, 2)}, (2, 6, 3)),
    ("Cropping3D", {"cropping": ((1, 0), (0, 2), 1)}, (2, 4, 5, 6, 3)),
    ("ZeroPadding1D", {"padding": (2, 1)}, (2, 4, 3)),
    ("ZeroPadding3D", {"padding": ((1, 0), (0, 2), 1)}, (2, 2, 3, 4, 3)),
    ("ZeroPadding3D", {"padding": (1, 2, 0)}, (2, 2, 3, 4, 3)),
    ("UpSampling1D", {"size": 3}, (2, 4, 3)),
    ("UpSampling3D", {"size": (2, 1, 3)}, (2, 2, 3, 4, 3)),
]


@pytest.mark.parametrize("name, kwargs, shape", CASES)
def test_matches_keras_values_and_config(name, kwargs, shape):
    keras = pytest.importorskip("keras")
    x = RNG.standard_normal(shape).astype("float32")
    ours, theirs = getattr(L, name)(**kwargs), getattr(keras.layers, name)(**kwargs)
    expected = keras.ops.convert_to_numpy(theirs(x))
    np.testing.assert_allclose(ours(x).numpy(), expected, rtol=1e-6, atol=1e-6)
    drop = ("name", "dtype", "trainable")
    mine = {k: v for k, v in ours.get_config().items() if k not in drop}
    assert mine == {k: v for k, v in theirs.get_config().items() if k not in drop}


@pytest.mark.parametrize("name, kwargs, shape", CASES)
def test_lifecycle(name, kwargs, shape):
    run_layer_test(getattr(L, name), kwargs, shape)


def _reference_pool3d(x, pool, strides, reduce):
    """A loop over output voxels, 'valid' padding."""
    n, d, h, w, c = x.shape
    out_shape = [(size - p) // s + 1 for size, p, s in zip((d, h, w), pool, strides)]
    out = np.zeros((n, *out_shape, c))
    for i in range(out_shape[0]):
        for j in range(out_shape[1]):
            for k in range(out_shape[2]):
                box = x[
                    :,
                    i * strides[0] : i * strides[0] + pool[0],
                    j * strides[1] : j * strides[1] + pool[1],
                    k * strides[2] : k * strides[2] + pool[2],
                ]
                out[:, i, j, k] = reduce(box, axis=(1, 2, 3))
    return out


@pytest.mark.parametrize("cls, reduce", [(L.MaxPooling3D, np.max), (L.AveragePooling3D, np.mean)])
def test_pooling3d_against_a_loop_and_gradients(cls, reduce):
    x = RNG.standard_normal((2, 5, 4, 6, 2)).astype("float32")
    out = cls((2, 3, 2), strides=(1, 1, 2))(x).numpy()
    np.testing.assert_allclose(out, _reference_pool3d(x, (2, 3, 2), (1, 1, 2), reduce), rtol=1e-5)
    layer = cls((2, 2, 2), strides=1, padding="same")
    gradcheck(lambda t: layer(t), RNG.standard_normal((1, 3, 3, 2, 2)))


def test_uneven_same_average_leaves_padding_out():
    x = RNG.standard_normal((1, 2, 2, 2, 1)).astype("float32")
    out = L.AveragePooling3D(2, strides=1, padding="same")(x).numpy()
    # the last voxel's window holds only itself; the first holds the whole volume
    np.testing.assert_allclose(out[0, -1, -1, -1, 0], x[0, -1, -1, -1, 0], rtol=1e-6)
    np.testing.assert_allclose(out[0, 0, 0, 0, 0], x.mean(), rtol=1e-5)


@pytest.mark.parametrize(
    "make, shape",
    [
        (lambda: L.ZeroPadding3D(((1, 0), (0, 2), 1)), (1, 2, 2, 2, 1)),
        (lambda: L.Cropping3D(((1, 0), (0, 1), 1)), (1, 3, 3, 3, 1)),
        (lambda: L.UpSampling3D((2, 1, 2)), (1, 2, 2, 2, 1)),
        (lambda: L.UpSampling1D(2), (1, 3, 2)),
        (lambda: L.ZeroPadding1D((0, 2)), (1, 3, 2)),
        (lambda: L.GlobalAveragePooling3D(), (1, 2, 2, 2, 2)),
    ],
)
def test_gradients(make, shape):
    layer = make()
    gradcheck(lambda t: layer(t), RNG.standard_normal(shape))


def test_spatial_dropout_drops_whole_channels_only_in_training():
    x = np.ones((4, 5, 6), "float32")
    out = L.SpatialDropout1D(0.5, seed=3)(x, training=True).numpy()
    assert np.all(out.std(axis=1) == 0) and set(np.unique(out)) <= {0.0, 2.0}
    assert 0 < (out == 0).mean() < 1
    np.testing.assert_array_equal(L.SpatialDropout1D(0.5)(x).numpy(), x)
    volume = np.ones((3, 2, 3, 2, 8), "float32")
    out = L.SpatialDropout3D(0.5, seed=3)(volume, training=True).numpy()
    assert np.all(out.std(axis=(1, 2, 3)) == 0) and 0 < (out == 0).mean() < 1
    np.testing.assert_array_equal(L.SpatialDropout3D(0.5)(volume).numpy(), volume)
    assert "data_format" not in L.SpatialDropout1D(0.1).get_config()
    run_layer_test(L.SpatialDropout3D, {"rate": 0.2, "seed": 1}, (2, 2, 2, 2, 3))


@pytest.mark.parametrize(
    "make, error, pattern",
    [
        (lambda: L.Cropping1D(-1), ValueError, "non-negative"),
        (lambda: L.Cropping3D((1, 2)), ValueError, "tuple of 3 ints"),
        (lambda: L.ZeroPadding3D(-1), ValueError, "cannot be negative"),
        (lambda: L.UpSampling1D(2.0), TypeError, "expects `size` to be an integer"),
        (lambda: L.UpSampling3D((1, 0, 1)), ValueError, "strictly positive"),
        (lambda: L.MaxPooling3D(0), ValueError, "strictly positive"),
        (lambda: L.AveragePooling3D(2, padding="full"), ValueError, "`padding`"),
        (lambda: L.SpatialDropout1D(1.5), ValueError, "between 0 and 1"),
    ],
)
def test_bad_arguments(make, error, pattern):
    with pytest.raises(error, match=pattern):
        make()


def test_bad_inputs():
    with pytest.raises(ValueError, match="must be smaller than the input length"):
        L.Cropping1D((2, 2))(np.zeros((1, 4, 1)))
    with pytest.raises(ValueError, match="smaller than the corresponding"):
        L.Cropping3D(1)(np.zeros((1, 2, 4, 4, 1)))
    with pytest.raises(ValueError, match="smaller than the pool"):
        L.MaxPooling3D(3)(np.zeros((1, 2, 4, 4, 1)))
    with pytest.raises(ValueError, match="expected ndim=5"):
        L.GlobalMaxPooling3D()(np.zeros((1, 4, 4, 1)))
