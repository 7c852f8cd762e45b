"""Embedding, Masking, Conv1D, 1-D pooling and the timestep masks that flow between them."""

from __future__ import annotations

import numpy as np
import pytest

import cnnkit as keras
from cnnkit import backend, layers
from cnnkit.kernels.conv import _pads
from tests.harness import gradcheck, run_layer_test

# -- Embedding -------------------------------------------------------------------------


def test_embedding_gathers_rows_of_the_table():
    layer = layers.Embedding(6, 3)
    x = np.array([[5, 0, 2], [1, 1, 4]])
    out = layer(x).numpy()
    table = layer.embeddings.numpy()
    assert out.shape == (2, 3, 3) and out.dtype == np.float32
    np.testing.assert_array_equal(out, table[x])
    assert np.all(np.abs(table) <= 0.05)  # Keras's "uniform": U(-0.05, 0.05)


def test_embedding_accepts_floats_holding_integers_and_any_rank():
    layer = layers.Embedding(6, 2)
    out = layer(np.array([[[1.0, 2.0]], [[3.0, 0.0]]], "float32"))
    assert out.shape == (2, 1, 2, 2)
    np.testing.assert_array_equal(out.numpy()[1, 0, 0], layer.embeddings.numpy()[3])


def test_embedding_gradient_sums_repeated_rows():
    with backend.floatx_scope("float64"):
        layer = layers.Embedding(5, 3)
        layer.build()
    indices = np.array([[1, 1, 4], [0, 1, 3]])

    def fn(table):
        layer.embeddings = table
        return layer.call(keras.autodiff.Tensor(indices))

    gradcheck(fn, layer.embeddings.numpy())


def test_embedding_weights_argument_and_config_round_trip():
    table = np.arange(12, dtype="float32").reshape(4, 3)
    layer = layers.Embedding(4, 3, weights=[table], mask_zero=True, name="emb")
    np.testing.assert_array_equal(layer(np.array([[3, 1]])).numpy()[0], table[[3, 1]])
    config = layer.get_config()
    assert config["input_dim"] == 4 and config["output_dim"] == 3 and config["mask_zero"]
    assert layers.Embedding.from_config(config).get_config() == config


def test_embedding_input_length_sets_the_input_shape():
    model = keras.Sequential([layers.Embedding(10, 4, input_length=7), layers.Flatten()])
    assert model.output_shape == (None, 28)


def test_embedding_training_changes_only_the_rows_used():
    model = keras.Sequential([layers.Input((3,)), layers.Embedding(8, 2), layers.Flatten()])
    model.compile(optimizer="sgd", loss="mse")
    before = model.get_weights()[0]
    model.train_on_batch(np.array([[1, 2, 2]]), np.ones((1, 6), "float32"))
    after = model.get_weights()[0]
    changed = np.flatnonzero(np.any(before != after, axis=1))
    np.testing.assert_array_equal(changed, [1, 2])


@pytest.mark.parametrize("bad, shown", [(10, "10"), (-1, "-1")])
def test_embedding_index_out_of_range_names_the_layer_and_index(bad, shown):
    layer = layers.Embedding(10, 2, name="words")
    with pytest.raises(
        ValueError, match=rf'"words" \(Embedding with input_dim=10\).*index {shown}'
    ):
        layer(np.array([[1, bad]]))


def test_fit_checks_every_index_before_changing_weights():
    model = keras.Sequential([layers.Input((4,)), layers.Embedding(10, 2), layers.Flatten()])
    model.add(layers.Dense(1))
    model.compile(optimizer="sgd", loss="mse")
    x = np.ones((40, 4), "int32")
    x[-1, 2] = 12  # only the last batch is bad
    before = model.get_weights()
    with pytest.raises(ValueError, match=r"index 12.*\[0, 10\)"):
        model.fit(x, np.zeros(40), batch_size=4, verbose=0)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_embedding_rejects_bad_arguments():
    with pytest.raises(ValueError, match=r"`input_dim`.*Received input_dim=0"):
        layers.Embedding(0, 3)
    with pytest.raises(ValueError, match=r"`output_dim`.*Received output_dim=-2"):
        layers.Embedding(3, -2)


