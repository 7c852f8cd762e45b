"""Hostile run directories and arguments: one error line naming the file, bounded memory.

A run directory a user is sent may hold JSON of the wrong shape, arrays that expand to
gigabytes or special files; ``cnnkit`` must answer each with one ``cnnkit: error:`` line and
a non-zero status, within ``MAX_PEAK_MIB`` of memory (measured in a child process).
"""

from __future__ import annotations

import io
import json
import os
import shutil

import numpy as np
import pytest
from numpy.lib import format as npy_format

from cnnkit.cli import main
from cnnkit.cli.common import load_model
from tests.hostile import npz_of_zeros, peak_memory
from tests.saving.test_hostile_files import no_hang
from tests.test_cli import one_error_line
from tests.viz.runs import train_image_run

MAX_PEAK_MIB = 500


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A lecture CNN trained briefly on synthetic images; no report."""
    folder = tmp_path_factory.mktemp("hostile") / "run"
    with pytest.MonkeyPatch.context() as monkeypatch:
        assert train_image_run(folder, monkeypatch, "--no-report") == 0
    return folder


@pytest.fixture
def copy(run, tmp_path):
    target = tmp_path / "run"
    shutil.copytree(run, target)
    return target


def with_weights_npz(folder, keys=None):
    """Replace the run's model.keras by weights.npz, as ``cnnkit train`` writes it."""
    model, _ = load_model(folder)
    (folder / "model.keras").unlink()
    keys = keys or [f"{i:03d}:{w.path}" for i, w in enumerate(model.weights)]
    np.savez(folder / "weights.npz", **{k: w.numpy() for k, w in zip(keys, model.weights)})
    return model


def cli_in_child(*argv: str) -> dict:
    """``python -m cnnkit *argv`` in a child process: its status, stderr and peak memory."""
    code = f"import sys; from cnnkit.cli import main; sys.exit(main({list(argv)!r}))"
    return peak_memory(code)


# -- 6. JSON of the wrong shape --------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("config.json", "[]", "config.json: expected a JSON object"),
        ("metrics.json", "[1, 2]", "metrics.json: expected a JSON object"),
        ("history.json", '{"history": []}', "history.json: 'history' must be an object"),
        ("versions.json", '"3.0"', "versions.json: expected a JSON object"),
    ],
)
def test_run_files_of_the_wrong_shape_are_one_error_line(copy, capsys, name, content, message):
    (copy / name).write_text(content)
    assert main(["report", str(copy)]) == 2
    assert one_error_line(capsys).startswith(f"{copy / name}: {message.split(': ', 1)[1]}")


def test_run_settings_of_the_wrong_type_are_one_error_line(copy, capsys):
    config = json.loads((copy / "config.json").read_text())
    metrics = json.loads((copy / "metrics.json").read_text())
    metrics["steps_per_epoch"] = 10
    (copy / "metrics.json").write_text(json.dumps(metrics))
    for lr_schedule, epochs in (("cosine", None), ("cosine", "many"), ("step", [1])):
        config.update(lr_schedule=lr_schedule, epochs=epochs)
        (copy / "config.json").write_text(json.dumps(config))
        assert main(["report", str(copy)]) == 2
        assert one_error_line(capsys).startswith(f"{copy / 'config.json'}: cannot rebuild")


def test_a_dataset_file_without_classes_is_one_error_line(copy, capsys):
    with_weights_npz(copy)
    dataset = json.loads((copy / "dataset.json").read_text())
    del dataset["classes"]
    (copy / "dataset.json").write_text(json.dumps(dataset))
    assert main(["export", str(copy), str(copy / "m.onnx")]) == 2
    assert one_error_line(capsys).startswith(f"{copy / 'dataset.json'}: 'classes' must be")


def test_weights_npz_is_matched_by_variable_path_whatever_its_order(copy):
    model = with_weights_npz(copy)
    # the keys' indexes scrambled (an older order): the variable paths still decide
    keys = [f"{(i * 7) % 100:03d}:{w.path}" for i, w in enumerate(model.weights)]
    (copy / "weights.npz").unlink()
    with_weights_npz_keys = {k: w.numpy() for k, w in zip(keys, model.weights)}
    np.savez(copy / "weights.npz", **with_weights_npz_keys)
    rebuilt, _ = load_model(copy)
    for ours, theirs in zip(rebuilt.weights, model.weights, strict=True):
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_a_backup_record_with_a_list_history_is_refused_before_restoring(tmp_path):
    from cnnkit.callbacks import BackupAndRestore
    from cnnkit.callbacks.backup_and_restore import METADATA
    from tests.test_backup_and_restore import fit, tiny_model

    folder = tmp_path / "backup"
    fit(tiny_model(), 1, [BackupAndRestore(folder, delete_checkpoint=False)])
    record = json.loads((folder / METADATA).read_text())
    record["history"] = []
    (folder / METADATA).write_text(json.dumps(record))
    model = tiny_model()
    before = model.get_weights()
    with pytest.raises(ValueError, match=rf"{METADATA}: 'history' must be an object"):
        fit(model, 2, [BackupAndRestore(folder)])
    for got, old in zip(model.get_weights(), before, strict=True):
        np.testing.assert_array_equal(got, old)


