"""Attention layers and EinsumDense: lifecycle, Keras 3 numerics, masks, saving, errors."""

from __future__ import annotations

import numpy as np
import pytest

import cnnkit
from cnnkit import layers
from tests.harness import run_layer_test
from tests.layers.keras_reference import compare_with_keras

RNG = np.random.default_rng(0)
Q = RNG.standard_normal((2, 4, 6)).astype("float32")
V = RNG.standard_normal((2, 5, 3)).astype("float32")
K = RNG.standard_normal((2, 5, 7)).astype("float32")


def _lifecycle(cls, kwargs, inputs, call_kwargs=None):
    """Eager and symbolic shapes agree, config round-trips, one fit step changes every weight."""
    call_kwargs = dict(call_kwargs or {})
    layer = cls(**kwargs)
    out = layer(*inputs, **call_kwargs)
    out = out[0] if isinstance(out, tuple) else out
    listed = isinstance(inputs[0], list)  # Attention takes one list
    arrays = inputs[0] if listed else inputs
    symbolic_inputs = [layers.Input(x.shape[1:]) for x in arrays]
    fresh = cls(**kwargs)
    sym = fresh(*([symbolic_inputs] if listed else symbolic_inputs), **call_kwargs)
    sym = sym[0] if isinstance(sym, list) else sym
    assert sym.shape == (None, *out.shape[1:])
    config = layer.get_config()
    assert cls.from_config(config).get_config() == config
    model = cnnkit.Model(symbolic_inputs, sym)
    model.compile(optimizer="sgd", loss="mse")
    before = model.get_weights()
    model.train_on_batch(list(arrays), np.ones(out.shape, "float32"))
    for w, b, a in zip(model.weights, before, model.get_weights()):
        if not w.path.endswith("key/bias"):  # softmax ignores a shift of every score of a row
            assert not np.allclose(a, b), w.path
    return layer


def _unpack(cls, args):
    """Attention/AdditiveAttention take one list; the multi-head layers take tensors."""
    return ([list(args)],) if cls in ("Attention", "AdditiveAttention") else args


@pytest.mark.parametrize(
    "kwargs",
    [
        {"num_heads": 2, "key_dim": 3},
        {"num_heads": 2, "key_dim": 3, "value_dim": 5, "output_shape": 7, "use_bias": False},
        {"num_heads": 3, "key_dim": 2, "use_gate": True, "dropout": 0.2},
    ],
)
def test_multi_head_attention_lifecycle(kwargs):
    layer = _lifecycle(layers.MultiHeadAttention, kwargs, (Q, V, K))
    assert layer.num_heads == kwargs["num_heads"]


def test_attention_layers_lifecycle():
    _lifecycle(
        layers.GroupedQueryAttention,
        {"head_dim": 3, "num_query_heads": 4, "num_key_value_heads": 2},
        (Q, V),
    )
    q = RNG.standard_normal((2, 4, 3)).astype("float32")
    _lifecycle(layers.AdditiveAttention, {}, ([q, V],))
    _lifecycle(layers.Attention, {"use_scale": True, "score_mode": "concat"}, ([q, V],))


def test_einsum_dense_lifecycle():
    run_layer_test(
        layers.EinsumDense,
        {"equation": "abc,cde->abde", "output_shape": (None, 2, 4), "bias_axes": "de"},
        (2, 3, 5),
        expected_output_shape=(2, 3, 2, 4),
    )
    run_layer_test(
        layers.EinsumDense,
        {"equation": "...b,bc->...c", "output_shape": 4, "activation": "relu"},
        (2, 3, 5),
        expected_output_shape=(2, 3, 4),
    )


def test_einsum_dense_variance_scaling_uses_einsum_fans():
    layer = layers.EinsumDense("abc,cde->abde", output_shape=(None, 64, 16))
    layer.build((None, 3, 32))
    limit = np.sqrt(6.0 / (32 + 64 * 16))  # fan_in 32, fan_out 64*16
    kernel = layer.kernel.numpy()
    assert np.abs(kernel).max() <= limit
    assert np.abs(kernel).max() > 0.9 * limit


