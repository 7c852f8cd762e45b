"""The command line: argument errors, --version, and a short real training run."""

import json
import re
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import cnnkit
from cnnkit.cli import build_parser, main
from tests.viz.runs import SHAPE, fake_image_dataset, squares, train_image_run

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
    if (out / "model.keras").exists():
        from cnnkit.models import load_model

        weights = [w.numpy() for w in load_model(out / "model.keras").weights]
    else:
        with np.load(out / "weights.npz", allow_pickle=False) as npz:
            weights = [npz[key] for key in sorted(npz.files)]
    assert len(weights) == 10 and weights[0].shape == (3, 3, 1, 32)
    assert (out / "report.html").exists() and (out / "metrics.json").exists()


@pytest.mark.slow
@pytest.mark.skipif(not FASHION.exists(), reason="Fashion-MNIST not installed")
def test_train_a_zoo_model_with_augmentation_and_a_schedule(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # the run goes to runs/<time>-lenet5-fashion-mnist
    code = main(
        ["train", "--model", "lenet5", "--augment", "--lr-schedule", "step", "--epochs", "2",
         "--limit", "600", "--seed", "1", "--verbose", "2"]
    )  # fmt: skip
    assert code == 0
    out = capsys.readouterr().out
    assert "Epoch 2/2" in out
    accuracy = float(out.split("Test accuracy: ")[1].split()[0])
    assert accuracy > 0.3  # 2 epochs on 600 images: well above chance (0.1)
    (run,) = (tmp_path / "runs").iterdir()
    assert run.name.endswith("-lenet5-fashion-mnist")
    page = (run / "report.html").read_text()  # Grad-CAM and maps through the augmentation
    assert 'id="grad-cam"' in page and "could not be drawn" not in page


def test_a_model_too_big_for_the_images_is_one_line(capsys):
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
    from cnnkit.cli.train import binary_scores

    rng = np.random.default_rng(0)
    y_true, y_pred = rng.integers(0, 2, 200), rng.integers(0, 2, 200)
    scores = binary_scores(y_true, y_pred)
    assert scores["accuracy"] == pytest.approx(metrics.accuracy_score(y_true, y_pred))
    assert scores["precision"] == pytest.approx(metrics.precision_score(y_true, y_pred))
    assert scores["recall"] == pytest.approx(metrics.recall_score(y_true, y_pred))
    assert scores["f1"] == pytest.approx(metrics.f1_score(y_true, y_pred))
    assert binary_scores([0, 0], [0, 0])["f1"] == 0.0


def test_train_text_models_on_a_small_corpus(tmp_path, monkeypatch, capsys):
    from cnnkit.cli import catalog

    rng = np.random.default_rng(0)
    x = rng.integers(2, 50, (240, 30)).astype("int32")
    y = rng.integers(0, 2, 240)
    x[y == 1, 26] = 1  # a word only spam uses

    def fake_load(name, num_words, maxlen):
        assert (name, num_words, maxlen) == ("spam", 50, 30)
        return (x[:200], y[:200]), (x[200:], y[200:])

    monkeypatch.setattr(catalog, "load_text_dataset", fake_load)
    for model in ("text-cnn", "lstm"):
        code = main(
            ["train", "--dataset", "spam", "--model", model, "--num-words", "50", "--maxlen",
             "30", "--epochs", "6", "--learning-rate", "0.01", "--seed", "0", "--verbose", "0",
             "--output", str(tmp_path / model), "--no-report"]
        )  # fmt: skip
        assert code == 0
        lines = capsys.readouterr().out.strip().splitlines()
        assert lines[-2].startswith("Test accuracy ") and "precision" in lines[-2]
        assert "F1" in lines[-2] and lines[-1].startswith("Wrote ")
        record = json.loads((tmp_path / model / "history.json").read_text())
        assert record["test_accuracy"] > 0.9 and record["test_f1"] > 0.9


# -- run directories, evaluate, predict, convolve, export -----------------------------------


@pytest.fixture(scope="module")
def image_run(tmp_path_factory):
    """A lecture CNN trained for a second on 16x20 synthetic images (10 classes), no report."""
    folder = tmp_path_factory.mktemp("cli") / "run"
    with pytest.MonkeyPatch.context() as monkeypatch:
        assert train_image_run(folder, monkeypatch, "--no-report") == 0
    return folder


def one_error_line(capsys) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cnnkit: error: "), lines
    return lines[0].removeprefix("cnnkit: error: ")


def test_a_run_directory_records_the_run(image_run):
    from cnnkit.datasets import fashion_mnist

    names = {p.name for p in image_run.iterdir()}
    assert {"config.json", "versions.json", "dataset.json", "history.json", "history.csv",
            "metrics.json", "samples.npz"} <= names  # fmt: skip
    assert "model.keras" in names or "weights.npz" in names
    assert "report.html" not in names  # --no-report
    config = json.loads((image_run / "config.json").read_text())
    assert config["model"] == "lecture-cnn" and config["epochs"] == 4 and config["seed"] == 0
    assert config["output"] == str(image_run) and config["no_report"] is True
    assert set(json.loads((image_run / "versions.json").read_text())) >= {
        "python", "numpy", "cnnkit", "platform"}  # fmt: skip
    dataset = json.loads((image_run / "dataset.json").read_text())
    assert dataset["sha256"] == fashion_mnist.PAYLOAD_SHA256
    assert dataset["input_shape"] == [*SHAPE, 1] and dataset["classes"] == 10
    metrics = json.loads((image_run / "metrics.json").read_text())
    assert np.asarray(metrics["confusion_matrix"]).sum() == 60
    assert metrics["classification_report"]["Sneaker"]["support"] == np.sum(
        fake_image_dataset(None)[1][1] == 7
    )
    with np.load(image_run / "samples.npz") as samples:
        assert samples["x"].shape[1:] == (*SHAPE, 1) and len(samples["index"]) >= 8


def test_a_random_seed_is_recorded(tmp_path, monkeypatch):
    from cnnkit.cli import catalog

    monkeypatch.setattr(catalog, "load_dataset", fake_image_dataset)
    out = tmp_path / "run"
    assert main(["train", "--epochs", "1", "--limit", "32", "--verbose", "0", "--no-report",
                 "--output", str(out)]) == 0  # fmt: skip
    seed = json.loads((out / "config.json").read_text())["seed"]
    assert isinstance(seed, int) and 0 <= seed < 2**31


def test_a_run_directory_is_never_overwritten_without_the_flag(tmp_path, monkeypatch, capsys):
    from cnnkit.cli import catalog

    monkeypatch.setattr(catalog, "load_dataset", fake_image_dataset)
    out = tmp_path / "run"
    out.mkdir()
    (out / "history.json").write_text("earlier run")
    (out / "notes.txt").write_text("mine")
    argv = ["train", "--epochs", "1", "--limit", "32", "--verbose", "0", "--no-report",
            "--output", str(out)]  # fmt: skip
    assert main(argv) == 2
    assert one_error_line(capsys) == (
        f"Run directory {out} is not empty; pass --overwrite to replace its run files, or "
        "choose another --output."
    )
    assert (out / "history.json").read_text() == "earlier run"
    assert main([*argv, "--overwrite"]) == 0
    assert json.loads((out / "history.json").read_text())["epoch"] == [0]
    assert (out / "notes.txt").read_text() == "mine"  # only run files are replaced
    (tmp_path / "file").write_text("")
    assert main(["train", "--output", str(tmp_path / "file")]) == 2
    assert "is a file" in one_error_line(capsys)


def test_default_run_directories_are_new_timestamped_folders(tmp_path, monkeypatch):
    from cnnkit.cli import catalog, train

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(train.time, "strftime", lambda fmt: "20240131-235959")
    args = build_parser().parse_args(["train", "--model", "lenet5", "--dataset", "mnist"])
    assert train.choose_run_dir(args) == Path("runs/20240131-235959-lenet5-mnist")
    Path("runs/20240131-235959-lenet5-mnist").mkdir(parents=True)
    assert train.choose_run_dir(args) == Path("runs/20240131-235959-lenet5-mnist-2")
    monkeypatch.setattr(catalog, "load_dataset", fake_image_dataset)
    assert main(["train", "--epochs", "1", "--limit", "16", "--verbose", "0", "--no-report"]) == 0
    assert (tmp_path / "runs/20240131-235959-lecture-cnn-fashion-mnist/history.json").exists()


def test_evaluate_a_run_directory(image_run, monkeypatch, capsys):
    from cnnkit.cli import catalog

    monkeypatch.setattr(catalog, "load_dataset", fake_image_dataset)
    assert main(["evaluate", str(image_run)]) == 0
    out = capsys.readouterr().out
    metrics = json.loads((image_run / "metrics.json").read_text())
    assert out.startswith(
        f"Test loss {metrics['test_loss']:.4f}, accuracy {metrics['test_accuracy']:.4f} "
        "(60 samples of fashion-mnist)"
    )
    assert "Confusion matrix (rows: true class, columns: predicted class)" in out
    assert "7 Sneaker" in out and "Ankle boot" in out and "macro avg" in out


def test_evaluate_a_model_that_does_not_fit_the_dataset(image_run, monkeypatch, capsys):
    from cnnkit.cli import catalog

    def mnist_like(name):
        x = np.zeros((8, 28, 28, 1), "float32")
        return (x, np.zeros(8, int)), (x, np.arange(8))

    monkeypatch.setattr(catalog, "load_dataset", mnist_like)
    assert main(["evaluate", str(image_run), "--dataset", "mnist"]) == 2
    assert one_error_line(capsys).endswith(
        "takes inputs of shape (16, 20, 1), but mnist has (28, 28, 1); evaluate it on the "
        "dataset it was trained on."
    )
    assert main(["evaluate", str(image_run / "nothing.keras")]) == 2
    assert one_error_line(capsys) == f"{image_run / 'nothing.keras'}: no such file or directory."


def save_image(path, array, mode=None, **kwargs):
    from PIL import Image

    Image.fromarray(array, mode=mode).save(path, **kwargs)
    return path


@pytest.fixture
def images(tmp_path, image_run):
    """Synthetic squares saved in several formats, sizes and colour modes."""
    Image = pytest.importorskip("PIL.Image")
    x, _ = squares(3, seed=5)
    gray = np.round(x[..., 0] * 255).astype("uint8")  # (3, 16, 20)
    rgb = np.repeat(gray[0, :, :, None], 3, axis=2)
    big_rgb = np.kron(rgb, np.ones((3, 3, 1), "uint8"))  # 48 x 60, same picture
    alpha = np.dstack([np.kron(gray[2], np.ones((2, 2), "uint8"))] * 3 + [np.full((32, 40), 200,
                      "uint8")])  # fmt: skip
    palette = Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    palette.info["transparency"] = 0
    palette.save(tmp_path / "palette.png")
    return {
        "palette.png": tmp_path / "palette.png",
        "exact.png": save_image(tmp_path / "exact.png", gray[0]),
        "big-rgb.jpg": save_image(tmp_path / "big-rgb.jpg", big_rgb, quality=95),
        "gray.jpg": save_image(tmp_path / "gray.jpg", gray[1]),
        "rgba.png": save_image(tmp_path / "rgba.png", alpha),
    }


def test_image_array_converts_size_and_channels(images):
    from PIL import Image

    from cnnkit.preprocessing.image_files import image_array

    exact = image_array(images["exact.png"], 16, 20, 1)
    with Image.open(images["exact.png"]) as image:
        np.testing.assert_array_equal(exact[..., 0], np.asarray(image) / np.float32(255))
    assert exact.dtype == np.float32 and exact.shape == (16, 20, 1)
    assert image_array(images["big-rgb.jpg"], 16, 20, 1).shape == (16, 20, 1)
    as_rgb = image_array(images["exact.png"], 8, 10, 3)  # gray to RGB, downsized
    assert as_rgb.shape == (8, 10, 3)
    np.testing.assert_array_equal(as_rgb[..., 0], as_rgb[..., 2])
    rgba = image_array(images["rgba.png"], 16, 20, 1)
    assert 0.0 <= rgba.min() and rgba.max() <= 1.0


def test_predict_png_and_jpeg_files_of_other_sizes_and_modes(image_run, images, capsys):
    from cnnkit.cli.catalog import class_names
    from cnnkit.cli.common import load_model
    from cnnkit.preprocessing.image_files import image_array

    paths = [str(p) for p in images.values()]
    assert main(["predict", str(image_run), *paths]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 5
    model, _ = load_model(image_run)
    names = class_names("fashion-mnist")
    for line, path in zip(lines, paths):
        assert line.startswith(f"{path}: ")
        ranked = re.findall(r"(?:^|, )(.+?) \((\d\.\d{3})\)", line.removeprefix(f"{path}: "))
        assert len(ranked) == 3 and all(name in names for name, _ in ranked)
        probabilities = [float(p) for _, p in ranked]
        assert probabilities == sorted(probabilities, reverse=True) and sum(probabilities) <= 1.001
        expected = model.predict(image_array(Path(path), 16, 20, 1)[None], verbose=0)[0]
        assert ranked[0][0] == names[int(expected.argmax())]
    assert main(["predict", str(image_run), paths[0], "--top", "1", "--dataset", "mnist"]) == 0
    assert re.fullmatch(rf"{re.escape(paths[0])}: \d \(\d\.\d{{3}}\)\n", capsys.readouterr().out)


def test_predict_errors_are_one_clear_line(image_run, images, tmp_path, capsys):
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(200)))
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes(images["exact.png"].read_bytes()[:80])
    text = tmp_path / "notes.jpg"
    text.write_text("not a picture")
    for path, message in [
        (corrupt, "not an image file Pillow can read"),
        (text, "not an image file Pillow can read"),
        (truncated, "corrupt or truncated image"),
        (tmp_path / "missing.png", "no such image file"),
    ]:
        assert main(["predict", str(image_run), str(path)]) == 2
        assert one_error_line(capsys).startswith(f"{path}: {message}")
    with pytest.raises(FileNotFoundError):
        main(["--debug", "predict", str(image_run), str(tmp_path / "missing.png")])
    with pytest.raises(ValueError, match="not an image file"):
        main(["predict", "--debug", str(image_run), str(corrupt)])


