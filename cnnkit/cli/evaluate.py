"""``cnnkit evaluate MODEL``: the test loss, accuracy, confusion matrix and per-class report."""

from __future__ import annotations

import numpy as np

from cnnkit.cli import catalog
from cnnkit.cli.common import input_shape, load_model, output_units, positive_int, predicted_labels

HELP = "print the test loss, accuracy and per-class results"


def add_arguments(parser) -> None:
    from pathlib import Path

    parser.add_argument("model", type=Path, help="a .keras file or a run directory")
    parser.add_argument(
        "--dataset", choices=catalog.DATASETS, default=None, help="default: the run's dataset"
    )
    parser.add_argument(
        "--limit", type=positive_int, default=None, help="the first N test samples only"
    )
    parser.add_argument("--batch-size", type=positive_int, default=500)
    parser.add_argument("--num-words", type=positive_int, default=None, help="text datasets")
    parser.add_argument("--maxlen", type=positive_int, default=None, help="text datasets")


def run(args) -> int:
    from cnnkit import metrics

    model, config = load_model(args.model)
    dataset = args.dataset or config.get("dataset")
    if dataset is None:
        raise ValueError(
            f"{args.model} does not say which dataset it was trained on; pass --dataset."
        )
    if dataset in catalog.TEXT_DATASETS:
        num_words = args.num_words or config.get("num_words") or 20000
        maxlen = args.maxlen or config.get("maxlen") or 300
        _, (x_test, y_test) = catalog.load_text_dataset(dataset, num_words, maxlen)
    else:
        _, (x_test, y_test) = catalog.load_dataset(dataset)
    if args.limit is not None:
        x_test, y_test = x_test[: args.limit], y_test[: args.limit]
    expected, units = input_shape(model), output_units(model)
    classes = int(y_test.max()) + 1
    if tuple(expected[1:]) != tuple(x_test.shape[1:]):
        raise ValueError(
            f"Model {model.name!r} takes inputs of shape {tuple(expected[1:])}, but {dataset} "
            f"has {tuple(x_test.shape[1:])}; evaluate it on the dataset it was trained on."
        )
    names = catalog.class_names(dataset)
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
    predicted = predicted_labels(model.predict(x_test, batch_size=args.batch_size, verbose=0))
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
