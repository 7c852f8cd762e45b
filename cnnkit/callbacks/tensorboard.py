"""``TensorBoard``: write training curves, weight histograms and the model graph as
TensorBoard event files (Keras 3's callback, file layout and tag names).

Files are written by the ``tensorboard`` package's own event writer
(``EventFileWriter``: TFRecord framing with CRCs), imported when the callback is created
(``pip install tensorboard``; it needs no TensorFlow). Layout, as Keras 3:

- ``log_dir/train/``: ``epoch_<metric>`` (``epoch_loss``, ``epoch_accuracy``...,
  ``epoch_learning_rate``) at step ``epoch``; with ``update_freq="batch"`` or an integer
  ``N``, ``batch_<metric>`` every ``N`` batches at the global batch number (from 1);
  ``<weight path>/histogram`` for every weight every ``histogram_freq`` epochs; the model
  graph (one node per layer, edges between them) when ``write_graph``.
- ``log_dir/validation/``: ``epoch_<metric>`` of the ``val_`` logs, and
  ``evaluation_<metric>_vs_iterations`` at the optimizer's step after each evaluation.

Scalars are written as ``simple_value`` summaries and histograms as ``HistogramProto``
(30 equal buckets between the minimum and maximum, as ``tf.summary.histogram``): the forms
TensorBoard reads (and converts) without TensorFlow.

Not implemented (``NotImplementedError``): ``profile_batch``, ``embeddings_freq``.
"""

from __future__ import annotations

import os
import time

import numpy as np

from cnnkit.callbacks.base import Callback

_BUCKETS = 30


def _tensorboard():
    try:
        from tensorboard.compat.proto import event_pb2, graph_pb2, node_def_pb2, summary_pb2
        from tensorboard.summary.writer.event_file_writer import EventFileWriter
    except ImportError:
        raise ImportError(
            "The TensorBoard callback writes event files with the `tensorboard` package: "
            "`pip install tensorboard`."
        ) from None
    return event_pb2, graph_pb2, node_def_pb2, summary_pb2, EventFileWriter


def histogram_proto(values, summary_pb2):
    """A ``HistogramProto`` of ``values``: 30 equal buckets from the minimum to the maximum."""
    values = np.asarray(values, dtype="float64").ravel()
    proto = summary_pb2.HistogramProto()
    if values.size == 0:
        return proto
    low, high = float(values.min()), float(values.max())
    if low == high:
        low, high = low - 0.5, high + 0.5
    counts, edges = np.histogram(values, bins=_BUCKETS, range=(low, high))
    proto.min, proto.max = float(values.min()), float(values.max())
    proto.num = float(values.size)
    proto.sum = float(values.sum())
    proto.sum_squares = float(np.dot(values, values))
    proto.bucket_limit.extend(float(e) for e in edges[1:])
    proto.bucket.extend(float(c) for c in counts)
    return proto


