"""Synchronous data-parallel training: each process takes a slice of every global batch.

With ``N`` processes and a global batch of ``B`` samples, process ``r`` takes rows
``[r·B/N, (r+1)·B/N)`` of the batch (contiguous, so gathering in process order gives the
batch back in its order). Each process computes the loss of its slice scaled by its share
``b_r / B`` and the gradient of that; the all-reduced sum of those gradients is then exactly
the gradient of the mean loss over the whole batch (regularization penalties, added once per
process, are scaled the same way, so they count once), and every process applies the same
optimizer step to the same weights. So ``N`` processes train the model one process would
train with batch ``B``, up to the order of float additions.

Metrics see the whole batch: the targets, outputs and sample weights of the slices are
gathered in process order before the metrics are updated, so every metric (a mean, a
confusion matrix, an AUC) is exactly what one process would compute.
"""

from __future__ import annotations

import time

import numpy as np

from cnnkit import backend
from cnnkit.distribution import communicator


class DataParallel:
    """Replicate the model on every process and split each batch between them.

    Args:
        device_mesh: accepted for Keras compatibility; only a one-axis mesh over all
            processes is supported.
        devices: the devices to use (default: :func:`~cnnkit.distribution.list_devices`);
            it must name every process of the job.
        auto_shard_dataset: accepted for Keras compatibility. Every process reads the same
            data and takes its slice of each global batch.

    Example:
        >>> import cnnkit as keras
        >>> keras.distribution.set_distribution(keras.distribution.DataParallel())
        >>> keras.distribution.distribution().num_processes
        1
        >>> keras.distribution.set_distribution(None)
    """

    def __init__(self, device_mesh=None, devices=None, auto_shard_dataset=True):
        from cnnkit.distribution import initialize, list_devices

        initialize()  # joins the job and shares the cores between its processes
        comm = communicator.world()
        everyone = list_devices()
        if devices is not None and len(devices) != len(everyone):
            raise ValueError(
                "DataParallel runs one replica per process: `devices` must list all "
                f"{len(everyone)} of them ({everyone}). Received: devices={devices!r}"
            )
        if device_mesh is not None:
            shape = tuple(getattr(device_mesh, "shape", ()))
            if shape not in ((comm.size,), ()):
                raise ValueError(
                    f"DataParallel supports a one-axis mesh over the {comm.size} process(es). "
                    f"Received: device_mesh with shape {shape}"
                )
        self.device_mesh = device_mesh
        self.devices = list(everyone)
        self.auto_shard_dataset = auto_shard_dataset
        self._comm = comm
        self.communication_seconds = 0.0  # time spent in the collectives of the steps

    # -- where this process stands -------------------------------------------------------
    @property
    def num_processes(self) -> int:
        return self._comm.size

    @property
    def process_index(self) -> int:
        return self._comm.rank

    @property
    def batch_dim_name(self) -> str:
        return "batch"

    def get_config(self) -> dict:
        return {"devices": self.devices, "auto_shard_dataset": self.auto_shard_dataset}

    def __repr__(self) -> str:
        return f"<DataParallel processes={self.num_processes} index={self.process_index}>"

    # -- what the trainer calls ------------------------------------------------------------
    def local_rows(self, n: int) -> slice:
        """This process's rows of a global batch of ``n`` samples."""
        size, rank = self._comm.size, self._comm.rank
        return slice(rank * n // size, (rank + 1) * n // size)

    def shard(self, x, y, sample_weight):
        """This process's slice of one global batch ``(x, y, sample_weight)``."""
        n = len(x[0]) if isinstance(x, list) else len(x)
        rows = self.local_rows(n)
        return _take(x, rows), _take(y, rows), _take(sample_weight, rows), n

    def synchronize_weights(self, model) -> None:
        """Process 0's weights (and the same parameter count) on every process."""
        variables = list(model.weights)
        counts = self._comm.allgather_object(
            [tuple(np.shape(v.data)) for v in variables] if variables else []
        )
        if any(c != counts[0] for c in counts):
            sizes = [sum(int(np.prod(s)) for s in c) for c in counts]
            raise ValueError(
                "Every process must build the same model: the processes' weights differ "
                f"(parameters per process: {sizes}). Build the model the same way everywhere."
            )
        if not variables:
            return
        flat = _pack([v.data for v in variables])
        self._comm.broadcast_(flat)
        _unpack(flat, variables)

    def permutation(self, n: int) -> np.ndarray:
        """An epoch's sample order: process 0 draws it as one process would
        (``backend.rng().permutation(n)``), every process receives it."""
        order = backend.rng().permutation(n) if self._comm.rank == 0 else np.empty(n, np.int64)
        return self._comm.broadcast_(order.astype(np.int64, copy=False))

    def seed_other_processes(self) -> None:
        """Processes other than 0 re-seed cnnkit's generator from their rank, so that their
        dropout masks and augmentations differ from process 0's and repeat across runs;
        process 0 keeps its generator, so its draws (the sample order) are one process's."""
        if self._comm.rank:
            backend.set_seed(int(backend.rng().integers(2**31)) + 7919 * self._comm.rank)

    def reduce_gradients(self, grads: list, variables: list, loss: float):
        """The sums over the processes of every gradient and of the (scaled) loss.

        One all-reduce of one contiguous buffer per step: the gradients in order, the loss
        last. A gradient that is ``None`` (a weight this process's slice did not reach, or a
        process with no rows in a short last batch) counts as zeros, so every process sends
        a buffer of the same layout. Returns ``(grads, loss)``.
        """
        arrays = [
            np.zeros(np.shape(v.data), np.asarray(v.data).dtype) if g is None else g
            for g, v in zip(grads, variables)
        ]
        flat = _pack([*arrays, np.array([loss], dtype=np.float32)])
        start = time.perf_counter()
        self._comm.allreduce_(flat)
        self.communication_seconds += time.perf_counter() - start
        out, offset = [], 0
        for a in arrays:
            out.append(flat[offset : offset + a.size].reshape(a.shape).astype(a.dtype, copy=False))
            offset += a.size
        return out, float(flat[-1])

    def sum_in_place(self, array: np.ndarray) -> np.ndarray:
        """``array`` (1-D, contiguous) summed over the processes, in place; returns it."""
        return self._comm.allreduce_(array)

    def sum_scalar(self, value: float) -> float:
        """``value`` summed over the processes."""
        buffer = np.array([value], dtype=np.float64)
        return float(self._comm.allreduce_(buffer)[0])

    def gather(self, value):
        """Every process's arrays (nested in lists/tuples/dicts) joined along rows, in process
        order; a process that had no rows passes ``None`` and is left out."""
        start = time.perf_counter()
        parts = [p for p in self._comm.allgather_object(value) if p is not None]
        self.communication_seconds += time.perf_counter() - start
        return _concatenate(parts) if parts else None


def _concatenate(parts: list):
    first = parts[0]
    if isinstance(first, dict):
        return {k: _concatenate([p[k] for p in parts]) for k in first}
    if isinstance(first, (list, tuple)):
        return type(first)(_concatenate([p[i] for p in parts]) for i in range(len(first)))
    if first is None:
        return None
    return np.concatenate(parts)


def _take(data, rows: slice):
    if data is None:
        return None
    if isinstance(data, dict):
        return {k: v[rows] for k, v in data.items()}
    if isinstance(data, list):
        return [a[rows] for a in data]
    return data[rows]


def _pack(arrays: list) -> np.ndarray:
    """One contiguous float64-or-float32 buffer holding every array, in order."""
    dtype = np.result_type(*[np.asarray(a).dtype for a in arrays])
    flat = np.empty(sum(int(np.size(a)) for a in arrays), dtype=dtype)
    offset = 0
    for a in arrays:
        a = np.asarray(a)
        flat[offset : offset + a.size] = a.reshape(-1)
        offset += a.size
    return flat


def _unpack(flat: np.ndarray, variables: list) -> None:
    offset = 0
    for v in variables:
        size = int(np.size(v.data))
        v.assign(flat[offset : offset + size].reshape(np.shape(v.data)))
        offset += size
