"""ReversibleEmbedding: forward and reverse values and gradients against Keras 3, masks,
tied and untied weights, the soft cap, a model that trains, saves and loads."""

import numpy as np
import pytest

from cnnkit import layers
from cnnkit.models import Model, load_model
from tests.harness import gradcheck
from tests.layers.keras_reference import compare_with_keras

RNG = np.random.default_rng(0)
IDS = RNG.integers(0, 11, (3, 5))
HIDDEN = RNG.standard_normal((3, 5, 4)).astype("float32")


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"tie_weights": False},
        {"logit_soft_cap": 0.5},
        {"tie_weights": False, "logit_soft_cap": 2},
    ],
)
def test_reverse_projection_matches_keras(kwargs):
    keras = pytest.importorskip("keras")
    theirs = keras.layers.ReversibleEmbedding(11, 4, **kwargs)
    ours = layers.ReversibleEmbedding(11, 4, **kwargs)
    theirs(IDS)
    ours(IDS)
    assert [w.path.split("/")[-1] for w in ours.weights] == [
        w.path.split("/")[-1] for w in theirs.weights
    ]
    tied = kwargs.get("tie_weights", True)
    compare_with_keras(ours, theirs, (HIDDEN,), {"reverse": True}, grads=tied)
    compare_with_keras(ours, theirs, (IDS,), grads=tied)
    if not tied:  # each direction reaches only its own weight: compare that gradient
        import torch

        r = RNG.standard_normal((3, 5, 11)).astype("float32")
        (theirs(HIDDEN, reverse=True) * torch.as_tensor(r)).sum().backward()
        (ours(HIDDEN, reverse=True) * r).sum().backward()
        expected = theirs.reverse_embeddings.value.grad.numpy()
        np.testing.assert_allclose(ours.reverse_embeddings.grad, expected, rtol=1e-4, atol=1e-5)
        assert ours.embeddings.grad is None
    assert (
        ours.get_config().items()
        >= {
            k: v for k, v in theirs.get_config().items() if k in ("tie_weights", "logit_soft_cap")
        }.items()
    )


def test_reverse_is_the_transposed_table_and_the_soft_cap_bounds_it():
    layer = layers.ReversibleEmbedding(11, 4)
    layer(IDS)
    table = layer.embeddings.numpy()
    np.testing.assert_allclose(layer(HIDDEN, reverse=True).numpy(), HIDDEN @ table.T, rtol=1e-5)
    capped = layers.ReversibleEmbedding(11, 4, logit_soft_cap=0.01, embeddings_initializer="ones")
    capped(IDS)
    logits = capped(HIDDEN, reverse=True).numpy()
    np.testing.assert_allclose(logits, 0.01 * np.tanh(HIDDEN @ np.ones((4, 11)) / 0.01), rtol=1e-5)
    assert np.abs(logits).max() <= 0.01


@pytest.mark.parametrize("tie", [True, False])
def test_reverse_gradients_float64(tie):
    layer = layers.ReversibleEmbedding(6, 3, tie_weights=tie, logit_soft_cap=1.5, dtype="float64")
    layer(np.array([[0, 1]]))
    gradcheck(lambda h: layer(h, reverse=True), RNG.standard_normal((2, 3)))


def test_masks_forward_but_not_in_reverse():
    layer = layers.ReversibleEmbedding(11, 4, mask_zero=True)
    ids = np.array([[3, 0, 2]])
    hidden = layer(ids)
    np.testing.assert_array_equal(hidden._keras_mask, [[True, False, True]])
    assert getattr(layer(hidden, reverse=True), "_keras_mask", None) is None


def test_tied_language_model_trains_saves_and_loads(tmp_path):
    embedding = layers.ReversibleEmbedding(12, 6, tie_weights=False, name="tok")
    inputs = layers.Input((5,), dtype="int64")
    hidden = layers.Dense(6, activation="tanh")(embedding(inputs))
    logits = embedding(hidden, reverse=True)
    assert logits.shape == (None, 5, 12) and hidden.shape == (None, 5, 6)
    model = Model(inputs, logits)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    ids = RNG.integers(0, 12, (8, 5))
    before = [w.copy() for w in embedding.get_weights()]
    model.fit(ids, ids, epochs=2, verbose=0)
    assert all(not np.allclose(b, a) for b, a in zip(before, embedding.get_weights()))
    model.save(tmp_path / "lm.keras")
    loaded = load_model(tmp_path / "lm.keras")
    np.testing.assert_allclose(loaded.predict(ids, verbose=0), model.predict(ids, verbose=0))
    config = embedding.get_config()
    assert layers.ReversibleEmbedding.from_config(config).get_config() == config


def test_bad_arguments_and_inputs():
    with pytest.raises(ValueError, match="`logit_soft_cap`"):
        layers.ReversibleEmbedding(5, 2, logit_soft_cap=0)
    with pytest.raises(ValueError, match="`input_dim`"):
        layers.ReversibleEmbedding(0, 2)
    layer = layers.ReversibleEmbedding(5, 2)
    layer(np.array([[1]]))
    with pytest.raises(ValueError, match="output_dim=2"):
        layer(np.ones((1, 3), "float32"), reverse=True)
