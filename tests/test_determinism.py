"""``set_random_seed`` makes training bitwise reproducible on the CPU; another seed changes it.

Every random choice of a run is checked: the initial weights, the shuffled batch order, the
augmentation layers (drawing from cnnkit's generator and from their own seeded one), dropout,
and so the history and the final weights.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np

import cnnkit as keras
from cnnkit import backend, layers

ROOT = Path(__file__).resolve().parents[1]


class Recorder(layers.Layer):
    """The identity, remembering every batch it sees in training."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.seen = []

    def call(self, inputs, training=False):
        if training:
            self.seen.append(np.array(inputs.data))
        return inputs

    def compute_output_shape(self, input_shape):
        return input_shape


def train(seed: int) -> dict:
    backend.clear_session()
    keras.utils.set_random_seed(seed)
    data = np.random.default_rng(0)
    x = data.uniform(0, 1, (24, 6, 6, 1)).astype("float32")
    y = data.integers(0, 3, 24)
    augmented, dropped = Recorder(), Recorder()
    model = keras.Sequential([
        keras.Input((6, 6, 1)),
        layers.RandomFlip("horizontal"),
        layers.RandomTranslation(0.2, 0.2),
        layers.RandomZoom(0.2, seed=5),  # its own generator, seeded at construction
        augmented,
        layers.Conv2D(2, 3, activation="relu"),
        layers.SpatialDropout2D(0.3),
        layers.Flatten(),
        layers.Dropout(0.5),
        dropped,
        layers.Dense(3, activation="softmax"),
    ])  # fmt: skip
    kernels = [w.numpy() for w in model.weights if len(w.shape) > 1]  # biases start at 0
    model.compile(keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy",
                  metrics=["accuracy"])  # fmt: skip
    history = model.fit(x, y, batch_size=8, epochs=2, validation_split=0.25, verbose=0)
    return {
        "kernels": kernels,
        "augmented": augmented.seen,
        "dropped": dropped.seen,
        "history": history.history,
        "weights": model.get_weights(),
    }


def same_arrays(a: list, b: list) -> bool:
    return len(a) == len(b) and all(np.array_equal(u, v) for u, v in zip(a, b))


def test_the_same_seed_gives_bitwise_identical_runs():
    first, second = train(3), train(3)
    assert len(first["augmented"]) == 6  # 2 epochs of 3 batches (18 samples, batch 8)
    for key in ("kernels", "augmented", "dropped", "weights"):
        assert same_arrays(first[key], second[key]), key
    assert first["history"] == second["history"]


def test_another_seed_changes_every_random_choice():
    first, other = train(3), train(4)
    for key in ("kernels", "augmented", "dropped", "weights"):
        assert not any(np.array_equal(u, v) for u, v in zip(first[key], other[key])), key
    assert first["history"]["loss"] != other["history"]["loss"]


SCRIPT = textwrap.dedent(
    """
    import sys
    import numpy as np
    sys.path.insert(0, sys.argv[2])
    from tests.test_determinism import train

    run = train(11)
    np.savez(sys.argv[1], *run["weights"], loss=np.array(run["history"]["loss"]))
    """
)


def test_runs_in_two_processes_are_bitwise_identical(tmp_path):
    """Nothing depends on the process: string hashing, object addresses, the clock."""
    script = tmp_path / "run.py"
    script.write_text(SCRIPT)
    outputs = []
    for hash_seed in ("1", "2"):
        out = tmp_path / f"run-{hash_seed}.npz"
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        subprocess.run([sys.executable, str(script), str(out), str(ROOT)], env=env, check=True,
                       timeout=120)  # fmt: skip
        outputs.append(out.read_bytes())
    with np.load(tmp_path / "run-1.npz") as first, np.load(tmp_path / "run-2.npz") as second:
        assert first.files == second.files
        for name in first.files:
            np.testing.assert_array_equal(first[name], second[name])
