"""The CPU side of the NumPy kernels: the array module, the threads, the workspace budget.

:mod:`cnnkit.kernels.numpy_ops` (the default implementation behind
:func:`cnnkit.kernels.dispatch.ops`) computes with the array module ``xp`` and shares a
batch's work between the CPU cores with the machinery here, so that the differentiable
Functions of :mod:`cnnkit.kernels` keep only their maths:

- :func:`parallel_map`, a pool of worker threads (one per core BLAS may use,
  :func:`cpu_threads`), and :func:`parallel_region`, the block inside which the trainer keeps
  BLAS single-threaded once cnnkit's own threads share the cores;
- :func:`conv_workspace_bytes`, the memory budget of one kernel's work arrays;
- :func:`chunked`, the one helper that cuts a batch into chunks under that budget and deals
  them to the threads (a chunk per thread when the work needs no workspace);
- :func:`matmul`, a large matrix product split over the threads;
- :func:`concurrently`, independent pieces of one op's work (a gradient's two products)
  side by side.

It imports nothing from cnnkit: :mod:`cnnkit.backend` re-exports the public names
(``backend.cpu_threads()``, ``backend.set_conv_workspace_bytes(...)``...).

Example:
    >>> import numpy as np
    >>> from cnnkit.kernels import threads
    >>> x = np.arange(6.0)
    >>> float(threads.chunked(6, 8, 10**9, lambda a, b, _: x[a:b].sum(), ordered_sum=True))
    15.0
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import os
import threading

import numpy

xp = numpy
"""The array module every kernel computes with (a CuPy build would swap it here)."""

_CONV_WORKSPACE_BYTES = 2 * 1024 * 1024


def conv_workspace_bytes() -> int:
    """Upper bound, in bytes, of the im2col column matrix one convolution builds at once.

    A batch whose column matrix is larger is processed in chunks of samples. The
    default, 2 MiB, also keeps each chunk in the CPU cache between the copy that
    builds it and the matrix product that reads it: on a VGG-style model this was
    1.7x faster than 64 MiB chunks (``benchmarks/vgg_cifar.py``).
    """
    return _CONV_WORKSPACE_BYTES


def set_conv_workspace_bytes(nbytes: int) -> None:
    """Set the convolution workspace budget (default 2 MiB). Larger batches are chunked."""
    global _CONV_WORKSPACE_BYTES
    if not isinstance(nbytes, int) or isinstance(nbytes, bool) or nbytes <= 0:
        raise ValueError(
            "Invalid value for argument `nbytes`. Expected a strictly positive integer. "
            f"Received: nbytes={nbytes!r}"
        )
    _CONV_WORKSPACE_BYTES = nbytes


# ---------------------------------------------------------------------------
# CPU threads. A convolution's chunks are independent: each core builds the column
# matrix of its own chunks and multiplies it with a single-threaded matrix product,
# so the data a core writes is the data it reads, while it is in its cache. Splitting
# one product of a chunk over the cores instead (BLAS threading) made every core wait
# for columns another core had just written: 3x slower on a 32x32x32 convolution.
# ---------------------------------------------------------------------------

_POOL_LOCK = threading.Lock()  # one parallel section at a time
_IN_WORKER = threading.local()
_BLAS_CONTROLLERS: list | None = None  # threadpoolctl's BLAS controllers, found once


def _blas():
    """The loaded BLAS libraries' thread controls (empty without threadpoolctl)."""
    global _BLAS_CONTROLLERS
    if _BLAS_CONTROLLERS is None:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:  # pragma: no cover - a declared dependency
            _BLAS_CONTROLLERS = []
        else:
            _BLAS_CONTROLLERS = ThreadpoolController().select(user_api="blas").lib_controllers
    return _BLAS_CONTROLLERS


def _available_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS, Windows
        return os.cpu_count() or 1


