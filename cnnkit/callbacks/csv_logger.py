"""``CSVLogger``: one CSV row per epoch, the file replaced atomically each time."""

from __future__ import annotations

import csv
import io
import os

import numpy as np

from cnnkit.callbacks._validation import (
    _check_bool,
)
from cnnkit.callbacks.base import Callback
from cnnkit.io_utils import atomic_write_text


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

    chief_only = True  # in a multi-process job, process 0 alone runs it

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
