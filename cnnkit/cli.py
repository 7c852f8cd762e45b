"""The ``cnnkit`` command line.

    cnnkit train [--epochs 15] [--batch-size 32] [--limit N] [--seed S] [--output DIR]
    cnnkit --version

User errors (a bad flag value, a missing dataset, an unwritable folder) print
one line on stderr and exit with status 2; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
import time
from pathlib import Path

import numpy as np

import cnnkit
from cnnkit.io_utils import atomic_write, atomic_write_text

DATASETS = ("fashion-mnist", "mnist")
MODELS = ("lecture-cnn",)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
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

    train = sub.add_parser("train", help="train a model and print its test accuracy")
    train.add_argument("--model", choices=MODELS, default="lecture-cnn")
    train.add_argument("--dataset", choices=DATASETS, default="fashion-mnist")
    train.add_argument("--epochs", type=_positive_int, default=15)
    train.add_argument("--batch-size", type=_positive_int, default=32)
    train.add_argument(
        "--limit", type=_positive_int, default=None, help="train on the first N images only"
    )
    train.add_argument("--seed", type=_non_negative_int, default=None)
    train.add_argument(
        "--output", type=Path, default=None, help="folder for history.json/.csv and weights"
    )
    train.add_argument("--verbose", type=int, choices=(0, 1, 2), default=1)
    train.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)
    return parser


def load_dataset(name: str):
    """``(x_train, y_train), (x_test, y_test)``, images as float32 in [0, 1] with a channel axis."""
    from cnnkit.datasets import fashion_mnist, mnist

    module = {"fashion-mnist": fashion_mnist, "mnist": mnist}[name]
    (x_train, y_train), (x_test, y_test) = module.load_data()
    x_train = (x_train.astype("float32") / np.float32(255.0))[..., None]
    x_test = (x_test.astype("float32") / np.float32(255.0))[..., None]
    return (x_train, y_train), (x_test, y_test)


def cmd_train(args) -> int:
    from cnnkit.applications import lecture_cnn

    if args.output is not None:
        args.output.mkdir(parents=True, exist_ok=True)
    if args.seed is not None:
        cnnkit.utils.set_random_seed(args.seed)
    (x_train, y_train), (x_test, y_test) = load_dataset(args.dataset)
    if args.limit is not None:
        x_train, y_train = x_train[: args.limit], y_train[: args.limit]
    model = lecture_cnn(input_shape=x_train.shape[1:], classes=int(y_train.max()) + 1)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    start = time.perf_counter()
    history = model.fit(
        x_train,
        y_train,
        batch_size=args.batch_size,
        epochs=args.epochs,
        validation_data=(x_test, y_test),
        verbose=args.verbose,
    )
    seconds = time.perf_counter() - start
    loss, accuracy = model.evaluate(x_test, y_test, batch_size=1000, verbose=0)
    print(f"Test accuracy: {accuracy:.4f} (loss {loss:.4f}, {seconds:.1f}s training)")
    if args.output is not None:
        _write_run(args.output, model, history, {"test_loss": loss, "test_accuracy": accuracy})
        print(f"Wrote {args.output}")
    return 0


def _write_run(folder: Path, model, history, results: dict) -> None:
    """history.json, history.csv and weights.npz (no pickle), each written atomically."""
    record = {"history": history.history, "epoch": history.epoch, **results}
    atomic_write_text(folder / "history.json", json.dumps(record, indent=2) + "\n")
    keys = list(history.history)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["epoch", *keys])
    for row, epoch in enumerate(history.epoch):
        writer.writerow([epoch, *(history.history[k][row] for k in keys)])
    atomic_write_text(folder / "history.csv", buffer.getvalue())
    arrays = {f"{i:03d}:{w.path}": w.numpy() for i, w in enumerate(model.weights)}
    with atomic_write(folder / "weights.npz") as f:
        np.savez(f, **arrays)


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return {"train": cmd_train}[args.command](args)
    except KeyboardInterrupt:
        print("cnnkit: interrupted", file=sys.stderr)
        return 130
    except (ValueError, TypeError, FileNotFoundError, PermissionError, OSError) as err:
        if args.debug:
            raise
        lines = [line.strip() for line in str(err).splitlines() if line.strip()]
        message = " ".join(lines) or type(err).__name__
        print(f"cnnkit: error: {message}", file=sys.stderr)
        return 2
