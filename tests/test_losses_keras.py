"""The losses added to complete ``keras.losses``: values against Keras 3 (every reduction, with
and without sample weights), float64 gradient checks, configs and lookup by name.

The Keras comparisons run only where Keras is importable.
"""

from __future__ import annotations

import numpy as np
import pytest

from cnnkit import losses
from cnnkit.autodiff import Tensor
from tests.harness import gradcheck

N, K = 6, 4


def _softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _onehot(rng, n=N, k=K):
    return np.eye(k)[rng.integers(0, k, n)]


def _unit(x):
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


# name -> (kwargs, make(rng) -> (y_true, y_pred))
CASES = {
    "Hinge": ({}, lambda r: (r.integers(0, 2, (N, K)) * 1.0, r.standard_normal((N, K)))),
    "Hinge_pm1": ({}, lambda r: (r.choice([-1.0, 1.0], (N, K)), r.standard_normal((N, K)))),
    "SquaredHinge": ({}, lambda r: (r.integers(0, 2, (N, K)) * 1.0, r.standard_normal((N, K)))),
    "CategoricalHinge": ({}, lambda r: (_onehot(r), r.standard_normal((N, K)))),
    "MeanAbsolutePercentageError": (
        {},
        lambda r: (r.standard_normal((N, K)), r.standard_normal((N, K))),
    ),
    "MeanSquaredLogarithmicError": (
        {},
        lambda r: (r.uniform(0, 3, (N, K)), r.uniform(-0.5, 3, (N, K))),
    ),
    "Huber": ({"delta": 0.7}, lambda r: (r.standard_normal((N, K)), r.standard_normal((N, K)))),
    "LogCosh": ({}, lambda r: (r.standard_normal((N, K)), 3 * r.standard_normal((N, K)))),
    "Poisson": ({}, lambda r: (r.uniform(0, 3, (N, K)), r.uniform(0.1, 3, (N, K)))),
    "KLDivergence": (
        {},
        lambda r: (_softmax(r.standard_normal((N, K))), _softmax(r.standard_normal((N, K)))),
    ),
    "CosineSimilarity": ({}, lambda r: (r.standard_normal((N, K)), r.standard_normal((N, K)))),
    "CosineSimilarity_axis0": (
        {"axis": 0},
        lambda r: (r.standard_normal((N, K)), r.standard_normal((N, K))),
    ),
    "BinaryFocalCrossentropy": (
        {"gamma": 1.5},
        lambda r: (r.integers(0, 2, (N, K)) * 1.0, r.uniform(0.05, 0.95, (N, K))),
    ),
    "BinaryFocalCrossentropy_logits_balanced_smoothed": (
        {"from_logits": True, "apply_class_balancing": True, "alpha": 0.3, "label_smoothing": 0.1},
        lambda r: (r.integers(0, 2, (N, K)) * 1.0, 2 * r.standard_normal((N, K))),
    ),
    "CategoricalFocalCrossentropy": (
        {"alpha": 0.4, "gamma": 2.5},
        lambda r: (_onehot(r), r.uniform(0.05, 1.0, (N, K))),
    ),
    "CategoricalFocalCrossentropy_logits_smoothed": (
        {"from_logits": True, "label_smoothing": 0.2},
        lambda r: (_onehot(r), 2 * r.standard_normal((N, K))),
    ),
    "CategoricalGeneralizedCrossEntropy": (
        {"q": 0.7},
        lambda r: (r.integers(0, K, N), _softmax(r.standard_normal((N, K)))),
    ),
    "Dice": ({}, lambda r: (r.integers(0, 2, (N, K)) * 1.0, r.uniform(0, 1, (N, K)))),
    "Dice_axis": (
        {"axis": (1, 2)},
        lambda r: (r.integers(0, 2, (N, 3, K)) * 1.0, r.uniform(0, 1, (N, 3, K))),
    ),
    "Tversky": (
        {"alpha": 0.3, "beta": 0.7},
        lambda r: (r.integers(0, 2, (N, K)) * 1.0, r.uniform(0, 1, (N, K))),
    ),
    "Tversky_axis": (
        {"axis": -1},
        lambda r: (r.integers(0, 2, (N, K)) * 1.0, r.uniform(0, 1, (N, K))),
    ),
    "Circle": (
        {"gamma": 10.0, "margin": 0.3},
        lambda r: (np.array([0, 1, 0, 2, 1, 0]), _unit(r.standard_normal((N, K)))),
    ),
}

REDUCTIONS = ["sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", "none"]


def _class_name(case):
    return case.split("_")[0]


def _data(case, seed=0):
    kwargs, make = CASES[case]
    y_true, y_pred = make(np.random.default_rng(seed))
    return kwargs, y_true, y_pred.astype("float32")


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("case", sorted(CASES))
def test_class_matches_keras(case, reduction):
    keras = pytest.importorskip("keras")
    kwargs, y_true, y_pred = _data(case)
    name = _class_name(case)
    weight = np.random.default_rng(1).uniform(0, 2, N).astype("float32")
    ours = getattr(losses, name)(reduction=reduction, **kwargs)
    theirs = getattr(keras.losses, name)(reduction=reduction, **kwargs)
    # Dice and Tversky over every axis give one value; cosine over axis 0 gives one per feature.
    unweighted = (name in ("Dice", "Tversky") and kwargs.get("axis") is None) or case.endswith(
        "axis0"
    )
    for sw in [None] if unweighted else [None, weight]:
        expected = keras.ops.convert_to_numpy(theirs(y_true, y_pred, sample_weight=sw))
        got = ours(y_true, y_pred, sample_weight=sw)
        assert got.dtype == np.float32
        np.testing.assert_allclose(got.numpy(), expected, rtol=2e-5, atol=2e-6)


