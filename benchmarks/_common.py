"""What every benchmark shares: child processes per library, BLAS environments, the table.

A benchmark script defines ``measure(library, args) -> float`` and calls :func:`main`.
Each measurement runs in a fresh process (so one library's idle threads never slow the
other, and peak memory is per library); cnnkit and PyTorch alternate. Printed: each
library's best of ``--repeats`` and every run, the ratio of the bests, and the median and
range of the ratios of back-to-back runs (on a shared, noisy machine a slow stretch hits
both runs of a pair more often than two bests). The whole comparison runs twice: with
the environment as it is and with ``OPENBLAS_CORETYPE``/``OPENBLAS_L2_SIZE`` unset (how a
user's machine runs).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys

import numpy as np

BLAS_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def fashion_mnist(limit: int | None = None, split: str = "train"):
    """Fashion-MNIST images as float32 NHWC in [0, 1] and int64 labels."""
    from cnnkit.datasets import fashion_mnist as fm

    train, test = fm.load_data()
    x, y = train if split == "train" else test
    x = x[:limit, :, :, None].astype("float32")
    x /= np.float32(255.0)  # in place: no second float32 copy
    return x, y[:limit].astype("int64")


def torch_lecture_cnn():
    """The lecture's CNN in PyTorch, initialised like Keras (glorot-uniform, zero biases)."""
    import torch
    from torch import nn

    torch.set_num_threads(os.cpu_count() or 1)
    model = nn.Sequential(
        nn.Conv2d(1, 32, 3, stride=2), nn.ReLU(),
        nn.Conv2d(32, 64, 3, stride=2), nn.ReLU(),
        nn.Conv2d(64, 128, 3, stride=2), nn.ReLU(),
        nn.Flatten(), nn.Dropout(0.2),
        nn.Linear(512, 512), nn.ReLU(), nn.Dropout(0.2),
        nn.Linear(512, 10),
    )  # fmt: skip
    keras_init(model)
    return model


def keras_init(model) -> None:
    from torch import nn

    for module in model.modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            nn.init.xavier_uniform_(module.weight)
            nn.init.zeros_(module.bias)


def peak_rss_mib() -> float:
    """This process's peak resident memory (``VmHWM``), in MiB.

    Not ``ru_maxrss``: Linux carries that across ``exec`` from the parent it was forked
    from, so a child process would report at least its parent's size.
    """
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    raise RuntimeError("VmHWM not found in /proc/self/status (Linux only)")


def blas_description() -> str:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "(threadpoolctl not installed)"
    info = [i for i in threadpool_info() if i.get("user_api") == "blas"]
    return ", ".join(f"{i['internal_api']} {i.get('architecture')}" for i in info)


def _onednn_available() -> bool:
    from cnnkit.kernels.onednn import library

    return library.load() is not None


def main(description: str, measure, unit: str, higher_is_better: bool = False, add_args=None):
    """Parse arguments; as a child, print one measurement; as the parent, print the tables.

    Args:
        description: the first line of the table.
        measure: ``measure(library, args) -> float``, run in a child process.
        unit: what the measurement is (``"seconds"``, ``"images/s"``, ``"MiB"``).
        higher_is_better: for throughput, the ratio printed is still cnnkit / PyTorch.
        add_args: optional ``f(parser)`` adding the benchmark's own flags.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--repeats", type=int, default=3, help="best of N alternating runs")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument(
        "--kernels",
        choices=("numpy", "onednn", "auto", "both"),
        default="both",
        help="cnnkit's kernels to time: NumPy, oneDNN for every convolution, or 'auto' (each "
        "shape's fastest, oneDNN where installed: cnnkit[fast]); 'both' is numpy and auto",
    )
    if add_args is not None:
        add_args(parser)
    args = parser.parse_args()
    if args.child:
        from cnnkit import backend

        library, _, kernels = args.child.partition(":")
        if kernels:
            backend.set_kernels(kernels)
        value = measure(library, args)
        env = {k: os.environ.get(k) for k in BLAS_VARS}
        print(json.dumps({"value": value, "blas": blas_description(), "env": env}))
        return 0
    if importlib.util.find_spec("torch") is None:  # not imported here: children start lean
        print("PyTorch is needed as the reference: pip install torch==2.13.0", file=sys.stderr)
        return 1
    best = max if higher_is_better else min
    variants = ["numpy", "auto"] if args.kernels == "both" else [args.kernels]
    if set(variants) & {"onednn", "auto"} and not _onednn_available():
        print("oneDNN is not installed (pip install 'cnnkit[fast]'): timing NumPy kernels only")
        variants = ["numpy"]
    runs_of = [f"cnnkit:{v}" for v in variants] + ["torch"]
    print(description)
    for label, unset in (("BLAS variables as set", False), ("BLAS variables unset", True)):
        env = dict(os.environ)
        if unset:
            for key in BLAS_VARS:
                env.pop(key, None)
        values: dict[str, list[float]] = {lib: [] for lib in runs_of}
        for _ in range(args.repeats):
            for lib in runs_of:
                cmd = [sys.executable, sys.argv[0], "--child", lib, *sys.argv[1:]]
                proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
                if proc.returncode != 0:
                    sys.stderr.write(proc.stderr)
                    return proc.returncode
                record = json.loads(proc.stdout.strip().splitlines()[-1])
                values[lib].append(record["value"])
        theirs = best(values["torch"])
        print(f"\n{label}: {record['env']}  BLAS: {record['blas']}  cores: {os.cpu_count()}")
        for lib in runs_of:
            runs = ", ".join(f"{v:.2f}" for v in values[lib])
            name = lib.replace("cnnkit:", "cnnkit ") if lib != "torch" else "pytorch"
            print(f"  {name:<15}{best(values[lib]):>12.2f} {unit}  (runs: {runs})")
        for lib in runs_of[:-1]:
            ours = best(values[lib])
            paired = sorted(a / b for a, b in zip(values[lib], values["torch"]))
            line = f"  ratio {lib.replace('cnnkit:', 'cnnkit ')} / pytorch: {ours / theirs:.2f}"
            line += " (best of each)"
            if len(paired) > 1:
                line += f"; back-to-back median {np.median(paired):.2f}"
                line += f", range {paired[0]:.2f}-{paired[-1]:.2f}"
            print(line)
    return 0
