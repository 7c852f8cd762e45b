"""The array backend: the one module that knows which array library runs the maths.

Everything else in cnnkit uses ``xp`` from here, never ``numpy`` directly for
computation, so a CuPy backend can replace it without touching ops or layers.

It also owns the global dtype policy (``float32`` by default, ``float64``
for gradient checks), the one seeded random generator, the memory budget
of the convolution workspace and the threads that share a batch's work
between the CPU cores (:func:`parallel_map`), and the one helper that cuts a
kernel's batch into chunks under that budget and deals them to the threads
(:func:`chunked`): the kernels in :mod:`cnnkit.kernels` keep only their maths.

And it holds every name of ``keras.backend``: :func:`backend` (``"numpy"``),
:func:`epsilon`, :func:`image_data_format` and their setters, :func:`result_type`
(Keras's dtype promotion), :func:`standardize_dtype`, :func:`is_float_dtype`,
:func:`is_int_dtype`, :func:`is_keras_tensor`, :func:`get_uid` and
:func:`clear_session`; ``cnnkit.config`` re-exports the settings.

Example:
    >>> from cnnkit import backend
    >>> backend.floatx()
    'float32'
    >>> backend.set_seed(0)
    >>> backend.rng().random(2).shape
    (2,)
"""

from __future__ import annotations

import contextlib
import contextvars
import ctypes
import math
import os
import sys
import threading

import numpy

xp = numpy

_FLOATX = "float32"
_VALID_FLOATX = ("float16", "float32", "float64")
_RNG = numpy.random.default_rng()
_CONV_WORKSPACE_BYTES = 2 * 1024 * 1024


def floatx() -> str:
    """The default float dtype of weights and activations (``"float32"``)."""
    return _FLOATX


def set_floatx(value: str) -> None:
    """Set the default float dtype: ``"float16"``, ``"float32"`` or ``"float64"``."""
    global _FLOATX
    value = str(value)
    if value not in _VALID_FLOATX:
        raise ValueError(
            f"Unknown `floatx` value. Expected one of {_VALID_FLOATX}. Received: floatx={value!r}"
        )
    _FLOATX = value


@contextlib.contextmanager
def floatx_scope(value: str):
    """Temporarily change the default float dtype (used by float64 gradient checks)."""
    old = floatx()
    set_floatx(value)
    try:
        yield
    finally:
        set_floatx(old)


# ---------------------------------------------------------------------------
# Keras's global settings and dtype rules (``keras.backend``/``keras.config``).
# ---------------------------------------------------------------------------

_EPSILON = 1e-7
_IMAGE_DATA_FORMAT = "channels_last"


def backend() -> str:
    """The name of the array backend: ``"numpy"`` (``keras.backend.backend()``)."""
    return "numpy"


def epsilon() -> float:
    """The fuzz factor added to denominators (``1e-7``, as in Keras).

    Example:
        >>> from cnnkit import backend
        >>> backend.epsilon()
        1e-07
    """
    return _EPSILON


def set_epsilon(value: float) -> None:
    """Set the fuzz factor :func:`epsilon` returns.

    Raises:
        ValueError: if ``value`` is not a real number (Keras stores anything; a string here
            would only fail later, inside a loss).
    """
    global _EPSILON
    if isinstance(value, bool) or not isinstance(value, (int, float, numpy.floating)):
        raise ValueError(
            f"Invalid value for argument `value`. Expected a float. Received: value={value!r}"
        )
    _EPSILON = float(value)


def image_data_format() -> str:
    """The default ``data_format`` of image layers: ``"channels_last"`` unless set."""
    return _IMAGE_DATA_FORMAT


