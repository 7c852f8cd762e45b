"""``SwapEMAWeights``: evaluate (and checkpoint) with the optimizer's moving average of the
weights (``use_ema=True``), as Keras 3's callback.

During validation (``on_test_begin``/``on_test_end``) and prediction the model's weights and
their exponential moving average are swapped, so the metrics are those of the averaged
weights while training continues from the raw ones. With ``swap_on_epoch=True`` the averaged
weights are also in the model between ``on_epoch_end`` and the next ``on_epoch_begin`` (so a
``ModelCheckpoint`` placed after this callback saves them).

Deliberate deviation from Keras 3: ``on_predict_end`` swaps the weights back (Keras's
condition is inverted there, leaving the averaged weights in the model after ``predict``).
"""

from __future__ import annotations

import numpy as np

from cnnkit.callbacks.base import Callback


class SwapEMAWeights(Callback):
    """Swap the model's weights with their moving average around evaluation.

    Args:
        swap_on_epoch: also keep the averaged weights in the model from each epoch's end to
            the next epoch's beginning.
    """

    def __init__(self, swap_on_epoch=False):
        super().__init__()
        self.swap_on_epoch = swap_on_epoch
        self._ema_weights_in_model = False

    def _optimizers(self):
        optimizer = self.model.optimizer
        optimizer = getattr(optimizer, "inner_optimizer", optimizer)
        found = [
            opt
            for opt in getattr(optimizer, "optimizers", [optimizer])
            if getattr(opt, "use_ema", False)
        ]
        if not found or not all(hasattr(o, "_model_variables_moving_average") for o in found):
            raise ValueError(
                "SwapEMAWeights must be used when `use_ema=True` is set on the optimizer. "
                f"Received: use_ema={getattr(optimizer, 'use_ema', False)}"
            )
        return found

    def _swap_variables(self) -> None:
        for optimizer in self._optimizers():
            for var, average in zip(
                optimizer._trainable_variables, optimizer._model_variables_moving_average
            ):
                kept = np.array(var.data, copy=True)
                var.data[...] = average.data
                average.data[...] = kept

    def _finalize_ema_values(self) -> None:
        for optimizer in self._optimizers():
            for var, average in zip(
                optimizer._trainable_variables, optimizer._model_variables_moving_average
            ):
                average.data[...] = var.data

    def on_epoch_begin(self, epoch, logs=None):
        if self.swap_on_epoch and self._ema_weights_in_model:
            self._swap_variables()
            self._ema_weights_in_model = False

    def on_epoch_end(self, epoch, logs=None):
        if self.swap_on_epoch and not self._ema_weights_in_model:
            self._swap_variables()
            self._ema_weights_in_model = True
            if epoch == self.params["epochs"] - 1:
                self._finalize_ema_values()

    def on_test_begin(self, logs=None):
        if not self._ema_weights_in_model:
            self._swap_variables()
            self._ema_weights_in_model = True

    def on_test_end(self, logs=None):
        if self._ema_weights_in_model:
            self._swap_variables()
            self._ema_weights_in_model = False

    def on_predict_begin(self, logs=None):
        self.on_test_begin(logs)

    def on_predict_end(self, logs=None):
        self.on_test_end(logs)
