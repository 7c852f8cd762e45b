"""``mpirun -n 2 cnnkit train``: data-parallel with no extra flag, one run directory.

Skipped, with the reason, where mpi4py or an MPI launcher is missing (``pip install
"cnnkit[mpi]"``) or Fashion-MNIST is not installed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.distribution.test_data_parallel import _env, _mpi_missing

FASHION = Path("/usr/share/datasets/fashion-mnist")


@pytest.mark.slow
@pytest.mark.skipif(_mpi_missing() is not None, reason=str(_mpi_missing()))
@pytest.mark.skipif(not FASHION.exists(), reason=f"Fashion-MNIST is not installed in {FASHION}")
def test_mpirun_train_writes_one_run_directory_and_prints_once(tmp_path):
    command = [
        "mpirun", "--oversubscribe", "-n", "2", sys.executable, "-m", "cnnkit", "train",
        "--epochs", "1", "--limit", "2048", "--output", str(tmp_path / "run"), "--no-report",
    ]  # fmt: skip
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=400, env=_env(), cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr[-3000:]
    # One run directory, written by process 0 alone (no runs/ folder from the other process).
    assert sorted(os.listdir(tmp_path)) == ["run"]
    run = tmp_path / "run"
    assert (run / "model.keras").is_file() and not (run / "report.html").exists()
    record = json.loads((run / "history.json").read_text())
    assert record["epoch"] == [0]
    assert all(len(values) == 1 for values in record["history"].values())
    config = json.loads((run / "config.json").read_text())
    assert config["limit"] == 2048 and config["epochs"] == 1
    # Progress and results are printed once, by process 0.
    assert done.stdout.count("Epoch 1/1") == 1
    assert done.stdout.count("Test accuracy: ") == 1
    assert done.stdout.count("Wrote ") == 1
    # The model trains on the 2,048 images in 64 global batches of 32 (32 per process step).
    assert "64/64" in done.stdout
