"""``BackupAndRestore``: back up the training state so that an interrupted ``fit`` resumes exactly.

The backup folder holds, after each backup::

    training_metadata.json       the commit record: where to resume, random states, history
    backup-000007.weights.h5     the weights and optimizer state it names (``model.save_weights``)
    _training_metadata.json      with ``double_checkpoint=True``: the previous record...
    backup-000006.weights.h5     ...and the weights it names

A backup is written in three steps: the weights go to a new file (atomically: a temporary
file in the same folder, flushed, fsynced and renamed with ``os.replace``), then the record
naming that file and its SHA-256 replaces ``training_metadata.json`` the same way, and only
then are older weights files deleted. A process killed at any moment therefore leaves a record
that names a complete weights file: the new backup or the previous one.

Resuming is exact: the record holds the state of every random generator training draws from
(``cnnkit.backend.rng()``, layers' own seeded generators, Python's ``random`` and NumPy's
legacy global generator) at the moment of the backup, and the step within the epoch for a
``save_freq`` in batches, so shuffling, dropout and augmentation carry on as if training had
never stopped: the final weights equal those of an uninterrupted run, bit for bit.

Deliberate deviations from Keras 3:
    - Keras restores the weights and the epoch only, and after a backup made every ``N``
      batches it runs the interrupted epoch again from its first batch; cnnkit also restores
      the random generators and the batch, so the resumed run is the uninterrupted one. After
      a resume within an epoch, that epoch's logged loss and metrics average only the batches
      run after the resume (the weights are exact).
    - The file layout above (Keras writes ``latest.weights.h5`` and
      ``training_metadata.json`` in place, and ``_latest.weights.h5`` for
      ``double_checkpoint``); the record's SHA-256 detects a damaged weights file, and when
      no backup is usable the ``ValueError`` names every file and its problem.
    - A state with a NaN or infinite loss or weights is never backed up, and the folder is
      kept when training ended on one.
    - ``save_freq=False`` never backs up (Keras's code compares the batch count with
      ``False``, i.e. 0, and so backs up after every batch).
    - ``restored_epochs``/``restored_history`` give the epochs run before the interruption.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import re
import shutil

import numpy as np

from cnnkit import backend, distribution
from cnnkit.callbacks._validation import _check_bool, _is_int
from cnnkit.callbacks.base import Callback
from cnnkit.io_utils import atomic_write_bytes, atomic_write_text, read_regular

METADATA = "training_metadata.json"
PREVIOUS_METADATA = "_training_metadata.json"
FORMAT = "cnnkit.BackupAndRestore/1"
_WEIGHTS_NAME = re.compile(r"^backup-(\d+)\.weights\.h5$")


class BackupAndRestore(Callback):
    """Back up the training state every epoch (or every ``save_freq`` batches), restore it on
    the next ``fit`` after an interruption.

    When ``fit`` starts and ``backup_dir`` holds a backup, the weights, the optimizer state
    (step count, learning rate, moments), the random generators' states and the epoch (and,
    with an integer ``save_freq``, the batch within the epoch) are restored, and training
    continues where the backup was made: the final weights equal those of an uninterrupted run
    with the same seed. The model, ``compile`` and ``fit`` arguments must be those of the
    interrupted run. When ``fit`` ends normally the folder is deleted
    (``delete_checkpoint=True``).

    Place it after the callbacks that change the training state at epoch end
    (``ReduceLROnPlateau``), so that the backup includes their change. Only the state of the
    model, its optimizer and the random generators is restored: other callbacks (e.g.
    ``EarlyStopping``'s patience counter) start afresh, as in Keras.

    Args:
        backup_dir: the folder for the backup (created when needed). No other callback or
            training run may use it.
        save_freq: ``"epoch"`` to back up at each epoch end, an integer ``N`` to back up every
            ``N`` batches, or ``False`` to never back up (only restore).
        double_checkpoint: also keep the previous backup, and fall back to it when the latest
            one cannot be read (a truncated or corrupted file). Uses twice the disk space.
        delete_checkpoint: delete ``backup_dir`` when training ends (not after an exception,
            and not when training ended on a NaN or infinite loss, so that the last good
            state stays available).

    Attributes:
        restored_epochs: the epochs (0-based) finished before the backup that was restored
            (empty when ``fit`` started from scratch).
        restored_history: their logs, ``{"loss": [...], ...}``, as ``History.history``.

    Raises:
        ValueError: for an empty ``backup_dir`` or an invalid ``save_freq``; in ``fit``, when
            the model is not built, or when ``backup_dir`` holds a backup but none is usable
            (the message names each file and what is wrong with it).

    Example:
        >>> import os, tempfile
        >>> import numpy as np, cnnkit as keras
        >>> backup_dir = os.path.join(tempfile.mkdtemp(), "backup")
        >>> class Interrupt(keras.callbacks.Callback):
        ...     def on_epoch_begin(self, epoch, logs=None):
        ...         if epoch == 4:
        ...             raise RuntimeError("Interrupting!")
        >>> model = keras.Sequential([keras.Input((20,)), keras.layers.Dense(10)])
        >>> model.compile(keras.optimizers.SGD(), loss="mse")
        >>> x, y = np.linspace(0, 1, 100).reshape(5, 20), np.zeros((5, 10))
        >>> try:
        ...     model.fit(x, y, epochs=10, batch_size=1, verbose=0,
        ...               callbacks=[BackupAndRestore(backup_dir), Interrupt()])
        ... except RuntimeError:
        ...     pass
        >>> history = model.fit(x, y, epochs=10, batch_size=1, verbose=0,
        ...                     callbacks=[BackupAndRestore(backup_dir)])
        >>> history.epoch  # epochs 0-3 were backed up: training goes on from epoch 4
        [4, 5, 6, 7, 8, 9]
        >>> os.path.exists(backup_dir)
        False
    """

    def __init__(
        self,
        backup_dir,
        save_freq="epoch",
        double_checkpoint=False,
        delete_checkpoint=True,
    ):
        super().__init__()
        if not backup_dir:
            raise ValueError(f"Empty `backup_dir` argument passed. Received: {backup_dir!r}")
        self.backup_dir = os.fspath(backup_dir)
        if save_freq is not False and save_freq != "epoch":
            if not (_is_int(save_freq) and save_freq > 0):
                raise ValueError(
                    "Invalid value for argument `save_freq`. Expected 'epoch', a strictly "
                    f"positive integer or False. Received: save_freq={save_freq!r}"
                )
            save_freq = int(save_freq)
        self.save_freq = save_freq
        self.double_checkpoint = _check_bool("double_checkpoint", double_checkpoint)
        self.delete_checkpoint = _check_bool("delete_checkpoint", delete_checkpoint)
        self.restored_epochs: list[int] = []
        self.restored_history: dict[str, list] = {}
        self._reset()

    def _reset(self) -> None:
        self._generation = 0
        self._current_epoch = 0
        self._last_batch_seen = -1
        self._batches_seen_since_last_saving = 0
        self._epoch_begin_rng = None
        self._resume_step = 0  # the first batch to run in the resumed epoch
        self._pending_rng = None  # applied once the resumed epoch has drawn its shuffle
        self._saw_non_finite = False
        self._last_record = None
        self._epochs: list[int] = []
        self._history: dict[str, list] = {}

    # -- hooks ------------------------------------------------------------------------------
    def on_train_begin(self, logs=None):
        self._reset()
        self.restored_epochs, self.restored_history = [], {}
        if not getattr(self.model, "built", True):
            raise ValueError(
                "To use the BackupAndRestore callback, your model must be built before you "
                f"call `fit()`. Model {self.model.name!r} is unbuilt. You can build it "
                "beforehand by calling it on a batch of data."
            )
        if os.path.isdir(self.backup_dir):
            if distribution.is_chief():  # every process restores; process 0 alone writes
                _remove_temporaries(self.backup_dir)
            record = self._load_latest_usable()
            if record is not None:
                self._restore(record)

    def on_epoch_begin(self, epoch, logs=None):
        self._current_epoch = epoch
        self._last_batch_seen, self._resume_step = self._resume_step - 1, 0
        if self.save_freq not in ("epoch", False):
            self._epoch_begin_rng = _rng_state(self.model)

    def on_train_batch_begin(self, batch, logs=None):
        self._apply_pending_rng()

    def on_train_batch_end(self, batch, logs=None):
        if self.save_freq in ("epoch", False):
            return
        self._batches_seen_since_last_saving += batch - self._last_batch_seen
        self._last_batch_seen = batch
        if self._batches_seen_since_last_saving >= self.save_freq:
            self._batches_seen_since_last_saving = 0
            self._save(logs, epoch=self._current_epoch, step=batch + 1)

    def on_epoch_end(self, epoch, logs=None):
        self._apply_pending_rng()  # a resume after the epoch's last batch: no batch ran
        self._epochs.append(epoch)
        for key, value in (logs or {}).items():
            self._history.setdefault(key, []).append(_json_value(value))
        if self.save_freq == "epoch":
            self._save(logs, epoch=epoch + 1, step=0)
        elif self._batches_seen_since_last_saving == 0 and self._last_record is not None:
            # Backed up after this epoch's last batch: the same weights resume at the next
            # epoch (a new record only, so that this epoch's end does not run again).
            if self._last_record["epoch"] == epoch and _is_finite(logs, self.model):
                self._commit(self._last_record, epoch + 1, 0, keep_previous=False)

    def on_train_end(self, logs=None):
        if not distribution.is_chief():
            return
        if self.delete_checkpoint and not self._saw_non_finite:
            shutil.rmtree(self.backup_dir, ignore_errors=True)

    # -- saving -----------------------------------------------------------------------------
    def _save(self, logs, epoch: int, step: int) -> None:
        """Write a new backup; a state with a NaN/Inf loss or weights is never backed up."""
        if not distribution.is_chief():
            return
        if not _is_finite(logs, self.model):
            self._saw_non_finite = True
            return
        os.makedirs(self.backup_dir, exist_ok=True)
        self._generation += 1
        name = f"backup-{self._generation:06d}.weights.h5"
        path = os.path.join(self.backup_dir, name)
        self.model.save_weights(path, overwrite=True)
        weights = {"generation": self._generation, "weights": name, "sha256": _sha256(path)}
        self._commit(weights, epoch, step, keep_previous=self.double_checkpoint)
        self._remove_unreferenced_weights()

    def _commit(self, weights: dict, epoch: int, step: int, keep_previous: bool) -> None:
        """Atomically replace the record: from now on, training resumes from ``weights``."""
        if not distribution.is_chief():
            return
        record = {
            "format": FORMAT,
            "epoch": epoch,  # where training resumes: this epoch...
            "step": step,  # ...at this batch
            "generation": weights["generation"],
            "weights": weights["weights"],
            "sha256": weights["sha256"],
            "batches_seen_since_last_saving": self._batches_seen_since_last_saving,
            "rng": _rng_state(self.model),
            "rng_epoch_begin": self._epoch_begin_rng if step else None,
            "epochs": self._epochs,
            "history": self._history,
        }
        latest = os.path.join(self.backup_dir, METADATA)
        if keep_previous and os.path.exists(latest):
            with open(latest, "rb") as f:
                atomic_write_bytes(os.path.join(self.backup_dir, PREVIOUS_METADATA), f.read())
        atomic_write_text(latest, json.dumps(record))
        self._last_record = record

    def _remove_unreferenced_weights(self) -> None:
        keep = set()
        for filename in (METADATA, PREVIOUS_METADATA):
            with contextlib.suppress(OSError, ValueError, TypeError, KeyError):
                with open(os.path.join(self.backup_dir, filename), encoding="utf-8") as f:
                    keep.add(json.load(f)["weights"])
        for entry in os.listdir(self.backup_dir):
            if _WEIGHTS_NAME.match(entry) and entry not in keep:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(os.path.join(self.backup_dir, entry))

    # -- restoring --------------------------------------------------------------------------
    def _load_latest_usable(self) -> dict | None:
        """The newest record whose weights file is intact, or ``None`` when there is none."""
        candidates = [
            os.path.join(self.backup_dir, name)
            for name in (METADATA, PREVIOUS_METADATA)
            if os.path.exists(os.path.join(self.backup_dir, name))
        ]
        if not candidates:
            return None
        problems = []
        for path in candidates:
            record, problem = self._check_record(path)
            if record is not None:
                if path != candidates[0]:  # fall back: the previous backup becomes the latest
                    with open(path, "rb") as f:
                        atomic_write_bytes(os.path.join(self.backup_dir, METADATA), f.read())
                return record
            problems.append(f"{path}: {problem}")
        raise ValueError(
            f"No usable backup in {self.backup_dir}: {'; '.join(problems)}. Delete the folder "
            "to train from scratch."
        )

    def _check_record(self, path: str) -> tuple[dict | None, str]:
        try:
            record = json.loads(read_regular(path, 64 << 20, "backup record").decode("utf-8"))
        except (OSError, ValueError, RecursionError) as err:  # JSON and UTF-8 errors included
            return None, f"cannot be read ({err})"
        if not isinstance(record, dict) or record.get("format") != FORMAT:
            return None, f"not a BackupAndRestore record (expected format {FORMAT!r})"
        problem = _record_problem(record)
        if problem:
            return None, problem
        weights = record.get("weights")
        if not isinstance(weights, str) or not _WEIGHTS_NAME.match(weights):
            return None, f"names no weights file (weights={weights!r})"
        weights_path = os.path.join(self.backup_dir, weights)
        if not os.path.isfile(weights_path):
            return None, f"its weights file {weights_path} is missing"
        if _sha256(weights_path) != record.get("sha256"):
            return None, (
                f"its weights file {weights_path} is truncated or corrupted (its SHA-256 "
                "differs from the one recorded)"
            )
        return record, ""

    def _restore(self, record: dict) -> None:
        model = self.model
        optimizer = getattr(model, "optimizer", None)
        if optimizer is not None and not optimizer.built:
            optimizer.build(model.trainable_weights)  # so that its variables can be loaded
        path = os.path.join(self.backup_dir, record["weights"])
        try:
            model.load_weights(path)
        except (ValueError, KeyError, OSError) as err:
            raise ValueError(
                f"Cannot restore the backup {path} into model {model.name!r}: {err} The model "
                "and `compile()` arguments must be those of the interrupted run."
            ) from None
        self._generation = int(record["generation"])
        self._last_record = record
        self._batches_seen_since_last_saving = int(record["batches_seen_since_last_saving"])
        self._epochs = list(record["epochs"])
        self._history = {key: list(values) for key, values in record["history"].items()}
        self.restored_epochs = list(self._epochs)
        self.restored_history = {key: list(values) for key, values in self._history.items()}
        epoch, step = int(record["epoch"]), int(record["step"])
        if step:  # mid-epoch: replay the epoch's shuffle, then continue from the backup's state
            _set_rng_state(model, record["rng_epoch_begin"])
            self._pending_rng = record["rng"]
            self._resume_step = step
        else:
            _set_rng_state(model, record["rng"])
        model._initial_epoch = epoch
        model._initial_step = step

    def _apply_pending_rng(self) -> None:
        if self._pending_rng is not None:
            _set_rng_state(self.model, self._pending_rng)
            self._pending_rng = None


# -- helpers -----------------------------------------------------------------------------------
def _record_problem(record: dict) -> str:
    """What makes a record's fields unusable (checked before any state changes), or ``""``."""
    for key in ("generation", "batches_seen_since_last_saving", "epoch", "step"):
        if type(record.get(key)) is not int or record[key] < 0:
            return f"{key!r} must be a non-negative integer, found {record.get(key)!r:.60}"
    if not isinstance(record.get("epochs"), list):
        return f"'epochs' must be a list, found {record.get('epochs')!r:.60}"
    history = record.get("history")
    if not isinstance(history, dict) or not all(isinstance(v, list) for v in history.values()):
        return f"'history' must be an object of per-epoch lists, found {history!r:.60}"
    return ""


def _is_finite(logs, model) -> bool:
    loss = (logs or {}).get("loss")
    if loss is not None and not np.all(np.isfinite(loss)):
        return False
    return all(np.isfinite(w.numpy()).all() for w in model.weights)


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _remove_temporaries(folder: str) -> None:
    """Temporary files left by a process killed while writing (``.<name>.<random>.tmp``)."""
    for entry in os.listdir(folder):
        if entry.startswith(".") and entry.endswith(".tmp"):
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(folder, entry))


