"""The ``cnnkit`` command line.

    cnnkit train [--model lecture-cnn] [--dataset fashion-mnist] [--epochs 15]
                 [--batch-size 32] [--learning-rate 0.001] [--lr-schedule constant]
                 [--augment] [--limit N] [--seed S] [--output DIR] [--overwrite] [--no-report]
                 [--resume]
    cnnkit train --dataset spam --model text-cnn|lstm|transformer [--num-words 20000] [--maxlen 300]
    cnnkit evaluate MODEL [--dataset NAME] [--limit N]
    cnnkit predict MODEL IMAGE... [--top 3] [--dataset NAME]
    cnnkit convolve IMAGE --kernel gaussian|sobel-x|sobel-y|laplacian|FILE
                    [--mode valid|same|full] --out OUT.png
    cnnkit report RUN_DIR
    cnnkit export MODEL OUT.onnx
    cnnkit --version

``train`` writes each run into its own directory, ``runs/<YYYYmmdd-HHMMSS>-<model>-<dataset>/``
unless ``--output DIR`` is given, and never writes into a non-empty one without ``--overwrite``
(or ``--resume``, below).
The directory holds ``config.json`` (every setting, with the seed actually used),
``versions.json``, ``dataset.json`` (sizes, classes, the SHA-256s the loader checks),
``history.json``/``history.csv``, the model (``model.keras`` when the model can be saved, else
``weights.npz``), ``metrics.json`` (test loss and accuracy, confusion matrix, per-class report),
``samples.npz`` (a few test images and their predictions, for image runs) and ``report.html``.

``MODEL`` is a ``.keras`` file or a run directory (its ``model.keras``, or the architecture
rebuilt from ``config.json`` with the trained ``weights.npz``).

``predict`` reads PNG, JPEG and the other formats Pillow reads, converts them to the model's
channels (grayscale or RGB; an alpha channel is dropped) and input size (bilinear), and scales
pixels to [0, 1] as in training. Nothing else is done: Fashion-MNIST shows light clothes on a
black background, so a photo of dark clothes on white paper must be inverted beforehand.

``--resume`` (with ``--output DIR``) backs the training state up in ``DIR/backup/`` at each
epoch end (:class:`~cnnkit.callbacks.BackupAndRestore`); running the same command again after an
interruption (a crash, ``kill -9``, a power cut) continues from the last finished epoch and ends
with the model and history an uninterrupted run would have had. The settings must be the
interrupted run's (``--epochs`` may grow; the seed is read from ``config.json``). The backup is
deleted once the run's files are written.

A loss that becomes NaN or infinite stops training on that batch
(:class:`~cnnkit.callbacks.TerminateOnNaN`): one line on stderr names the epoch and the batch
(both counted from 1), nothing more is written, and the exit status is 1.

User errors (a bad flag value, a missing dataset or file, a corrupt image, an unwritable folder,
a model that does not fit the data) print one line on stderr and exit with status 2;
``--debug`` shows the traceback.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import io
import json
import math
import platform
import shutil
import sys
import time
import warnings
from pathlib import Path

import numpy as np

import cnnkit
from cnnkit.callbacks import BackupAndRestore, TerminateOnNaN
from cnnkit.io_utils import (
    atomic_write,
    atomic_write_text,
    open_regular,
    read_json_object,
    read_npy,
    read_npz,
    read_regular,
)

IMAGE_DATASETS = ("fashion-mnist", "mnist", "cifar10")
TEXT_DATASETS = ("spam",)
DATASETS = IMAGE_DATASETS + TEXT_DATASETS
IMAGE_MODELS = ("lecture-cnn", "vgg-cifar", "lenet5", "alexnet", "vgg16", "googlenet", "resnet")
TEXT_MODELS = ("text-cnn", "lstm", "transformer")
MODELS = IMAGE_MODELS + TEXT_MODELS
SCHEDULES = ("constant", "exponential", "step", "cosine", "plateau")
KERNELS = ("gaussian", "sobel-x", "sobel-y", "laplacian")
MAX_KERNEL_SIDE = 1025  # a kernel's side, --size or read from a file
MAX_KERNEL_FILE_BYTES = 64 << 20
MAX_WEIGHTS_NPZ_BYTES = 1 << 30
MODES = ("valid", "same", "full")
RUNS_DIR = Path("runs")
BACKUP_DIR = "backup"  # inside the run directory, with --resume
# Settings that must match the interrupted run's config.json for --resume (--epochs may grow).
RESUME_SETTINGS = (
    "model", "dataset", "batch_size", "learning_rate", "lr_schedule", "augment", "limit",
    "num_words", "maxlen", "seed",
)  # fmt: skip
# Files a run directory may hold: --overwrite removes these (and nothing else) first.
RUN_FILES = (
    "config.json",
    "versions.json",
    "dataset.json",
    "history.json",
    "history.csv",
    "model.keras",
    "weights.npz",
    "metrics.json",
    "samples.npz",
    "report.html",
)


def class_names(dataset: str | None) -> tuple[str, ...] | None:
    """The class names of a known dataset, indexed by label; ``None`` for others."""
    from cnnkit.datasets import cifar10

    names = {
        "fashion-mnist": (
            "T-shirt/top",
            "Trouser",
            "Pullover",
            "Dress",
            "Coat",
            "Sandal",
            "Shirt",
            "Sneaker",
            "Bag",
            "Ankle boot",
        ),
        "mnist": tuple(str(d) for d in range(10)),
        "cifar10": tuple(cifar10.CLASS_NAMES),
        "spam": ("ham", "spam"),
    }
    return names.get(dataset)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cnnkit", description="Train and evaluate convolutional networks on NumPy."
    )
    parser.add_argument("--version", action="version", version=f"cnnkit {cnnkit.__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def command(name: str, help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help[:1].upper() + help[1:] + ".")
        p.add_argument(
            "--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS
        )
        return p

    train = command("train", "train a model, print its test accuracy and write a run directory")
    train.add_argument("--model", choices=MODELS, default="lecture-cnn")
    train.add_argument("--dataset", choices=DATASETS, default="fashion-mnist")
    train.add_argument("--epochs", type=_positive_int, default=15)
    train.add_argument("--batch-size", type=_positive_int, default=32)
    train.add_argument("--learning-rate", type=_positive_float, default=1e-3, help="Adam's rate")
    train.add_argument(
        "--lr-schedule",
        choices=SCHEDULES,
        default="constant",
        help="exponential: x0.9 per epoch; step: /10 at 50%% and 75%%; cosine: to 0; "
        "plateau: ReduceLROnPlateau on val_loss",
    )
    train.add_argument(
        "--augment",
        action="store_true",
        help="random flips (CIFAR-10), translations and zoom during training",
    )
    train.add_argument(
        "--limit", type=_positive_int, default=None, help="train on the first N images only"
    )
    train.add_argument(
        "--num-words",
        type=_positive_int,
        default=20000,
        help="text: keep the most frequent words (the tokenizer's num_words)",
    )
    train.add_argument(
        "--maxlen", type=_positive_int, default=300, help="text: words kept per document"
    )
    train.add_argument(
        "--seed", type=_non_negative_int, default=None, help="default: a random one, recorded"
    )
    train.add_argument(
        "--output",
        type=Path,
        default=None,
        help="run directory (default: runs/<YYYYmmdd-HHMMSS>-<model>-<dataset>)",
    )
    reuse = train.add_mutually_exclusive_group()
    reuse.add_argument(
        "--overwrite", action="store_true", help="reuse a non-empty --output directory"
    )
    reuse.add_argument(
        "--resume",
        action="store_true",
        help="back up the run in OUTPUT/backup/ every epoch; run the same command again to "
        "continue an interrupted run from its last finished epoch (needs --output)",
    )
    train.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="train on a folder of images, one sub-folder per class (streamed; 20%% held out)",
    )
    train.add_argument(
        "--image-size", type=_positive_int, default=32, help="--data-dir: images resized to NxN"
    )
    train.add_argument(
        "--color-mode", choices=("rgb", "grayscale", "rgba"), default="rgb", help="--data-dir"
    )
    train.add_argument("--no-report", action="store_true", help="do not write report.html")
    train.add_argument("--verbose", type=int, choices=(0, 1, 2), default=1)

    evaluate = command("evaluate", "print the test loss, accuracy and per-class results")
    evaluate.add_argument("model", type=Path, help="a .keras file or a run directory")
    evaluate.add_argument(
        "--dataset", choices=DATASETS, default=None, help="default: the run's dataset"
    )
    evaluate.add_argument(
        "--limit", type=_positive_int, default=None, help="the first N test samples only"
    )
    evaluate.add_argument("--batch-size", type=_positive_int, default=500)
    evaluate.add_argument("--num-words", type=_positive_int, default=None, help="text datasets")
    evaluate.add_argument("--maxlen", type=_positive_int, default=None, help="text datasets")

    predict = command("predict", "classify image files and print the most likely classes")
    predict.add_argument("model", type=Path, help="a .keras file or a run directory")
    predict.add_argument("images", type=Path, nargs="+", metavar="IMAGE")
    predict.add_argument("--top", type=_positive_int, default=3, help="classes shown per image")
    predict.add_argument(
        "--dataset", choices=DATASETS, default=None, help="class names (default: the run's)"
    )

    convolve = command("convolve", "filter an image with a classic kernel through cnnkit.signal")
    convolve.add_argument("image", type=Path)
    convolve.add_argument(
        "--kernel",
        required=True,
        metavar="|".join(KERNELS) + "|FILE",
        help="a kernel name, or a 2-D kernel in a .npy, .csv or whitespace-separated text file",
    )
    convolve.add_argument("--mode", choices=MODES, default="same")
    convolve.add_argument("--out", type=Path, required=True, help="output image (.png, .jpg)")
    convolve.add_argument(
        "--sigma", type=_positive_float, default=1.0, help="gaussian: standard deviation (px)"
    )
    convolve.add_argument(
        "--size", type=_positive_int, default=None, help="gaussian: side (default 2*ceil(3s)+1)"
    )
    convolve.add_argument("--gray", action="store_true", help="convert a colour image to gray")
    convolve.add_argument(
        "--correlate",
        action="store_true",
        help="do not flip the kernel (what Conv2D computes); the default flips it, like SciPy",
    )

    report = command("report", "write the run directory's report.html")
    report.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    report.add_argument("--output", type=Path, default=None, help="default: RUN_DIR/report.html")

    export = command("export", "export a model to ONNX")
    export.add_argument("model", type=Path, help="a .keras file or a run directory")
    export.add_argument("out", type=Path, metavar="OUT.onnx")
    return parser


# -- data and models -----------------------------------------------------------------------


def load_dataset(name: str):
    """``(x_train, y_train), (x_test, y_test)``: float32 NHWC images in [0, 1], integer labels."""
    from cnnkit.datasets import cifar10, fashion_mnist, mnist

    module = {"fashion-mnist": fashion_mnist, "mnist": mnist, "cifar10": cifar10}[name]
    (x_train, y_train), (x_test, y_test) = module.load_data()
    splits = []
    for x, y in ((x_train, y_train), (x_test, y_test)):
        x = x.astype("float32")
        x /= np.float32(255.0)
        splits.append((x if x.ndim == 4 else x[..., None], y.reshape(-1)))
    return splits[0], splits[1]


def load_text_dataset(name: str, num_words: int, maxlen: int):
    """``(x_train, y_train), (x_test, y_test)``: int32 padded word indices, 0/1 labels."""
    from cnnkit.datasets import spam

    return {"spam": spam}[name].load_data(num_words=num_words, maxlen=maxlen)


def dataset_hashes(name: str) -> dict:
    """``{file: SHA-256}`` that the dataset's loader checks its files against (may be empty)."""
    from cnnkit.datasets import cifar10, fashion_mnist, mnist, spam

    if name == "cifar10":
        return {cifar10.ARCHIVE: cifar10.ARCHIVE_SHA256}
    module = {"fashion-mnist": fashion_mnist, "mnist": mnist, "spam": spam}[name]
    return dict(getattr(module, "PAYLOAD_SHA256", None) or getattr(module, "ARCHIVE_SHA256", {}))