def set_image_data_format(data_format: str) -> None:
    """Set the default ``data_format``: ``"channels_last"`` or ``"channels_first"``.

    cnnkit's image layers compute in ``channels_last`` only: with ``"channels_first"`` set,
    creating one without an explicit ``data_format="channels_last"`` raises a ``ValueError``
    that says so (Keras would lay its tensors out channels first).
    """
    global _IMAGE_DATA_FORMAT
    value = str(data_format).lower()
    if value not in ("channels_first", "channels_last"):
        raise ValueError(
            "The `data_format` argument must be one of {'channels_first', 'channels_last'}. "
            f"Received: data_format={data_format!r}"
        )
    _IMAGE_DATA_FORMAT = value


_MAX_EPOCHS: int | None = None
_MAX_STEPS_PER_EPOCH: int | None = None


def _optional_positive_int(name: str, value) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, numpy.integer)) or value < 1:
        raise ValueError(
            f"Invalid value for argument `{name}`. Expected a strictly positive integer or "
            f"None. Received: {name}={value!r}"
        )
    return int(value)


def max_epochs() -> int | None:
    """The cap on ``fit``'s epochs set by :func:`set_max_epochs` (``None``: no cap)."""
    return _MAX_EPOCHS


def set_max_epochs(max_epochs: int | None) -> None:
    """Cap the epochs of every ``fit`` (for debugging); ``None`` removes the cap."""
    global _MAX_EPOCHS
    _MAX_EPOCHS = _optional_positive_int("max_epochs", max_epochs)


def max_steps_per_epoch() -> int | None:
    """The cap on the batches of one ``fit`` epoch (``None``: no cap)."""
    return _MAX_STEPS_PER_EPOCH


def set_max_steps_per_epoch(max_steps_per_epoch: int | None) -> None:
    """Cap the batches of each ``fit`` epoch (for debugging); ``None`` removes the cap."""
    global _MAX_STEPS_PER_EPOCH
    _MAX_STEPS_PER_EPOCH = _optional_positive_int("max_steps_per_epoch", max_steps_per_epoch)


BOOL_TYPES = ("bool",)
INT_TYPES = ("uint8", "uint16", "uint32", "uint64", "int8", "int16", "int32", "int64")
FLOAT_TYPES = ("bfloat16", "float16", "float32", "float64")
WEAK_TYPES = ("int", "float")
COMPLEX_TYPES = ("complex64", "complex128")
FLOAT8_TYPES = ("float8_e4m3fn", "float8_e5m2")
ALLOWED_DTYPES = (
    *FLOAT_TYPES[1:],
    *INT_TYPES,
    "bfloat16",
    "bool",
    "string",
    *FLOAT8_TYPES,
    *COMPLEX_TYPES,
)
# Python's types, named as Keras's non-TensorFlow backends name them.
_PYTHON_DTYPES = {
    bool: "bool",
    int: "int32",
    float: "float32",
    str: "string",
    "int": "int32",
    complex: "complex64",
}


def standardize_dtype(dtype) -> str:
    """The canonical name of a dtype: ``"float32"``, ``"int32"``, ``"bool"``...

    Accepts names, NumPy dtypes and scalar types, and Python's ``bool``/``int``/``float``
    (``int`` is ``"int32"`` and ``float`` ``"float32"``, as on Keras's JAX, PyTorch and
    NumPy backends). ``None`` means :func:`floatx`.

    Raises:
        ValueError: for anything that is not one of Keras's dtypes.

    Example:
        >>> import numpy as np
        >>> from cnnkit import backend
        >>> backend.standardize_dtype(np.float64), backend.standardize_dtype(int)
        ('float64', 'int32')
    """
    if dtype is None:
        return floatx()
    try:
        dtype = _PYTHON_DTYPES.get(dtype, dtype)
    except TypeError:  # unhashable
        pass
    if hasattr(dtype, "name"):
        dtype = dtype.name
    elif hasattr(dtype, "__name__"):
        dtype = dtype.__name__
    if not isinstance(dtype, str) or dtype not in ALLOWED_DTYPES:
        raise ValueError(f"Invalid dtype: {dtype}")
    return dtype


