"""cnnkit.losses: Keras 3's documented examples, reductions, sample weights, label smoothing,
ignore_class, the softmax-logits path, lookup by name, configs and error messages."""

from __future__ import annotations

import re

import numpy as np
import pytest

from cnnkit import activations, losses
from cnnkit.autodiff import Tensor, Variable

Y_SPARSE = np.array([1, 2])
Y_ONEHOT = np.array([[0, 1, 0], [0, 0, 1]])
P = np.array([[0.05, 0.95, 0.0], [0.1, 0.8, 0.1]], dtype=np.float32)


def _value(t):
    return np.asarray(t.numpy())


@pytest.mark.parametrize(
    "loss, kwargs, expected",
    [  # numbers from Keras 3's docstrings
        (losses.SparseCategoricalCrossentropy, {}, 1.177),
        (losses.SparseCategoricalCrossentropy, {"reduction": "sum"}, 2.354),
        (losses.CategoricalCrossentropy, {}, 1.177),
        (losses.CategoricalCrossentropy, {"reduction": "sum"}, 2.354),
    ],
)
def test_keras_docstring_examples(loss, kwargs, expected):
    y = Y_SPARSE if loss is losses.SparseCategoricalCrossentropy else Y_ONEHOT
    out = loss(**kwargs)(y, P)
    assert out.shape == () and out.dtype == np.float32
    np.testing.assert_allclose(_value(out), expected, atol=1e-3)


@pytest.mark.parametrize(
    "loss", [losses.SparseCategoricalCrossentropy, losses.CategoricalCrossentropy]
)
def test_sample_weight_and_none_reduction(loss):
    y = Y_SPARSE if loss is losses.SparseCategoricalCrossentropy else Y_ONEHOT
    np.testing.assert_allclose(
        _value(loss()(y, P, sample_weight=np.array([0.3, 0.7]))), 0.814, atol=1e-3
    )
    for reduction in (None, "none"):
        np.testing.assert_allclose(
            _value(loss(reduction=reduction)(y, P)), [0.0513, 2.303], atol=1e-3
        )


def test_reductions():
    y = np.array([[0.0], [1.0], [2.0], [3.0]])
    p = np.zeros((4, 1), dtype=np.float32)  # per-sample losses 0, 1, 4, 9
    w = np.array([1.0, 1.0, 0.5, 0.0])
    cases = {
        "sum_over_batch_size": (14 / 4, 3 / 4),
        "mean": (14 / 4, 3 / 4),
        "sum": (14, 3),
        "mean_with_sample_weight": (14 / 4, 3 / 2.5),
    }
    for reduction, (plain, weighted) in cases.items():
        loss = losses.MeanSquaredError(reduction=reduction)
        np.testing.assert_allclose(_value(loss(y, p)), plain, rtol=1e-6)
        np.testing.assert_allclose(_value(loss(y, p, sample_weight=w)), weighted, rtol=1e-6)
    np.testing.assert_allclose(
        _value(losses.MeanSquaredError(reduction=None)(y, p, w)), [0, 1, 2, 0]
    )


def test_invalid_reduction():
    with pytest.raises(
        ValueError, match=r"Invalid value for argument `reduction`.*reduction='avg'"
    ):
        losses.MeanSquaredError(reduction="avg")


def test_loss_functions_return_per_sample_tensors():
    y, p = np.ones((4, 3)), np.zeros((4, 3), dtype=np.float32)
    for fn in (losses.mse, losses.mae, losses.mean_squared_error, losses.mean_absolute_error):
        out = fn(y, p)
        assert isinstance(out, Tensor) and out.shape == (4,) and out.dtype == np.float32
        np.testing.assert_allclose(out.numpy(), 1.0)
    assert losses.binary_crossentropy(np.ones((4, 3)), np.full((4, 3), 0.5)).shape == (4,)


def test_rank_one_targets_against_column_predictions():
    # Keras squeezes or expands a trailing axis of size 1.
    y, p = np.array([0.0, 1.0, 1.0]), np.array([[0.5], [0.5], [1.0]], dtype=np.float32)
    np.testing.assert_allclose(losses.mse(y, p).numpy(), [0.25, 0.25, 0.0])
    np.testing.assert_allclose(losses.MeanSquaredError()(y[:, None], p[:, 0]).numpy(), 0.5 / 3)
    assert losses.binary_crossentropy(y, p).shape == (3,)


