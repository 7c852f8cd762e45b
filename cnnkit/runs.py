"""A run directory: the files one training run leaves behind, written and read in one place.

``cnnkit train`` writes each run into its own directory; ``cnnkit evaluate``, ``predict``,
``report`` and ``export`` and :mod:`cnnkit.viz.report` read it back. :class:`Run` names the
files, creates the directory (never over an earlier run unless told to), writes every file
atomically (a reader never sees half a file) and reads each one back within a size cap with
its kind checked, so that a damaged file is one ``ValueError`` naming it.

The files:

==================  ========================================================================
``config.json``     every setting of the run, with the seed actually used
``versions.json``   Python, NumPy, cnnkit and the optional packages' versions
``dataset.json``    sizes, input shape, classes and the SHA-256s the loader checks
``history.json``    ``{"history": {metric: [per epoch]}, "epoch": [...], test results}``
``history.csv``     the same curves, one row per epoch
``model.keras``     the trained model (``Run.save_model``), else ``weights.npz``
``weights.npz``     the trained weights, keyed ``<index>:<variable path>``
``metrics.json``    test loss and accuracy, confusion matrix, per-class report, timings
``samples.npz``     a few test images with their labels and predicted probabilities
``report.html``     the page of :mod:`cnnkit.viz.report`
==================  ========================================================================

Example:
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     run = Run.create(folder + "/run")
    ...     path = run.write_json(CONFIG, {"model": "lecture-cnn", "epochs": 2})
    ...     print(path.name, Run(folder + "/run").config()["epochs"])
    config.json 2
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np

from cnnkit.io_utils import atomic_write, atomic_write_text, read_json_object, read_npz

CONFIG = "config.json"
VERSIONS = "versions.json"
DATASET = "dataset.json"
HISTORY = "history.json"
HISTORY_CSV = "history.csv"
MODEL = "model.keras"
WEIGHTS = "weights.npz"
METRICS = "metrics.json"
SAMPLES = "samples.npz"
REPORT = "report.html"
BACKUP = "backup"  # a folder: BackupAndRestore's state while a resumable run trains

# Every file a run directory may hold: ``overwrite`` removes these (and nothing else) first.
FILES = (CONFIG, VERSIONS, DATASET, HISTORY, HISTORY_CSV, MODEL, WEIGHTS, METRICS, SAMPLES, REPORT)
JSON_FILES = (CONFIG, VERSIONS, DATASET, HISTORY, METRICS)

MAX_JSON_BYTES = 64 << 20
MAX_WEIGHTS_BYTES = 1 << 30
MAX_SAMPLES = 64  # cnnkit train writes at most 40 (8 test images and 32 mistakes)
MAX_SAMPLE_SIDE = 512
MAX_SAMPLES_BYTES = 64 << 20


class Run:
    """The run directory at ``path``; nothing is read or written until asked.

    Args:
        path: the directory.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r})"

    def __truediv__(self, name: str) -> Path:
        return self.path / name

    # -- creating --------------------------------------------------------------------------

    @staticmethod
    def check_new(path: str | os.PathLike, overwrite: bool = False) -> None:
        """Raise if :meth:`create` would refuse ``path`` (checked before any work is done).

        Raises:
            ValueError: if ``path`` is a file, or a non-empty directory and ``overwrite`` is
                false.
        """
        path = Path(path)
        if path.exists() and not path.is_dir():
            raise ValueError(f"Run directory {path} is a file, not a directory.")
        if not overwrite and path.is_dir() and any(path.iterdir()):
            raise ValueError(
                f"Run directory {path} is not empty; pass --overwrite to replace its run "
                "files, or choose another --output."
            )

    @classmethod
    def create(cls, path: str | os.PathLike, overwrite: bool = False, resume: bool = False) -> Run:
        """Create the run directory ``path`` (and its parents) and return it.

        Args:
            path: the directory; it may exist if it is empty.
            overwrite: reuse a non-empty directory: its run files (:data:`FILES`) and backup are
                deleted first, so that an earlier run's files never mix with this one's.
                Other files are left alone.
            resume: reuse the directory as it is (an interrupted run continues in it).

        Raises:
            ValueError: if ``path`` is a file, or a non-empty directory without ``overwrite``
                or ``resume``.
        """
        cls.check_new(path, overwrite or resume)
        run = cls(path)
        run.path.mkdir(parents=True, exist_ok=True)
        if overwrite and not resume:
            for name in FILES:
                (run.path / name).unlink(missing_ok=True)
            shutil.rmtree(run.path / BACKUP, ignore_errors=True)
        return run

    # -- JSON files ------------------------------------------------------------------------

    def has(self, name: str) -> bool:
        """Whether the run holds the file ``name``."""
        return (self.path / name).exists()

    def write_json(self, name: str, value) -> Path:
        """Write ``value`` as indented JSON to ``name``, atomically (NumPy scalars and arrays
        and paths are converted)."""
        target = self.path / name
        atomic_write_text(target, json.dumps(value, indent=2, default=_json_default) + "\n")
        return target

    def read_json(self, name: str, required: bool = False) -> dict | None:
        """The JSON object in ``name``; ``None`` (or, if ``required``, FileNotFoundError) when
        the file is absent.

        Raises:
            ValueError: naming the file, if it is not a regular file, too large, not JSON or
                not a JSON object.
        """
        target = self.path / name
        if not target.exists():
            if required:
                raise FileNotFoundError(f"{target}: no such run file.")
            return None
        return read_json_object(target, MAX_JSON_BYTES, what="run file")

    def config(self) -> dict:
        """``config.json`` (``{}`` when absent)."""
        return self.read_json(CONFIG) or {}

    def metrics(self) -> dict:
        """``metrics.json`` (``{}`` when absent)."""
        return self.read_json(METRICS) or {}

    # -- history ---------------------------------------------------------------------------

    def write_history(self, history: dict, epochs: list, results: dict | None = None) -> None:
        """``history.json`` and ``history.csv`` from ``{metric: [value per epoch]}``.

        Args:
            history: the curves (``History.history``).
            epochs: the epoch indexes (``History.epoch``).
            results: extra values for ``history.json`` (the test results).
        """
        record = {"history": history, "epoch": list(epochs), **(results or {})}
        self.write_json(HISTORY, record)
        keys = list(history)
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(["epoch", *keys])
        for row, epoch in enumerate(epochs):
            writer.writerow([epoch, *(history[k][row] for k in keys)])
        atomic_write_text(self.path / HISTORY_CSV, buffer.getvalue())

    def read_history(self) -> dict:
        """``history.json``, with its ``history`` checked to be ``{name: [numbers]}``.

        Raises:
            FileNotFoundError: if the run has no history.json (it is not a finished run).
            ValueError: naming the file, if it is damaged.
        """
        target = self.path / HISTORY
        if not target.exists():
            raise FileNotFoundError(
                f"{self.path} is not a run directory: it has no {HISTORY} (written by "
                "`cnnkit train`)."
            )
        record = self.read_json(HISTORY)
        curves = record.get("history")
        if curves is not None and (
            not isinstance(curves, dict)
            or not all(isinstance(values, list) for values in curves.values())
        ):
            raise ValueError(
                f"{target}: 'history' must be an object of per-epoch lists; found "
                f"{type(curves).__name__}."
            )
        return record

    # -- arrays ----------------------------------------------------------------------------

    def write_samples(self, **arrays) -> None:
        """``samples.npz`` holding ``arrays`` (``x``, ``y``, ``probabilities``, ``index``)."""
        with atomic_write(self.path / SAMPLES) as f:
            np.savez(f, **{k: np.asarray(v) for k, v in arrays.items()})

    def read_samples(self) -> dict | None:
        """``samples.npz`` (``None`` when absent): at most ``MAX_SAMPLES`` images of at most
        ``MAX_SAMPLE_SIDE`` pixels a side, with per-image arrays; checked on the headers first.

        Raises:
            ValueError: naming the file, if it is damaged or its arrays do not match.
        """
        path = self.path / SAMPLES
        if not path.exists():
            return None

        def check(shapes: dict) -> None:
            x = shapes.get("x")
            if x is None or len(x) not in (3, 4) or x[0] > MAX_SAMPLES:
                raise ValueError(
                    f"{path}: 'x' must hold at most {MAX_SAMPLES} images (N, H, W[, C]); "
                    f"found shape {x}."
                )
            if max(x[1:3]) > MAX_SAMPLE_SIDE or (len(x) == 4 and x[3] > 4):
                raise ValueError(f"{path}: images of shape {x[1:]} are larger than a report draws.")
            for name, shape in shapes.items():
                if name != "x" and (not shape or shape[0] != x[0] or len(shape) > 2):
                    raise ValueError(f"{path}: {name!r} of shape {shape} does not match 'x' {x}.")

        return read_npz(path, MAX_SAMPLES_BYTES, "samples file", check=check)

    def write_weights(self, model) -> None:
        """``weights.npz``: each weight keyed ``<index>:<variable path>``."""
        arrays = {f"{i:03d}:{w.path}": w.numpy() for i, w in enumerate(model.weights)}
        with atomic_write(self.path / WEIGHTS) as f:
            np.savez(f, **arrays)

    def read_weights(self, model) -> None:
        """Assign ``weights.npz`` to ``model``'s weights, matched by variable path (else in key
        order), after checking every shape on the archive's headers.

        Raises:
            ValueError: naming the file, if it is damaged or does not match the model.
        """
        path = self.path / WEIGHTS
        weights = model.weights
        order = []

        def check(shapes: dict) -> None:
            keys = sorted(shapes)
            by_path = {key.partition(":")[2]: key for key in keys}
            if len(by_path) == len(keys) and all(w.path in by_path for w in weights):
                keys = [by_path[w.path] for w in weights]
            if len(keys) != len(weights) or any(
                shapes[k] != tuple(w.shape) for k, w in zip(keys, weights)
            ):
                raise ValueError(
                    f"{path} does not match the model {model.name!r} ({len(keys)} arrays for "
                    f"{len(weights)} weights)."
                )
            order.extend(keys)

        arrays = read_npz(path, MAX_WEIGHTS_BYTES, "weights file", check=check)
        for variable, key in zip(weights, order):
            variable.assign(arrays[key])

    # -- the model -------------------------------------------------------------------------

    def save_model(self, model) -> str:
        """Save ``model`` as ``model.keras``, or, if it cannot be, its ``weights.npz`` (with a
        note on stderr); return the file name written."""
        try:
            model.save(self.path / MODEL)
            return MODEL
        except (NotImplementedError, TypeError, ValueError) as error:
            print(
                f"cnnkit: note: cannot save {MODEL} ({error}); writing {WEIGHTS}",
                file=sys.stderr,
            )
        self.write_weights(model)
        return WEIGHTS

    def load_model(self, rebuild=None):
        """The run's model: ``model.keras``, or the architecture ``rebuild(run)`` returns with
        the trained weights of ``weights.npz``.

        Args:
            rebuild: a callable taking this run and returning the untrained model described by
                its ``config.json`` and ``dataset.json``; needed for runs saved as
                ``weights.npz`` only.

        Raises:
            FileNotFoundError: if the run holds neither file.
            ValueError: naming the file, if it cannot be read or does not match.
        """
        from cnnkit.models import load_model

        if self.has(MODEL):
            return load_model(self.path / MODEL)
        if not self.has(WEIGHTS):
            raise FileNotFoundError(f"{self.path} holds no {MODEL} or {WEIGHTS}.")
        if rebuild is None:
            raise ValueError(
                f"{self.path} holds {WEIGHTS} only: the model must be rebuilt from the run's "
                "settings to read it."
            )
        model = rebuild(self)
        self.read_weights(model)
        return model


def _json_default(value):
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")
