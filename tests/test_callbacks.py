"""Built-in callbacks on a tiny model: when they act, what they write, how they fail.

Monitored values are scripted: a ``Script`` callback placed before the one under
test writes ``logs[key] = values[epoch]``, so each test states exactly the
sequence the callback sees (the logs dict is shared by the callbacks, in order).
"""

from __future__ import annotations

import csv
import os

import numpy as np
import pytest

from cnnkit import callbacks, optimizers
from cnnkit.layers import Dense, Input
from cnnkit.models import Sequential


def blobs(n=60, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((3, 4)) * 3
    y = rng.integers(0, 3, n)
    return (centers[y] + rng.standard_normal((n, 4))).astype("float32"), y


def tiny_model(optimizer=None):
    model = Sequential([Input((4,)), Dense(3, activation="softmax")])
    model.compile(
        optimizer=optimizer or optimizers.Adam(0.01),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def fit(model, cbs, epochs=6, **kwargs):
    """60 samples in batches of 20: 3 steps per epoch."""
    x, y = blobs()
    kwargs.setdefault("batch_size", 20)
    return model.fit(x, y, epochs=epochs, callbacks=cbs, verbose=0, **kwargs)


class Script(callbacks.Callback):
    """Writes ``logs[key] = values[epoch]`` for the callbacks after it."""

    def __init__(self, values, key="score"):
        super().__init__()
        self.values, self.key = values, key

    def on_epoch_end(self, epoch, logs=None):
        logs[self.key] = self.values[epoch]


class Snapshots(callbacks.Callback):
    """The model's weights and learning rate at each epoch end."""

    def __init__(self):
        super().__init__()
        self.weights, self.rates = [], []

    def on_epoch_end(self, epoch, logs=None):
        self.weights.append(self.model.get_weights())
        self.rates.append(float(self.model.optimizer.learning_rate))


def same_weights(a, b):
    return all(np.array_equal(u, v) for u, v in zip(a, b, strict=True))


def no_temp_files(folder):
    return [name for name in os.listdir(folder) if name.startswith(".") or name.endswith(".tmp")]


# -- EarlyStopping ------------------------------------------------------------------
@pytest.mark.parametrize(
    "values, kwargs, epochs_run",
    [
        ([5, 4, 4.5, 4.2, 4.1, 3.0], {"patience": 2}, 4),
        ([5, 4, 4.5, 4.2, 4.1, 3.0], {"patience": 0}, 3),
        ([5, 4, 4.5, 4.2, 4.1, 3.0], {"patience": 5}, 6),
        ([5, 4.7, 4.4, 4.1, 3.8, 3.5], {"patience": 1}, 6),
        ([5, 4.7, 4.4, 4.1, 3.8, 3.5], {"patience": 1, "min_delta": 0.5}, 2),
        ([5, 4.7, 4.4, 4.1, 3.8, 3.5], {"patience": 1, "min_delta": -0.5}, 2),  # |min_delta|
        ([5, 4, 4.5, 4.2, 4.1, 3.0], {"patience": 2, "baseline": 3.0}, 3),
        ([5, 2, 2.5, 2.4, 2.3, 1.0], {"patience": 2, "baseline": 3.0}, 4),
        ([1, 2, 3, 4, 5, 6], {"patience": 1}, 2),
        ([1, 2, 3, 4, 5, 6], {"patience": 1, "start_from_epoch": 2}, 4),
        ([1, 2, 3, 4, 5, 6], {"patience": 1, "mode": "max"}, 6),
    ],
)
def test_early_stopping_stops_at_the_keras_epoch(values, kwargs, epochs_run):
    kwargs.setdefault("mode", "min")
    stopper = callbacks.EarlyStopping(monitor="score", **kwargs)
    history = fit(tiny_model(), [Script(values), stopper])
    assert len(history.epoch) == epochs_run
    assert stopper.stopped_epoch == (epochs_run - 1 if epochs_run < 6 else 0)


def test_early_stopping_restores_the_best_weights_exactly(capsys):
    snapshots = Snapshots()
    stopper = callbacks.EarlyStopping(
        monitor="score", patience=2, restore_best_weights=True, verbose=1
    )
    model = tiny_model()
    history = fit(model, [Script([3, 1, 2, 2.5, 0, 0]), snapshots, stopper])
    assert history.epoch == [0, 1, 2, 3]
    assert stopper.best_epoch == 1 and stopper.best == 1
    assert not same_weights(snapshots.weights[1], snapshots.weights[3])
    assert same_weights(model.get_weights(), snapshots.weights[1])
    out = capsys.readouterr().out
    assert "Epoch 4: early stopping" in out
    assert "Restoring model weights from the end of the best epoch: 2." in out


def test_early_stopping_restores_even_without_beating_the_baseline():
    snapshots = Snapshots()
    stopper = callbacks.EarlyStopping(
        monitor="score", patience=3, baseline=0.5, restore_best_weights=True
    )
    model = tiny_model()
    history = fit(model, [Script([3, 1, 2, 2.5, 0, 0]), snapshots, stopper])
    assert history.epoch == [0, 1, 2]
    assert same_weights(model.get_weights(), snapshots.weights[1])


def test_early_stopping_auto_mode_maximises_accuracy_and_minimises_loss():
    up = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]
    assert len(fit(tiny_model(), [Script(up, "val_accuracy"), _es("val_accuracy")]).epoch) == 6
    assert len(fit(tiny_model(), [Script(up, "val_loss"), _es("val_loss")]).epoch) == 2
    assert len(fit(tiny_model(), [Script(up, "my_auc"), _es("my_auc")]).epoch) == 6
    assert len(fit(tiny_model(), [Script(up, "mae"), _es("mae")]).epoch) == 2


def _es(monitor):
    return callbacks.EarlyStopping(monitor=monitor, patience=1)


def test_early_stopping_on_real_validation_loss_can_be_reused():
    stopper = callbacks.EarlyStopping(patience=1)
    x, y = blobs()
    model = tiny_model(optimizers.SGD(0.0))  # nothing improves after epoch 0
    for _ in range(2):
        history = model.fit(x, y, epochs=5, validation_data=(x, y), callbacks=[stopper], verbose=0)
        assert history.epoch == [0, 1]


def test_early_stopping_warns_when_the_metric_is_missing():
    with pytest.warns(UserWarning, match="Early stopping conditioned on metric `nope`"):
        history = fit(tiny_model(), [callbacks.EarlyStopping(monitor="nope")], epochs=2)
    assert history.epoch == [0, 1]


def test_early_stopping_validates_its_arguments():
    with pytest.raises(ValueError, match="`patience`.*Received: patience=-1"):
        callbacks.EarlyStopping(patience=-1)
    with pytest.raises(ValueError, match="`restore_best_weights`"):
        callbacks.EarlyStopping(restore_best_weights="yes")
    with pytest.raises(ValueError, match="`monitor`"):
        callbacks.EarlyStopping(monitor=None)
    with pytest.raises(ValueError, match="`baseline`"):
        callbacks.EarlyStopping(baseline="low")
    with pytest.warns(UserWarning, match="mode 'sideways' is unknown, fallback to auto"):
        assert callbacks.EarlyStopping(mode="sideways").mode == "auto"


# -- ModelCheckpoint ------------------------------------------------------------------
def saved_weights(path):
    """The weights in a ``.weights.h5`` file, loaded into a fresh tiny model."""
    model = tiny_model()
    model.load_weights(path)
    return model.get_weights()


def test_checkpoint_writes_one_weights_file_per_epoch(tmp_path):
    snapshots = Snapshots()
    path = tmp_path / "ckpt" / "{epoch:02d}.weights.h5"
    model = tiny_model()
    fit(model, [snapshots, callbacks.ModelCheckpoint(path, save_weights_only=True)], epochs=3)
    folder = tmp_path / "ckpt"
    assert sorted(os.listdir(folder)) == ["01.weights.h5", "02.weights.h5", "03.weights.h5"]
    for epoch in range(3):
        assert same_weights(
            saved_weights(folder / f"{epoch + 1:02d}.weights.h5"), snapshots.weights[epoch]
        )
    assert no_temp_files(folder) == []


def test_checkpoint_weights_files_use_the_keras_layout(tmp_path):
    h5py = pytest.importorskip("h5py")
    model = tiny_model()
    fit(
        model,
        [callbacks.ModelCheckpoint(tmp_path / "w.weights.h5", save_weights_only=True)],
        epochs=1,
    )
    with h5py.File(tmp_path / "w.weights.h5", "r") as f:
        assert f["layers/dense/vars/0"].shape == (4, 3)
        assert f["layers/dense/vars/1"].shape == (3,)
        assert int(f["optimizer/vars/0"][()]) == 3  # iterations: 3 steps


def test_checkpoint_save_best_only_saves_improvements_with_logs_in_the_name(tmp_path):
    path = str(tmp_path / "{epoch:02d}-{score:.2f}.weights.h5")
    cb = callbacks.ModelCheckpoint(
        path, monitor="score", save_best_only=True, save_weights_only=True
    )
    fit(tiny_model(), [Script([3, 2, 2.5, 1]), cb], epochs=4)
    assert sorted(os.listdir(tmp_path)) == [
        "01-3.00.weights.h5",
        "02-2.00.weights.h5",
        "04-1.00.weights.h5",
    ]
    assert cb.best == 1


def test_checkpoint_initial_value_threshold_and_max_mode(tmp_path):
    path = str(tmp_path / "{epoch}.weights.h5")
    cb = callbacks.ModelCheckpoint(
        path,
        monitor="val_acc",
        save_best_only=True,
        save_weights_only=True,
        initial_value_threshold=0.5,
    )
    fit(tiny_model(), [Script([0.4, 0.6, 0.55, 0.7], "val_acc"), cb], epochs=4)
    assert sorted(os.listdir(tmp_path)) == ["2.weights.h5", "4.weights.h5"]


def test_checkpoint_best_only_overwrites_one_file(tmp_path, capsys):
    path = tmp_path / "best.weights.h5"
    snapshots = Snapshots()
    cb = callbacks.ModelCheckpoint(
        path, monitor="score", save_best_only=True, save_weights_only=True, verbose=1
    )
    fit(tiny_model(), [Script([3, 2, 2.5, 2.7]), snapshots, cb], epochs=4)
    assert os.listdir(tmp_path) == ["best.weights.h5"]
    assert same_weights(saved_weights(path), snapshots.weights[1])
    out = capsys.readouterr().out
    assert "Epoch 2: score improved from 3.00000 to 2.00000, saving model to" in out
    assert "Epoch 3: score did not improve from 2.00000" in out


def test_checkpoint_every_n_batches_names_epoch_and_batch(tmp_path):
    path = str(tmp_path / "b{epoch}-{batch}.weights.h5")
    cb = callbacks.ModelCheckpoint(path, save_weights_only=True, save_freq=2)
    fit(tiny_model(), [cb], epochs=2)  # 3 batches per epoch: saves after 2, 4 and 6
    assert sorted(os.listdir(tmp_path)) == ["b1-2.weights.h5", "b2-1.weights.h5", "b2-3.weights.h5"]


def test_checkpoint_whole_model_is_a_keras_file_and_the_save_call_site(tmp_path):
    from cnnkit.models import load_model

    model = tiny_model()
    fit(model, [callbacks.ModelCheckpoint(tmp_path / "model.keras")], epochs=1)
    assert sorted(os.listdir(tmp_path)) == ["model.keras"]
    loaded = load_model(tmp_path / "model.keras")
    assert loaded.get_config() == model.get_config()
    assert same_weights(loaded.get_weights(), model.get_weights())
    assert int(loaded.optimizer.iterations) == int(model.optimizer.iterations) == 3

    calls = []
    model.save = lambda path, overwrite=False: calls.append((path, overwrite))
    fit(model, [callbacks.ModelCheckpoint(str(tmp_path / "m{epoch}.keras"))], epochs=2)
    assert calls == [(str(tmp_path / "m1.keras"), True), (str(tmp_path / "m2.keras"), True)]


def test_checkpoint_warns_when_the_monitored_metric_is_missing_and_saves(tmp_path):
    cb = callbacks.ModelCheckpoint(
        tmp_path / "w.weights.h5", monitor="nope", save_best_only=True, save_weights_only=True
    )
    with pytest.warns(UserWarning, match="Can save best model only with nope available"):
        fit(tiny_model(), [cb], epochs=1)
    assert os.listdir(tmp_path) == ["w.weights.h5"]


def test_checkpoint_errors():
    with pytest.raises(ValueError, match=r"must end in `\.weights\.h5`"):
        callbacks.ModelCheckpoint("w.keras", save_weights_only=True)
    with pytest.raises(ValueError, match=r"must end in `\.weights\.h5`"):
        callbacks.ModelCheckpoint("w.npz", save_weights_only=True)
    with pytest.raises(ValueError, match=r"must end in `\.keras`"):
        callbacks.ModelCheckpoint("model.txt")
    with pytest.raises(ValueError, match=r"must end in `\.keras`.*legacy `\.h5`"):
        callbacks.ModelCheckpoint("model.h5")
    with pytest.raises(ValueError, match="Unrecognized save_freq"):
        callbacks.ModelCheckpoint("model.keras", save_freq="batch")
    with pytest.raises(ValueError, match="Unrecognized save_freq"):
        callbacks.ModelCheckpoint("model.keras", save_freq=0)
    with pytest.raises(ValueError, match="`filepath`"):
        callbacks.ModelCheckpoint(None)
    with pytest.raises(ValueError, match="`initial_value_threshold`"):
        callbacks.ModelCheckpoint("m.keras", initial_value_threshold="x")
    cb = callbacks.ModelCheckpoint("{val_auc}.keras")
    with pytest.raises(KeyError, match="Failed to format this callback filepath"):
        fit(tiny_model(), [cb], epochs=1)


# -- ReduceLROnPlateau -------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs, rates",
    [
        ({"patience": 2}, [1, 1, 0.5, 0.5, 0.25, 0.25]),
        ({"patience": 1}, [1, 0.5, 0.25, 0.125, 0.0625, 0.03125]),
        ({"patience": 1, "cooldown": 2}, [1, 0.5, 0.5, 0.25, 0.25, 0.125]),
        ({"patience": 1, "min_lr": 0.3}, [1, 0.5, 0.3, 0.3, 0.3, 0.3]),
    ],
)
def test_reduce_lr_on_plateau_reduces_at_the_keras_epoch(kwargs, rates):
    snapshots = Snapshots()
    reduce = callbacks.ReduceLROnPlateau(monitor="score", factor=0.5, **kwargs)
    history = fit(tiny_model(optimizers.SGD(1.0)), [Script([5.0] * 6), reduce, snapshots], epochs=6)
    assert snapshots.rates == [float(np.float32(r)) for r in rates]
    # The logs carry the rate in use during the epoch (read before any reduction).
    assert history.history["learning_rate"] == [1.0, *snapshots.rates[:-1]]


