"""``predict`` runs consecutive batches together when that cannot change any output."""

import numpy as np
import pytest

import cnnkit as keras
from cnnkit import layers
from cnnkit.autodiff import no_grad
from cnnkit.models import inference, training


def _cnn():
    i = layers.Input((8, 8, 1))
    x = layers.Conv2D(4, 3, activation="relu")(i)
    x = layers.BatchNormalization()(x)
    x = layers.Flatten()(layers.MaxPooling2D()(x))
    return keras.Model(i, layers.Dense(3, activation="softmax")(layers.Dropout(0.3)(x)))


def _data(n=100):
    return np.random.default_rng(0).random((n, 8, 8, 1), dtype=np.float32)


def _spy_on_runs(monkeypatch):
    sizes, infer = [], training.infer

    def spy(model, x):
        sizes.append(len(x))
        return infer(model, x)

    monkeypatch.setattr(training, "infer", spy)
    return sizes


def test_runs_of_batches_give_each_batch_its_own_outputs(monkeypatch):
    model, x = _cnn(), _data(100)
    with no_grad():
        one_by_one = np.concatenate(
            [model(x[i : i + 8], training=False).numpy() for i in range(0, 100, 8)]
        )
    sizes = _spy_on_runs(monkeypatch)
    np.testing.assert_allclose(model.predict(x, batch_size=8, verbose=0), one_by_one, rtol=1e-6)
    assert sizes == [100]  # 13 batches of 8 (the last of 4) in one run


def test_user_callbacks_see_every_batch(monkeypatch):
    seen = []
    callback = keras.callbacks.LambdaCallback(
        on_predict_batch_begin=lambda batch, logs: seen.append(("begin", batch)),
        on_predict_batch_end=lambda batch, logs: seen.append(("end", batch, len(logs["outputs"]))),
    )
    model = _cnn()
    sizes = _spy_on_runs(monkeypatch)
    model.predict(_data(20), batch_size=8, verbose=0, callbacks=[callback])
    assert sizes == [8, 8, 4]
    assert seen == [
        ("begin", 0), ("end", 0, 8), ("begin", 1), ("end", 1, 8), ("begin", 2), ("end", 2, 4)
    ]  # fmt: skip


def test_the_progress_bar_still_counts_every_batch(capsys):
    _cnn().predict(_data(20), batch_size=8, verbose=2)
    assert "3/3" in capsys.readouterr().out


def test_an_error_in_a_run_names_its_steps_and_runs_once(monkeypatch):
    model = keras.Sequential([layers.Input((4,)), layers.Dense(2)])
    sizes = _spy_on_runs(monkeypatch)
    with pytest.raises(ValueError, match=r"found shape=\(100, 5\)") as info:
        model.predict(np.ones((100, 5), "float32"), verbose=0)
    assert info.value.__notes__ == [
        "Raised in `predict` by the steps 0-3, whose 100 samples ran through the model as "
        "one batch."
    ]
    assert sizes == [100]  # not run again batch by batch


def test_models_that_mix_samples_or_have_open_sizes_run_batch_by_batch():
    class Centre(layers.Layer):  # each output depends on the whole batch
        def call(self, x):
            return x - x.mean(axis=0)

    i = layers.Input((3,))
    mixing = keras.Model(i, Centre()(i))
    x = np.arange(30, dtype="float32").reshape(10, 3)
    expected = np.concatenate([b - b.mean(axis=0) for b in (x[:4], x[4:8], x[8:])])
    np.testing.assert_allclose(mixing.predict(x, batch_size=4, verbose=0), expected)
    assert inference.batches_per_group(mixing, 4) == 1

    j = layers.Input((None, 3))  # sequences of any length: activation size unknown
    open_sizes = keras.Model(j, layers.GlobalAveragePooling1D()(j))
    assert inference.batches_per_group(open_sizes, 4) == 1


def test_runs_stay_under_the_activation_budget(monkeypatch):
    model = _cnn()
    per_sample = inference._activation_bytes(model)
    # float32 outputs of input 64, conv 144, batch norm 144, pool, flatten, dropout 36 each,
    # dense (softmax fused) 3
    assert per_sample == 4 * (64 + 144 * 2 + 36 * 3 + 3)
    assert inference.batches_per_group(model, 32) == 32  # 1024 samples
    monkeypatch.setattr(inference, "GROUP_ACTIVATION_BYTES", per_sample * 32 * 5)
    assert inference.batches_per_group(model, 32) == 5
    assert inference.batches_per_group(model, 2048) == 1


# -- evaluate and fit's validation ------------------------------------------------------


def _compiled():
    model = _cnn()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def test_evaluate_in_runs_equals_batch_by_batch(monkeypatch):
    model, x = _compiled(), _data(100)
    y = np.arange(100) % 3
    watcher = keras.callbacks.LambdaCallback(on_test_batch_end=lambda batch, logs: None)
    one_by_one = model.evaluate(x, y, batch_size=8, verbose=0, callbacks=[watcher])
    sizes = _spy_on_runs(monkeypatch)
    in_runs = model.evaluate(x, y, batch_size=8, verbose=0)
    assert sizes == [100]
    np.testing.assert_allclose(in_runs, one_by_one, rtol=1e-6)


def test_callbacks_without_batch_hooks_leave_validation_in_runs(monkeypatch):
    model, x = _compiled(), _data(40)
    y = np.arange(40) % 3
    sizes = _spy_on_runs(monkeypatch)
    stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=3)
    model.fit(x, y, batch_size=8, validation_data=(x, y), verbose=0, callbacks=[stop])
    assert sizes == [40]  # the validation pass: one run of its 5 batches


def test_an_error_in_an_evaluation_run_names_its_steps_and_runs_once(monkeypatch):
    model = keras.Sequential([layers.Input((4,)), layers.Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    sizes = _spy_on_runs(monkeypatch)
    with pytest.raises(ValueError, match=r"found shape=\(100, 5\)") as info:
        model.evaluate(np.ones((100, 5), "float32"), np.zeros((100, 2), "float32"), verbose=0)
    assert info.value.__notes__ == [
        "Raised in `evaluate` by the steps 0-3, whose 100 samples ran through the model as "
        "one batch."
    ]
    assert sizes == [100]


def test_which_callbacks_watch_each_batch():
    class Printer(keras.callbacks.Callback):
        def on_predict_batch_end(self, batch, logs=None):
            pass

    lam = keras.callbacks.LambdaCallback
    assert training._watches_batches([lam(on_test_batch_begin=print)], "test")
    assert not training._watches_batches([lam(on_epoch_end=print)], "test")
    assert training._watches_batches([Printer()], "predict")
    assert not training._watches_batches([Printer()], "test")
    assert not training._watches_batches(None, "predict")
