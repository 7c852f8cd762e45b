"""Callbacks that watch a metric: ``EarlyStopping`` and ``ReduceLROnPlateau``."""

from __future__ import annotations

import warnings

import numpy as np

from cnnkit.callbacks._validation import (
    _check_bool,
    _check_int,
    _check_optional_real,
    _check_real,
)
from cnnkit.callbacks.base import Callback

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
