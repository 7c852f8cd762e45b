"""``keras.layers`` functions and aliases: ``serialize``/``deserialize`` and the 1-D aliases."""

import json

import numpy as np
import pytest

from cnnkit import layers
from cnnkit.saving import deserialize_keras_object, serialize_keras_object


def test_aliases_are_the_same_classes():
    assert layers.Convolution1DTranspose is layers.Conv1DTranspose
    assert layers.SeparableConvolution1D is layers.SeparableConv1D


@pytest.mark.parametrize(
    "layer",
    [
        layers.Dense(3, activation="relu", kernel_regularizer="l2", name="d"),
        layers.Hashing(4, salt=[1, 2], name="h"),
        layers.Bidirectional(layers.LSTM(2), name="bi"),
    ],
)
def test_serialize_is_the_one_serialisation(layer):
    config = layers.serialize(layer)
    assert config == serialize_keras_object(layer)
    rebuilt = layers.deserialize(json.loads(json.dumps(config)))
    assert type(rebuilt) is type(layer)
    assert rebuilt.get_config() == layer.get_config()
    assert type(deserialize_keras_object(config)) is type(layer)


def test_serialize_matches_keras_format():
    keras = pytest.importorskip("keras")
    ours = layers.serialize(layers.Conv1DTranspose(2, 3, name="c"))
    theirs = keras.layers.serialize(keras.layers.Conv1DTranspose(2, 3, name="c"))
    assert {k: ours[k] for k in ("module", "class_name")} == {
        k: theirs[k] for k in ("module", "class_name")
    }
    keras_made = layers.deserialize(theirs)  # a config written by Keras loads here
    assert isinstance(keras_made, layers.Conv1DTranspose) and keras_made.filters == 2


def test_deserialize_with_custom_objects_and_refusals():
    class Scale(layers.Layer):
        def call(self, inputs):
            return inputs * 2.0

    config = layers.serialize(Scale(name="s"))
    rebuilt = layers.deserialize(config, custom_objects={"Scale": Scale})
    np.testing.assert_allclose(rebuilt(np.ones((1, 2), "float32")).numpy(), [[2.0, 2.0]])
    with pytest.raises(TypeError, match="Could not locate class 'Scale'"):
        layers.deserialize(config)
    with pytest.raises(ValueError, match="not a `keras.layers.Layer`"):
        layers.deserialize(serialize_keras_object(__import__("cnnkit").optimizers.SGD()))
