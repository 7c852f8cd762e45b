"""Recurrent layers: lifecycle, Keras's equations for the layers' own weights, masks, states,
dropout, Bidirectional, a model that learns, and argument errors."""

from __future__ import annotations

import numpy as np
import pytest

from cnnkit import layers, regularizers
from cnnkit.autodiff import Tensor
from cnnkit.layers import GRU, LSTM, Bidirectional, Input, SimpleRNN
from cnnkit.models import Model, Sequential
from cnnkit.optimizers import Adam
from tests.harness import run_layer_test
from tests.kernels.test_recurrent import gru_step, lstm_step, run_reference, simple_rnn_step

RNG = np.random.default_rng(0)
X = RNG.standard_normal((3, 5, 4))
MASK = np.array([[True, True, True, False, False], [False, True, True, True, True]] + [[True] * 5])


def _reference(layer, x, mask=None, initial_state=None):
    """Keras's step-by-step equations run with the layer's own weights (float64)."""
    kernel, rk, *bias = [w.astype(np.float64) for w in layer.get_weights()]
    bias = bias[0] if bias else None
    units = layer.units
    if isinstance(layer, LSTM):
        step = lstm_step(kernel, rk, bias, layer.activation, layer.recurrent_activation)
        count = 2
    elif isinstance(layer, GRU):
        step = gru_step(kernel, rk, bias, layer.reset_after, layer.activation,
                        layer.recurrent_activation)  # fmt: skip
        count = 1
    else:
        step = simple_rnn_step(kernel, rk, bias, layer.activation)
        count = 1
    states = initial_state or [np.zeros((x.shape[0], units))] * count
    return run_reference(step, x, list(states), mask, layer.go_backwards,
                         layer.zero_output_for_mask)  # fmt: skip


# -- lifecycle -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cls", "kwargs", "expected"),
    [
        (SimpleRNN, {"units": 3}, (2, 3)),
        (SimpleRNN, {"units": 3, "return_sequences": True, "activation": "relu"}, (2, 5, 3)),
        (LSTM, {"units": 3}, (2, 3)),
        (LSTM, {"units": 3, "return_sequences": True, "go_backwards": True}, (2, 5, 3)),
        (GRU, {"units": 3}, (2, 3)),
        (GRU, {"units": 3, "reset_after": False, "return_sequences": True}, (2, 5, 3)),
        (Bidirectional, {"layer": LSTM(3, return_sequences=True)}, (2, 5, 6)),
        (Bidirectional, {"layer": GRU(3), "merge_mode": "sum"}, (2, 3)),
        (Bidirectional, {"layer": SimpleRNN(3), "merge_mode": "mul"}, (2, 3)),
        (Bidirectional, {"layer": LSTM(3), "merge_mode": "ave"}, (2, 3)),
    ],
)
def test_layer_lifecycle(cls, kwargs, expected):
    run_layer_test(cls, kwargs, (2, 5, 4), expected)


def test_weights_have_keras_names_shapes_and_initializers():
    lstm = LSTM(3)
    lstm.build((None, 5, 4))
    assert [(w.name, w.shape) for w in lstm.weights] == [
        ("kernel", (4, 12)),
        ("recurrent_kernel", (3, 12)),
        ("bias", (12,)),
    ]
    np.testing.assert_array_equal(lstm.bias.numpy(), np.repeat([0, 1, 0, 0], 3))  # forget: 1
    rk = lstm.recurrent_kernel.numpy().astype(np.float64)
    np.testing.assert_allclose(rk @ rk.T, np.eye(3), atol=1e-6)  # orthogonal rows
    assert lstm.kernel.dtype == np.float32
    no_forget = LSTM(3, unit_forget_bias=False)
    no_forget.build((None, 5, 4))
    np.testing.assert_array_equal(no_forget.bias.numpy(), 0.0)
    gru = GRU(3, reset_after=False, use_bias=True)
    gru.build((None, 5, 4))
    assert [w.shape for w in gru.weights] == [(4, 9), (3, 9), (9,)]
    plain = SimpleRNN(3, use_bias=False)
    plain.build((None, 5, 4))
    assert [w.name for w in plain.weights] == ["kernel", "recurrent_kernel"]


