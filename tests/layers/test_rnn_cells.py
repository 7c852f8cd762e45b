"""RNN with any cell, the built-in cells, StackedRNNCells, TimeDistributed, stateful layers."""

from __future__ import annotations

import numpy as np
import pytest

import cnnkit
from cnnkit import layers
from tests.harness import run_layer_test
from tests.layers.keras_reference import compare_with_keras

RNG = np.random.default_rng(0)
X = RNG.standard_normal((2, 5, 3)).astype("float32")
MASK = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], bool)


@cnnkit.saving.register_keras_serializable(package="test_rnn_cells")
class MinimalRNNCell(layers.Layer):
    """The cell of the Keras RNN guide, with ``@`` for ``keras.ops.matmul``."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.state_size = units

    def build(self, input_shape):
        self.kernel = self.add_weight((input_shape[-1], self.units), name="kernel")
        self.recurrent_kernel = self.add_weight((self.units, self.units), name="recurrent_kernel")
        self.built = True

    def call(self, inputs, states):
        prev_output = states[0]
        output = inputs @ self.kernel + prev_output @ self.recurrent_kernel
        return output, [output]

    def get_config(self):
        return {**super().get_config(), "units": self.units}


CELLS = [
    ("SimpleRNNCell", {}),
    ("SimpleRNNCell", {"activation": "relu", "use_bias": False}),
    ("LSTMCell", {}),
    ("LSTMCell", {"unit_forget_bias": False, "recurrent_activation": "tanh"}),
    ("GRUCell", {}),
    ("GRUCell", {"reset_after": False}),
]
RNN_OPTIONS = [
    {},
    {"return_sequences": True, "return_state": True},
    {"go_backwards": True, "return_sequences": True},
    {"return_sequences": True, "zero_output_for_mask": True},
]


@pytest.mark.parametrize("cell,kwargs", CELLS)
def test_cells_lifecycle(cell, kwargs):
    rnn_kwargs = {"cell": getattr(layers, cell)(4, **kwargs), "return_sequences": True}
    layer = run_layer_test(layers.RNN, rnn_kwargs, X.shape, (2, 5, 4))
    config = layer.cell.get_config()
    assert getattr(layers, cell).from_config(config).get_config() == config


@pytest.mark.parametrize("cell,kwargs", CELLS)
@pytest.mark.parametrize("options", RNN_OPTIONS)
def test_rnn_matches_keras(cell, kwargs, options):
    keras = pytest.importorskip("keras")
    ours = layers.RNN(getattr(layers, cell)(4, **kwargs), **options)
    theirs = keras.layers.RNN(getattr(keras.layers, cell)(4, **kwargs), **options)
    compare_with_keras(ours, theirs, (X,))
    compare_with_keras(ours, theirs, (X,), {"mask": MASK})
    keys = set(theirs.cell.get_config())
    assert set(ours.cell.get_config()) == keys
    assert set(ours.get_config()) == set(theirs.get_config())


def test_stacked_cells_match_keras():
    keras = pytest.importorskip("keras")
    ours = layers.RNN([layers.SimpleRNNCell(3), layers.LSTMCell(4)], return_state=True)
    theirs = keras.layers.RNN(
        [keras.layers.SimpleRNNCell(3), keras.layers.LSTMCell(4)], return_state=True
    )
    compare_with_keras(ours, theirs, (X,))
    assert ours.state_size == [3, 4, 4]


def test_cell_in_rnn_equals_the_fused_layer():
    for fused, cell in [
        (layers.LSTM(4, return_sequences=True), layers.LSTMCell(4)),
        (layers.GRU(4, return_sequences=True), layers.GRUCell(4)),
        (layers.SimpleRNN(4, return_sequences=True), layers.SimpleRNNCell(4)),
    ]:
        generic = layers.RNN(cell, return_sequences=True)
        expected = fused(X, mask=MASK).numpy()
        generic(X)
        generic.set_weights(fused.get_weights())
        np.testing.assert_allclose(generic(X, mask=MASK).numpy(), expected, atol=1e-6)


def test_minimal_cell_of_the_rnn_guide_trains_and_saves(tmp_path):
    inputs = layers.Input((None, 5))
    x = layers.RNN(MinimalRNNCell(8))(inputs)
    model = cnnkit.Model(inputs, layers.Dense(1)(x))
    model.compile(optimizer="adam", loss="mse")
    data = RNG.standard_normal((16, 6, 5)).astype("float32")
    target = data.sum(axis=(1, 2))[:, None] * 0.1
    first = model.evaluate(data, target, verbose=0)
    model.fit(data, target, epochs=20, verbose=0)
    assert model.evaluate(data, target, verbose=0) < first
    path = str(tmp_path / "minimal.keras")
    model.save(path)
    loaded = cnnkit.saving.load_model(path)
    np.testing.assert_allclose(loaded.predict(data, verbose=0), model.predict(data, verbose=0))
    cell = MinimalRNNCell(8)
    out = layers.RNN(cell, return_sequences=True)(data[:2])
    k, r = cell.kernel.numpy(), cell.recurrent_kernel.numpy()
    h = np.zeros((2, 8), "float32")
    for t in range(6):
        h = data[:2, t] @ k + h @ r
        np.testing.assert_allclose(out.numpy()[:, t], h, rtol=1e-5, atol=1e-6)


def test_saved_model_with_cells_and_time_distributed(tmp_path):
    inputs = layers.Input((5, 3))
    x = layers.TimeDistributed(layers.Dense(6))(inputs)
    x = layers.RNN([layers.GRUCell(4), layers.SimpleRNNCell(3)], return_sequences=True)(x)
    x = layers.RNN(layers.LSTMCell(2))(x)
    model = cnnkit.Model(inputs, x)
    path = str(tmp_path / "cells.keras")
    model.save(path)
    loaded = cnnkit.saving.load_model(path)
    np.testing.assert_allclose(loaded.predict(X, verbose=0), model.predict(X, verbose=0))


def test_loads_keras_rnn_cell_weights(tmp_path):
    keras = pytest.importorskip("keras")
    inputs = keras.Input((5, 3))
    x = keras.layers.TimeDistributed(keras.layers.Dense(6))(inputs)
    x = keras.layers.RNN(keras.layers.LSTMCell(4))(x)
    model = keras.Model(inputs, x)
    path = str(tmp_path / "k.keras")
    model.save(path)
    loaded = cnnkit.saving.load_model(path)
    np.testing.assert_allclose(loaded.predict(X, verbose=0), model.predict(X, verbose=0), atol=1e-5)


def test_time_distributed():
    run_layer_test(layers.TimeDistributed, {"layer": layers.Dense(4)}, (2, 5, 3), (2, 5, 4))
    run_layer_test(layers.TimeDistributed, {"layer": layers.Conv2D(2, 3)}, (2, 3, 6, 6, 1))
    keras = pytest.importorskip("keras")
    images = RNG.standard_normal((2, 3, 6, 6, 1)).astype("float32")
    compare_with_keras(
        layers.TimeDistributed(layers.Conv2D(2, 3)),
        keras.layers.TimeDistributed(keras.layers.Conv2D(2, 3)),
        (images,),
    )
    with pytest.raises(ValueError, match="at least 3"):
        layers.TimeDistributed(layers.Dense(2))(np.ones((2, 3), "float32"))


@pytest.mark.parametrize(
    "make",
    [
        lambda: layers.RNN(layers.LSTMCell(3), stateful=True),
        lambda: layers.LSTM(3, stateful=True),
        lambda: layers.RNN(layers.GRUCell(3), stateful=True, return_sequences=True),
    ],
)
def test_stateful_carries_states_until_reset(make):
    layer = make()
    first, second = X[:, :2], X[:, 2:]
    whole = make()
    layer(first)
    carried = layer(second).numpy()
    whole(X)
    whole.set_weights(layer.get_weights())
    whole.reset_states()
    full = whole(X).numpy()
    np.testing.assert_allclose(carried, full[:, -3:] if full.ndim == 3 else full, atol=1e-6)
    layer.reset_states()
    layer(first)  # after a reset, the first chunk starts from zeros again
    np.testing.assert_allclose(layer(second).numpy(), carried, atol=1e-6)
    with pytest.raises(ValueError, match="batch size"):
        layer(X[:1])


def test_initial_state_and_dropout():
    cell = layers.LSTMCell(3, dropout=0.5, recurrent_dropout=0.5, seed=1)
    layer = layers.RNN(cell, return_state=True)
    h0, c0 = np.ones((2, 3), "float32"), np.zeros((2, 3), "float32")
    out, h, c = layer(X, initial_state=[h0, c0])
    again = layer(X, initial_state=[h0, c0])[0]
    np.testing.assert_array_equal(out.numpy(), again.numpy())  # inference: no dropout
    assert not np.allclose(layer(X, initial_state=[h0, c0], training=True)[0].numpy(), out)
    assert not np.allclose(layer(X)[0].numpy(), out.numpy())  # zeros differ from h0 = 1
    with pytest.raises(ValueError, match="initial state"):
        layer(X, initial_state=[h0])


def test_invalid_arguments():
    with pytest.raises(ValueError, match="state_size"):
        layers.RNN(layers.Dense(3))
    with pytest.raises(ValueError, match="units"):
        layers.LSTMCell(0)
    with pytest.raises(ValueError, match="dropout"):
        layers.GRUCell(2, dropout=2.0)
    with pytest.raises(ValueError, match="ndim"):
        layers.RNN(layers.SimpleRNNCell(2))(np.ones((2, 3), "float32"))


CONV_LSTM = [
    ("ConvLSTM2D", {"filters": 3, "kernel_size": 3}, (2, 3, 5, 5, 2)),
    (
        "ConvLSTM2D",
        {
            "filters": 2,
            "kernel_size": (3, 2),
            "padding": "same",
            "return_sequences": True,
            "return_state": True,
        },
        (2, 3, 5, 4, 2),
    ),
    ("ConvLSTM2D", {"filters": 2, "kernel_size": 3, "strides": 2}, (2, 2, 6, 6, 1)),
    ("ConvLSTM1D", {"filters": 3, "kernel_size": 3, "return_sequences": True}, (2, 3, 6, 2)),
    ("ConvLSTM1D", {"filters": 2, "kernel_size": 2, "go_backwards": True}, (2, 3, 6, 2)),
    ("ConvLSTM3D", {"filters": 2, "kernel_size": 2}, (2, 3, 3, 4, 4, 2)),
    (
        "ConvLSTM3D",
        {
            "filters": 3,
            "kernel_size": (2, 3, 2),
            "padding": "same",
            "strides": (1, 2, 1),
            "return_sequences": True,
            "return_state": True,
        },
        (2, 2, 3, 5, 4, 1),
    ),
    ("ConvLSTM3D", {"filters": 2, "kernel_size": 2, "dilation_rate": 2}, (1, 2, 5, 5, 5, 1)),
]


@pytest.mark.parametrize("name,kwargs,shape", CONV_LSTM)
def test_conv_lstm_matches_keras(name, kwargs, shape):
    x = RNG.standard_normal(shape).astype("float32")
    if not kwargs.get("return_state"):
        run_layer_test(getattr(layers, name), kwargs, shape)
    keras = pytest.importorskip("keras")
    ours, theirs = getattr(layers, name)(**kwargs), getattr(keras.layers, name)(**kwargs)
    compare_with_keras(ours, theirs, (x,))
    config, expected = ours.get_config(), theirs.get_config()
    assert set(config) == set(expected)
    for key in ("filters", "kernel_size", "strides", "padding", "return_sequences"):
        assert config[key] == expected[key]


def test_conv_lstm_saves_and_rejects_bad_input(tmp_path):
    inputs = layers.Input((3, 5, 5, 1))
    model = cnnkit.Model(inputs, layers.ConvLSTM2D(2, 3, padding="same")(inputs))
    path = str(tmp_path / "convlstm.keras")
    model.save(path)
    x = RNG.standard_normal((2, 3, 5, 5, 1)).astype("float32")
    loaded = cnnkit.saving.load_model(path)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    with pytest.raises(ValueError, match="ndim=5"):
        layers.ConvLSTM2D(2, 3)(np.ones((2, 3, 5, 1), "float32"))
    with pytest.raises(ValueError, match="dilation_rate"):
        layers.ConvLSTM2D(2, 3, strides=2, dilation_rate=2)
    with pytest.raises(ValueError, match="ndim=6"):
        layers.ConvLSTM3D(2, 3)(np.ones((2, 3, 5, 5, 1), "float32"))


def test_conv_lstm_3d_trains_saves_and_loads(tmp_path):
    inputs = layers.Input((2, 3, 4, 4, 1))
    model = cnnkit.Model(inputs, layers.ConvLSTM3D(2, 2, padding="same", dropout=0.1)(inputs))
    model.compile(optimizer="adam", loss="mse")
    x = RNG.standard_normal((3, 2, 3, 4, 4, 1)).astype("float32")
    before = [w.copy() for w in model.get_weights()]
    model.fit(x, np.zeros((3, 3, 4, 4, 2), "float32"), epochs=1, verbose=0)
    assert all(not np.allclose(b, a) for b, a in zip(before, model.get_weights()))
    path = str(tmp_path / "convlstm3d.keras")
    model.save(path)
    loaded = cnnkit.saving.load_model(path)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
