"""Peak resident memory of a process that trains the lecture's CNN on Fashion-MNIST.

    python benchmarks/memory.py [--limit 60000] [--repeats 1]

Each library trains one epoch (batch 32, Adam) in a fresh process that loads the dataset the
usual way (uint8 from the loader, scaled to float32); the figure is the process's peak RSS
(``ru_maxrss``) in MiB, lower is better, printed with the ratio cnnkit / PyTorch.
"""

from __future__ import annotations

import resource

import numpy as np
from _common import fashion_mnist, main, torch_lecture_cnn


def measure(library: str, args) -> float:
    x, y = fashion_mnist(args.limit)
    if library == "cnnkit":
        import cnnkit as keras

        model = keras.applications.lecture_cnn()
        model.compile(
            optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"]
        )
        model.fit(x, y, batch_size=32, epochs=1, verbose=0)
    else:
        import torch
        from torch import nn

        model = torch_lecture_cnn()
        opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
        xt = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
        yt = torch.from_numpy(y)
        for idx in torch.randperm(len(xt)).split(32):
            opt.zero_grad()
            nn.functional.cross_entropy(model(xt[idx]), yt[idx]).backward()
            opt.step()
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def add_args(parser):
    parser.add_argument("--limit", type=int, default=60000)


if __name__ == "__main__":
    raise SystemExit(
        main(
            "Lecture CNN, peak resident memory while training one epoch (MiB, lower is better)",
            measure,
            "MiB",
            add_args=add_args,
        )
    )
