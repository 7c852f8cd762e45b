"""``ProgbarLogger``: Keras 3 style progress lines for fit, evaluate and predict."""

from __future__ import annotations

import logging
import sys
import time

from cnnkit import io_utils
from cnnkit.callbacks.base import Callback


class ProgbarLogger(Callback):
    """Prints Keras 3 style progress.

    ``verbose=1``: ``Epoch 3/15`` then a bar
    ``1875/1875 ━━━━━━━━━━━━━━━━━━━━ 5s 2ms/step - accuracy: 0.8812 - loss: 0.3301``,
    redrawn in place on a terminal; when the output is not a terminal (a log
    file, CI) only the final line of each epoch is printed.
    ``verbose=2``: one line per epoch: ``1875/1875 - 5s - 2ms/step - accuracy: ...``.
    """

    chief_only = True  # in a multi-process job, process 0 alone runs it

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
        if not io_utils.is_interactive_logging_enabled():
            return False
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
        if not io_utils.is_interactive_logging_enabled():
            logging.getLogger("cnnkit").info(text.strip("\r\n"))
            return
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
    for key in logs:  # in the logs' order, as Keras: metrics, val_ metrics, then added keys
        value = logs[key]
        try:
            parts.append(f" - {key}: {float(value):.4f}")
        except (TypeError, ValueError):
            continue
    return "".join(parts)


# ---------------------------------------------------------------------------
# Callbacks that watch a metric
# ---------------------------------------------------------------------------
