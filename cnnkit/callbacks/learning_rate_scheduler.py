"""``LearningRateScheduler``: set the learning rate at the start of every epoch."""

from __future__ import annotations

import numpy as np

from cnnkit.callbacks._validation import (
    _accepts_positional,
    _check_int,
)
from cnnkit.callbacks.base import Callback


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