def test_reduce_lr_on_plateau_improvements_reset_the_wait(capsys):
    snapshots = Snapshots()
    reduce = callbacks.ReduceLROnPlateau(
        monitor="val_accuracy", factor=0.1, patience=2, min_delta=0.01, verbose=1
    )  # auto mode: accuracy is maximised
    values = [0.5, 0.6, 0.605, 0.7, 0.7, 0.7]
    fit(tiny_model(optimizers.SGD(1.0)), [Script(values, "val_accuracy"), reduce, snapshots])
    assert snapshots.rates == [1.0, 1.0, 1.0, 1.0, 1.0, float(np.float32(0.1))]
    assert "Epoch 6: ReduceLROnPlateau reducing learning rate to 0.1" in capsys.readouterr().out


def test_reduce_lr_on_plateau_warns_and_validates():
    with pytest.warns(UserWarning, match="conditioned on metric `val_loss` which is not avail"):
        fit(tiny_model(), [callbacks.ReduceLROnPlateau()], epochs=1)
    with pytest.raises(ValueError, match="does not support a factor >= 1.0"):
        callbacks.ReduceLROnPlateau(factor=1.0)
    with pytest.raises(ValueError, match="`factor`"):
        callbacks.ReduceLROnPlateau(factor=-0.5)
    with pytest.raises(ValueError, match="`min_lr`"):
        callbacks.ReduceLROnPlateau(min_lr=-1.0)
    with pytest.raises(ValueError, match="`cooldown`"):
        callbacks.ReduceLROnPlateau(cooldown=1.5)


