"""The ``cnnkit`` command line.

    cnnkit train [--model lecture-cnn] [--dataset fashion-mnist] [--epochs 15]
                 [--batch-size 32] [--learning-rate 0.001] [--lr-schedule constant]
                 [--augment] [--limit N] [--seed S] [--output DIR]
    cnnkit train --dataset spam --model text-cnn|lstm [--num-words 20000] [--maxlen 300]
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

IMAGE_DATASETS = ("fashion-mnist", "mnist", "cifar10")
TEXT_DATASETS = ("spam",)
DATASETS = IMAGE_DATASETS + TEXT_DATASETS
IMAGE_MODELS = ("lecture-cnn", "vgg-cifar", "lenet5", "alexnet", "vgg16", "googlenet", "resnet")
TEXT_MODELS = ("text-cnn", "lstm")
MODELS = IMAGE_MODELS + TEXT_MODELS
SCHEDULES = ("constant", "exponential", "step", "cosine", "plateau")


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

    train = sub.add_parser("train", help="train a model and print its test accuracy")
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
    train.add_argument("--seed", type=_non_negative_int, default=None)
    train.add_argument(
        "--output", type=Path, default=None, help="folder for history.json/.csv and weights"
    )
    train.add_argument("--verbose", type=int, choices=(0, 1, 2), default=1)
    train.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)
    return parser


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


def build_text_model(name: str, vocab_size: int, maxlen: int, classes: int):
    """One of ``TEXT_MODELS`` over sequences of ``maxlen`` word indices below ``vocab_size``."""
    from cnnkit import applications

    if name == "text-cnn":
        return applications.text_cnn(vocab_size, sequence_length=maxlen, classes=classes)
    return applications.lstm_classifier(vocab_size, sequence_length=maxlen, classes=classes)


def binary_scores(y_true, y_pred) -> dict:
    """Accuracy, precision, recall and F1 of the positive class (1) from 0/1 arrays."""
    y_true, y_pred = np.asarray(y_true).reshape(-1), np.asarray(y_pred).reshape(-1)
    tp = int(np.sum((y_pred == 1) & (y_true == 1)))
    fp = int(np.sum((y_pred == 1) & (y_true == 0)))
    fn = int(np.sum((y_pred == 0) & (y_true == 1)))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "accuracy": float(np.mean(y_true == y_pred)),
        "precision": precision,
        "recall": recall,
        "f1": f1,
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


def cmd_train(args) -> int:
    from cnnkit.optimizers import Adam

    if args.output is not None:
        args.output.mkdir(parents=True, exist_ok=True)
    text = args.dataset in TEXT_DATASETS
    if text != (args.model in TEXT_MODELS):
        kind, choices = ("text", TEXT_MODELS) if text else ("image", IMAGE_MODELS)
        raise ValueError(
            f"--model {args.model} does not fit the {kind} dataset {args.dataset}; choose one "
            f"of {', '.join(choices)}."
        )
    if text and args.augment:
        raise ValueError("--augment applies to images only.")
    if args.seed is not None:
        cnnkit.utils.set_random_seed(args.seed)
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
    start = time.perf_counter()
    history = model.fit(
        x_train,
        y_train,
        batch_size=args.batch_size,
        epochs=args.epochs,
        validation_data=(x_test, y_test),
        verbose=args.verbose,
        callbacks=extra_callbacks,
    )
    seconds = time.perf_counter() - start
    loss, accuracy = model.evaluate(x_test, y_test, batch_size=500, verbose=0)
    print(f"Test accuracy: {accuracy:.4f} (loss {loss:.4f}, {seconds:.1f}s training)")
    results = {"test_loss": loss, "test_accuracy": accuracy, "train_seconds": seconds}
    if binary:
        scores = binary_scores(y_test, model.predict(x_test, verbose=0)[:, 0] > 0.5)
        print(
            "Test accuracy {accuracy:.4f}, precision {precision:.4f}, recall {recall:.4f}, "
            "F1 {f1:.4f} (positive class: 1)".format(**scores)
        )
        results.update({f"test_{k}": v for k, v in scores.items() if k != "accuracy"})
    if args.output is not None:
        _write_run(args.output, model, history, results)
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
