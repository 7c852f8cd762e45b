"""``ModelCheckpoint``: save the model or its weights as training goes."""

from __future__ import annotations

import os
import warnings

import numpy as np

from cnnkit.callbacks._validation import (
    _check_bool,
    _check_int,
    _is_int,
)
from cnnkit.callbacks.monitor import _MonitorCallback


class ModelCheckpoint(_MonitorCallback):
    """Save the model or its weights every epoch (or every ``save_freq`` batches).

    ``filepath`` may hold ``str.format`` fields filled from ``epoch`` (1-based)
    and the logs, e.g. ``"ckpt/{epoch:02d}-{val_loss:.2f}.weights.h5"``.

    The files are Keras 3's (see :mod:`cnnkit.saving`):

    - ``save_weights_only=True``: ``model.save_weights(filepath)``, a ``.weights.h5``
      file (``filepath`` must end in ``.weights.h5``); read it back with
      ``model.load_weights``.
    - ``save_weights_only=False``: ``model.save(filepath)``, a ``.keras`` file with the
      architecture, weights and optimizer state (``filepath`` must end in ``.keras``);
      read it back with ``cnnkit.models.load_model``.

    Every file is written atomically (:func:`cnnkit.io_utils.atomic_write`).

    Args:
        filepath: where to save (a string or path-like, with optional format fields).
        monitor: the logged quantity compared when ``save_best_only=True``.
        verbose: 1 prints a message at each save decision.
        save_best_only: save only when ``monitor`` improves on the best so far.
        save_weights_only: save only the weights (see above).
        mode: ``"min"``, ``"max"`` or ``"auto"`` for ``monitor``.
        save_freq: ``"epoch"``, or an integer: save every that many batches.
        initial_value_threshold: the initial "best" value for ``save_best_only``.

    Raises:
        ValueError: for an invalid ``save_freq`` or a ``filepath`` with the
            wrong extension.
        KeyError: when a format field of ``filepath`` is not in the logs.

    Example:
        >>> checkpoint = ModelCheckpoint("ckpt/{epoch:02d}-{val_loss:.2f}.weights.h5",
        ...                              save_weights_only=True, save_best_only=True)
        >>> checkpoint.monitor, checkpoint.save_freq
        ('val_loss', 'epoch')
    """

    chief_only = True  # in a multi-process job, process 0 alone runs it

    def __init__(
        self,
        filepath,
        monitor="val_loss",
        verbose=0,
        save_best_only=False,
        save_weights_only=False,
        mode="auto",
        save_freq="epoch",
        initial_value_threshold=None,
    ):
        super().__init__(monitor, mode, initial_value_threshold, 0, "initial_value_threshold")
        try:
            self.filepath = os.fspath(filepath)
        except TypeError:
            raise ValueError(
                "Invalid value for argument `filepath`. Expected a string or path-like. "
                f"Received: filepath={filepath!r}"
            ) from None
        self.verbose = _check_int("verbose", verbose)
        self.save_best_only = _check_bool("save_best_only", save_best_only)
        self.save_weights_only = _check_bool("save_weights_only", save_weights_only)
        if save_freq != "epoch" and not (_is_int(save_freq) and save_freq > 0):
            raise ValueError(
                f"Unrecognized save_freq: {save_freq!r}. Expected save_freq are 'epoch' or "
                "strictly positive integer values"
            )
        self.save_freq = save_freq
        if self.save_weights_only:
            if not self.filepath.endswith(".weights.h5"):
                raise ValueError(
                    "When using `save_weights_only=True` in `ModelCheckpoint`, the filepath "
                    "provided must end in `.weights.h5` (Keras weights format). "
                    f"Received: filepath={self.filepath}"
                )
        elif not self.filepath.endswith(".keras"):
            raise ValueError(
                "The filepath provided must end in `.keras` (Keras model format; cnnkit does "
                f"not write the legacy `.h5` model format). Received: filepath={self.filepath}"
            )
        self._current_epoch = 0
        self._batches_seen_since_last_saving = 0
        self._last_batch_seen = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._current_epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self._should_save_on_batch(batch):
            self._save_model(epoch=self._current_epoch, batch=batch, logs=logs)

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor_op is None:
            self._set_monitor_op()
        if self.save_freq == "epoch":
            self._save_model(epoch=epoch, batch=None, logs=logs)

    def _should_save_on_batch(self, batch) -> bool:
        if self.save_freq == "epoch":
            return False
        if batch <= self._last_batch_seen:  # a new epoch (batches are 0-based)
            add_batches = batch + 1
        else:
            add_batches = batch - self._last_batch_seen
        self._batches_seen_since_last_saving += add_batches
        self._last_batch_seen = batch
        if self._batches_seen_since_last_saving >= self.save_freq:
            self._batches_seen_since_last_saving = 0
            return True
        return False

    def _should_save_model(self, epoch, logs, filepath) -> bool:
        if not self.save_best_only:
            if self.verbose > 0:
                print(f"\nEpoch {epoch + 1}: saving model to {filepath}")
            return True
        current = logs.get(self.monitor)
        if current is None:
            warnings.warn(f"Can save best model only with {self.monitor} available.", stacklevel=3)
            return True
        if np.ndim(current) > 0:
            warnings.warn(
                "Can save best model only when `monitor` is a scalar value. "
                f"Received: {current}. Falling back to `save_best_only=False`.",
                stacklevel=3,
            )
            return True
        best = "None" if self.best is None else f"{self.best:.5f}"
        if self._is_improvement(current, self.best):
            if self.verbose > 0:
                print(
                    f"\nEpoch {epoch + 1}: {self.monitor} improved from {best} to "
                    f"{current:.5f}, saving model to {filepath}"
                )
            self.best = current
            return True
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {best}")
        return False

    def _save_model(self, epoch, batch, logs) -> None:
        logs = dict(logs or {})
        if not _finite_state(self.model, logs):
            return  # never save a NaN/Inf state
        filepath = self._get_file_path(epoch, batch, logs)
        if not self._should_save_model(epoch, logs, filepath):
            return
        if os.path.isdir(filepath):
            raise OSError(
                "Please specify a non-directory filepath for ModelCheckpoint. "
                f"Filepath used is an existing directory: {filepath}"
            )
        dirname = os.path.dirname(filepath)
        if dirname:
            os.makedirs(dirname, exist_ok=True)
        if self.save_weights_only:
            self.model.save_weights(filepath, overwrite=True)
        else:
            self.model.save(filepath, overwrite=True)
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: finished saving model to {filepath}")

    def _get_file_path(self, epoch, batch, logs) -> str:
        fields = dict(logs)
        fields["epoch"] = epoch + 1
        if batch is not None and "batch" not in logs:
            fields["batch"] = batch + 1
        try:
            return self.filepath.format(**fields)
        except KeyError as err:
            raise KeyError(
                f'Failed to format this callback filepath: "{self.filepath}". Reason: {err}'
            ) from None


def _finite_state(model, logs) -> bool:
    """Whether the logged loss and every weight are finite."""
    loss = logs.get("loss")
    if loss is not None and not np.all(np.isfinite(loss)):
        return False
    return all(np.isfinite(w.numpy()).all() for w in model.weights)
