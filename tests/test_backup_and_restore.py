"""BackupAndRestore: a run killed with SIGKILL resumes exactly; damaged backups; NaN losses.

The resume tests run real processes: a script trains a tiny model (shuffling, dropout, a
seeded dropout, random augmentation, Adam), a first run kills itself with SIGKILL in the
middle of an epoch, and the same command, run again, must end with the weights of an
uninterrupted run, bit for bit.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import cnnkit as keras
from cnnkit import backend, layers
from cnnkit.callbacks import BackupAndRestore, LambdaCallback, ModelCheckpoint, TerminateOnNaN
from cnnkit.callbacks.backup_and_restore import METADATA, PREVIOUS_METADATA

ROOT = Path(__file__).resolve().parents[1]

# argv: backup_dir, output .npz, save_freq ("epoch" or N), kill epoch, kill batch, marker file.
SCRIPT = textwrap.dedent(
    """
    import json, os, signal, sys
    import numpy as np
    import cnnkit as keras
    from cnnkit import layers
    from cnnkit.callbacks import BackupAndRestore, LambdaCallback

    backup_dir, out, save_freq, kill_epoch, kill_batch, marker = sys.argv[1:7]
    save_freq = save_freq if save_freq == "epoch" else int(save_freq)
    keras.utils.set_random_seed(7)
    data = np.random.default_rng(0)
    x = data.uniform(0, 1, (40, 6, 6, 1)).astype("float32")
    y = data.integers(0, 3, 40)
    model = keras.Sequential([
        keras.Input((6, 6, 1)),
        layers.RandomTranslation(0.2, 0.2),
        layers.Conv2D(3, 3, activation="relu"),
        layers.Flatten(),
        layers.Dropout(0.3),
        layers.Dense(8, activation="relu"),
        layers.Dropout(0.2, seed=3),
        layers.Dense(3, activation="softmax"),
    ])
    model.compile(keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    epoch_now = [0]

    def maybe_kill(batch, logs):
        if (epoch_now[0], batch) == (int(kill_epoch), int(kill_batch)) and not os.path.exists(
            marker
        ):
            open(marker, "w").close()
            os.kill(os.getpid(), signal.SIGKILL)

    killer = LambdaCallback(
        on_epoch_begin=lambda epoch, logs: epoch_now.__setitem__(0, epoch),
        on_train_batch_end=maybe_kill,
    )
    backup = BackupAndRestore(backup_dir, save_freq=save_freq)
    history = model.fit(x, y, batch_size=8, epochs=4, verbose=0, callbacks=[backup, killer])
    np.savez(out, *[w.numpy() for w in model.weights])
    with open(out + ".json", "w") as f:
        json.dump({"epoch": history.epoch, "restored": backup.restored_epochs,
                   "loss": history.history["loss"]}, f)
    """
)


def run_script(tmp_path: Path, name: str, save_freq="epoch", kill=(-1, -1)):
    script = tmp_path / "train.py"
    if not script.exists():
        script.write_text(SCRIPT)
    out = tmp_path / f"{name}.npz"
    backup, marker = tmp_path / f"{name}-backup", tmp_path / f"{name}.killed"
    argv = [sys.executable, str(script), str(backup), str(out), str(save_freq), str(kill[0]),
            str(kill[1]), str(marker)]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120)
    return done, out


def weights_of(path: Path) -> list[np.ndarray]:
    with np.load(path) as data:
        return [data[f"arr_{i}"] for i in range(len(data.files))]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("uninterrupted")
    done, out = run_script(tmp_path, "reference")
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / "reference-backup").exists()  # deleted at the end of training
    return weights_of(out), json.loads(Path(f"{out}.json").read_text())


@pytest.mark.parametrize(
    "save_freq, kill, resumed_from",
    [("epoch", (2, 1), (2, 0)), (2, (1, 3), (1, 3)), (2, (1, 4), (1, 5))],
    ids=["every-epoch", "every-2-batches", "after-the-last-batch"],
)
def test_a_killed_run_resumes_exactly(tmp_path, uninterrupted, save_freq, kill, resumed_from):
    reference, reference_log = uninterrupted
    first, _ = run_script(tmp_path, "run", save_freq, kill)
    assert first.returncode == -signal.SIGKILL, first.stderr
    record = json.loads((tmp_path / "run-backup" / METADATA).read_text())
    assert (record["epoch"], record["step"]) == resumed_from

    second, out = run_script(tmp_path, "run", save_freq, kill)  # the same command again
    assert second.returncode == 0, second.stderr
    log = json.loads(Path(f"{out}.json").read_text())
    assert log["epoch"] == list(range(resumed_from[0], 4))
    assert log["restored"] == list(range(resumed_from[0]))
    if resumed_from[1] == 0:  # whole epochs: even the logged losses are those of the reference
        assert log["loss"] == reference_log["loss"][resumed_from[0] :]
    for got, expected in zip(weights_of(out), reference, strict=True):
        np.testing.assert_array_equal(got, expected)
    assert not (tmp_path / "run-backup").exists()


# -- damaged backups (in-process) ----------------------------------------------------------


def tiny_model():
    backend.clear_session()
    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((4,)), layers.Dense(5), layers.Dropout(0.5),
                              layers.Dense(2)])  # fmt: skip
    model.compile(keras.optimizers.Adam(0.01), "mse")
    return model


DATA = np.random.default_rng(0).normal(size=(24, 4)).astype("float32"), np.zeros((24, 2))


def fit(model, epochs, callbacks=()):
    return model.fit(*DATA, batch_size=8, epochs=epochs, verbose=0, callbacks=list(callbacks))


def test_a_truncated_latest_backup_falls_back_to_the_previous_one(tmp_path):
    reference = tiny_model()
    fit(reference, 4)
    folder = tmp_path / "backup"
    fit(tiny_model(), 3, [BackupAndRestore(folder, double_checkpoint=True,
                                           delete_checkpoint=False)])  # fmt: skip
    latest = json.loads((folder / METADATA).read_text())
    assert latest["epoch"] == 3
    assert json.loads((folder / PREVIOUS_METADATA).read_text())["epoch"] == 2
    assert len(list(folder.glob("*.weights.h5"))) == 2  # the previous backup is kept
    weights = folder / latest["weights"]
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])

    model, callback = tiny_model(), BackupAndRestore(folder, double_checkpoint=True)
    history = fit(model, 4, [callback])
    assert history.epoch == [2, 3] and callback.restored_epochs == [0, 1]
    assert len(callback.restored_history["loss"]) == 2
    for got, expected in zip(model.get_weights(), reference.get_weights(), strict=True):
        np.testing.assert_array_equal(got, expected)


def test_no_usable_backup_is_a_clear_error_naming_the_files(tmp_path):
    folder = tmp_path / "backup"
    fit(tiny_model(), 2, [BackupAndRestore(folder, double_checkpoint=True,
                                           delete_checkpoint=False)])  # fmt: skip
    for record in (METADATA, PREVIOUS_METADATA):
        weights = folder / json.loads((folder / record).read_text())["weights"]
        weights.write_bytes(b"\x89HDF\r\n")
    message = (
        r"No usable backup in .*backup-000002\.weights\.h5 is truncated or corrupted"
        r".*backup-000001\.weights\.h5 is truncated"
    )
    with pytest.raises(ValueError, match=message):
        fit(tiny_model(), 3, [BackupAndRestore(folder)])

    (folder / METADATA).write_text('{"format": ')  # a truncated record
    (folder / PREVIOUS_METADATA).unlink()
    with pytest.raises(ValueError, match=rf"{METADATA}: cannot be read"):
        fit(tiny_model(), 3, [BackupAndRestore(folder)])


def test_a_backup_of_another_model_is_refused(tmp_path):
    folder = tmp_path / "backup"
    fit(tiny_model(), 1, [BackupAndRestore(folder, delete_checkpoint=False)])
    other = keras.Sequential([keras.Input((4,)), layers.Dense(2)])
    other.compile("adam", "mse")
    with pytest.raises(ValueError, match="Cannot restore the backup .*backup-000001"):
        fit(other, 2, [BackupAndRestore(folder)])


def test_a_finished_backup_runs_no_more_epochs(tmp_path):
    folder = tmp_path / "backup"
    fit(tiny_model(), 2, [BackupAndRestore(folder, save_freq=1, delete_checkpoint=False)])
    # 6 backups (one per batch); each one's weights file replaced the previous one's
    assert sorted(p.name for p in folder.iterdir()) == ["backup-000006.weights.h5", METADATA]
    (folder / ".backup-000007.weights.h5.abc.tmp").write_bytes(b"left by a killed writer")
    callback = BackupAndRestore(folder, delete_checkpoint=False)
    assert fit(tiny_model(), 2, [callback]).epoch == []
    assert callback.restored_epochs == [0, 1]
    assert sorted(p.name for p in folder.iterdir()) == ["backup-000006.weights.h5", METADATA]
    fit(tiny_model(), 2, [BackupAndRestore(folder)])
    assert not folder.exists()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"backup_dir": ""}, "Empty `backup_dir`"),
        ({"backup_dir": "b", "save_freq": 0}, "Received: save_freq=0"),
        ({"backup_dir": "b", "save_freq": "batch"}, "Received: save_freq='batch'"),
        ({"backup_dir": "b", "double_checkpoint": 1}, "double_checkpoint=1"),
    ],
)
def test_invalid_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        BackupAndRestore(**kwargs)


# -- NaN losses ----------------------------------------------------------------------------


def poison_at(model, epoch: int, batch: int):
    """A callback that makes the first kernel NaN just before ``(epoch, batch)`` runs."""
    state = {"epoch": 0}

    def begin(b, logs):
        if (state["epoch"], b) == (epoch, batch):
            kernel = model.layers[0].kernel
            kernel.assign(np.full(kernel.shape, np.nan, "float32"))

    return LambdaCallback(
        on_epoch_begin=lambda e, logs: state.update(epoch=e), on_train_batch_begin=begin
    )


def test_terminate_on_nan_stops_on_the_batch_where_the_loss_becomes_nan(tmp_path, capsys):
    model = tiny_model()
    seen = []
    record = LambdaCallback(on_train_batch_end=lambda batch, logs: seen.append(batch))
    history = fit(model, 5, [poison_at(model, 1, 1), TerminateOnNaN(), record])
    assert seen == [0, 1, 2, 0, 1]  # 3 batches per epoch: stopped right after epoch 1, batch 1
    assert int(model.optimizer.iterations) == 5
    assert history.epoch == [0, 1] and np.isnan(history.history["loss"][1])
    assert "Batch 1: Invalid loss, terminating training" in capsys.readouterr().out


def test_backup_and_restore_never_backs_up_a_nan_state(tmp_path, capsys):
    model, folder = tiny_model(), tmp_path / "backup"
    fit(model, 5, [poison_at(model, 2, 0), TerminateOnNaN(), BackupAndRestore(folder)])
    capsys.readouterr()
    assert json.loads((folder / METADATA).read_text())["epoch"] == 2  # kept: the last good one
    restored = tiny_model()
    fit(restored, 2, [BackupAndRestore(folder)])
    assert all(np.isfinite(w).all() for w in restored.get_weights())


def test_model_checkpoint_skips_nan_states(tmp_path, capsys):
    model = tiny_model()
    path = tmp_path / "ckpt-{epoch}.weights.h5"
    checkpoint = ModelCheckpoint(path, save_weights_only=True)
    fit(model, 5, [poison_at(model, 1, 2), TerminateOnNaN(), checkpoint])
    capsys.readouterr()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt-1.weights.h5"]
