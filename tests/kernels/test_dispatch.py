"""The kernel layer's swap point: choosing, reporting and scoping the implementation."""

from __future__ import annotations

import inspect
import threading

import numpy as np
import pytest

from cnnkit import backend
from cnnkit.autodiff import Tensor
from cnnkit.kernels import conv, dispatch, numpy_ops, pool, reference_ops, threads


@pytest.fixture
def restore_default():
    yield
    dispatch.set_kernels(dispatch.DEFAULT)
    dispatch.kernels_report(reset=True)


def _conv_once():
    x = np.arange(32, dtype="float32").reshape(2, 4, 4, 1)
    return conv.conv2d(Tensor(x), Tensor(np.ones((2, 2, 1, 3), "float32"))).data


def test_numpy_is_the_default_implementation():
    assert dispatch.kernels() == "numpy"
    assert dispatch.ops() is numpy_ops and numpy_ops.NAME == "numpy"


# What a Function may ask of ``dispatch.ops()``: both implementations provide it all.
PRIMITIVES = (
    "correlate",
    "correlate_backward_data",
    "correlate_backward_weights",
    "depthwise_correlate",
    "depthwise_backward_data",
    "depthwise_backward_weights",
    "max_pool2d",
    "max_pool2d_backward",
    "sum_pool2d",
    "sum_pool2d_backward",
    "global_max_pool2d",
    "global_max_pool2d_backward",
    "global_avg_pool2d",
    "global_avg_pool2d_backward",
    "batch_norm_train",
    "batch_norm_train_backward",
    "batch_norm_apply",
    "matmul",
    "chunked",
    "conv_workspace_bytes",
)


@pytest.mark.parametrize("name", PRIMITIVES)
def test_both_implementations_offer_each_primitive_with_one_signature(name):
    mine, reference = getattr(numpy_ops, name), getattr(reference_ops, name)
    assert inspect.signature(mine) == inspect.signature(reference)
    assert numpy_ops.xp is reference_ops.xp is backend.xp


def test_the_reference_chunked_is_one_call_on_the_whole_batch():
    seen = []

    def body(start, stop, scratch):
        seen.append((start, stop, scratch((stop - start, 3), "float64").shape))
        return np.ones(2)

    total = reference_ops.chunked(9, 10**9, 10**12, body, ordered_sum=True)
    assert seen == [(0, 9, (9, 3))] and total.tolist() == [1.0, 1.0]
    assert reference_ops.chunked(9, 8, 10**12, body) is None


def test_set_kernels_selects_the_reference_for_every_thread(restore_default):
    expected = _conv_once()
    backend.set_kernels("reference")
    assert dispatch.kernels() == "reference" and dispatch.ops() is reference_ops
    assert dispatch.fast("conv2d") is None  # no oneDNN while the reference is chosen
    seen = []
    thread = threading.Thread(target=lambda: seen.append(dispatch.kernels()))
    thread.start()
    thread.join()
    assert seen == ["reference"]
    dispatch.kernels_report(reset=True)
    np.testing.assert_array_equal(_conv_once(), expected)
    assert backend.kernels_report() == {"conv2d": {"reference": 1}}


def test_kernels_report_counts_each_implementation_and_resets(restore_default):
    x = np.ones((1, 4, 4, 2), "float32")
    dispatch.kernels_report(reset=True)
    _conv_once()
    pool.max_pool2d(x, 2)
    with dispatch.use_kernels("reference"):
        _conv_once()
        _conv_once()
        pool.avg_pool2d(x, 2)
    assert backend.kernels_report(reset=True) == {
        "avg_pool2d": {"reference": 1},
        "conv2d": {"numpy": 1, "reference": 2},
        "max_pool2d": {"numpy": 1},
    }
    assert backend.kernels_report() == {}


@pytest.mark.parametrize("name", ["mkl", "Reference", "", None, 3])
def test_unknown_names_are_refused_before_anything_changes(name, restore_default):
    message = r"`kernels` must be one of \('auto', 'numpy', 'onednn', 'reference'\). Received: "
    with pytest.raises(ValueError, match=message + repr(name).replace("(", r"\(")):
        backend.set_kernels(name)
    assert dispatch.kernels() == "numpy"
    with pytest.raises(ValueError, match=message):
        with dispatch.use_kernels(name):
            pytest.fail("the block must not run")  # pragma: no cover
    assert dispatch.kernels() == "numpy"