def test_causal_mask_and_scores_by_hand():
    layer = layers.MultiHeadAttention(num_heads=1, key_dim=2, use_bias=False)
    x = RNG.standard_normal((1, 3, 2)).astype("float32")
    _, scores = layer(x, x, return_attention_scores=True, use_causal_mask=True)
    scores = scores.numpy()[0, 0]
    assert np.allclose(np.triu(scores, 1), 0.0)
    np.testing.assert_allclose(scores.sum(-1), 1.0, rtol=1e-6)
    wq, wk = (layer.weights[i].numpy()[:, 0, :] for i in (0, 1))
    logits = (x[0] @ wq) @ (x[0] @ wk).T / np.sqrt(2.0)
    logits[np.triu_indices(3, 1)] = -np.inf
    expected = np.exp(logits - logits.max(-1, keepdims=True))
    np.testing.assert_allclose(scores, expected / expected.sum(-1, keepdims=True), rtol=1e-5)


def test_timestep_masks_from_embedding_reach_attention():
    tokens = np.array([[3, 5, 0, 0], [2, 0, 0, 0]])
    emb = layers.Embedding(10, 6, mask_zero=True)
    x = emb(tokens)
    layer = layers.MultiHeadAttention(num_heads=2, key_dim=3)
    out, scores = layer(x, x, return_attention_scores=True)
    scores = scores.numpy()
    assert np.allclose(scores[0, :, :2, 2:], 0.0)  # padded keys get no weight
    assert np.allclose(scores[1, :, 0, 1:], 0.0)
    np.testing.assert_array_equal(out._keras_mask, tokens != 0)
    explicit = layer(
        x.numpy(), x.numpy(), attention_mask=(tokens != 0)[:, None, :] & (tokens != 0)[:, :, None]
    )
    np.testing.assert_allclose(explicit.numpy()[0, :2], out.numpy()[0, :2], rtol=1e-6)


def test_dropout_only_in_training():
    layer = layers.MultiHeadAttention(num_heads=2, key_dim=3, dropout=0.5, seed=1)
    a = layer(Q, V).numpy()
    np.testing.assert_array_equal(a, layer(Q, V, training=False).numpy())
    assert not np.allclose(a, layer(Q, V, training=True).numpy())


def test_invalid_arguments():
    with pytest.raises(ValueError, match="num_heads"):
        layers.MultiHeadAttention(num_heads=0, key_dim=2)
    with pytest.raises(ValueError, match="key_dim"):
        layers.MultiHeadAttention(num_heads=2, key_dim=-1)
    with pytest.raises(ValueError, match="dropout"):
        layers.MultiHeadAttention(num_heads=2, key_dim=2, dropout=1.5)
    with pytest.raises(ValueError, match="except the last one"):
        layers.MultiHeadAttention(num_heads=2, key_dim=2)(Q, V, K[:, :3])
    with pytest.raises(ValueError, match="divisible"):
        layers.GroupedQueryAttention(head_dim=2, num_query_heads=3, num_key_value_heads=2)
    with pytest.raises(ValueError, match="score_mode"):
        layers.Attention(score_mode="cosine")
    with pytest.raises(ValueError, match="list of inputs"):
        layers.Attention()(Q)
    with pytest.raises(ValueError, match="Invalid einsum equation"):
        layers.EinsumDense("ab->b", output_shape=3)
    with pytest.raises(ValueError, match="Weight dimension 'z'"):
        layers.EinsumDense("ab,bzc->ac", output_shape=3)(np.ones((2, 3), "float32"))
    with pytest.raises(ValueError, match="Dimension 'c' was specified"):
        layers.EinsumDense("ab,bz->ac", output_shape=3)(np.ones((2, 3), "float32"))


def test_saved_model_round_trip(tmp_path):
    inputs = layers.Input((4, 6))
    x = layers.MultiHeadAttention(2, 3, value_dim=2)(inputs, inputs, use_causal_mask=True)
    x = layers.GroupQueryAttention(2, 2, 1)(x, inputs)
    model = cnnkit.Model(inputs, layers.EinsumDense("abc,cd->abd", (None, 5), bias_axes="d")(x))
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = cnnkit.saving.load_model(path)
    np.testing.assert_allclose(loaded.predict(Q, verbose=0), model.predict(Q, verbose=0))