def test_config_keys_are_keras_s():
    rnn_keys = {"name", "trainable", "dtype", "return_sequences", "return_state",
                "go_backwards", "stateful", "unroll", "zero_output_for_mask", "units",
                "activation", "use_bias", "kernel_initializer", "recurrent_initializer",
                "bias_initializer", "kernel_regularizer", "recurrent_regularizer",
                "bias_regularizer", "activity_regularizer", "kernel_constraint",
                "recurrent_constraint", "bias_constraint", "dropout", "recurrent_dropout",
                "seed"}  # fmt: skip
    assert set(SimpleRNN(2).get_config()) == rnn_keys
    assert set(LSTM(2).get_config()) == rnn_keys | {"recurrent_activation", "unit_forget_bias"}
    assert set(GRU(2).get_config()) == rnn_keys | {"recurrent_activation", "reset_after"}
    config = LSTM(2, activation=None, kernel_regularizer="l2", seed=3).get_config()
    assert config["activation"] == "linear" and config["seed"] == 3
    clone = LSTM.from_config(config)
    assert isinstance(clone.kernel_regularizer, regularizers.L2)


# -- values against Keras's equations --------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda: SimpleRNN(3, return_sequences=True, dtype="float64"),
        lambda: SimpleRNN(3, activation="relu", go_backwards=True, dtype="float64"),
        lambda: LSTM(3, return_sequences=True, dtype="float64", bias_initializer="normal"),
        lambda: LSTM(3, go_backwards=True, return_sequences=True, dtype="float64"),
        lambda: LSTM(3, activation="relu", recurrent_activation="hard_sigmoid", dtype="float64"),
        lambda: GRU(3, return_sequences=True, dtype="float64", bias_initializer="normal"),
        lambda: GRU(3, reset_after=False, go_backwards=True, dtype="float64"),
        lambda: GRU(3, reset_after=False, return_sequences=True, dtype="float64", use_bias=False),
    ],
)
@pytest.mark.parametrize("masked", [False, True])
def test_outputs_follow_keras_equations(make, masked):
    layer = make()
    mask = MASK if masked else None
    out = layer(X, mask=mask)
    expected, _ = _reference(layer, X, mask)
    expected = expected if layer.return_sequences else expected[:, -1]
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12, atol=1e-14)
    if masked and layer.return_sequences:
        np.testing.assert_array_equal(out._keras_mask, MASK)  # the mask passes through
    assert getattr(out, "_keras_mask", None) is None or layer.return_sequences


def test_float32_layer_matches_the_reference():
    layer = LSTM(4, return_sequences=True)
    out = layer(X.astype(np.float32))
    assert out.dtype == np.float32
    expected, _ = _reference(layer, X.astype(np.float32).astype(np.float64))
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-5, atol=1e-6)


def test_return_state_and_initial_state():
    layer = LSTM(3, return_sequences=True, return_state=True, dtype="float64")
    h0, c0 = RNG.standard_normal((3, 3)), RNG.standard_normal((3, 3))
    outputs, h, c = layer(X, initial_state=[h0, c0], mask=MASK)
    expected, (eh, ec) = _reference(layer, X, MASK, [h0, c0])
    np.testing.assert_allclose(outputs.numpy(), expected, rtol=1e-12)
    np.testing.assert_allclose(h.numpy(), eh, rtol=1e-12)
    np.testing.assert_allclose(c.numpy(), ec, rtol=1e-12)
    assert layer.compute_output_shape((None, 5, 4)) == [(None, 5, 3), (None, 3), (None, 3)]
    assert [t.shape for t in layer(Input((5, 4)))] == [(None, 5, 3), (None, 3), (None, 3)]
    assert np.asarray(outputs._keras_mask).shape == (3, 5) and h._keras_mask is None
    gru_out, gru_h = GRU(3, return_state=True)(X)
    np.testing.assert_array_equal(gru_out.numpy(), gru_h.numpy())


