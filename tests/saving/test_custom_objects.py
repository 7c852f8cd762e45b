"""A ``.keras`` round trip of a model built from registered custom objects of every family.

The model uses a ``@register_keras_serializable(package="my")`` initializer, regularizer,
constraint, learning-rate schedule, loss and metric. After saving and loading (without
``custom_objects``: the registration is enough), the model predicts the same values, the
custom objects come back as instances of their classes with the same configs, and the optimizer
has the same learning rate, at the same step.
"""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

from cnnkit import backend, constraints, initializers, losses, metrics, optimizers, regularizers
from cnnkit.layers import Dense, Input
from cnnkit.models import Sequential
from cnnkit.optimizers import schedules
from cnnkit.saving import load_model, register_keras_serializable


@register_keras_serializable(package="my")
class ScaledOnes(initializers.Initializer):
    def __init__(self, scale=0.1):
        self.scale = scale

    def __call__(self, shape, dtype=None):
        size = int(np.prod(shape))
        values = self.scale * np.cos(np.arange(size, dtype="float64")).reshape(shape)
        return values.astype(dtype or backend.floatx())

    def get_config(self):
        return {"scale": self.scale}


@register_keras_serializable(package="my")
class HalfL2(regularizers.Regularizer):
    def __init__(self, factor=0.01):
        self.factor = factor

    def __call__(self, x):
        return 0.5 * self.factor * (x * x).sum()

    def get_config(self):
        return {"factor": self.factor}


@register_keras_serializable(package="my")
class Clip(constraints.Constraint):
    def __init__(self, limit=1.0):
        self.limit = limit

    def __call__(self, w):
        return np.clip(w, -self.limit, self.limit)

    def get_config(self):
        return {"limit": self.limit}


@register_keras_serializable(package="my")
class Halving(schedules.LearningRateSchedule):
    def __init__(self, initial_learning_rate=0.1, every=2):
        self.initial_learning_rate = initial_learning_rate
        self.every = every

    def __call__(self, step):
        return self.initial_learning_rate / 2.0 ** (int(step) // self.every)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "every": self.every}


@register_keras_serializable(package="my")
class ScaledMSE(losses.Loss):
    def __init__(self, scale=2.0, name="scaled_mse", **kwargs):
        super().__init__(name=name, **kwargs)
        self.scale = scale

    def call(self, y_true, y_pred):
        return ((y_pred - y_true) ** 2).mean(axis=-1) * self.scale

    def get_config(self):
        return {**super().get_config(), "scale": self.scale}


@register_keras_serializable(package="my")
class MaxError(metrics.Metric):
    def __init__(self, name="max_error", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.worst = self.add_variable(shape=(), name="worst", initializer="zeros")

    def update_state(self, y_true, y_pred, sample_weight=None):
        error = np.abs(np.asarray(y_pred) - np.asarray(y_true)).max()
        self.worst.assign(max(float(self.worst.numpy()), float(error)))

    def result(self):
        return self.worst


def _model():
    model = Sequential(
        [
            Input((3,)),
            Dense(
                4,
                kernel_initializer=ScaledOnes(0.3),
                kernel_regularizer=HalfL2(0.05),
                kernel_constraint=Clip(0.25),
                activation="tanh",
            ),
            Dense(2, kernel_initializer=ScaledOnes(-0.2)),
        ]
    )
    model.compile(
        optimizer=optimizers.SGD(learning_rate=Halving(0.2, every=2)),
        loss=ScaledMSE(3.0),
        metrics=[MaxError()],
    )
    return model


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(16, 3)).astype("float32"), rng.normal(size=(16, 2)).astype("float32")


def test_custom_objects_of_every_family_round_trip_through_a_keras_file(tmp_path, data):
    x, y = data
    model = _model()
    model.fit(x, y, batch_size=8, epochs=2, verbose=0)  # 4 steps: the schedule halved twice
    path = tmp_path / "custom.keras"
    model.save(path)

    with zipfile.ZipFile(path) as archive:
        config = json.loads(archive.read("config.json"))
    dense = config["config"]["layers"][1]["config"]
    written = {
        dense["kernel_initializer"]["registered_name"],
        dense["kernel_regularizer"]["registered_name"],
        dense["kernel_constraint"]["registered_name"],
        config["compile_config"]["optimizer"]["config"]["learning_rate"]["registered_name"],
        config["compile_config"]["loss"]["registered_name"],
        config["compile_config"]["metrics"][0]["registered_name"],
    }
    assert written == {f"my>{c.__name__}" for c in (ScaledOnes, HalfL2, Clip, Halving)} | {
        "my>ScaledMSE",
        "my>MaxError",
    }

    loaded = load_model(path)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))

    kernel = loaded.layers[0]
    for attribute, cls in (
        ("kernel_initializer", ScaledOnes),
        ("kernel_regularizer", HalfL2),
        ("kernel_constraint", Clip),
    ):
        revived, original = getattr(kernel, attribute), getattr(model.layers[0], attribute)
        assert type(revived) is cls
        assert revived.get_config() == original.get_config()

    schedule = loaded.optimizer._learning_rate
    assert type(schedule) is Halving and schedule.get_config() == {
        "initial_learning_rate": 0.2,
        "every": 2,
    }
    assert int(loaded.optimizer.iterations.numpy()) == int(model.optimizer.iterations.numpy())
    assert float(loaded.optimizer.learning_rate) == float(model.optimizer.learning_rate) == 0.05

    assert type(loaded.loss) is ScaledMSE and loaded.loss.scale == 3.0
    assert [type(m) for m in loaded._metric_ids] == [MaxError]

    # The loaded model trains on: same loss value, same update, from the same state.
    before = model.evaluate(x, y, verbose=0, return_dict=True)
    after = loaded.evaluate(x, y, verbose=0, return_dict=True)
    assert after["loss"] == pytest.approx(before["loss"], rel=1e-6)
    assert after["max_error"] == pytest.approx(before["max_error"], rel=1e-6)
    model.fit(x, y, batch_size=16, epochs=1, verbose=0, shuffle=False)
    loaded.fit(x, y, batch_size=16, epochs=1, verbose=0, shuffle=False)
    np.testing.assert_allclose(
        loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6, atol=1e-7
    )
    assert np.abs(loaded.layers[0].kernel.numpy()).max() <= 0.25 + 1e-7  # the constraint acts