def is_float_dtype(dtype) -> bool:
    """Whether ``dtype`` is a floating-point dtype (``float16``... ``bfloat16``)."""
    return standardize_dtype(dtype).startswith(("float", "bfloat"))


def is_int_dtype(dtype) -> bool:
    """Whether ``dtype`` is a signed or unsigned integer dtype."""
    return standardize_dtype(dtype).startswith(("int", "uint"))


def is_keras_tensor(x) -> bool:
    """Whether ``x`` is a symbolic tensor of a functional model (``Input(...)``'s output): what
    ``cnnkit.KerasTensor`` declares (``_is_keras_tensor``), so that saving needs no layer."""
    return getattr(type(x), "_is_keras_tensor", False) is True


def _promotion_lattice() -> dict[str, tuple[str, ...]]:
    """Each dtype and the dtypes immediately above it (JAX's lattice, as Keras uses it).

    The weak types ``"int"`` and ``"float"`` stand for Python scalars: they take the
    dtype of the array they meet (``int8 + 1`` stays ``int8``).
    """
    return {
        "bool": ("int",),
        "uint8": ("int16", "uint16"),
        "uint16": ("int32", "uint32"),
        "uint32": ("int64", "uint64"),
        "uint64": ("float",),
        "int": ("uint8", "int8", "complex64"),
        "int8": ("int16",),
        "int16": ("int32",),
        "int32": ("int64",),
        "int64": ("float",),
        "float": ("bfloat16", "float16"),
        "bfloat16": ("float32",),
        "float16": ("float32",),
        "float32": ("float64", "complex64"),
        "float64": ("complex128",),
        "complex64": ("complex128",),
        "complex128": (),
    }


def _upper_bounds() -> dict[str, frozenset]:
    """Every dtype's set of dtypes it promotes to (itself included)."""
    lattice = _promotion_lattice()
    bounds = {}
    for node in lattice:
        seen, stack = {node}, [node]
        while stack:
            for above in lattice[stack.pop()]:
                if above not in seen:
                    seen.add(above)
                    stack.append(above)
        bounds[node] = frozenset(seen)
    return bounds


_UPPER_BOUNDS = _upper_bounds()


def _least_upper_bound(nodes: set) -> str:
    unknown = [n for n in nodes if n not in _UPPER_BOUNDS]
    if unknown:
        raise ValueError(f"dtype={unknown[0]!r} is not a valid dtype for Keras type promotion.")
    common = frozenset.intersection(*(_UPPER_BOUNDS[n] for n in nodes))
    least = (common & nodes) or {c for c in common if common <= _UPPER_BOUNDS[c]}
    if len(least) != 1:
        raise ValueError(
            f"Input dtypes {tuple(sorted(nodes))} have no available implicit dtype promotion "
            "path. Try explicitly casting inputs to the desired output type."
        )
    return next(iter(least))


def _as_weak(dtype: str) -> str:
    """The weak type of a Python scalar's dtype: ``"int"``, ``"float"`` (``bool`` stays)."""
    if dtype == "bool":
        return dtype
    for kind in ("float", "int", "complex"):
        if kind in dtype:
            return kind
    raise ValueError(f"Invalid value for argument `dtype`. Received: dtype={dtype}")


def _resolve_weak(dtype: str, bits: str) -> str:
    """A weak result made concrete at the precision of :func:`floatx` (``"32"``)."""
    kind = "f" if dtype == "bfloat16" else dtype[:1]
    if kind == "b":
        return "bool"
    if kind == "i":
        return f"int{bits}"
    if kind == "u":
        return f"uint{bits}"
    return f"float{bits}"


# Keras's JAX, PyTorch and NumPy backends promote to 32 bits at most, as JAX does.
_TO_32_BITS = {
    "int64": "int32",
    "uint64": "uint32",
    "float64": "float32",
    "complex128": "complex64",
}


