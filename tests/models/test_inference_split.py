"""Inference shares a batch between the cores by samples (``cnnkit.models.inference``):
the split equals the whole batch, models that mix samples are never split, an error names
its slice, and training leaves the BLAS thread count as it found it."""

from __future__ import annotations

import re

import numpy as np
import pytest

from cnnkit.kernels import threads
from tests.harness import blas_threads as _blas_threads
from tests.harness import spy_on_splits

threadpoolctl = pytest.importorskip("threadpoolctl")


def test_training_leaves_the_blas_thread_count_as_it_was(two_threads):
    from cnnkit import applications

    before = _blas_threads()
    rng = np.random.default_rng(0)
    model = applications.lecture_cnn()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    x = rng.random((64, 28, 28, 1), dtype=np.float32)
    model.fit(x, rng.integers(0, 10, 64), batch_size=32, verbose=0)
    model.predict(x[:8], verbose=0)
    assert _blas_threads() == before


def _branchy_model():
    """Convolutions, batch norm, dropout, pooling and a channel concatenation: all sample-wise."""
    from cnnkit import layers
    from cnnkit.models import Model

    i = layers.Input((8, 8, 3))
    a = layers.Conv2D(4, 3, padding="same", activation="relu")(i)
    b = layers.BatchNormalization()(layers.Conv2D(4, 1)(i))
    x = layers.MaxPooling2D()(layers.Concatenate()([a, b]))
    x = layers.Dropout(0.5)(layers.Flatten()(x))
    return Model(i, layers.Dense(3, activation="softmax")(x))


def test_inference_split_by_samples_equals_the_whole_batch(two_threads, monkeypatch):
    from cnnkit.autodiff import no_grad
    from cnnkit.models import inference

    model = _branchy_model()
    bn = model.layers[3]
    bn.moving_mean.assign(np.full(4, 0.3, "float32"))  # inference uses the moving statistics
    x = np.random.default_rng(0).random((9, 8, 8, 3), dtype=np.float32)
    with no_grad():
        whole = model(x, training=False).numpy()
    calls = spy_on_splits(monkeypatch)
    with no_grad(), threads.parallel_region():
        split = inference.infer(model, x).numpy()
    assert calls == [[(0, 4), (4, 9)]]
    np.testing.assert_allclose(split, whole, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(model.predict(x, batch_size=9, verbose=0), whole, rtol=1e-6)
    assert len(calls) == 2  # predict split its batch too


def test_a_model_that_mixes_samples_is_never_split(two_threads, monkeypatch):
    from cnnkit import layers
    from cnnkit.models import Model, inference

    class Centre(layers.Layer):  # subtracts the batch mean: each output depends on the batch
        def call(self, x):
            return x - x.mean(axis=0)

    i = layers.Input((3,))
    model = Model(i, Centre()(layers.Dense(3, kernel_initializer="identity")(i)))
    x = np.arange(24, dtype="float32").reshape(8, 3)
    calls = spy_on_splits(monkeypatch)
    np.testing.assert_allclose(model.predict(x, batch_size=8, verbose=0), x - x.mean(axis=0))
    assert calls == [] and not inference.samplewise(model)


@pytest.mark.parametrize(
    "make",
    [
        lambda L: L.Concatenate(axis=0),
        lambda L: L.SimpleRNN(2, stateful=True),
        lambda L: L.Bidirectional(L.SimpleRNN(2, stateful=True)),
    ],
    ids=["concatenate-batch-axis", "stateful-rnn", "stateful-bidirectional"],
)
def test_layers_that_couple_samples_are_not_samplewise(make):
    from cnnkit import layers
    from cnnkit.models import Model, inference

    i = layers.Input((4, 2), batch_size=2)
    layer = make(layers)
    out = layer([i, i]) if isinstance(layer, layers.Concatenate) else layer(i)
    assert not inference.samplewise(Model(i, out))


def test_recurrent_and_channel_concatenation_are_samplewise():
    from cnnkit import layers
    from cnnkit.models import Model, inference

    i = layers.Input((4, 2))
    x = layers.Bidirectional(layers.LSTM(2, return_sequences=True))(i)
    out = layers.Concatenate(axis=-1)([x, layers.GRU(3, return_sequences=True)(i)])
    assert inference.samplewise(Model(i, out))


def test_an_error_in_a_split_batch_names_its_slice_and_runs_once(two_threads, monkeypatch):
    from cnnkit import layers
    from cnnkit.models import Sequential

    model = Sequential([layers.Input((4,)), layers.Dense(8)])
    calls = spy_on_splits(monkeypatch)
    runs, call = [], Sequential.__call__
    monkeypatch.setattr(
        Sequential, "__call__", lambda self, x, **kw: runs.append(len(x)) or call(self, x, **kw)
    )
    with pytest.raises(ValueError, match=r"found shape=\(5, 5\)") as info:  # a slice's
        model.predict(np.ones((10, 5), "float32"), batch_size=10, verbose=0)
    assert len(calls) == 1
    assert sorted(runs) == [5, 5]  # each slice once; the batch is not run again unsplit
    notes = info.value.__notes__
    assert re.fullmatch(
        r"Raised by samples (0-4|5-9) of a batch of 10, split between 2 threads "
        r"\(cnnkit\.models\.inference\.infer\)\.",
        notes[0],
    )
    assert notes[1:] == ["Raised in `predict` at step 0."]


def test_embedding_tables_do_not_count_as_work_worth_splitting(monkeypatch):
    from cnnkit import layers
    from cnnkit.models import Sequential, inference

    monkeypatch.setattr(threads, "_available_cpus", lambda: 2)
    lookup = Sequential(
        [
            layers.Input((10,)),
            layers.Embedding(40_000, 64),  # 2.56 M weights, but only looked up
            layers.GlobalAveragePooling1D(),
            layers.Dense(2),
        ]
    )
    dense = Sequential([layers.Input((1600,)), layers.Dense(1600)])  # 2.56 M multiply-adds
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"), threads.parallel_region():
        assert inference._slices(lookup, np.zeros((32, 10), "int32")) is None
        assert inference._slices(dense, np.zeros((32, 1600), "float32")) == [
            slice(0, 16),
            slice(16, 32),
        ]


def test_an_activity_penalty_is_computed_on_the_whole_batch(two_threads, monkeypatch):
    from cnnkit import layers
    from cnnkit.models import Sequential, inference

    model = Sequential(
        [layers.Input((3,)), layers.Dense(2, activity_regularizer="l1", use_bias=False)]
    )
    model.compile(optimizer="sgd", loss="mse")
    x, y = np.ones((8, 3), "float32"), np.zeros((8, 2), "float32")
    calls = spy_on_splits(monkeypatch)
    out = model.predict(x, batch_size=8, verbose=0)
    # mse plus 0.01 * sum |activations| over the whole batch (Keras's l1 default factor)
    expected = np.mean(out**2) + 0.01 * np.abs(out).sum()
    np.testing.assert_allclose(model.evaluate(x, y, batch_size=8, verbose=0), expected, rtol=1e-5)
    assert calls == [] and not inference.samplewise(model)
