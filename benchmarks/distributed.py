"""Data-parallel training over MPI on this machine, and what it predicts for many machines.

    python benchmarks/distributed.py [--steps 60] [--repeats 3]

Times training steps of the lecture CNN (Fashion-MNIST shapes) and of the VGG-style CIFAR
model, global batch 32, two ways on the same cores: one process using every core (cnnkit's
threads and BLAS's), and ``mpirun -n 2`` with one core per process
(:mod:`cnnkit.distribution`). Prints images/s, the ratio, and the share of the step the
processes spend in their collectives (the all-reduce of the gradients and the gathering of
outputs for the metrics), alternating the two runs and reporting medians.

Then a cost model for N machines: ring all-reduce moves ``2 (N - 1) / N × gradient bytes``
through each link and takes ``2 (N - 1)`` latency-bound steps, so a step of
``T_compute`` seconds (the measured one-process time per sample × 32 samples per process)
becomes ``T_compute + 2 (N - 1) / N × bytes / bandwidth + 2 (N - 1) × latency`` without
overlap; the scaling efficiency is ``T_compute`` over that.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

import numpy as np

WARMUP = 5
RESNET50_PARAMS = 25_557_032  # Keras's ResNet50(weights=None): 102 MB of float32 gradients
RESNET50_GFLOP_PER_IMAGE = 3 * 4.1  # forward 4.1 GFLOP at 224x224; backward about twice that
CPU_GFLOPS = 150.0  # measured here: OpenBLAS on both cores, convolution-sized products
LATENCY_S = 20e-6  # one message between machines over TCP


def worker(model_name: str, steps: int, out: str) -> None:
    import cnnkit as keras

    keras.distribution.initialize()
    keras.distribution.set_distribution(keras.distribution.DataParallel())
    keras.utils.set_random_seed(0)
    if model_name == "lecture":
        model, shape = keras.applications.lecture_cnn(), (28, 28, 1)
    else:
        model, shape = keras.applications.vgg_cifar(), (32, 32, 3)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    rng = np.random.default_rng(0)
    n = (steps + WARMUP) * 32
    x = rng.random((n, *shape), dtype=np.float32)
    y = rng.integers(0, 10, n)
    warm = WARMUP * 32
    model.fit(x[:warm], y[:warm], batch_size=32, verbose=0, shuffle=False)
    dist = keras.distribution.distribution()
    dist.communication_seconds = 0.0
    start = time.perf_counter()
    model.fit(x[warm:], y[warm:], batch_size=32, verbose=0, shuffle=False)
    seconds = time.perf_counter() - start
    if keras.distribution.is_chief():
        with open(out, "w") as f:
            json.dump(
                {
                    "seconds": seconds,
                    "communication": dist.communication_seconds,
                    "images": steps * 32,
                    "parameters": int(sum(np.size(w) for w in model.get_weights())),
                    "threads": keras.backend.cpu_threads(),
                },
                f,
            )


def run(model_name: str, steps: int, processes: int) -> dict:
    out = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"cnnkit-dist-{os.getpid()}.json")
    command = [sys.executable, __file__, "--worker", model_name, "--steps", str(steps)]
    command += ["--out", out]
    env = dict(os.environ)
    if processes > 1:
        command = ["mpirun", "--oversubscribe", "-n", str(processes), *command]
        env.setdefault("OMPI_ALLOW_RUN_AS_ROOT", "1")
        env.setdefault("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
    subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL)
    with open(out) as f:
        result = json.load(f)
    os.remove(out)
    return result


def efficiency(compute_s: float, gradient_bytes: float, n: int, gbit_per_s: float) -> float:
    comm = 2 * (n - 1) / n * gradient_bytes / (gbit_per_s * 1e9 / 8) + 2 * (n - 1) * LATENCY_S
    return compute_s / (compute_s + comm)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.steps, args.out)
        return
    if shutil.which("mpirun") is None:
        sys.exit("needs mpirun: pip install 'cnnkit[mpi]'")
    print(f"global batch 32, {args.steps} steps after {WARMUP} warm-up, medians of {args.repeats}")
    print(f"{'model':8} {'1 process':>14} {'2 processes':>14} {'ratio':>6} {'in collectives':>15}")
    per_sample, params = {}, {}
    for name in ("lecture", "vgg"):
        one, two = [], []
        for _ in range(args.repeats):  # alternate, so both see the same machine
            one.append(run(name, args.steps, 1))
            two.append(run(name, args.steps, 2))
        rate1 = statistics.median(r["images"] / r["seconds"] for r in one)
        rate2 = statistics.median(r["images"] / r["seconds"] for r in two)
        share = statistics.median(r["communication"] / r["seconds"] for r in two)
        print(f"{name:8} {rate1:10.0f} im/s {rate2:10.0f} im/s {rate2 / rate1:6.2f} {share:14.1%}")
        per_sample[name] = statistics.median(r["seconds"] / r["images"] for r in one)
        params[name] = one[0]["parameters"]
    per_sample["resnet50"] = RESNET50_GFLOP_PER_IMAGE / CPU_GFLOPS
    params["resnet50"] = RESNET50_PARAMS

    print("\nPredicted scaling efficiency, 32 samples per process, ring all-reduce, no overlap")
    print(f"(latency {LATENCY_S * 1e6:.0f} us per message; compute per step measured here)")
    header = f"{'model':9} {'params':>11} {'step':>8}"
    for gbit in (10, 100):
        for n in (8, 64, 512):
            header += f" {f'{n}@{gbit}G':>9}"
    print(header)
    for name in ("lecture", "vgg", "resnet50"):
        compute = per_sample[name] * 32
        row = f"{name:9} {params[name]:11,d} {compute * 1e3:6.0f}ms"
        for gbit in (10, 100):
            for n in (8, 64, 512):
                row += f" {efficiency(compute, 4 * params[name], n, gbit):9.0%}"
        print(row)


if __name__ == "__main__":
    main()
