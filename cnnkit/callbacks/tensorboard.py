"""The ``TensorBoard`` callback: scalar logs TensorBoard reads, written without TensorFlow.

Event files are TFRecord files of ``Event`` protocol buffers; cnnkit encodes the few
fields a scalar needs (wall time, step, and a ``Summary`` value with a tag and a float)
and frames each record with its masked CRC-32C, as TensorFlow's writer does.
"""

from __future__ import annotations

import os
import socket
import struct
import time

import numpy as np

from cnnkit.callbacks.base import Callback


def _crc32c_table() -> list[int]:
    table = []
    for n in range(256):
        crc = n
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_TABLE = _crc32c_table()


def crc32c(data: bytes) -> int:
    """CRC-32C (Castagnoli), the checksum of TFRecord framing.

    Example:
        >>> hex(crc32c(b"123456789"))
        '0xe3069283'
    """
    crc = 0xFFFFFFFF
    for byte in data:
        crc = _TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def _masked_crc(data: bytes) -> int:
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def _varint(value: int) -> bytes:
    out = bytearray()
    value &= (1 << 64) - 1
    while True:
        bits = value & 0x7F
        value >>= 7
        if value:
            out.append(bits | 0x80)
        else:
            out.append(bits)
            return bytes(out)


def _field_bytes(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _event(step: int, *, file_version: str | None = None, scalars=None) -> bytes:
    """An ``Event`` message: wall_time (1), step (2), file_version (3) or summary (5)."""
    out = b"\x09" + struct.pack("<d", time.time()) + b"\x10" + _varint(int(step))
    if file_version is not None:
        out += _field_bytes(3, file_version.encode())
    if scalars:
        summary = b""
        for tag, value in scalars:
            value_msg = _field_bytes(1, tag.encode()) + b"\x15" + struct.pack("<f", value)
            summary += _field_bytes(1, value_msg)
        out += _field_bytes(5, summary)
    return out


class _EventWriter:
    """Appends framed records to one ``events.out.tfevents.*`` file in ``directory``."""

    _count = 0

    def __init__(self, directory: str):
        os.makedirs(directory, exist_ok=True)
        _EventWriter._count += 1
        name = (
            f"events.out.tfevents.{int(time.time())}.{socket.gethostname()}."
            f"{os.getpid()}.{_EventWriter._count}.v2"
        )
        self.path = os.path.join(directory, name)
        self._write(_event(0, file_version="brain.Event:2"))

    def _write(self, data: bytes) -> None:
        header = struct.pack("<Q", len(data))
        record = (
            header
            + struct.pack("<I", _masked_crc(header))
            + data
            + struct.pack("<I", _masked_crc(data))
        )
        with open(self.path, "ab") as f:
            f.write(record)

    def scalars(self, items, step: int) -> None:
        if items:
            self._write(_event(step, scalars=items))


def _scalar(value):
    try:
        array = np.asarray(getattr(value, "data", value), dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return float(array) if array.ndim == 0 else None


class TensorBoard(Callback):
    """Write the losses and metrics of ``fit``/``evaluate`` for TensorBoard, as Keras 3.

    Under ``log_dir``, ``train/`` receives ``epoch_<name>`` at each epoch end (with
    ``epoch_learning_rate``) and ``batch_<name>`` every ``update_freq`` batches when it is
    an int (or ``"batch"``); ``validation/`` receives the ``val_`` entries as
    ``epoch_<name>`` and, after each evaluation, ``evaluation_<name>_vs_iterations``.

    Args:
        log_dir: the folder of the logs.
        histogram_freq, write_graph, write_images, write_steps_per_second,
            profile_batch, embeddings_freq, embeddings_metadata: as Keras. cnnkit writes
            scalars only: a nonzero ``histogram_freq``/``embeddings_freq``/``profile_batch``
            or ``write_images=True`` raises ``NotImplementedError``; ``write_graph`` is
            accepted and ignored (there is no TensorFlow graph to write).
        update_freq: ``"epoch"``, ``"batch"`` or a number of batches.

    Example:
        >>> import tempfile
        >>> callback = TensorBoard(log_dir=tempfile.mkdtemp())
        >>> callback.update_freq
        'epoch'
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
        if update_freq not in ("epoch", "batch") and not (
            isinstance(update_freq, int) and not isinstance(update_freq, bool) and update_freq > 0
        ):
            raise ValueError(
                "`update_freq` must be 'epoch', 'batch' or a positive integer. "
                f"Received: update_freq={update_freq!r}"
            )
        unsupported = {
            "histogram_freq": histogram_freq,
            "embeddings_freq": embeddings_freq,
            "profile_batch": profile_batch,
            "write_images": write_images,
        }
        for name, value in unsupported.items():
            if value:
                raise NotImplementedError(
                    f"TensorBoard({name}={value!r}): cnnkit's TensorBoard writes scalar "
                    "summaries only."
                )
        self.log_dir = str(log_dir)
        self.histogram_freq = histogram_freq
        self.write_graph = write_graph
        self.write_images = write_images
        self.write_steps_per_second = write_steps_per_second
        self.update_freq = 1 if update_freq == "batch" else update_freq
        self.embeddings_freq = embeddings_freq
        self.embeddings_metadata = embeddings_metadata
        self._writers: dict[str, _EventWriter] = {}
        self._global_train_batch = 0
        self._epoch_start = 0.0
        self._epoch_batches = 0

    def _writer(self, name: str) -> _EventWriter:
        if name not in self._writers:
            self._writers[name] = _EventWriter(os.path.join(self.log_dir, name))
        return self._writers[name]

    @staticmethod
    def _items(logs, prefix: str, strip: str = "", suffix: str = ""):
        items = []
        for name, value in (logs or {}).items():
            number = _scalar(value)
            if number is not None:
                items.append((f"{prefix}{name[len(strip) :]}{suffix}", number))
        return items

    def _learning_rate(self):
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is None or not hasattr(optimizer, "learning_rate"):
            return []
        value = _scalar(optimizer.learning_rate)
        return [] if value is None else [("epoch_learning_rate", value)]

    def on_train_begin(self, logs=None):
        self._global_train_batch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = time.time()
        self._epoch_batches = 0

    def on_train_batch_end(self, batch, logs=None):
        self._global_train_batch += 1
        self._epoch_batches += 1
        if self.update_freq != "epoch" and self._global_train_batch % self.update_freq == 0:
            self._writer("train").scalars(
                self._items(logs, "batch_"), step=self._global_train_batch
            )

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        train = {k: v for k, v in logs.items() if not k.startswith("val_")}
        val = {k: v for k, v in logs.items() if k.startswith("val_")}
        items = self._items(train, "epoch_") + self._learning_rate()
        if self.write_steps_per_second:
            elapsed = max(time.time() - self._epoch_start, 1e-12)
            items.append(("epoch_steps_per_second", self._epoch_batches / elapsed))
        self._writer("train").scalars(items, step=epoch)
        if val:
            self._writer("validation").scalars(self._items(val, "epoch_", strip="val_"), step=epoch)

    def on_test_end(self, logs=None):
        optimizer = getattr(self.model, "optimizer", None)
        iterations = getattr(optimizer, "iterations", None)
        if iterations is None:
            return
        step = int(np.asarray(getattr(iterations, "data", iterations)))
        self._writer("validation").scalars(
            self._items(logs, "evaluation_", suffix="_vs_iterations"), step=step
        )
