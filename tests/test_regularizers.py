"""Tests for cnnkit.regularizers: values and gradients vs NumPy, lookup, configs, and training."""

from __future__ import annotations

import numpy as np
import pytest

from cnnkit import layers, models, optimizers, regularizers
from cnnkit.autodiff import Tensor, Variable
from cnnkit.utils import set_random_seed
from tests.harness import gradcheck

RNG = np.random.default_rng(0)
W = RNG.standard_normal((5, 4)).astype(np.float32)


def _normalize(a: np.ndarray, axis: int) -> np.ndarray:
    """keras.ops.normalize: ``a * min(1 / ||a||, 1 / 1e-7)`` along ``axis``."""
    with np.errstate(divide="ignore"):  # rsqrt(0) = inf, then clamped
        inv = np.minimum(1.0 / np.sqrt(np.sum(a * a, axis=axis, keepdims=True)), 1e7)
    return a * inv


def orthogonal_reference(a: np.ndarray, factor: float, mode: str) -> float:
    """Keras 3's OrthogonalRegularizer, in NumPy float64."""
    a = a.astype(np.float64)
    if mode == "rows":
        n = _normalize(a, axis=1)
        gram = n @ n.T
    else:
        n = _normalize(a, axis=0)
        gram = n.T @ n
    size = gram.shape[0]
    off = np.abs(gram * (1.0 - np.eye(size))).sum()
    return factor * 0.5 * off / (size * (size - 1) / 2.0)


# --------------------------------------------------------------------------- values


@pytest.mark.parametrize(
    ("regularizer", "reference"),
    [
        (regularizers.L1(0.1), lambda a: 0.1 * np.abs(a).sum()),
        (regularizers.L2(0.1), lambda a: 0.1 * np.square(a).sum()),
        (regularizers.L1L2(l1=0.1, l2=0.2), lambda a: 0.1 * np.abs(a).sum() + 0.2 * (a * a).sum()),
        (regularizers.L1L2(l2=0.3), lambda a: 0.3 * (a * a).sum()),
        (regularizers.L1L2(), lambda a: 0.0),
        (regularizers.Regularizer(), lambda a: 0.0),
        (regularizers.OrthogonalRegularizer(0.1), lambda a: orthogonal_reference(a, 0.1, "rows")),
        (
            regularizers.OrthogonalRegularizer(0.1, mode="columns"),
            lambda a: orthogonal_reference(a, 0.1, "columns"),
        ),
    ],
    ids=["l1", "l2", "l1l2", "l1l2-only-l2", "l1l2-zero", "base", "orth-rows", "orth-columns"],
)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_values_match_numpy(regularizer, reference, dtype):
    w = W.astype(dtype)
    out = regularizer(Variable(w))
    assert isinstance(out, Tensor) and out.shape == () and out.dtype == np.dtype(dtype)
    rtol = 1e-6 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(float(out), reference(w.astype(np.float64)), rtol=rtol, atol=1e-7)
    np.testing.assert_allclose(float(regularizer(w)), float(out))  # plain arrays work too


def test_keras_docstring_numbers():
    ones = np.ones((5, 5), np.float32)
    assert float(regularizers.L2(2.0)(ones)) == 50.0  # Keras's own example: no factor 1/2
    assert float(regularizers.L1(0.01)(np.ones((5, 5), np.float32) * 1.0)) == pytest.approx(0.25)


def test_orthogonal_is_zero_for_orthogonal_rows_and_factor_for_parallel_ones():
    eye = np.eye(3, dtype=np.float32) * np.array([[2.0], [0.5], [3.0]], np.float32)
    assert float(regularizers.OrthogonalRegularizer(1.0)(eye)) == 0.0
    parallel = np.array([[1.0, 2.0], [-2.0, -4.0], [0.5, 1.0]], np.float32)
    assert float(regularizers.OrthogonalRegularizer(0.3)(parallel)) == pytest.approx(0.3)


def test_orthogonal_tiny_rows_are_clamped_like_keras():
    w = np.array([[0.0, 0.0, 0.0], [1.0, 2.0, 2.0], [1e-9, 0.0, 0.0], [3.0, 0.0, 1.0]])
    reg = regularizers.OrthogonalRegularizer(0.5)
    var = Variable(w, dtype="float64")
    out = reg(var)
    np.testing.assert_allclose(float(out), orthogonal_reference(w, 0.5, "rows"), rtol=1e-12)
    out.backward()
    assert np.all(np.isfinite(var.grad))


def test_orthogonal_needs_rank_2_and_two_rows():
    reg = regularizers.OrthogonalRegularizer(0.1)
    with pytest.raises(ValueError, match=r"must have rank 2. Received: inputs.shape=\(4, 4, 4\)"):
        reg(np.zeros((4, 4, 4), np.float32))
    assert float(reg(np.ones((1, 4), np.float32))) == 0.0  # no pairs (Keras: NaN)


# --------------------------------------------------------------------------- gradients


