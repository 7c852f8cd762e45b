"""Behaviour shared by every optimizer: the step pipeline, state, learning rates, config, errors."""

from __future__ import annotations

import json
import tracemalloc

import numpy as np
import pytest

import cnnkit.optimizers
from cnnkit.autodiff import Tensor, Variable
from cnnkit.optimizers import SGD, Adagrad, Adam, AdamW, Optimizer, RMSprop
from cnnkit.optimizers.schedules import ExponentialDecay, LearningRateSchedule

ALL = [SGD, RMSprop, Adam, AdamW, Adagrad]

BASE_KEYS = [
    "name",
    "learning_rate",
    "weight_decay",
    "clipnorm",
    "global_clipnorm",
    "clipvalue",
    "use_ema",
    "ema_momentum",
    "ema_overwrite_frequency",
    "loss_scale_factor",
    "gradient_accumulation_steps",
]
OWN_KEYS = {
    SGD: ["momentum", "nesterov"],
    RMSprop: ["rho", "momentum", "epsilon", "centered"],
    Adam: ["beta_1", "beta_2", "epsilon", "amsgrad"],
    AdamW: ["beta_1", "beta_2", "epsilon", "amsgrad"],
    Adagrad: ["initial_accumulator_value", "epsilon"],
}


def sgd_rule(w, g, state, t, lr):
    return w - lr * g


def momentum_rule(momentum):
    def rule(w, g, state, t, lr):
        state["v"] = momentum * state.get("v", 0.0) - lr * g
        return w + state["v"]

    return rule


def variables_like(initial, names=("kernel", "bias")):
    out = []
    for w, name in zip(initial, names, strict=False):
        v = Variable(w, name=name)
        v.path = f"dense/{name}"
        out.append(v)
    return out


# -- iterations and state ---------------------------------------------------
def test_iterations_count_applied_steps(make_problem):
    initial, grads = make_problem(steps=3)
    variables = variables_like(initial)
    opt = Adam()
    assert int(opt.iterations) == 0
    for g in grads:
        returned = opt.apply_gradients(zip(g, variables, strict=True))
    assert returned is opt.iterations
    assert int(opt.iterations) == 3 and opt.iterations.numpy() == 3
    assert opt.iterations.dtype == np.int64 and not opt.iterations.trainable
    assert f"{opt.iterations:d}" == "3" and len(range(opt.iterations)) == 3


def test_state_is_built_lazily_on_first_apply(make_problem):
    initial, grads = make_problem(steps=1)
    variables = variables_like(initial)
    opt = Adam()
    assert not opt.built and len(opt.variables) == 2
    opt.apply(grads[0], variables)
    assert opt.built and len(opt.variables) == 2 + 2 * len(variables)
    opt.apply(grads[0])  # once built, the variables may be omitted
    assert int(opt.iterations) == 2


def test_save_and_load_own_variables_resume_exactly(make_problem):
    initial, grads = make_problem(steps=4)
    first, second = variables_like(initial), variables_like(initial)
    opt = Adam(learning_rate=0.01)
    for g in grads[:3]:
        opt.apply(g, first)
    store = {}
    opt.save_own_variables(store)
    for v, w in zip(second, first, strict=True):
        v.assign(w.numpy())
    resumed = Adam(learning_rate=0.01)
    resumed.build(second)
    resumed.load_own_variables(store)
    opt.apply(grads[3], first)
    resumed.apply(grads[3], second)
    assert int(resumed.iterations) == 4
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    with pytest.warns(UserWarning, match="Skipping variable loading for optimizer 'adam'"):
        Adam().load_own_variables(store)


def test_set_weights_checks_shapes(make_problem):
    initial, grads = make_problem(steps=1)
    opt = SGD(momentum=0.9)
    with pytest.raises(ValueError, match="has not yet been built"):
        opt.set_weights([])
    opt.apply(grads[0], variables_like(initial))
    weights = [v.numpy() for v in opt.variables]
    weights[2] = weights[2] + 1.0
    opt.set_weights(weights)
    np.testing.assert_array_equal(opt.variables[2].numpy(), weights[2])
    weights[3] = np.zeros(7, dtype=np.float32)
    with pytest.raises(ValueError, match=r"SGD/dense_bias_momentum has shape \(4,\)"):
        opt.set_weights(weights)


