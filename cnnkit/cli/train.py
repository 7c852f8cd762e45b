"""``cnnkit train``: train a model, print its test accuracy and write a run directory.

Under an MPI launcher (``mpirun -n 4 cnnkit train ...``) the processes train one model
data-parallel (:mod:`cnnkit.distribution`): every process loads the same data and takes its
share of each global batch; process 0 alone prints progress and writes the run directory.
"""

from __future__ import annotations

import datetime
import math
import platform
import shutil
import sys
import time
from pathlib import Path

import numpy as np

import cnnkit
from cnnkit import runs
from cnnkit.callbacks import TerminateOnNaN
from cnnkit.cli import catalog
from cnnkit.cli.common import (
    non_negative_int,
    positive_float,
    positive_int,
    predicted_labels,
)
from cnnkit.runs import Run

HELP = "train a model, print its test accuracy and write a run directory"
SCHEDULES = ("constant", "exponential", "step", "cosine", "plateau")
RUNS_DIR = Path("runs")
# Settings that must match the interrupted run's config.json for --resume (--epochs may grow).
RESUME_SETTINGS = (
    "model", "dataset", "batch_size", "learning_rate", "lr_schedule", "augment", "limit",
    "num_words", "maxlen", "seed",
)  # fmt: skip


def add_arguments(parser) -> None:
    parser.add_argument("--model", choices=catalog.MODELS, default="lecture-cnn")
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="train on a folder of images, one sub-folder per class (streamed; 20%% held out)",
    )
    parser.add_argument(
        "--image-size", type=positive_int, default=32, help="--data-dir: images resized to NxN"
    )
    parser.add_argument(
        "--color-mode", choices=("rgb", "grayscale", "rgba"), default="rgb", help="--data-dir"
    )
    parser.add_argument("--dataset", choices=catalog.DATASETS, default="fashion-mnist")
    parser.add_argument("--epochs", type=positive_int, default=15)
    parser.add_argument("--batch-size", type=positive_int, default=32)
    parser.add_argument("--learning-rate", type=positive_float, default=1e-3, help="Adam's rate")
    parser.add_argument(
        "--lr-schedule",
        choices=SCHEDULES,
        default="constant",
        help="exponential: x0.9 per epoch; step: /10 at 50%% and 75%%; cosine: to 0; "
        "plateau: ReduceLROnPlateau on val_loss",
    )
    parser.add_argument(
        "--augment",
        action="store_true",
        help="random flips (CIFAR-10), translations and zoom during training",
    )
    parser.add_argument(
        "--limit", type=positive_int, default=None, help="train on the first N images only"
    )
    parser.add_argument(
        "--num-words",
        type=positive_int,
        default=20000,
        help="text: keep the most frequent words (the tokenizer's num_words)",
    )
    parser.add_argument(
        "--maxlen", type=positive_int, default=300, help="text: words kept per document"
    )
    parser.add_argument(
        "--seed", type=non_negative_int, default=None, help="default: a random one, recorded"
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=None,
        help="run directory (default: runs/<YYYYmmdd-HHMMSS>-<model>-<dataset>)",
    )
    reuse = parser.add_mutually_exclusive_group()
    reuse.add_argument(
        "--overwrite", action="store_true", help="reuse a non-empty --output directory"
    )
    reuse.add_argument(
        "--resume",
        action="store_true",
        help="back up the run in OUTPUT/backup/ every epoch; run the same command again to "
        "continue an interrupted run from its last finished epoch (needs --output)",
    )
    parser.add_argument("--no-report", action="store_true", help="do not write report.html")
    parser.add_argument("--verbose", type=int, choices=(0, 1, 2), default=1)


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


