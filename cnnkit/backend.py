"""The array backend: Keras's global settings and dtype rules, cnnkit's random generator.

Everything in cnnkit computes with ``xp`` (from here or from the kernel layer, never
``numpy`` directly), so a CuPy backend can replace it without touching ops or layers. The
array module, the CPU threads and the workspace budget belong to the kernel layer
(:mod:`cnnkit.kernels.threads`, used by the NumPy kernels of :mod:`cnnkit.kernels.numpy_ops`);
this module re-exports the names users call: :func:`cpu_threads`,
:func:`conv_workspace_bytes`, :func:`set_conv_workspace_bytes`, :func:`parallel_map`,
:func:`parallel_region` and :func:`matmul`.

It owns the global dtype policy (``float32`` by default, ``float64`` for gradient checks)
and the one seeded random generator.

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
import ctypes
import sys

import numpy

from cnnkit.kernels.threads import (  # noqa: F401 - re-exported, the kernel layer owns them
    conv_workspace_bytes,
    cpu_threads,
    matmul,
    parallel_map,
    parallel_region,
    set_conv_workspace_bytes,
    xp,
)

_FLOATX = "float32"
_VALID_FLOATX = ("float16", "float32", "float64")
_RNG = numpy.random.default_rng()


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


def tuning_report(reset: bool = False) -> dict:
    """With ``set_kernels("auto")``, the races run so far: for each op and shape, which
    implementation won and each one's median milliseconds (see
    :func:`cnnkit.kernels.dispatch.tuning_report`)."""
    from cnnkit.kernels import dispatch

    return dispatch.tuning_report(reset)