# -- learning rate -------------------------------------------------------------
def test_learning_rate_is_a_settable_float32_variable():
    opt = SGD(learning_rate=0.1)
    assert isinstance(opt.learning_rate, Variable)
    assert opt.learning_rate.dtype == np.float32
    assert float(opt.learning_rate) == pytest.approx(0.1)
    opt.learning_rate = 0.01
    assert float(opt.learning_rate) == pytest.approx(0.01)
    assert opt.get_config()["learning_rate"] == float(np.float32(0.01))
    opt.learning_rate = Tensor(np.float32(0.5))
    assert float(opt.learning_rate) == 0.5
    with pytest.raises(ValueError, match=r"Received: learning_rate=-1"):
        opt.learning_rate = -1


def test_learning_rate_change_mid_training(
    make_problem, run_optimizer, reference_trajectory, assert_weights_close
):
    initial, grads = make_problem(steps=6)
    variables = variables_like(initial)
    opt = SGD(learning_rate=0.1, momentum=0.9)
    for index, g in enumerate(grads):
        if index == 3:
            opt.learning_rate = 0.01  # as a callback would
        opt.apply(g, variables)
    expected = reference_trajectory(
        momentum_rule(0.9), initial, grads, learning_rate=lambda i: 0.1 if i < 3 else 0.01
    )
    assert_weights_close([v.numpy() for v in variables], expected)


def test_schedule_callable_gets_the_step(
    make_problem, run_optimizer, reference_trajectory, assert_weights_close
):
    def schedule(step):
        return 0.1 * 0.5**step

    initial, grads = make_problem(steps=5)
    opt = SGD(learning_rate=schedule, momentum=0.9)
    actual = run_optimizer(opt, initial, grads)
    expected = reference_trajectory(momentum_rule(0.9), initial, grads, learning_rate=schedule)
    assert_weights_close(actual, expected)
    assert opt.learning_rate == pytest.approx(schedule(5))
    assert [v.name for v in opt.variables][:2] == ["iteration", "dense_kernel_momentum"]
    with pytest.raises(TypeError, match="learning rate is not settable to a number"):
        opt.learning_rate = 0.1


def test_callable_without_arguments_is_called_without_the_step(make_problem, run_optimizer):
    initial, grads = make_problem(steps=1)
    actual = run_optimizer(SGD(learning_rate=lambda: 0.5), initial, grads)
    np.testing.assert_allclose(actual[1], initial[1] - 0.5 * grads[0][1], rtol=1e-6)


def test_setting_a_schedule_replaces_the_learning_rate_variable(make_problem, run_optimizer):
    initial, grads = make_problem(steps=2)
    opt = SGD(learning_rate=0.1)
    opt.learning_rate = lambda step: 0.25
    assert [v.name for v in opt.variables] == ["iteration"]
    actual = run_optimizer(opt, initial, grads)
    np.testing.assert_allclose(
        actual[1], initial[1] - 0.25 * (grads[0][1] + grads[1][1]), atol=1e-6
    )


class HalvingSchedule(LearningRateSchedule):
    """A user's schedule (not registered)."""

    def __init__(self, initial_learning_rate):
        self.initial_learning_rate = initial_learning_rate

    def __call__(self, step):
        return self.initial_learning_rate * 0.5**step

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate}


def test_schedule_objects_serialize_in_keras_layout():
    builtin = Adam(learning_rate=ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5))
    assert builtin.get_config()["learning_rate"] == {
        "module": "keras.optimizers.schedules",
        "class_name": "ExponentialDecay",
        "config": ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5).get_config(),
        "registered_name": None,
    }
    restored = Adam.from_config(builtin.get_config())
    assert type(restored._learning_rate) is ExponentialDecay
    assert restored.get_config() == builtin.get_config()

    # A schedule of the user's: its own module, found again through `custom_objects`.
    opt = Adam(learning_rate=HalvingSchedule(0.1))
    config = opt.get_config()
    assert config["learning_rate"] == {
        "module": __name__,
        "class_name": "HalvingSchedule",
        "config": {"initial_learning_rate": 0.1},
        "registered_name": "HalvingSchedule",
    }
    restored = Adam.from_config(config, custom_objects={"HalvingSchedule": HalvingSchedule})
    assert isinstance(restored._learning_rate, HalvingSchedule)
    assert restored.get_config() == config
    with pytest.raises(ValueError, match="learning rate schedule identifier: 'HalvingSchedule'"):
        Adam.from_config(config)


