"""Conv3D and Conv3DTranspose: Keras 3 values on shared weights, gradients, lifecycle."""

import numpy as np
import pytest

from cnnkit import backend
from cnnkit import layers as L
from tests.harness import gradcheck, run_layer_test

RNG = np.random.default_rng(0)

CONV3D = [
    {"filters": 4, "kernel_size": 3},
    {"filters": 4, "kernel_size": (2, 3, 2), "strides": (2, 1, 2), "padding": "same"},
    {
        "filters": 3,
        "kernel_size": 2,
        "dilation_rate": (2, 1, 2),
        "padding": "same",
        "activation": "relu",
    },
    {"filters": 2, "kernel_size": (3, 1, 2), "strides": (2, 2, 1)},
]
CONV3D_TRANSPOSE = [
    {"filters": 4, "kernel_size": 3},
    {"filters": 4, "kernel_size": (2, 3, 2), "strides": (2, 1, 2), "padding": "same"},
    {"filters": 3, "kernel_size": 2, "dilation_rate": (2, 1, 2), "padding": "same"},
    {"filters": 2, "kernel_size": 3, "strides": (3, 2, 2), "output_padding": (1, 1, 0)},
    {"filters": 2, "kernel_size": (3, 2, 2), "strides": 2, "padding": "same", "output_padding": 1},
]
CASES = [("Conv3D", kw, (2, 5, 6, 5, 3)) for kw in CONV3D] + [
    ("Conv3DTranspose", kw, (2, 3, 4, 3, 3)) for kw in CONV3D_TRANSPOSE
]


@pytest.mark.parametrize("name, kwargs, shape", CASES)
def test_matches_keras_on_the_same_weights(name, kwargs, shape):
    keras = pytest.importorskip("keras")
    x = RNG.standard_normal(shape).astype("float32")
    ours, theirs = getattr(L, name)(**kwargs), getattr(keras.layers, name)(**kwargs)
    ours.build(shape)
    theirs.build(shape)
    weights = [
        w + 0.1 * RNG.standard_normal(w.shape).astype("float32") for w in theirs.get_weights()
    ]
    assert [w.shape for w in ours.get_weights()] == [w.shape for w in weights]
    ours.set_weights(weights)
    theirs.set_weights(weights)
    expected = keras.ops.convert_to_numpy(theirs(x))
    out = ours(x).numpy()
    assert out.shape == ours.compute_output_shape(shape)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)
    drop = ("name", "dtype", "kernel_initializer")
    mine = {k: v for k, v in ours.get_config().items() if k not in drop}
    assert mine == {k: v for k, v in theirs.get_config().items() if k not in drop}


@pytest.mark.parametrize(
    "name, kwargs",
    [
        ("Conv3D", {"filters": 2, "kernel_size": 2, "padding": "same"}),
        ("Conv3DTranspose", {"filters": 2, "kernel_size": 2, "strides": 2}),
    ],
)
def test_lifecycle_and_training_step(name, kwargs):
    run_layer_test(getattr(L, name), kwargs, (2, 3, 3, 3, 2))


@pytest.mark.parametrize(
    "make",
    [
        lambda: L.Conv3D(2, (2, 2, 1), strides=(2, 1, 1), padding="same"),
        lambda: L.Conv3D(1, 2, dilation_rate=(2, 1, 1)),
        lambda: L.Conv3DTranspose(2, 2, strides=(2, 1, 2), padding="same"),
        lambda: L.Conv3DTranspose(1, (3, 2, 2), strides=(2, 1, 1), output_padding=(1, 0, 0)),
    ],
)
def test_gradients_in_float64(make):
    with backend.floatx_scope("float64"):
        layer = make()
        layer.build((1, 3, 3, 2, 2))
        layer.set_weights([RNG.standard_normal(w.shape) for w in layer.get_weights()])
    gradcheck(lambda t: layer(t), RNG.standard_normal((1, 3, 3, 2, 2)))


def test_conv3d_against_a_loop():
    x = RNG.standard_normal((1, 4, 3, 3, 2))
    layer = L.Conv3D(2, (2, 2, 2), strides=(2, 1, 1))
    out = layer(x.astype("float32")).numpy()
    kernel, bias = layer.get_weights()
    expected = np.zeros((1, 2, 2, 2, 2))
    for d in range(2):
        for h in range(2):
            for w in range(2):
                box = x[0, 2 * d : 2 * d + 2, h : h + 2, w : w + 2]
                expected[0, d, h, w] = np.tensordot(box, kernel, axes=4) + bias
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "make, error, pattern",
    [
        (lambda: L.Conv3D(0, 3), ValueError, "filters"),
        (lambda: L.Conv3D(2, (3, 3)), ValueError, "kernel_size"),
        (lambda: L.Conv3D(2, 3, strides=2, dilation_rate=2), ValueError, "dilation_rate"),
        (lambda: L.Conv3D(2, 3, groups=2), NotImplementedError, "groups=1"),
        (lambda: L.Conv3DTranspose(2, 3, strides=2, output_padding=2), ValueError, "< `strides`"),
        (lambda: L.Conv3DTranspose(2, 3, padding="causal"), ValueError, "`padding`"),
    ],
)
def test_bad_arguments(make, error, pattern):
    with pytest.raises(error, match=pattern):
        make()


def test_bad_inputs():
    with pytest.raises(ValueError, match="too small for kernel size"):
        L.Conv3D(2, 3)(np.zeros((1, 2, 5, 5, 1)))
    with pytest.raises(ValueError, match="expected ndim=5"):
        L.Conv3DTranspose(2, 3)(np.zeros((1, 5, 5, 1)))