def test_binary_crossentropy_keras_example_and_smoothing():
    y = np.array([[0.0, 1.0], [0.0, 0.0]])
    p = np.array([[0.6, 0.4], [0.4, 0.6]], dtype=np.float32)
    np.testing.assert_allclose(losses.binary_crossentropy(y, p).numpy(), [0.916, 0.714], atol=1e-3)
    smoothed = y * 0.8 + 0.5 * 0.2
    np.testing.assert_allclose(
        losses.binary_crossentropy(y, p, label_smoothing=0.2).numpy(),
        losses.binary_crossentropy(smoothed, p).numpy(),
        rtol=1e-6,
    )
    loss = losses.BinaryCrossentropy(from_logits=True, label_smoothing=0.2)
    logits = np.log(p / (1 - p))
    np.testing.assert_allclose(
        _value(loss(y, logits)), losses.binary_crossentropy(smoothed, p).numpy().mean(), rtol=1e-5
    )


def test_categorical_label_smoothing():
    smoothed = Y_ONEHOT * 0.9 + 0.1 / 3
    np.testing.assert_allclose(
        losses.categorical_crossentropy(Y_ONEHOT, P, label_smoothing=0.1).numpy(),
        losses.categorical_crossentropy(smoothed, P).numpy(),
        rtol=1e-6,
    )


def test_from_logits_matches_softmax_probabilities():
    z = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    labels = np.array([0, 3, 1, 2, 3])
    probs = np.exp(z) / np.exp(z).sum(axis=-1, keepdims=True)
    a = losses.SparseCategoricalCrossentropy(from_logits=True)(labels, z)
    b = losses.SparseCategoricalCrossentropy()(labels, probs)
    np.testing.assert_allclose(_value(a), _value(b), rtol=1e-5)


@pytest.mark.parametrize("kind", ["sparse", "categorical"])
def test_softmax_output_uses_the_logits(kind):
    logits_value = np.array([[1e4, -1e4, 0.0], [0.0, 1e4, -1e4]], dtype=np.float32)
    labels = np.array([1, 0])  # the worst possible labels: probabilities of exactly 0
    y = labels if kind == "sparse" else np.eye(3)[labels]
    fn = (
        losses.sparse_categorical_crossentropy
        if kind == "sparse"
        else losses.categorical_crossentropy
    )

    logits = Variable(logits_value)
    via_softmax = fn(y, activations.softmax(logits))
    via_softmax.sum().backward()
    reference = Variable(logits_value)
    direct = fn(y, reference, from_logits=True)
    direct.sum().backward()

    assert via_softmax.dtype == np.float32
    np.testing.assert_allclose(via_softmax.numpy(), [2e4, 1e4])  # not clipped to -log(1e-7)
    np.testing.assert_array_equal(via_softmax.numpy(), direct.numpy())
    assert np.isfinite(logits.grad).all()
    np.testing.assert_array_equal(logits.grad, reference.grad)


def test_softmax_output_with_from_logits_true_warns():
    out = activations.softmax(np.array([[1.0, 2.0]], dtype=np.float32))
    with pytest.warns(UserWarning, match="produced by a softmax activation"):
        losses.categorical_crossentropy(np.array([[0.0, 1.0]]), out, from_logits=True)


def test_ignore_class():
    y = np.array([1, -1, 2])
    p = np.array([[0.05, 0.95, 0.0], [0.3, 0.3, 0.4], [0.1, 0.8, 0.1]], dtype=np.float32)
    per_sample = losses.sparse_categorical_crossentropy(y, p, ignore_class=-1).numpy()
    np.testing.assert_allclose(per_sample, [0.0513, 0.0, 2.303], atol=1e-3)
    loss = losses.SparseCategoricalCrossentropy(ignore_class=-1)
    np.testing.assert_allclose(_value(loss(y, p)), 1.177, atol=1e-3)  # mean over 2 valid
    loss = losses.SparseCategoricalCrossentropy(ignore_class=-1, reduction="sum")
    np.testing.assert_allclose(_value(loss(y, p)), 2.354, atol=1e-3)
    v = Variable(p)
    losses.SparseCategoricalCrossentropy(ignore_class=-1)(y, v).backward()
    np.testing.assert_array_equal(v.grad[1], 0.0)


