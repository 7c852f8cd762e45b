"""Inference throughput: the lecture's CNN predicts the 10,000 Fashion-MNIST test images.

    python benchmarks/predict.py [--batch-size 1000] [--repeats 3]

Both libraries run the same (untrained) model in inference mode over the same images with
every core; prints images per second and the ratio cnnkit / PyTorch (higher is better),
with the BLAS variables as set and unset.
"""

from __future__ import annotations

import time

import numpy as np
from _common import fashion_mnist, main, torch_lecture_cnn


def measure(library: str, args) -> float:
    x, _ = fashion_mnist(split="test")
    if library == "cnnkit":
        import cnnkit as keras

        model = keras.applications.lecture_cnn()
        model.predict(x[: args.batch_size], batch_size=args.batch_size, verbose=0)  # warm-up
        start = time.perf_counter()
        model.predict(x, batch_size=args.batch_size, verbose=0)
        return len(x) / (time.perf_counter() - start)

    import torch

    model = torch_lecture_cnn().eval()
    xt = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
    with torch.no_grad():
        model(xt[: args.batch_size])  # warm-up
        start = time.perf_counter()
        outputs = [model(xt[i : i + args.batch_size]) for i in range(0, len(xt), args.batch_size)]
        np.concatenate([o.numpy() for o in outputs])  # what predict() returns
        return len(x) / (time.perf_counter() - start)


def add_args(parser):
    parser.add_argument("--batch-size", type=int, default=1000)


if __name__ == "__main__":
    raise SystemExit(
        main(
            "Lecture CNN, predict 10,000 Fashion-MNIST images (images/s, higher is better)",
            measure,
            "images/s",
            higher_is_better=True,
            add_args=add_args,
        )
    )