def choose_run_dir(args) -> Path:
    """The run directory: ``--output``, or a new timestamped folder under ``runs/``.

    Raises:
        ValueError: if ``--output`` is a file, or a non-empty directory and neither
            ``--overwrite`` nor ``--resume`` is given, or holds a finished run to resume.
    """
    if args.output is None:
        if args.resume:
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
        if (folder / runs.METRICS).exists() and not (folder / runs.BACKUP).exists():
            raise ValueError(
                f"Run directory {folder} holds a finished run: there is nothing to resume. "
                "Pass --overwrite to train it again, or choose another --output."
            )
        return folder
    Run.check_new(folder, args.overwrite)
    return folder


def _check_resumed_settings(args, folder: Path) -> None:
    """With --resume, the settings must be the interrupted run's; its seed is reused.

    Raises:
        ValueError: naming the first setting that differs from ``folder/config.json``.
    """
    recorded = Run(folder).config()
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


def _start_run(run_dir: Path, args, x_train, x_test, classes: int, names) -> Run:
    """Create the run directory and write the run's settings, versions and dataset."""
    folder = Run.create(run_dir, overwrite=args.overwrite, resume=args.resume)
    config = {k: v for k, v in vars(args).items() if k not in ("command", "debug")}
    config["output"] = str(run_dir)
    folder.write_json(runs.CONFIG, config)
    folder.write_json(runs.VERSIONS, versions())
    hashes = catalog.dataset_hashes(args.dataset)
    note = "the loader pins no SHA-256 for these files; they are checked by their headers"
    folder.write_json(
        runs.DATASET,
        {
            "name": args.dataset,
            "train_samples": len(x_train),
            "test_samples": len(x_test),
            "input_shape": list(x_train.shape[1:]),
            "classes": classes,
            "class_names": names,
            "sha256": hashes,
            **({} if hashes else {"note": note}),
        },
    )
    return folder


def _join_mpi_job():
    """Under an MPI launcher: join the job and train data-parallel. Returns the communicator
    (a one-process stand-in otherwise)."""
    from cnnkit.distribution import communicator

    if communicator.launched_by_mpi():
        from cnnkit import distribution

        distribution.initialize()
        distribution.set_distribution(distribution.DataParallel())
    return communicator.world()


