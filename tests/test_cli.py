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


@pytest.mark.parametrize(
    "model, dataset, hint",
    [("text-cnn", "fashion-mnist", "lecture-cnn"), ("lecture-cnn", "spam", "text-cnn, lstm")],
)
def test_a_model_that_does_not_fit_the_dataset_is_one_line(model, dataset, hint, capsys):
    assert main(["train", "--model", model, "--dataset", dataset]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"cnnkit: error: --model {model} does not fit") and hint in err


def test_binary_scores_equal_scikit_learns():
    metrics = pytest.importorskip("sklearn.metrics")
    from cnnkit.cli import binary_scores

    rng = np.random.default_rng(0)
    y_true, y_pred = rng.integers(0, 2, 200), rng.integers(0, 2, 200)
    scores = binary_scores(y_true, y_pred)
    assert scores["accuracy"] == pytest.approx(metrics.accuracy_score(y_true, y_pred))
    assert scores["precision"] == pytest.approx(metrics.precision_score(y_true, y_pred))
    assert scores["recall"] == pytest.approx(metrics.recall_score(y_true, y_pred))
    assert scores["f1"] == pytest.approx(metrics.f1_score(y_true, y_pred))
    assert binary_scores([0, 0], [0, 0])["f1"] == 0.0


def test_train_text_models_on_a_small_corpus(tmp_path, monkeypatch, capsys):
    from cnnkit import cli

    rng = np.random.default_rng(0)
    x = rng.integers(2, 50, (240, 30)).astype("int32")
    y = rng.integers(0, 2, 240)
    x[y == 1, 26] = 1  # a word only spam uses

    def fake_load(name, num_words, maxlen):
        assert (name, num_words, maxlen) == ("spam", 50, 30)
        return (x[:200], y[:200]), (x[200:], y[200:])

    monkeypatch.setattr(cli, "load_text_dataset", fake_load)
    for model in ("text-cnn", "lstm"):
        code = main(
            ["train", "--dataset", "spam", "--model", model, "--num-words", "50", "--maxlen",
             "30", "--epochs", "6", "--learning-rate", "0.01", "--seed", "0", "--verbose", "0",
             "--output", str(tmp_path / model)]
        )  # fmt: skip
        assert code == 0
        lines = capsys.readouterr().out.strip().splitlines()
        assert lines[-2].startswith("Test accuracy ") and "precision" in lines[-2]
        assert "F1" in lines[-2] and lines[-1].startswith("Wrote ")
        record = json.loads((tmp_path / model / "history.json").read_text())
        assert record["test_accuracy"] > 0.9 and record["test_f1"] > 0.9