def build_text_model(name: str, vocab_size: int, maxlen: int, classes: int):
    """One of ``TEXT_MODELS`` over sequences of ``maxlen`` word indices below ``vocab_size``."""
    from cnnkit import applications

    if name == "text-cnn":
        return applications.text_cnn(vocab_size, sequence_length=maxlen, classes=classes)
    if name == "transformer":
        return applications.transformer_classifier(vocab_size, maxlen, classes=classes)
    return applications.lstm_classifier(vocab_size, sequence_length=maxlen, classes=classes)


def binary_scores(y_true, y_pred) -> dict:
    """Accuracy, precision, recall and F1 of the positive class (1) from 0/1 arrays."""
    from cnnkit.metrics import classification_report

    y_true = np.asarray(y_true).reshape(-1).astype("int64")
    y_pred = np.asarray(y_pred).reshape(-1).astype("int64")
    report = classification_report(y_true, y_pred, num_classes=2, output_dict=True)
    positive = report["1"]
    return {
        "accuracy": float(report["accuracy"]),
        "precision": float(positive["precision"]),
        "recall": float(positive["recall"]),
        "f1": float(positive["f1-score"]),
    }


def build_model(name: str, input_shape: tuple, classes: int, augment: bool):
    """One of ``MODELS`` for images of ``input_shape``, optionally behind augmentation layers."""
    from cnnkit import applications, layers
    from cnnkit.models import Model

    builders = {
        "lecture-cnn": lambda: applications.lecture_cnn(input_shape=input_shape, classes=classes),
        "vgg-cifar": lambda: applications.vgg_cifar(input_shape=input_shape, classes=classes),
        "lenet5": lambda: applications.LeNet5(input_shape=input_shape, classes=classes),
        "alexnet": lambda: applications.AlexNet(input_shape=input_shape, classes=classes),
        "vgg16": lambda: applications.VGG16(input_shape=input_shape, classes=classes),
        "googlenet": lambda: applications.GoogLeNet(input_shape=input_shape, classes=classes),
        "resnet": lambda: applications.resnet_small(input_shape=input_shape, classes=classes),
    }
    model = builders[name]()
    if not augment:
        return model
    i = layers.Input(shape=input_shape)
    x = i
    if input_shape[-1] == 3:  # natural images: a mirrored photo is still the same class
        x = layers.RandomFlip("horizontal")(x)
    x = layers.RandomTranslation(0.1, 0.1, fill_mode="nearest")(x)
    x = layers.RandomZoom(0.1, fill_mode="nearest")(x)
    return Model(i, model(x), name=f"{model.name}_augmented")


