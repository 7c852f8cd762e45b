"""The trainer on top of the epoch iterator: ``steps_per_execution``, errors inside a group,
and the ``compile`` options cnnkit accepts for Keras's API without a compiler."""

import warnings

import numpy as np
import pytest

import cnnkit as keras
from cnnkit import backend, layers


def _model(steps_per_execution=1, optimizer="sgd", **compile_kwargs):
    backend.set_seed(7)
    model = keras.Sequential(
        [layers.Input((3,)), layers.Dense(4, activation="relu"), layers.Dense(1)]
    )
    model.compile(
        optimizer=optimizer, loss="mse", steps_per_execution=steps_per_execution, **compile_kwargs
    )
    return model


def _data(n=40):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 3)).astype("float32")
    return x, (x @ np.array([1.0, -2.0, 0.5], "float32"))[:, None]


class _Steps(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.calls = []

    def on_train_batch_begin(self, batch, logs=None):
        self.calls.append(("begin", batch))

    def on_train_batch_end(self, batch, logs=None):
        self.calls.append(("end", batch))

    def on_test_batch_end(self, batch, logs=None):
        self.calls.append(("test_end", batch))


@pytest.mark.parametrize("shuffle", [False, True])
def test_steps_per_execution_gives_the_weights_of_one_step_at_a_time(shuffle):
    x, y = _data()
    weights = []
    for steps in (1, 4):
        model = _model(steps)
        backend.set_seed(11)  # the same shuffled order in both runs
        model.fit(x, y, batch_size=4, epochs=2, shuffle=shuffle, verbose=0)
        weights.append(model.get_weights())
    for one, grouped in zip(*weights):
        np.testing.assert_array_equal(one, grouped)


def test_callbacks_run_once_per_group_with_its_first_and_last_step():
    x, y = _data(40)
    recorder = _Steps()
    model = _model(4)
    history = model.fit(
        x, y, batch_size=4, epochs=1, verbose=0, callbacks=[recorder], validation_data=(x, y)
    )
    train = [c for c in recorder.calls if c[0] != "test_end"]
    assert train == [("begin", 0), ("end", 3), ("begin", 4), ("end", 7), ("begin", 8), ("end", 9)]
    # the user's callback watches the validation batches (of fit's batch_size): in groups too
    assert [c for c in recorder.calls if c[0] == "test_end"] == [
        ("test_end", 3), ("test_end", 7), ("test_end", 9)
    ]  # fmt: skip
    assert np.isfinite(history.history["val_loss"][0])


def test_stop_training_ends_the_epoch_after_the_group():
    x, y = _data(40)
    stopper = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: setattr(model, "stop_training", True)
    )
    recorder = _Steps()
    model = _model(3)
    model.fit(x, y, batch_size=4, epochs=3, verbose=0, callbacks=[recorder, stopper])
    assert recorder.calls == [("begin", 0), ("end", 2)]
    assert int(model.optimizer.iterations.numpy()) == 3  # each batch of the group updated


def test_the_progress_bar_counts_the_groups_steps(capsys):
    x, y = _data(40)
    _model(4).fit(x, y, batch_size=4, epochs=1, verbose=1)
    assert "10/10" in capsys.readouterr().out


def test_evaluate_and_predict_with_steps_per_execution_match_one_step_at_a_time():
    x, y = _data(40)
    watcher = [keras.callbacks.LambdaCallback(on_predict_batch_end=lambda b, logs: None)]
    one, grouped = _model(1), _model(4)
    np.testing.assert_allclose(
        grouped.predict(x, batch_size=4, verbose=0, callbacks=watcher),
        one.predict(x, batch_size=4, verbose=0),
        rtol=1e-6,
    )
    np.testing.assert_allclose(
        grouped.evaluate(x, y, batch_size=4, verbose=0, callbacks=[_Steps()]),
        one.evaluate(x, y, batch_size=4, verbose=0),
        rtol=1e-6,
    )


class _FailsOnCall(layers.Layer):
    """The identity, raising on its ``fail_at``-th call in training; counts its calls."""

    def __init__(self, fail_at, **kwargs):
        super().__init__(**kwargs)
        self.fail_at, self.calls = fail_at, 0

    def call(self, x, training=False):
        if training:
            self.calls += 1
            if self.calls == self.fail_at:
                raise RuntimeError("bad batch")
        return x


