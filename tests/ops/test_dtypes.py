"""Keras's dtype promotion: ``result_type`` against Keras's own table, and the dtypes of op
results against ``keras.ops`` on the torch backend (when Keras is installed)."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest

from cnnkit import backend, ops
from cnnkit.ops import dtypes

ALL = [
    "bool",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "int8",
    "int16",
    "int32",
    "int64",
    "bfloat16",
    "float16",
    "float32",
    "float64",
]
WEAK = [int, float, bool]


@pytest.mark.parametrize(
    "args, expected",
    [
        (("int8", int), "int8"),
        (("uint8", int), "uint8"),
        (("int8", float), "float32"),
        (("float16", float), "float16"),
        (("bfloat16", int), "bfloat16"),
        (("uint8", "int8"), "int16"),
        (("uint16", "int16"), "int32"),
        (("uint32", "int8"), "int64"),
        (("uint64", "int8"), "float32"),  # no integer holds both: a weak float
        (("bool", "bool"), "bool"),
        (("bool", int), "int32"),
        ((int, float), "float32"),
        (("float16", "int64"), "float16"),
        (("bfloat16", "float16"), "float32"),
        (("float32", "float64"), "float64"),
        (("int32", "float32"), "float32"),
        ((), "float32"),
        ((None,), "float32"),
    ],
)
def test_promote_types_follows_the_lattice(args, expected):
    assert dtypes.promote_types(*args) == expected


def test_result_type_narrows_64_bits_like_keras_but_ops_keep_them():
    assert dtypes.result_type("float64", "float64") == "float32"
    assert dtypes.result_type("int64") == "int32"
    assert dtypes.promote_types("float64", "float64") == "float64"
    assert ops.add(np.ones(2), np.ones(2)).dtype == np.float64  # as Keras's torch backend


def test_weak_types_follow_floatx():
    with backend.floatx_scope("float64"):
        assert dtypes.promote_types(int, float) == "float64"
        assert dtypes.promote_types("int8", float) == "float64"
        assert ops.sin(np.arange(3)).dtype == np.float64


def test_unknown_dtype_is_refused():
    with pytest.raises(ValueError, match="dtype"):
        dtypes.standardize_dtype("float128x")
    with pytest.raises(ValueError, match="dtype"):
        dtypes.standardize_dtype(object)


def _keras():
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "torch":
        pytest.skip("the dtype table is compared on Keras's torch backend")
    return keras


def test_result_type_equals_keras_for_every_pair():
    keras = _keras()
    for a, b in itertools.product(ALL + WEAK, repeat=2):
        if a in WEAK and b in WEAK:
            continue
        expected = keras.backend.result_type(a, b)
        assert dtypes.result_type(a, b) == expected, (a, b)
    for a, b, c in itertools.product(["bool", "uint8", "int8", "float16", int, float], repeat=3):
        assert dtypes.result_type(a, b, c) == keras.backend.result_type(a, b, c), (a, b, c)


# dtypes Keras's torch backend supports as arrays; 64-bit inputs are left out because Keras
# 3.15 narrows them to 32 bits in some ops (matmul, maximum...) but not others (add, mean),
# while cnnkit keeps 64 bits everywhere (float64 gradient checks rely on it).
ARRAY_DTYPES = ["bool", "uint8", "int8", "int16", "int32", "float16", "float32"]
UNARY_OPS = [
    "abs",
    "negative",
    "square",
    "sign",
    "floor",
    "ceil",
    "trunc",
    "round",
    "sqrt",
    "exp",
    "log",
    "sin",
    "tanh",
    "arctan",
    "cbrt",
    "reciprocal",
    "log1p",
    "expm1",
    "isnan",
    "logical_not",
    "mean",
    "max",
    "var",
    "std",
    "cumsum",
    "argmax",
    "argsort",
    "sort",
    "count_nonzero",
    "median",
    "all",
    "erf",
    "rsqrt",
    "logsumexp",
    "ravel",
    "transpose",
    "flip",
    "norm",
    "diff",
    "nanmean",
    "ptp",
    "average",
    "i0",
]
BINARY_OPS = [
    "add",
    "subtract",
    "multiply",
    "divide",
    "power",
    "maximum",
    "minimum",
    "mod",
    "floor_divide",
    "arctan2",
    "hypot",
    "logaddexp",
    "equal",
    "less",
    "matmul",
    "dot",
    "divide_no_nan",
    "fmod",
    "heaviside",
    "tensordot",
    "outer",
    "inner",
    "kron",
    "vdot",
    "append",
]
KNOWN_DIFFERENCES = {
    # Keras's torch backend has no uint32: it sums uint8 in int32; cnnkit (like Keras's
    # NumPy backend) in uint32.
    ("sum", "uint8"),
    ("prod", "uint8"),
    ("trace", "uint8"),
    ("nansum", "uint8"),
    # torch's matmul has no int8 kernel; Keras widens int8 x int8 only.
    ("matmul", "bool", "int8"),
    ("matmul", "int8", "bool"),
}


def _kdtype(keras, x):
    return keras.backend.standardize_dtype(x.dtype)


@pytest.mark.parametrize("name", UNARY_OPS)
def test_unary_result_dtypes_equal_keras(name):
    keras = _keras()
    for d in ARRAY_DTYPES:
        x = np.array([[1, 0], [1, 1]]).astype(d)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                expected = _kdtype(keras, getattr(keras.ops, name)(x))
        except Exception:  # Keras refuses this dtype: nothing to compare
            continue
        if (name, d) in KNOWN_DIFFERENCES:
            continue
        assert str(np.asarray(getattr(ops, name)(x)).dtype) == expected, (name, d)


@pytest.mark.parametrize("name", BINARY_OPS)
def test_binary_result_dtypes_equal_keras(name):
    keras = _keras()
    values = ARRAY_DTYPES + [1, 1.0, True]
    for d1, d2 in itertools.product(values, repeat=2):
        if not isinstance(d1, str) and not isinstance(d2, str):
            continue
        a = np.ones((2, 2), d1) if isinstance(d1, str) else d1
        b = np.ones((2, 2), d2) if isinstance(d2, str) else d2
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                expected = _kdtype(keras, getattr(keras.ops, name)(a, b))
        except Exception:
            continue
        if (name, str(d1), str(d2)) in KNOWN_DIFFERENCES:
            continue
        got = getattr(ops, name)(a, b)
        assert str(np.asarray(got).dtype) == expected, (name, d1, d2)