# -- configuration -------------------------------------------------------------
@pytest.mark.parametrize("cls", ALL)
def test_get_config_has_exactly_keras_keys(cls):
    assert list(cls().get_config()) == BASE_KEYS + OWN_KEYS[cls]


@pytest.mark.parametrize(
    "cls, kwargs",
    [
        (SGD, {"learning_rate": 0.3, "momentum": 0.5, "nesterov": True, "clipnorm": 1.0}),
        (RMSprop, {"rho": 0.8, "momentum": 0.1, "centered": True, "weight_decay": 0.01}),
        (Adam, {"beta_1": 0.8, "amsgrad": True, "global_clipnorm": 2.0, "name": "my_adam"}),
        (AdamW, {"weight_decay": 0.1, "use_ema": True, "ema_overwrite_frequency": 3}),
        (Adagrad, {"initial_accumulator_value": 0.5, "clipvalue": 0.1}),
    ],
)
def test_config_round_trip(cls, kwargs):
    opt = cls(**kwargs)
    config = opt.get_config()
    json.dumps(config)
    restored = cls.from_config(config)
    assert type(restored) is cls and restored.get_config() == config
    for key, value in kwargs.items():
        assert config[key] == pytest.approx(value)


def test_serialize_and_deserialize():
    opt = RMSprop(learning_rate=0.5, centered=True)
    data = cnnkit.optimizers.serialize(opt)
    assert data["module"] == "keras.optimizers"
    assert (data["class_name"], data["registered_name"]) == ("RMSprop", None)
    restored = cnnkit.optimizers.deserialize(data)
    assert isinstance(restored, RMSprop) and restored.get_config() == opt.get_config()
    lower = cnnkit.optimizers.deserialize({"class_name": "rmsprop", "config": {}})
    assert isinstance(lower, RMSprop)
    with pytest.raises(ValueError, match=r"Could not interpret optimizer identifier: 'Yogi'"):
        cnnkit.optimizers.deserialize({"class_name": "Yogi", "config": {}})


@pytest.mark.parametrize(
    "identifier, cls",
    [
        ("sgd", SGD),
        ("SGD", SGD),
        ("rmsprop", RMSprop),
        ("RMSprop", RMSprop),
        ("adam", Adam),
        ("Adam", Adam),
        ("adamw", AdamW),
        ("AdamW", AdamW),
        ("adagrad", Adagrad),
        ("ADAGRAD", Adagrad),
    ],
)
def test_get_by_name_gives_defaults(identifier, cls):
    opt = cnnkit.optimizers.get(identifier)
    assert type(opt) is cls
    assert opt.get_config() == cls().get_config()


def test_get_instances_dicts_and_errors():
    opt = Adam()
    assert cnnkit.optimizers.get(opt) is opt
    assert cnnkit.optimizers.get(None) is None
    from_dict = cnnkit.optimizers.get({"class_name": "SGD", "config": {"momentum": 0.5}})
    assert isinstance(from_dict, SGD) and from_dict.momentum == 0.5
    expected = r"\['adadelta', 'adafactor', 'adagrad', 'adam', 'adamax', 'adamw', 'ftrl', "
    with pytest.raises(ValueError, match=r"identifier: 'yogi'\. Expected one of " + expected):
        cnnkit.optimizers.get("yogi")
    with pytest.raises(ValueError, match=r"identifier: 42"):
        cnnkit.optimizers.get(42)


