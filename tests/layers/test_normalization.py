"""BatchNormalization: weights, moving statistics, training vs inference, freezing, errors.

The lifecycle (shapes, config, one SGD step) is in ``test_layers.py``'s LAYER_CASES.
"""

import numpy as np
import pytest

from cnnkit import layers
from cnnkit.layers import BatchNormalization, Input
from cnnkit.models import Model


def reference(x, mean, var, gamma, beta, epsilon=1e-3):
    """``gamma * (x - mean) / sqrt(var + epsilon) + beta`` in float64, channels last."""
    x = x.astype(np.float64)
    return gamma * (x - mean) / np.sqrt(var + epsilon) + beta


def _data(shape=(6, 4, 4, 3), seed=0):
    rng = np.random.default_rng(seed)
    return (2.0 + 3.0 * rng.standard_normal(shape)).astype("float32")


def test_weights_follow_keras_names_order_and_trainability():
    layer = BatchNormalization()
    layer(np.zeros((2, 5), "float32"))
    assert [w.name for w in layer.weights] == ["gamma", "beta", "moving_mean", "moving_variance"]
    assert [w.name for w in layer.trainable_weights] == ["gamma", "beta"]
    assert [w.name for w in layer.non_trainable_weights] == ["moving_mean", "moving_variance"]
    gamma, beta, mean, var = layer.get_weights()
    assert all(w.shape == (5,) and w.dtype == np.float32 for w in (gamma, beta, mean, var))
    np.testing.assert_array_equal(gamma, 1.0)
    np.testing.assert_array_equal(beta, 0.0)
    np.testing.assert_array_equal(mean, 0.0)
    np.testing.assert_array_equal(var, 1.0)

    plain = BatchNormalization(axis=1, center=False)
    plain(np.zeros((2, 5, 7), "float32"))
    assert [w.name for w in plain.weights] == ["gamma", "moving_mean", "moving_variance"]
    assert plain.weights[0].shape == (5,)


def test_training_call_updates_moving_statistics_with_momentum():
    x = _data()
    layer = BatchNormalization(momentum=0.8)
    out = np.asarray(layer(x, training=True))
    x64 = x.astype(np.float64)
    mean, var = x64.mean(axis=(0, 1, 2)), x64.var(axis=(0, 1, 2))  # biased, as Keras
    np.testing.assert_allclose(out, reference(x, mean, var, 1.0, 0.0), rtol=1e-4, atol=1e-5)
    moving_mean = 0.8 * 0.0 + 0.2 * mean
    moving_var = 0.8 * 1.0 + 0.2 * var
    np.testing.assert_allclose(layer.moving_mean.numpy(), moving_mean, rtol=1e-5)
    np.testing.assert_allclose(layer.moving_variance.numpy(), moving_var, rtol=1e-5)

    y = _data(seed=1)
    layer(y, training=True)
    y64 = y.astype(np.float64)
    moving_mean = 0.8 * moving_mean + 0.2 * y64.mean(axis=(0, 1, 2))
    moving_var = 0.8 * moving_var + 0.2 * y64.var(axis=(0, 1, 2))
    np.testing.assert_allclose(layer.moving_mean.numpy(), moving_mean, rtol=1e-5)
    np.testing.assert_allclose(layer.moving_variance.numpy(), moving_var, rtol=1e-5)


def test_inference_uses_the_moving_statistics_and_leaves_them_alone():
    i = Input(shape=(4, 4, 3))
    bn = BatchNormalization(epsilon=1e-2)
    model = Model(i, bn(i))
    gamma, beta, mean = (np.array(v, "float32") for v in ([1.5, 0.5, 2], [0, 1, -1], [1, 2, 3]))
    var = np.array([0.5, 4.0, 9.0], "float32")
    bn.set_weights([gamma, beta, mean, var])
    x = _data()
    out = model.predict(x, verbose=0)
    np.testing.assert_allclose(out, reference(x, mean, var, gamma, beta, 1e-2), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(bn(x)), out, rtol=1e-6)  # training defaults to False
    for got, want in zip(bn.get_weights(), (gamma, beta, mean, var)):
        np.testing.assert_array_equal(got, want)


def test_fit_updates_moving_statistics_and_evaluate_does_not():
    i = Input(shape=(3,))
    bn = BatchNormalization()
    model = Model(i, layers.Dense(1)(bn(i)))
    model.compile(optimizer="sgd", loss="mse")
    x, y = _data((16, 3)), np.zeros((16, 1), "float32")
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    np.testing.assert_allclose(bn.moving_mean.numpy(), 0.01 * x.mean(axis=0), rtol=1e-4)
    np.testing.assert_allclose(bn.moving_variance.numpy(), 0.99 + 0.01 * x.var(axis=0), rtol=1e-5)
    before = bn.get_weights()
    model.evaluate(x, y, verbose=0)
    for got, want in zip(bn.get_weights(), before):
        np.testing.assert_array_equal(got, want)


def test_summary_counts_moving_statistics_as_non_trainable():
    i = Input(shape=(8, 8, 3))
    model = Model(i, BatchNormalization()(layers.Conv2D(4, 3)(i)))
    lines = []
    model.summary(print_fn=lines.append)
    assert " Trainable params: 120 (480.00 B)" in lines  # conv 3*3*3*4 + 4, gamma 4, beta 4
    assert " Non-trainable params: 8 (32.00 B)" in lines  # moving mean 4, moving variance 4
    assert " Total params: 128 (512.00 B)" in lines


