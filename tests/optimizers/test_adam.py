"""Adam and AdamW against Keras's update rules, hand-written in float64."""

from __future__ import annotations

import numpy as np
import pytest

from cnnkit import backend
from cnnkit.autodiff import Variable
from cnnkit.optimizers import Adam, AdamW


def adam_rule(beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False, dtype=np.float32):
    # Keras casts beta_1 and beta_2 to the variable's dtype before raising them to the step.
    b1, b2 = float(dtype(beta_1)), float(dtype(beta_2))

    def rule(w, g, state, t, lr):
        m = state.get("m", 0.0)
        v = state.get("v", 0.0)
        m = m + (g - m) * (1 - beta_1)
        v = v + (g**2 - v) * (1 - beta_2)
        state["m"], state["v"] = m, v
        if amsgrad:
            v = np.maximum(state.get("v_hat", 0.0), v)
            state["v_hat"] = v
        alpha = lr * np.sqrt(1 - b2**t) / (1 - b1**t)
        return w - alpha * m / (np.sqrt(v) + epsilon)

    return rule


OWN = ("beta_1", "beta_2", "epsilon", "amsgrad")


def split(kwargs):
    return (
        {k: v for k, v in kwargs.items() if k in OWN},
        {k: v for k, v in kwargs.items() if k not in OWN},
    )


def test_defaults_match_keras():
    adam, adamw = Adam().get_config(), AdamW().get_config()
    expected = {"beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7, "amsgrad": False}
    assert {k: adam[k] for k in expected} == expected
    assert {k: adamw[k] for k in expected} == expected
    assert adam["learning_rate"] == pytest.approx(0.001) == adamw["learning_rate"]
    assert (adam["name"], adam["weight_decay"]) == ("adam", None)
    assert (adamw["name"], adamw["weight_decay"]) == ("adamw", 0.004)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"learning_rate": 0.01},
        {"learning_rate": 0.02, "beta_1": 0.5, "beta_2": 0.9, "epsilon": 1e-3},
        {"learning_rate": 0.01, "amsgrad": True},
        {"learning_rate": 0.01, "weight_decay": 0.1},
        {"learning_rate": 0.01, "clipnorm": 0.7},
        {"learning_rate": 0.01, "clipvalue": 0.2},
        {"learning_rate": 0.01, "global_clipnorm": 1.5, "amsgrad": True},
    ],
)
def test_adam_golden_steps(
    kwargs, make_problem, run_optimizer, reference_trajectory, assert_weights_close
):
    initial, grads = make_problem(seed=4, steps=8)
    actual = run_optimizer(Adam(**kwargs), initial, grads)
    own, options = split(kwargs)
    expected = reference_trajectory(adam_rule(**own), initial, grads, **options)
    assert_weights_close(actual, expected)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"learning_rate": 0.01},
        {"learning_rate": 0.05, "weight_decay": 0.1, "amsgrad": True},
        {"learning_rate": 0.01, "weight_decay": 0.0},
    ],
)
def test_adamw_golden_steps(
    kwargs, make_problem, run_optimizer, reference_trajectory, assert_weights_close
):
    initial, grads = make_problem(seed=5, steps=8)
    actual = run_optimizer(AdamW(**kwargs), initial, grads)
    own, options = split(kwargs)
    options.setdefault("weight_decay", 0.004)
    expected = reference_trajectory(adam_rule(**own), initial, grads, **options)
    assert_weights_close(actual, expected)


def test_adamw_exclude_bias_by_name(
    make_problem, run_optimizer, reference_trajectory, assert_weights_close
):
    initial, grads = make_problem(seed=6, steps=4)
    opt = AdamW(learning_rate=0.05, weight_decay=0.5)
    opt.exclude_from_weight_decay(var_names=["bias"])
    kernel, bias = run_optimizer(opt, initial, grads)
    decayed = reference_trajectory(
        adam_rule(), initial, grads, learning_rate=0.05, weight_decay=0.5
    )
    plain = reference_trajectory(adam_rule(), initial, grads, learning_rate=0.05)
    assert_weights_close([kernel, bias], [decayed[0], plain[1]])


def test_first_step_moves_each_weight_by_about_the_learning_rate():
    w = Variable(np.zeros(3, dtype=np.float32), name="w")
    opt = Adam(learning_rate=0.1)
    opt.apply([np.array([3.0, -0.01, 100.0], dtype=np.float32)], [w])
    np.testing.assert_allclose(w.numpy(), [-0.1, 0.1, -0.1], rtol=1e-3)


def test_slot_names_order_and_dtypes(make_problem, run_optimizer):
    initial, grads = make_problem(steps=1)
    opt = Adam(amsgrad=True)
    assert [v.name for v in opt.variables] == ["iteration", "learning_rate"]
    run_optimizer(opt, initial, grads)
    assert [v.path for v in opt.variables] == [
        "adam/iteration",
        "adam/learning_rate",
        "adam/dense_kernel_momentum",
        "adam/dense_kernel_velocity",
        "adam/dense_bias_momentum",
        "adam/dense_bias_velocity",
        "adam/dense_kernel_velocity_hat",
        "adam/dense_bias_velocity_hat",
    ]
    assert opt.variables[0].dtype == np.int64
    assert all(v.dtype == np.float32 for v in opt.variables[1:])
    assert not any(v.trainable for v in opt.variables)


def test_float64_and_float32_variables_each_use_their_own_dtype(make_problem):
    initial, grads = make_problem(seed=7, steps=5)
    with backend.floatx_scope("float64"):
        w64 = Variable(initial[0].astype(np.float64), name="w64")
    w32 = Variable(initial[1], name="w32")
    opt = Adam(learning_rate=0.01)
    for g in grads:
        opt.apply([g[0].astype(np.float64), g[1]], [w64, w32])
    assert (w64.dtype, w32.dtype) == (np.float64, np.float32)

    def expected(index, dtype):
        w = initial[index].astype(np.float64)
        state = {}
        rule = adam_rule(dtype=dtype)
        for t, g in enumerate(grads, start=1):
            w = rule(w, g[index].astype(np.float64), state, t, float(np.float32(0.01)))
        return w

    np.testing.assert_allclose(w64.numpy(), expected(0, np.float64), rtol=0, atol=1e-12)
    np.testing.assert_allclose(w32.numpy(), expected(1, np.float32), rtol=0, atol=1e-6)


@pytest.mark.parametrize(
    "cls, kwargs, match",
    [
        (
            Adam,
            {"beta_1": 1.0},
            r"argument `beta_1`\. Expected a float in \[0, 1\)\. "
            r"Received: beta_1=1\.0",
        ),
        (Adam, {"beta_2": -0.5}, r"argument `beta_2`.*Received: beta_2=-0\.5"),
        (Adam, {"epsilon": -1.0}, r"argument `epsilon`.*Received: epsilon=-1\.0"),
        (Adam, {"amsgrad": 1}, r"argument `amsgrad`\. Expected a boolean"),
        (
            AdamW,
            {"weight_decay": None},
            r"Argument `weight_decay` must be a float\. "
            r"Received: weight_decay=None",
        ),
        (AdamW, {"weight_decay": -0.1}, r"argument `weight_decay`.*Received: weight_decay=-0\.1"),
    ],
)
def test_invalid_arguments(cls, kwargs, match):
    with pytest.raises(ValueError, match=match):
        cls(**kwargs)