def test_ragged_sequences_get_a_padding_hint():
    model = keras.Sequential([layers.Input((3,)), layers.Embedding(10, 2), layers.Flatten()])
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match=r"ragged.*sample 1 has 2.*pad_sequences"):
        model.fit([[1, 2, 3], [4, 5]], np.zeros((2, 6)), verbose=0)


# -- masks -------------------------------------------------------------------------------


def test_mask_zero_gives_a_mask_that_dense_and_dropout_pass_on():
    i = layers.Input((4,))
    x = layers.Embedding(10, 3, mask_zero=True)(i)
    x = layers.Dense(5)(x)
    x = layers.Dropout(0.5)(x)
    out = layers.GlobalAveragePooling1D()(x)
    model = keras.Model(i, out)
    tokens = np.array([[0, 0, 3, 7], [5, 0, 0, 0]])
    dense_out = keras.Model(i, model.layers[3].output).predict(tokens, verbose=0)
    expected = np.stack([dense_out[0, 2:].mean(0), dense_out[1, :1].mean(0)])
    np.testing.assert_allclose(model.predict(tokens, verbose=0), expected, rtol=1e-6)


def test_masked_average_ignores_what_padding_holds():
    i = layers.Input((5,))
    x = layers.Embedding(20, 4, mask_zero=True)(i)
    model = keras.Model(i, layers.GlobalAveragePooling1D()(x))
    short = model.predict(np.array([[0, 0, 0, 4, 9]]), verbose=0)
    emb = model.layers[1].embeddings.numpy()
    np.testing.assert_allclose(short[0], emb[[4, 9]].mean(0), rtol=1e-6)


def test_layers_without_mask_support_drop_the_mask():
    emb = layers.Embedding(10, 2, mask_zero=True)
    out = layers.Flatten()(emb(np.array([[1, 0]])))
    assert out._keras_mask is None


def test_masking_layer_zeroes_and_marks_padded_steps():
    x = np.array([[[1.0, 2.0], [-1.0, -1.0], [0.0, 3.0]]], "float32")
    out = layers.Masking(mask_value=-1.0)(x)
    np.testing.assert_array_equal(out._keras_mask, [[True, False, True]])
    np.testing.assert_array_equal(out.numpy(), [[[1, 2], [0, 0], [0, 3]]])
    assert layers.Masking(-1.0).get_config()["mask_value"] == -1.0


# -- Conv1D -----------------------------------------------------------------------------


def _conv1d_reference(x, kernel, bias, stride, padding, dilation):
    k = kernel.shape[0]
    out_len, before, after = _pads(x.shape[1], k, stride, padding, dilation)
    xpad = np.pad(x, ((0, 0), (before, after), (0, 0)))
    out = np.zeros((x.shape[0], out_len, kernel.shape[2]))
    for t in range(out_len):
        for j in range(k):
            out[:, t] += xpad[:, t * stride + j * dilation] @ kernel[j]
    return out + bias


@pytest.mark.parametrize("padding", ["valid", "same", "causal", "full"])
@pytest.mark.parametrize("stride, dilation", [(1, 1), (2, 1), (1, 2)])
def test_conv1d_matches_a_loop_reference(padding, stride, dilation):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 11, 3)).astype("float32")
    layer = layers.Conv1D(4, 3, strides=stride, padding=padding, dilation_rate=dilation)
    layer.build(x.shape)
    layer.bias.assign(rng.standard_normal(4))
    out = layer(x).numpy()
    ref = _conv1d_reference(x, layer.kernel.numpy(), layer.bias.numpy(), stride, padding, dilation)
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-5)
    assert out.shape == layer.compute_output_shape(x.shape)


def test_causal_conv1d_does_not_see_the_future():
    layer = layers.Conv1D(2, 3, padding="causal")
    x = np.random.default_rng(1).standard_normal((1, 8, 2)).astype("float32")
    changed = x.copy()
    changed[0, 5:] += 1.0
    np.testing.assert_array_equal(layer(x).numpy()[0, :5], layer(changed).numpy()[0, :5])