class TensorBoard(Callback):
    """Write TensorBoard event files during ``fit``/``evaluate``.

    Args:
        log_dir: the folder of the event files (``train/`` and ``validation/`` inside).
        histogram_freq: write weight histograms every this many epochs (0: never).
        write_graph: write the model's graph of layers.
        write_images: accepted (weight images are not written).
        write_steps_per_second: also log ``steps_per_second`` (per epoch) and
            ``batch_steps_per_second``.
        update_freq: ``"epoch"``, ``"batch"`` or an integer: batch-level scalars every
            that many batches.
        profile_batch: must be 0 (profiling is not implemented).
        embeddings_freq: must be 0 (embeddings are not implemented).
    """

    def __init__(
        self,
        log_dir="logs",
        histogram_freq=0,
        write_graph=True,
        write_images=False,
        write_steps_per_second=False,
        update_freq="epoch",
        profile_batch=0,
        embeddings_freq=0,
        embeddings_metadata=None,
    ):
        super().__init__()
        self._pb = _tensorboard()
        if profile_batch not in (0, None, (0, 0)):
            raise NotImplementedError(
                f"cnnkit's TensorBoard does not profile. Received: profile_batch={profile_batch}"
            )
        if embeddings_freq:
            raise NotImplementedError(
                "cnnkit's TensorBoard does not write embeddings. "
                f"Received: embeddings_freq={embeddings_freq}"
            )
        if update_freq == "batch":
            update_freq = 1
        if update_freq != "epoch" and (
            isinstance(update_freq, bool) or not isinstance(update_freq, int) or update_freq < 1
        ):
            raise ValueError(
                "`update_freq` must be 'epoch', 'batch' or a positive integer. "
                f"Received: update_freq={update_freq!r}"
            )
        if (
            isinstance(histogram_freq, bool)
            or not isinstance(histogram_freq, int)
            or (histogram_freq < 0)
        ):
            raise ValueError(
                f"`histogram_freq` must be an integer >= 0. Received: {histogram_freq!r}"
            )
        self.log_dir = os.fspath(log_dir)
        self.histogram_freq = histogram_freq
        self.write_graph = write_graph
        self.write_images = write_images
        self.write_steps_per_second = write_steps_per_second
        self.update_freq = update_freq
        self._writers: dict = {}
        self._global_train_batch = 0
        self._batch_start = 0.0
        self._epoch_start = 0.0
        self._epoch_batches = 0

    # -- writing ----------------------------------------------------------------------
    def _writer(self, kind: str):
        if kind not in self._writers:
            writer_class = self._pb[4]
            self._writers[kind] = writer_class(os.path.join(self.log_dir, kind))
        return self._writers[kind]

    def _add(self, kind: str, step: int, **fields) -> None:
        event_pb2 = self._pb[0]
        event = event_pb2.Event(wall_time=time.time(), step=int(step), **fields)
        self._writer(kind).add_event(event)

    def _scalars(self, kind: str, values: dict, step: int) -> None:
        summary_pb2 = self._pb[3]
        entries = []
        for tag, value in values.items():
            array = np.asarray(value)
            if array.size != 1:
                continue  # per-class metrics are arrays: not scalars
            entries.append(summary_pb2.Summary.Value(tag=tag, simple_value=float(array)))
        if entries:
            self._add(kind, step, summary=summary_pb2.Summary(value=entries))

    def _flush(self) -> None:
        for writer in self._writers.values():
            writer.flush()

    def _close(self) -> None:
        for writer in self._writers.values():
            writer.close()
        self._writers = {}

    def _graph_def(self):
        _, graph_pb2, node_def_pb2, _, _ = self._pb
        graph = graph_pb2.GraphDef()
        layers = list(self.model.layers)
        parents: dict[str, list[str]] = {layer.name: [] for layer in layers}
        nodes = getattr(self.model, "_nodes", None)
        if nodes is not None:
            for node in nodes:
                for tensor in node.input_tensors:
                    source = tensor._keras_history[0]
                    if node.layer.name in parents:
                        parents[node.layer.name].append(source.name)
        else:
            for before, after in zip(layers, layers[1:]):
                parents[after.name].append(before.name)
        for layer in layers:
            graph.node.append(
                node_def_pb2.NodeDef(
                    name=layer.name, op=type(layer).__name__, input=parents[layer.name]
                )
            )
        return graph

    # -- hooks ----------------------------------------------------------------------
    def on_train_begin(self, logs=None):
        self._global_train_batch = 0
        if self.write_graph:
            self._add("train", 0, graph_def=self._graph_def().SerializeToString())

    def on_train_end(self, logs=None):
        self._close()

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = time.time()
        self._epoch_batches = 0

    def on_train_batch_begin(self, batch, logs=None):
        self._global_train_batch += 1
        self._epoch_batches += 1
        self._batch_start = time.time()

    def on_train_batch_end(self, batch, logs=None):
        if self.update_freq == "epoch" or self._global_train_batch % self.update_freq:
            return
        values = {f"batch_{k}": v for k, v in (logs or {}).items()}
        if self.write_steps_per_second:
            values["batch_steps_per_second"] = 1.0 / max(time.time() - self._batch_start, 1e-9)
        self._scalars("train", values, self._global_train_batch)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        train = {k: v for k, v in logs.items() if not k.startswith("val_")}
        val = {k[4:]: v for k, v in logs.items() if k.startswith("val_")}
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is not None and hasattr(optimizer, "learning_rate"):
            train["learning_rate"] = float(optimizer.learning_rate)
        if self.write_steps_per_second:
            train["steps_per_second"] = self._epoch_batches / max(
                time.time() - self._epoch_start, 1e-9
            )
        self._scalars("train", {f"epoch_{k}": v for k, v in train.items()}, epoch)
        if val:
            self._scalars("validation", {f"epoch_{k}": v for k, v in val.items()}, epoch)
        if self.histogram_freq and epoch % self.histogram_freq == 0:
            self._log_weights(epoch)
        self._flush()

    def on_test_end(self, logs=None):
        optimizer = getattr(self.model, "optimizer", None)
        iterations = getattr(optimizer, "iterations", None)
        if iterations is None or not logs:
            return
        step = int(iterations)
        values = {f"evaluation_{k}_vs_iterations": v for k, v in logs.items()}
        self._scalars("validation", values, step)
        self._flush()

    def _log_weights(self, epoch: int) -> None:
        summary_pb2 = self._pb[3]
        entries = []
        for layer in self.model.layers:
            for weight in layer.weights:
                name = str(getattr(weight, "path", None) or weight.name).replace(":", "_")
                entries.append(
                    summary_pb2.Summary.Value(
                        tag=f"{name}/histogram",
                        histo=histogram_proto(np.asarray(weight.numpy()), summary_pb2),
                    )
                )
        if entries:
            self._add("train", epoch, summary=summary_pb2.Summary(value=entries))