def learning_rate(args, steps_per_epoch: int):
    """``(learning_rate or schedule, callbacks)`` for ``--learning-rate`` and ``--lr-schedule``."""
    from cnnkit import callbacks
    from cnnkit.optimizers import schedules

    lr, total = args.learning_rate, args.epochs * steps_per_epoch
    if args.lr_schedule == "exponential":
        return schedules.ExponentialDecay(lr, decay_steps=steps_per_epoch, decay_rate=0.9), []
    if args.lr_schedule == "step":
        bounds = [max(1, total // 2), max(2, (3 * total) // 4)]
        return schedules.PiecewiseConstantDecay(bounds, [lr, lr / 10, lr / 100]), []
    if args.lr_schedule == "cosine":
        return schedules.CosineDecay(lr, decay_steps=max(1, total)), []
    if args.lr_schedule == "plateau":
        return lr, [callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=2)]
    return lr, []


# -- train ---------------------------------------------------------------------------------


def choose_run_dir(args) -> Path:
    """The run directory: ``--output``, or a new timestamped folder under ``runs/``.

    Raises:
        ValueError: if ``--output`` is a non-empty directory and ``--overwrite`` is not given,
            or is a file.
    """
    if args.output is None:
        if getattr(args, "resume", False):
            raise ValueError("--resume needs --output RUN_DIR: the run directory to continue.")
        stem = f"{time.strftime('%Y%m%d-%H%M%S')}-{args.model}-{args.dataset}"
        folder, suffix = RUNS_DIR / stem, 1
        while folder.exists():  # two runs started in the same second
            suffix += 1
            folder = RUNS_DIR / f"{stem}-{suffix}"
        return folder
    folder = args.output
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"--output {folder} is a file, not a directory.")
    if args.resume:
        if (folder / "metrics.json").exists() and not (folder / BACKUP_DIR).exists():
            raise ValueError(
                f"Run directory {folder} holds a finished run: there is nothing to resume. "
                "Pass --overwrite to train it again, or choose another --output."
            )
        return folder
    if folder.is_dir() and any(folder.iterdir()) and not args.overwrite:
        raise ValueError(
            f"Run directory {folder} is not empty; pass --overwrite to replace its run files, "
            "or choose another --output."
        )
    return folder


def _start_run_dir(folder: Path, overwrite: bool) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    if overwrite:  # stale files of an earlier run must not mix with this one's
        for name in RUN_FILES:
            (folder / name).unlink(missing_ok=True)
        shutil.rmtree(folder / BACKUP_DIR, ignore_errors=True)