# -- Keras 3 -----------------------------------------------------------------------------
MHA_CASES = [
    ({"num_heads": 2, "key_dim": 3}, (Q, V), {}),
    ({"num_heads": 2, "key_dim": 3}, (Q, V, K), {"return_attention_scores": True}),
    (
        {"num_heads": 2, "key_dim": 3, "value_dim": 5, "output_shape": 7, "use_gate": True},
        (Q, V),
        {"attention_mask": np.tile(np.tril(np.ones((4, 5), bool)), (2, 1, 1))},
    ),
    ({"num_heads": 3, "key_dim": 2, "use_bias": False}, (Q, Q), {"use_causal_mask": True}),
    (
        {"num_heads": 2, "key_dim": 3, "attention_axes": (1, 2)},
        (RNG.standard_normal((2, 3, 4, 6)).astype("float32"),) * 2,
        {"return_attention_scores": True},
    ),
    ({"num_heads": 2, "key_dim": 3, "sliding_window": 2}, (Q, Q), {"use_causal_mask": True}),
]


@pytest.mark.parametrize("kwargs,args,call_kwargs", MHA_CASES)
def test_multi_head_attention_matches_keras(kwargs, args, call_kwargs):
    keras = pytest.importorskip("keras")
    ours = layers.MultiHeadAttention(**kwargs)
    theirs = keras.layers.MultiHeadAttention(**kwargs)
    compare_with_keras(ours, theirs, args, call_kwargs)
    assert set(ours.get_config()) == set(theirs.get_config())


@pytest.mark.parametrize("use_gate", [False, True])
def test_grouped_query_attention_matches_keras(use_gate):
    keras = pytest.importorskip("keras")
    kwargs = {"head_dim": 3, "num_query_heads": 4, "num_key_value_heads": 2, "use_gate": use_gate}
    ours, theirs = layers.GroupQueryAttention(**kwargs), keras.layers.GroupQueryAttention(**kwargs)
    compare_with_keras(ours, theirs, (Q, V, V * 2), {"use_causal_mask": True})
    compare_with_keras(ours, theirs, (Q, V), {"return_attention_scores": True})
    assert set(ours.get_config()) == set(theirs.get_config())


@pytest.mark.parametrize(
    "cls,kwargs",
    [
        ("Attention", {}),
        ("Attention", {"use_scale": True}),
        ("Attention", {"use_scale": True, "score_mode": "concat"}),
        ("AdditiveAttention", {}),
        ("AdditiveAttention", {"use_scale": False}),
    ],
)
@pytest.mark.parametrize("with_key", [False, True])
def test_dot_and_additive_attention_match_keras(cls, kwargs, with_key):
    keras = pytest.importorskip("keras")
    q = RNG.standard_normal((2, 4, 3)).astype("float32")
    inputs = [q, V, RNG.standard_normal((2, 5, 3)).astype("float32")] if with_key else [q, V]
    ours, theirs = getattr(layers, cls)(**kwargs), getattr(keras.layers, cls)(**kwargs)
    compare_with_keras(ours, theirs, (inputs,), {"return_attention_scores": True})
    compare_with_keras(ours, theirs, (inputs,), {"use_causal_mask": True})
    mask = [np.ones((2, 4), bool), np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 0]], bool)]
    compare_with_keras(ours, theirs, (inputs,), {"mask": mask})
    assert {**ours.get_config(), "name": 0} == {
        **theirs.get_config(),
        "dtype": "float32",
        "name": 0,
    }


def test_einsum_dense_matches_keras():
    keras = pytest.importorskip("keras")
    x = RNG.standard_normal((2, 3, 5)).astype("float32")
    for kwargs in [
        {"equation": "abc,cde->abde", "output_shape": (None, 2, 4), "bias_axes": "de"},
        {"equation": "...b,bc->...c", "output_shape": 4, "bias_axes": "c", "activation": "tanh"},
        {"equation": "abc,bd->adc", "output_shape": (4, 5), "bias_axes": "d"},
    ]:
        compare_with_keras(layers.EinsumDense(**kwargs), keras.layers.EinsumDense(**kwargs), (x,))


def test_loads_a_keras_saved_attention_model(tmp_path):
    keras = pytest.importorskip("keras")
    inputs = keras.Input((4, 6))
    x = keras.layers.MultiHeadAttention(2, 3)(inputs, inputs)
    x = keras.layers.LayerNormalization()(x)
    model = keras.Model(inputs, x)
    path = str(tmp_path / "k.keras")
    model.save(path)
    loaded = cnnkit.saving.load_model(path)
    expected = model.predict(Q, verbose=0)
    np.testing.assert_allclose(loaded.predict(Q, verbose=0), expected, atol=1e-5)