# -- 6. convolve: oversized kernels --------------------------------------------------------


def test_a_huge_gaussian_size_is_one_error_line(tmp_path, capsys):
    image = tmp_path / "in.png"
    from PIL import Image

    Image.fromarray(np.zeros((8, 8), np.uint8)).save(image)
    argv = ["convolve", str(image), "--out", str(tmp_path / "o.png"), "--kernel", "gaussian"]
    assert main([*argv, "--size", "100001"]) == 2
    assert one_error_line(capsys).startswith("--size 100001: a 100001x100001 Gaussian kernel")
    assert main([*argv, "--sigma", "1e6"]) == 2
    assert "Gaussian kernel is larger than" in one_error_line(capsys)


def test_an_npy_kernel_declaring_1e14_elements_is_one_error_line(tmp_path, capsys):
    image = tmp_path / "in.png"
    from PIL import Image

    Image.fromarray(np.zeros((8, 8), np.uint8)).save(image)
    kernel = tmp_path / "k.npy"
    buffer = io.BytesIO()
    header = {"descr": "<f8", "fortran_order": False, "shape": (10**7, 10**7)}
    npy_format.write_array_header_1_0(buffer, header)
    kernel.write_bytes(buffer.getvalue() + bytes(64))
    argv = ["convolve", str(image), "--out", str(tmp_path / "o.png"), "--kernel", str(kernel)]
    result = cli_in_child(*argv)
    assert result["rc"] == 2, result
    lines = result["err"].strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"cnnkit: error: {kernel}: "), result
    assert result["peak_mib"] < MAX_PEAK_MIB, result
    assert main(argv) == 2
    assert "refused" in one_error_line(capsys)


# -- 4. arrays that expand to gigabytes ------------------------------------------------------


def test_a_samples_bomb_is_refused_in_bounded_memory(copy):
    (copy / "samples.npz").unlink(missing_ok=True)
    npz_of_zeros(
        copy / "samples.npz",
        {
            "x": ((64, 2048, 2048, 2), "uint8"),  # 512 MiB of zeros in a few MB
            "y": ((64,), "int64"),
            "probabilities": ((64, 10), "float32"),
            "index": ((64,), "int64"),
        },
    )
    assert os.path.getsize(copy / "samples.npz") < 8 << 20
    result = cli_in_child("report", str(copy))
    assert result["rc"] == 2, result
    assert f"{copy / 'samples.npz'}" in result["err"], result
    assert result["peak_mib"] < MAX_PEAK_MIB, result


def test_a_deflate_bombed_weights_npz_is_refused_in_bounded_memory(copy):
    model = with_weights_npz(copy)
    keys = [f"{i:03d}:{w.path}" for i, w in enumerate(model.weights)]
    (copy / "weights.npz").unlink()
    arrays = {k: (tuple(w.shape), "float32") for k, w in zip(keys, model.weights)}
    arrays[keys[0]] = ((1600, 1 << 18), "float32")  # 1.6 GB declared for the first kernel
    npz_of_zeros(copy / "weights.npz", arrays, compresslevel=1)
    result = cli_in_child("export", str(copy), str(copy / "m.onnx"))
    assert result["rc"] == 2, result
    assert f"{copy / 'weights.npz'}" in result["err"], result
    assert result["peak_mib"] < MAX_PEAK_MIB, result


# -- 5. special files ----------------------------------------------------------------------


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs os.mkfifo (POSIX)")
@pytest.mark.parametrize(
    ("command", "name"),
    [
        ("evaluate", "model.keras"),
        ("report", "config.json"),
        ("report", "samples.npz"),
        ("export", "weights.npz"),
        ("export", "dataset.json"),
    ],
)
def test_fifos_in_a_run_directory_are_refused(copy, capsys, command, name):
    if name in ("weights.npz", "dataset.json"):
        with_weights_npz(copy)
    (copy / name).unlink(missing_ok=True)
    os.mkfifo(copy / name)
    argv = {
        "evaluate": ["evaluate", str(copy / name)],
        "report": ["report", str(copy)],
        "export": ["export", str(copy), str(copy / "m.onnx")],
    }[command]
    with no_hang():
        assert main(argv) == 2
    assert f"{copy / name} is not a regular file" in one_error_line(capsys)
