"""The steps of an epoch, and the only place where batches are grouped.

:class:`EpochIterator` draws an epoch's batches from a data adapter
(:mod:`cnnkit.trainers.data_adapters`) and yields them in groups, with the steps each
group covers: ``(begin_step, end_step, batches)``. The trainer runs a group at once and
calls the batch callbacks once per group, ``on_*_batch_begin(begin_step)`` and
``on_*_batch_end(end_step, logs)``, as Keras does with ``steps_per_execution``.

Two kinds of groups:

- ``steps_per_execution`` = N (``compile``'s argument): up to N consecutive batches, each
  still its own training step (its own gradient update). The last group of an epoch is cut
  to the epoch's end (Keras: "the execution will be truncated to the size of the epoch").
- ``join`` = N (``evaluate``/``predict`` on a sample-wise model, see
  :func:`cnnkit.models.inference.batches_per_group`): the samples of up to N consecutive
  batches in one batch, passed through the model at once; ``batches`` is then one item,
  covering steps ``begin_step .. end_step``.

Epochs and steps follow Keras's ``EpochIterator``: an epoch is ``steps_per_epoch`` steps
when given (the data's iterator is then carried on into the next epoch until it has given
all its batches, and running out early warns), else the adapter's ``num_batches``, else
until the data ends. ``cnnkit.config.set_max_steps_per_epoch`` caps every epoch.
"""

from __future__ import annotations

import math
import warnings

from cnnkit import backend, tree


class EpochIterator:
    """Groups of batches, epoch after epoch.

    Args:
        adapter: a :class:`~cnnkit.trainers.data_adapters.data_adapter.DataAdapter`.
        steps_per_epoch: steps in an epoch (``None``: the adapter's ``num_batches``, or
            until the data ends).
        steps_per_execution: batches in a group (each its own step).
        join: batches whose samples are joined into one batch (an
            :class:`~cnnkit.trainers.data_adapters.ArrayDataAdapter` only, without
            ``steps_per_epoch``).

    Example:
        >>> import numpy as np
        >>> from cnnkit.trainers.data_adapters import ArrayDataAdapter
        >>> adapter = ArrayDataAdapter(np.zeros((10, 2)), batch_size=2)
        >>> iterator = EpochIterator(adapter, steps_per_execution=2)
        >>> [(begin, end, len(batches)) for begin, end, batches in iterator.enumerate_epoch()]
        [(0, 1, 2), (2, 3, 2), (4, 4, 1)]
        >>> joined = EpochIterator(adapter, join=4)
        >>> [(begin, end, len(b[0][0])) for begin, end, b in joined.enumerate_epoch()]
        [(0, 3, 8), (4, 4, 2)]
    """

    def __init__(self, adapter, steps_per_epoch=None, steps_per_execution: int = 1, join: int = 1):
        if not isinstance(steps_per_execution, int) or steps_per_execution < 1:
            raise ValueError(
                "Invalid value for argument `steps_per_execution`. Expected a positive "
                f"integer. Received: steps_per_execution={steps_per_execution!r}"
            )
        if join > 1 and (steps_per_epoch is not None or not hasattr(adapter, "n")):
            raise ValueError("`join` needs in-memory arrays and no `steps_per_epoch`.")
        self.adapter = adapter
        self.steps_per_epoch = steps_per_epoch
        self.steps_per_execution = steps_per_execution
        self.join = join
        self._iterator = None  # carried into the next epoch with `steps_per_epoch`
        self._seen = 0  # batches drawn from it

    @property
    def num_batches(self) -> int | None:
        """Steps in an epoch, or ``None`` when only the data's end tells."""
        steps = self.steps_per_epoch or self.adapter.num_batches
        cap = backend.max_steps_per_epoch()
        if cap is not None and (steps is None or cap < steps):
            return cap
        return steps

    def enumerate_epoch(self, initial_step: int = 0):
        """One epoch's ``(begin_step, end_step, batches)``, from ``initial_step`` on (the
        batches before it are drawn and dropped, so that a resumed run reads the data as
        the interrupted one did)."""
        self.adapter.on_epoch_begin()
        carry = self.steps_per_epoch is not None
        if self._iterator is None or not carry:
            self._start()
        steps = self.num_batches
        step = 0
        while steps is None or step < steps:
            size = (
                self.steps_per_execution
                if steps is None
                else min(self.steps_per_execution, steps - step)
            )
            group = self._draw(size)
            if not group:
                if carry:
                    self._ran_out()
                break
            count = len(group) if self.join == 1 else self._steps_in(group[0])
            if steps is not None and step + count > steps:  # a joined run past the cap
                group = [self._first_steps(group[0], steps - step)]
                count = steps - step
            if step >= initial_step:
                yield step, step + count - 1, group
            step += count
            if len(group) < size:  # the data ended inside the group
                if carry:
                    self._ran_out()
                break
        known = self.adapter.num_batches
        if not carry or (known is not None and self._seen >= known):
            self._close()
        self.adapter.on_epoch_end()

    def _start(self) -> None:
        self._close()
        if self.join > 1:
            self._iterator = iter(self.adapter.get_numpy_iterator(self.join))
        else:
            self._iterator = iter(self.adapter.get_numpy_iterator())
        self._seen = 0

    def _draw(self, size: int) -> list:
        group = []
        for _ in range(1 if self.join > 1 else size):
            try:
                group.append(next(self._iterator))
            except StopIteration:
                break
        self._seen += len(group)
        return group

    def _steps_in(self, run) -> int:
        x = run[0]
        n = len(x[0]) if isinstance(x, list) else len(x)
        return math.ceil(n / self.adapter.batch_size)

    def _first_steps(self, run, count: int):
        """The samples of a joined run's first ``count`` steps."""
        n = count * self.adapter.batch_size
        return tree.map_structure(lambda a: None if a is None else a[:n], run)

    def _ran_out(self) -> None:
        self._close()
        warnings.warn(
            "Your input ran out of data; interrupting the epoch. Make sure that your dataset "
            "or generator can generate at least `steps_per_epoch * epochs` batches.",
            stacklevel=3,
        )

    def _close(self) -> None:
        close = getattr(self._iterator, "close", None)
        if callable(close):
            close()
        self._iterator = None
