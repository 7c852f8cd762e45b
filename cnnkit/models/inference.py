"""Inference on a large batch, shared between the CPU threads one slice of samples each.

In inference mode every built-in layer computes a sample's output from that sample
alone (batch normalisation uses its moving statistics, dropout and augmentation pass
their input through). So :func:`infer` can cut a batch into one contiguous slice per
CPU thread and let each thread run the whole model on its slice, with a single-threaded
BLAS: one hand-off per batch instead of one per op, and each core keeps working on the
activations it wrote itself. Each thread's convolutions chunk their column matrices
under the whole workspace budget (:func:`cnnkit.kernels.threads.conv_workspace_bytes` bounds one
convolution's), which measured faster than halving it. The lecture CNN predicted 2-9 %
more images per second this way than with its ops split one by one
(``benchmarks/predict.py``, old and new ways alternating in one process).

A batch is split only when every layer declares itself sample-wise
(:attr:`cnnkit.layers.Layer.samplewise`: the built-in layers do; a subclass that overrides
``call`` may mix samples, so it runs as it is unless it declares it), and when the
batch is worth more than one thread
(:func:`cnnkit.kernels.threads.threads_for`, with :data:`_COST_PER_WEIGHT` per weight and
sample as the estimate, embedding tables left out). The slices' outputs are concatenated in order;
each sample's output is that of the unsplit batch. If a slice raises, its error propagates
with a note naming the slice's samples; nothing runs again.
"""

from __future__ import annotations

import math

from cnnkit.autodiff import Tensor
from cnnkit.backend import xp
from cnnkit.kernels.threads import parallel_map, threads_for
from cnnkit.layers import embedding

_COST_PER_WEIGHT = 0.64
"""A batch's cost per weight and sample in the units of ``threads_for``: a batch splits
from 25 million weight-samples on (measured with ``benchmarks/predict.py``), where one
sample's products alone would split from 8 million."""


def samplewise(layer) -> bool:
    """Whether ``layer`` (a model or a layer) treats samples independently in inference.

    Each layer says so itself (:attr:`cnnkit.layers.Layer.samplewise`, refined by its
    ``_runs_samplewise``: a stateful recurrent layer, a ``Concatenate`` along the batch axis
    or a layer with an activity regularizer does not); a model is sample-wise when every
    layer inside it is.

    Example:
        >>> from cnnkit.layers import BatchNormalization, Dense, Input, Layer
        >>> from cnnkit.models import Sequential
        >>> samplewise(Sequential([Input((4,)), Dense(2), BatchNormalization()]))
        True
        >>> class Centre(Layer):  # subtracts the batch mean: mixes samples
        ...     def call(self, x, training=False):
        ...         return x - x.mean(axis=0)
        >>> samplewise(Sequential([Input((4,)), Centre()]))
        False
    """
    return layer._runs_samplewise()


def infer(model, x):
    """``model(x, training=False)``, the batch shared between the CPU threads when it pays.

    Args:
        model: a built model.
        x: an array, or a list or tuple of arrays with the same number of samples.

    Returns:
        What ``model(x, training=False)`` returns: a Tensor, or a list of Tensors.
    """
    slices = _slices(model, x)
    if slices is None:
        return model(x, training=False)
    parts = parallel_map(lambda piece: _run_slice(model, x, piece, slices), slices)
    if isinstance(parts[0], Tensor):
        return Tensor(xp.concatenate([p.data for p in parts]))
    if isinstance(parts[0], dict) and all(isinstance(t, Tensor) for t in parts[0].values()):
        return {k: Tensor(xp.concatenate([p[k].data for p in parts])) for k in parts[0]}
    if isinstance(parts[0], (list, tuple)) and all(isinstance(t, Tensor) for t in parts[0]):
        joined = [Tensor(xp.concatenate([p[i].data for p in parts])) for i in range(len(parts[0]))]
        return type(parts[0])(joined)
    return model(x, training=False)  # an output structure this does not know how to join


def _run_slice(model, x, piece: slice, slices: list[slice]):
    try:
        return model(_take(x, piece), training=False)
    except Exception as error:
        error.add_note(
            f"Raised by samples {piece.start}-{piece.stop - 1} of a batch of "
            f"{slices[-1].stop}, split between {len(slices)} threads "
            "(cnnkit.models.inference.infer)."
        )
        raise


GROUP_SAMPLES = 1024
"""Samples :func:`batches_per_group` aims at: the lecture CNN predicted 1.7x faster in runs of
1024 samples than in Keras's default batches of 32 (fewer Python passes per sample, and
runs large enough to share between the threads)."""

GROUP_ACTIVATION_BYTES = 64 * 1024 * 1024
"""Upper bound of the activations of a merged run (every layer output's size, summed)."""


def batches_per_group(model, batch_size: int) -> int:
    """How many consecutive batches ``predict`` may run as one, with the same outputs.

    Merging batches changes nothing a sample's output depends on when the model is
    sample-wise (:func:`samplewise`). Runs aim at :data:`GROUP_SAMPLES` samples, with the
    activations of a run under :data:`GROUP_ACTIVATION_BYTES`; 1 (no merging) for other
    models, and when an activation size is not known from the model's graph.

    Example:
        >>> from cnnkit import applications
        >>> batches_per_group(applications.lecture_cnn(), 32)
        32
    """
    if batch_size >= GROUP_SAMPLES or not _ready(model):
        return 1
    per_sample = _activation_bytes(model)
    if not per_sample:
        return 1
    fit = GROUP_ACTIVATION_BYTES // (per_sample * batch_size)
    return max(1, min(-(-GROUP_SAMPLES // batch_size), fit))


def _activation_bytes(model) -> int | None:
    """Bytes of every layer output for one sample, from the graph's shapes (``None``: unknown)."""
    total = 0
    for layer in model._flatten_layers():
        if layer._sublayers():
            continue  # a model: its layers' outputs are counted
        for node in layer._inbound_nodes:
            for tensor in node.output_tensors:
                if any(d is None for d in tensor.shape[1:]) or tensor.dtype == "string":
                    return None
                total += math.prod(tensor.shape[1:]) * xp.dtype(tensor.dtype).itemsize
    return total


def _slices(model, x) -> list[slice] | None:
    """One slice of samples per thread, or ``None`` when the batch is run unsplit."""
    arrays = list(x) if isinstance(x, (list, tuple)) else [x]
    if not arrays or not all(isinstance(a, xp.ndarray) and a.ndim >= 1 for a in arrays):
        return None
    n = arrays[0].shape[0]
    if any(a.shape[0] != n for a in arrays) or not _ready(model):
        return None
    threads = min(threads_for(int(_COST_PER_WEIGHT * _computing_params(model) * n)), n)
    if threads < 2:
        return None
    bounds = [n * t // threads for t in range(threads + 1)]
    return [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:])]


def _ready(model) -> bool:
    """Built (no thread may build weights), and made of sample-wise layers only."""
    return (
        model.built and all(layer.built for layer in model._flatten_layers()) and samplewise(model)
    )


def _computing_params(model) -> int:
    """Weights that each cost a multiply-add per sample (an embedding table is only looked up)."""
    leaves = (layer for layer in model._flatten_layers() if not layer._sublayers())
    return sum(layer.count_params() for layer in leaves if type(layer) is not embedding.Embedding)


def _take(x, piece: slice):
    if isinstance(x, (list, tuple)):
        return type(x)(a[piece] for a in x)
    return x[piece]
