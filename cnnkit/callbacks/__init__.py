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
``CSVLogger``, ``TerminateOnNaN``, ``LambdaCallback`` and ``BackupAndRestore``.
Every file they write goes through :func:`cnnkit.io_utils.atomic_write`, so a
crash mid-write never leaves a half-written checkpoint or log behind.

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
    - ``BackupAndRestore`` also restores the random generators' states and, with
      an integer ``save_freq``, the batch within the epoch, so a resumed run ends
      with the weights of an uninterrupted one; it keeps its own file layout,
      never backs up a NaN/Inf state, and keeps the folder when training ended on
      one (see its docstring).
"""

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # what the lazy names below resolve to, for type checkers and editors
    from cnnkit.callbacks.backup_and_restore import BackupAndRestore
    from cnnkit.callbacks.base import Callback, CallbackList, History
    from cnnkit.callbacks.checkpoint import ModelCheckpoint
    from cnnkit.callbacks.csv_logger import CSVLogger
    from cnnkit.callbacks.lambda_callback import LambdaCallback, TerminateOnNaN
    from cnnkit.callbacks.learning_rate_scheduler import LearningRateScheduler
    from cnnkit.callbacks.monitor import EarlyStopping, ReduceLROnPlateau
    from cnnkit.callbacks.progbar import ProgbarLogger
    from cnnkit.callbacks.remote_monitor import RemoteMonitor
    from cnnkit.callbacks.swap_ema_weights import SwapEMAWeights
    from cnnkit.callbacks.tensorboard import TensorBoard

# Imported on first use, so that ``fit`` (which needs ``base`` and ``progbar``) does not load the
# checkpointing and logging callbacks: name -> submodule of cnnkit.callbacks.
_LAZY = {
    "BackupAndRestore": "backup_and_restore",
    "CSVLogger": "csv_logger",
    "Callback": "base",
    "CallbackList": "base",
    "EarlyStopping": "monitor",
    "History": "base",
    "LambdaCallback": "lambda_callback",
    "LearningRateScheduler": "learning_rate_scheduler",
    "ModelCheckpoint": "checkpoint",
    "ProgbarLogger": "progbar",
    "ReduceLROnPlateau": "monitor",
    "RemoteMonitor": "remote_monitor",
    "SwapEMAWeights": "swap_ema_weights",
    "TensorBoard": "tensorboard",
    "TerminateOnNaN": "lambda_callback",
}

__all__ = [
    "BackupAndRestore",
    "CSVLogger",
    "Callback",
    "CallbackList",
    "EarlyStopping",
    "History",
    "LambdaCallback",
    "LearningRateScheduler",
    "ModelCheckpoint",
    "ProgbarLogger",
    "RemoteMonitor",
    "SwapEMAWeights",
    "TensorBoard",
    "ReduceLROnPlateau",
    "TerminateOnNaN",
]


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module 'cnnkit.callbacks' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"cnnkit.callbacks.{_LAZY[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
