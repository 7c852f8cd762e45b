"""cnnkit.runs.Run: a run directory's files written, read back and refused when damaged."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from cnnkit import layers, runs
from cnnkit.models import Sequential
from cnnkit.runs import Run


def small_model(seed: int = 0):
    from cnnkit.utils import set_random_seed

    set_random_seed(seed)
    model = Sequential(
        [layers.Input((6, 6, 1)), layers.Conv2D(2, 3), layers.Flatten(), layers.Dense(3)]
    )
    return model


def test_create_makes_the_directory_and_refuses_a_non_empty_one(tmp_path):
    run = Run.create(tmp_path / "a" / "run")
    assert run.path.is_dir() and list(run.path.iterdir()) == []
    run.write_json(runs.CONFIG, {"model": "x"})
    message = re.escape(f"Run directory {run.path} is not empty; pass --overwrite")
    with pytest.raises(ValueError, match=message):
        Run.create(run.path)
    assert Run(run.path).config() == {"model": "x"}  # nothing was removed
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="is a file, not a directory"):
        Run.create(tmp_path / "file", overwrite=True)


def test_overwrite_removes_the_run_files_only(tmp_path):
    run = Run.create(tmp_path / "run")
    for name in runs.FILES:
        (run / name).write_text("old")
    (run / runs.BACKUP).mkdir()
    (run / "notes.txt").write_text("mine")
    Run.create(run.path, overwrite=True)
    assert sorted(p.name for p in run.path.iterdir()) == ["notes.txt"]


def test_resume_keeps_the_files(tmp_path):
    run = Run.create(tmp_path / "run")
    run.write_json(runs.CONFIG, {"seed": 3})
    Run.create(run.path, resume=True)
    assert run.config() == {"seed": 3}


def test_json_history_and_samples_round_trip(tmp_path):
    run = Run.create(tmp_path / "run")
    value = {"n": np.int64(3), "x": np.float32(0.5), "a": np.arange(3), "p": tmp_path}
    run.write_json(runs.METRICS, value)
    assert run.metrics() == {"n": 3, "x": 0.5, "a": [0, 1, 2], "p": str(tmp_path)}
    assert run.read_json(runs.DATASET) is None
    with pytest.raises(FileNotFoundError, match="dataset.json: no such run file"):
        run.read_json(runs.DATASET, required=True)

    curves = {"loss": [1.0, 0.5], "accuracy": [0.25, 0.75]}
    run.write_history(curves, [0, 1], {"test_loss": 0.4})
    record = run.read_history()
    assert record == {"history": curves, "epoch": [0, 1], "test_loss": 0.4}
    rows = (run / runs.HISTORY_CSV).read_text().splitlines()
    assert rows == ["epoch,loss,accuracy", "0,1.0,0.25", "1,0.5,0.75"]

    rng = np.random.default_rng(0)
    x = rng.random((5, 4, 4, 1), dtype="float32")
    probabilities = rng.random((5, 3))
    run.write_samples(x=x, y=np.arange(5), probabilities=probabilities, index=np.arange(5))
    samples = run.read_samples()
    np.testing.assert_array_equal(samples["x"], x)
    np.testing.assert_array_equal(samples["probabilities"], probabilities)


def test_a_model_round_trips_through_model_keras_and_weights_npz(tmp_path):
    model = small_model(0)
    x = np.random.default_rng(1).random((2, 6, 6, 1), dtype="float32")
    expected = np.asarray(model.predict(x, verbose=0))

    run = Run.create(tmp_path / "keras")
    assert run.save_model(model) == runs.MODEL
    np.testing.assert_allclose(run.load_model().predict(x, verbose=0), expected, rtol=1e-6)

    run = Run.create(tmp_path / "npz")
    run.write_weights(model)
    with pytest.raises(ValueError, match="holds weights.npz only"):
        run.load_model()
    rebuilt = run.load_model(rebuild=lambda r: small_model(seed=7))  # other initial weights
    np.testing.assert_allclose(rebuilt.predict(x, verbose=0), expected, rtol=1e-6)


def test_a_run_without_a_model_or_history_says_so(tmp_path):
    run = Run.create(tmp_path / "run")
    with pytest.raises(FileNotFoundError, match="holds no model.keras or weights.npz"):
        run.load_model()
    with pytest.raises(FileNotFoundError, match="is not a run directory: it has no history.json"):
        run.read_history()
    assert run.read_samples() is None and run.config() == {} and run.metrics() == {}


@pytest.mark.parametrize(
    "name, content, message",
    [
        (runs.CONFIG, b"{not json", "is not valid JSON"),
        (runs.METRICS, b"[1, 2]", "expected a JSON object"),
        (runs.HISTORY, json.dumps({"history": [1, 2]}).encode(), "'history' must be an object"),
        (runs.HISTORY, json.dumps({"history": {"loss": 1}}).encode(), "per-epoch lists"),
        (runs.SAMPLES, b"PK\x03\x04 not a zip", "samples.npz"),
        (runs.WEIGHTS, b"\x00" * 64, "weights.npz"),
    ],
)
def test_a_damaged_file_is_a_value_error_naming_it(tmp_path, name, content, message):
    run = Run.create(tmp_path / "run")
    (run / name).write_bytes(content)
    read = {
        runs.CONFIG: run.config,
        runs.METRICS: run.metrics,
        runs.HISTORY: run.read_history,
        runs.SAMPLES: run.read_samples,
        runs.WEIGHTS: lambda: run.load_model(rebuild=lambda r: small_model()),
    }[name]
    with pytest.raises(ValueError, match=re.escape(str(run / name))) as info:
        read()
    assert message in str(info.value)


def test_weights_that_do_not_match_the_model_are_refused(tmp_path):
    run = Run.create(tmp_path / "run")
    run.write_weights(small_model())
    other = Sequential([layers.Input((6, 6, 1)), layers.Flatten(), layers.Dense(3)])
    with pytest.raises(
        ValueError, match=r"weights\.npz does not match the model .*\(4 arrays for 2"
    ):
        run.read_weights(other)


def test_samples_of_the_wrong_shape_are_refused(tmp_path):
    run = Run.create(tmp_path / "run")
    run.write_samples(x=np.zeros((2, 4, 4)), y=np.zeros(3))
    with pytest.raises(ValueError, match=r"samples\.npz: 'y' of shape \(3,\) does not match"):
        run.read_samples()
    run.write_samples(x=np.zeros((runs.MAX_SAMPLES + 1, 4, 4)))
    with pytest.raises(ValueError, match=r"samples\.npz: 'x' must hold at most 64 images"):
        run.read_samples()
