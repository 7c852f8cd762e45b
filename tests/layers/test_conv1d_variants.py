"""Conv1DTranspose, DepthwiseConv1D, SeparableConv1D: Keras 3 values on shared weights."""

import numpy as np
import pytest

from cnnkit import layers as L
from tests.harness import gradcheck, run_layer_test

RNG = np.random.default_rng(0)

CASES = [
    (
        "Conv1DTranspose",
        {"filters": 4, "kernel_size": 3, "strides": 2, "padding": "same"},
        (2, 5, 3),
    ),
    (
        "Conv1DTranspose",
        {"filters": 4, "kernel_size": 3, "strides": 3, "output_padding": 1},
        (2, 5, 3),
    ),
    (
        "Conv1DTranspose",
        {"filters": 2, "kernel_size": 2, "dilation_rate": 2, "activation": "relu"},
        (2, 5, 3),
    ),
    ("DepthwiseConv1D", {"kernel_size": 3, "depth_multiplier": 2}, (2, 7, 3)),
    ("DepthwiseConv1D", {"kernel_size": 3, "strides": 2, "padding": "same"}, (2, 7, 3)),
    (
        "SeparableConv1D",
        {"filters": 4, "kernel_size": 3, "depth_multiplier": 2, "padding": "same"},
        (2, 7, 3),
    ),
    ("SeparableConv1D", {"filters": 4, "kernel_size": 2, "dilation_rate": 2}, (2, 7, 3)),
]
INITIALIZERS = ("kernel_initializer", "depthwise_initializer", "pointwise_initializer")


@pytest.mark.parametrize("name, kwargs, shape", CASES)
def test_matches_keras_on_the_same_weights(name, kwargs, shape):
    keras = pytest.importorskip("keras")
    x = RNG.standard_normal(shape).astype("float32")
    ours, theirs = getattr(L, name)(**kwargs), getattr(keras.layers, name)(**kwargs)
    theirs.build(shape)
    ours.build(shape)
    weights = [
        w + 0.1 * RNG.standard_normal(w.shape).astype("float32") for w in theirs.get_weights()
    ]
    assert [w.shape for w in ours.get_weights()] == [w.shape for w in weights]
    theirs.set_weights(weights)
    ours.set_weights(weights)
    expected = keras.ops.convert_to_numpy(theirs(x))
    np.testing.assert_allclose(ours(x).numpy(), expected, rtol=1e-5, atol=1e-5)
    drop = ("name", "dtype", *INITIALIZERS)
    mine = {k: v for k, v in ours.get_config().items() if k not in drop}
    assert mine == {k: v for k, v in theirs.get_config().items() if k not in drop}


@pytest.mark.parametrize("name, kwargs, shape", CASES)
def test_lifecycle_and_training_step(name, kwargs, shape):
    run_layer_test(getattr(L, name), kwargs, shape)


@pytest.mark.parametrize(
    "make",
    [
        lambda: L.Conv1DTranspose(2, 3, strides=2, padding="same"),
        lambda: L.DepthwiseConv1D(2, depth_multiplier=2),
        lambda: L.SeparableConv1D(2, 2, padding="same"),
    ],
)
def test_gradients_in_float64(make):
    from cnnkit import backend

    with backend.floatx_scope("float64"):
        layer = make()
        layer.build((1, 4, 2))
        weights = [RNG.standard_normal(w.shape) for w in layer.get_weights()]
        layer.set_weights(weights)
    gradcheck(lambda t: layer(t), RNG.standard_normal((1, 4, 2)))


@pytest.mark.parametrize(
    "make, pattern",
    [
        (lambda: L.Conv1DTranspose(2, 3, strides=2, output_padding=2), "must be < `strides`"),
        (lambda: L.Conv1DTranspose(0, 3), "filters"),
        (lambda: L.DepthwiseConv1D(3, padding="causal"), "`padding`"),
        (lambda: L.SeparableConv1D(2, (3, 3)), "kernel_size"),
        (lambda: L.DepthwiseConv1D(3, strides=2, dilation_rate=2), "strides"),
    ],
)
def test_bad_arguments(make, pattern):
    with pytest.raises(ValueError, match=pattern):
        make()


def test_bad_input_rank():
    with pytest.raises(ValueError, match="expected ndim=3"):
        L.SeparableConv1D(2, 3)(np.zeros((1, 4, 4, 2)))
