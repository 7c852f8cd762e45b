"""Adagrad against Keras's update rule, hand-written in float64."""

from __future__ import annotations

import numpy as np
import pytest

from cnnkit.autodiff import Variable
from cnnkit.optimizers import Adagrad


def adagrad_rule(initial_accumulator_value=0.1, epsilon=1e-7):
    def rule(w, g, state, t, lr):
        s = state.get("s", initial_accumulator_value) + g**2
        state["s"] = s
        return w - lr * g / np.sqrt(s + epsilon)

    return rule


def test_defaults_match_keras():
    config = Adagrad().get_config()
    assert config["learning_rate"] == pytest.approx(0.001)
    assert config["initial_accumulator_value"] == 0.1
    assert (config["epsilon"], config["name"]) == (1e-7, "adagrad")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"learning_rate": 0.1},
        {"learning_rate": 0.5, "initial_accumulator_value": 1.0, "epsilon": 1e-4},
        {"learning_rate": 0.1, "weight_decay": 0.1},
        {"learning_rate": 0.1, "clipvalue": 0.3},
    ],
)
def test_golden_steps(
    kwargs, make_problem, run_optimizer, reference_trajectory, assert_weights_close
):
    initial, grads = make_problem(seed=3, steps=6)
    actual = run_optimizer(Adagrad(**kwargs), initial, grads)
    own = ("initial_accumulator_value", "epsilon")
    rule = adagrad_rule(**{k: v for k, v in kwargs.items() if k in own})
    options = {k: v for k, v in kwargs.items() if k not in own}
    expected = reference_trajectory(rule, initial, grads, **options)
    assert_weights_close(actual, expected)


def test_accumulators_start_at_initial_value(make_problem):
    initial, _ = make_problem()
    opt = Adagrad(initial_accumulator_value=0.25)
    opt.build([Variable(w, name="w") for w in initial])
    accumulators = opt.variables[2:]
    assert [v.name for v in accumulators] == ["accumulator", "accumulator"]
    assert all(np.all(v.numpy() == np.float32(0.25)) for v in accumulators)


def test_invalid_arguments():
    with pytest.raises(
        ValueError,
        match=r"`initial_accumulator_value`.*Received: "
        r"initial_accumulator_value=-1",
    ):
        Adagrad(initial_accumulator_value=-1)
