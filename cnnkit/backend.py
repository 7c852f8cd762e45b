"""The array backend: the one module that knows which array library runs the maths.

Everything else in cnnkit uses ``xp`` from here, never ``numpy`` directly for
computation, so a CuPy backend can replace it without touching ops or layers.

It also owns the global dtype policy (``float32`` by default, ``float64``
for gradient checks), the one seeded random generator and the memory budget
of the convolution workspace.

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


def clear_session() -> None:
    """Reset the default names, as ``keras.backend.clear_session()`` does."""
    _NAME_COUNTS.clear()


def strided_view(a, shape: tuple, strides: tuple, offset: int = 0):
    """A view of the C-contiguous array ``a`` with explicit byte ``strides`` and byte ``offset``.

    The caller guarantees the view stays inside ``a`` (convolution windows do).
    """
    return xp.ndarray(shape, dtype=a.dtype, buffer=a, offset=offset, strides=strides)


def _keep_freed_memory() -> None:
    """Let glibc's malloc reuse freed array memory instead of returning it to the system.

    By default glibc maps large blocks fresh from the kernel and unmaps them when
    freed, so every step of a training loop page-faults its activations in again:
    on the VGG-style model that was 13,000 page faults and a third of the wall
    time per step. Raising the mmap threshold to 32 MiB and the trim threshold to
    1 GiB keeps those pages in the process; peak memory is unchanged. Nothing is
    done where ``mallopt`` is not available (macOS, Windows).
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return
    m_trim_threshold, m_mmap_threshold = -1, -3
    mallopt(m_mmap_threshold, 32 * 1024 * 1024)
    mallopt(m_trim_threshold, 1024 * 1024 * 1024)


_keep_freed_memory()


def to_numpy(x):
    """Bring an array back to host NumPy (a no-op for the NumPy backend)."""
    return numpy.asarray(x)