def test_initial_states_from_other_layers_in_a_functional_model():
    enc_in, dec_in = Input((5, 4)), Input((2, 4))
    _, h, c = LSTM(3, return_state=True, name="encoder")(enc_in)
    decoder = LSTM(3, return_sequences=True, name="decoder")
    model = Model([enc_in, dec_in], decoder(dec_in, initial_state=[h, c]))
    x_dec = RNG.standard_normal((3, 2, 4)).astype(np.float32)
    predicted = model.predict([X.astype(np.float32), x_dec], verbose=0)
    _, h_eager, c_eager = model.get_layer("encoder")(X.astype(np.float32))
    expected = decoder(x_dec, initial_state=[h_eager, c_eager]).numpy()
    np.testing.assert_allclose(predicted, expected, rtol=1e-6)
    model.compile(optimizer="sgd", loss="mse")
    before = model.get_layer("encoder").get_weights()[0].copy()
    model.train_on_batch([X.astype(np.float32), x_dec], np.zeros((3, 2, 3), np.float32))
    assert not np.allclose(model.get_layer("encoder").get_weights()[0], before)  # reached


def test_masks_from_embedding_make_padding_invisible():
    emb = layers.Embedding(10, 4, mask_zero=True)
    lstm = LSTM(3)
    tokens = np.array([[5, 7]])
    short = lstm(emb(tokens)).numpy()
    pre = lstm(emb(np.array([[0, 0, 5, 7]]))).numpy()
    post = lstm(emb(np.array([[5, 7, 0, 0]]))).numpy()
    np.testing.assert_allclose(pre, short, rtol=1e-6)
    np.testing.assert_allclose(post, short, rtol=1e-6)
    model = Sequential([Input((4,)), layers.Embedding(10, 4, mask_zero=True), GRU(3)])
    out = model.predict(np.array([[0, 3, 4, 0], [3, 4, 0, 0]]), verbose=0)
    np.testing.assert_allclose(out[0], out[1], rtol=1e-6)


def test_hand_made_mask_on_a_tensor():
    x = Tensor(X)
    x._keras_mask = MASK
    layer = SimpleRNN(3, dtype="float64")
    np.testing.assert_allclose(layer(x).numpy(), layer(X, mask=MASK).numpy())


def test_stateful_layer_carries_states_across_calls():
    whole = LSTM(3, return_sequences=True)
    whole.build((None, 5, 4))
    split = LSTM(3, return_sequences=True, stateful=True)
    split.build((None, 5, 4))
    split.set_weights(whole.get_weights())
    x = X.astype(np.float32)
    first, second = split(x[:, :2]).numpy(), split(x[:, 2:]).numpy()
    np.testing.assert_allclose(np.concatenate([first, second], 1), whole(x).numpy(), rtol=1e-5)
    split.reset_state()
    np.testing.assert_allclose(split(x[:, :2]).numpy(), first)
    with pytest.raises(ValueError, match="stateful .* received a batch of 2"):
        split(x[:2])


# -- dropout -----------------------------------------------------------------------------


def test_dropout_only_in_training_one_mask_per_sequence():
    layer = LSTM(3, dropout=0.5, recurrent_dropout=0.3, seed=1)
    x = X.astype(np.float32)
    inference = layer(x).numpy()
    np.testing.assert_array_equal(layer(x, training=False).numpy(), inference)
    assert not np.allclose(layer(x, training=True).numpy(), inference)
    dmask, rmask = layer._dropout_masks(True, 3, 4, "float32")
    assert dmask.shape == (4, 3, 4) and rmask.shape == (4, 3, 3)  # a mask per gate
    assert set(np.unique(dmask)) <= {0.0, np.float32(2.0)}
    shared, none = LSTM(3, dropout=0.5)._dropout_masks(True, 3, 4, "float32")
    assert shared.shape == (1, 3, 4) and none is None
    per_gate, _ = GRU(3, dropout=0.5, implementation=1)._dropout_masks(True, 3, 4, "float32")
    assert per_gate.shape == (3, 3, 4)
    a = LSTM(3, dropout=0.5, seed=4)._dropout_masks(True, 3, 4, "float32")[0]
    b = LSTM(3, dropout=0.5, seed=4)._dropout_masks(True, 3, 4, "float32")[0]
    np.testing.assert_array_equal(a, b)


