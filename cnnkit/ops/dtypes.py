"""Keras 3's dtype promotion: one lattice for every op in ``cnnkit.ops``.

Keras (following JAX) promotes dtypes along a lattice rather than NumPy's value-based
rules, and treats Python scalars as *weak* types that adopt the other operand's kind::

    bool -> int* -> uint8 -> uint16 -> uint32 -> uint64 -> float*
                 -> int8  -> int16  -> int32  -> int64  -> float*
    (uint8 -> int16, uint16 -> int32, uint32 -> int64)
    float* -> bfloat16, float16 -> float32 -> float64

``int*`` and ``float*`` are the weak types of Python ``int`` and ``float``. The result of
mixing types is their least upper bound; a weak result resolves to the precision of
``floatx()`` (``int32``/``float32`` by default). So ``int8 + 1 -> int8``,
``int32 + 1.0 -> float32``, ``uint8 + int8 -> int16``, ``float16 + int64 -> float16``.

:func:`result_type` is Keras's public ``keras.backend.result_type``, which (outside
TensorFlow) also narrows every 64-bit result to 32 bits. The ops themselves keep 64-bit
inputs at 64 bits, as Keras's torch backend does on arrays (``float64 + float64`` is
``float64``): they use :func:`promote_types`, the same lattice without that narrowing.

Example:
    >>> result_type("int8", int), result_type("int32", float), result_type("uint8", "int8")
    ('int8', 'float32', 'int16')
    >>> promote_types("float64", "int32"), result_type("float64", "int32")
    ('float64', 'float32')
"""

from __future__ import annotations

import functools

import numpy as np

from cnnkit import backend

INT_TYPES = ("uint8", "uint16", "uint32", "uint64", "int8", "int16", "int32", "int64")
FLOAT_TYPES = ("bfloat16", "float16", "float32", "float64")
ALLOWED_DTYPES = ("bool", *INT_TYPES, *FLOAT_TYPES, "string")
_WEAK = {int: "int", float: "float"}

# Each dtype's immediate successors on the lattice ("int"/"float" are the weak types).
_LATTICE = {
    "bool": ("int",),
    "int": ("uint8", "int8"),
    "uint8": ("int16", "uint16"),
    "uint16": ("int32", "uint32"),
    "uint32": ("int64", "uint64"),
    "uint64": ("float",),
    "int8": ("int16",),
    "int16": ("int32",),
    "int32": ("int64",),
    "int64": ("float",),
    "float": ("bfloat16", "float16"),
    "bfloat16": ("float32",),
    "float16": ("float32",),
    "float32": ("float64",),
    "float64": (),
}


def _upper_bounds() -> dict:
    """Every dtype's set of upper bounds (itself included), by walking the lattice."""
    bounds = {}
    for node in _LATTICE:
        seen, todo = {node}, [node]
        while todo:
            for nxt in _LATTICE[todo.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        bounds[node] = seen
    return bounds


_UPPER = _upper_bounds()
_NARROW_64 = {"int64": "int32", "uint64": "uint32", "float64": "float32"}


def standardize_dtype(dtype=None) -> str:
    """A dtype's Keras name (``"float32"``, ``"int64"``, ``"bool"``...); ``None`` is floatx.

    Python ``int`` is ``"int32"`` and ``float`` is ``"float32"``, as on Keras's non-TensorFlow
    backends.

    Raises:
        ValueError: for a dtype Keras does not know.
    """
    if dtype is None:
        return backend.floatx()
    if dtype is int:
        return "int32"
    if dtype is float:
        return "float32"
    if dtype is bool:
        return "bool"
    if dtype == "bfloat16":
        return "bfloat16"
    if hasattr(dtype, "dtype") and not isinstance(dtype, type):  # an array or a tensor
        dtype = dtype.dtype
    try:
        name = np.dtype(dtype).name
    except TypeError as err:
        raise ValueError(
            f"Invalid value for argument `dtype`. Expected one of {ALLOWED_DTYPES}. "
            f"Received: dtype={dtype!r}"
        ) from err
    if name.startswith("str") or name.startswith("bytes"):
        return "string"
    if name not in ALLOWED_DTYPES and not name.startswith("complex"):
        raise ValueError(
            f"Invalid value for argument `dtype`. Expected one of {ALLOWED_DTYPES}. "
            f"Received: dtype={dtype!r}"
        )
    return name


@functools.lru_cache(maxsize=1024)
def _least_upper_bound(nodes: frozenset) -> str:
    common = set.intersection(*(_UPPER[n] for n in nodes))
    least = (common & nodes) or {c for c in common if common <= _UPPER[c]}
    if len(least) != 1:
        raise ValueError(
            f"Input dtypes {tuple(sorted(nodes))} have no available implicit dtype promotion "
            "path. Try explicitly casting inputs to the desired output type."
        )
    return least.pop()


def _lattice(*dtypes) -> str:
    names, weak = [], []
    for d in dtypes:
        if d is None:
            d = backend.floatx()
        is_weak = d is int or d is float
        names.append(_WEAK[d] if is_weak else standardize_dtype(d))
        weak.append(is_weak)
    if len(set(names)) == 1:
        out = names[0]
    else:
        out = _least_upper_bound(frozenset(names))
    if out in ("int", "float"):  # a weak result takes floatx's precision
        bits = backend.floatx()[-2:]
        out = f"{out}{bits}"
    return out


def promote_types(*dtypes) -> str:
    """The dtype an op on these dtypes computes in (Keras's lattice; 64 bits kept).

    Args:
        *dtypes: dtype names, NumPy dtypes, or the Python types ``int``/``float``/``bool``
            standing for Python scalars (weak types).
    """
    if not dtypes:
        return backend.floatx()
    return _lattice(*dtypes)


def result_type(*dtypes) -> str:
    """Keras's ``keras.backend.result_type``: the lattice's answer, narrowed to 32 bits.

    Args:
        *dtypes: dtype names, NumPy dtypes, or ``int``/``float``/``bool`` (Python scalars).

    Returns:
        The promoted dtype's name; ``floatx()`` when no dtype is given.

    Raises:
        ValueError: for dtypes with no common promotion (none among the supported ones).

    Example:
        >>> result_type("int64", "int64"), result_type(int, float), result_type("bool", int)
        ('int32', 'float32', 'int32')
    """
    out = promote_types(*dtypes)
    return _NARROW_64.get(out, out)


def dtype_of(x) -> str | type:
    """The dtype an op sees for ``x``: a Python scalar's weak type, else the array's dtype."""
    if isinstance(x, bool):
        return "bool"
    if isinstance(x, int):
        return int
    if isinstance(x, float):
        return float
    dtype = getattr(x, "dtype", None)
    if dtype is None:
        dtype = np.asarray(x).dtype
    return standardize_dtype(dtype)


def is_float(dtype) -> bool:
    return "float" in standardize_dtype(dtype)


def is_int(dtype) -> bool:
    return "int" in standardize_dtype(dtype)


def float_of(dtype) -> str:
    """The float dtype an int/bool input is computed in (floatx); floats keep their dtype."""
    dtype = standardize_dtype(dtype)
    return dtype if "float" in dtype else backend.floatx()