# -- argument validation ---------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs, match",
    [
        (
            {"clipnorm": 1.0, "clipvalue": 1.0},
            r"Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set\. "
            r"Received: clipnorm=1\.0, clipvalue=1\.0, global_clipnorm=None",
        ),
        ({"learning_rate": -0.5}, r"argument `learning_rate`.*Received: learning_rate=-0\.5"),
        ({"learning_rate": "fast"}, r"Received: learning_rate='fast'"),
        ({"learning_rate": True}, r"Received: learning_rate=True"),
        ({"clipnorm": -1.0}, r"argument `clipnorm`.*Received: clipnorm=-1\.0"),
        ({"weight_decay": "l2"}, r"argument `weight_decay`.*Received: weight_decay='l2'"),
        ({"use_ema": True, "ema_momentum": 2.0}, r"`ema_momentum` must be in the range \[0, 1\]"),
        ({"use_ema": True, "ema_overwrite_frequency": 0.5}, r"`ema_overwrite_frequency`"),
        ({"gradient_accumulation_steps": 1}, r"`gradient_accumulation_steps` must be an integer"),
        ({"loss_scale_factor": 0.0}, r"argument `loss_scale_factor`"),
        ({"clip_norm": 1.0}, r"Argument\(s\) not recognized: \{'clip_norm': 1\.0\}"),
    ],
)
@pytest.mark.parametrize("cls", [SGD, Adam])
def test_invalid_common_arguments(cls, kwargs, match):
    with pytest.raises(ValueError, match=match):
        cls(**kwargs)


def test_decay_argument_is_ignored_with_a_warning():
    with pytest.warns(UserWarning, match="`decay` is no longer supported"):
        SGD(decay=0.1)


# -- gradients ---------------------------------------------------------------------
def test_none_gradients_are_skipped_with_a_warning(make_problem):
    initial, grads = make_problem(steps=1)
    variables = variables_like(initial)
    opt = SGD(learning_rate=0.1)
    with pytest.warns(UserWarning, match=r"Gradients do not exist for variables \['dense/bias'\]"):
        opt.apply([grads[0][0], None], variables)
    np.testing.assert_allclose(variables[0].numpy(), initial[0] - 0.1 * grads[0][0], rtol=1e-6)
    np.testing.assert_array_equal(variables[1].numpy(), initial[1])
    assert int(opt.iterations) == 1
    with pytest.raises(ValueError, match="No gradients provided for any variable"):
        opt.apply([None, None], variables)


def test_gradient_shape_mismatch_names_the_variable(make_problem):
    initial, _ = make_problem()
    variables = variables_like(initial)
    bad = [np.zeros((4, 3), np.float32), np.zeros(4, np.float32)]
    with pytest.raises(ValueError, match=r"variable `dense/kernel` has shape \(4, 3\)"):
        Adam().apply(bad, variables)


def test_unknown_variables_and_count_mismatch(make_problem):
    initial, grads = make_problem(steps=1)
    opt = SGD()
    with pytest.raises(ValueError, match="must already be built"):
        opt.apply(grads[0])
    opt.apply(grads[0], variables_like(initial))
    with pytest.raises(ValueError, match="Unknown variable"):
        opt.apply(grads[0], variables_like(initial))
    with pytest.raises(ValueError, match="Received 1 gradients for 2 variables"):
        opt.apply(grads[0][:1])


def test_tensor_and_float64_gradients_are_accepted(make_problem, run_optimizer):
    initial, grads = make_problem(steps=2)
    expected = run_optimizer(Adam(), initial, grads)
    wrapped = [[Tensor(g[0]), g[1].astype(np.float64)] for g in grads]
    variables = variables_like(initial)
    opt = Adam()
    for g in wrapped:
        opt.apply(g, variables)
    for v, e in zip(variables, expected, strict=True):
        assert v.dtype == np.float32
        np.testing.assert_allclose(v.numpy(), e, rtol=0, atol=1e-7)


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"clipnorm": 0.1},
        {"clipvalue": 0.1},
        {"global_clipnorm": 0.1},
        {"loss_scale_factor": 8.0},
        {"gradient_accumulation_steps": 2},
        {"weight_decay": 0.1, "use_ema": True},
    ],
)
@pytest.mark.parametrize("cls", ALL)
def test_gradients_are_never_written(cls, kwargs, make_problem):
    initial, grads = make_problem(steps=4)
    variables = variables_like(initial)
    opt = cls(**kwargs)
    for g in grads:
        for array in g:
            array.flags.writeable = False  # writing would raise
        opt.apply(g, variables)
    assert all(np.all(np.isfinite(v.numpy())) for v in variables)