def _check_resumed_settings(args, folder: Path) -> None:
    """With --resume, the settings must be the interrupted run's; its seed is reused.

    Raises:
        ValueError: naming the first setting that differs from ``folder/config.json``.
    """
    recorded = _read_config(folder)
    if not recorded:
        return
    if args.seed is None:
        args.seed = recorded.get("seed")
    for name in RESUME_SETTINGS:
        if name in recorded and recorded[name] != getattr(args, name):
            flag = "--" + name.replace("_", "-")
            raise ValueError(
                f"--resume: {flag} is {getattr(args, name)!r} but the run in {folder} used "
                f"{recorded[name]!r}; resume with the same settings, or choose another --output."
            )


def _write_json(path: Path, value) -> None:
    atomic_write_text(path, json.dumps(value, indent=2, default=_json_default) + "\n")


def _json_default(value):
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def versions() -> dict:
    """Python, NumPy, cnnkit, the platform, and the optional plotting packages' versions."""
    from importlib import metadata

    record = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "cnnkit": cnnkit.__version__,
        "platform": platform.platform(),
    }
    for package in ("matplotlib", "pillow", "onnx"):
        try:
            record[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            pass
    return record


def cmd_train(args) -> int:
    from cnnkit.optimizers import Adam

    if getattr(args, "data_dir", None) is not None:
        from cnnkit.train_from_directory import train_from_directory

        return train_from_directory(args)

    text = args.dataset in TEXT_DATASETS
    if text != (args.model in TEXT_MODELS):
        kind, choices = ("text", TEXT_MODELS) if text else ("image", IMAGE_MODELS)
        raise ValueError(
            f"--model {args.model} does not fit the {kind} dataset {args.dataset}; choose one "
            f"of {', '.join(choices)}."
        )
    if text and args.augment:
        raise ValueError("--augment applies to images only.")
    run_dir = choose_run_dir(args)
    if args.resume:
        _check_resumed_settings(args, run_dir)
    if args.seed is None:  # a random seed, recorded so that the run can be repeated
        args.seed = int(np.random.SeedSequence().entropy % (2**31))
    cnnkit.utils.set_random_seed(args.seed)
    started = datetime.datetime.now().isoformat(timespec="seconds")
    if text:
        (x_train, y_train), (x_test, y_test) = load_text_dataset(
            args.dataset, args.num_words, args.maxlen
        )
    else:
        (x_train, y_train), (x_test, y_test) = load_dataset(args.dataset)
    if args.limit is not None:
        x_train, y_train = x_train[: args.limit], y_train[: args.limit]
    classes = int(max(y_train.max(), y_test.max())) + 1
    if text:
        model = build_text_model(args.model, args.num_words, args.maxlen, classes)
    else:
        model = build_model(args.model, x_train.shape[1:], classes, args.augment)
    binary = text and classes == 2
    steps = -(-len(x_train) // args.batch_size)
    rate, extra_callbacks = learning_rate(args, steps)
    model.compile(
        optimizer=Adam(learning_rate=rate),
        loss="binary_crossentropy" if binary else "sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )

    _start_run_dir(run_dir, args.overwrite)
    config = {k: v for k, v in vars(args).items() if k not in ("command", "debug")}
    config["output"] = str(run_dir)
    _write_json(run_dir / "config.json", config)
    _write_json(run_dir / "versions.json", versions())
    names = class_names(args.dataset)
    hashes = dataset_hashes(args.dataset)
    _write_json(
        run_dir / "dataset.json",
        {
            "name": args.dataset,
            "train_samples": len(x_train),
            "test_samples": len(x_test),
            "input_shape": list(x_train.shape[1:]),
            "classes": classes,
            "class_names": list(names) if names and len(names) == classes else None,
            "sha256": hashes,
            **(
                {}
                if hashes
                else {
                    "note": "the loader pins no SHA-256 for these files; "
                    "they are checked by their headers"
                }
            ),
        },
    )

    nan_guard = _StopOnNaN()
    train_callbacks = [*extra_callbacks, nan_guard]
    if args.resume:  # last, so that the backup holds the other callbacks' changes
        backup = BackupAndRestore(
            run_dir / BACKUP_DIR, double_checkpoint=True, delete_checkpoint=False
        )
        train_callbacks.append(backup)
    start = time.perf_counter()
    history = model.fit(
        x_train,
        y_train,
        batch_size=args.batch_size,
        epochs=args.epochs,
        validation_data=(x_test, y_test),
        verbose=args.verbose,
        callbacks=train_callbacks,
    )
    seconds = time.perf_counter() - start
    if nan_guard.stopped_at is not None:
        epoch, batch, loss = nan_guard.stopped_at
        word = "NaN" if math.isnan(loss) else "infinite"
        print(
            f"cnnkit: error: the loss became {word} at epoch {epoch + 1}, batch {batch + 1}; "
            "training stopped",
            file=sys.stderr,
        )
        return 1
    if args.resume:  # the epochs run before the interruption come first
        _prepend_history(history, backup.restored_epochs, backup.restored_history)
    loss, accuracy = model.evaluate(x_test, y_test, batch_size=500, verbose=0)
    print(f"Test accuracy: {accuracy:.4f} (loss {loss:.4f}, {seconds:.1f}s training)")
    results = {"test_loss": loss, "test_accuracy": accuracy, "train_seconds": seconds}
    probabilities = model.predict(x_test, batch_size=500, verbose=0)
    predicted = _predicted_labels(probabilities)
    if binary:
        scores = binary_scores(y_test, predicted)
        print(
            "Test accuracy {accuracy:.4f}, precision {precision:.4f}, recall {recall:.4f}, "
            "F1 {f1:.4f} (positive class: 1)".format(**scores)
        )
        results.update({f"test_{k}": v for k, v in scores.items() if k != "accuracy"})

    _write_history(run_dir, history, results)
    model_file = _save_model(run_dir, model)
    metrics = {
        **results,
        "started_at": started,
        "finished_at": datetime.datetime.now().isoformat(timespec="seconds"),
        "params": model.count_params(),
        "num_train": len(x_train),
        "num_test": len(x_test),
        "steps_per_epoch": steps,
        "class_names": list(names) if names and len(names) == classes else None,
        **per_class_results(y_test, predicted, classes, names),
    }
    _write_json(run_dir / "metrics.json", metrics)
    if not text:
        _write_samples(run_dir, x_test, y_test, probabilities, predicted)
    written = f"Wrote {run_dir} ({model_file}"
    if not args.no_report:
        report = _write_report(run_dir, model, rate, steps * args.epochs)
        if report is not None:
            written += ", report.html"
    print(written + ")")
    if args.resume:  # every run file is written: the backup is no longer needed
        shutil.rmtree(run_dir / BACKUP_DIR, ignore_errors=True)
    return 0


class _StopOnNaN(TerminateOnNaN):
    """``TerminateOnNaN`` that remembers where: ``stopped_at = (epoch, batch, loss)``."""

    def __init__(self):
        super().__init__()
        self.epoch = 0
        self.stopped_at = None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        super().on_train_batch_end(batch, logs)
        loss = (logs or {}).get("loss")
        if self.stopped_at is None and loss is not None and not math.isfinite(loss):
            self.stopped_at = (self.epoch, batch, float(loss))


def _prepend_history(history, epochs: list, logs: dict) -> None:
    """Put the epochs restored from a backup before those ``fit`` has just run."""
    merged = {key: list(values) for key, values in logs.items()}
    for key, values in history.history.items():
        merged.setdefault(key, []).extend(values)
    history.history = merged
    history.epoch = list(epochs) + list(history.epoch)


def _predicted_labels(probabilities) -> np.ndarray:
    probabilities = np.asarray(probabilities)
    if probabilities.ndim == 2 and probabilities.shape[1] == 1:
        return (probabilities[:, 0] > 0.5).astype("int64")
    return probabilities.argmax(axis=1)


def per_class_results(y_true, y_pred, classes: int, names) -> dict:
    """The confusion matrix (a list of rows) and the per-class report (a dict)."""
    from cnnkit import metrics

    target_names = list(names) if names and len(names) == classes else None
    return {
        "confusion_matrix": metrics.confusion_matrix(y_true, y_pred, num_classes=classes).tolist(),
        "classification_report": metrics.classification_report(
            y_true,
            y_pred,
            target_names=target_names,
            digits=4,
            output_dict=True,
            num_classes=classes,
        ),
    }


def _write_history(folder: Path, history, results: dict) -> None:
    """history.json and history.csv, each written atomically."""
    record = {"history": history.history, "epoch": history.epoch, **results}
    atomic_write_text(folder / "history.json", json.dumps(record, indent=2) + "\n")
    keys = list(history.history)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["epoch", *keys])
    for row, epoch in enumerate(history.epoch):
        writer.writerow([epoch, *(history.history[k][row] for k in keys)])
    atomic_write_text(folder / "history.csv", buffer.getvalue())


def _save_model(folder: Path, model) -> str:
    """``model.keras`` through ``model.save`` when cnnkit has it, else ``weights.npz``."""
    if hasattr(model, "save"):
        try:
            model.save(folder / "model.keras")
            return "model.keras"
        except (NotImplementedError, TypeError, ValueError) as error:
            print(
                f"cnnkit: note: cannot save model.keras ({error}); writing weights.npz",
                file=sys.stderr,
            )
    arrays = {f"{i:03d}:{w.path}": w.numpy() for i, w in enumerate(model.weights)}
    with atomic_write(folder / "weights.npz") as f:
        np.savez(f, **arrays)
    return "weights.npz"


def _write_samples(folder: Path, x_test, y_test, probabilities, predicted) -> None:
    """A few test images for the report: the first 8, and the first 32 misclassified."""
    wrong = np.flatnonzero(predicted != y_test)[:32]
    index = np.unique(np.concatenate([np.arange(min(8, len(x_test))), wrong]))
    with atomic_write(folder / "samples.npz") as f:
        np.savez(
            f,
            x=x_test[index],
            y=y_test[index],
            probabilities=np.asarray(probabilities)[index],
            index=index,
        )


def _write_report(run_dir: Path, model, rate, total_steps: int):
    """report.html, or ``None`` with a note on stderr when matplotlib is missing."""
    try:
        from cnnkit.viz.report import write_report

        schedule = None if isinstance(rate, (int, float)) else rate
        return write_report(run_dir, model=model, schedule=schedule, total_steps=total_steps)
    except ImportError as error:
        print(f"cnnkit: note: report.html skipped: {error}", file=sys.stderr)
        return None


# -- loading models ------------------------------------------------------------------------


def _read_config(folder: Path) -> dict:
    path = folder / "config.json"
    if not path.exists():
        return {}
    return read_json_object(path, what="run config")


def load_model(path: Path):
    """``(model, run config)`` from a ``.keras`` file or a run directory.

    A run directory gives its ``model.keras``, or, without one, the architecture rebuilt from
    ``config.json`` and ``dataset.json`` with the weights of ``weights.npz``. The config is that
    of the run holding the model (``{}`` when there is none).

    Raises:
        FileNotFoundError: if ``path`` does not exist or the run directory has no model.
        ValueError: if the file is not a model cnnkit can read.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or directory.")
    if path.is_dir():
        config = _read_config(path)
        if (path / "model.keras").exists():
            return _load_keras(path / "model.keras"), config
        if (path / "weights.npz").exists():
            return _rebuild(path, config), config
        raise FileNotFoundError(f"{path} holds no model.keras or weights.npz.")
    if path.suffix == ".keras":
        return _load_keras(path), _read_config(path.parent)
    if path.name == "weights.npz":
        return load_model(path.parent)
    raise ValueError(f"{path}: expected a .keras model file or a run directory.")


def _load_keras(path: Path):
    from cnnkit import models

    loader = getattr(models, "load_model", None)
    if loader is None:
        raise ValueError(
            f"{path}: this version of cnnkit cannot read .keras files (no "
            "cnnkit.models.load_model); pass the run directory instead."
        )
    return loader(path)


def _rebuild(folder: Path, config: dict):
    """The run's architecture (from its config) with the trained weights of weights.npz."""
    dataset_path = folder / "dataset.json"
    dataset = (
        read_json_object(dataset_path, what="run dataset file") if dataset_path.exists() else None
    )
    if not config or dataset is None or config.get("model") not in MODELS:
        raise ValueError(
            f"{folder}: cannot rebuild the model from weights.npz without the run's "
            "config.json and dataset.json."
        )
    text = config["model"] in TEXT_MODELS
    needs = {"classes": dataset, **({"num_words": config, "maxlen": config} if text else {})}
    if not text:
        needs["input_shape"] = dataset
    for key, source in needs.items():
        value = source.get(key)
        ok = (
            _is_count(value)
            if key != "input_shape"
            else (isinstance(value, list) and 1 <= len(value) <= 3 and all(map(_is_count, value)))
        )
        if not ok:
            name = "dataset.json" if source is dataset else "config.json"
            raise ValueError(
                f"{folder / name}: {key!r} must be a positive integer"
                f"{' list' if key == 'input_shape' else ''}; found {value!r:.80}."
            )
    classes = int(dataset["classes"])
    if text:
        model = build_text_model(config["model"], config["num_words"], config["maxlen"], classes)
    else:
        model = build_model(
            config["model"], tuple(dataset["input_shape"]), classes, bool(config.get("augment"))
        )
    weights = model.weights
    path = folder / "weights.npz"
    order = []

    def check(shapes: dict) -> None:
        """Match the arrays to the weights before reading them: by the variable path in
        their keys (``<index>:<path>``, see ``_write_weights``), else in key order."""
        keys = sorted(shapes)
        by_path = {key.partition(":")[2]: key for key in keys}
        if len(by_path) == len(keys) and all(w.path in by_path for w in weights):
            keys = [by_path[w.path] for w in weights]
        if len(keys) != len(weights) or any(
            shapes[k] != tuple(w.shape) for k, w in zip(keys, weights)
        ):
            raise ValueError(
                f"{path} does not match the {config['model']} model of config.json "
                f"({len(keys)} arrays for {len(weights)} weights)."
            )
        order.extend(keys)

    arrays = read_npz(path, MAX_WEIGHTS_NPZ_BYTES, "weights file", check=check)
    for variable, key in zip(weights, order):
        variable.assign(arrays[key])
    return model


def _is_count(value) -> bool:
    return type(value) is int and 0 < value <= 1 << 24


def _input_shape(model) -> tuple:
    shape = model.input_shape
    if isinstance(shape, list):
        raise ValueError(f"Model {model.name!r} has {len(shape)} inputs; expected one.")
    return tuple(shape)


def _output_units(model) -> int:
    shape = model.output_shape
    if isinstance(shape, list):
        raise ValueError(f"Model {model.name!r} has {len(shape)} outputs; expected one.")
    return int(shape[-1])


# -- evaluate ------------------------------------------------------------------------------


def cmd_evaluate(args) -> int:
    from cnnkit import metrics

    model, config = load_model(args.model)
    dataset = args.dataset or config.get("dataset")
    if dataset is None:
        raise ValueError(
            f"{args.model} does not say which dataset it was trained on; pass --dataset."
        )
    if dataset in TEXT_DATASETS:
        num_words = args.num_words or config.get("num_words") or 20000
        maxlen = args.maxlen or config.get("maxlen") or 300
        _, (x_test, y_test) = load_text_dataset(dataset, num_words, maxlen)
    else:
        _, (x_test, y_test) = load_dataset(dataset)
    if args.limit is not None:
        x_test, y_test = x_test[: args.limit], y_test[: args.limit]
    expected, units = _input_shape(model), _output_units(model)
    classes = int(y_test.max()) + 1
    if tuple(expected[1:]) != tuple(x_test.shape[1:]):
        raise ValueError(
            f"Model {model.name!r} takes inputs of shape {tuple(expected[1:])}, but {dataset} "
            f"has {tuple(x_test.shape[1:])}; evaluate it on the dataset it was trained on."
        )
    names = class_names(dataset)
    binary = units == 1
    if not binary and units < classes:
        raise ValueError(
            f"Model {model.name!r} predicts {units} classes, but {dataset} has {classes}."
        )
    if not model.compiled:
        model.compile(
            optimizer="adam",
            loss="binary_crossentropy" if binary else "sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
    logs = model.evaluate(x_test, y_test, batch_size=args.batch_size, verbose=0, return_dict=True)
    predicted = _predicted_labels(model.predict(x_test, batch_size=args.batch_size, verbose=0))
    accuracy = float(np.mean(predicted == y_test))
    print(
        f"Test loss {logs['loss']:.4f}, accuracy {accuracy:.4f} "
        f"({len(x_test):,} samples of {dataset})"
    )
    count = 2 if binary else units
    names = list(names) if names and len(names) == count else [str(i) for i in range(count)]
    cm = metrics.confusion_matrix(y_test, predicted, num_classes=count)
    print("\nConfusion matrix (rows: true class, columns: predicted class)")
    print(format_confusion_matrix(cm, names))
    print()
    print(
        metrics.classification_report(
            y_test, predicted, target_names=names, digits=4, num_classes=count
        )
    )
    return 0


def format_confusion_matrix(cm: np.ndarray, names) -> str:
    """A plain-text confusion matrix: rows labelled with names, columns with class indices.

    Example:
        >>> print(format_confusion_matrix(np.array([[5, 1], [0, 7]]), ["cat", "dog"]))
                0   1
        0 cat   5   1
        1 dog   0   7
    """
    width = max(4, len(f"{int(cm.max()):,}") + 1)
    label = max(len(f"{i} {n}") for i, n in enumerate(names))
    lines = [" " * label + "".join(f"{j:>{width}}" for j in range(len(names)))]
    for i, name in enumerate(names):
        cells = "".join(f"{int(v):>{width},}" for v in cm[i])
        lines.append(f"{f'{i} {name}':<{label}}{cells}")
    return "\n".join(lines)


# -- predict -------------------------------------------------------------------------------


def _pillow():
    try:
        from PIL import Image, ImageOps
    except ImportError:
        raise ImportError(
            "reading images needs Pillow: pip install 'cnnkit[plot]' (matplotlib and pillow)."
        ) from None
    return Image, ImageOps


GRAY_MODES = ("1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F")


def _open_image(Image, path: Path):
    """``Image.open(path)``, raising Pillow's decompression-bomb warning (over
    ``Image.MAX_IMAGE_PIXELS`` pixels) as an error, before any pixel is decoded."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        return Image.open(path)


def read_image(path: Path, mode: str | None = None):
    """The image at ``path`` as a Pillow image in ``mode``, EXIF-rotated.

    ``mode`` is ``"L"`` (grayscale) or ``"RGB"``; ``None`` keeps a grayscale image gray and
    makes anything else RGB. An alpha channel is dropped; 16-bit and float grayscale images
    are rescaled to 8 bits.

    Raises:
        FileNotFoundError: if the file does not exist.
        ValueError: if it is not an image Pillow can read, is corrupt or truncated, or has more
            pixels than ``PIL.Image.MAX_IMAGE_PIXELS`` (a possible decompression bomb).
    """
    Image, ImageOps = _pillow()
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such image file.")
    try:
        with open_regular(path, "image") as f, _open_image(Image, f) as image:
            image.load()
            image = ImageOps.exif_transpose(image)
            if mode is None:
                mode = "L" if image.mode in GRAY_MODES else "RGB"
            if image.mode == "P":  # a palette, maybe with a transparent entry: go through RGBA
                image = image.convert("RGBA")
            if image.mode in GRAY_MODES[3:] and mode == "L":
                array = np.asarray(image, dtype="float64")
                top = 65535.0 if image.mode.startswith("I;16") or array.max() > 255 else 255.0
                return Image.fromarray(np.clip(array / top * 255.0, 0, 255).astype("uint8"))
            return image.convert(mode)
    except Image.UnidentifiedImageError:
        raise ValueError(f"{path}: not an image file Pillow can read (PNG, JPEG, ...).") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise ValueError(f"{path}: image too large to read ({error}).") from None
    except (OSError, SyntaxError, ValueError) as error:
        raise ValueError(f"{path}: corrupt or truncated image ({error}).") from None


def image_array(path: Path, height: int, width: int, channels: int) -> np.ndarray:
    """``path`` as a float32 ``(height, width, channels)`` array in [0, 1], as in training.

    Grayscale and colour are converted to the model's ``channels`` (1 or 3; an alpha channel
    is dropped) and the image is resized to ``height x width`` (bilinear). No inversion.
    """
    Image, _ = _pillow()
    if channels not in (1, 3):
        raise ValueError(f"Models over {channels}-channel images are not supported by predict.")
    image = read_image(path, "L" if channels == 1 else "RGB")
    if image.size != (width, height):
        resampling = getattr(Image, "Resampling", Image)
        image = image.resize((width, height), resampling.BILINEAR)
    array = np.asarray(image, dtype="float32") / np.float32(255.0)
    return array.reshape(height, width, channels)


def cmd_predict(args) -> int:
    model, config = load_model(args.model)
    shape = _input_shape(model)
    if len(shape) != 4:
        raise ValueError(
            f"Model {model.name!r} takes inputs of shape {shape[1:]}, not images; predict "
            "classifies image files."
        )
    _, height, width, channels = shape
    batch = np.stack([image_array(p, height, width, channels) for p in args.images])
    outputs = np.asarray(model.predict(batch, verbose=0))
    if outputs.ndim == 2 and outputs.shape[1] == 1:  # one sigmoid unit: P(class 1)
        outputs = np.concatenate([1.0 - outputs, outputs], axis=1)
    names = class_names(args.dataset or config.get("dataset"))
    if names is None or len(names) != outputs.shape[1]:
        names = [str(i) for i in range(outputs.shape[1])]
    top = min(args.top, outputs.shape[1])
    for path, probabilities in zip(args.images, outputs):
        best = np.argsort(-probabilities, kind="stable")[:top]
        ranked = ", ".join(f"{names[i]} ({probabilities[i]:.3f})" for i in best)
        print(f"{path}: {ranked}")
    return 0


# -- convolve ------------------------------------------------------------------------------


def read_kernel(spec: str, sigma: float, size: int | None) -> tuple[str, np.ndarray]:
    """``(name, 2-D float array)`` for a kernel name or a .npy/.csv/text file.

    Raises:
        FileNotFoundError: if ``spec`` is neither a name nor an existing file.
        ValueError: if the file does not hold a non-empty, finite 2-D array of numbers.
    """
    from cnnkit.viz.convolution import named_kernel

    if spec in KERNELS:
        side = size if size is not None else 2 * math.ceil(3 * sigma) + 1
        if spec == "gaussian" and side > MAX_KERNEL_SIDE:
            given = f"--size {size}" if size is not None else f"--sigma {sigma:g}"
            raise ValueError(
                f"{given}: a {side}x{side} Gaussian kernel is larger than the "
                f"{MAX_KERNEL_SIDE}x{MAX_KERNEL_SIDE} allowed."
            )
        return spec, np.asarray(named_kernel(spec, sigma=sigma, size=size), dtype="float64")
    path = Path(spec)
    if not path.exists():
        raise FileNotFoundError(
            f"--kernel {spec!r} is neither a kernel name ({', '.join(KERNELS)}) nor a file."
        )
    try:
        if path.suffix == ".npy":
            kernel = read_npy(path, MAX_KERNEL_FILE_BYTES, "kernel file")
        else:
            text = read_regular(path, MAX_KERNEL_FILE_BYTES, "kernel file").decode("utf-8")
            kernel = np.loadtxt(io.StringIO(text), delimiter="," if "," in text else None, ndmin=2)
    except (ValueError, UnicodeDecodeError, EOFError) as error:
        if str(path) in str(error):
            raise
        raise ValueError(
            f"{path}: not a kernel file (.npy, or numbers in CSV/text): {error}"
        ) from None
    kernel = np.asarray(kernel)
    if kernel.ndim != 2 or kernel.size == 0 or kernel.dtype.kind not in "biuf":
        raise ValueError(
            f"{path}: expected a non-empty 2-D array of numbers; got shape {kernel.shape} and "
            f"dtype {kernel.dtype}."
        )
    if max(kernel.shape) > MAX_KERNEL_SIDE:
        raise ValueError(
            f"{path}: a {kernel.shape[0]}x{kernel.shape[1]} kernel is larger than the "
            f"{MAX_KERNEL_SIDE}x{MAX_KERNEL_SIDE} allowed."
        )
    kernel = kernel.astype("float64")
    if not np.all(np.isfinite(kernel)):
        raise ValueError(f"{path}: the kernel holds NaN or infinite values.")
    return path.name, kernel


def cmd_convolve(args) -> int:
    from cnnkit.viz.convolution import convolve_image, to_uint8

    Image, _ = _pillow()
    formats = Image.registered_extensions()
    out_format = formats.get(args.out.suffix.lower())
    if out_format is None or out_format not in Image.SAVE:
        raise ValueError(
            f"--out {args.out}: cannot tell an image format Pillow writes from "
            "the extension; use .png or .jpg."
        )
    name, kernel = read_kernel(args.kernel, args.sigma, args.size)
    image = read_image(args.image, "L" if args.gray else None)
    pixels = np.asarray(image, dtype="float64") / 255.0
    result = convolve_image(pixels, kernel, args.mode, correlate=args.correlate)
    output = Image.fromarray(to_uint8(result))  # uint8 (H, W) is "L", (H, W, 3) "RGB"
    with atomic_write(args.out) as f:
        output.save(f, format=out_format)
    h, w = pixels.shape[:2]
    kh, kw = kernel.shape
    print(
        f"Wrote {args.out}: {result.shape[0]}x{result.shape[1]} ({args.mode} "
        f"{'correlation' if args.correlate else 'convolution'} of a {h}x{w} image with the "
        f"{kh}x{kw} {name} kernel)"
    )
    return 0


# -- report and export ---------------------------------------------------------------------


def cmd_report(args) -> int:
    from cnnkit.viz.report import read_run, write_report

    run = read_run(args.run_dir)  # checks that it is a run directory
    config = run["config"]
    try:
        model, _ = load_model(args.run_dir)
    except (FileNotFoundError, ValueError) as error:
        print(f"cnnkit: note: the report has no model sections: {error}", file=sys.stderr)
        model = None
    schedule, total = None, None
    steps = run["metrics"].get("steps_per_epoch")
    if steps and config.get("lr_schedule") not in (None, "constant", "plateau"):
        try:  # the schedule of the run, rebuilt from its settings
            steps = int(steps)
            rate, _ = learning_rate(argparse.Namespace(**config), steps)
            schedule, total = rate, steps * int(config["epochs"])
        except (AttributeError, KeyError, TypeError, ValueError, OverflowError) as error:
            raise ValueError(
                f"{Path(args.run_dir) / 'config.json'}: cannot rebuild the run's learning-rate "
                f"schedule ({type(error).__name__}: {error})."
            ) from None
    path = write_report(
        args.run_dir, model=model, schedule=schedule, total_steps=total, path=args.output
    )
    print(f"Wrote {path}")
    return 0


def cmd_export(args) -> int:
    from cnnkit.export import onnx

    source = args.model
    if source.is_dir() and not (source / "model.keras").exists():
        model, _ = load_model(source)  # the run's architecture with its weights.npz
        proto = onnx.export_onnx(model, args.out)
        print(f"Exported {source} to {args.out} ({len(proto.graph.node)} ONNX nodes).")
        return 0
    if source.is_dir():
        source = source / "model.keras"
    return onnx.export_command(source, args.out)


COMMANDS = {
    "train": cmd_train,
    "evaluate": cmd_evaluate,
    "predict": cmd_predict,
    "convolve": cmd_convolve,
    "report": cmd_report,
    "export": cmd_export,
}


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return COMMANDS[args.command](args)
    except KeyboardInterrupt:
        print("cnnkit: interrupted", file=sys.stderr)
        return 130
    except (
        ValueError,
        TypeError,
        ImportError,
        OSError,
        NotImplementedError,
        MemoryError,
        OverflowError,
    ) as err:
        if args.debug:
            raise
        lines = [line.strip() for line in str(err).splitlines() if line.strip()]
        message = " ".join(lines) or type(err).__name__
        if isinstance(err, MemoryError):
            message = "not enough memory for this command (a file or an argument asks for more)"
        print(f"cnnkit: error: {message}", file=sys.stderr)
        return 2