# -- LearningRateScheduler -----------------------------------------------------------------
def test_learning_rate_scheduler_sets_the_rate_each_epoch():
    snapshots = Snapshots()
    history = fit(
        tiny_model(optimizers.SGD(1.0)),
        [callbacks.LearningRateScheduler(lambda epoch: 0.1 / (epoch + 1)), snapshots],
        epochs=4,
    )
    expected = [float(np.float32(0.1 / (e + 1))) for e in range(4)]
    assert snapshots.rates == expected
    assert history.history["learning_rate"] == expected

    snapshots = Snapshots()
    halve = callbacks.LearningRateScheduler(lambda epoch, lr: lr * 0.5)
    fit(tiny_model(optimizers.SGD(1.0)), [halve, snapshots], epochs=3)
    assert snapshots.rates == [0.5, 0.25, 0.125]


def test_learning_rate_scheduler_rate_is_the_one_used():
    snapshots = Snapshots()
    zero_after_first = callbacks.LearningRateScheduler(lambda epoch: 0.1 if epoch == 0 else 0.0)
    model = tiny_model(optimizers.SGD(1.0))
    initial = model.get_weights()
    fit(model, [zero_after_first, snapshots], epochs=3)
    assert not same_weights(initial, snapshots.weights[0])
    assert same_weights(snapshots.weights[0], snapshots.weights[2])


