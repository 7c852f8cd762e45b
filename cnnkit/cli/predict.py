"""``cnnkit predict MODEL IMAGE...``: the most likely classes of image files."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cnnkit.cli import catalog
from cnnkit.cli.common import input_shape, load_model, positive_int

HELP = "classify image files and print the most likely classes"


def add_arguments(parser) -> None:
    parser.add_argument("model", type=Path, help="a .keras file or a run directory")
    parser.add_argument("images", type=Path, nargs="+", metavar="IMAGE")
    parser.add_argument("--top", type=positive_int, default=3, help="classes shown per image")
    parser.add_argument(
        "--dataset",
        choices=catalog.DATASETS,
        default=None,
        help="class names (default: the run's)",
    )


def run(args) -> int:
    from cnnkit.preprocessing.image_files import image_array

    model, config = load_model(args.model)
    shape = input_shape(model)
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
    names = catalog.class_names(args.dataset or config.get("dataset"))
    if names is None or len(names) != outputs.shape[1]:
        names = [str(i) for i in range(outputs.shape[1])]
    top = min(args.top, outputs.shape[1])
    for path, probabilities in zip(args.images, outputs):
        best = np.argsort(-probabilities, kind="stable")[:top]
        ranked = ", ".join(f"{names[i]} ({probabilities[i]:.3f})" for i in best)
        print(f"{path}: {ranked}")
    return 0