@pytest.mark.parametrize("padding", ["same", "causal"])
def test_conv1d_gradients(padding):
    with backend.floatx_scope("float64"):
        layer = layers.Conv1D(3, 3, padding=padding, dilation_rate=2, activation="tanh")
        layer.build((None, 7, 2))
    rng = np.random.default_rng(2)

    def fn(x, kernel, bias):
        layer.kernel, layer.bias = kernel, bias
        return layer.call(x)

    gradcheck(fn, rng.standard_normal((2, 7, 2)), layer.kernel.numpy(), rng.standard_normal(3))


def test_conv1d_lifecycle_and_kernel_layout():
    layer = run_layer_test(
        layers.Conv1D, {"filters": 5, "kernel_size": 3, "padding": "causal"}, (2, 9, 4)
    )
    assert layer.kernel.shape == (3, 4, 5)
    assert layer.get_config()["kernel_size"] == (3,)


def test_conv1d_errors_name_the_problem():
    with pytest.raises(ValueError, match=r"padding"):
        layers.Conv1D(2, 3, padding="reflect")
    with pytest.raises(ValueError, match=r"input length 2 is too small"):
        layers.Conv1D(2, 3)(np.ones((1, 2, 1), "float32"))
    with pytest.raises(ValueError, match=r"expected ndim=3"):
        layers.Conv1D(2, 3)(np.ones((1, 5, 5, 1), "float32"))


# -- 1-D pooling -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "cls, reduce", [(layers.MaxPooling1D, np.max), (layers.AveragePooling1D, np.mean)]
)
@pytest.mark.parametrize("pool, stride", [(2, None), (3, 1), (3, 2)])
def test_pooling1d_matches_windows(cls, reduce, pool, stride):
    x = np.random.default_rng(3).standard_normal((2, 9, 3)).astype("float32")
    out = cls(pool, stride)(x).numpy()
    step = stride or pool
    ref = np.stack(
        [reduce(x[:, t * step : t * step + pool], axis=1) for t in range(out.shape[1])], 1
    )
    assert out.shape[1] == (9 - pool) // step + 1
    np.testing.assert_allclose(out, ref, rtol=1e-6)


def test_pooling1d_same_padding_and_lifecycle():
    run_layer_test(layers.MaxPooling1D, {"pool_size": 2, "padding": "same"}, (2, 7, 3), (2, 4, 3))
    run_layer_test(layers.AveragePooling1D, {"pool_size": 3, "strides": 2}, (2, 7, 3), (2, 3, 3))
    run_layer_test(layers.GlobalMaxPooling1D, {"keepdims": True}, (2, 7, 3), (2, 1, 3))
    run_layer_test(layers.GlobalAveragePooling1D, {}, (2, 7, 3), (2, 3))


def test_global_pooling1d_values_and_gradients():
    x = np.random.default_rng(4).standard_normal((2, 5, 3))
    np.testing.assert_allclose(layers.GlobalMaxPooling1D()(x.astype("float32")), x.max(1), 1e-6)
    mask = np.array([[True, True, False, False, True], [False, True, True, True, True]])
    with backend.floatx_scope("float64"):
        gap = layers.GlobalAveragePooling1D()
        gmp = layers.GlobalMaxPooling1D()
        out = gap(x, mask=mask).numpy()
        ref = np.stack([x[n][mask[n]].mean(0) for n in range(2)])
        np.testing.assert_allclose(out, ref, rtol=1e-12)
        gradcheck(lambda t: gap.call(t, mask=mask), x)
        gradcheck(lambda t: gmp.call(t), x)


def test_text_cnn_learns_which_token_is_present():
    rng = np.random.default_rng(5)
    x = rng.integers(2, 30, (400, 12))
    y = rng.integers(0, 2, 400)
    x[y == 1, rng.integers(0, 12, int(y.sum()))] = 1  # token 1 marks the positive class
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            layers.Input((12,)),
            layers.Embedding(30, 8),
            layers.Conv1D(16, 3, padding="same", activation="relu"),
            layers.GlobalMaxPooling1D(),
            layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(0.01), loss="binary_crossentropy", metrics=["accuracy"]
    )
    model.fit(x, y, epochs=8, batch_size=32, verbose=0)
    assert model.evaluate(x, y, verbose=0)[1] > 0.95