def test_learning_rate_scheduler_errors(capsys):
    with pytest.raises(ValueError, match="`schedule`"):
        callbacks.LearningRateScheduler(0.1)
    with pytest.raises(ValueError, match="should be a float. Got: 1"):
        fit(tiny_model(), [callbacks.LearningRateScheduler(lambda epoch: 1)], epochs=1)
    fit(tiny_model(), [callbacks.LearningRateScheduler(lambda e: 0.5, verbose=1)], epochs=1)
    assert "Epoch 1: LearningRateScheduler setting learning rate to 0.5." in (
        capsys.readouterr().out
    )


# -- CSVLogger -------------------------------------------------------------------------------------
def test_csv_logger_rows_columns_and_append(tmp_path):
    path = tmp_path / "log.csv"
    rows_seen = []

    class Reader(callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):  # the file is complete after each epoch
            with open(path, newline="") as f:
                rows_seen.append(len(list(csv.reader(f))))

    x, y = blobs()
    model = tiny_model()
    history = model.fit(
        x,
        y,
        epochs=3,
        validation_data=(x, y),
        verbose=0,
        callbacks=[callbacks.CSVLogger(path), Reader()],
    )
    assert rows_seen == [2, 3, 4]
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["epoch", "accuracy", "loss", "val_accuracy", "val_loss"]
    assert [row[0] for row in rows[1:]] == ["0", "1", "2"]
    for i, row in enumerate(rows[1:]):
        for key, cell in zip(rows[0][1:], row[1:]):
            assert float(cell) == history.history[key][i]
    assert no_temp_files(tmp_path) == []

    # Appending: no second header. Columns are fixed at the first epoch end; a key
    # missing later is written as NA.
    first_only = callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: logs.update({"extra": 1.5}) if epoch == 0 else None
    )
    logger = callbacks.CSVLogger(path, append=True)
    model.fit(x, y, epochs=2, verbose=0, callbacks=[first_only, logger])
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    assert len(rows) == 6 and rows[0][0] == "epoch" and [r[0] for r in rows[4:]] == ["0", "1"]
    assert logger.keys == ["accuracy", "extra", "loss"]
    assert rows[4][2] == "1.5" and rows[5][2] == "NA"

    model.fit(x, y, epochs=1, verbose=0, callbacks=[callbacks.CSVLogger(path, separator=";")])
    assert path.read_text().splitlines()[0] == "epoch;accuracy;loss"