def test_predict_needs_an_image_model(tmp_path, monkeypatch, images, capsys):
    from tests.viz.runs import train_text_run

    assert train_text_run(tmp_path / "text", monkeypatch, "--no-report", "--epochs", "1") == 0
    capsys.readouterr()
    assert main(["predict", str(tmp_path / "text"), str(images["exact.png"])]) == 2
    assert one_error_line(capsys).endswith("not images; predict classifies image files.")


@pytest.mark.parametrize(
    "kernel, mode, size",
    [("gaussian", "valid", (10, 14)), ("gaussian", "same", (16, 20)), ("gaussian", "full",
     (22, 26)), ("sobel-x", "valid", (14, 18)), ("laplacian", "full", (18, 22))],
)  # fmt: skip
def test_convolve_output_sizes_per_mode(kernel, mode, size, images, tmp_path, capsys):
    from PIL import Image

    out = tmp_path / "out.png"
    argv = ["convolve", str(images["exact.png"]), "--kernel", kernel, "--mode", mode, "--out",
            str(out)]  # fmt: skip
    assert main(argv) == 0
    with Image.open(out) as image:
        assert image.format == "PNG" and image.mode == "L"
        assert image.size == (size[1], size[0])  # Pillow: (width, height)
        pixels = np.asarray(image)
    assert pixels.min() == 0 and pixels.max() == 255  # rescaled to the full range
    printed = capsys.readouterr().out
    assert printed.startswith(f"Wrote {out}: {size[0]}x{size[1]} ({mode} convolution of a 16x20")
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.png")]


