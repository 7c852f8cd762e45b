"""Data-parallel training over MPI: N processes train the one-process model.

Each test launches ``mpirun`` on :mod:`tests.distribution.mpi_script` (2 processes on this
machine) and compares with the same script run as one plain process. They are skipped, with
the reason, where mpi4py or an MPI launcher is missing (``pip install "cnnkit[mpi]"``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest

from cnnkit import distribution

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "tests", "distribution", "mpi_script.py")


def _mpi_missing() -> str | None:
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return "mpi4py is not installed (pip install 'cnnkit[mpi]')"
    if shutil.which("mpirun") is None:
        return "no `mpirun` on PATH (pip install 'cnnkit[mpi]' brings Open MPI's)"
    return None


needs_mpi = pytest.mark.skipif(_mpi_missing() is not None, reason=str(_mpi_missing()))


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    # Open MPI refuses to start as root unless told it is deliberate (containers, CI).
    env.setdefault("OMPI_ALLOW_RUN_AS_ROOT", "1")
    env.setdefault("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
    for name in ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE"):
        env.pop(name, None)  # a test run itself under mpirun must not pass that on
    return env


def run(args: list, processes: int, timeout: float = 240) -> subprocess.CompletedProcess:
    command = [sys.executable, SCRIPT, *args]
    if processes > 1:
        command = ["mpirun", "--oversubscribe", "-n", str(processes), *command]
    return subprocess.run(
        command, capture_output=True, text=True, timeout=timeout, env=_env(), cwd=ROOT
    )


def _weights(folder, rank: int) -> list:
    with np.load(os.path.join(folder, f"weights-{rank}.npz")) as f:
        return [f[f"w{i}"] for i in range(len(f.files))]


def _result(folder, rank: int) -> dict:
    with open(os.path.join(folder, f"result-{rank}.json")) as f:
        return json.load(f)


@needs_mpi
@pytest.mark.slow
@pytest.mark.parametrize(
    "mode, optimizer",
    [("train", "sgd"), ("train", "adam"), ("uneven", "adam"), ("syncbn", "sgd")],
)
def test_two_processes_train_the_model_one_process_trains(tmp_path, mode, optimizer):
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir(), two.mkdir()
    single = run([mode, str(one), optimizer], processes=1)
    assert single.returncode == 0, single.stderr[-2000:]
    double = run([mode, str(two), optimizer], processes=2)
    assert double.returncode == 0, double.stderr[-3000:]

    reference = _weights(one, 0)
    rank0, rank1 = _weights(two, 0), _weights(two, 1)
    for w, w0, w1 in zip(reference, rank0, rank1):
        np.testing.assert_array_equal(w0, w1)  # every process holds the same weights
        scale = np.abs(w).max()
        assert np.abs(w0 - w).max() <= 1e-3 * scale  # the one-process model, up to rounding

    r1, r2a, r2b = _result(one, 0), _result(two, 0), _result(two, 1)
    assert r2a["history"] == r2b["history"]  # logs are over the whole global batch
    for key in ("loss", "accuracy"):
        np.testing.assert_allclose(r2a["history"][key], r1["history"][key], rtol=1e-4)
    np.testing.assert_allclose(r2a["evaluate"], r1["evaluate"], rtol=1e-4)
    assert r2a["evaluate"] == r2b["evaluate"]
    np.testing.assert_allclose(r2a["predict"], r1["predict"], rtol=1e-4, atol=1e-6)
    assert r2a["predict"] == r2b["predict"]  # gathered in the original order everywhere
    assert r1["threads"] == 2 or r1["threads"] == r2a["threads"]  # 1-core machines
    assert r2a["threads"] == max(1, r1["threads"] // 2)  # the cores are shared, not doubled


@needs_mpi
@pytest.mark.slow
def test_process_zero_alone_prints_and_writes(tmp_path):
    result = run(["train", str(tmp_path), "sgd"], processes=2)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.count("Epoch 1/2") == 1
    assert result.stdout.count("Epoch 2/2") == 1
    assert (tmp_path / "model-0.keras").is_file()
    assert not (tmp_path / "model-1.keras").exists()  # model.save: process 0 writes
    assert (tmp_path / "log-0.csv").is_file()
    assert not (tmp_path / "log-1.csv").exists()  # CSVLogger runs on process 0 only
    assert (tmp_path / "result-1.json").is_file()  # the other process ran to the end


@needs_mpi
@pytest.mark.slow
@pytest.mark.parametrize("how", ["crash", "exit", "kill"])
def test_a_failing_process_ends_the_job(tmp_path, how):
    start = time.monotonic()
    result = run([how, str(tmp_path)], processes=2, timeout=120)
    elapsed = time.monotonic() - start
    assert result.returncode != 0
    assert elapsed < 60  # ended, not left waiting in an all-reduce
    assert not (tmp_path / "result-0.json").exists()
    if how == "crash":
        assert "process 1 fails on purpose" in result.stderr
        assert "cnnkit: process 1 of 2 failed; ending the job" in result.stderr


def test_one_process_without_mpi():
    assert distribution.list_devices() == ["cpu:0"]
    assert distribution.get_device_count("cpu") == 1
    assert distribution.process_count() == 1 and distribution.process_index() == 0
    assert distribution.is_chief()
    distribution.initialize()  # a no-op outside an MPI launcher
    dp = distribution.DataParallel()
    assert dp.num_processes == 1 and dp.local_rows(10) == slice(0, 10)
    distribution.set_distribution(dp)
    try:
        assert distribution.distribution() is dp
        assert distribution.active_data_parallel() is None  # one process: the plain path
    finally:
        distribution.set_distribution(None)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="`num_processes`=4 but the MPI job has 1"):
        distribution.initialize(num_processes=4)
    with pytest.raises(ValueError, match="`process_id`=3"):
        distribution.initialize(process_id=3)
    with pytest.raises(ValueError, match="`devices` must list all 1"):
        distribution.DataParallel(devices=["cpu:0", "cpu:1"])
    with pytest.raises(TypeError, match="Received: str"):
        distribution.set_distribution("data_parallel")
    with pytest.raises(ValueError, match="`device_type` must be None or 'cpu'"):
        distribution.list_devices("gpu")
    with pytest.raises(ValueError, match="Shape and axis_names cannot be mismatched"):
        distribution.DeviceMesh((2,), ["batch", "model"])


def test_local_rows_split_a_batch_in_order():
    class Two:
        rank, size = 0, 2

    dp = distribution.DataParallel()
    rows = []
    for rank in range(3):
        comm = Two()
        comm.rank, comm.size = rank, 3
        dp._comm = comm
        rows.append(dp.local_rows(10))
    assert rows == [slice(0, 3), slice(3, 6), slice(6, 10)]
    comm.rank = 2
    comm.size = 3
    assert dp.local_rows(2) == slice(1, 2)  # fewer rows than processes: some get none
    comm.rank = 0
    assert dp.local_rows(2) == slice(0, 0)