def test_csv_logger_validates():
    with pytest.raises(ValueError, match="`separator`"):
        callbacks.CSVLogger("log.csv", separator=", ")
    with pytest.raises(ValueError, match="`append`"):
        callbacks.CSVLogger("log.csv", append="yes")


# -- TerminateOnNaN ---------------------------------------------------------------------------
class PoisonAt(callbacks.Callback):
    """Sets a weight to NaN after the given (epoch, batch): the next batch's loss is NaN."""

    def __init__(self, epoch, batch):
        super().__init__()
        self.at, self.epoch, self.batches = (epoch, batch), 0, []

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        self.batches.append((self.epoch, batch, logs["loss"]))
        if (self.epoch, batch) == self.at:
            self.model.weights[0].data[0, 0] = np.nan


def test_terminate_on_nan_stops_on_the_nan_batch(capsys):
    poison = PoisonAt(1, 0)
    history = fit(tiny_model(), [poison, callbacks.TerminateOnNaN()], epochs=4)
    assert [b[:2] for b in poison.batches] == [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1)]
    assert np.isnan(poison.batches[-1][2]) and np.isfinite(poison.batches[-2][2])
    assert history.epoch == [0, 1]
    assert "Batch 1: Invalid loss, terminating training" in capsys.readouterr().out