def test_convolve_with_kernel_files_and_colour(images, tmp_path, capsys):
    from PIL import Image

    identity = np.zeros((3, 3))
    identity[1, 1] = 1.0
    csv_file = tmp_path / "identity.csv"
    csv_file.write_text("0,0,0\n0,1,0\n0,0,0\n")
    npy_file = tmp_path / "identity.npy"
    np.save(npy_file, identity)
    text_file = tmp_path / "box.txt"
    text_file.write_text("1 1\n1 1\n")
    with Image.open(images["exact.png"]) as image:
        source = np.asarray(image).astype("float64")
    expected = np.round((source - source.min()) / (source.max() - source.min()) * 255)
    for kernel in (csv_file, npy_file):
        out = tmp_path / f"{kernel.suffix[1:]}.png"
        assert main(["convolve", str(images["exact.png"]), "--kernel", str(kernel), "--out",
                     str(out)]) == 0  # fmt: skip
        with Image.open(out) as image:
            np.testing.assert_array_equal(np.asarray(image), expected)
    out = tmp_path / "box.jpg"
    assert main(["convolve", str(images["big-rgb.jpg"]), "--kernel", str(text_file), "--mode",
                 "full", "--out", str(out)]) == 0  # fmt: skip
    with Image.open(out) as image:
        assert image.format == "JPEG" and image.mode == "RGB" and image.size == (61, 49)
    out = tmp_path / "gray.png"
    assert main(["convolve", str(images["big-rgb.jpg"]), "--kernel", "sobel-y", "--gray",
                 "--correlate", "--out", str(out)]) == 0  # fmt: skip
    assert "same correlation of a 48x60 image with the 3x3 sobel-y kernel" in (
        capsys.readouterr().out
    )


