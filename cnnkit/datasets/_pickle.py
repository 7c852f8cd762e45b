"""Unpickling the CIFAR batches without letting a pickle run code.

A pickle is a small program: its ``GLOBAL``/``STACK_GLOBAL`` opcodes name any importable callable
and ``REDUCE`` calls it, so ``pickle.loads`` on a crafted file can run ``os.system``. The
official CIFAR batches were written by Python 2's ``cPickle`` (protocol 2): a dict of ``str``
keys (``bytes`` here, with ``encoding="bytes"``) holding lists of ints, ``str`` and one NumPy
array. Rebuilding that array needs exactly three globals, which are the only ones allowed:

* ``numpy.core.multiarray._reconstruct`` (``numpy._core.multiarray`` since NumPy 2);
* ``numpy.ndarray``;
* ``numpy.dtype``.

``RestrictedUnpickler.find_class`` maps those names to guarded stand-ins (it never imports a
module by name) and raises ``pickle.UnpicklingError`` for every other global, so nothing named
by the file is ever called. ``_reconstruct`` is held to the arguments NumPy writes
(``numpy.ndarray``, shape ``(0,)``): no subclass, no huge allocation; ``numpy.ndarray`` is a
marker only ``_reconstruct`` accepts, never called; ``numpy.dtype`` gives only NumPy's shared
built-in numeric dtypes, which ignore ``__setstate__``, so a pickle cannot make one hold object
pointers read from its bytes. Persistent ids are
refused by ``pickle.Unpickler`` itself, and the extension registry goes through ``find_class``
too. A batch re-pickled by Python 3 with protocol 2 needs ``_codecs.encode`` for its ``bytes``
and is refused as well: only the official layout is accepted.

The loaders check the archive's SHA-256 *before* anything is unpickled, so this is a second
line of defence, not the first.

Example:
    >>> import pickle
    >>> restricted_loads(pickle.dumps({"labels": [0, 1]}), "batch")
    {'labels': [0, 1]}
    >>> restricted_loads(pickle.dumps(eval), "batch")
    Traceback (most recent call last):
    ...
    ValueError: batch: refused to unpickle the global builtins.eval: ...
"""

from __future__ import annotations

import io
import pickle
import pickletools

import numpy

# ndarray.__reduce__ names the array-rebuilding function; taking it from there works for
# NumPy 1 (numpy.core) and 2 (numpy._core) without importing either module by name.
_NUMPY_RECONSTRUCT = numpy.empty(0).__reduce__()[0]


class _Ndarray:
    """What ``numpy.ndarray`` resolves to: an argument of ``_reconstruct``, not callable.

    Calling ``numpy.ndarray(shape, dtype)`` from a pickle would allocate any size.
    """

    def __repr__(self) -> str:
        return "<class 'numpy.ndarray'>"


_NDARRAY = _Ndarray()


def _reconstruct(subtype, shape, dtype):
    """``_reconstruct`` as ``ndarray.__reduce__`` calls it: a plain, empty ``(0,)`` array.

    The real data arrives afterwards through ``ndarray.__setstate__``; refusing any other
    arguments keeps a crafted pickle from asking for a subclass or a huge allocation.
    """
    if subtype is not _NDARRAY or tuple(shape) != (0,):
        raise pickle.UnpicklingError(
            f"refused _reconstruct({subtype!r}, {shape!r}, ...): NumPy pickles an array as "
            "_reconstruct(numpy.ndarray, (0,), ...)"
        )
    return _NUMPY_RECONSTRUCT(numpy.ndarray, (0,), dtype)


def _dtype(obj, align=False, copy=False) -> numpy.dtype:
    """``numpy.dtype(obj)``, only for NumPy's shared built-in numeric dtypes (``uint8``...).

    ``BUILD`` then calls ``__setstate__`` on it, which NumPy ignores for those shared
    instances; on a copy, a crafted state could add object fields whose pointers the array's
    bytes would provide.
    """
    dtype = numpy.dtype(obj)
    if dtype.isbuiltin != 1 or dtype.hasobject:
        raise pickle.UnpicklingError(
            f"refused numpy.dtype({obj!r}): only plain built-in numeric dtypes are allowed"
        )
    return dtype


ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy", "ndarray"): _NDARRAY,
    ("numpy", "dtype"): _dtype,
}

# What a truncated or garbled stream raises from the C unpickler or numpy's setstate
# (MemoryError: a shape whose size overflows, refused before anything is allocated;
# OverflowError: a FRAME claiming more than 2**63 bytes, from pickletools).
CORRUPT_PICKLE_ERRORS = (
    EOFError,
    ValueError,
    TypeError,
    AttributeError,
    IndexError,
    KeyError,
    MemoryError,
    OverflowError,
)
IMAGE_SHAPE = (32, 32, 3)  # height, width, channels (NHWC, Keras's channels_last)
_PIXELS = 32 * 32 * 3


