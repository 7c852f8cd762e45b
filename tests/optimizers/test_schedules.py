"""Learning rate schedules: Keras 3's formulas, configs, validation and use during ``fit``.

The references below are written from the closed-form formulas in float64,
independently of cnnkit's float32 code: restarts of ``CosineDecayRestarts`` are
found by walking the periods, not with Keras's logarithm.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from cnnkit import callbacks, optimizers
from cnnkit.layers import Dense, Input
from cnnkit.models import Sequential
from cnnkit.optimizers import schedules

STEPS = [*range(0, 130), 199, 200, 201, 999, 10_000]


# -- float64 references -------------------------------------------------------
def ref_exponential(step, lr, decay_steps, rate, staircase=False):
    p = step / decay_steps
    return lr * rate ** (math.floor(p) if staircase else p)


def ref_piecewise(step, boundaries, values):
    for boundary, value in zip(boundaries, values):
        if step <= boundary:
            return value
    return values[-1]


def ref_polynomial(step, lr, decay_steps, end=0.0001, power=1.0, cycle=False):
    if cycle:
        decay_steps = decay_steps * max(1, math.ceil(step / decay_steps))
    else:
        step = min(step, decay_steps)
    return (lr - end) * (1 - step / decay_steps) ** power + end


def ref_inverse_time(step, lr, decay_steps, rate, staircase=False):
    p = step / decay_steps
    return lr / (1 + rate * (math.floor(p) if staircase else p))


def ref_cosine(step, lr, decay_steps, alpha=0.0, warmup_target=None, warmup_steps=0):
    if warmup_target is not None:
        if step < warmup_steps:
            return lr + (warmup_target - lr) * step / warmup_steps
        step, lr = step - warmup_steps, warmup_target
    step = min(step, decay_steps)
    return lr * ((1 - alpha) * 0.5 * (1 + math.cos(math.pi * step / decay_steps)) + alpha)


def ref_restarts(step, lr, first_decay_steps, t_mul=2.0, m_mul=1.0, alpha=0.0):
    start, length, restart = 0.0, float(first_decay_steps), 0
    while step >= start + length:
        start += length
        length *= t_mul
        restart += 1
    fraction = (step - start) / length
    cosine = m_mul**restart * 0.5 * (1 + math.cos(math.pi * fraction))
    return lr * ((1 - alpha) * cosine + alpha)


CASES = [
    (schedules.ExponentialDecay(0.1, 10, 0.9), lambda s: ref_exponential(s, 0.1, 10, 0.9)),
    (
        schedules.ExponentialDecay(0.5, 7, 0.5, staircase=True),
        lambda s: ref_exponential(s, 0.5, 7, 0.5, staircase=True),
    ),
    (
        schedules.PiecewiseConstantDecay([10, 50, 100], [0.1, 0.05, 0.01, 0.001]),
        lambda s: ref_piecewise(s, [10, 50, 100], [0.1, 0.05, 0.01, 0.001]),
    ),
    (schedules.PolynomialDecay(0.1, 100), lambda s: ref_polynomial(s, 0.1, 100)),
    (
        schedules.PolynomialDecay(0.1, 30, end_learning_rate=0.01, power=0.5),
        lambda s: ref_polynomial(s, 0.1, 30, 0.01, 0.5),
    ),
    (
        schedules.PolynomialDecay(0.1, 30, end_learning_rate=0.01, power=2.0, cycle=True),
        lambda s: ref_polynomial(s, 0.1, 30, 0.01, 2.0, cycle=True),
    ),
    (schedules.InverseTimeDecay(0.1, 5, 0.5), lambda s: ref_inverse_time(s, 0.1, 5, 0.5)),
    (
        schedules.InverseTimeDecay(0.1, 5, 0.5, staircase=True),
        lambda s: ref_inverse_time(s, 0.1, 5, 0.5, staircase=True),
    ),
    (schedules.CosineDecay(0.1, 100), lambda s: ref_cosine(s, 0.1, 100)),
    (schedules.CosineDecay(0.1, 60, alpha=0.1), lambda s: ref_cosine(s, 0.1, 60, 0.1)),
    (
        schedules.CosineDecay(0.0, 80, warmup_target=0.2, warmup_steps=20),
        lambda s: ref_cosine(s, 0.0, 80, warmup_target=0.2, warmup_steps=20),
    ),
    (
        schedules.CosineDecay(0.01, 50, alpha=0.2, warmup_target=0.1, warmup_steps=15),
        lambda s: ref_cosine(s, 0.01, 50, 0.2, warmup_target=0.1, warmup_steps=15),
    ),
    (schedules.CosineDecayRestarts(0.1, 10), lambda s: ref_restarts(s, 0.1, 10)),
    (
        schedules.CosineDecayRestarts(0.1, 8, t_mul=1.0, m_mul=0.5, alpha=0.1),
        lambda s: ref_restarts(s, 0.1, 8, 1.0, 0.5, 0.1),
    ),
    (
        schedules.CosineDecayRestarts(0.1, 10, t_mul=1.5, m_mul=0.9, alpha=0.05),
        lambda s: ref_restarts(s, 0.1, 10, 1.5, 0.9, 0.05),
    ),
]


@pytest.mark.parametrize("schedule, reference", CASES, ids=[repr(c[0]) for c in CASES])
def test_schedule_matches_closed_form_at_every_step(schedule, reference):
    got = np.array([schedule(step) for step in STEPS])
    assert got.dtype == np.float32
    expected = np.array([reference(step) for step in STEPS])
    np.testing.assert_allclose(got, expected, rtol=2e-6, atol=1e-8)


def test_restarts_fall_on_the_period_boundaries():
    schedule = schedules.CosineDecayRestarts(1.0, 10, t_mul=2.0, m_mul=0.5)
    # Periods [0, 10), [10, 30), [30, 70): each starts at m_mul ** i.
    assert [float(schedule(s)) for s in (0, 10, 30, 70)] == [1.0, 0.5, 0.25, 0.125]
    assert float(schedule(9)) < 0.03 and float(schedule(29)) < 0.01


def test_staircase_and_cycle_change_the_shape():
    smooth = schedules.ExponentialDecay(1.0, 10, 0.5)
    stairs = schedules.ExponentialDecay(1.0, 10, 0.5, staircase=True)
    assert float(smooth(5)) < 1.0 == float(stairs(5)) == float(stairs(9))
    assert float(stairs(10)) == 0.5
    flat = schedules.PolynomialDecay(1.0, 10, end_learning_rate=0.0)
    cyclic = schedules.PolynomialDecay(1.0, 10, end_learning_rate=0.0, cycle=True)
    assert float(flat(15)) == 0.0
    assert float(cyclic(15)) == pytest.approx(0.25)  # decays over 20 steps in the 2nd cycle
    assert float(cyclic(0)) == 1.0


def test_warmup_is_linear_then_cosine():
    schedule = schedules.CosineDecay(0.0, 10, warmup_target=1.0, warmup_steps=4)
    assert [float(schedule(s)) for s in range(5)] == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert float(schedule(9)) == pytest.approx(0.5, abs=1e-7)
    assert float(schedule(14)) == pytest.approx(0.0, abs=1e-7)
    assert float(schedule(1000)) == pytest.approx(0.0, abs=1e-7)


def test_restarts_with_shrinking_periods_turn_nan_after_the_horizon_like_keras():
    schedule = schedules.CosineDecayRestarts(1.0, 10, t_mul=0.5)
    assert np.isfinite(schedule(15))
    assert np.isnan(schedule(25))  # the periods add up to 10 / (1 - 0.5) = 20 steps


def test_step_may_be_an_optimizer_variable_or_array():
    opt = optimizers.SGD()
    schedule = schedules.ExponentialDecay(0.1, 10, 0.5)
    assert schedule(opt.iterations) == schedule(0) == schedule(np.array(0))


KERAS_CONFIG_KEYS = {
    schedules.ExponentialDecay: [
        "initial_learning_rate",
        "decay_steps",
        "decay_rate",
        "staircase",
        "name",
    ],
    schedules.PiecewiseConstantDecay: ["boundaries", "values", "name"],
    schedules.PolynomialDecay: [
        "initial_learning_rate",
        "decay_steps",
        "end_learning_rate",
        "power",
        "cycle",
        "name",
    ],
    schedules.InverseTimeDecay: [
        "initial_learning_rate",
        "decay_steps",
        "decay_rate",
        "staircase",
        "name",
    ],
    schedules.CosineDecay: [
        "initial_learning_rate",
        "decay_steps",
        "alpha",
        "name",
        "warmup_target",
        "warmup_steps",
    ],
    schedules.CosineDecayRestarts: [
        "initial_learning_rate",
        "first_decay_steps",
        "t_mul",
        "m_mul",
        "alpha",
        "name",
    ],
}


@pytest.mark.parametrize("schedule, reference", CASES[::2], ids=[repr(c[0]) for c in CASES[::2]])
def test_config_round_trips_with_keras_keys(schedule, reference):
    config = schedule.get_config()
    assert list(config) == KERAS_CONFIG_KEYS[type(schedule)]
    clone = type(schedule).from_config(config)
    assert clone.get_config() == config
    serialized = json.loads(json.dumps(schedules.serialize(schedule)))
    assert serialized["module"] == "keras.optimizers.schedules"
    assert serialized["class_name"] == type(schedule).__name__
    assert serialized["registered_name"] is None
    rebuilt = schedules.deserialize(serialized)
    assert type(rebuilt) is type(schedule)
    for step in (0, 7, 45, 130):
        assert rebuilt(step) == schedule(step)


def test_keras_default_names():
    assert schedules.PiecewiseConstantDecay([1], [0.1, 0.01]).name == "PiecewiseConstant"
    assert schedules.CosineDecayRestarts(0.1, 10).name == "SGDRDecay"
    assert schedules.CosineDecay(0.1, 10).get_config()["warmup_target"] is None


def test_custom_schedule_through_custom_objects_and_optimizer_config():
    class Halving(schedules.LearningRateSchedule):
        def __init__(self, rate):
            self.rate = rate

        def __call__(self, step):
            return self.rate / 2 ** int(step)

        def get_config(self):
            return {"rate": self.rate}

    serialized = schedules.serialize(Halving(0.8))
    assert serialized["registered_name"] == "Halving"
    rebuilt = schedules.deserialize(serialized, custom_objects={"Halving": Halving})
    assert rebuilt(2) == 0.2
    with pytest.raises(ValueError, match="Could not interpret learning rate schedule"):
        schedules.deserialize(serialized)

    opt = optimizers.Adam(learning_rate=schedules.CosineDecay(0.1, 100, warmup_target=0.2))
    config = json.loads(json.dumps(opt.get_config()))
    clone = optimizers.Adam.from_config(config)
    assert clone.get_config() == opt.get_config()
    # warmup_steps=0: Keras decays from warmup_target at once.
    assert float(clone.learning_rate) == pytest.approx(0.2)


def test_base_class_requires_call_and_config():
    schedule = schedules.LearningRateSchedule()
    with pytest.raises(NotImplementedError, match="must override `__call__"):
        schedule(0)
    with pytest.raises(NotImplementedError, match="must override `get_config"):
        schedule.get_config()


@pytest.mark.parametrize(
    "build, match",
    [
        (lambda: schedules.ExponentialDecay(0.1, 0, 0.9), r"`decay_steps` must be > 0"),
        (lambda: schedules.ExponentialDecay(-0.1, 10, 0.9), r"`initial_learning_rate`"),
        (lambda: schedules.ExponentialDecay(0.1, 10, 0.9, staircase="yes"), r"`staircase`"),
        (lambda: schedules.InverseTimeDecay(0.1, -1, 0.5), r"`decay_steps` must be > 0"),
        (lambda: schedules.PolynomialDecay(0.1, 10, power=-1.0), r"`power`"),
        (lambda: schedules.PolynomialDecay(0.1, 10, cycle=1), r"`cycle`"),
        (lambda: schedules.PiecewiseConstantDecay([1, 2], [0.1]), r"length of boundaries"),
        (lambda: schedules.PiecewiseConstantDecay([5, 2], [0.1, 0.2, 0.3]), r"strictly incr"),
        (lambda: schedules.PiecewiseConstantDecay([], [0.1]), r"at least one"),
        (lambda: schedules.PiecewiseConstantDecay([1], [0.1, "a"]), r"`values`"),
        (lambda: schedules.CosineDecay(0.1, 10, alpha=1.5), r"`alpha`.*\[0, 1\]"),
        (lambda: schedules.CosineDecay(0.1, 10, warmup_target=-1.0), r"`warmup_target`"),
        (lambda: schedules.CosineDecay(0.1, 10, warmup_steps=-5), r"`warmup_steps`"),
        (lambda: schedules.CosineDecayRestarts(0.1, 0), r"`first_decay_steps` must be > 0"),
        (lambda: schedules.CosineDecayRestarts(0.1, 10, t_mul=0.0), r"`t_mul`"),
        (lambda: schedules.CosineDecayRestarts(0.1, 10, m_mul=-1.0), r"`m_mul`"),
        (lambda: schedules.serialize(lambda step: 0.1), r"LearningRateSchedule instance"),
        (lambda: schedules.deserialize({"config": {}}), r"'class_name'"),
        (lambda: schedules.deserialize({"class_name": "Nope"}), r"Could not interpret"),
    ],
)
def test_invalid_arguments_name_the_argument(build, match):
    with pytest.raises(ValueError, match=match):
        build()


# -- schedules inside training ----------------------------------------------------
def _data(n=60, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((3, 4)) * 3
    y = rng.integers(0, 3, n)
    return (centers[y] + rng.standard_normal((n, 4))).astype("float32"), y


class _RateRecorder(callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.rates = []

    def on_epoch_end(self, epoch, logs=None):
        self.rates.append(float(self.model.optimizer.learning_rate))


FIT_SCHEDULES = [
    schedules.ExponentialDecay(0.1, 3, 0.5, staircase=True),
    schedules.PiecewiseConstantDecay([3, 6], [0.1, 0.05, 0.01]),
    schedules.PolynomialDecay(0.1, 9, end_learning_rate=0.01),
    schedules.InverseTimeDecay(0.1, 3, 1.0),
    schedules.CosineDecay(0.0, 6, warmup_target=0.1, warmup_steps=3),
    schedules.CosineDecayRestarts(0.1, 4),
]


@pytest.mark.parametrize("optimizer_class", [optimizers.SGD, optimizers.Adam])
@pytest.mark.parametrize("schedule", FIT_SCHEDULES, ids=lambda s: type(s).__name__)
def test_schedule_drives_the_rate_during_fit(schedule, optimizer_class):
    x, y = _data()
    model = Sequential([Input((4,)), Dense(3, activation="softmax")])
    model.compile(
        optimizer=optimizer_class(learning_rate=schedule), loss="sparse_categorical_crossentropy"
    )
    recorder = _RateRecorder()
    model.fit(x, y, batch_size=20, epochs=4, callbacks=[recorder], verbose=0)
    assert int(model.optimizer.iterations) == 12
    # 3 updates per epoch: after epoch e the optimizer has made 3 * (e + 1) updates.
    assert recorder.rates == [float(schedule(3 * (e + 1))) for e in range(4)]
    assert len(set(recorder.rates)) > 1


def test_sgd_uses_the_scheduled_rate_for_each_update():
    # Rate 0.1 for the updates at steps 0..3, then 0: the weights freeze after 4 updates.
    x, y = _data()
    model = Sequential([Input((4,)), Dense(3, activation="softmax")])
    schedule = schedules.PiecewiseConstantDecay([3], [0.1, 0.0])
    model.compile(
        optimizer=optimizers.SGD(learning_rate=schedule), loss="sparse_categorical_crossentropy"
    )
    snapshots = []
    snap = callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: snapshots.append(model.get_weights())
    )
    model.fit(x, y, batch_size=20, epochs=3, shuffle=False, callbacks=[snap], verbose=0)
    changed = [
        not all(np.array_equal(a, b) for a, b in zip(before, after))
        for before, after in zip(snapshots[:-1], snapshots[1:])
    ]
    assert changed == [True, True, True, False, False, False, False, False]


def test_adam_follows_the_schedule_step_by_step(
    make_problem, run_optimizer, reference_trajectory, assert_weights_close
):
    schedule = schedules.ExponentialDecay(0.01, 2, 0.5)
    initial, grads = make_problem(seed=3, steps=6)
    got = run_optimizer(optimizers.Adam(learning_rate=schedule), initial, grads)

    def adam(w, g, state, t, lr, b1=0.9, b2=0.999, eps=1e-7):
        state["m"] = b1 * state.get("m", 0.0) + (1 - b1) * g
        state["v"] = b2 * state.get("v", 0.0) + (1 - b2) * g * g
        alpha = lr * math.sqrt(1 - b2**t) / (1 - b1**t)
        return w - alpha * state["m"] / (np.sqrt(state["v"]) + eps)

    expected = reference_trajectory(
        adam, initial, grads, learning_rate=lambda i: ref_exponential(i, 0.01, 2, 0.5)
    )
    assert_weights_close(got, expected, atol=2e-6)
