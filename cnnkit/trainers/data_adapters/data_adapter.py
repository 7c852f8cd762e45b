"""The interface every data adapter offers the epoch iterator."""

from __future__ import annotations


class DataAdapter:
    """Batches of one kind of input, epoch after epoch (Keras's ``DataAdapter``).

    An adapter yields each batch as a tuple ``(x, y, sample_weight)`` of NumPy arrays (``x``
    and ``y`` may be lists of arrays, for several inputs or outputs; ``y`` and
    ``sample_weight`` may be ``None``).

    Attributes:
        num_batches: batches in one epoch, or ``None`` when unknown or infinite.
        batch_size: samples per batch, or ``None`` when the data is already batched.
    """

    num_batches: int | None = None
    batch_size: int | None = None

    def get_numpy_iterator(self):
        """An iterator of one epoch's ``(x, y, sample_weight)`` batches."""
        raise NotImplementedError

    def on_epoch_begin(self) -> None:
        """Called before an epoch's first batch is drawn."""

    def on_epoch_end(self) -> None:
        """Called after an epoch's last batch."""


def unpack_x_y_sample_weight(data) -> tuple:
    """``(x, y, sample_weight)`` of one batch, as Keras's ``unpack_x_y_sample_weight``: a
    tuple or list of 1 to 3 items (a ``torch.utils.data.DataLoader`` yields ``[x, y]``), or
    the inputs alone.

    Example:
        >>> unpack_x_y_sample_weight(("x", "y"))
        ('x', 'y', None)
        >>> unpack_x_y_sample_weight("x")
        ('x', None, None)
    """
    if isinstance(data, (tuple, list)):
        if not 1 <= len(data) <= 3:
            raise ValueError(
                "Each batch of a dataset or generator must be `(x,)`, `(x, y)` or "
                f"`(x, y, sample_weight)` (a tuple or a list). Received {len(data)} items."
            )
        return (*data, None, None)[:3]
    return data, None, None


def pack_x_y_sample_weight(x, y=None, sample_weight=None):
    """A batch as Keras hands it to ``train_step``/``test_step``: ``(x, y[, sample_weight])``,
    or ``x`` alone without targets.

    Example:
        >>> pack_x_y_sample_weight("x", "y")
        ('x', 'y')
        >>> pack_x_y_sample_weight("x")
        'x'
    """
    if y is None and sample_weight is None:
        return x
    return (x, y) if sample_weight is None else (x, y, sample_weight)
