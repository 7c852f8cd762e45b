"""Callbacks: code that runs at fixed points of ``fit``, ``evaluate`` and ``predict``.

The order of the hooks during ``fit`` is Keras's::

    on_train_begin
      on_epoch_begin(epoch)
        on_train_batch_begin(batch) ... on_train_batch_end(batch, logs)   (each batch)
        on_test_begin ... on_test_end(logs)                               (validation)
      on_epoch_end(epoch, logs)        # logs hold "loss", metrics and "val_" entries
    on_train_end

Setting ``model.stop_training = True`` in any hook ends training after the
current batch.

Built-in callbacks, with Keras 3's names, arguments, defaults and behaviour:
``History`` and ``ProgbarLogger`` (added by ``fit``), ``EarlyStopping``,
``ModelCheckpoint``, ``ReduceLROnPlateau``, ``LearningRateScheduler``,
``CSVLogger``, ``TerminateOnNaN`` and ``LambdaCallback``. Every file they write
goes through :func:`cnnkit.io_utils.atomic_write`, so a crash mid-write never
leaves a half-written checkpoint or log behind.

Deliberate deviations from Keras 3:
    - ``mode="auto"`` decides the direction from the metric's ``_direction``
      (``"up"``/``"down"``) when the model has a metric of that name that sets
      it, else from the name: ``loss`` and ``*_loss`` are minimised; names
      containing ``acc`` or ``auc``, or with a ``precision``, ``recall``,
      ``f1``, ``fbeta``, ``iou`` or ``r2`` part, are maximised; anything else is
      minimised (Keras 3 raises a ``ValueError`` there).
    - ``ModelCheckpoint`` writes a provisional format until cnnkit has its own
      model files: see its docstring.
    - ``CSVLogger`` rewrites the whole file atomically at each epoch end instead
      of appending to an open file.
    - Arguments are validated at construction (``ValueError`` naming the argument).
"""

from __future__ import annotations

import csv
import inspect
import io
import json
import math
import numbers
import os
import sys
import time
import warnings

import numpy as np

from cnnkit import backend
from cnnkit.io_utils import atomic_write, atomic_write_text

__all__ = [
    "CSVLogger",
    "Callback",
    "CallbackList",
    "EarlyStopping",
    "History",
    "LambdaCallback",
    "LearningRateScheduler",
    "ModelCheckpoint",
    "ProgbarLogger",
    "ReduceLROnPlateau",
    "TerminateOnNaN",
]


class Callback:
    """Base class: override the hooks you need; ``fit`` sets ``self.model`` and ``self.params``."""

    def __init__(self):
        self.model = None
        self.params: dict = {}

    def set_model(self, model) -> None:
        self.model = model

    def set_params(self, params: dict) -> None:
        self.params = params

    def on_train_begin(self, logs=None): ...
    def on_train_end(self, logs=None): ...
    def on_epoch_begin(self, epoch, logs=None): ...
    def on_epoch_end(self, epoch, logs=None): ...
    def on_batch_begin(self, batch, logs=None):
        """Alias of ``on_train_batch_begin`` kept by Keras for older code."""

    def on_batch_end(self, batch, logs=None):
        """Alias of ``on_train_batch_end`` kept by Keras for older code."""

    def on_train_batch_begin(self, batch, logs=None):
        self.on_batch_begin(batch, logs=logs)

    def on_train_batch_end(self, batch, logs=None):
        self.on_batch_end(batch, logs=logs)

    def on_test_begin(self, logs=None): ...
    def on_test_end(self, logs=None): ...
    def on_test_batch_begin(self, batch, logs=None): ...
    def on_test_batch_end(self, batch, logs=None): ...
    def on_predict_begin(self, logs=None): ...
    def on_predict_end(self, logs=None): ...
    def on_predict_batch_begin(self, batch, logs=None): ...
    def on_predict_batch_end(self, batch, logs=None): ...


_HOOKS = [name for name in vars(Callback) if name.startswith("on_")]


