"""The command line: argument errors, --version, and a short real training run."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import cnnkit
from cnnkit.cli import main

FASHION = Path("/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz")


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"cnnkit {cnnkit.__version__}"


@pytest.mark.parametrize("flag", ["--epochs=0", "--batch-size=-3", "--limit=abc"])
def test_bad_flag_values_exit_with_usage_error(flag, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", flag])
    assert exit_info.value.code == 2
    assert "expected a positive integer" in capsys.readouterr().err


def test_missing_dataset_is_one_line_and_status_2(tmp_path, monkeypatch, capsys):
    from cnnkit.datasets import fashion_mnist

    monkeypatch.setenv("CNNKIT_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(fashion_mnist, "SYSTEM_DIRS", (str(tmp_path / "none"),))
    monkeypatch.setattr(fashion_mnist, "BASE_URL", (tmp_path / "mirror").as_uri() + "/")
    assert main(["train", "--epochs", "1"]) == 2
    lines = capsys.readouterr().err.splitlines()
    errors = [line for line in lines if line.startswith("cnnkit: error: ")]
    assert len(errors) == 1 and errors[0] == lines[-1]
    assert "dataset-fashion-mnist" in errors[0]


def test_python_dash_m_runs():
    out = subprocess.run(
        [sys.executable, "-m", "cnnkit", "--version"], capture_output=True, text=True, check=True
    )
    assert out.stdout.startswith("cnnkit ")


@pytest.mark.slow
@pytest.mark.skipif(not FASHION.exists(), reason="Fashion-MNIST not installed")
def test_train_writes_history_and_weights(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(
        ["train", "--epochs", "1", "--limit", "2000", "--seed", "3", "--output", str(out),
         "--verbose", "2"]
    )  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    assert "Epoch 1/1" in printed and "Test accuracy: " in printed
    record = json.loads((out / "history.json").read_text())
    assert set(record["history"]) == {"accuracy", "loss", "val_accuracy", "val_loss"}
    assert 0.5 < record["test_accuracy"] <= 1.0
    assert (out / "history.csv").read_text().splitlines()[0] == (
        "epoch,accuracy,loss,val_accuracy,val_loss"
    )
    with np.load(out / "weights.npz", allow_pickle=False) as weights:
        assert len(weights.files) == 10
        assert weights[weights.files[0]].shape == (3, 3, 1, 32)


@pytest.mark.slow
@pytest.mark.skipif(not FASHION.exists(), reason="Fashion-MNIST not installed")
def test_train_a_zoo_model_with_augmentation_and_a_schedule(capsys):
    code = main(
        ["train", "--model", "lenet5", "--augment", "--lr-schedule", "step", "--epochs", "2",
         "--limit", "600", "--seed", "1", "--verbose", "2"]
    )  # fmt: skip
    assert code == 0
    out = capsys.readouterr().out
    assert "Epoch 2/2" in out
    accuracy = float(out.split("Test accuracy: ")[1].split()[0])
    assert accuracy > 0.3  # 2 epochs on 600 images: well above chance (0.1)


def test_a_model_too_big_for_the_images_is_one_line(capsys):
    pytest.importorskip("cnnkit.datasets.fashion_mnist")
    if not FASHION.exists():
        pytest.skip("Fashion-MNIST not installed")
    assert main(["train", "--model", "alexnet", "--limit", "64", "--epochs", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["cnnkit: error: Input size must be at least 67x67 for AlexNet. "
                   "Received: input_shape=(28, 28, 1)"]  # fmt: skip


def test_bad_learning_rate_flag(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--learning-rate", "-1"])
    assert exit_info.value.code == 2
    assert "expected a positive number" in capsys.readouterr().err