def test_convolve_errors_are_one_clear_line(images, tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("1,2\n3\n")
    cube = tmp_path / "cube.npy"
    np.save(cube, np.ones((2, 2, 2)))
    image, out = str(images["exact.png"]), str(tmp_path / "out.png")
    cases = [
        (["--kernel", "emboss"], "--kernel 'emboss' is neither a kernel name (gaussian, "
         "sobel-x, sobel-y, laplacian) nor a file."),
        (["--kernel", str(bad)], f"{bad}: not a kernel file"),
        (["--kernel", str(cube)], f"{cube}: expected a non-empty 2-D array of numbers"),
        (["--kernel", "gaussian", "--out", str(tmp_path / "out.xyz")], "--out "),
        (["--kernel", "laplacian", "--mode", "valid", "--size", "40"], "Invalid shapes"),
    ]  # fmt: skip
    for extra, message in cases:
        argv = ["convolve", image, "--out", out, *extra]
        if "--size" in extra:  # a 40x40 Gaussian cannot slide inside a 16x20 image
            argv = ["convolve", image, "--out", out, "--kernel", "gaussian", "--mode", "valid",
                    "--size", "18"]  # fmt: skip
        assert main(argv) == 2
        assert one_error_line(capsys).startswith(message)
    assert not (tmp_path / "out.png").exists()


def test_report_and_export_errors(image_run, tmp_path, capsys):
    assert main(["report", str(tmp_path / "none")]) == 2
    assert one_error_line(capsys) == f"Run directory {tmp_path / 'none'} does not exist."
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["export", str(empty), str(tmp_path / "m.onnx")]) == 2
    assert "holds no model.keras or weights.npz" in one_error_line(capsys)