def result_type(*dtypes) -> str:
    """The dtype Keras's type promotion gives to ``dtypes`` (``keras.backend.result_type``).

    Each argument is a dtype (anything :func:`standardize_dtype` accepts; ``None`` means
    :func:`floatx`) or a Python scalar type: ``int`` and ``float`` are *weak*, they take
    the dtype of the arrays they meet (``int8`` with ``int`` is ``int8``, ``float16`` with
    ``float`` is ``float16``). Strong dtypes meet at their least upper bound on JAX's
    promotion lattice (``bool`` < ``uint8`` < ``int16``..., signed and unsigned integers
    meet at the next wider signed integer, integers with floats give floats). As on
    Keras's non-TensorFlow backends, 64-bit results are narrowed to 32 bits
    (``int64`` → ``int32``, ``float64`` → ``float32``), and a weak result takes the
    precision of :func:`floatx`. No argument gives :func:`floatx`.

    Raises:
        ValueError: for a float8 dtype (no implicit conversion), an unknown dtype, or
            dtypes without a common promotion.

    Example:
        >>> from cnnkit import backend
        >>> backend.result_type("int8", "uint8"), backend.result_type("int32", float)
        ('int16', 'float32')
        >>> backend.result_type("float16", float), backend.result_type("uint8", int)
        ('float16', 'uint8')
    """
    if not dtypes:
        return floatx()
    for dtype in dtypes:
        if isinstance(dtype, str) and dtype in FLOAT8_TYPES:
            raise ValueError(
                "There is no implicit conversions from float8 dtypes to others. You must "
                f"cast it explicitly. Received: {dtypes}"
            )
    args = [floatx() if d is None else d for d in dtypes]
    names = [standardize_dtype(d) for d in args]
    weak = [d is int or d is float for d in args]
    if len(names) == 1:
        out, out_weak = names[0], weak[0]
    elif len(set(names)) == 1 and not all(weak):
        out, out_weak = names[0], False
    elif all(weak):
        out, out_weak = _least_upper_bound(set(names)), True
    else:
        nodes = {_as_weak(n) if w else n for n, w in zip(names, weak, strict=True)}
        out = _least_upper_bound(nodes)
        out_weak = out in WEAK_TYPES
    if out_weak and out != "bool":
        out = _resolve_weak(out, floatx()[-2:])
    return _TO_32_BITS.get(out, out)


def set_seed(seed: int | None) -> None:
    """Re-seed cnnkit's random generator (weights, dropout, shuffling)."""
    global _RNG
    _RNG = numpy.random.default_rng(seed)


def rng() -> numpy.random.Generator:
    """The generator every random choice in cnnkit draws from."""
    return _RNG


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


_NAME_COUNTS: dict[str, int] = {}


def unique_name(prefix: str) -> str:
    """``prefix``, then ``prefix_1``, ``prefix_2``... for default layer and model names."""
    count = _NAME_COUNTS.get(prefix, 0)
    _NAME_COUNTS[prefix] = count + 1
    return prefix if count == 0 else f"{prefix}_{count}"


def get_uid(prefix: str = "") -> int:
    """The next integer id for ``prefix``, starting at 1 (``keras.backend.get_uid``).

    Shares its counters with the default layer names (:func:`unique_name`), as in Keras,
    and :func:`clear_session` resets them.

    Example:
        >>> from cnnkit import backend
        >>> backend.clear_session()
        >>> backend.get_uid("dense"), backend.get_uid("dense")
        (1, 2)
    """
    _NAME_COUNTS[prefix] = _NAME_COUNTS.get(prefix, 0) + 1
    return _NAME_COUNTS[prefix]


def clear_session(free_memory: bool = True) -> None:
    """Reset the default names and ids, as ``keras.backend.clear_session()`` does.

    Args:
        free_memory: also run Python's garbage collector (Keras's default).
    """
    _NAME_COUNTS.clear()
    if free_memory:
        import gc

        gc.collect()


