"""The text classifiers: parameter counts by hand, shapes, errors, and that they learn."""

import numpy as np
import pytest

import cnnkit as keras
from cnnkit.applications import lstm_classifier, text_cnn


def test_text_cnn_parameter_count_by_hand():
    v, d, f, k = 1000, 64, 128, 5
    expected = v * d + (k * d * f + f) + (k * f * f + f) + (f * 64 + 64) + (64 + 1)
    model = text_cnn(v, sequence_length=100)
    assert model.count_params() == expected
    assert model.output_shape == (None, 1)
    assert text_cnn(v, classes=4).output_shape == (None, 4)


def test_lstm_classifier_parameter_count_by_hand():
    v, d, u = 1000, 64, 64
    expected = v * d + 4 * (d * u + u * u + u) + (u + 1)
    model = lstm_classifier(v, sequence_length=100)
    assert model.count_params() == expected
    assert lstm_classifier(v, classes=3).output_shape == (None, 3)


def test_text_models_take_sequences_of_any_length():
    x = np.random.default_rng(0).integers(1, 50, (3, 37))
    assert text_cnn(50).predict(x, verbose=0).shape == (3, 1)
    assert lstm_classifier(50).predict(x, verbose=0).shape == (3, 1)


@pytest.mark.parametrize("builder", [text_cnn, lstm_classifier])
def test_text_models_reject_bad_arguments(builder):
    with pytest.raises(ValueError, match=r"`vocab_size`.*Received vocab_size=0"):
        builder(0)
    with pytest.raises(ValueError, match=r"`classes`.*Received classes=1"):
        builder(100, classes=1)
    with pytest.raises(ValueError, match=r"`sequence_length`.*Received sequence_length=-3"):
        builder(100, sequence_length=-3)


def _keyword_data(n=300, length=20, seed=0):
    """Class 1 when token 1 ("free") appears anywhere; zero padding before short texts."""
    rng = np.random.default_rng(seed)
    x = rng.integers(2, 40, (n, length))
    y = rng.integers(0, 2, n)
    pads = rng.integers(0, length // 2, n)
    x[np.arange(length) < pads[:, None]] = 0
    rows = np.flatnonzero(y == 1)
    x[rows, rng.integers(pads[rows], length)] = 1
    return x, y


@pytest.mark.parametrize(
    "builder, kwargs, epochs",
    [(text_cnn, {"kernel_size": 3, "pool_size": 2}, 6), (lstm_classifier, {"units": 16}, 10)],
)
def test_text_models_learn_a_keyword_task(builder, kwargs, epochs):
    keras.utils.set_random_seed(1)
    x, y = _keyword_data()
    model = builder(40, sequence_length=20, **kwargs)
    model.compile(
        optimizer=keras.optimizers.Adam(0.01), loss="binary_crossentropy", metrics=["accuracy"]
    )
    model.fit(x, y, epochs=epochs, batch_size=32, verbose=0)
    x_test, y_test = _keyword_data(seed=1)
    assert model.evaluate(x_test, y_test, verbose=0)[1] > 0.9
