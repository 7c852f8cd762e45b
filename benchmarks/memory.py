"""Peak resident memory of a process that trains the lecture's CNN on Fashion-MNIST.

    python benchmarks/memory.py [--limit 60000] [--repeats 1]

Each library trains one epoch (batch 32, Adam) in a fresh process. Both keep the images as
the loader returns them (uint8) and scale each batch to float32 in [0, 1] as it is used,
the way a memory-conscious user of either library would: cnnkit through a generator given
to ``fit``, PyTorch in its loop. The figure is the process's peak RSS (``VmHWM``) in
MiB, lower is better, printed with the ratio cnnkit / PyTorch.
"""

from __future__ import annotations

import numpy as np
from _common import main, peak_rss_mib, torch_lecture_cnn

BATCH = 32


def measure(library: str, args) -> float:
    from cnnkit.datasets import fashion_mnist

    (x, y), _ = fashion_mnist.load_data()
    x, y = x[: args.limit], y[: args.limit].astype("int64")
    order = np.random.default_rng(0).permutation(len(x))
    scale = np.float32(1 / 255)

    def batches():
        for start in range(0, len(order), BATCH):
            idx = order[start : start + BATCH]
            yield (x[idx, :, :, None] * scale), y[idx]

    if library == "cnnkit":
        import cnnkit as keras

        model = keras.applications.lecture_cnn()
        model.compile(
            optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"]
        )
        model.fit(batches(), epochs=1, verbose=0)
    else:
        import torch
        from torch import nn

        model = torch_lecture_cnn()
        opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
        for xb, yb in batches():
            opt.zero_grad()
            xt = torch.from_numpy(np.ascontiguousarray(xb.transpose(0, 3, 1, 2)))
            nn.functional.cross_entropy(model(xt), torch.from_numpy(yb)).backward()
            opt.step()
    return peak_rss_mib()


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