def cpu_threads() -> int:
    """How many threads :func:`parallel_map` uses: as many as the BLAS library is allowed.

    That is the BLAS library's own thread count (``OPENBLAS_NUM_THREADS``,
    ``MKL_NUM_THREADS`` or a ``threadpoolctl`` limit lower it), at most the CPUs this
    process may run on. 1 where no BLAS thread control is found (then everything
    runs in the calling thread).

    Example:
        >>> from cnnkit.kernels import threads
        >>> threads.cpu_threads() >= 1
        True
    """
    if xp is not numpy or getattr(_IN_WORKER, "active", False):
        return 1
    if _REGION.depth:
        return _REGION.threads
    libs = _blas()
    if not libs:
        return 1
    return max(1, min(_available_cpus(), min(lib.num_threads for lib in libs)))


MIN_FLOPS_PER_THREAD = 8_000_000
"""Work below which a second thread does not pay: about 0.1 ms of one core's matrix
products, against the 30-100 µs of waking a worker and waiting for it. Measured on the
lecture CNN's training step (products of 3-42 MFLOP), alternating in one process: 8.45 ms
a step with products split from 16 MFLOP on, 9.13 ms from 50 MFLOP on (better in 8 of 9
rounds). Work that is not a matrix product states its cost in these units (pooling,
optimizer updates, a whole model's batch)."""