# -- Bidirectional -------------------------------------------------------------------------


@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave", None])
def test_bidirectional_merges_forward_and_reversed_backward(merge_mode):
    inner = GRU(3, return_sequences=True, dtype="float64", name="enc")
    bi = Bidirectional(inner, merge_mode=merge_mode, dtype="float64")
    out = bi(X, mask=MASK)
    fwd, bwd = bi.forward_layer, bi.backward_layer
    assert (fwd.name, bwd.name, fwd.go_backwards, bwd.go_backwards) == (
        "forward_enc",
        "backward_enc",
        False,
        True,
    )
    assert bi.weights == fwd.weights + bwd.weights
    y, _ = _reference(fwd, X, MASK)
    y_rev, _ = _reference(bwd, X, MASK)
    y_rev = y_rev[:, ::-1]  # back in input order; masked steps are zeros in both
    assert np.all(y[~MASK] == 0) and np.all(y_rev[~MASK] == 0)
    expected = {
        "concat": lambda: np.concatenate([y, y_rev], axis=-1),
        "sum": lambda: y + y_rev,
        "mul": lambda: y * y_rev,
        "ave": lambda: (y + y_rev) / 2,
        None: lambda: [y, y_rev],
    }[merge_mode]()
    if merge_mode is None:
        assert len(out) == 2
        for o, e in zip(out, expected):
            np.testing.assert_allclose(o.numpy(), e, rtol=1e-12, atol=1e-15)
            np.testing.assert_array_equal(o._keras_mask, MASK)
    else:  # atol: "sum" of two near-opposite float64 values may round differently
        np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12, atol=1e-15)
        np.testing.assert_array_equal(out._keras_mask, MASK)
    shape = (3, 5, 6) if merge_mode == "concat" else (3, 5, 3)
    expected_shape = [shape, shape] if merge_mode is None else shape
    assert bi.compute_output_shape((3, 5, 4)) == expected_shape


def test_bidirectional_states_weights_and_backward_layer():
    bi = Bidirectional(LSTM(2, return_state=True), weights=None)
    out, fh, fc, bh, bc = bi(X.astype(np.float32))
    assert out.shape == (3, 4) and fh.shape == bc.shape == (3, 2)
    np.testing.assert_array_equal(out.numpy(), np.concatenate([fh.numpy(), bh.numpy()], -1))
    assert bi.compute_output_shape((None, 5, 4)) == [(None, 4)] + [(None, 2)] * 4
    weights = [w + 1 for w in bi.get_weights()]
    again = Bidirectional(LSTM(2, return_state=True), weights=weights)
    again(X.astype(np.float32))
    for a, b in zip(again.get_weights(), weights):
        np.testing.assert_array_equal(a, b)
    custom = Bidirectional(LSTM(2), backward_layer=GRU(2, go_backwards=True, name="back"))
    assert custom(X.astype(np.float32)).shape == (3, 4)
    assert custom.backward_layer.name == "back"
    clone = Bidirectional.from_config(custom.get_config())
    assert isinstance(clone.backward_layer, GRU) and clone.get_config() == custom.get_config()


# -- learning ------------------------------------------------------------------------------