def strided_view(a, shape: tuple, strides: tuple, offset: int = 0):
    """A view of the C-contiguous array ``a`` with explicit byte ``strides`` and byte ``offset``.

    The caller guarantees the view stays inside ``a`` (convolution windows do).
    """
    return xp.ndarray(shape, dtype=a.dtype, buffer=a, offset=offset, strides=strides)


def tune_allocator() -> bool:
    """Let glibc's malloc reuse freed array memory instead of returning it to the system.

    It changes the allocator of the whole process (every library in it), so importing
    cnnkit does not call it: the first ``fit``, ``evaluate`` or ``predict`` does. By default
    glibc maps large blocks fresh from the kernel and unmaps them when
    freed, so every step of a training loop page-faults its activations in again: on the
    VGG-style model that was 13,000 page faults and a third of the wall time per step.
    Raising the mmap threshold to 32 MiB and the trim threshold to 1 GiB keeps those pages
    in the process; peak memory is unchanged. The process keeps up to 1 GiB of freed memory.

    Returns:
        Whether the allocator was tuned: ``False`` where ``mallopt`` is not available
        (macOS, Windows, a C library other than glibc).
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3
    ok = mallopt(m_mmap_threshold, 32 * 1024 * 1024) == 1
    return mallopt(m_trim_threshold, 1024 * 1024 * 1024) == 1 and ok


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
        >>> from cnnkit import backend
        >>> backend.cpu_threads() >= 1
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


MIN_FLOPS_PER_THREAD = 25_000_000
"""Work below which a second thread does not pay: about 0.25 ms of one core's matrix
products. Waking a thread and waiting for it costs 20-90 µs here, and the lecture CNN's
training step (products of 3-42 MFLOP) was 25 % slower with its ops split."""


def threads_for(flops: int) -> int:
    """Threads worth using for ``flops`` floating-point operations: 1 to :func:`cpu_threads`.

    Example:
        >>> from cnnkit import backend
        >>> backend.threads_for(1000)
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
    """Within the block, once cnnkit shares out the cores itself, BLAS stays single-threaded.

    A training step alternates between cnnkit's own threads (:func:`parallel_map`) and
    matrix products. A multi-threaded BLAS keeps its idle threads spinning for a while
    after each product, on the very cores cnnkit's threads then need (a convolution's
    input gradient took 11 ms instead of 6 right after a small product). So the first
    time an op in the block fans out, BLAS is limited to one thread until the block
    ends, and later large products are split over the threads by :func:`matmul`. A
    step whose ops are all too small to split (:func:`threads_for`) leaves BLAS as it
    is. ``fit``, ``evaluate`` and ``predict`` run each step inside this block. Blocks
    nest; one thread at a time owns the region (others run as usual).

    Example:
        >>> from cnnkit import backend
        >>> with backend.parallel_region():
        ...     backend.cpu_threads() >= 1
        True
    """
    me = threading.get_ident()
    if _REGION.depth and _REGION.owner != me:
        yield  # another thread's region: leave its settings alone
        return
    if not _REGION.depth:
        _REGION.threads, _REGION.owner = cpu_threads(), me
    _REGION.depth += 1
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
            self._task = None
            self._done.release()

    def submit(self, fn, items) -> None:
        """Run ``[fn(item) for item in items]`` in a copy of the calling thread's context."""
        self._task = (contextvars.copy_context(), fn, items)
        self._start.release()

    def join(self) -> list:
        self._done.acquire()
        error, self._error = self._error, None
        if error is not None:
            raise error
        return self._result


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
        >>> from cnnkit import backend
        >>> backend.parallel_map(lambda k: k * k, [1, 2, 3])
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


