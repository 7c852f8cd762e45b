"""Where a training step's time goes: milliseconds per step for each op, cnnkit only.

    python benchmarks/profile_step.py [--model lecture|vgg] [--kernels numpy|onednn|auto]
                                      [--steps 200]

Trains the lecture CNN on Fashion-MNIST (or the VGG-style model on random 32×32×3 images)
at batch 32 after a warm-up, with a timer around the forward and the backward of every
differentiable op (:class:`cnnkit.autodiff.Function`) and around the optimizer's update.
Prints the step time, each op's share and what is left: the Python of the training loop,
the layers and the graph. The timers cost a few microseconds per op, so the step is a
little slower here than in ``train_epoch.py``. With ``auto``, the races of the
convolution shapes (``cnnkit.backend.tuning_report()``) are printed too.
"""

from __future__ import annotations

import argparse
import collections
import time

import numpy as np
from _common import fashion_mnist

_TIMES: collections.Counter = collections.Counter()


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def _timed(cls, method: str, label: str):
    inner = getattr(cls, method)

    def wrapper(self, *args, **kwargs):
        start = time.perf_counter()
        try:
            return inner(self, *args, **kwargs)
        finally:
            _TIMES[(label, method)] += time.perf_counter() - start

    setattr(cls, method, wrapper)


def _install_timers(optimizer) -> None:
    from cnnkit import autodiff

    for cls in set(_subclasses(autodiff.Function)):
        for method in ("forward", "backward"):
            if method in cls.__dict__:  # each class once, where it defines the method
                _timed(cls, method, cls.__name__)
    _timed(type(optimizer), "apply", f"{type(optimizer).__name__} update")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=("lecture", "vgg"), default="lecture")
    parser.add_argument("--kernels", choices=("numpy", "onednn", "auto"), default="numpy")
    parser.add_argument("--steps", type=int, default=200)
    args = parser.parse_args()

    import cnnkit as keras
    from cnnkit import backend

    backend.set_kernels(args.kernels)
    warmup = 20
    n = (args.steps + warmup) * 32
    if args.model == "lecture":
        x, y = fashion_mnist(n)
        model = keras.applications.lecture_cnn()
    else:
        rng = np.random.default_rng(0)
        x = rng.random((n, 32, 32, 3), dtype=np.float32)
        y = rng.integers(0, 10, n)
        model = keras.applications.vgg_cifar()
    keras.utils.set_random_seed(0)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x[: warmup * 32], y[: warmup * 32], batch_size=32, verbose=0, shuffle=False)
    _install_timers(model.optimizer)
    start = time.perf_counter()
    model.fit(x[warmup * 32 :], y[warmup * 32 :], batch_size=32, verbose=0, shuffle=False)
    step = 1e3 * (time.perf_counter() - start) / args.steps

    print(f"{args.model} model, {args.kernels} kernels: {step:.2f} ms per step (batch 32)")
    accounted = 0.0
    for (label, method), seconds in _TIMES.most_common():
        ms = 1e3 * seconds / args.steps
        accounted += ms
        if ms >= 0.005:
            print(f"  {label:<30} {method:<9} {ms:8.3f} ms  {100 * ms / step:5.1f} %")
    rest = step - accounted
    label = "the rest (Python: loop, layers, graph)"
    print(f"  {label:<40} {rest:8.3f} ms  {100 * rest / step:5.1f} %")
    for (op, key), race in backend.tuning_report().items():
        print(f"  race {op} {key[0]} x {key[1]}: {race['choice']} {race['ms']}")


if __name__ == "__main__":
    main()