def test_lstm_learns_the_sign_of_a_sum():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1000, 8, 1)).astype(np.float32)
    x = x[np.abs(x.sum(axis=(1, 2))) > 0.5]  # a margin around the decision boundary
    y = (x.sum(axis=(1, 2)) > 0).astype(np.float32)[:, None]
    model = Sequential([Input((8, 1)), LSTM(8), layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=Adam(learning_rate=0.01), loss="binary_crossentropy",
                  metrics=["accuracy"])  # fmt: skip
    model.fit(x[:600], y[:600], epochs=10, batch_size=32, verbose=0)
    _, accuracy = model.evaluate(x[600:], y[600:], verbose=0)
    assert accuracy > 0.9


def test_stacked_bidirectional_gru_with_dropout_trains():
    rng = np.random.default_rng(1)
    x = rng.integers(1, 20, size=(64, 6))
    x[:32, :2] = 0  # padding
    y = (x[:, -1] > 10).astype(np.float32)[:, None]
    model = Sequential([
        Input((6,)),
        layers.Embedding(20, 4, mask_zero=True),
        Bidirectional(GRU(4, return_sequences=True, dropout=0.2, recurrent_dropout=0.2)),
        SimpleRNN(4, kernel_regularizer="l2"),
        layers.Dense(1, activation="sigmoid"),
    ])  # fmt: skip
    model.compile(optimizer="adam", loss="binary_crossentropy")
    history = model.fit(x, y, epochs=3, batch_size=16, verbose=0)
    assert np.isfinite(history.history["loss"]).all()


# -- errors --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda: LSTM(0), ValueError, r"LSTM: invalid value for argument `units`.*units=0"),
        (lambda: GRU(2.5), ValueError, r"units=2.5"),
        (lambda: SimpleRNN(True), ValueError, r"units=True"),
        (lambda: LSTM(2, dropout=1.5), ValueError, r"`dropout`.*between 0 and 1.*1.5"),
        (lambda: GRU(2, recurrent_dropout=-0.1), ValueError, r"recurrent_dropout=-0.1"),
        (lambda: LSTM(2, activation="softmax"), ValueError, r"activation='softmax'"),
        (lambda: GRU(2, recurrent_activation=print), ValueError, r"recurrent_activation="),
        (lambda: LSTM(2, kernel_constraint="max_nom"), ValueError, r"constraint identifier"),
        (lambda: LSTM(2, use_cudnn="yes"), ValueError, r"use_cudnn='yes'"),
        (lambda: GRU(2, implementation=3), ValueError, r"implementation=3"),
        (lambda: SimpleRNN(2, seed="a"), ValueError, r"`seed` must be an int"),
        (lambda: SimpleRNN(2, recurrent_activation="tanh"), TypeError, r"Unrecognized"),
        (lambda: Bidirectional("lstm"), ValueError, r"Layer` instance"),
        (lambda: Bidirectional(layers.Dense(2)), ValueError, r"needs a recurrent layer"),
        (lambda: Bidirectional(LSTM(2), merge_mode="max"), ValueError, r"Invalid merge mode"),
        (
            lambda: Bidirectional(LSTM(2), backward_layer=LSTM(2)),
            ValueError,
            r"different `go_backwards`",
        ),
        (
            lambda: Bidirectional(
                LSTM(2), backward_layer=LSTM(2, go_backwards=True, return_sequences=True)
            ),
            ValueError,
            r'same value for attribute "return_sequences"',
        ),  # fmt: skip
    ],
)
def test_invalid_arguments(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_invalid_calls():
    with pytest.raises(ValueError, match=r'layer "lstm_2d".*expected ndim=3.*\(2, 4\)'):
        LSTM(2, name="lstm_2d")(np.ones((2, 4), np.float32))
    layer = LSTM(2)
    with pytest.raises(ValueError, match=r"expects 2 initial state\(s\) \(h, c\)"):
        layer(X, initial_state=[np.zeros((3, 2))])
    with pytest.raises(ValueError, match=r"initial state `c` must have shape \(3, 2\)"):
        layer(X, initial_state=[np.zeros((3, 2)), np.zeros((3, 3))])
    with pytest.raises(ValueError, match=r"features\) .* should be defined"):
        GRU(2)(Input((5, None)))
    with pytest.raises(ValueError, match=r"expected axis -1 of input shape to have value 4"):
        layer(np.ones((3, 5, 6), np.float32))
