"""Tests for cnnkit.name_scope and cnnkit.device."""

from __future__ import annotations

import pytest

import cnnkit
from cnnkit import scopes


def _kernel_path(name="proj"):
    layer = cnnkit.layers.Dense(2, name=name)
    layer.build((None, 3))
    return layer.kernel.path


def test_name_scopes_nest_into_weight_paths():
    assert _kernel_path() == "proj/kernel"
    with cnnkit.name_scope("outer"):
        assert scopes.current_path() == "outer"
        with cnnkit.name_scope("inner"):
            assert _kernel_path() == "outer/inner/proj/kernel"
        assert _kernel_path("p2") == "outer/p2/kernel"
    assert scopes.current_path() == ""


def test_name_scope_matches_keras_paths():
    keras = pytest.importorskip("keras")
    with keras.name_scope("outer"), keras.name_scope("inner"):
        layer = keras.layers.Dense(2, name="proj")
        layer.build((None, 3))
    with cnnkit.name_scope("outer"), cnnkit.name_scope("inner"):
        ours = _kernel_path()
    assert ours == layer.kernel.path


def test_deduplicate_and_override_parent():
    owner = object()
    with scopes.name_scope("a", caller=owner), scopes.name_scope("a", caller=owner):
        assert scopes.current_path() == "a"
    with scopes.name_scope("a"), scopes.name_scope("b", override_parent="x/y"):
        assert scopes.current_path() == "x/y/b"
    with pytest.raises(ValueError, match="cannot contain character `/`"):
        scopes.name_scope("a/b")


def test_device_accepts_the_cpu_and_refuses_accelerators():
    with cnnkit.device("CPU:0") as name:
        assert name == "cpu:0"
    with pytest.raises(ValueError, match="CPU with NumPy only.*'gpu:0'"):
        with cnnkit.device("gpu:0"):
            pass
    with pytest.raises(ValueError, match="Expected a string"):
        with cnnkit.device(0):
            pass