def test_gradients_match_the_formulas():
    w = Variable(W)
    (regularizers.L1(0.1)(w) + regularizers.L2(0.2)(w)).backward()
    np.testing.assert_allclose(w.grad, 0.1 * np.sign(W) + 2 * 0.2 * W, rtol=1e-6)


@pytest.mark.parametrize(
    "regularizer",
    [
        regularizers.L1(0.3),
        regularizers.L2(0.3),
        regularizers.L1L2(l1=0.1, l2=0.2),
        regularizers.OrthogonalRegularizer(0.7),
        regularizers.OrthogonalRegularizer(0.7, mode="columns"),
    ],
    ids=["l1", "l2", "l1l2", "orth-rows", "orth-columns"],
)
def test_gradients_match_finite_differences(regularizer):
    gradcheck(regularizer, RNG.standard_normal((4, 3)))


# --------------------------------------------------------------------------- arguments


@pytest.mark.parametrize("value", [-0.1, float("nan"), float("inf"), "0.1", True, None])
@pytest.mark.parametrize(("cls", "name"), [(regularizers.L1, "l1"), (regularizers.L2, "l2")])
def test_invalid_factors(cls, name, value):
    if value is None:  # None means the default, as in Keras
        assert cls(None).get_config() == {name: 0.01}
        return
    with pytest.raises(
        ValueError, match=f"Invalid value for argument `{name}`. Expected a non-neg"
    ):
        cls(value)


def test_invalid_l1l2_and_orthogonal_arguments():
    with pytest.raises(ValueError, match="argument `l2`.*Received: l2=-1"):
        regularizers.L1L2(l1=0.1, l2=-1)
    with pytest.raises(ValueError, match="argument `factor`"):
        regularizers.OrthogonalRegularizer(factor=-0.5)
    with pytest.raises(ValueError, match=r'Expected one of \{"rows", "columns"\}. Received: mode='):
        regularizers.OrthogonalRegularizer(mode="diagonal")
    assert regularizers.L1(np.float32(0.5)).l1 == 0.5 and regularizers.L2(1).l2 == 1.0


# --------------------------------------------------------------------------- configs and lookup

ALL = [
    regularizers.L1(0.1),
    regularizers.L2(0.2),
    regularizers.L1L2(l1=0.1, l2=0.2),
    regularizers.OrthogonalRegularizer(factor=0.3, mode="columns"),
]


@pytest.mark.parametrize("reg", ALL, ids=lambda r: type(r).__name__)
def test_config_and_serialize_round_trip(reg):
    config = reg.get_config()
    assert type(reg).from_config(config).get_config() == config
    data = regularizers.serialize(reg)
    assert data["module"] == "keras.regularizers" and data["class_name"] == type(reg).__name__
    again = regularizers.deserialize(data)
    assert type(again) is type(reg) and again.get_config() == config
    assert regularizers.get(data).get_config() == config


def test_config_is_exactly_the_constructor_arguments():
    assert regularizers.L1().get_config() == {"l1": 0.01}
    assert regularizers.L2().get_config() == {"l2": 0.01}
    assert regularizers.L1L2().get_config() == {"l1": 0.0, "l2": 0.0}
    assert regularizers.OrthogonalRegularizer().get_config() == {"factor": 0.01, "mode": "rows"}
    with pytest.raises(NotImplementedError, match="Regularizer does not implement get_config"):
        regularizers.Regularizer().get_config()


def test_get_strings():
    assert regularizers.get(None) is None
    cases = {
        "l1": (regularizers.L1, {"l1": 0.01}),
        "L1": (regularizers.L1, {"l1": 0.01}),
        "l2": (regularizers.L2, {"l2": 0.01}),
        "L2": (regularizers.L2, {"l2": 0.01}),
        "l1l2": (regularizers.L1L2, {"l1": 0.0, "l2": 0.0}),  # Keras 3's table
        "L1L2": (regularizers.L1L2, {"l1": 0.0, "l2": 0.0}),
        "l1_l2": (regularizers.L1L2, {"l1": 0.01, "l2": 0.01}),  # Keras's documented id
        "orthogonal_regularizer": (
            regularizers.OrthogonalRegularizer,
            {"factor": 0.01, "mode": "rows"},
        ),
    }
    for name, (cls, config) in cases.items():
        reg = regularizers.get(name)
        assert type(reg) is cls and reg.get_config() == config, name


def test_get_instances_classes_callables_and_errors():
    reg = regularizers.L2(0.5)
    assert regularizers.get(reg) is reg
    assert type(regularizers.get(regularizers.L1)) is regularizers.L1

    def penalty(w):
        return w.sum()

    assert regularizers.get(penalty) is penalty
    with pytest.raises(
        ValueError, match=r"Could not interpret regularizer identifier: 'l3'.*'l1_l2'"
    ):
        regularizers.get("l3")
    with pytest.raises(ValueError, match="Could not interpret regularizer identifier: 3"):
        regularizers.get(3)
    with pytest.raises(ValueError, match="Could not interpret regularizer identifier: 'Nope'"):
        regularizers.deserialize({"class_name": "Nope", "config": {}})
    with pytest.raises(ValueError, match="Expected a dict with keys 'class_name' and 'config'"):
        regularizers.deserialize({"config": {}})
    with pytest.raises(TypeError, match="Expected a `Regularizer` instance"):
        regularizers.serialize(penalty)
    assert regularizers.serialize(None) is None