def test_frozen_layer_runs_in_inference_mode_and_does_not_change():
    i = Input(shape=(3,))
    dense = layers.Dense(3)
    bn = BatchNormalization()
    model = Model(i, bn(dense(i)))
    bn.set_weights([np.full(3, 2.0), np.full(3, 0.5), np.full(3, 0.1), np.full(3, 4.0)])
    bn.trainable = False
    assert bn.trainable_weights == []
    names = ["gamma", "beta", "moving_mean", "moving_variance"]
    assert [w.name for w in bn.non_trainable_weights] == names
    x = _data((8, 3))
    np.testing.assert_array_equal(np.asarray(bn(x, training=True)), np.asarray(bn(x)))

    model.compile(optimizer="sgd", loss="mse")
    frozen = bn.get_weights()
    kernel = dense.get_weights()[0]
    model.train_on_batch(x, np.ones((8, 3), "float32"))
    for got, want in zip(bn.get_weights(), frozen):
        np.testing.assert_array_equal(got, want)
    assert not np.allclose(dense.get_weights()[0], kernel)  # the rest of the model trains
    assert bn.gamma.grad is None and bn.beta.grad is None


def test_regularizers_add_penalties():
    layer = BatchNormalization(gamma_regularizer=lambda w: (w * w).sum() * 0.5)
    layer(np.zeros((2, 4), "float32"))
    (penalty,) = layer.losses
    assert float(penalty.data) == pytest.approx(2.0)


def test_config_round_trip():
    layer = BatchNormalization(
        axis=1, momentum=0.9, epsilon=1e-5, center=False, gamma_initializer="zeros", name="bn"
    )
    config = layer.get_config()
    assert set(config) == {
        "name",
        "trainable",
        "dtype",
        "axis",
        "momentum",
        "epsilon",
        "center",
        "scale",
        "beta_initializer",
        "gamma_initializer",
        "moving_mean_initializer",
        "moving_variance_initializer",
        "beta_regularizer",
        "gamma_regularizer",
        "beta_constraint",
        "gamma_constraint",
        "synchronized",
    }
    assert (config["axis"], config["momentum"], config["epsilon"]) == (1, 0.9, 1e-5)
    assert config["gamma_initializer"]["class_name"] == "Zeros"
    clone = BatchNormalization.from_config(config)
    assert clone.get_config() == config
    clone(np.ones((2, 3, 4), "float32"))
    np.testing.assert_array_equal(clone.gamma.numpy(), 0.0)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"momentum": 1.0}, ValueError, r"`momentum`.*\[0, 1\).*Received: momentum=1.0"),
        ({"momentum": -0.1}, ValueError, r"`momentum`.*Received: momentum=-0.1"),
        ({"momentum": "high"}, ValueError, r"`momentum`.*Received: momentum='high'"),
        ({"epsilon": 0}, ValueError, r"`epsilon`.*strictly positive.*Received: epsilon=0"),
        ({"epsilon": -1e-3}, ValueError, r"Received: epsilon=-0.001"),
        (
            {"synchronized": "yes"},
            TypeError,
            r"Expected True or False. Received: synchronized='yes'",
        ),
        ({"axis": [1, 2]}, NotImplementedError, r"single axis.*Received: axis=\[1, 2\]"),
        ({"axis": "last"}, TypeError, r"`axis` must be an int"),
        ({"gamma_constraint": 3}, ValueError, r"Could not interpret constraint identifier: 3"),
        ({"mom": 0.9}, TypeError, r"Unrecognized keyword arguments passed to BatchNormalization"),
    ],
)
def test_constructor_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        BatchNormalization(**kwargs)


def test_build_errors_name_the_layer():
    with pytest.raises(ValueError, match=r'`axis` of layer "bn_a".*rank 2.*Received: axis=2'):
        BatchNormalization(axis=2, name="bn_a")(np.zeros((2, 3), "float32"))
    with pytest.raises(ValueError, match=r'Axis -1 of the input of layer "bn_b".*defined size'):
        BatchNormalization(name="bn_b")(Input(shape=(4, None)))
    layer = BatchNormalization(name="bn_c")
    layer(np.zeros((2, 3), "float32"))
    with pytest.raises(ValueError, match=r'"bn_c".*axis -1.*value 3'):
        layer(np.zeros((2, 5), "float32"))


@pytest.mark.torch
def test_moving_statistics_against_torch_running_statistics():
    """torch updates ``running_var`` with the UNBIASED batch variance (M / (M - 1) times the
    biased one), Keras (and cnnkit) with the biased variance; the means agree exactly."""
    torch = pytest.importorskip("torch")
    x = _data((4, 3, 3, 2))
    m = x.shape[0] * x.shape[1] * x.shape[2]  # values per channel
    layer = BatchNormalization(momentum=0.9)
    out = np.asarray(layer(x, training=True))

    running_mean, running_var = torch.zeros(2), torch.ones(2)
    tout = torch.nn.functional.batch_norm(
        torch.tensor(np.moveaxis(x, -1, 1).copy()),
        running_mean,
        running_var,
        training=True,
        momentum=0.1,  # torch's momentum is the weight of the new value: 1 - Keras's
        eps=1e-3,
    )
    np.testing.assert_allclose(out, np.moveaxis(tout.numpy(), 1, -1), atol=1e-5)
    np.testing.assert_allclose(layer.moving_mean.numpy(), running_mean.numpy(), rtol=1e-5)
    # remove torch's Bessel correction before comparing the variances
    torch_biased = 0.9 * 1.0 + (running_var.numpy() - 0.9 * 1.0) * (m - 1) / m
    np.testing.assert_allclose(layer.moving_variance.numpy(), torch_biased, rtol=1e-5)
    assert not np.allclose(layer.moving_variance.numpy(), running_var.numpy(), rtol=1e-5)
