"""CPU threads (:mod:`cnnkit.kernels.threads`): ``parallel_map``, ``parallel_region``,
``matmul`` and ``chunked``, the one chunk split.

A convolution's chunks are shared between the threads, each with a single-threaded BLAS.
The results must not depend on how many threads ran them (bitwise for the forward pass,
which splits rows; up to float32 summation order for the kernel gradient, which sums the
threads' partial products), and the BLAS thread count must come back as it was. The
``two_threads`` fixture (``conftest.py``) pretends there are two cores.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest

from cnnkit.autodiff import Variable
from cnnkit.kernels import conv, threads
from tests.harness import blas_threads as _blas_threads

threadpoolctl = pytest.importorskip("threadpoolctl")


def test_parallel_map_keeps_order_and_runs_on_several_threads(two_threads):
    seen = set()

    def work(k):
        seen.add(threading.get_ident())
        return k * k

    assert threads.parallel_map(work, range(5)) == [0, 1, 4, 9, 16]
    assert len(seen) >= 2


def test_parallel_map_limits_blas_while_running_and_restores_it(two_threads):
    before = _blas_threads()
    inside = threads.parallel_map(lambda _: _blas_threads(), range(2))
    assert inside == [[1] * len(before)] * 2
    assert _blas_threads() == before


def test_parallel_map_raises_a_workers_exception_and_restores_blas(two_threads):
    before = _blas_threads()

    def work(k):
        if k == 1:
            raise ValueError("chunk 1 failed")
        return k

    with pytest.raises(ValueError, match="chunk 1 failed"):
        threads.parallel_map(work, range(3))
    assert _blas_threads() == before
    assert threads.parallel_map(lambda k: k + 1, range(2)) == [1, 2]  # the pool still works


def test_nested_parallel_map_runs_serially_inside_a_worker(two_threads):
    def outer(k):
        assert threads.cpu_threads() == 1  # a worker does not fan out again
        return threads.parallel_map(lambda j: (k, j), range(2))

    assert threads.parallel_map(outer, range(2)) == [[(0, 0), (0, 1)], [(1, 0), (1, 1)]]


def test_parallel_region_makes_blas_single_threaded_from_its_start(two_threads):
    before = _blas_threads()
    assert threads.cpu_threads() == 2
    with threads.parallel_region():
        assert _blas_threads() == [1] * len(before)  # its idle threads would spin
        assert threads.cpu_threads() == 2  # cnnkit's own threads still use both cores
        threads.parallel_map(lambda k: k, range(2))
        assert _blas_threads() == [1] * len(before)  # and so until the block ends
        assert threads.cpu_threads() == 2  # cnnkit's own threads still use both cores
        with threads.parallel_region():
            threads.parallel_map(lambda k: k, range(2))
        assert _blas_threads() == [1] * len(before)  # the inner block left it alone
    assert _blas_threads() == before


def test_parallel_region_restores_blas_after_an_exception(two_threads):
    before = _blas_threads()
    with pytest.raises(RuntimeError):
        with threads.parallel_region():
            threads.parallel_map(lambda k: k, range(2))
            raise RuntimeError("step failed")
    assert _blas_threads() == before


def test_user_blas_limit_of_one_thread_is_respected():
    with threadpoolctl.threadpool_limits(limits=1, user_api="blas"):
        assert threads.cpu_threads() == 1
        assert (
            len(threads._split_batch(32, 1000, 10**12)) == 1
        )  # a convolution runs in the calling thread
        with threads.parallel_region():
            assert threads.cpu_threads() == 1
            assert threads.threads_for(10**12) == 1


@pytest.mark.parametrize("shape", [(300, 200, 100), (8, 500, 900), (1, 3, 2), (0, 4, 5)])
def test_matmul_equals_numpy_in_and_out_of_a_region(two_threads, shape):
    m, k, n = shape
    rng = np.random.default_rng(0)
    a = rng.standard_normal((m, k), dtype=np.float32)
    b = rng.standard_normal((k, n), dtype=np.float32)
    expected = a.astype(np.float64) @ b.astype(np.float64)
    np.testing.assert_allclose(threads.matmul(a, b), expected, rtol=1e-4, atol=1e-4)
    with threads.parallel_region():
        np.testing.assert_allclose(threads.matmul(a, b), expected, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(threads.matmul(b.T, a.T), expected.T, rtol=1e-4, atol=1e-4)
        out = np.empty((m, n), np.float32)
        assert threads.matmul(a, b, out=out) is out
        np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("n", [0, 1, 2, 3, 7, 32, 33])
@pytest.mark.parametrize("bytes_per_sample", [1, 1000, 10**9])
def test_split_covers_the_batch_in_balanced_chunks_under_each_threads_budget(
    two_threads, n, bytes_per_sample
):
    split = threads._split_batch(n, bytes_per_sample, 10**12)
    lanes = min(2, max(n, 1))
    assert len(split) == lanes
    chunks = sorted(chunk for share in split for chunk in share)
    if n == 0:
        assert chunks == [(0, 0)]
        return
    assert chunks[0][0] == 0 and chunks[-1][1] == n
    assert all(a[1] == b[0] for a, b in zip(chunks, chunks[1:]))  # contiguous, no overlap
    sizes = [stop - start for start, stop in chunks]
    assert max(sizes) - min(sizes) <= 1  # near-equal
    share = threads.conv_workspace_bytes() // lanes
    assert max(sizes) == 1 or max(sizes) * bytes_per_sample <= share
    assert abs(len(split[0]) - len(split[-1])) <= 1  # the threads get as many chunks


def test_small_work_stays_on_the_calling_thread(monkeypatch):
    monkeypatch.setattr(threads, "_available_cpus", lambda: 2)
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        assert threads.threads_for(threads.MIN_FLOPS_PER_THREAD) == 1  # not worth a wake-up
        assert threads.threads_for(100 * threads.MIN_FLOPS_PER_THREAD) == 2
        assert len(threads._split_batch(32, 1000, 1000)) == 1


def _conv_run(x, k, b, **kw):
    xv, kv, bv = Variable(x), Variable(k), Variable(b)
    out = conv.conv2d(xv, kv, bv, relu=True, **kw)
    out.backward(np.cos(np.arange(out.data.size, dtype=np.float32)).reshape(out.shape))
    return out.data, xv.grad, kv.grad, bv.grad


@pytest.mark.parametrize("strides", [(1, 1), (2, 2)])
def test_conv_results_do_not_depend_on_the_thread_count(two_threads, strides):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((6, 9, 9, 4), dtype=np.float32)
    k = rng.standard_normal((3, 3, 4, 5), dtype=np.float32)
    b = rng.standard_normal(5, dtype=np.float32)
    old = threads.conv_workspace_bytes()
    threads.set_conv_workspace_bytes(2 * 9 * 9 * 36 * 4)  # several chunks per thread
    try:
        with threadpoolctl.threadpool_limits(limits=1, user_api="blas"):
            one = _conv_run(x, k, b, strides=strides, padding="same")
        with threads.parallel_region():
            two = _conv_run(x, k, b, strides=strides, padding="same")
    finally:
        threads.set_conv_workspace_bytes(old)
    # Rows are split, never sums; BLAS may still round a 1-row chunk's product differently.
    np.testing.assert_allclose(one[0], two[0], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(one[1], two[1], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(one[2], two[2], rtol=1e-5, atol=1e-5)  # per-thread partial sums
    np.testing.assert_array_equal(one[3], two[3])


def _both_ways(run):
    """``run()`` on one thread, then split over two (the fixture makes every op split)."""
    with threadpoolctl.threadpool_limits(limits=1, user_api="blas"):
        one = run()
    with threads.parallel_region():
        two = run()
    return one, two


def test_chunked_without_workspace_gives_each_thread_one_block(two_threads):
    seen = []
    threads.set_conv_workspace_bytes(8)  # the budget does not cut work that needs none
    try:
        assert threads.chunked(7, 0, 10**9, lambda a, b, _: seen.append((a, b))) is None
    finally:
        threads.set_conv_workspace_bytes(2 * 1024 * 1024)
    assert sorted(seen) == [(0, 3), (3, 7)]
    seen.clear()
    threads.chunked(1, 0, 10**9, lambda a, b, _: seen.append((a, b)))
    assert seen == [(0, 1)]


def test_one_threads_job_is_one_call_in_the_calling_thread(monkeypatch):
    monkeypatch.setattr(threads, "parallel_map", None)  # never reached
    seen = []

    def body(start, stop, scratch):
        work = scratch((stop - start, 2), "float32")
        seen.append((start, stop, threading.get_ident(), work.shape))
        return start + 10

    assert threads.chunked(5, 8, 1, body, ordered_sum=True) == 10
    assert seen == [(0, 5, threading.get_ident(), (5, 2))]


def test_max_pool_split_by_samples_equals_one_thread(two_threads):
    from cnnkit.kernels.pool import max_pool2d

    rng = np.random.default_rng(2)
    x = rng.integers(0, 4, (5, 6, 6, 3)).astype(np.float32)  # many ties

    def run():
        xv = Variable(x)
        out = max_pool2d(xv, 2)
        out.backward(np.arange(out.data.size, dtype=np.float32).reshape(out.shape))
        return out.data, xv.grad

    (out1, dx1), (out2, dx2) = _both_ways(run)
    np.testing.assert_array_equal(out1, out2)
    np.testing.assert_array_equal(dx1, dx2)


def test_an_interrupted_wait_leaves_no_stale_worker_behind(two_threads, monkeypatch):
    import time

    before = _blas_threads()
    real_join = threads._Worker.join

    def interrupted(self):
        raise KeyboardInterrupt

    monkeypatch.setattr(threads._Worker, "join", interrupted)
    with pytest.raises(KeyboardInterrupt):
        threads.parallel_map(lambda k: time.sleep(0.05) or k, range(2))
    monkeypatch.setattr(threads._Worker, "join", real_join)
    assert _blas_threads() == before
    time.sleep(0.1)  # the abandoned worker finishes its task and signals "done"
    for _ in range(5):  # that late signal must not be taken for these calls' results
        assert threads.parallel_map(lambda k: time.sleep(0.01) or k * 10, range(2)) == [0, 10]


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs os.fork")
def test_a_forked_child_starts_its_own_workers(two_threads):
    import os

    assert threads.parallel_map(lambda k: k, range(2)) == [0, 1]  # workers exist now
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: the parent's worker threads do not exist here
        try:
            ok = threads.parallel_map(lambda k: k + 1, range(2)) == [1, 2]
            os.write(write, b"ok" if ok else b"bad")
        finally:
            os._exit(0)
    os.close(write)
    import signal
    import time

    deadline = time.monotonic() + 20
    done, status = 0, 0
    while not done and time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        time.sleep(0.01)
    if not done:  # waiting on workers that were never started in the child
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    assert done, "the forked child hung in parallel_map"
    assert os.read(read, 2) == b"ok" and status == 0
    os.close(read)


def test_chunked_hands_every_chunk_to_exactly_one_thread(two_threads):
    split = threads._split_batch(37, 1, 10**12)  # several chunks per thread
    taken = []

    def body(start, stop, scratch):
        taken.append((start, stop))

    assert threads.chunked(37, 1, 10**12, body) is None
    assert sorted(taken) == [chunk for share in split for chunk in share]  # each once, all


def test_chunked_ordered_sum_adds_each_threads_share_then_the_threads_in_order(two_threads):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 300)).astype(np.float32)

    def body(start, stop, scratch):
        return x[start:stop].sum(axis=0, dtype=np.float32)

    threads.set_conv_workspace_bytes(4 * 300 * 6)  # several chunks in each thread's share
    try:
        split = threads._split_batch(64, 4 * 300, 10**12)
        total = threads.chunked(64, 4 * 300, 10**12, body, ordered_sum=True)
    finally:
        threads.set_conv_workspace_bytes(2 * 1024 * 1024)
    assert len(split) == 2 and all(len(share) > 1 for share in split)
    expected = []
    for share in split:
        part = body(*share[0], None)
        for chunk in share[1:]:
            part += body(*chunk, None)
        expected.append(part)
    np.testing.assert_array_equal(total, expected[0] + expected[1])  # to the last bit


def test_chunked_scratch_is_reused_within_a_thread(two_threads):
    seen = {}

    def body(start, stop, scratch):
        work = scratch((stop - start, 4), np.float64)
        assert work.shape == (stop - start, 4) and work.dtype == np.float64
        seen.setdefault(threading.get_ident(), set()).add(work.__array_interface__["data"][0])

    threads.chunked(40, 32, 10**12, body)
    assert all(len(addresses) == 1 for addresses in seen.values())  # one buffer per thread


def test_concurrently_runs_large_independent_calls_on_two_threads(two_threads):
    seen = []

    def call(value):
        def run():
            seen.append(threading.get_ident())
            return value

        return run

    with threads.parallel_region():
        out = threads.concurrently([call(1), None, call(3)], [10**7, 0, 10**7])
    assert out == [1, None, 3]
    assert len(set(seen)) == 2  # the second call ran on a worker


def test_concurrently_keeps_small_work_on_the_calling_thread(two_threads):
    seen = []
    calls = [lambda: seen.append(threading.get_ident()) or "a", lambda: "b"]
    out = threads.concurrently(calls, [10**7, threads.MIN_FLOPS_CONCURRENT - 1])
    assert out == ["a", "b"] and seen == [threading.get_ident()]


def test_concurrently_raises_a_calls_exception_after_both_finished(two_threads):
    finished = []

    def fails():
        raise ValueError("boom")

    def slow():
        finished.append(np.ones((300, 300)) @ np.ones((300, 300)))
        return 1

    with pytest.raises(ValueError, match="boom"):
        threads.concurrently([slow, fails], [10**8, 10**8])
    assert len(finished) == 1


@pytest.mark.parametrize("layer", ["conv", "dense"])
def test_gradients_computed_side_by_side_equal_serial_ones_bit_for_bit(
    two_threads, monkeypatch, layer
):
    """A convolution's (and Dense's) input and kernel gradients run at once on two threads;
    each keeps its own arrays and order of summation, so nothing changes in the last bit."""
    from cnnkit.kernels import dense

    rng = np.random.default_rng(3)
    if layer == "conv":
        x = Variable(rng.standard_normal((8, 11, 11, 6), dtype=np.float32))
        k = Variable(rng.standard_normal((3, 3, 6, 7), dtype=np.float32))
        b = Variable(rng.standard_normal(7, dtype=np.float32))

        def forward():
            return conv.conv2d(x, k, b, strides=(2, 2), relu=True)
    else:
        x = Variable(rng.standard_normal((16, 40), dtype=np.float32))
        k = Variable(rng.standard_normal((40, 30), dtype=np.float32))
        b = Variable(rng.standard_normal(30, dtype=np.float32))

        def forward():
            return dense.dense(x, k, b, relu=True)

    def run():
        for v in (x, k, b):
            v.grad = None
        (forward() * 1.5).sum().backward()
        return [v.grad.copy() for v in (x, k, b)]

    calls = []
    original = threads.parallel_map
    monkeypatch.setattr(
        threads, "parallel_map", lambda fn, items: calls.append(1) or original(fn, items)
    )
    monkeypatch.setattr(threads, "MIN_FLOPS_PER_THREAD", 10**18)  # no product split by rows
    monkeypatch.setattr(threads, "MIN_FLOPS_CONCURRENT", 1)
    with threads.parallel_region():
        side_by_side = run()
    assert calls, "the gradients did not run side by side"
    monkeypatch.setattr(threads, "MIN_FLOPS_CONCURRENT", 10**18)
    with threads.parallel_region():
        serial = run()
    for a, s in zip(side_by_side, serial):
        np.testing.assert_array_equal(a, s)


@pytest.mark.parametrize("multiplier", [1, 2])
def test_depthwise_chunks_of_samples_give_the_unchunked_results(two_threads, multiplier):
    """The depthwise kernels work a chunk of samples at a time (the cache) on the threads;
    forward and input gradient are the same bit for bit, the kernel gradient adds the
    chunks' sums in a fixed order."""
    from cnnkit.kernels import numpy_ops

    rng = np.random.default_rng(5)
    xpad = rng.standard_normal((7, 11, 11, 3), dtype=np.float32)
    kernel = rng.standard_normal((3, 3, 3, multiplier), dtype=np.float32)
    g5 = rng.standard_normal((7, 5, 5, 3, multiplier), dtype=np.float32)
    geometry = (5, 5, (2, 2), (1, 1))

    def run():
        return (
            numpy_ops.depthwise_correlate(xpad, kernel, *geometry),
            numpy_ops.depthwise_backward_data(g5, kernel, xpad.shape, *geometry),
            numpy_ops.depthwise_backward_weights(xpad, g5, kernel.shape, *geometry),
        )

    whole = run()
    old = threads.conv_workspace_bytes()
    threads.set_conv_workspace_bytes(1)  # one sample a chunk
    try:
        with threads.parallel_region():
            chunks = run()
    finally:
        threads.set_conv_workspace_bytes(old)
    np.testing.assert_array_equal(whole[0], chunks[0])
    np.testing.assert_array_equal(whole[1], chunks[1])
    np.testing.assert_allclose(whole[2], chunks[2], rtol=1e-5, atol=1e-5)