def _json_value(value):
    value = np.asarray(value)
    return value.item() if value.ndim == 0 else value.tolist()


def _layer_generators(model) -> list[tuple[str, np.random.Generator]]:
    """``(path, generator)`` for every layer's own generator (layers built with a ``seed``)."""
    found, stack = [], [(model.name, model)]
    while stack:
        path, layer = stack.pop()
        for attribute, value in sorted(vars(layer).items()):
            if isinstance(value, np.random.Generator):
                found.append((f"{path}.{attribute}", value))
        children = layer._flatten_layers(include_self=False, recursive=False)
        stack.extend((f"{path}/{i}:{child.name}", child) for i, child in enumerate(children))
    return found


def _rng_state(model) -> dict:
    """The state of every generator training draws from, as JSON-ready values."""
    legacy = np.random.get_state(legacy=False)  # noqa: NPY002 - user code may draw from it
    legacy["state"]["key"] = legacy["state"]["key"].tolist()
    version, internal, gauss = random.getstate()
    return {
        "cnnkit": backend.rng().bit_generator.state,
        "layers": {key: gen.bit_generator.state for key, gen in _layer_generators(model)},
        "python": [version, list(internal), gauss],
        "numpy_global": legacy,
    }


def _set_rng_state(model, state: dict) -> None:
    backend.rng().bit_generator.state = state["cnnkit"]
    for key, gen in _layer_generators(model):
        if key in state["layers"]:
            gen.bit_generator.state = state["layers"][key]
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    np.random.set_state(state["numpy_global"])  # noqa: NPY002
