"""What a layer says about itself: ``samplewise``, ``has_penalties`` and ``_flatten_layers``."""

from __future__ import annotations

import numpy as np
import pytest

from cnnkit import layers
from cnnkit.models import Model, Sequential, inference
from tests.harness import spy_on_splits


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
    calls = spy_on_splits(monkeypatch)
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


RNG = np.random.default_rng(0)
WORDS = np.array(["the cat sat", "a dog", "the end of it", "cat"])
# (layer, one sample's input shape or data kind): layers that declare `samplewise`; the check
# runs a batch of 4 whole and as halves, which must agree in inference.
SAMPLEWISE_CASES = {
    "Conv1DTranspose": (lambda: layers.Conv1DTranspose(2, 3, strides=2), (5, 3)),
    "DepthwiseConv1D": (lambda: layers.DepthwiseConv1D(3), (6, 2)),
    "SeparableConv1D": (lambda: layers.SeparableConv1D(2, 3), (6, 2)),
    "Conv3D": (lambda: layers.Conv3D(2, 2), (3, 4, 4, 1)),
    "Conv3DTranspose": (lambda: layers.Conv3DTranspose(2, 2, strides=2), (2, 3, 3, 1)),
    "MaxPooling3D": (lambda: layers.MaxPooling3D(2), (4, 4, 4, 1)),
    "AveragePooling3D": (lambda: layers.AveragePooling3D(2), (4, 4, 4, 1)),
    "GlobalMaxPooling3D": (lambda: layers.GlobalMaxPooling3D(), (2, 3, 3, 2)),
    "GlobalAveragePooling3D": (lambda: layers.GlobalAveragePooling3D(), (2, 3, 3, 2)),
    "SpatialDropout1D": (lambda: layers.SpatialDropout1D(0.5), (5, 3)),
    "SpatialDropout3D": (lambda: layers.SpatialDropout3D(0.5), (2, 3, 3, 2)),
    "Cropping1D": (lambda: layers.Cropping1D(1), (5, 2)),
    "Cropping3D": (lambda: layers.Cropping3D(1), (4, 4, 4, 1)),
    "ZeroPadding1D": (lambda: layers.ZeroPadding1D(1), (5, 2)),
    "ZeroPadding3D": (lambda: layers.ZeroPadding3D(1), (2, 2, 2, 1)),
    "UpSampling1D": (lambda: layers.UpSampling1D(2), (5, 2)),
    "UpSampling3D": (lambda: layers.UpSampling3D(2), (2, 2, 2, 1)),
    "Normalization": (lambda: layers.Normalization(mean=1.0, variance=4.0), (3,)),
    "CategoryEncoding": (lambda: layers.CategoryEncoding(6, "count"), "ids"),
    "Discretization": (lambda: layers.Discretization([-0.5, 0.5]), (3,)),
    "CenterCrop": (lambda: layers.CenterCrop(2, 2), (4, 4, 1)),
    "StringLookup": (lambda: layers.StringLookup(vocabulary=["cat", "a"]), "words"),
    "IntegerLookup": (lambda: layers.IntegerLookup(vocabulary=[1, 2]), "ids"),
    "TextVectorization": (
        lambda: layers.TextVectorization(vocabulary=["the", "cat"], output_sequence_length=3),
        "text",
    ),
    "RNN": (lambda: layers.RNN(layers.LSTMCell(2)), (4, 3)),
    "RNN-stacked": (lambda: layers.RNN([layers.GRUCell(2), layers.SimpleRNNCell(2)]), (4, 3)),
    "ConvLSTM1D": (lambda: layers.ConvLSTM1D(2, 2), (2, 5, 1)),
    "ConvLSTM3D": (lambda: layers.ConvLSTM3D(2, 2), (2, 3, 3, 3, 1)),
    "TimeDistributed": (lambda: layers.TimeDistributed(layers.Dense(2)), (3, 4)),
    "Identity": (lambda: layers.Identity(), (3,)),
    "Hashing": (lambda: layers.Hashing(5), "words"),
    "AdaptiveMaxPooling2D": (lambda: layers.AdaptiveMaxPooling2D(2), (5, 5, 1)),
    "ReversibleEmbedding": (lambda: layers.ReversibleEmbedding(6, 2), "ids"),
}


def _batch(kind):
    if kind == "ids":
        return RNG.integers(1, 6, (4, 3))
    if kind == "words":
        return np.array([["cat", "a"], ["dog", "cat"], ["a", "a"], ["x", "cat"]])
    if kind == "text":
        return WORDS[:, None]
    return RNG.standard_normal((4, *kind)).astype("float32")


@pytest.mark.parametrize("name", sorted(SAMPLEWISE_CASES))
def test_declared_samplewise_layers_give_the_same_outputs_on_split_batches(name):
    make, kind = SAMPLEWISE_CASES[name]
    layer = make()
    x = _batch(kind)
    assert layer._runs_samplewise()
    whole = np.asarray(layer(x))
    halves = np.concatenate([np.asarray(layer(x[:2])), np.asarray(layer(x[2:]))])
    assert whole.shape == halves.shape
    np.testing.assert_allclose(whole, halves, rtol=1e-6, atol=1e-7)


def test_layers_that_depend_on_the_batch_say_so():
    assert not layers.RNN(layers.LSTMCell(2), stateful=True)._runs_samplewise()
    assert not layers.ConvLSTM2D(2, 2, stateful=True)._runs_samplewise()
    # Without a fixed length, a text's ids are padded to the batch's longest text.
    free = layers.TextVectorization(vocabulary=["the", "cat"])
    assert not free._runs_samplewise()
    assert np.asarray(free(WORDS[:, None])).shape[1] != np.asarray(free(WORDS[3:, None])).shape[1]
    assert layers.TextVectorization(vocabulary=["the"], output_mode="count")._runs_samplewise()

    class Mixing(layers.Layer):
        def call(self, inputs, states):
            return inputs - inputs.mean(axis=0), states

    mixing = type("MixingCell", (Mixing,), {"state_size": 2})
    assert not layers.RNN(mixing())._runs_samplewise()  # a user cell decides for its RNN