def test_custom_subclass_serialization():
    class Scaled(regularizers.Regularizer):
        def __init__(self, scale=1.0):
            self.scale = scale

        def __call__(self, x):
            return regularizers.L1(self.scale)(x)

        def get_config(self):
            return {"scale": self.scale}

    data = regularizers.serialize(Scaled(2.0))
    assert data["registered_name"] == "Scaled" and data["module"] == __name__
    again = regularizers.deserialize(data, custom_objects={"Scaled": Scaled})
    assert isinstance(again, Scaled) and again.scale == 2.0


def test_keras_aliases():
    assert regularizers.l1 is regularizers.L1
    assert regularizers.l2 is regularizers.L2
    assert regularizers.l1_l2 is regularizers.L1L2
    assert regularizers.orthogonal_regularizer is regularizers.OrthogonalRegularizer
    assert repr(regularizers.l1_l2(l1=0.5)) == "L1L2(l1=0.5, l2=0.0)"


# --------------------------------------------------------------------------- with layers and fit


def test_layer_losses_hold_the_penalties():
    dense = layers.Dense(
        3, kernel_regularizer=regularizers.L2(0.01), bias_regularizer=regularizers.L1(0.1)
    )
    dense(np.ones((2, 4), np.float32))
    kernel, bias = dense.get_weights()
    values = [float(p) for p in dense.losses]
    np.testing.assert_allclose(
        values, [0.01 * (kernel**2).sum(), 0.1 * np.abs(bias).sum()], rtol=1e-6
    )

    conv = layers.Conv2D(2, 3, kernel_regularizer=regularizers.L1L2(l1=0.01, l2=0.02))
    conv(np.ones((1, 5, 5, 1), np.float32))
    k = conv.get_weights()[0]
    expected = 0.01 * np.abs(k).sum() + 0.02 * (k**2).sum()
    np.testing.assert_allclose(float(conv.losses[0]), expected, rtol=1e-6)


def _data(n=32, seed=1):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 6)).astype(np.float32)
    y = (x @ rng.standard_normal((6, 2)) + 0.1).astype(np.float32)
    return x, y


def _model(regularizer=None, seed=0):
    set_random_seed(seed)
    model = models.Sequential(
        [
            layers.Input((6,)),
            layers.Dense(8, activation="relu", kernel_regularizer=regularizer),
            layers.Dense(2, kernel_regularizer=regularizer),
        ]
    )
    model.compile(optimizer=optimizers.SGD(learning_rate=0.05), loss="mse")
    return model


def test_evaluate_loss_is_data_loss_plus_penalty():
    x, y = _data()
    model = _model(regularizers.L2(0.01))
    data_loss = float(np.mean((model.predict(x, verbose=0) - y) ** 2))
    penalty = sum(0.01 * float((w**2).sum()) for w in model.get_weights()[::2])  # the kernels
    loss = model.evaluate(x, y, batch_size=len(x), verbose=0)
    np.testing.assert_allclose(loss, data_loss + penalty, rtol=1e-5)
    assert penalty > 0.01 * data_loss  # the check is not vacuous


def test_one_sgd_step_adds_the_l2_gradient():
    """w' = w - lr * (dL/dw + 2 * l2 * w): the penalty's gradient reaches the weights."""
    x, y = _data()
    plain, regular = _model(None), _model(regularizers.L2(0.1))
    regular.set_weights(plain.get_weights())
    w0 = plain.get_weights()
    plain.train_on_batch(x, y)
    regular.train_on_batch(x, y)
    for i in (0, 2):  # the kernels; biases are not regularized
        expected = plain.get_weights()[i] - 0.05 * 2 * 0.1 * w0[i]
        np.testing.assert_allclose(regular.get_weights()[i], expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        regular.get_weights()[1], plain.get_weights()[1], rtol=1e-5, atol=1e-6
    )


def test_training_with_l2_shrinks_the_weights():
    x, y = _data(64)
    plain, regular = _model(None), _model(regularizers.L2(0.1))
    regular.set_weights(plain.get_weights())
    plain.fit(x, y, epochs=15, batch_size=16, shuffle=False, verbose=0)
    regular.fit(x, y, epochs=15, batch_size=16, shuffle=False, verbose=0)

    def kernel_norm(model):
        return sum(float((w**2).sum()) for w in model.get_weights()[::2])

    assert kernel_norm(regular) < 0.75 * kernel_norm(plain)  # about 0.57