def test_export_a_run_to_onnx(image_run, tmp_path, capsys):
    onnx = pytest.importorskip("onnx")
    out = tmp_path / "model.onnx"
    assert main(["export", str(image_run), str(out)]) == 0
    assert str(out) in capsys.readouterr().out
    model = onnx.load(str(out))
    assert model.graph.node and len(model.graph.input) == 1


# -- --resume and NaN losses ----------------------------------------------------------------

# argv: MARKER train ...; kills itself with SIGKILL at epoch 1, batch 1 unless MARKER exists
# ("-": never). The dataset is fake_image_dataset.
RESUME_WRAPPER = """
import os, signal, sys
sys.path.insert(0, {root!r})
from cnnkit.callbacks import LambdaCallback
from cnnkit.cli import catalog, main, train
from tests.viz.runs import fake_image_dataset

marker, argv = sys.argv[1], sys.argv[2:]
catalog.load_dataset = fake_image_dataset
epoch_now = [0]


def kill(batch, logs):
    if marker != "-" and (epoch_now[0], batch) == (1, 1) and not os.path.exists(marker):
        open(marker, "w").close()
        os.kill(os.getpid(), signal.SIGKILL)


killer = LambdaCallback(
    on_epoch_begin=lambda epoch, logs: epoch_now.__setitem__(0, epoch), on_train_batch_end=kill
)
real_learning_rate = train.learning_rate
train.learning_rate = lambda args, steps: (lambda rate, callbacks: (rate, [*callbacks, killer]))(
    *real_learning_rate(args, steps)
)
sys.exit(main(argv))
"""


def run_cli(tmp_path, marker, *argv):
    wrapper = tmp_path / "wrapper.py"
    root = str(Path(__file__).resolve().parents[1])
    wrapper.write_text(RESUME_WRAPPER.format(root=root))
    command = [sys.executable, str(wrapper), str(marker), "train", *argv]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def model_weights(run_dir):
    from cnnkit.models import load_model

    return [w.numpy() for w in load_model(run_dir / "model.keras").weights]