def run(args) -> int:
    from cnnkit.callbacks import BackupAndRestore
    from cnnkit.optimizers import Adam

    if args.data_dir is not None:
        from cnnkit.cli.data_dir import train_from_directory

        return train_from_directory(args)

    text = args.dataset in catalog.TEXT_DATASETS
    if text != (args.model in catalog.TEXT_MODELS):
        kind, choices = ("text", catalog.TEXT_MODELS) if text else ("image", catalog.IMAGE_MODELS)
        raise ValueError(
            f"--model {args.model} does not fit the {kind} dataset {args.dataset}; choose one "
            f"of {', '.join(choices)}."
        )
    if text and args.augment:
        raise ValueError("--augment applies to images only.")
    world = _join_mpi_job()
    chief = world.rank == 0  # prints the results and writes the run directory
    run_dir = choose_run_dir(args) if chief or args.output is not None else None
    if args.resume:
        _check_resumed_settings(args, run_dir)
    if args.seed is None:  # a random seed, recorded so that the run can be repeated
        args.seed = int(np.random.SeedSequence().entropy % (2**31))
    # Every process shuffles alike. The exchange is also the barrier that keeps process 0 from
    # creating the run directory before every process has checked --output.
    args.seed = world.allgather_object(args.seed)[0]
    cnnkit.utils.set_random_seed(args.seed)
    started = datetime.datetime.now().isoformat(timespec="seconds")
    if text:
        (x_train, y_train), (x_test, y_test) = catalog.load_text_dataset(
            args.dataset, args.num_words, args.maxlen
        )
    else:
        (x_train, y_train), (x_test, y_test) = catalog.load_dataset(args.dataset)
    if args.limit is not None:
        x_train, y_train = x_train[: args.limit], y_train[: args.limit]
    classes = int(max(y_train.max(), y_test.max())) + 1
    if text:
        model = catalog.build_text_model(args.model, args.num_words, args.maxlen, classes)
    else:
        model = catalog.build_model(args.model, x_train.shape[1:], classes, args.augment)
    binary = text and classes == 2
    steps = -(-len(x_train) // args.batch_size)
    rate, extra_callbacks = learning_rate(args, steps)
    model.compile(
        optimizer=Adam(learning_rate=rate),
        loss="binary_crossentropy" if binary else "sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )

    names = catalog.class_names(args.dataset)
    names = list(names) if names and len(names) == classes else None
    folder, failure = None, None
    if chief:
        try:
            folder = _start_run(run_dir, args, x_train, x_test, classes, names)
        except (OSError, ValueError) as error:
            failure = error
    # Process 0 says whether it could write, so that no process waits for it in training.
    if world.allgather_object(failure is not None)[0]:
        if failure is not None:
            raise failure
        raise ValueError("process 0 could not write the run directory; see its message.")

    nan_guard = _StopOnNaN()
    train_callbacks = [*extra_callbacks, nan_guard]
    if args.resume:  # last, so that the backup holds the other callbacks' changes
        backup = BackupAndRestore(
            run_dir / runs.BACKUP, double_checkpoint=True, delete_checkpoint=False
        )
        train_callbacks.append(backup)
    start = time.perf_counter()
    history = model.fit(
        x_train,
        y_train,
        batch_size=args.batch_size,
        epochs=args.epochs,
        validation_data=(x_test, y_test),
        verbose=args.verbose if chief else 0,
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
    probabilities = model.predict(x_test, batch_size=500, verbose=0)
    if not chief:  # the other processes of an MPI job have done their share
        return 0
    print(f"Test accuracy: {accuracy:.4f} (loss {loss:.4f}, {seconds:.1f}s training)")
    results = {"test_loss": loss, "test_accuracy": accuracy, "train_seconds": seconds}
    predicted = predicted_labels(probabilities)
    if binary:
        scores = binary_scores(y_test, predicted)
        print(
            "Test accuracy {accuracy:.4f}, precision {precision:.4f}, recall {recall:.4f}, "
            "F1 {f1:.4f} (positive class: 1)".format(**scores)
        )
        results.update({f"test_{k}": v for k, v in scores.items() if k != "accuracy"})

    folder.write_history(history.history, history.epoch, results)
    model_file = folder.save_model(model)
    metrics = {
        **results,
        "started_at": started,
        "finished_at": datetime.datetime.now().isoformat(timespec="seconds"),
        "params": model.count_params(),
        "num_train": len(x_train),
        "num_test": len(x_test),
        "steps_per_epoch": steps,
        "class_names": names,
        **per_class_results(y_test, predicted, classes, names),
    }
    folder.write_json(runs.METRICS, metrics)
    if not text:  # a few test images for the report: the first 8, and the first 32 mistakes
        wrong = np.flatnonzero(predicted != y_test)[:32]
        index = np.unique(np.concatenate([np.arange(min(8, len(x_test))), wrong]))
        folder.write_samples(
            x=x_test[index],
            y=y_test[index],
            probabilities=np.asarray(probabilities)[index],
            index=index,
        )
    written = f"Wrote {run_dir} ({model_file}"
    if not args.no_report:
        report = _write_report(run_dir, model, rate, steps * args.epochs)
        if report is not None:
            written += ", report.html"
    print(written + ")")
    if args.resume:  # every run file is written: the backup is no longer needed
        shutil.rmtree(run_dir / runs.BACKUP, ignore_errors=True)
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


def _write_report(run_dir: Path, model, rate, total_steps: int):
    """report.html, or ``None`` with a note on stderr when matplotlib is missing."""
    try:
        from cnnkit.viz.report import write_report

        schedule = None if isinstance(rate, (int, float)) else rate
        return write_report(run_dir, model=model, schedule=schedule, total_steps=total_steps)
    except ImportError as error:
        print(f"cnnkit: note: report.html skipped: {error}", file=sys.stderr)
        return None
