"""Normalization: statistics from arguments or adapt, invert, saving, and Keras 3 fidelity."""

import numpy as np
import pytest

import cnnkit
from cnnkit.layers import Dense, Input, Normalization
from cnnkit.models import Model, Sequential, load_model
from tests.harness import run_layer_test

RNG = np.random.default_rng(0)
X = (RNG.standard_normal((8, 3, 4)) * 3 + 1).astype("float32")


def _reference(x, axis, invert=False):
    keep = tuple(a % x.ndim for a in axis)
    reduce = tuple(d for d in range(x.ndim) if d not in keep)
    mean = x.astype(np.float64).mean(axis=reduce, keepdims=True)
    std = np.maximum(np.sqrt(x.astype(np.float64).var(axis=reduce, keepdims=True)), 1e-7)
    return (x * std + mean) if invert else (x - mean) / std


@pytest.mark.parametrize("axis", [-1, None, (1, 2), 1])
def test_adapt_then_call_normalizes_per_kept_axis(axis):
    layer = Normalization(axis=axis)
    layer.adapt(X)
    keep = () if axis is None else ((axis,) if isinstance(axis, int) else axis)
    np.testing.assert_allclose(layer(X).numpy(), _reference(X, keep), rtol=1e-5, atol=1e-5)
    assert [w.shape for w in layer.get_weights()] == [
        tuple(X.shape[a] for a in sorted(a % 3 for a in keep)),
    ] * 2 + [()]


def test_invert_undoes_normalization():
    forward, inverse = Normalization(), Normalization(invert=True)
    forward.adapt(X)
    inverse.adapt(X)
    np.testing.assert_allclose(inverse(forward(X)).numpy(), X, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(inverse(X).numpy(), _reference(X, (-1,), invert=True), rtol=1e-5)


def test_adapt_on_batches_equals_adapt_on_the_whole_array():
    whole, batched = Normalization(axis=(1, 2)), Normalization(axis=(1, 2))
    generated = Normalization()
    whole.adapt(X)
    batched.adapt([X[:3], X[3:5], X[5:]])
    for a, b in zip(whole.get_weights()[:2], batched.get_weights()[:2]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    generated.adapt((X[i : i + 2], np.zeros(2)) for i in range(0, 8, 2))  # (x, y) batches
    reference = X.reshape(-1, 4).astype(np.float64)
    np.testing.assert_allclose(generated.get_weights()[0], reference.mean(0), rtol=1e-5)
    np.testing.assert_allclose(generated.get_weights()[1], reference.var(0), rtol=1e-5)


def test_given_mean_and_variance_broadcast_and_create_no_weights():
    layer = Normalization(axis=(1, 2), mean=[1.0, 2.0, 3.0, 4.0], variance=[1.0, 4.0, 9.0, 16.0])
    expected = (X - np.array([1, 2, 3, 4])) / np.array([1, 2, 3, 4])
    np.testing.assert_allclose(layer(X).numpy(), expected, rtol=1e-6)
    assert layer.weights == []
    scalar = Normalization(mean=2.0, variance=0.0)  # std clipped at epsilon
    np.testing.assert_allclose(scalar(np.array([[2.0]])).numpy(), [[0.0]])


def test_lifecycle_and_gradient_flows_through():
    run_layer_test(Normalization, {"mean": 1.0, "variance": 4.0}, (2, 3))
    layer = run_layer_test(Normalization, {"axis": None}, (2, 3), trains=False)
    assert len(layer.non_trainable_weights) == 3 and layer.trainable_weights == []
    model = Sequential([Input((4,)), Normalization(mean=0.5, variance=4.0), Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    before = model.get_weights()[0].copy()
    model.fit(X[:, 0], np.ones((8, 1)), epochs=1, verbose=0)
    assert not np.allclose(model.get_weights()[0], before)


def test_adapted_statistics_survive_keras_archive(tmp_path):
    inputs = Input((3, 4))
    norm = Normalization(axis=(1, 2))
    norm.adapt(X)
    model = Model(inputs, norm(inputs))
    model.save(tmp_path / "m.keras")
    loaded = load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(loaded.predict(X, verbose=0), model.predict(X, verbose=0))
    config = Normalization(axis=[1, 2], invert=True).get_config()
    assert config["axis"] == (1, 2) and config["mean"] is None
    assert Normalization.from_config(config).get_config() == config


@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        ({"mean": 1.0}, "both `mean` and `variance` must be set"),
        ({"mean": [1.0, 2.0], "variance": [1.0]}, "must have the same shape"),
        ({"axis": None, "mean": [1.0], "variance": [1.0]}, "rank of `mean`"),
        ({"axis": "x"}, "Invalid value for argument `axis`"),
    ],
)
def test_bad_arguments(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        Normalization(**kwargs)


def test_bad_adapt_data():
    layer = Normalization(axis=3)
    with pytest.raises(ValueError, match=r"in the range \[-ndim, ndim\)"):
        layer.adapt(X)
    layer = Normalization()
    layer.adapt(X)
    with pytest.raises(ValueError, match="incompatible shape"):
        layer.adapt(np.zeros((2, 3, 5)))
    with pytest.raises(ValueError, match="empty iterable"):
        Normalization().adapt([])
    with pytest.raises(TypeError, match="Unsupported data type"):
        Normalization().adapt(3.0)
    with pytest.raises(ValueError, match="cannot be used"):
        Normalization(mean=1.0, variance=1.0).adapt(X)


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"axis": None}, {"axis": (1, 2)}, {"axis": 1, "invert": True}],
)
def test_matches_keras_after_adapt_and_with_set_weights(kwargs):
    keras = pytest.importorskip("keras")
    ours, theirs = Normalization(**kwargs), keras.layers.Normalization(**kwargs)
    ours.adapt(X)
    theirs.adapt(X)
    expected = keras.ops.convert_to_numpy(theirs(X))
    np.testing.assert_allclose(ours(X).numpy(), expected, rtol=1e-5, atol=1e-5)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        assert a.dtype == b.dtype
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    fresh = Normalization(**kwargs)
    fresh.build(X.shape)
    fresh.set_weights(theirs.get_weights())
    np.testing.assert_allclose(fresh(X).numpy(), expected, rtol=1e-5, atol=1e-5)
    assert cnnkit.layers.Normalization.from_config(theirs.get_config() | {"dtype": "float32"})


def test_matches_keras_with_given_statistics():
    keras = pytest.importorskip("keras")
    kwargs = {"axis": (1, 2), "mean": [[1.0], [2.0], [3.0]], "variance": [[1.0], [2.0], [3.0]]}
    expected = keras.ops.convert_to_numpy(keras.layers.Normalization(**kwargs)(X))
    np.testing.assert_allclose(Normalization(**kwargs)(X).numpy(), expected, rtol=1e-6)