def threads_for(flops: int) -> int:
    """Threads worth using for ``flops`` floating-point operations: 1 to :func:`cpu_threads`.

    Example:
        >>> from cnnkit.kernels import threads
        >>> threads.threads_for(1000)
        1
    """
    if flops < 2 * MIN_FLOPS_PER_THREAD:
        return 1
    return max(1, min(cpu_threads(), flops // MIN_FLOPS_PER_THREAD))


class _Region:
    """State of :func:`parallel_region`: nesting depth, threads, saved BLAS settings."""

    def __init__(self):
        self.depth = 0
        self.threads = 1
        self.saved: list[int] = []
        self.owner: int | None = None


_REGION = _Region()


@contextlib.contextmanager
def parallel_region():
    """Within the block cnnkit shares out the cores itself, and BLAS stays single-threaded.

    A training step alternates between cnnkit's own threads (:func:`parallel_map`) and
    matrix products. A multi-threaded BLAS keeps its idle threads spinning for a while
    after each product, on the very cores cnnkit's threads (or oneDNN's) then need: a
    convolution's input gradient took 11 ms instead of 6 right after a small product, and
    on a machine busy with other work a lecture-CNN epoch took 5-10x longer (250 steps:
    18-50 s against 3.8-5.9 s with BLAS single-threaded from the start of each step; on an
    idle machine the two were equal). So BLAS is limited to one thread until the block
    ends, and large products are split over cnnkit's threads by :func:`matmul`. ``fit``,
    ``evaluate`` and ``predict`` run each step inside this block. Blocks nest; one thread
    at a time owns the region (others run as usual).

    Example:
        >>> from cnnkit.kernels import threads
        >>> with threads.parallel_region():
        ...     threads.cpu_threads() >= 1
        True
    """
    me = threading.get_ident()
    if _REGION.depth and _REGION.owner != me:
        yield  # another thread's region: leave its settings alone
        return
    if not _REGION.depth:
        _REGION.threads, _REGION.owner = cpu_threads(), me
    _REGION.depth += 1
    _limit_blas_in_region()
    try:
        yield
    finally:
        _REGION.depth -= 1
        if not _REGION.depth:
            for lib, n in zip(_blas() if _REGION.saved else [], _REGION.saved):
                lib.set_num_threads(n)
            _REGION.saved, _REGION.threads, _REGION.owner = [], 1, None


def _limit_blas_in_region() -> bool:
    """Inside the caller's own region, make BLAS single-threaded until the region ends.

    Returns whether the caller owns a region (then :func:`parallel_map` leaves BLAS alone).
    """
    if not (_REGION.depth and _REGION.owner == threading.get_ident()):
        return False
    if not _REGION.saved:
        libs = _blas()
        _REGION.saved = [lib.num_threads for lib in libs]
        for lib in libs:
            lib.set_num_threads(1)
    return True


class _Worker:
    """A thread that runs one task at a time, handed over with two locks.

    A plain lock hand-off costs about 13 µs here; ``concurrent.futures`` took 100 µs
    per task, as much as a small convolution's whole share.
    """

    def __init__(self):
        self._start, self._done = threading.Lock(), threading.Lock()
        self._start.acquire()
        self._done.acquire()
        self._task = None
        self._result = self._error = None
        threading.Thread(target=self._loop, name="cnnkit-worker", daemon=True).start()

    def _loop(self):
        _IN_WORKER.active = True  # a worker never fans out again
        while True:
            self._start.acquire()
            context, fn, items = self._task
            try:  # in the caller's context: its grad mode (cnnkit.autodiff.no_grad) and the like
                self._result, self._error = context.run(_map_list, fn, items), None
            except BaseException as error:  # raised again in the calling thread
                self._result, self._error = None, error
            # nothing of this task outlives it while the thread waits for the next one
            self._task = context = fn = items = None
            self._done.release()

    def submit(self, fn, items) -> None:
        """Run ``[fn(item) for item in items]`` in a copy of the calling thread's context."""
        self._task = (contextvars.copy_context(), fn, items)
        self._start.release()

    def join(self) -> list:
        self._done.acquire()
        error, self._error = self._error, None
        result, self._result = self._result, None
        if error is not None:
            raise error
        return result


def _map_list(fn, items) -> list:
    return [fn(item) for item in items]


_WORKERS: list[_Worker] = []


def _reset_pool_after_fork() -> None:
    global _WORKERS, _POOL_LOCK
    _WORKERS, _POOL_LOCK = [], threading.Lock()  # the threads do not exist in the child


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_pool_after_fork)


def parallel_map(fn, items) -> list:
    """``[fn(item) for item in items]``, the calls running at once on separate threads.

    Meant for a few large pieces of array work (one per core) that release the GIL, as
    NumPy's copies, ufuncs and matrix products do. The calling thread takes the first
    item and one worker thread each of the others (item ``i`` goes to thread
    ``i % len(items)`` when there are more items than :func:`cpu_threads`). Outside
    :func:`parallel_region` the BLAS library is limited to one thread meanwhile, so
    that the cores are not oversubscribed. A call from inside a worker, or while
    another thread is using the workers, runs serially. An exception in any call is
    raised here, after every call has finished.

    Example:
        >>> from cnnkit.kernels import threads
        >>> threads.parallel_map(lambda k: k * k, [1, 2, 3])
        [1, 4, 9]
    """
    items = list(items)
    if len(items) <= 1 or getattr(_IN_WORKER, "active", False):
        return [fn(item) for item in items]
    if not _POOL_LOCK.acquire(blocking=False):
        return [fn(item) for item in items]
    try:
        lanes = min(len(items), max(cpu_threads(), 2))
        while len(_WORKERS) < lanes - 1:
            _WORKERS.append(_Worker())
        owned = _limit_blas_in_region()
        libs = [] if owned else _blas()  # a region keeps BLAS single-threaded until its end
        saved = [lib.num_threads for lib in libs]
        for lib in libs:
            lib.set_num_threads(1)
        shares = [items[lane::lanes] for lane in range(lanes)]
        for worker, share in zip(_WORKERS, shares[1:]):
            worker.submit(fn, share)
        results: list = [None] * lanes
        errors = []
        try:
            _IN_WORKER.active = True
            results[0] = [fn(item) for item in shares[0]]
        except BaseException as error:
            errors.append(error)
        finally:
            _IN_WORKER.active = False
            try:
                for lane, worker in enumerate(_WORKERS[: lanes - 1], start=1):
                    try:
                        results[lane] = worker.join()  # every worker done before BLAS resumes
                    except Exception as error:
                        errors.append(error)
            except BaseException:
                # Interrupted (Ctrl-C) while waiting: a worker may still be busy and would
                # signal "done" late, into the next call. Leave them all; new ones start.
                _WORKERS.clear()
                raise
            finally:
                for lib, n in zip(libs, saved):
                    lib.set_num_threads(n)
        if errors:
            raise errors[0]
        return [results[i % lanes][i // lanes] for i in range(len(items))]
    finally:
        _POOL_LOCK.release()


def chunked(n: int, bytes_per_sample: int, flops: int, body, ordered_sum: bool = False):
    """``body(start, stop, scratch)`` over chunks of a batch of ``n`` samples, on the threads.

    The one place where a kernel's batch is cut into pieces: the kernels keep their maths,
    this helper decides the chunks and the threads. A chunk holds as many samples as fit
    the workspace budget (:func:`conv_workspace_bytes`) shared by the threads, at
    ``bytes_per_sample`` each (at least one sample), so that what a chunk writes is still
    in the core's cache when it is read back; work that needs no workspace
    (``bytes_per_sample=0``: a slice of rows of a product, samples of a pooling) gets one
    contiguous chunk per thread. ``flops``, the whole job's cost, decides how many threads
    are worth waking (:func:`threads_for`); chunks are near-equal and their number a
    multiple of the thread count where the batch allows (:func:`_split_batch`). A job for
    one thread that fits the budget is one call of ``body`` in the calling thread.

    ``scratch(shape, dtype)`` is the calling thread's reusable work array: uninitialised,
    allocated once per thread for its largest chunk (``bytes_per_sample`` bytes a sample)
    and handed out again for every later chunk.

    Args:
        n: samples in the batch.
        bytes_per_sample: workspace one sample of a chunk needs.
        flops: floating-point operations of the whole job.
        body: ``body(start, stop, scratch)`` does samples ``start .. stop - 1``.
        ordered_sum: ``False``: the chunks write separate rows of a preallocated output;
            they are dealt from one queue (a thread takes the next chunk whenever it is
            free, so one that wakes late does less) and ``None`` is returned. ``True``:
            returns the sum of ``body``'s results, each thread adding up a fixed, contiguous
            run of chunks and the threads' sums added in thread order, so that the total is
            the same to the last bit from run to run.

    Example:
        >>> import numpy as np
        >>> from cnnkit.kernels import threads
        >>> x = np.arange(6.0)
        >>> total = threads.chunked(6, 8, 10**9, lambda a, b, _: x[a:b].sum(), ordered_sum=True)
        >>> float(total)
        15.0
    """
    if min(threads_for(flops), n) < 2 and n * bytes_per_sample <= _CONV_WORKSPACE_BYTES:
        part = body(0, n, _Scratch(n * bytes_per_sample))  # one chunk, in this thread
        return part if ordered_sum else None
    split = _split_batch(n, bytes_per_sample, flops)
    nbytes = max(b - a for share in split for a, b in share) * bytes_per_sample
    if ordered_sum:

        def add_share(chunks):  # this thread's sum, in chunk order
            scratch, total = _Scratch(nbytes), None
            for start, stop in chunks:
                part = body(start, stop, scratch)
                if total is None:
                    total = part
                else:
                    total += part
            return total

        parts = parallel_map(add_share, split)
        total = parts[0]
        for part in parts[1:]:
            total += part
        return total

    def drain(queue):
        scratch = _Scratch(nbytes)
        for start, stop in queue:
            body(start, stop, scratch)

    queue = iter([chunk for share in split for chunk in share])  # each chunk handed out once
    parallel_map(drain, [queue] * len(split))
    return None


class _Scratch:
    """One thread's work memory for :func:`chunked`: allocated at the first request, reused."""

    def __init__(self, nbytes: int):
        self._nbytes = nbytes
        self._memory = None

    def __call__(self, shape, dtype):
        shape, dtype = (shape,) if isinstance(shape, int) else tuple(shape), xp.dtype(dtype)
        size = math.prod(shape) * dtype.itemsize
        if self._memory is None or self._memory.size < size:
            self._memory = xp.empty(max(size, self._nbytes), dtype=xp.uint8)
        return self._memory[:size].view(dtype).reshape(shape)


MIN_FLOPS_CONCURRENT = 2_000_000
"""Work of each call below which :func:`concurrently` runs the calls one after the other:
about 40 µs of one core's products, twice the cost of handing a call to a worker."""


def concurrently(calls, flops):
    """``[call() for call in calls]``, independent calls running at once on the threads.

    Where one op has several independent pieces of work too small to split (a
    convolution's input and kernel gradients at batch 32, 2-40 MFLOP each), running
    them side by side is how a second core helps: each keeps its own arrays and its
    own order of summation, so the results are the same to the last bit as in a
    serial run. ``None`` in ``calls`` stands for work not needed: its result is
    ``None``. The calls run serially when fewer than two have at least
    :data:`MIN_FLOPS_CONCURRENT` of ``flops``, or when there is one thread.

    Args:
        calls: functions of no arguments (or ``None``).
        flops: each call's floating-point operations, in the same order.

    Example:
        >>> from cnnkit.kernels import threads
        >>> threads.concurrently([lambda: 1, None, lambda: 3], [10**8, 0, 10**8])
        [1, None, 3]
    """
    work = [i for i, call in enumerate(calls) if call is not None]
    results = [None] * len(calls)
    large = sum(1 for i in work if flops[i] >= MIN_FLOPS_CONCURRENT)
    if large < 2 or cpu_threads() < 2:
        for i in work:
            results[i] = calls[i]()
        return results
    work.sort(key=lambda i: -flops[i])  # the largest stays in the calling thread
    for i, value in zip(work, parallel_map(lambda i: calls[i](), work), strict=True):
        results[i] = value
    return results


def _split_batch(n: int, bytes_per_sample: int, flops: int) -> list[list[tuple[int, int]]]:
    """:func:`chunked`'s chunks of a batch of ``n`` samples, dealt out to the threads.

    Each chunk takes at most ``conv_workspace_bytes() / threads`` bytes (at least one
    sample); with ``bytes_per_sample=0`` each thread gets one chunk. Returns one list of
    ``(start, stop)`` per thread, a contiguous run of chunks, in a fixed order.
    """
    if n == 0:
        return [[(0, 0)]]
    threads = min(threads_for(flops), n)
    per_chunk = n
    if bytes_per_sample > 0:
        per_chunk = max(1, conv_workspace_bytes() // threads // bytes_per_sample)
    count = min(n, threads * -(-n // (threads * per_chunk)))
    bounds = [n * i // count for i in range(count + 1)]
    chunks = list(zip(bounds[:-1], bounds[1:]))
    cuts = [count * t // threads for t in range(threads + 1)]
    return [chunks[cuts[t] : cuts[t + 1]] for t in range(threads)]


def matmul(a, b, out=None):
    """``a @ b`` for 2-D arrays, split over :func:`cpu_threads` when the product is large.

    Inside :func:`parallel_region` BLAS is single-threaded, so a large product is cut
    into one block of rows (or, for a short ``a``, of columns) per thread. Each block is
    an ordinary product: the result equals ``a @ b`` up to the BLAS kernel's rounding.

    Example:
        >>> import numpy as np
        >>> from cnnkit.kernels import threads
        >>> a = np.ones((3, 4), "float32")
        >>> threads.matmul(a, a.T).tolist()
        [[4.0, 4.0, 4.0], [4.0, 4.0, 4.0], [4.0, 4.0, 4.0]]
    """
    (m, k), n = a.shape, b.shape[1]
    threads = threads_for(2 * m * k * n) if _REGION.depth else 1
    if threads < 2:
        return xp.matmul(a, b, out=out)
    if out is None:
        out = xp.empty((m, n), dtype=xp.result_type(a.dtype, b.dtype))
    flops = 2 * m * k * n
    if m >= n:  # blocks of rows
        chunked(m, 0, flops, lambda i, j, _: xp.matmul(a[i:j], b, out=out[i:j]))
    else:  # blocks of columns
        chunked(n, 0, flops, lambda i, j, _: xp.matmul(a, b[:, i:j], out=out[:, i:j]))
    return out
