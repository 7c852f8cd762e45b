"""Tests for Keras's names in cnnkit.backend: dtype promotion, settings, ids."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from cnnkit import backend
from cnnkit.layers import Input

_DTYPES = [
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
    "complex64",
    "complex128",
]
_ARGS = [*_DTYPES, int, float, bool, None]


def _pairs():
    return list(itertools.combinations_with_replacement(_ARGS, 2))


def _keras_result(kb, *args):
    try:
        return kb.result_type(*args)
    except ValueError:
        return ValueError


def _ours(*args):
    try:
        return backend.result_type(*args)
    except ValueError:
        return ValueError


def test_result_type_matches_keras_on_every_pair_and_some_triples():
    keras = pytest.importorskip("keras")
    kb = keras.backend
    cases = [(a,) for a in _ARGS] + _pairs()
    cases += [("int8", "uint8", int), ("bool", int, float), (int, float, "float16")]
    cases += [("uint32", "int32", "float16"), (None, "int64", float), ()]
    mismatches = [(c, _ours(*c), _keras_result(kb, *c)) for c in cases]
    mismatches = [m for m in mismatches if m[1] != m[2]]
    assert not mismatches
    assert len(cases) > 200


def test_result_type_known_values():
    # JAX's lattice: mixed signedness widens, weak scalars take the array's dtype.
    assert backend.result_type("int8", "uint8") == "int16"
    assert backend.result_type("uint8", int) == "uint8"
    assert backend.result_type("float16", float) == "float16"
    assert backend.result_type("int16", float) == "float32"
    assert backend.result_type("bool", "bool") == "bool"
    assert backend.result_type() == "float32"


def test_result_type_follows_floatx_for_weak_results():
    with backend.floatx_scope("float16"):
        assert backend.result_type(float) == "float16"
        assert backend.result_type(None, "int8") == "float16"
        assert backend.result_type("float32", float) == "float32"


def test_result_type_refuses_float8_and_unknown_dtypes():
    with pytest.raises(ValueError, match="float8"):
        backend.result_type("float8_e4m3fn", "float32")
    with pytest.raises(ValueError, match="Invalid dtype"):
        backend.result_type("float33")


def test_standardize_dtype_matches_keras():
    keras = pytest.importorskip("keras")
    inputs = [None, int, float, bool, "int", np.float64, np.dtype("int8"), "uint16", np.bool_]
    for value in inputs:
        assert backend.standardize_dtype(value) == keras.backend.standardize_dtype(value)
    with pytest.raises(ValueError, match="Invalid dtype: floaty"):
        backend.standardize_dtype("floaty")


def test_dtype_predicates():
    assert backend.is_float_dtype("bfloat16") and backend.is_float_dtype(np.float64)
    assert not backend.is_float_dtype("int8")
    assert backend.is_int_dtype("uint8") and backend.is_int_dtype(int)
    assert not backend.is_int_dtype("bool")


def test_settings_round_trip_and_validate():
    assert backend.backend() == "numpy"
    assert backend.epsilon() == 1e-7
    backend.set_epsilon(1e-5)
    try:
        assert backend.epsilon() == 1e-5
    finally:
        backend.set_epsilon(1e-7)
    with pytest.raises(ValueError, match="Expected a float"):
        backend.set_epsilon("small")
    assert backend.image_data_format() == "channels_last"
    with pytest.raises(ValueError, match="channels_first"):
        backend.set_image_data_format("channels_middle")
    assert backend.image_data_format() == "channels_last"


def test_get_uid_counts_per_prefix_and_clear_session_resets():
    backend.clear_session()
    assert [backend.get_uid("foo"), backend.get_uid("foo"), backend.get_uid("bar")] == [1, 2, 1]
    backend.clear_session()
    assert backend.get_uid("foo") == 1


def test_is_keras_tensor():
    assert backend.is_keras_tensor(Input((3,)))
    assert not backend.is_keras_tensor(np.zeros(3))


def test_the_threads_and_workspace_names_are_the_kernel_layers():
    from cnnkit.kernels import numpy_ops, threads

    for name in ("cpu_threads", "parallel_map", "parallel_region", "matmul", "xp"):
        assert getattr(backend, name) is getattr(threads, name), name
    assert numpy_ops.chunked is threads.chunked and numpy_ops.xp is backend.xp
    old = backend.conv_workspace_bytes()
    backend.set_conv_workspace_bytes(4096)
    try:
        assert threads.conv_workspace_bytes() == numpy_ops.conv_workspace_bytes() == 4096
    finally:
        backend.set_conv_workspace_bytes(old)
    with pytest.raises(ValueError, match="Expected a strictly positive integer"):
        backend.set_conv_workspace_bytes(0)