def test_non_finite_gradients_are_applied_silently():
    w = Variable(np.ones(3, np.float32), name="w")
    Adam().apply([np.array([np.inf, np.nan, 1.0], np.float32)], [w])
    result = w.numpy()
    assert np.isnan(result[0]) and np.isnan(result[1]) and np.isfinite(result[2])

    w = Variable(np.ones(2, np.float32), name="w")
    SGD(learning_rate=1.0).apply([np.array([np.inf, 1.0], np.float32)], [w])
    assert w.numpy()[0] == -np.inf and w.numpy()[1] == 0.0

    w = Variable(np.ones(2, np.float32), name="w")
    SGD(global_clipnorm=1.0).apply([np.array([np.inf, 1.0], np.float32)], [w])
    assert np.all(np.isnan(w.numpy()))


# -- clipping, weight decay, loss scaling ---------------------------------------------
@pytest.mark.parametrize(
    "clip",
    [
        {"clipnorm": 0.5},
        {"clipnorm": 100.0},  # never active
        {"clipvalue": 0.3},
        {"global_clipnorm": 1.0},
        {"global_clipnorm": 100.0},
    ],
)
def test_clipping_modes(
    clip, make_problem, run_optimizer, reference_trajectory, assert_weights_close
):
    initial, grads = make_problem(seed=8, steps=5, scale=2.0)
    actual = run_optimizer(SGD(learning_rate=0.1, momentum=0.5, **clip), initial, grads)
    expected = reference_trajectory(momentum_rule(0.5), initial, grads, learning_rate=0.1, **clip)
    assert_weights_close(actual, expected)


def test_clipnorm_bounds_each_gradient_norm():
    w = Variable(np.zeros(2, np.float32), name="w")
    SGD(learning_rate=1.0, clipnorm=1.0).apply([np.array([3.0, 4.0], np.float32)], [w])
    np.testing.assert_allclose(w.numpy(), [-0.6, -0.8], rtol=1e-6)


def test_weight_decay_with_excluded_variables(
    make_problem, run_optimizer, reference_trajectory, assert_weights_close
):
    initial, grads = make_problem(seed=9, steps=4)
    variables = variables_like(initial)
    opt = SGD(learning_rate=0.1, weight_decay=0.5)
    opt.exclude_from_weight_decay(var_list=[variables[0]])
    for g in grads:
        opt.apply(g, variables)
    decayed = reference_trajectory(sgd_rule, initial, grads, learning_rate=0.1, weight_decay=0.5)
    plain = reference_trajectory(sgd_rule, initial, grads, learning_rate=0.1)
    assert_weights_close([v.numpy() for v in variables], [plain[0], decayed[1]])
    with pytest.raises(ValueError, match="can only be configured before the optimizer is built"):
        opt.exclude_from_weight_decay(var_names=["bias"])


def test_loss_scale_factor_unscales_gradients(make_problem, run_optimizer):
    initial, grads = make_problem(steps=3)
    scaled = [[4.0 * g for g in step] for step in grads]
    opt = SGD(momentum=0.9, loss_scale_factor=4.0)
    assert opt.scale_loss(2.0) == 8.0
    actual = run_optimizer(opt, initial, scaled)
    expected = run_optimizer(SGD(momentum=0.9), initial, grads)
    for a, e in zip(actual, expected, strict=True):
        np.testing.assert_allclose(a, e, rtol=0, atol=1e-7)


# -- moving average and gradient accumulation ---------------------------------------
def test_ema_of_weights_and_overwrite_frequency(make_problem):
    initial, grads = make_problem(seed=10, steps=6)
    variables = variables_like(initial)
    opt = SGD(learning_rate=0.1, use_ema=True, ema_momentum=0.9, ema_overwrite_frequency=4)
    for g in grads:
        opt.apply(g, variables)

    ws = [w.astype(np.float64) for w in initial]
    averages = [None, None]
    for t, g in enumerate(grads, start=1):
        ws = [w - 0.1 * gi for w, gi in zip(ws, g, strict=True)]
        averages = [w if t == 1 else 0.9 * a + 0.1 * w for w, a in zip(ws, averages, strict=True)]
        if t % 4 == 0:
            ws = [a.copy() for a in averages]
    for v, w in zip(variables, ws, strict=True):
        np.testing.assert_allclose(v.numpy(), w, rtol=0, atol=1e-6)
    opt.finalize_variable_values(variables)
    for v, a in zip(variables, averages, strict=True):
        np.testing.assert_allclose(v.numpy(), a, rtol=0, atol=1e-6)