def parallel_rows(fn, n: int, flops: int) -> list:
    """``fn(start, stop)`` over contiguous blocks of ``range(n)``, one per worthwhile thread.

    For ops whose rows (samples, pixels) are independent: each block writes its own
    slice of a preallocated output. ``flops`` is the whole job's cost in the units of
    :func:`threads_for`. Returns the calls' results in block order.

    Example:
        >>> import numpy as np
        >>> from cnnkit import backend
        >>> x = np.arange(6.0); out = np.empty(6)
        >>> _ = backend.parallel_rows(lambda a, b: np.multiply(x[a:b], 2, out=out[a:b]), 6, 10**9)
        >>> out.tolist()
        [0.0, 2.0, 4.0, 6.0, 8.0, 10.0]
    """
    threads = min(threads_for(flops), n)
    if threads < 2:
        return [fn(0, n)]
    bounds = [n * t // threads for t in range(threads + 1)]
    return parallel_map(lambda block: fn(*block), list(zip(bounds[:-1], bounds[1:])))


def chunked(n: int, bytes_per_sample: int, flops: int, body, ordered_sum: bool = False):
    """``body(start, stop, scratch)`` over chunks of a batch of ``n`` samples, on the threads.

    The one place where a kernel's batch is cut into pieces: the kernels keep their maths,
    this helper decides the chunks and the threads. A chunk holds as many samples as fit
    the workspace budget (:func:`conv_workspace_bytes`) shared by the threads, at
    ``bytes_per_sample`` each (at least one sample), so that what a chunk writes is still
    in the core's cache when it is read back. ``flops``, the whole job's cost, decides how
    many threads are worth waking (:func:`threads_for`); chunks are near-equal and their
    number a multiple of the thread count where the batch allows (:func:`_split_batch`).

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
        >>> from cnnkit import backend
        >>> x = np.arange(6.0)
        >>> total = backend.chunked(6, 8, 10**9, lambda a, b, _: x[a:b].sum(), ordered_sum=True)
        >>> float(total)
        15.0
    """
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


def _split_batch(n: int, bytes_per_sample: int, flops: int) -> list[list[tuple[int, int]]]:
    """:func:`chunked`'s chunks of a batch of ``n`` samples, dealt out to the threads.

    Each chunk takes at most ``conv_workspace_bytes() / threads`` bytes (at least one
    sample). Returns one list of ``(start, stop)`` per thread, a contiguous run of chunks,
    in a fixed order.
    """
    if n == 0:
        return [[(0, 0)]]
    threads = min(threads_for(flops), n)
    per_chunk = max(1, conv_workspace_bytes() // threads // max(bytes_per_sample, 1))
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
        >>> from cnnkit import backend
        >>> a = np.ones((3, 4), "float32")
        >>> backend.matmul(a, a.T).tolist()
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
        parallel_rows(lambda i, j: xp.matmul(a[i:j], b, out=out[i:j]), m, flops)
    else:  # blocks of columns
        parallel_rows(lambda i, j: xp.matmul(a, b[:, i:j], out=out[:, i:j]), n, flops)
    return out


def to_numpy(x):
    """Bring an array back to host NumPy (a no-op for the NumPy backend)."""
    return numpy.asarray(x)


def set_kernels(name: str) -> None:
    """Which implementation runs the kernels: ``"numpy"`` (the default), ``"reference"``
    (single-threaded loops, for checking), ``"auto"`` (oneDNN where installed and fast for
    the shape, else NumPy) or ``"onednn"``; see :mod:`cnnkit.kernels.dispatch` (and its
    ``use_kernels`` for one thread and one block only)."""
    from cnnkit.kernels import dispatch  # the kernels import this module

    dispatch.set_kernels(name)


def kernels_report(reset: bool = False) -> dict:
    """``{op: {implementation: runs}}``: which implementation ran each kernel, e.g.
    ``{"conv2d": {"onednn": 1876}}`` after a training epoch with the fast path on."""
    from cnnkit.kernels import dispatch

    return dispatch.kernels_report(reset)
