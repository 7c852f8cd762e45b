"""One training epoch of the lecture's Fashion-MNIST CNN: cnnkit vs PyTorch, same machine, same run.

    python benchmarks/train_epoch.py [--limit 60000] [--batch-size 32] [--repeats 3]

Both libraries train the same model (glorot-uniform kernels, zero biases,
dropout 0.2, Adam 1e-3 with epsilon 1e-7, batch 32) on the same data in the
same batch order, after a warm-up of a few batches, with the same number of
threads. Each library runs in its own process (so neither one's idle threads
slow the other), the two alternate, and each keeps its best of ``--repeats``.
This is done twice: with the environment as it is, and with
``OPENBLAS_CORETYPE``/``OPENBLAS_L2_SIZE`` unset (how a user's machine runs),
and prints one table per run with both times and the ratio cnnkit / PyTorch.
PyTorch is required (``pip install torch==2.13.0``); without it the script
exits with status 1.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

BLAS_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def load(limit: int):
    from cnnkit.datasets import fashion_mnist

    (x, y), _ = fashion_mnist.load_data()
    x = (x[:limit].astype("float32") / np.float32(255.0))[..., None]
    return x, y[:limit].astype("int64")


def cnnkit_epoch(x, y, batch_size, warmup):
    """Build and warm up the cnnkit model; return a function that trains one epoch."""
    import cnnkit as keras

    keras.utils.set_random_seed(0)
    model = keras.applications.lecture_cnn()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    n = warmup * batch_size
    model.fit(x[:n], y[:n], batch_size=batch_size, epochs=1, verbose=0, shuffle=False)

    def run(order):
        model.fit(x[order], y[order], batch_size=batch_size, epochs=1, verbose=0, shuffle=False)

    return run


def torch_epoch(x, y, batch_size, warmup):
    """The same model and recipe in PyTorch; returns a function that trains one epoch."""
    import torch
    from torch import nn

    torch.manual_seed(0)
    torch.set_num_threads(os.cpu_count() or 1)
    model = nn.Sequential(
        nn.Conv2d(1, 32, 3, stride=2), nn.ReLU(),
        nn.Conv2d(32, 64, 3, stride=2), nn.ReLU(),
        nn.Conv2d(64, 128, 3, stride=2), nn.ReLU(),
        nn.Flatten(), nn.Dropout(0.2),
        nn.Linear(512, 512), nn.ReLU(), nn.Dropout(0.2),
        nn.Linear(512, 10),
    )  # fmt: skip
    for module in model.modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            nn.init.xavier_uniform_(module.weight)
            nn.init.zeros_(module.bias)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    xt = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
    yt = torch.from_numpy(y)

    def run(indices):
        model.train()
        correct = 0
        for start in range(0, len(indices), batch_size):
            idx = torch.from_numpy(indices[start : start + batch_size])
            opt.zero_grad()
            out = model(xt[idx])
            loss = nn.functional.cross_entropy(out, yt[idx])
            loss.backward()
            opt.step()
            correct += int((out.argmax(1) == yt[idx]).sum())  # accuracy, as Keras tracks it
        return correct

    run(np.arange(warmup * batch_size))
    return run


def child(args) -> dict:
    x, y = load(args.limit)
    order = np.random.default_rng(0).permutation(len(x))
    result = {"threads": os.cpu_count(), "blas_env": {k: os.environ.get(k) for k in BLAS_VARS}}
    try:
        from threadpoolctl import threadpool_info

        info = [i for i in threadpool_info() if i.get("user_api") == "blas"]
        result["blas"] = [f"{i['internal_api']} {i.get('architecture')}" for i in info]
    except ImportError:
        result["blas"] = ["(threadpoolctl not installed)"]
    build = cnnkit_epoch if args.child == "cnnkit" else torch_epoch
    run = build(x, y, args.batch_size, args.warmup)
    start = time.perf_counter()
    run(order)
    result["seconds"] = time.perf_counter() - start
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=60000, help="training images per epoch")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--warmup", type=int, default=20, help="warm-up batches")
    parser.add_argument("--repeats", type=int, default=3, help="best of N alternating runs")
    parser.add_argument("--child", choices=("cnnkit", "torch"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args)))
        return 0
    try:
        import torch  # noqa: F401
    except ImportError:
        print("PyTorch is needed as the reference: pip install torch==2.13.0", file=sys.stderr)
        return 1

    print(f"Lecture CNN, one epoch of {args.limit} Fashion-MNIST images, batch {args.batch_size}")
    for label, unset in (("BLAS variables as set", False), ("BLAS variables unset", True)):
        env = dict(os.environ)
        if unset:
            for key in BLAS_VARS:
                env.pop(key, None)
        best: dict[str, float] = {}
        for _ in range(args.repeats):  # alternate, so both libraries see the same load
            for lib in ("cnnkit", "torch"):
                cmd = [sys.executable, __file__, "--child", lib, *sys.argv[1:]]
                proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
                r = json.loads(proc.stdout.strip().splitlines()[-1])
                best[lib] = min(best.get(lib, float("inf")), r["seconds"])
        print(f"\n{label}: {r['blas_env']}  BLAS: {', '.join(r['blas'])}  threads: {r['threads']}")
        print(f"{'library':<10}{'seconds':>10}")
        print(f"{'cnnkit':<10}{best['cnnkit']:>10.2f}")
        print(f"{'pytorch':<10}{best['torch']:>10.2f}")
        print(f"{'ratio cnnkit / pytorch':<22}{best['cnnkit'] / best['torch']:>6.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
