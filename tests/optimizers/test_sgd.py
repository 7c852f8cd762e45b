"""SGD against Keras's update rules, hand-written in float64."""

from __future__ import annotations

import pytest

from cnnkit.optimizers import SGD


def sgd_rule(momentum=0.0, nesterov=False):
    def rule(w, g, state, t, lr):
        if momentum == 0:
            return w - lr * g
        v = momentum * state.get("v", 0.0) - lr * g
        state["v"] = v
        return w + momentum * v - lr * g if nesterov else w + v

    return rule


def test_defaults_match_keras():
    config = SGD().get_config()
    assert config["learning_rate"] == pytest.approx(0.01)
    assert (config["momentum"], config["nesterov"], config["name"]) == (0.0, False, "SGD")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"learning_rate": 0.1},
        {"learning_rate": 0.05, "momentum": 0.9},
        {"learning_rate": 0.05, "momentum": 0.9, "nesterov": True},
        {"learning_rate": 0.1, "momentum": 0.5, "weight_decay": 0.1},
        {"learning_rate": 0.1, "momentum": 0.9, "clipnorm": 1.0},
        {"learning_rate": 0.1, "momentum": 0.9, "clipvalue": 0.5},
        {"learning_rate": 0.1, "momentum": 0.9, "nesterov": True, "global_clipnorm": 2.0},
    ],
)
def test_golden_steps(
    kwargs, make_problem, run_optimizer, reference_trajectory, assert_weights_close
):
    initial, grads = make_problem(seed=1, steps=6)
    actual = run_optimizer(SGD(**kwargs), initial, grads)
    rule = sgd_rule(kwargs.get("momentum", 0.0), kwargs.get("nesterov", False))
    options = {k: v for k, v in kwargs.items() if k not in ("momentum", "nesterov")}
    expected = reference_trajectory(rule, initial, grads, **options)
    assert_weights_close(actual, expected)


def test_momentum_slots_only_when_needed(make_problem, run_optimizer):
    initial, grads = make_problem(steps=1)
    plain, heavy = SGD(), SGD(momentum=0.9)
    run_optimizer(plain, initial, grads)
    run_optimizer(heavy, initial, grads)
    assert [v.name for v in plain.variables] == ["iteration", "learning_rate"]
    assert [v.name for v in heavy.variables][2:] == ["dense_kernel_momentum", "dense_bias_momentum"]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (
            {"momentum": -1},
            r"Invalid value for argument `momentum`\. Expected a float in \[0, 1\]\. "
            r"Received: momentum=-1",
        ),
        ({"momentum": 1.5}, r"momentum=1\.5"),
        (
            {"nesterov": "yes"},
            r"argument `nesterov`\. Expected a boolean\. Received: nesterov='yes'",
        ),
        ({"learning_rate": -0.1}, r"argument `learning_rate`.*Received: learning_rate=-0\.1"),
    ],
)
def test_invalid_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SGD(**kwargs)
