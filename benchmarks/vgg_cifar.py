"""100 training steps of the lecture's VGG-style CIFAR-10 model: cnnkit vs PyTorch.

    python benchmarks/vgg_cifar.py [--steps 100] [--batch-size 32] [--repeats 3]

The model: [Conv(f, 3, same, relu), BatchNorm, Conv(f), BatchNorm, MaxPool 2] for f in
(32, 64, 128), Flatten, Dropout 0.2, Dense(1024, relu), Dropout 0.2, Dense(10), trained
with Adam on random 32×32×3 images (CIFAR-10 is not needed to time it), after 15 warm-up
steps. Prints seconds and the ratio cnnkit / PyTorch (lower is better).
"""

from __future__ import annotations

import os
import time

import numpy as np
from _common import keras_init, main

WARMUP = 15  # the "auto" kernels race each shape's candidates over its first 12 runs


def data(steps: int, batch_size: int):
    rng = np.random.default_rng(0)
    n = (steps + WARMUP) * batch_size
    x = rng.random((n, 32, 32, 3), dtype=np.float32)
    y = rng.integers(0, 10, n)
    return x, y


def measure(library: str, args) -> float:
    x, y = data(args.steps, args.batch_size)
    n = WARMUP * args.batch_size
    if library == "cnnkit":
        import cnnkit as keras

        keras.utils.set_random_seed(0)
        model = keras.applications.vgg_cifar()
        model.compile(
            optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"]
        )
        model.fit(x[:n], y[:n], batch_size=args.batch_size, verbose=0, shuffle=False)
        start = time.perf_counter()
        model.fit(x[n:], y[n:], batch_size=args.batch_size, verbose=0, shuffle=False)
        return time.perf_counter() - start

    import torch
    from torch import nn

    torch.manual_seed(0)
    torch.set_num_threads(os.cpu_count() or 1)
    layers, cin = [], 3
    for f in (32, 64, 128):
        layers += [
            nn.Conv2d(cin, f, 3, padding=1), nn.ReLU(), nn.BatchNorm2d(f, eps=1e-3, momentum=0.01),
            nn.Conv2d(f, f, 3, padding=1), nn.ReLU(), nn.BatchNorm2d(f, eps=1e-3, momentum=0.01),
            nn.MaxPool2d(2),
        ]  # fmt: skip
        cin = f
    layers += [
        nn.Flatten(), nn.Dropout(0.2), nn.Linear(2048, 1024), nn.ReLU(), nn.Dropout(0.2),
        nn.Linear(1024, 10),
    ]  # fmt: skip
    model = nn.Sequential(*layers)
    keras_init(model)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    xt = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
    yt = torch.from_numpy(y)

    def run(start_index, stop_index):
        model.train()
        for i in range(start_index, stop_index, args.batch_size):
            opt.zero_grad()
            out = model(xt[i : i + args.batch_size])
            nn.functional.cross_entropy(out, yt[i : i + args.batch_size]).backward()
            opt.step()
            int((out.argmax(1) == yt[i : i + args.batch_size]).sum())  # accuracy, as Keras

    run(0, n)
    start = time.perf_counter()
    run(n, len(x))
    return time.perf_counter() - start


def add_args(parser):
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=32)


if __name__ == "__main__":
    raise SystemExit(
        main(
            "VGG-style CIFAR model, --steps training steps (100 unless given) at --batch-size "
            "(seconds, lower is better)",
            measure,
            "s",
            add_args=add_args,
        )
    )
