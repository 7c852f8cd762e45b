"""One training epoch of the lecture's Fashion-MNIST CNN: cnnkit vs PyTorch on this machine.

    python benchmarks/train_epoch.py [--limit 60000] [--batch-size 32] [--repeats 3]

Both libraries train the same model (glorot-uniform kernels, zero biases, dropout 0.2,
Adam 1e-3 with epsilon 1e-7, sparse cross-entropy, accuracy tracked) on the same images in
the same batch order, after a warm-up of 20 batches, with every core. Prints seconds per
epoch and the ratio cnnkit / PyTorch (lower is better), with the BLAS variables as set and
unset. See ``_common.py`` for how runs are isolated and repeated.
"""

from __future__ import annotations

import time

import numpy as np
from _common import fashion_mnist, main, torch_lecture_cnn

WARMUP = 20


def measure(library: str, args) -> float:
    x, y = fashion_mnist(args.limit)
    order = np.random.default_rng(0).permutation(len(x))
    n = WARMUP * args.batch_size
    if library == "cnnkit":
        import cnnkit as keras

        keras.utils.set_random_seed(0)
        model = keras.applications.lecture_cnn()
        model.compile(
            optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"]
        )
        model.fit(x[:n], y[:n], batch_size=args.batch_size, verbose=0, shuffle=False)
        xs, ys = x[order], y[order]
        start = time.perf_counter()
        model.fit(xs, ys, batch_size=args.batch_size, epochs=1, verbose=0, shuffle=False)
        return time.perf_counter() - start

    import torch
    from torch import nn

    torch.manual_seed(0)
    model = torch_lecture_cnn()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    xt = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
    yt = torch.from_numpy(y)

    def run(indices):
        model.train()
        correct = 0
        for start in range(0, len(indices), args.batch_size):
            idx = torch.from_numpy(indices[start : start + args.batch_size])
            opt.zero_grad()
            out = model(xt[idx])
            loss = nn.functional.cross_entropy(out, yt[idx])
            loss.backward()
            opt.step()
            correct += int((out.argmax(1) == yt[idx]).sum())  # accuracy, as Keras tracks it
        return correct

    run(np.arange(n))
    start = time.perf_counter()
    run(order)
    return time.perf_counter() - start


def add_args(parser):
    parser.add_argument("--limit", type=int, default=60000, help="training images per epoch")
    parser.add_argument("--batch-size", type=int, default=32)


if __name__ == "__main__":
    raise SystemExit(
        main(
            "Lecture CNN, one training epoch on Fashion-MNIST (seconds, lower is better)",
            measure,
            "s",
            add_args=add_args,
        )
    )
