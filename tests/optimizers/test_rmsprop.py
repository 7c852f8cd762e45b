"""RMSprop against Keras's update rules, hand-written in float64."""

from __future__ import annotations

import numpy as np
import pytest

from cnnkit.optimizers import RMSprop


def rmsprop_rule(rho=0.9, momentum=0.0, epsilon=1e-7, centered=False):
    def rule(w, g, state, t, lr):
        v = rho * state.get("v", 0.0) + (1 - rho) * g**2
        state["v"] = v
        if centered:
            a = rho * state.get("a", 0.0) + (1 - rho) * g
            state["a"] = a
            increment = lr * g / np.sqrt(v - a**2 + epsilon)
        else:
            increment = lr * g / np.sqrt(v + epsilon)
        if momentum > 0:
            m = momentum * state.get("m", 0.0) + increment
            state["m"] = m
            return w - m
        return w - increment

    return rule


def test_defaults_match_keras():
    config = RMSprop().get_config()
    assert config["learning_rate"] == pytest.approx(0.001)
    expected = {"rho": 0.9, "momentum": 0.0, "epsilon": 1e-7, "centered": False, "name": "rmsprop"}
    assert {k: config[k] for k in expected} == expected


@pytest.mark.parametrize(
    "kwargs",
    [
        {"learning_rate": 0.01},
        {"learning_rate": 0.01, "rho": 0.8, "epsilon": 1e-3},
        {"learning_rate": 0.01, "momentum": 0.9},
        {"learning_rate": 0.01, "centered": True},
        {"learning_rate": 0.01, "centered": True, "momentum": 0.5, "weight_decay": 0.05},
        {"learning_rate": 0.01, "clipnorm": 0.5},
        {"learning_rate": 0.01, "momentum": 0.5, "global_clipnorm": 1.0},
    ],
)
def test_golden_steps(
    kwargs, make_problem, run_optimizer, reference_trajectory, assert_weights_close
):
    initial, grads = make_problem(seed=2, steps=6)
    actual = run_optimizer(RMSprop(**kwargs), initial, grads)
    own = ("rho", "momentum", "epsilon", "centered")
    rule = rmsprop_rule(**{k: v for k, v in kwargs.items() if k in own})
    options = {k: v for k, v in kwargs.items() if k not in own}
    expected = reference_trajectory(rule, initial, grads, **options)
    assert_weights_close(actual, expected)


def test_slot_order_matches_keras(make_problem, run_optimizer):
    initial, grads = make_problem(steps=1)
    opt = RMSprop(momentum=0.5, centered=True)
    run_optimizer(opt, initial, grads)
    assert [v.name for v in opt.variables] == [
        "iteration",
        "learning_rate",
        "dense_kernel_velocity",
        "dense_bias_velocity",
        "dense_kernel_momentum",
        "dense_bias_momentum",
        "dense_kernel_average_gradient",
        "dense_bias_average_gradient",
    ]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"rho": 1.5}, r"argument `rho`\. Expected a float in \[0, 1\]\. Received: rho=1\.5"),
        ({"momentum": -0.1}, r"Received: momentum=-0\.1"),
        ({"epsilon": -1e-7}, r"argument `epsilon`\. Expected a non-negative float"),
    ],
)
def test_invalid_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        RMSprop(**kwargs)
