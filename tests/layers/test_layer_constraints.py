"""Weight constraints on the attention, einsum, normalisation and PReLU layers: applied after
each optimizer step (as Dense's), saved in the config, and in Keras's config format."""

import numpy as np
import pytest

from cnnkit import constraints, layers
from cnnkit.models import Model, load_model
from cnnkit.saving import deserialize_keras_object, serialize_keras_object

RNG = np.random.default_rng(0)

# name -> (layer with constraints, input shape of one sample, the constrained weight names)
CASES = {
    "EinsumDense": (
        lambda: layers.EinsumDense(
            "ab,bc->ac", 3, bias_axes="c", kernel_constraint="non_neg", bias_constraint="non_neg"
        ),
        (4,),
        ("kernel", "bias"),
    ),
    "PReLU": (lambda: layers.PReLU(alpha_constraint="non_neg"), (4,), ("alpha",)),
    "LayerNormalization": (
        lambda: layers.LayerNormalization(beta_constraint="non_neg", gamma_constraint="non_neg"),
        (4,),
        ("gamma", "beta"),
    ),
    "GroupNormalization": (
        lambda: layers.GroupNormalization(2, beta_constraint="non_neg", gamma_constraint="non_neg"),
        (4,),
        ("gamma", "beta"),
    ),
}


def _model(make, shape):
    inputs = layers.Input(shape)
    layer = make()
    x = layers.Dense(4, kernel_initializer="identity")(inputs) if shape == (4,) else inputs
    return Model(inputs, layers.Dense(1)(layer(x))), layer


@pytest.mark.parametrize("name", sorted(CASES))
def test_constraint_applies_after_each_step(name):
    make, shape, weights = CASES[name]
    model, layer = _model(make, shape)
    free, free_layer = _model(lambda: type(layer).from_config(_unconstrained(layer)), shape)
    # Start the constrained weights negative: the step alone leaves some negative, and the
    # constraint (applied after it, as Keras does) must clip exactly those.
    for w in layer.weights:
        if w.name in weights:
            w.assign(-0.01 * np.ones(w.shape, "float32"))
    free.set_weights(model.get_weights())
    x = RNG.standard_normal((16, *shape)).astype("float32")
    y = RNG.standard_normal((16, 1)).astype("float32")
    for m in (model, free):
        m.compile(optimizer="sgd", loss="mse")
        m.train_on_batch(x, y)
    clipped = 0
    for w, w_free in zip(layer.weights, free_layer.weights):
        if w.name in weights:
            assert w.constraint is not None and w_free.constraint is None
            np.testing.assert_allclose(w.numpy(), np.maximum(w_free.numpy(), 0), atol=1e-7)
            clipped += int((w_free.numpy() < 0).sum())
        else:
            np.testing.assert_allclose(w.numpy(), w_free.numpy(), rtol=1e-6)
    assert clipped > 0


def _unconstrained(layer):
    config = layer.get_config()
    return {k: (None if k.endswith("_constraint") else v) for k, v in config.items()}


def test_multi_head_attention_constrains_every_projection(tmp_path):
    q = layers.Input((3, 4))
    mha = layers.MultiHeadAttention(
        2, 2, kernel_constraint=constraints.MaxNorm(0.5), bias_constraint="non_neg"
    )
    model = Model(q, mha(q, q))
    model.compile(optimizer="sgd", loss="mse")
    x = RNG.standard_normal((8, 3, 4)).astype("float32")
    model.fit(x, 50 * np.ones((8, 3, 4), "float32"), epochs=2, verbose=0)
    for w in mha.weights:
        if w.name == "kernel":
            assert isinstance(w.constraint, constraints.MaxNorm)
            assert np.sqrt((w.numpy() ** 2).sum(axis=0)).max() <= 0.5 + 1e-6
        else:
            assert (w.numpy() >= 0).all()
    config = mha.get_config()
    assert config["kernel_constraint"]["class_name"] == "MaxNorm"
    model.save(tmp_path / "m.keras")
    loaded = load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    gqa = layers.GroupedQueryAttention(2, 2, 1, kernel_constraint="unit_norm")
    gqa(x, x)
    assert all(
        isinstance(w.constraint, constraints.UnitNorm) for w in gqa.weights if w.name == "kernel"
    )


@pytest.mark.parametrize(
    "name, kwargs",
    [
        (
            "EinsumDense",
            {"equation": "ab,bc->ac", "output_shape": 3, "kernel_constraint": "non_neg"},
        ),
        ("PReLU", {"alpha_constraint": "non_neg"}),
        ("LayerNormalization", {"gamma_constraint": "max_norm"}),
        ("GroupNormalization", {"groups": 2, "beta_constraint": "non_neg"}),
        ("MultiHeadAttention", {"num_heads": 2, "key_dim": 2, "bias_constraint": "non_neg"}),
    ],
)
def test_constraint_configs_match_keras(name, kwargs):
    keras = pytest.importorskip("keras")
    ours, theirs = getattr(layers, name)(**kwargs), getattr(keras.layers, name)(**kwargs)
    for key in [k for k in kwargs if k.endswith("_constraint")]:
        assert ours.get_config()[key] == keras.constraints.serialize(theirs.get_config()[key]) or (
            ours.get_config()[key] == theirs.get_config()[key]
        )
    rebuilt = deserialize_keras_object(serialize_keras_object(ours))
    assert rebuilt.get_config() == ours.get_config()
