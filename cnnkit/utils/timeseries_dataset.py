"""``timeseries_dataset_from_array``: sliding windows over an array, as a ``Dataset``.

Window ``i`` starts at ``start_index + p_i`` with ``p_i = i * sequence_stride`` and holds
``sequence_length`` rows taken every ``sampling_rate`` rows; its target (when ``targets``
is given) is ``targets[start_index + p_i]``. Windows are sliced when their batch is drawn.
With ``shuffle``, the start positions are shuffled by ``np.random.RandomState(seed)`` and
each pass shuffles again locally with a buffer of ``8 * batch_size`` (as Keras 3).

Example:
    >>> import numpy as np
    >>> ds = timeseries_dataset_from_array(np.arange(10), None, sequence_length=3,
    ...                                    sequence_stride=3, batch_size=2)
    >>> [b.tolist() for b in ds]
    [[[0, 1, 2], [3, 4, 5]], [[6, 7, 8]]]
"""

from __future__ import annotations

import numpy as np

from cnnkit.utils.dataset import Dataset


def _positive(name: str, value, length: int) -> None:
    if value <= 0:
        raise ValueError(f"`{name}` must be higher than 0. Received: {name}={value}")
    if value >= length:
        raise ValueError(
            f"`{name}` must be lower than the length of the data. Received: {name}={value}, "
            f"for data of length {length}"
        )


def timeseries_dataset_from_array(
    data,
    targets,
    sequence_length,
    sequence_stride=1,
    sampling_rate=1,
    batch_size=128,
    shuffle=False,
    seed=None,
    start_index=None,
    end_index=None,
    format="tf",
):
    """A :class:`~cnnkit.utils.dataset.Dataset` of windows (and targets) over ``data``.

    Args:
        data: array of timesteps, ``(steps, ...)``.
        targets: ``None`` or an array whose row ``start_index + p`` is the target of the
            window starting at ``p``.
        sequence_length: timesteps per window.
        sequence_stride: offset between consecutive windows' starts.
        sampling_rate: step between the timesteps of one window.
        batch_size: windows per batch (``None``: single windows).
        shuffle: shuffle the windows.
        seed: the shuffle's seed.
        start_index, end_index: use only ``data[start_index:end_index]``.
        format: ``"tf"`` (accepted for compatibility).

    Returns:
        A ``Dataset`` of ``windows`` or ``(windows, targets)`` batches.
    """
    data = np.asarray(data)
    n = len(data)
    if start_index:
        if start_index < 0:
            raise ValueError(
                f"`start_index` must be 0 or greater. Received: start_index={start_index}"
            )
        if start_index >= n:
            raise ValueError(
                "`start_index` must be lower than the length of the data. Received: "
                f"start_index={start_index}, for data of length {n}"
            )
    if end_index:
        if start_index and end_index <= start_index:
            raise ValueError(
                "`end_index` must be higher than `start_index`. Received: "
                f"start_index={start_index}, and end_index={end_index} "
            )
        if end_index >= n:
            raise ValueError(
                "`end_index` must be lower than the length of the data. Received: "
                f"end_index={end_index}, for data of length {n}"
            )
        if end_index <= 0:
            raise ValueError(f"`end_index` must be higher than 0. Received: end_index={end_index}")
    _positive("sampling_rate", sampling_rate, n)
    _positive("sequence_stride", sequence_stride, n)
    if format not in ("tf", "grain"):
        raise ValueError(f'`format` should be either "tf" or "grain". Received: format={format}')
    start = start_index or 0
    stop = end_index if end_index is not None else n
    num_seqs = stop - start - (sequence_length - 1) * sampling_rate
    if targets is not None:
        targets = np.asarray(targets)
        num_seqs = min(num_seqs, len(targets))
    positions = np.arange(0, max(num_seqs, 0), sequence_stride, dtype="int64")
    if shuffle:
        if seed is None:
            seed = np.random.randint(1e6)  # noqa: NPY002 - Keras's draw
        np.random.RandomState(seed).shuffle(positions)
    offsets = np.arange(sequence_length, dtype="int64") * sampling_rate
    window_data = data[start:stop]
    target_data = None if targets is None else targets[start:stop]

    def element(i):
        p = positions[i]
        window = window_data[p + offsets]
        return window if target_data is None else (window, target_data[p])

    ds = Dataset(lambda: (element(i) for i in range(len(positions))), len(positions))
    if batch_size is not None:
        if shuffle:
            ds = ds.shuffle(batch_size * 8, seed=seed)
        return ds.batch(batch_size)
    return ds.shuffle(1024, seed=seed) if shuffle else ds
