"""Small synthetic datasets and a tiny `cnnkit train` run, shared by the CLI and report tests."""

from __future__ import annotations

import numpy as np

CELL_ROWS, CELL_COLUMNS, SIDE = 2, 5, 4
SHAPE = (8 * CELL_ROWS, 4 * CELL_COLUMNS)  # 16 x 20: not square, to catch height/width mix-ups


def squares(n: int, seed: int = 0):
    """``(x, y)``: noise images with a bright 4x4 square in one of 10 cells; the cell is the class.

    ``x`` is float32 ``(n, 16, 20, 1)`` in [0, 1]; class ``k`` puts the square in row
    ``k // 5`` and column ``k % 5`` of a 2 x 5 grid of cells.
    """
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.0, 0.4, (n, *SHAPE, 1)).astype("float32")
    y = rng.integers(0, CELL_ROWS * CELL_COLUMNS, n)
    for i, label in enumerate(y):
        r = 8 * (label // CELL_COLUMNS) + rng.integers(0, 8 - SIDE + 1)
        c = 4 * (label % CELL_COLUMNS)
        x[i, r : r + SIDE, c : c + SIDE] = 1.0
    return x, y


def fake_image_dataset(name):
    """A stand-in for ``cnnkit.cli.catalog.load_dataset``: 300 training and 60 test images."""
    x, y = squares(360)
    return (x[:300], y[:300]), (x[300:], y[300:])


def fake_text_dataset(name, num_words, maxlen):
    """A stand-in for ``cnnkit.cli.catalog.load_text_dataset``: word 1 only occurs in spam."""
    rng = np.random.default_rng(0)
    x = rng.integers(2, num_words, (240, maxlen)).astype("int32")
    y = rng.integers(0, 2, 240)
    x[y == 1, maxlen - 4] = 1
    return (x[:200], y[:200]), (x[200:], y[200:])


def train_image_run(run_dir, monkeypatch, *extra: str) -> int:
    """``cnnkit train`` of the lecture CNN on ``fake_image_dataset`` into ``run_dir``."""
    from cnnkit import cli
    from cnnkit.cli import catalog

    monkeypatch.setattr(catalog, "load_dataset", fake_image_dataset)
    return cli.main(
        ["train", "--dataset", "fashion-mnist", "--epochs", "4", "--learning-rate", "0.003",
         "--seed", "0", "--verbose", "0", "--output", str(run_dir), *extra]
    )  # fmt: skip


def train_text_run(run_dir, monkeypatch, *extra: str) -> int:
    """``cnnkit train`` of the text CNN on ``fake_text_dataset`` into ``run_dir``."""
    from cnnkit import cli
    from cnnkit.cli import catalog

    monkeypatch.setattr(catalog, "load_text_dataset", fake_text_dataset)
    return cli.main(
        ["train", "--dataset", "spam", "--model", "text-cnn", "--num-words", "50", "--maxlen",
         "30", "--epochs", "3", "--learning-rate", "0.01", "--seed", "0", "--verbose", "0",
         "--output", str(run_dir), *extra]
    )  # fmt: skip