def test_error_messages():
    with pytest.raises(
        ValueError,
        match=re.escape("Received a label value of 10 which is outside the valid range of [0, 10)"),
    ):
        losses.SparseCategoricalCrossentropy()(np.array([0, 10]), np.full((2, 10), 0.1))
    with pytest.raises(
        ValueError,
        match=re.escape("Received a label value of -1 which is outside the valid range of [0, 10)"),
    ):
        losses.sparse_categorical_crossentropy(np.array([-1, 0]), np.full((2, 10), 0.1))
    with pytest.raises(ValueError, match=r"y_true\.shape=\(3,\), y_pred\.shape=\(2, 10\)"):
        losses.sparse_categorical_crossentropy(np.array([0, 1, 2]), np.full((2, 10), 0.1))
    with pytest.raises(ValueError, match=r"y_true\.shape=\(3, 2\), y_pred\.shape=\(2, 2\)"):
        losses.MeanSquaredError()(np.ones((3, 2)), np.ones((2, 2)))
    with pytest.raises(ValueError, match=r"`y_true` has 3 classes but `y_pred` has 4"):
        losses.CategoricalCrossentropy()(np.ones((2, 3)), np.ones((2, 4)))
    with pytest.raises(ValueError, match=r"label_smoothing=1\.5"):
        losses.CategoricalCrossentropy(label_smoothing=1.5)
    with pytest.raises(ValueError, match=r"Expected axis=-1\. Received: axis=0"):
        losses.binary_crossentropy(np.ones((2, 2)), np.ones((2, 2)) / 2, axis=0)


@pytest.mark.parametrize(
    "identifier, expected",
    [
        ("mse", losses.mean_squared_error),
        ("MSE", losses.mean_squared_error),
        ("mae", losses.mean_absolute_error),
        ("mean_squared_error", losses.mean_squared_error),
        ("binary_crossentropy", losses.binary_crossentropy),
        ("categorical_crossentropy", losses.categorical_crossentropy),
        ("sparse_categorical_crossentropy", losses.sparse_categorical_crossentropy),
    ],
)
def test_get_function_names(identifier, expected):
    assert losses.get(identifier) is expected


@pytest.mark.parametrize(
    "name",
    [
        "MeanSquaredError",
        "MeanAbsoluteError",
        "BinaryCrossentropy",
        "CategoricalCrossentropy",
        "SparseCategoricalCrossentropy",
    ],
)
def test_get_class_names_and_config_round_trip(name):
    loss = losses.get(name)
    assert type(loss).__name__ == name
    config = loss.get_config()
    assert config["reduction"] == "sum_over_batch_size"
    clone = type(loss).from_config(config)
    assert clone.get_config() == config
    assert losses.deserialize(losses.serialize(loss)).get_config() == config
    assert losses.get(losses.serialize(loss)).get_config() == config


def test_configs_hold_the_constructor_arguments():
    config = losses.SparseCategoricalCrossentropy(
        from_logits=True, ignore_class=255, name="x"
    ).get_config()
    assert config == {
        "name": "x",
        "reduction": "sum_over_batch_size",
        "from_logits": True,
        "ignore_class": 255,
    }
    config = losses.CategoricalCrossentropy(label_smoothing=0.1, reduction="sum").get_config()
    assert config == {
        "name": "categorical_crossentropy",
        "reduction": "sum",
        "from_logits": False,
        "label_smoothing": 0.1,
        "axis": -1,
    }


def test_get_instances_callables_and_none():
    loss = losses.BinaryCrossentropy()
    assert losses.get(loss) is loss
    assert losses.get(len) is len
    assert losses.get(None) is None


def test_get_unknown_lists_valid_ids():
    with pytest.raises(
        ValueError, match=re.escape("Could not interpret loss identifier: 'foo'. Expected one of [")
    ) as info:
        losses.get("foo")
    assert "'mse'" in str(info.value) and "'SparseCategoricalCrossentropy'" in str(info.value)
    with pytest.raises(ValueError, match="Could not interpret loss identifier"):
        losses.get(42)


def test_custom_loss_subclass():
    class MyHalfMSE(losses.Loss):
        def call(self, y_true, y_pred):
            return losses.mse(y_true, y_pred) * 0.5

    loss = MyHalfMSE()
    assert loss.name == "my_half_mse"
    np.testing.assert_allclose(_value(loss(np.ones((2, 2)), np.zeros((2, 2)))), 0.5)
    assert loss.get_config() == {"name": "my_half_mse", "reduction": "sum_over_batch_size"}


def test_wrapper_around_a_function():
    loss = losses.LossFunctionWrapper(losses.binary_crossentropy, from_logits=True)
    assert loss.name == "binary_crossentropy"
    out = loss(np.array([[1.0]]), np.array([[0.0]], dtype=np.float32))
    np.testing.assert_allclose(_value(out), np.log(2.0), rtol=1e-6)


def test_loss_gradient_reaches_predictions():
    v = Variable(np.array([[0.2, 0.8]], dtype=np.float32))
    losses.MeanSquaredError()(np.array([[0.0, 1.0]]), v).backward()
    assert v.grad.dtype == np.float32
    np.testing.assert_allclose(v.grad, [[0.2, -0.2]], rtol=1e-6)
