"""Keras's per-batch hooks: a model that overrides ``train_step``, ``test_step`` or
``predict_step`` has them called by ``fit``, ``evaluate`` and ``predict``."""

from __future__ import annotations

import numpy as np
import pytest

import cnnkit as keras
from cnnkit import layers


def _data():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 4)).astype("float32")
    y = (x @ np.array([1.0, -2.0, 0.5, 3.0], "float32"))[:, None]
    return x, y


def _build(cls):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((4,))
    outputs = layers.Dense(1)(layers.Dense(8, activation="relu")(inputs))
    model = cls(inputs, outputs)
    model.compile(keras.optimizers.SGD(0.05), "mse")
    return model


class ManualStep(keras.Model):
    """The guide's train_step, with cnnkit's autodiff in place of a backend's."""

    steps = 0

    def train_step(self, data):
        x, y = data
        y_pred = self(x, training=True)
        loss = self.compute_loss(y=y, y_pred=y_pred)
        loss.backward()
        grads = [v.grad for v in self.trainable_weights]
        for v in self.trainable_weights:
            v.grad = None
        self.optimizer.apply(grads, self.trainable_weights)
        ManualStep.steps += 1
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss)
        return {m.name: m.result() for m in self.metrics}


def test_custom_train_step_trains_like_the_built_in_one():
    x, y = _data()
    reference = _build(keras.Model)
    reference.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    custom = _build(ManualStep)
    history = custom.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    assert ManualStep.steps == 8
    for a, b in zip(reference.get_weights(), custom.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert set(history.history) == {"loss"} and len(history.history["loss"]) == 2
    assert history.history["loss"][1] < history.history["loss"][0]


class HalfLoss(keras.Model):
    def test_step(self, data):
        x, y = data
        loss = self.compute_loss(y=y, y_pred=self(x, training=False))
        return {"loss": float(loss.data) / 2, "seen": len(x)}


def test_custom_test_step_is_called_for_every_batch():
    x, y = _data()
    model = _build(HalfLoss)
    reference = _build(keras.Model)
    logs = model.evaluate(x, y, batch_size=64, verbose=0, return_dict=True)
    full = reference.evaluate(x, y, batch_size=64, verbose=0, return_dict=True)
    assert logs["seen"] == 64.0
    np.testing.assert_allclose(logs["loss"], full["loss"] / 2, rtol=1e-6)


class Doubled(keras.Model):
    def predict_step(self, data):
        return self(data, training=False).numpy() * 2


def test_custom_predict_step():
    x, _ = _data()
    model = _build(Doubled)
    plain = keras.Model.predict_step(model, x[:5])
    np.testing.assert_allclose(model.predict(x[:5], batch_size=2, verbose=0), 2 * plain, rtol=1e-6)


def test_custom_step_must_return_a_dict():
    class Broken(keras.Model):
        def train_step(self, data):
            return 1.0

    x, y = _data()
    with pytest.raises(TypeError, match="must return a dict of logs. Received: float"):
        _build(Broken).fit(x, y, epochs=1, verbose=0)
