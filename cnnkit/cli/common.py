"""What several commands share: argument types, loading a model, reading its shapes."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from cnnkit.cli import catalog
from cnnkit.runs import Run


def positive_int(text: str) -> int:
    """An ``argparse`` type: an integer > 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def positive_float(text: str) -> float:
    """An ``argparse`` type: a finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def non_negative_int(text: str) -> int:
    """An ``argparse`` type: an integer >= 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
    return value


def load_model(path: Path):
    """``(model, run config)`` from a ``.keras`` file or a run directory.

    A run directory gives its model through :meth:`cnnkit.runs.Run.load_model` (its
    ``model.keras``, or the architecture of :func:`cnnkit.cli.catalog.rebuild` with the weights
    of ``weights.npz``). The config is that of the run holding the model (``{}`` when there is
    none).

    Raises:
        FileNotFoundError: if ``path`` does not exist or the run directory has no model.
        ValueError: if the file is not a model cnnkit can read.
    """
    from cnnkit import models

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or directory.")
    if path.is_dir():
        run = Run(path)
        config = run.config()
        return run.load_model(rebuild=catalog.rebuild), config
    if path.suffix == ".keras":
        return models.load_model(path), Run(path.parent).config()
    if path.name == "weights.npz":
        return load_model(path.parent)
    raise ValueError(f"{path}: expected a .keras model file or a run directory.")


def input_shape(model) -> tuple:
    """The model's one input shape, batch dimension first."""
    shape = model.input_shape
    if isinstance(shape, list):
        raise ValueError(f"Model {model.name!r} has {len(shape)} inputs; expected one.")
    return tuple(shape)


def output_units(model) -> int:
    """The size of the model's one output (classes, or 1 for a sigmoid)."""
    shape = model.output_shape
    if isinstance(shape, list):
        raise ValueError(f"Model {model.name!r} has {len(shape)} outputs; expected one.")
    return int(shape[-1])


def predicted_labels(probabilities) -> np.ndarray:
    """Class indices from probabilities: the argmax, or ``p > 0.5`` for one sigmoid unit."""
    probabilities = np.asarray(probabilities)
    if probabilities.ndim == 2 and probabilities.shape[1] == 1:
        return (probabilities[:, 0] > 0.5).astype("int64")
    return probabilities.argmax(axis=1)
