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

from cnnkit.callbacks.backup_and_restore import BackupAndRestore
from cnnkit.callbacks.base import Callback, CallbackList, History
from cnnkit.callbacks.checkpoint import ModelCheckpoint
from cnnkit.callbacks.csv_logger import CSVLogger
from cnnkit.callbacks.lambda_callback import LambdaCallback, TerminateOnNaN
from cnnkit.callbacks.learning_rate_scheduler import LearningRateScheduler
from cnnkit.callbacks.monitor import EarlyStopping, ReduceLROnPlateau
from cnnkit.callbacks.progbar import ProgbarLogger
from cnnkit.callbacks.tensorboard import TensorBoard

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
    "ReduceLROnPlateau",
    "TensorBoard",
    "TerminateOnNaN",
]