class CallbackList(Callback):
    """Dispatches every hook to a list of callbacks, in order."""

    def __init__(self, callbacks=None, model=None, **params):
        super().__init__()
        self.callbacks = list(callbacks or [])
        for cb in self.callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(
                    "Every element of `callbacks` must be a Callback instance. "
                    f"Received: {cb!r} (of type {type(cb).__name__})"
                )
        if model is not None:
            self.set_model(model)
        if params:
            self.set_params(params)

    def append(self, callback: Callback) -> None:
        self.callbacks.append(callback)

    def set_model(self, model) -> None:
        super().set_model(model)
        for cb in self.callbacks:
            cb.set_model(model)

    def set_params(self, params: dict) -> None:
        super().set_params(params)
        for cb in self.callbacks:
            cb.set_params(params)

    def __getattribute__(self, name):
        if name in _HOOKS:
            callbacks = object.__getattribute__(self, "callbacks")
            # As Keras's CallbackList: every hook receives a logs dict ({} when none is
            # given), shared by the callbacks in order; batch hooks get it as `logs=`.
            n_index = 1 if "epoch" in name or "batch" in name else 0  # the epoch/batch argument
            by_keyword = "batch" in name

            def dispatch(*args, logs=None):
                if len(args) > n_index:
                    args, logs = args[:n_index], args[n_index]
                logs = {} if logs is None else logs
                for cb in callbacks:
                    if by_keyword:
                        getattr(cb, name)(*args, logs=logs)
                    else:
                        getattr(cb, name)(*args, logs)

            return dispatch
        return object.__getattribute__(self, name)


class History(Callback):
    """Records the epoch-end logs: ``history.history["loss"]`` etc., and ``history.epoch``.

    ``fit`` adds one automatically and returns it.
    """

    def __init__(self):
        super().__init__()
        self.history: dict[str, list] = {}
        self.epoch: list[int] = []

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)
        if self.model is not None:
            self.model.history = self


class ProgbarLogger(Callback):
    """Prints Keras 3 style progress.

    ``verbose=1``: ``Epoch 3/15`` then a bar
    ``1875/1875 ━━━━━━━━━━━━━━━━━━━━ 5s 2ms/step - accuracy: 0.8812 - loss: 0.3301``,
    redrawn in place on a terminal; when the output is not a terminal (a log
    file, CI) only the final line of each epoch is printed.
    ``verbose=2``: one line per epoch: ``1875/1875 - 5s - 2ms/step - accuracy: ...``.
    """

    def __init__(self, verbose=1, stream=None):
        super().__init__()
        self.verbose = verbose
        self.stream = stream
        self._mode = "train"

    def _out(self):
        return self.stream or sys.stdout

    def on_train_begin(self, logs=None):
        self._mode = "train"

    def on_epoch_begin(self, epoch, logs=None):
        self._mode = "train"
        epochs = self.params.get("epochs", 1)
        self._print(f"Epoch {epoch + 1}/{epochs}\n")
        self._start(self.params.get("steps"))

    def on_train_batch_end(self, batch, logs=None):
        self._update(batch + 1, logs)

    def on_epoch_end(self, epoch, logs=None):
        self._finish(logs)

    def on_test_begin(self, logs=None):
        if self._mode != "train":  # evaluate() called directly
            self._start(self.params.get("steps"))

    def on_test_batch_end(self, batch, logs=None):
        if self._mode == "test":
            self._update(batch + 1, logs)

    def on_test_end(self, logs=None):
        if self._mode == "test":
            self._finish(logs)

    def on_predict_batch_end(self, batch, logs=None):
        if self._mode == "predict":
            self._update(batch + 1, None)

    def on_predict_end(self, logs=None):
        if self._mode == "predict":
            self._finish(None)

    def start_mode(self, mode: str, steps) -> None:
        """Called by evaluate/predict when they own the progress bar."""
        self._mode = mode
        self._start(steps)

    # -- drawing ------------------------------------------------------------
    def _start(self, steps) -> None:
        self._steps = steps
        self._t0 = time.perf_counter()
        self._last_draw = 0.0
        self._seen = 0

    def _dynamic(self) -> bool:
        isatty = getattr(self._out(), "isatty", None)
        return bool(isatty and isatty())

    def _update(self, step: int, logs) -> None:
        self._seen = step
        if self.verbose != 1 or not self._dynamic():
            return
        now = time.perf_counter()
        if now - self._last_draw < 0.1 and step != self._steps:
            return
        self._last_draw = now
        self._print("\r" + self._line(step, logs, final=False))

    def _finish(self, logs) -> None:
        if not self.verbose:
            return
        step = self._seen
        if self.verbose == 2:
            elapsed = time.perf_counter() - self._t0
            per = _per_step(elapsed, step)
            text = f"{step}/{self._steps or step} - {elapsed:.0f}s - {per}{_format_logs(logs)}"
            self._print(text + "\n")
            return
        prefix = "\r" if self._dynamic() else ""
        self._print(prefix + self._line(step, logs, final=True) + "\n")

    def _line(self, step: int, logs, final: bool) -> str:
        total = self._steps
        elapsed = time.perf_counter() - self._t0
        width = 20
        if total:
            filled = int(width * step / total)
            digits = len(str(total))
            head = f"{step:>{digits}}/{total} "
        else:
            filled = width if final else 0
            head = f"{step}/Unknown "
        bar = "\u2501" * filled + "\u2500" * (width - filled)
        if final or not total:
            when = f"{elapsed:.0f}s"
        else:
            eta = elapsed / max(step, 1) * (total - step)
            when = f"{eta:.0f}s"
        return f"{head}{bar} {when} {_per_step(elapsed, step)}{_format_logs(logs)}"

    def _print(self, text: str) -> None:
        out = self._out()
        out.write(text)
        out.flush()