def test_resume_continues_a_killed_run_exactly(tmp_path):
    argv = ["--epochs", "3", "--limit", "48", "--batch-size", "16", "--learning-rate", "0.003",
            "--verbose", "0", "--no-report", "--resume", "--output"]  # fmt: skip
    reference = tmp_path / "reference"
    done = run_cli(tmp_path, "-", *argv, str(reference), "--seed", "5")
    assert done.returncode == 0, done.stderr
    assert not (reference / "backup").exists()

    run, marker = tmp_path / "run", tmp_path / "killed"
    killed = run_cli(tmp_path, marker, *argv, str(run), "--seed", "5")
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    record = json.loads((run / "backup" / "training_metadata.json").read_text())
    assert record["epoch"] == 1 and not (run / "history.json").exists()

    resumed = run_cli(tmp_path, marker, *argv, str(run))  # the seed comes from config.json
    assert resumed.returncode == 0, resumed.stderr
    assert not (run / "backup").exists()
    for got, expected in zip(model_weights(run), model_weights(reference), strict=True):
        np.testing.assert_array_equal(got, expected)
    got, expected = (json.loads((d / "history.json").read_text()) for d in (run, reference))
    assert got["epoch"] == expected["epoch"] == [0, 1, 2]
    assert got["history"] == expected["history"]
    assert json.loads((run / "config.json").read_text())["seed"] == 5


def test_resume_errors(tmp_path, capsys):
    assert main(["train", "--resume"]) == 2
    assert one_error_line(capsys).startswith("--resume needs --output RUN_DIR")
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--resume", "--overwrite", "--output", str(tmp_path)])
    assert exit_info.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err

    finished = tmp_path / "finished"
    finished.mkdir()
    (finished / "metrics.json").write_text("{}")
    assert main(["train", "--resume", "--output", str(finished)]) == 2
    assert one_error_line(capsys).startswith(f"Run directory {finished} holds a finished run")

    other = tmp_path / "other"
    other.mkdir()
    (other / "config.json").write_text(json.dumps({"model": "lecture-cnn", "batch_size": 16}))
    assert main(["train", "--resume", "--output", str(other), "--batch-size", "8"]) == 2
    assert one_error_line(capsys) == (
        f"--resume: --batch-size is 8 but the run in {other} used 16; resume with the same "
        "settings, or choose another --output."
    )


def test_a_nan_loss_stops_training_and_exits_1_naming_epoch_and_batch(
    tmp_path, monkeypatch, capsys
):
    from cnnkit.callbacks import Callback
    from cnnkit.cli import catalog, train

    class Poison(Callback):
        """Makes a kernel NaN just before epoch 2, batch 3 (counted from 1)."""

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch

        def on_train_batch_begin(self, batch, logs=None):
            if (self.epoch, batch) == (1, 2):
                kernel = next(w for w in self.model.weights if len(w.shape) > 1)
                kernel.assign(np.full(kernel.shape, np.nan, "float32"))

    monkeypatch.setattr(catalog, "load_dataset", fake_image_dataset)
    monkeypatch.setattr(
        train, "learning_rate", lambda args, steps: (args.learning_rate, [Poison()])
    )
    out = tmp_path / "run"
    code = main(["train", "--epochs", "3", "--limit", "64", "--batch-size", "16", "--seed", "0",
                 "--verbose", "0", "--no-report", "--output", str(out)])  # fmt: skip
    assert code == 1
    assert one_error_line(capsys) == "the loss became NaN at epoch 2, batch 3; training stopped"
    assert not (out / "history.json").exists() and not (out / "model.keras").exists()


def test_a_diverging_learning_rate_exits_1(tmp_path):
    done = run_cli(tmp_path, "-", "--epochs", "2", "--limit", "64", "--batch-size", "16",
                   "--learning-rate", "1e6", "--seed", "0", "--verbose", "0", "--no-report",
                   "--output", str(tmp_path / "run"))  # fmt: skip
    assert done.returncode == 1, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert re.fullmatch(
        r"cnnkit: error: the loss became (NaN|infinite) at epoch 1, batch \d+; training stopped",
        last,
    )