def test_terminate_on_nan_can_raise():
    with pytest.raises(RuntimeError, match="NaN or Inf loss encountered at batch 1"):
        fit(tiny_model(), [PoisonAt(0, 0), callbacks.TerminateOnNaN(raise_error=True)])


# -- LambdaCallback and the base class ----------------------------------------------------------
def test_lambda_callback_hooks_fire_in_order():
    events = []
    cb = callbacks.LambdaCallback(
        on_train_begin=lambda logs: events.append("train_begin"),
        on_epoch_begin=lambda epoch, logs: events.append(f"epoch_begin {epoch}"),
        on_train_batch_begin=lambda batch, logs: events.append(f"batch_begin {batch}"),
        on_train_batch_end=lambda batch, logs: events.append(f"batch_end {batch}"),
        on_test_end=lambda logs: events.append(f"test_end {sorted(logs)}"),
        on_epoch_end=lambda epoch, logs: events.append(f"epoch_end {epoch}"),
        on_train_end=lambda logs: events.append("train_end"),
    )
    x, y = blobs(40)
    tiny_model().fit(
        x, y, batch_size=20, epochs=2, validation_data=(x, y), callbacks=[cb], verbose=0
    )
    epoch = ["batch_begin 0", "batch_end 0", "batch_begin 1", "batch_end 1"]
    epoch += ["test_end ['accuracy', 'loss']"]
    assert events == [
        "train_begin",
        "epoch_begin 0",
        *epoch,
        "epoch_end 0",
        "epoch_begin 1",
        *epoch,
        "epoch_end 1",
        "train_end",
    ]


def test_lambda_callback_rejects_unknown_hooks():
    with pytest.raises(ValueError, match=r"Unrecognized keyword argument\(s\).*on_epoch_ends"):
        callbacks.LambdaCallback(on_epoch_ends=print)
    with pytest.raises(ValueError, match="`on_epoch_end`.*callable"):
        callbacks.LambdaCallback(on_epoch_end=3)


def test_on_batch_aliases_fire_for_training_batches():
    seen = []

    class Old(callbacks.Callback):
        def on_batch_begin(self, batch, logs=None):
            seen.append(("begin", batch))

        def on_batch_end(self, batch, logs=None):
            seen.append(("end", batch))

    fit(tiny_model(), [Old()], epochs=1)
    assert seen == [("begin", 0), ("end", 0), ("begin", 1), ("end", 1), ("begin", 2), ("end", 2)]


def test_callback_list_rejects_non_callbacks():
    with pytest.raises(TypeError, match="must be a Callback instance"):
        callbacks.CallbackList([print])