def _per_step(elapsed: float, steps: int) -> str:
    per = elapsed / max(steps, 1)
    if per >= 1:
        return f"{per:.0f}s/step"
    if per >= 1e-3:
        return f"{per * 1e3:.0f}ms/step"
    return f"{per * 1e6:.0f}us/step"


def _format_logs(logs) -> str:
    if not logs:
        return ""
    parts = []
    for key in sorted(logs, key=lambda k: (k.startswith("val_"), k)):
        value = logs[key]
        try:
            parts.append(f" - {key}: {float(value):.4f}")
        except (TypeError, ValueError):
            continue
    return "".join(parts)


# ---------------------------------------------------------------------------
# Callbacks that watch a metric
# ---------------------------------------------------------------------------

_MODES = ("auto", "min", "max")
_MAXIMISED_PARTS = ("precision", "recall", "f1", "fbeta", "iou", "r2")


def _resolve_mode(owner: str, mode) -> str:
    """Keras falls back to ``"auto"`` (with a warning) for an unknown mode."""
    if mode not in _MODES:
        warnings.warn(f"{owner} mode '{mode}' is unknown, fallback to auto mode.", stacklevel=3)
        return "auto"
    return mode


def _maximised(monitor: str, mode: str, model) -> bool:
    """Whether larger values of ``monitor`` are better (see the module docstring)."""
    if mode != "auto":
        return mode == "max"
    name = monitor.removeprefix("val_")
    if name == "loss" or name.endswith("_loss"):
        return False
    for metric in getattr(model, "metrics", None) or []:
        direction = getattr(metric, "_direction", None)
        if getattr(metric, "name", None) == name and direction in ("up", "down"):
            return direction == "up"
    if "acc" in name or "auc" in name:
        return True
    return any(part in _MAXIMISED_PARTS for part in name.split("_"))


class _MonitorCallback(Callback):
    """Shared by EarlyStopping and ModelCheckpoint: Keras's ``MonitorCallback`` comparison.

    ``monitor_op`` is ``np.less`` or ``np.greater`` and, as in Keras,
    ``min_delta`` is stored negated in min mode so that an improvement is
    ``monitor_op(current - min_delta, reference)``.
    """

    def __init__(self, monitor, mode, baseline, min_delta, baseline_name="baseline"):
        super().__init__()
        if not isinstance(monitor, str) or not monitor:
            raise ValueError(
                "Invalid value for argument `monitor`. Expected a metric name such as "
                f"'val_loss'. Received: monitor={monitor!r}"
            )
        self.monitor = monitor
        self.mode = _resolve_mode(type(self).__name__, mode)
        self.best = _check_optional_real(baseline_name, baseline)
        self.min_delta = abs(_check_real("min_delta", min_delta))
        self.monitor_op = None

    def _set_monitor_op(self) -> None:
        if _maximised(self.monitor, self.mode, self.model):
            self.monitor_op = np.greater
        else:
            self.monitor_op = np.less
            self.min_delta *= -1

    def _is_improvement(self, monitor_value, reference_value) -> bool:
        if self.monitor_op is None:
            self._set_monitor_op()
        if reference_value is None:
            return True
        return bool(self.monitor_op(monitor_value - self.min_delta, reference_value))