def test_gradient_accumulation_updates_every_n_calls(make_problem):
    initial, grads = make_problem(seed=11, steps=6)
    variables = variables_like(initial)
    opt = Adam(learning_rate=0.01, gradient_accumulation_steps=3)
    for index, g in enumerate(grads):
        opt.apply(g, variables)
        if index == 1:  # nothing applied yet
            for v, w in zip(variables, initial, strict=True):
                np.testing.assert_array_equal(v.numpy(), w)
    assert int(opt.iterations) == 2
    means = [[(a + b + c) / 3 for a, b, c in zip(*grads[i : i + 3], strict=True)] for i in (0, 3)]
    expected = variables_like(initial)
    reference = Adam(learning_rate=0.01)
    for g in means:
        reference.apply(g, expected)
    for v, e in zip(variables, expected, strict=True):
        np.testing.assert_allclose(v.numpy(), e.numpy(), rtol=0, atol=1e-6)


# -- subclassing and speed ---------------------------------------------------------------
class HeavyBall(Optimizer):
    """A custom optimizer written the Keras way (build + update_step)."""

    def __init__(self, learning_rate=0.1, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        self.velocities = [self.add_variable_from_reference(v, "velocity") for v in variables]

    def update_step(self, gradient, variable, learning_rate):
        velocity = self.velocities[self._get_variable_index(variable)]
        self.assign(velocity, 0.5 * velocity.numpy() - learning_rate * gradient)
        self.assign_add(variable, velocity.numpy())


def test_keras_style_subclass(make_problem, run_optimizer):
    initial, grads = make_problem(steps=4)
    actual = run_optimizer(HeavyBall(learning_rate=0.1), initial, grads)
    expected = run_optimizer(SGD(learning_rate=0.1, momentum=0.5), initial, grads)
    for a, e in zip(actual, expected, strict=True):
        np.testing.assert_allclose(a, e, rtol=0, atol=1e-6)
    with pytest.raises(NotImplementedError, match="must implement `update_step"):
        Optimizer(0.1).apply(grads[0], variables_like(initial))


def test_builtin_update_step_can_be_called_directly():
    w = Variable(np.ones(2, np.float32), name="w")
    opt = SGD()
    opt.build([w])
    opt.update_step(np.array([1.0, 2.0], np.float32), w, 0.5)
    np.testing.assert_allclose(w.numpy(), [0.5, 0.0])


@pytest.mark.parametrize(
    "make",
    [
        lambda: SGD(momentum=0.9, nesterov=True, weight_decay=0.01),
        lambda: RMSprop(momentum=0.9, centered=True),
        lambda: Adam(amsgrad=True),
        lambda: AdamW(),
        lambda: Adagrad(),
    ],
    ids=["sgd", "rmsprop", "adam", "adamw", "adagrad"],
)
def test_steps_allocate_almost_nothing(make):
    opt = make()
    rng = np.random.default_rng(0)
    variables = [
        Variable(rng.standard_normal((512, 512)).astype(np.float32), name=f"w{i}") for i in range(2)
    ]
    grads = [rng.standard_normal((512, 512)).astype(np.float32) for _ in variables]
    opt.apply(grads, variables)  # builds the state and the scratch buffers
    tracemalloc.start()
    try:
        opt.apply(grads, variables)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 64 * 1024, f"a step allocated {peak} bytes (one weight is 1 MiB)"
    assert all(v.dtype == np.float32 for v in variables + opt.variables[1:])


def test_a_schedule_replacing_the_learning_rate_removes_that_variable_only():
    # iteration and learning rate are both 0: tensors compare element-wise, so only identity
    # tells the learning-rate variable from the step counter
    optimizer = SGD(learning_rate=0.0)
    assert [v.name for v in optimizer.variables] == ["iteration", "learning_rate"]
    optimizer.learning_rate = ExponentialDecay(0.1, 10, 0.9)
    assert [v.name for v in optimizer.variables] == ["iteration"]
