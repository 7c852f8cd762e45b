"""Memory and start-up: bounded convolution workspace, no growth across epochs, a freed graph.

* A large convolution's peak allocation is the arrays it must hold plus one im2col chunk
  per CPU thread (together about ``backend.conv_workspace_bytes()``), measured with
  ``tracemalloc`` (NumPy reports its buffers to it).
* Training for several epochs keeps the process's resident memory and cnnkit's traced memory
  flat (no leaked graph, no history growing per step).
* After backward no ``Function`` of the step is alive, so its saved activations are freed.
* ``import cnnkit`` adds little to ``import numpy``.
"""

from __future__ import annotations

import contextlib
import gc
import os
import subprocess
import sys
import tracemalloc
import weakref
from pathlib import Path

import numpy as np
import pytest

from cnnkit import applications, backend, callbacks
from cnnkit.autodiff import Function, Variable
from cnnkit.kernels import conv

MiB = 1 << 20


def _one_blas_thread():
    """Limit BLAS to one thread for a block (memory is the same, timing is steadier).

    On a loaded 2-core machine two BLAS threads waiting on each other made the lecture CNN's
    small matrix products 4x slower (12 s instead of 3 s for the five epochs below).
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # a dev dependency; without it the test is only slower under load
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


@contextlib.contextmanager
def _tracing():
    """Trace allocations for the block; leave tracing on if someone else had started it."""
    started = not tracemalloc.is_tracing()
    if started:
        tracemalloc.start()
    try:
        yield
    finally:
        if started:
            tracemalloc.stop()


# --------------------------------------------------------------------------- convolution peak

# conv2d forward + backward: x (N, H, W, C) -> (N, H, W, F), 3x3 kernel, "same", stride 1,
# float32, bias and the fused ReLU (what Conv2D(..., activation="relu") runs).
N, H, W, C, F, K = 128, 32, 32, 32, 64, 3
F32 = 4
SMALL_BUDGET, LARGE_BUDGET = 2 * MiB, 64 * MiB
# Python objects (Tensors, Functions), the bias gradient's ones vector (N*H*W floats,
# 0.5 MiB, allocated after the big temporaries are gone) and kernel-sized temporaries.
SLACK = 1 * MiB


def _chunk_bytes(budget: int, per_sample: int) -> int:
    """The column matrices alive at once: one chunk per CPU thread, each of whole samples
    under the thread's share of the budget, at least one sample."""
    threads = backend.cpu_threads()
    return threads * max(1, budget // threads // per_sample) * per_sample


def _conv_bound(budget: int) -> dict[str, int]:
    """Every array alive at the peak (inside the input gradient's correlation), in bytes."""
    padded = N * (H + 2) * (W + 2)  # "same" with a 3x3 kernel pads one pixel on each side
    activation_out = N * H * W * F * F32  # 32 MiB
    cols_forward = H * W * K * K * C * F32  # one sample's im2col rows: 1.125 MiB
    cols_input_grad = H * W * K * K * F * F32  # the input gradient correlates F channels
    return {
        "x": N * H * W * C * F32,  # 16 MiB
        "padded x (saved for backward)": padded * C * F32,  # 18.06 MiB
        "output": activation_out,
        "output gradient (passed in)": activation_out,
        "gradient * (output > 0), fused ReLU": activation_out,
        "padded output gradient": padded * F * F32,  # 36.13 MiB: stride 1 dx is a correlation
        "input gradient": N * H * W * C * F32,
        "kernel, bias and their gradients": 2 * (K * K * C * F + F) * F32,
        # one chunk per thread at a time (forward and the kernel gradient use C, dx F columns)
        "im2col workspace": max(
            _chunk_bytes(budget, cols_forward), _chunk_bytes(budget, cols_input_grad)
        ),
        "slack": SLACK,
    }


def _conv_forward_backward(budget: int) -> dict:
    """Peak traced bytes of conv2d forward + backward above what was allocated before."""
    old = backend.conv_workspace_bytes()
    backend.set_conv_workspace_bytes(budget)
    try:
        with _tracing():
            base = tracemalloc.get_traced_memory()[0]
            rng = np.random.default_rng(0)
            x = Variable(rng.standard_normal((N, H, W, C), dtype=np.float32))
            kernel = Variable(rng.standard_normal((K, K, C, F), dtype=np.float32) * 0.05)
            bias = Variable(rng.standard_normal(F, dtype=np.float32) * 0.1)
            grad = rng.standard_normal((N, H, W, F), dtype=np.float32)
            tracemalloc.reset_peak()
            out = conv.conv2d(x, kernel, bias, padding="same", relu=True)
            out.backward(grad)
            peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        backend.set_conv_workspace_bytes(old)
    return {"peak": peak, "out": out.data, "dx": x.grad, "dk": kernel.grad, "db": bias.grad}


@pytest.fixture(scope="module")
def conv_runs() -> dict[int, dict]:
    """The same convolution at a small and a large workspace budget (about 5 s together)."""
    return {budget: _conv_forward_backward(budget) for budget in (SMALL_BUDGET, LARGE_BUDGET)}


@pytest.mark.parametrize("budget", [SMALL_BUDGET, LARGE_BUDGET], ids=["2MiB", "64MiB"])
def test_conv_peak_is_arrays_plus_one_chunk_per_thread(conv_runs, budget):
    parts = _conv_bound(budget)
    bound, peak = sum(parts.values()), conv_runs[budget]["peak"]
    print(f"budget {budget / MiB:.0f} MiB: peak {peak / MiB:.2f} MiB, bound {bound / MiB:.2f} MiB")
    for name, size in parts.items():
        print(f"  {name:<40}{size / MiB:8.2f} MiB")
    assert peak <= bound, f"peak {peak / MiB:.2f} MiB > bound {bound / MiB:.2f} MiB"


def test_conv_peak_grows_by_at_most_the_larger_budget(conv_runs):
    growth = conv_runs[LARGE_BUDGET]["peak"] - conv_runs[SMALL_BUDGET]["peak"]
    print(f"peak growth from a 2 MiB to a 64 MiB workspace: {growth / MiB:.2f} MiB")
    assert growth <= LARGE_BUDGET, f"peak grew by {growth / MiB:.2f} MiB"


def test_conv_results_do_not_depend_on_the_workspace_budget(conv_runs):
    # Same op, chunks of 1 sample versus 56 (forward) and 28 (input gradient) samples.
    # tests/kernels/test_conv.py::test_chunked_workspace_gives_identical_results compares
    # chunked with unchunked on small shapes for every padding; this is the large case.
    small, large = conv_runs[SMALL_BUDGET], conv_runs[LARGE_BUDGET]
    np.testing.assert_allclose(small["out"], large["out"], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(small["dx"], large["dx"], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(small["db"], large["db"], rtol=1e-5, atol=1e-3)
    # the kernel gradient sums N*H*W products chunk by chunk: float32 summation order
    scale = float(np.abs(large["dk"]).max())
    np.testing.assert_allclose(small["dk"], large["dk"], rtol=1e-4, atol=1e-5 * scale)


# --------------------------------------------------------------------------- epochs

EPOCHS = 5


def _rss_bytes() -> int:
    """Resident set size of this process: /proc/self/statm's second field, in pages."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class _EpochMemory(callbacks.Callback):
    """Records RSS (Linux) and traced memory at every epoch end."""

    def __init__(self):
        super().__init__()
        self.rss: list[int] = []
        self.traced: list[int] = []

    def on_epoch_end(self, epoch, logs=None):
        gc.collect()  # count only what is reachable
        if sys.platform.startswith("linux"):
            self.rss.append(_rss_bytes())
        self.traced.append(tracemalloc.get_traced_memory()[0])


@pytest.fixture(scope="module")
def epoch_memory() -> _EpochMemory:
    """The lecture CNN, 2,000 random images, batch 32, Adam, 5 epochs (about 3 s)."""
    backend.set_seed(0)
    rng = np.random.default_rng(0)
    x = rng.random((2000, 28, 28, 1), dtype=np.float32)
    y = rng.integers(0, 10, 2000)
    model = applications.lecture_cnn()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    recorder = _EpochMemory()
    with _one_blas_thread(), _tracing():
        model.fit(x, y, batch_size=32, epochs=EPOCHS, verbose=0, callbacks=[recorder])
    return recorder


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/statm")
def test_resident_memory_does_not_grow_across_epochs(epoch_memory):
    rss = epoch_memory.rss
    print("RSS per epoch (MiB):", ", ".join(f"{r / MiB:.2f}" for r in rss))
    # epoch 1 still warms up (allocator pools, lazily built metrics); compare 2 with 5
    assert rss[EPOCHS - 1] <= 1.05 * rss[1]


def test_traced_memory_does_not_grow_across_epochs(epoch_memory):
    traced = epoch_memory.traced
    print("traced per epoch (KiB):", ", ".join(f"{t / 1024:.1f}" for t in traced))
    # History adds a few floats per epoch (measured: 1.6 KiB); one leaked step of the
    # lecture CNN holds about 1 MiB of activations, and 63 steps run per epoch.
    assert traced[EPOCHS - 1] - traced[1] <= max(256 * 1024, 0.05 * traced[1])


# --------------------------------------------------------------------------- autodiff graph


def _live_functions(excluded: weakref.WeakSet) -> list[Function]:
    return [o for o in gc.get_objects() if issubclass(type(o), Function) and o not in excluded]


def test_training_step_leaves_no_function_alive():
    backend.set_seed(0)
    rng = np.random.default_rng(0)
    x = rng.random((32, 28, 28, 1), dtype=np.float32)
    y = rng.integers(0, 10, 32)
    model = applications.lecture_cnn()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.train_on_batch(x, y)  # builds the model, optimizer slots and metrics
    gc.collect()
    # Functions kept alive elsewhere in the test session are not this step's.
    earlier = weakref.WeakSet(o for o in gc.get_objects() if issubclass(type(o), Function))
    gc.disable()
    try:
        model.train_on_batch(x, y)
        # backward drops each node's context as it goes: no cycle is left for gc to find
        by_refcount = _live_functions(earlier)
    finally:
        gc.enable()
    assert not by_refcount, (
        f"alive until gc runs: {sorted({type(f).__name__ for f in by_refcount})}"
    )
    gc.collect()
    assert not _live_functions(earlier)


@pytest.mark.parametrize("kernels", ["numpy", "auto"])
def test_backward_frees_each_function_and_what_it_saved(kernels):
    from cnnkit.kernels import dispatch

    rng = np.random.default_rng(0)
    x = Variable(rng.standard_normal((4, 8, 8, 3), dtype=np.float32))
    kernel = Variable(rng.standard_normal((3, 3, 3, 5), dtype=np.float32))
    dispatch.set_kernels(kernels)  # NumPy saves the padded input; oneDNN (auto) the input
    try:
        out = conv.conv2d(x, kernel, padding="same")
    finally:
        dispatch.set_kernels(dispatch.DEFAULT)
    ctx = weakref.ref(out._ctx)
    inputs = [p.data for p in out._ctx.parents]  # x and the kernel: owned by the Variables
    saved = [
        weakref.ref(a)
        for a in out._ctx.saved
        if isinstance(a, np.ndarray) and not any(a is d for d in inputs)
    ]
    if out._ctx.fast is None:  # the NumPy kernel
        assert saved, "Conv2D should save its padded input for backward"
    loss = (out * out).sum()
    loss.backward()
    assert out._ctx is None and loss._ctx is None
    assert ctx() is None
    assert all(ref() is None for ref in saved)
    assert x.grad is not None and kernel.grad is not None


# --------------------------------------------------------------------------- import time

REPO = Path(__file__).resolve().parents[1]
IMPORT_REPEATS = 3


def _import_seconds(statement: str, env: dict) -> float:
    """Median of 3 fresh interpreters: the seconds ``statement`` takes, measured inside the
    interpreter (its start-up left out)."""
    code = f"import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
    runs = [
        float(
            subprocess.run(
                [sys.executable, "-c", code], cwd=REPO, check=True, env=env, capture_output=True
            ).stdout
        )
        for _ in range(IMPORT_REPEATS)
    ]
    return sorted(runs)[len(runs) // 2]


@pytest.fixture(scope="module")
def import_env(tmp_path_factory) -> dict:
    """The environment of an installed package: bytecode cached (in a temporary
    ``PYTHONPYCACHEPREFIX``, written by a first import) whatever ``PYTHONDONTWRITEBYTECODE``
    says, so the figure is the import and not the compilation of the sources."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(tmp_path_factory.mktemp("pycache"))
    warm = "import cnnkit as k; k.layers.Dense; k.models.Sequential"
    subprocess.run([sys.executable, "-c", warm], cwd=REPO, check=True, env=env)
    return env


def test_import_adds_little_to_numpy(import_env):
    numpy_s = _import_seconds("import numpy", import_env)
    cnnkit_s = _import_seconds("import cnnkit", import_env)
    print(f"import numpy {numpy_s:.3f} s, import cnnkit {cnnkit_s:.3f} s")
    assert cnnkit_s - numpy_s < 0.15


def _loaded_modules(statement: str) -> set[str]:
    code = f"import sys; {statement}; print(' '.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True, capture_output=True)
    return set(out.stdout.decode().split())


def test_import_cnnkit_loads_nothing_until_a_name_is_used():
    loaded = _loaded_modules("import cnnkit")
    assert {m for m in loaded if m.startswith("cnnkit")} == {"cnnkit"}
    assert "numpy" not in loaded


def test_the_first_layer_loads_no_model_saving_or_data_code():
    loaded = _loaded_modules("import cnnkit as keras; keras.layers.Dense")
    for package in ("models", "saving", "callbacks", "utils", "preprocessing", "distribution"):
        assert not {m for m in loaded if m.split(".")[:2] == ["cnnkit", package]}, package
    loaded = _loaded_modules("import cnnkit as keras; keras.models.Sequential")
    for package in ("saving", "preprocessing", "metrics"):
        assert not {m for m in loaded if m.split(".")[:2] == ["cnnkit", package]}, package
    assert "cnnkit.callbacks.backup_and_restore" not in loaded


# The absolute figure (< 0.3 s on the reference machine) depends on the machine and its
# load, so it is measured by benchmarks/import_time.py rather than asserted here.
