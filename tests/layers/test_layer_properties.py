"""What a layer says about itself: ``samplewise``, ``has_penalties`` and ``_flatten_layers``."""

from __future__ import annotations

import numpy as np
import pytest
import threadpoolctl

from cnnkit import backend, layers
from cnnkit.models import Model, Sequential, inference


@pytest.fixture
def two_threads(monkeypatch):
    """Pretend there are two cores, and split even small batches."""
    monkeypatch.setattr(backend, "_available_cpus", lambda: 2)
    monkeypatch.setattr(backend, "MIN_FLOPS_PER_THREAD", 1)
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        yield


def _spy_on_splits(monkeypatch) -> list:
    calls, slices = [], inference._slices

    def spy(model, x):
        found = slices(model, x)
        if found is not None:
            calls.append([(s.start, s.stop) for s in found])
        return found

    monkeypatch.setattr(inference, "_slices", spy)
    return calls


class Scale(layers.Layer):
    """A new layer written like a built-in one: it declares that samples stay apart."""

    samplewise = True

    def call(self, x):
        return x * 3.0

    def compute_output_shape(self, input_shape):
        return input_shape


class UserScale(layers.Layer):
    """The same maths from a user who says nothing about samples."""

    def call(self, x):
        return x * 3.0

    def compute_output_shape(self, input_shape):
        return input_shape


class ScaleNoCall(Scale):
    """Inherits ``call``: keeps its parent's declaration."""


class ScaleNewCall(Scale):
    """Overrides ``call`` without saying anything: no longer sample-wise."""

    def call(self, x):
        return x - x.mean(axis=0)


def test_samplewise_is_declared_and_dropped_by_a_new_call():
    assert layers.Dense.samplewise and layers.Conv2D.samplewise
    assert not layers.Layer.samplewise
    assert Scale.samplewise and ScaleNoCall.samplewise
    assert not UserScale.samplewise and not ScaleNewCall.samplewise


@pytest.mark.parametrize("layer_cls, split", [(Scale, True), (UserScale, False)])
def test_only_a_declared_layer_gets_the_split_inference_path(
    two_threads, monkeypatch, layer_cls, split
):
    i = layers.Input((3,))
    model = Model(i, layer_cls()(layers.Dense(3, kernel_initializer="identity")(i)))
    x = np.arange(24, dtype="float32").reshape(8, 3)
    calls = _spy_on_splits(monkeypatch)
    out = model.predict(x, batch_size=8, verbose=0)
    np.testing.assert_allclose(out, 3.0 * x)
    assert inference.samplewise(model) is split
    assert (calls == [[(0, 4), (4, 8)]]) is split
    assert (inference.batches_per_group(model, 4) > 1) is split  # predict merges batches


def test_activity_regularizer_and_stateful_recurrence_are_not_samplewise():
    assert layers.Dense(2)._runs_samplewise()
    assert not layers.Dense(2, activity_regularizer="l2")._runs_samplewise()
    assert layers.SimpleRNN(2)._runs_samplewise()
    assert not layers.SimpleRNN(2, stateful=True)._runs_samplewise()


class Sparse(layers.Layer):
    """A user layer that adds an L1 penalty on its output with ``add_loss``."""

    def call(self, x):
        self.add_loss(0.5 * abs(x).sum())
        return x

    def compute_output_shape(self, input_shape):
        return input_shape


def test_has_penalties_follows_add_weight_activity_regularizer_and_add_loss():
    assert not Sequential([layers.Input((2,)), layers.Dense(2)]).has_penalties
    assert Sequential([layers.Input((2,)), layers.Dense(2, kernel_regularizer="l2")]).has_penalties
    assert Sequential(
        [layers.Input((2,)), layers.Dense(2, activity_regularizer="l1")]
    ).has_penalties
    sparse = Sparse()
    user = Sequential([layers.Input((2,)), sparse])
    assert not user.has_penalties  # nothing added yet
    user(np.ones((1, 2), "float32"))
    assert sparse.has_penalties and user.has_penalties


def test_a_user_layers_add_loss_reaches_the_training_loss():
    model = Sequential([layers.Input((2,)), Sparse()])
    model.compile(optimizer="sgd", loss="mse")
    x = np.array([[1.0, -2.0], [3.0, 0.5]], "float32")
    loss = model.evaluate(x, x, batch_size=2, verbose=0)
    np.testing.assert_allclose(loss, 0.5 * np.abs(x).sum(), rtol=1e-6)  # mse is 0: x -> x


def test_flatten_layers_walks_depth_first_once_each():
    shared = layers.Dense(2, name="shared")
    inner = Sequential([layers.Input((2,)), shared], name="inner")
    i = layers.Input((2,))
    outer = Model(i, shared(inner(i)), name="outer")
    names = [layer.name for layer in outer._flatten_layers()]
    assert names[0] == "outer" and names.count("shared") == 1
    assert names.index("inner") < names.index("shared")
    top = outer._flatten_layers(include_self=False, recursive=False)
    assert [layer.name for layer in top] == [layer.name for layer in outer.layers]