def test_use_kernels_is_scoped_nested_and_restored_after_an_error():
    with dispatch.use_kernels("reference"):
        assert dispatch.ops() is reference_ops
        with dispatch.use_kernels("numpy"):
            assert dispatch.ops() is numpy_ops
        assert dispatch.kernels() == "reference"
    with pytest.raises(RuntimeError):
        with dispatch.use_kernels("reference"):
            raise RuntimeError("step failed")
    assert dispatch.kernels() == "numpy"


def test_use_kernels_leaves_other_threads_alone():
    inside, outside = threading.Event(), threading.Event()
    seen = {}

    def other():
        inside.wait()
        seen["other"] = dispatch.kernels()  # while the main thread is in its block
        outside.set()

    thread = threading.Thread(target=other)
    thread.start()
    with dispatch.use_kernels("reference"):
        inside.set()
        outside.wait()
        seen["main"] = dispatch.kernels()
    thread.join()
    assert seen == {"other": "numpy", "main": "reference"}


def test_threads_run_different_implementations_at_once_and_agree():
    expected = _conv_once()
    barrier = threading.Barrier(2)
    results = {}

    def run(name):
        with dispatch.use_kernels(name):
            barrier.wait()  # both threads inside their blocks together
            results[name] = (_conv_once(), dispatch.ops().NAME)

    runners = [threading.Thread(target=run, args=(n,)) for n in ("numpy", "reference")]
    for thread in runners:
        thread.start()
    for thread in runners:
        thread.join()
    assert {name: r[1] for name, r in results.items()} == {
        "numpy": "numpy",
        "reference": "reference",
    }
    for out, _ in results.values():
        np.testing.assert_array_equal(out, expected)


def test_worker_threads_follow_the_callers_choice(monkeypatch):
    threadpoolctl = pytest.importorskip("threadpoolctl")
    monkeypatch.setattr(threads, "_available_cpus", lambda: 2)
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        with dispatch.use_kernels("reference"):
            seen = threads.parallel_map(lambda _: dispatch.kernels(), range(4))
    assert seen == ["reference"] * 4


def test_a_race_takes_turns_skips_each_first_run_and_keeps_the_fastest():
    trial = dispatch._Trial(("a", "b", "c"))
    seconds = {"a": [9.0, 3.0, 3.1, 2.9], "b": [0.1, 2.0, 2.2, 2.1], "c": [5.0, 4.0, 4.0, 4.0]}
    order = []
    for _ in range(4):
        for _ in range(3):
            name = trial.next()
            order.append(name)
            trial.add(name, seconds[name].pop(0))
    assert order == ["a", "b", "c"] * 4
    # b's 0.1 s first run is not counted: its median of the others (2.1) still wins
    assert trial.choice == "b" and trial.next() == "b"
    trial.add("a", 0.0)  # decided: later timings change nothing
    assert trial.choice == "b"


def test_a_declined_candidate_leaves_the_race():
    trial = dispatch._Trial(("fast", "numpy"))
    trial.drop("fast")
    assert trial.choice == "numpy" and trial.next() == "numpy"
    trial = dispatch._Trial(("x", "y", "numpy"))
    trial.drop("x")
    assert [trial.next() for _ in range(4)] == ["y", "numpy", "y", "numpy"]


def test_only_auto_races(restore_default):
    candidates = ("onednn", "onednn:1", "numpy")
    dispatch.tuning_report(reset=True)
    assert dispatch.choose("conv2d", "k", candidates) == "onednn"  # numpy (default)
    assert dispatch.tuning_report() == {}
    dispatch.set_kernels("auto")
    assert [dispatch.choose("conv2d", "k", candidates) for _ in range(3)] == list(candidates)
    for name in candidates:
        dispatch.timed("conv2d", "k", name, 1.0)
    assert dispatch.tuning_report(reset=True) == {("conv2d", "k"): {"choice": None, "ms": {}}}
    assert dispatch.tuning_report() == {}


@pytest.mark.parametrize(
    "value, want", [("auto", "auto"), (" Reference ", "reference"), ("", "numpy")]
)
def test_the_environment_variable_picks_the_first_choice(value, want):
    import os
    import subprocess
    import sys

    code = "from cnnkit.kernels import dispatch; print(dispatch.kernels())"
    env = dict(os.environ, CNNKIT_KERNELS=value)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == want, out.stderr


def test_an_unknown_environment_value_is_refused_by_name():
    import os
    import subprocess
    import sys

    code = "from cnnkit.kernels import dispatch"
    env = dict(os.environ, CNNKIT_KERNELS="fastest")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode != 0
    assert "The environment variable CNNKIT_KERNELS must be one of" in out.stderr
    assert "Received: 'fastest'" in out.stderr