def test_an_error_in_a_group_names_its_step_and_is_not_run_again():
    failing = _FailsOnCall(fail_at=6)
    model = keras.Sequential([layers.Input((3,)), failing, layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse", steps_per_execution=4)
    x, y = _data(40)
    with pytest.raises(RuntimeError, match="bad batch") as info:
        model.fit(x, y, batch_size=4, epochs=1, verbose=0, shuffle=False)
    assert info.value.__notes__ == [
        "Raised in `fit` (epoch 0) at step 5, of the steps 4-7 run as one group "
        "(`steps_per_execution`)."
    ]
    assert failing.calls == 6  # the failing batch ran once; nothing ran again
    assert int(model.optimizer.iterations.numpy()) == 5


def test_an_error_in_a_single_step_names_it():
    failing = _FailsOnCall(fail_at=3)
    model = keras.Sequential([layers.Input((3,)), failing, layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x, y = _data(40)
    with pytest.raises(RuntimeError, match="bad batch") as info:
        model.fit(x, y, batch_size=4, epochs=2, verbose=0)
    assert info.value.__notes__ == ["Raised in `fit` (epoch 0) at step 2."]
    assert failing.calls == 3


# -- compile's options without a compiler ------------------------------------------------
def test_jit_compile_and_run_eagerly_are_accepted_and_leave_results_unchanged():
    x, y = _data()
    results = []
    for options in ({}, {"jit_compile": True}, {"run_eagerly": True, "jit_compile": False}):
        model = _model(**options)
        model.fit(x, y, batch_size=8, verbose=0, shuffle=False)
        results.append(model.get_weights())
        assert model.jit_compile is False
        assert model.run_eagerly is options.get("run_eagerly", False)
    for weights in results[1:]:
        for a, b in zip(results[0], weights):
            np.testing.assert_array_equal(a, b)


def test_compile_options_as_keras_reports_them():
    model = _model(3, run_eagerly=True)
    assert (model.steps_per_execution, model.run_eagerly, model.jit_compile) == (3, True, False)
    config = model.get_compile_config()
    assert (config["steps_per_execution"], config["run_eagerly"]) == (3, True)
    fresh = keras.Sequential([layers.Input((3,)), layers.Dense(1)])
    assert (fresh.steps_per_execution, fresh.run_eagerly, fresh.jit_compile) == (1, False, False)


def test_run_eagerly_with_jit_compile_warns_as_keras():
    with pytest.warns(UserWarning, match="If `run_eagerly` is True, then `jit_compile` cannot"):
        _model(run_eagerly=True, jit_compile=True)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"steps_per_execution": 0}, "`steps_per_execution`"),
        ({"steps_per_execution": 2.5}, "`steps_per_execution`"),
        ({"jit_compile": "xla"}, r"`jit_compile`.*Received: jit_compile='xla'"),
        ({"run_eagerly": "yes"}, r"`run_eagerly`.*Received: run_eagerly='yes'"),
    ],
)
def test_compile_refuses_bad_options(kwargs, match):
    model = keras.Sequential([layers.Input((3,)), layers.Dense(1)])
    with pytest.raises((ValueError, TypeError), match=match):
        model.compile(optimizer="sgd", loss="mse", **kwargs)
    assert not model.compiled


def test_a_loss_scale_optimizer_trains_as_its_inner_optimizer():
    x, y = _data()
    weights = []
    for optimizer in (
        keras.optimizers.SGD(0.05),
        keras.optimizers.LossScaleOptimizer(keras.optimizers.SGD(0.05), initial_scale=1024.0),
    ):
        model = _model(optimizer=optimizer)
        model.fit(x, y, batch_size=8, epochs=2, verbose=0, shuffle=False)
        weights.append(model.get_weights())
    for a, b in zip(*weights):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


def test_keras_accepts_the_same_compile_options():
    keras3 = pytest.importorskip("keras")
    model = keras3.Sequential([keras3.layers.Input((3,)), keras3.layers.Dense(1)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.compile(optimizer="sgd", loss="mse", jit_compile="auto", run_eagerly=False)
    assert model.jit_compile is False  # "auto" on the torch backend: eager, as in cnnkit
    assert model.run_eagerly is False


@pytest.mark.parametrize("kind", ["sequential", "functional"])
def test_indices_of_every_batch_are_checked_before_the_first_update(kind):
    if kind == "sequential":
        model = keras.Sequential(
            [layers.Input((2,), dtype="int32"), layers.Embedding(5, 2), layers.Flatten()]
        )
    else:
        tokens, other = layers.Input((2,), dtype="int32"), layers.Input((4,))
        flat = layers.Flatten()(layers.Embedding(5, 2)(tokens))
        model = keras.Model([tokens, other], layers.Concatenate()([flat, other]))
    model.compile(optimizer="sgd", loss="mse")
    tokens = np.zeros((40, 2), "int32")
    tokens[-1, 0] = 7  # in the last batch
    x = tokens if kind == "sequential" else [tokens, np.zeros((40, 4), "float32")]
    before = [w.copy() for w in model.get_weights()]
    with pytest.raises(ValueError, match=r"received the index 7; indices must lie in \[0, 5\)"):
        model.fit(x, np.zeros((40, 4 if kind == "sequential" else 8)), batch_size=4, verbose=0)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_steps_per_epoch_on_arrays_carries_the_data_on_as_keras():
    x, y = _data(40)  # 10 batches of 4
    seen = []
    model = keras.Sequential([layers.Input((3,)), layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    first = keras.callbacks.LambdaCallback(on_train_batch_end=lambda b, logs: seen.append(b))
    model.fit(x, y, batch_size=4, steps_per_epoch=5, epochs=4, verbose=0, callbacks=[first])
    assert seen == [0, 1, 2, 3, 4] * 4  # two epochs per pass over the data, then a new pass
    assert int(model.optimizer.iterations.numpy()) == 20
    with pytest.warns(UserWarning, match="ran out of data"):  # 3 epochs of 4 from 10 batches
        model.fit(x, y, batch_size=4, steps_per_epoch=4, epochs=3, verbose=0)
    assert model.predict(x, batch_size=4, steps=2, verbose=0).shape == (8, 1)
