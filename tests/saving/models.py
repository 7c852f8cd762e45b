"""Small models and data shared by the saving tests."""

from __future__ import annotations

import numpy as np

from cnnkit import layers
from cnnkit.models import Model, Sequential


def seq(shape, *stack, dtype=None):
    """A Sequential model on ``Input(shape)`` and the given layers."""
    return Sequential([layers.Input(shape, dtype=dtype), *stack])


def inputs_for(model, n=3, seed=0):
    """Random data for each of the model's inputs (ints for integer inputs)."""
    rng = np.random.default_rng(seed)
    xs = []
    for tensor in model.inputs:
        shape = (n, *tensor.shape[1:])
        if tensor.dtype == "string":
            words = np.array(["the cat", "a dog sat", "the end"])
            xs.append(words[rng.integers(0, 3, size=shape)])
        elif "int" in str(tensor.dtype):
            xs.append(rng.integers(0, 10, size=shape).astype(tensor.dtype))
        else:
            xs.append(rng.standard_normal(shape).astype("float32"))
    return xs if len(xs) > 1 else xs[0]


def two_branch_model():
    """Two inputs, a shared Dense, Concatenate and Add branches (Keras orders it by depth)."""
    a, b = layers.Input((4,), name="a"), layers.Input((4,), name="b")
    shared = layers.Dense(4, name="shared")
    c = layers.Concatenate(name="cat")([shared(a), b])
    s = layers.Add(name="add")([shared(b), a])
    out = layers.Dense(3, activation="softmax", name="out")(layers.Concatenate(name="cat2")([c, s]))
    return Model([a, b], out, name="two_branch")