class EarlyStopping(_MonitorCallback):
    """Stop training when a monitored metric has stopped improving.

    At each epoch end the monitored value is compared with the best so far; an
    improvement must beat it by more than ``min_delta``. Training stops (sets
    ``model.stop_training``) once ``patience`` epochs in a row have not improved.

    Args:
        monitor: the logged quantity to watch (``"val_loss"``, ``"accuracy"``, ...).
        min_delta: the smallest absolute change that counts as an improvement.
        patience: epochs without improvement after which training stops.
        verbose: 1 prints a message when stopping or restoring weights.
        mode: ``"min"``, ``"max"`` or ``"auto"`` (from the metric's name; see
            the module docstring).
        baseline: a value to reach: while no epoch improves on it, the wait
            counter keeps growing, so training stops after ``patience`` epochs.
        restore_best_weights: at the end of training, restore the weights of
            the best epoch (of the monitored epochs, even if none beat ``baseline``).
        start_from_epoch: epochs to wait before monitoring starts (a warm-up).

    Raises:
        ValueError: for an invalid argument.

    Example:
        >>> import numpy as np, cnnkit as keras
        >>> model = keras.Sequential([keras.Input((20,)), keras.layers.Dense(10)])
        >>> model.compile(keras.optimizers.SGD(learning_rate=0.0), loss="mse")
        >>> callback = EarlyStopping(monitor="loss", patience=3)
        >>> # With a zero learning rate the loss never improves: 1 + 3 epochs run.
        >>> history = model.fit(np.ones((5, 20)), np.zeros((5, 10)), epochs=10,
        ...                     callbacks=[callback], verbose=0)
        >>> len(history.history["loss"])
        4
    """

    def __init__(
        self,
        monitor="val_loss",
        min_delta=0,
        patience=0,
        verbose=0,
        mode="auto",
        baseline=None,
        restore_best_weights=False,
        start_from_epoch=0,
    ):
        super().__init__(monitor, mode, None, min_delta)
        self.patience = _check_int("patience", patience)
        self.verbose = _check_int("verbose", verbose)
        self.baseline = _check_optional_real("baseline", baseline)
        self.restore_best_weights = _check_bool("restore_best_weights", restore_best_weights)
        self.start_from_epoch = _check_int("start_from_epoch", start_from_epoch)
        self.wait = 0
        self.stopped_epoch = 0
        self.best_epoch = 0
        self.best_weights = None

    def on_train_begin(self, logs=None):
        # Allow an instance to be reused across fit calls.
        self.wait = 0
        self.stopped_epoch = 0
        self.best = None
        self.best_weights = None
        self.best_epoch = 0

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor_op is None:
            self._set_monitor_op()  # delayed until the model's metrics exist
        current = self.get_monitor_value(logs)
        if current is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            # The first monitored epoch is the best so far.
            self.best_weights = self.model.get_weights()
            self.best_epoch = epoch
        self.wait += 1
        if self._is_improvement(current, self.best):
            self.best = current
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            # Restart the wait only when beating both the baseline and the best so far.
            if self.baseline is None or self._is_improvement(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                print(
                    "Restoring model weights from the end of the best epoch: "
                    f"{self.best_epoch + 1}."
                )
            self.model.set_weights(self.best_weights)

    def get_monitor_value(self, logs):
        logs = logs or {}
        value = logs.get(self.monitor)
        if value is None:
            warnings.warn(
                f"Early stopping conditioned on metric `{self.monitor}` which is not available. "
                f"Available metrics are: {','.join(logs)}",
                stacklevel=2,
            )
        return value


class ModelCheckpoint(_MonitorCallback):
    """Save the model or its weights every epoch (or every ``save_freq`` batches).

    ``filepath`` may hold ``str.format`` fields filled from ``epoch`` (1-based)
    and the logs, e.g. ``"ckpt/{epoch:02d}-{val_loss:.2f}.weights.h5"``.

    Provisional format (until cnnkit has its own model files; the call sites
    stay the same when they arrive):

    - ``save_weights_only=True``: the weights, in ``model.weights`` order, as an
      uncompressed NumPy ``.npz`` of plain arrays (no pickle) whose keys are
      ``"000:dense/kernel"``, ``"001:dense/bias"``, ... (index and variable
      path), whatever the file's extension. ``filepath`` must end in
      ``.weights.h5`` (Keras's name, kept so Keras code runs) or ``.npz``.
      Read it back with ``np.load(path)`` and ``model.set_weights``.
    - ``save_weights_only=False``: ``model.save(filepath, overwrite=True)`` when
      the model has a ``save`` method; otherwise the same ``.npz`` at
      ``filepath`` plus ``filepath + ".config.json"`` holding
      ``{"module", "class_name", "config": model.get_config(), "registered_name"}``.
      ``filepath`` must end in ``.keras`` or ``.h5``, as in Keras.

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
            if not self.filepath.endswith((".weights.h5", ".npz")):
                raise ValueError(
                    "When using `save_weights_only=True` in `ModelCheckpoint`, the filepath "
                    "provided must end in `.weights.h5` (Keras weights format) or `.npz`. "
                    f"Received: filepath={self.filepath}"
                )
        elif not self.filepath.endswith((".keras", ".h5")):
            raise ValueError(
                "The filepath provided must end in `.keras` (Keras model format). "
                f"Received: filepath={self.filepath}"
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
            _save_weights_npz(self.model, filepath)
        elif hasattr(self.model, "save"):
            self.model.save(filepath, overwrite=True)
        else:
            _save_model_provisional(self.model, filepath)
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


def _save_weights_npz(model, path: str) -> None:
    """``model.weights`` as a plain-array ``.npz`` (no pickle), keys ``"000:<path>"``."""
    arrays = {}
    for i, w in enumerate(model.weights):
        array = np.asarray(backend.to_numpy(w.data))
        assert array.dtype != object, "weights are numeric arrays"
        arrays[f"{i:03d}:{getattr(w, 'path', None) or w.name}"] = array
    with atomic_write(path) as f:
        np.savez(f, **arrays)


def _save_model_provisional(model, path: str) -> None:
    """The weights ``.npz`` at ``path`` and the model's config at ``path + ".config.json"``."""
    record = {
        "module": type(model).__module__,
        "class_name": type(model).__name__,
        "config": model.get_config(),
        "registered_name": None,
    }
    try:
        text = json.dumps(record, indent=2, default=_json_default)
    except TypeError as err:
        raise TypeError(
            f"Cannot save the config of model {getattr(model, 'name', model)!r} as JSON: {err}"
        ) from None
    atomic_write_text(path + ".config.json", text + "\n")
    _save_weights_npz(model, path)


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


class ReduceLROnPlateau(Callback):
    """Reduce the learning rate when a metric has stopped improving.

    When ``monitor`` has not improved (by more than ``min_delta``) for
    ``patience`` epochs, ``model.optimizer.learning_rate`` becomes
    ``max(lr * factor, min_lr)``; then ``cooldown`` epochs pass before the wait
    counts again. Each epoch end adds ``"learning_rate"`` to the logs (so
    ``History`` records it), as Keras does.

    Args:
        monitor: the logged quantity to watch.
        factor: the multiplier of the learning rate, in ``[0, 1)``.
        patience: epochs without improvement before reducing.
        verbose: 1 prints a message at each reduction.
        mode: ``"min"``, ``"max"`` or ``"auto"`` for ``monitor``.
        min_delta: the threshold for an improvement.
        cooldown: epochs to wait after a reduction before resuming normal operation.
        min_lr: the lower bound of the learning rate.

    Raises:
        ValueError: for ``factor >= 1.0`` or another invalid argument.

    Example:
        >>> reduce_lr = ReduceLROnPlateau(monitor="val_loss", factor=0.2, patience=5,
        ...                               min_lr=0.001)
    """

    def __init__(
        self,
        monitor="val_loss",
        factor=0.1,
        patience=10,
        verbose=0,
        mode="auto",
        min_delta=1e-4,
        cooldown=0,
        min_lr=0.0,
    ):
        super().__init__()
        if not isinstance(monitor, str) or not monitor:
            raise ValueError(
                "Invalid value for argument `monitor`. Expected a metric name such as "
                f"'val_loss'. Received: monitor={monitor!r}"
            )
        self.monitor = monitor
        factor = _check_real("factor", factor)
        if factor >= 1.0:
            raise ValueError(
                f"ReduceLROnPlateau does not support a factor >= 1.0. Received factor={factor}"
            )
        if factor < 0:
            raise ValueError(
                "Invalid value for argument `factor`. Expected a float in [0, 1). "
                f"Received: factor={factor}"
            )
        self.factor = factor
        self.min_lr = _check_real("min_lr", min_lr, minimum=0)
        self.min_delta = _check_real("min_delta", min_delta)
        self.patience = _check_int("patience", patience)
        self.verbose = _check_int("verbose", verbose)
        self.cooldown = _check_int("cooldown", cooldown)
        self.cooldown_counter = 0
        self.wait = 0
        self.mode = _resolve_mode("Learning rate reduction", mode)
        self.monitor_op = None
        self.best = 0.0
        self._reset()

    def _reset(self) -> None:
        """Reset the wait and cooldown counters and the best value."""
        if _maximised(self.monitor, self.mode, self.model):
            self.monitor_op = lambda a, b: np.greater(a, b + self.min_delta)
            self.best = -np.inf
        else:
            self.monitor_op = lambda a, b: np.less(a, b - self.min_delta)
            self.best = np.inf
        self.cooldown_counter = 0
        self.wait = 0

    def on_train_begin(self, logs=None):
        self._reset()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        logs["learning_rate"] = float(self.model.optimizer.learning_rate)
        current = logs.get(self.monitor)
        if current is None:
            warnings.warn(
                "Learning rate reduction is conditioned on metric "
                f"`{self.monitor}` which is not available. Available metrics are: "
                f"{','.join(logs)}.",
                stacklevel=2,
            )
            return
        if self.in_cooldown():
            self.cooldown_counter -= 1
            self.wait = 0
        if self.monitor_op(current, self.best):
            self.best = current
            self.wait = 0
        elif not self.in_cooldown():
            self.wait += 1
            if self.wait >= self.patience:
                old_lr = float(self.model.optimizer.learning_rate)
                if old_lr > np.float32(self.min_lr):
                    new_lr = max(old_lr * self.factor, self.min_lr)
                    self.model.optimizer.learning_rate = new_lr
                    if self.verbose > 0:
                        print(
                            f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate "
                            f"to {new_lr}."
                        )
                    self.cooldown_counter = self.cooldown
                    self.wait = 0

    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0


# ---------------------------------------------------------------------------
# Other callbacks
# ---------------------------------------------------------------------------


class LearningRateScheduler(Callback):
    """Set the learning rate at the start of every epoch from ``schedule``.

    ``schedule(epoch, lr)`` (epoch from 0, ``lr`` the current rate as a float)
    or ``schedule(epoch)`` returns the new rate, a float. Each epoch end adds
    ``"learning_rate"`` to the logs, as Keras does.

    Args:
        schedule: a function of the epoch index, or of the epoch index and the
            current learning rate, returning a float.
        verbose: 1 prints the rate set at each epoch.

    Raises:
        ValueError: ``schedule`` is not callable, or (during ``fit``) returns
            something other than a float.

    Example:
        >>> import math, numpy as np, cnnkit as keras
        >>> def scheduler(epoch, lr):
        ...     return lr if epoch < 10 else lr * math.exp(-0.1)
        >>> model = keras.Sequential([keras.Input((20,)), keras.layers.Dense(10)])
        >>> model.compile(keras.optimizers.SGD(), loss="mse")
        >>> history = model.fit(np.arange(100.0).reshape(5, 20) / 100, np.zeros((5, 10)),
        ...                     epochs=15, callbacks=[LearningRateScheduler(scheduler)],
        ...                     verbose=0)
        >>> round(float(model.optimizer.learning_rate), 5)
        0.00607
    """

    def __init__(self, schedule, verbose=0):
        super().__init__()
        if not callable(schedule):
            raise ValueError(
                "Invalid value for argument `schedule`. Expected a function of the epoch (and "
                f"the current learning rate). Received: schedule={schedule!r}"
            )
        self.schedule = schedule
        self.verbose = _check_int("verbose", verbose)
        self._with_lr = _accepts_positional(schedule, 2)

    def on_epoch_begin(self, epoch, logs=None):
        optimizer = self.model.optimizer
        if not hasattr(optimizer, "learning_rate"):
            raise ValueError('Optimizer must have a "learning_rate" attribute.')
        if self._with_lr is None:  # no signature: Keras's try-and-fall-back
            try:
                learning_rate = self.schedule(epoch, float(optimizer.learning_rate))
            except TypeError:
                learning_rate = self.schedule(epoch)
        elif self._with_lr:
            learning_rate = self.schedule(epoch, float(optimizer.learning_rate))
        else:
            learning_rate = self.schedule(epoch)
        if not isinstance(learning_rate, (float, np.floating)):
            raise ValueError(
                f"The output of the `schedule` function should be a float. Got: {learning_rate}"
            )
        optimizer.learning_rate = learning_rate
        if self.verbose > 0:
            print(
                f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to "
                f"{learning_rate}."
            )

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(self.model.optimizer.learning_rate)


class CSVLogger(Callback):
    """Write one CSV row per epoch: ``epoch`` (from 0) then the logs' keys, sorted.

    The columns are fixed at the first epoch end (Keras's order: ``epoch``,
    then the sorted log keys, e.g. ``accuracy,loss,val_accuracy,val_loss``);
    a key missing later is written as ``NA``. The file is rewritten atomically
    at every epoch end (earlier rows included), so it is never half-written and
    a crash loses at most the current epoch's row.

    Args:
        filename: the CSV file, e.g. ``"run/log.csv"``.
        separator: the one-character field separator.
        append: keep the rows already in the file (and write no header if it
            is not empty); otherwise the file is emptied when training begins.

    Raises:
        ValueError: for a separator that is not one character.

    Example:
        >>> csv_logger = CSVLogger("training.log")
    """

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        try:
            self.filename = os.fspath(filename)
        except TypeError:
            raise ValueError(
                "Invalid value for argument `filename`. Expected a string or path-like. "
                f"Received: filename={filename!r}"
            ) from None
        if not isinstance(separator, str) or len(separator) != 1:
            raise ValueError(
                "Invalid value for argument `separator`. Expected a single character. "
                f"Received: separator={separator!r}"
            )
        self.sep = separator
        self.append = _check_bool("append", append)
        self.keys = None
        self.append_header = True
        self._previous = ""
        self._buffer = None
        self.writer = None

    def on_train_begin(self, logs=None):
        self._previous = ""
        self.append_header = True
        if self.append and os.path.exists(self.filename):
            with open(self.filename, newline="", encoding="utf-8") as f:
                self._previous = f.read()
            self.append_header = not self._previous  # a header only in an empty file
        else:
            atomic_write_text(self.filename, "")
        self._buffer = io.StringIO()
        self.writer = None
        self.keys = None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.keys is None:
            self.keys = sorted(logs)
            for name in getattr(self.model, "metrics_names", None) or []:
                if name.startswith("val_") and name not in self.keys:
                    self.keys.append(name)
        if self.writer is None:
            if self._buffer is None:  # on_train_begin was not called
                self.on_train_begin()

            class Dialect(csv.excel):
                delimiter = self.sep

            self.writer = csv.DictWriter(
                self._buffer, fieldnames=["epoch", *self.keys], dialect=Dialect
            )
            if self.append_header:
                self.writer.writeheader()
        row = {"epoch": epoch}
        row.update((key, _csv_value(logs.get(key, "NA"))) for key in self.keys)
        self.writer.writerow(row)
        atomic_write_text(self.filename, self._previous + self._buffer.getvalue())

    def on_train_end(self, logs=None):
        self.writer = None


def _csv_value(value):
    """Keras's cell formatting: strings as is, 1-D iterables as ``"[a, b]"``."""
    if isinstance(value, str):
        return value
    if isinstance(value, np.ndarray) and value.ndim == 0:
        return value
    if hasattr(value, "__iter__"):
        return f'"[{", ".join(map(str, value))}]"'
    return value


class TerminateOnNaN(Callback):
    """Stop training on the batch whose loss is NaN or infinite.

    Args:
        raise_error: if ``True``, raise a ``RuntimeError`` at once instead of
            stopping gracefully (``on_train_end`` is then not called).

    Example:
        >>> callback = TerminateOnNaN()
    """

    def __init__(self, raise_error=False):
        super().__init__()
        self.raise_error = _check_bool("raise_error", raise_error)

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None or np.isfinite(loss):
            return
        if self.raise_error:
            raise RuntimeError(
                f"NaN or Inf loss encountered at batch {batch}. Loss value: {loss}. "
                "Terminating training immediately."
            )
        print(f"Batch {batch}: Invalid loss, terminating training")
        self.model.stop_training = True


class LambdaCallback(Callback):
    """A callback made of plain functions, one per hook.

    ``on_epoch_begin``/``on_epoch_end`` receive ``(epoch, logs)``,
    ``on_train_begin``/``on_train_end`` receive ``(logs)``, and
    ``on_train_batch_begin``/``on_train_batch_end`` receive ``(batch, logs)``.
    Any other hook of :class:`Callback` can be passed by name
    (``on_test_end=...``), with that hook's arguments.

    Raises:
        ValueError: a keyword is not a hook name, or a value is not callable.

    Example:
        >>> seen = []
        >>> callback = LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append(epoch))
        >>> callback.on_epoch_end(0, {})
        >>> seen
        [0]
    """

    def __init__(
        self,
        on_epoch_begin=None,
        on_epoch_end=None,
        on_train_begin=None,
        on_train_end=None,
        on_train_batch_begin=None,
        on_train_batch_end=None,
        **kwargs,
    ):
        super().__init__()
        unknown = sorted(name for name in kwargs if name not in _HOOKS)
        if unknown:
            raise ValueError(
                f"Unrecognized keyword argument(s) for LambdaCallback: {unknown}. Expected "
                f"hook names: {sorted(_HOOKS)}"
            )
        hooks = {
            "on_epoch_begin": on_epoch_begin,
            "on_epoch_end": on_epoch_end,
            "on_train_begin": on_train_begin,
            "on_train_end": on_train_end,
            "on_train_batch_begin": on_train_batch_begin,
            "on_train_batch_end": on_train_batch_end,
            **kwargs,
        }
        for name, fn in hooks.items():
            if fn is None:
                continue
            if not callable(fn):
                raise ValueError(
                    f"Invalid value for argument `{name}`. Expected a callable. "
                    f"Received: {name}={fn!r}"
                )
            setattr(self, name, fn)


# ---------------------------------------------------------------------------
# Argument checks
# ---------------------------------------------------------------------------


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _check_int(name: str, value, minimum: int = 0) -> int:
    if not _is_int(value) or value < minimum:
        raise ValueError(
            f"Invalid value for argument `{name}`. Expected an integer >= {minimum}. "
            f"Received: {name}={value!r}"
        )
    return int(value)


def _check_real(name: str, value, minimum: float | None = None) -> float:
    ok = isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))
    if not ok or not math.isfinite(value) or (minimum is not None and value < minimum):
        expected = "a finite number" if minimum is None else f"a finite number >= {minimum}"
        raise ValueError(
            f"Invalid value for argument `{name}`. Expected {expected}. Received: {name}={value!r}"
        )
    return value


def _check_optional_real(name: str, value):
    return None if value is None else _check_real(name, value)


def _check_bool(name: str, value) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(
            f"Invalid value for argument `{name}`. Expected a boolean. Received: {name}={value!r}"
        )
    return bool(value)


def _accepts_positional(fn, count: int) -> bool | None:
    """Whether ``fn`` accepts ``count`` positional arguments (``None``: no signature)."""
    try:
        parameters = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return None
    if any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in parameters):
        return True
    positional = [
        p
        for p in parameters
        if p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    ]
    return len(positional) >= count