class RestrictedUnpickler(pickle.Unpickler):
    """A ``pickle.Unpickler`` that resolves only the globals in ``ALLOWED_GLOBALS``.

    Raises:
        pickle.UnpicklingError: from ``load()`` when the pickle names any other global.
    """

    def find_class(self, module: str, name: str):
        try:
            return ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"refused to unpickle the global {module}.{name}: only "
                + ", ".join(f"{m}.{n}" for m, n in ALLOWED_GLOBALS)
                + " are allowed"
            ) from None


def _check_memo_indexes(data: bytes) -> None:
    """Refuse a memo index larger than the pickle itself, before unpickling.

    The C unpickler grows its memo to twice the index a ``PUT`` names and zeroes it, so the
    9-byte pickle ``PROTO 2, EMPTY_LIST, LONG_BINPUT 2**30, STOP`` would make it allocate and
    touch 16 GiB. A genuine pickle memoizes at most one object per opcode, so its indexes stay
    below its length.

    Raises:
        pickle.UnpicklingError: for such an index; ValueError for an unreadable opcode.
    """
    for opcode, arg, _ in pickletools.genops(data):
        if opcode.name in ("PUT", "BINPUT", "LONG_BINPUT") and arg >= len(data):
            raise pickle.UnpicklingError(
                f"refused memo index {arg}, larger than the {len(data)}-byte pickle"
            )


def restricted_loads(data: bytes, name: str):
    """Unpickle ``data`` with ``RestrictedUnpickler`` (``encoding="bytes"``, as Keras reads CIFAR).

    Args:
        data: the pickle.
        name: the member's name, for error messages.

    Returns:
        The unpickled object.

    Raises:
        ValueError: naming ``name``, for a refused global or a corrupt pickle.
    """
    try:
        _check_memo_indexes(data)
        return RestrictedUnpickler(io.BytesIO(data), encoding="bytes").load()
    except pickle.UnpicklingError as e:
        if str(e).startswith("refused"):
            raise ValueError(
                f"{name}: {e}. The file is not an official CIFAR batch; it was not loaded."
            ) from None
        raise ValueError(f"{name}: corrupt pickle ({e}).") from e
    except CORRUPT_PICKLE_ERRORS as e:
        raise ValueError(f"{name}: corrupt pickle ({type(e).__name__}: {e}).") from e


def load_batch(
    data: bytes, name: str, *, label_key: bytes, num_classes: int
) -> tuple[numpy.ndarray, numpy.ndarray]:
    """Unpickle one CIFAR batch and check its content.

    A batch is a dict with ``b"data"``, a ``(n, 3072)`` ``uint8`` array whose rows are images in
    channel-first row-major order (1024 red values, row by row, then 1024 green, then 1024
    blue), and ``label_key``, a list of ``n`` ints in ``0..num_classes - 1``.

    Args:
        data: the pickled batch.
        name: the member's name, for error messages.
        label_key: ``b"labels"`` (CIFAR-10), ``b"fine_labels"`` or ``b"coarse_labels"``.
        num_classes: labels must be below this.

    Returns:
        ``(images, labels)``: ``uint8`` ``(n, 32, 32, 3)`` (NHWC, contiguous) and ``int64``
        ``(n,)``.

    Raises:
        ValueError: naming ``name``, for a refused or corrupt pickle, or content of the wrong
            type, shape, dtype or range.
    """
    batch = restricted_loads(data, name)
    if not isinstance(batch, dict):
        raise ValueError(f"{name}: expected a pickled dict, found {type(batch).__name__}.")
    for key in (b"data", label_key):
        if key not in batch:
            found = sorted(repr(k) for k in batch)
            raise ValueError(f"{name}: no {key!r} entry in the batch (found {', '.join(found)}).")
    images, labels = batch[b"data"], batch[label_key]
    if (
        type(images) is not numpy.ndarray
        or images.dtype != numpy.uint8
        or images.ndim != 2
        or images.shape[1] != _PIXELS
    ):
        found = (
            f"{images.dtype} array of shape {images.shape}"
            if isinstance(images, numpy.ndarray)
            else type(images).__name__
        )
        raise ValueError(f"{name}: b'data' must be a uint8 array (n, {_PIXELS}); found {found}.")
    if not isinstance(labels, list) or not all(type(v) is int for v in labels):
        raise ValueError(f"{name}: {label_key!r} must be a list of ints.")
    if len(labels) != len(images):
        raise ValueError(f"{name}: {len(images)} images but {len(labels)} labels.")
    y = numpy.asarray(labels, dtype=numpy.int64).reshape(len(labels))
    if len(y) and (int(y.min()) < 0 or int(y.max()) >= num_classes):
        bad = int(y.min()) if int(y.min()) < 0 else int(y.max())
        raise ValueError(f"{name}: label {bad} out of range, expected 0..{num_classes - 1}.")
    # (n, 3072) -> (n, 3, 32, 32) channel-first -> (n, 32, 32, 3) channel-last
    x = images.reshape(len(images), 3, 32, 32).transpose(0, 2, 3, 1)
    return numpy.ascontiguousarray(x), y
