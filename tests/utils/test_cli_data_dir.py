"""``cnnkit train --data-dir DIR``: a class-per-folder image directory, streamed."""

import json

import numpy as np
import pytest

from cnnkit import cli

Image = pytest.importorskip("PIL.Image")


def test_train_data_dir_writes_a_run(tmp_path, capsys):
    rng = np.random.default_rng(0)
    for c in range(3):
        (tmp_path / "data" / f"kind{c}").mkdir(parents=True)
        for i in range(20):
            x = rng.integers(0, 60, (20, 24, 3)).astype("uint8")
            x[:, 6 * c : 6 * c + 6] = 220  # a bright stripe whose position is the class
            Image.fromarray(x).save(tmp_path / "data" / f"kind{c}" / f"{i}.jpg")
    out = tmp_path / "run"
    code = cli.main(
        [
            "train",
            "--data-dir",
            str(tmp_path / "data"),
            "--image-size",
            "16",
            "--epochs",
            "3",
            "--batch-size",
            "16",
            "--output",
            str(out),
            "--verbose",
            "0",
            "--seed",
            "1",
        ]
    )
    assert code == 0
    dataset = json.loads((out / "dataset.json").read_text())
    assert dataset["class_names"] == ["kind0", "kind1", "kind2"]
    assert (dataset["train_files"], dataset["validation_files"]) == (48, 12)
    assert dataset["input_shape"] == [16, 16, 3]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["val_accuracy"] > 0.9
    assert (out / "model.keras").exists()
    assert "Validation accuracy" in capsys.readouterr().out


def test_train_data_dir_errors(tmp_path, capsys):
    assert cli.main(["train", "--data-dir", str(tmp_path / "missing")]) == 2
    assert "is not a directory" in capsys.readouterr().err
    (tmp_path / "one" / "only").mkdir(parents=True)
    for name in "abcde":
        Image.fromarray(np.zeros((4, 4, 3), "uint8")).save(
            tmp_path / "one" / "only" / f"{name}.png"
        )
    code = cli.main(
        [
            "train",
            "--data-dir",
            str(tmp_path / "one"),
            "--output",
            str(tmp_path / "r"),
            "--verbose",
            "0",
            "--seed",
            "0",
        ]
    )
    assert code == 2
    assert "at least 2" in capsys.readouterr().err
