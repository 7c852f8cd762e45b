"""``TerminateOnNaN`` and ``LambdaCallback``: small callbacks built from plain functions."""

from __future__ import annotations

import numpy as np

from cnnkit.callbacks._validation import (
    _check_bool,
)
from cnnkit.callbacks.base import _HOOKS, Callback


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