FUNCTIONS = {
    "Hinge": "hinge",
    "SquaredHinge": "squared_hinge",
    "CategoricalHinge": "categorical_hinge",
    "MeanAbsolutePercentageError": "mean_absolute_percentage_error",
    "MeanSquaredLogarithmicError": "mean_squared_logarithmic_error",
    "Huber": "huber",
    "LogCosh": "log_cosh",
    "Poisson": "poisson",
    "KLDivergence": "kl_divergence",
    "CosineSimilarity": "cosine_similarity",
    "BinaryFocalCrossentropy": "binary_focal_crossentropy",
    "CategoricalFocalCrossentropy": "categorical_focal_crossentropy",
    "CategoricalGeneralizedCrossEntropy": "categorical_generalized_cross_entropy",
    "Dice": "dice",
    "Tversky": "tversky",
    "Circle": "circle",
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_function_matches_keras(case):
    keras = pytest.importorskip("keras")
    kwargs, y_true, y_pred = _data(case, seed=2)
    fn = FUNCTIONS[_class_name(case)]
    keras_pred = keras.ops.convert_to_tensor(y_pred)
    expected = keras.ops.convert_to_numpy(getattr(keras.losses, fn)(y_true, keras_pred, **kwargs))
    got = getattr(losses, fn)(y_true, y_pred, **kwargs)
    np.testing.assert_allclose(got.numpy(), expected, rtol=2e-5, atol=2e-6)


@pytest.mark.parametrize("case", sorted(CASES))
def test_gradients_match_finite_differences(case):
    kwargs, y_true, y_pred = _data(case, seed=3)
    fn = getattr(losses, FUNCTIONS[_class_name(case)])
    gradcheck(lambda p: fn(y_true, p, **kwargs), y_pred.astype("float64"))


@pytest.mark.parametrize("case", sorted(CASES))
def test_config_round_trip_and_lookup(case):
    kwargs, y_true, y_pred = _data(case, seed=4)
    cls = getattr(losses, _class_name(case))
    loss = cls(reduction="sum", **kwargs)
    clone = losses.deserialize(losses.serialize(loss))
    assert type(clone) is cls and clone.get_config() == loss.get_config()
    np.testing.assert_allclose(clone(y_true, y_pred).numpy(), loss(y_true, y_pred).numpy())
    assert isinstance(losses.get(cls.__name__), cls)
    assert losses.get(FUNCTIONS[cls.__name__]) is getattr(losses, FUNCTIONS[cls.__name__])


def test_config_keys_match_keras():
    keras = pytest.importorskip("keras")
    for name in FUNCTIONS:
        ours = set(getattr(losses, name)().get_config())
        theirs = set(getattr(keras.losses, name)().get_config()) - {"dtype"}
        # Huber and CosineSimilarity also keep delta / axis, which Keras's configs drop.
        assert ours - theirs <= {"delta", "axis"}, name
        assert theirs <= ours, name


def test_aliases():
    assert losses.get("kld") is losses.kl_divergence
    assert losses.get("MAPE") is losses.mean_absolute_percentage_error
    assert losses.get("msle") is losses.mean_squared_logarithmic_error


def test_generalized_cross_entropy_checks_q():
    with pytest.raises(ValueError, match=r"`q`.*\(0, 1\).*q=1.5"):
        losses.CategoricalGeneralizedCrossEntropy(q=1.5)


def test_focal_rejects_another_axis():
    with pytest.raises(ValueError, match="axis=-1"):
        losses.CategoricalFocalCrossentropy(axis=0)


def test_circle_masks_samples_without_pairs():
    """A sample alone in its class has no positive pair: its loss is 0 and it leaves the mean."""
    emb = _unit(np.random.default_rng(0).standard_normal((4, 3))).astype("float32")
    labels = np.array([0, 0, 1, 2])
    per_sample = losses.circle(labels, emb, gamma=10.0)
    assert per_sample.numpy()[2] == 0 and per_sample.numpy()[3] == 0
    mean = losses.Circle(gamma=10.0)(labels, emb)
    np.testing.assert_allclose(mean.numpy(), per_sample.numpy()[:2].mean(), rtol=1e-6)


def test_kl_divergence_trains_a_prediction():
    """The loss the distillation example uses: its gradient moves a prediction to the target."""
    from cnnkit.autodiff import Variable

    target = np.array([[0.7, 0.2, 0.1]], "float32")
    logits = Variable(np.zeros((1, 3), "float32"))
    from cnnkit import activations

    for _ in range(200):
        logits.grad = None
        loss = losses.KLDivergence()(target, activations.softmax(logits))
        loss.backward()
        logits.assign(logits.numpy() - 1.0 * logits.grad)
    np.testing.assert_allclose(
        activations.softmax(Tensor(logits.numpy())).numpy(), target, atol=1e-3
    )


def test_signatures_match_keras_and_keras_configs_load():
    keras = pytest.importorskip("keras")
    import inspect

    for name in [n for n in dir(keras.losses) if n[0].isupper()]:
        ours = list(inspect.signature(getattr(losses, name)).parameters)
        assert ours == list(inspect.signature(getattr(keras.losses, name)).parameters), name
    for name in FUNCTIONS:
        config = keras.losses.serialize(getattr(keras.losses, name)())
        loss = losses.deserialize({"class_name": config["class_name"], "config": config["config"]})
        assert type(loss).__name__ == name


def test_dtype_casts_constant_predictions():
    loss = losses.Huber(dtype="float64")
    out = loss(np.zeros((2, 3)), np.ones((2, 3), "float32"))
    assert out.dtype == np.float64
