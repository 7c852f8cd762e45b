"""Keras 3's foundation names, by name: keras.random, config, backend, tree, constraints,
mixed_precision and the top level. Every public name exists in cnnkit or is excluded below
with a reason, so a Keras upgrade shows what is new. (``keras.ops`` has its own coverage test.)"""

from __future__ import annotations

import importlib

import pytest

import cnnkit

EXCLUDED: dict[str, dict[str, str]] = {
    "random": {},
    "config": {},
    "backend": {},
    "tree": {},
    "constraints": {},
    "mixed_precision": {},
    "": {
        "Function": "Keras's symbolic graph of Operations (keras.ops); cnnkit.autodiff.Function "
        "is a different concept (a differentiable kernel), so the name is not reused",
        "Operation": "the base class of Keras's symbolic ops; cnnkit's ops are functions",
        "Quantizer": "quantization is out of scope (float policies only)",
        "RematScope": "gradient rematerialisation is not implemented",
        "StatelessScope": "cnnkit has no stateless (JAX-style) execution of layers",
        "SymbolicScope": "Keras-internal scope of symbolic tracing",
        "distillation": "knowledge-distillation API, out of scope",
        "distribution": "multi-device distribution, out of scope (cnnkit runs on one CPU)",
        "legacy": "Keras 2 compatibility shims",
        "ops": "keras.ops is covered by its own coverage test",
        "quantizers": "quantization is out of scope",
        "remat": "gradient rematerialisation is not implemented",
        "src": "Keras's private source tree",
        "visualization": "bounding-box plotting helpers, out of scope (cnnkit.viz has plots)",
        "wrappers": "scikit-learn wrappers, out of scope",
    },
}


def _keras_names(keras, module: str) -> set[str]:
    target = keras if not module else getattr(keras, module)
    return {name for name in dir(target) if not name.startswith("_")}


def _cnnkit_module(module: str):
    return cnnkit if not module else importlib.import_module(f"cnnkit.{module}")


@pytest.mark.parametrize("module", sorted(EXCLUDED))
def test_every_in_scope_keras_name_exists(module):
    keras = pytest.importorskip("keras")
    ours = _cnnkit_module(module)
    missing = sorted(
        name
        for name in _keras_names(keras, module) - set(EXCLUDED[module])
        if not hasattr(ours, name)
    )
    assert not missing, f"keras.{module or '<top level>'} names missing from cnnkit: {missing}"


@pytest.mark.parametrize("module", sorted(EXCLUDED))
def test_exclusions_still_name_keras_names(module):
    keras = pytest.importorskip("keras")
    stale = sorted(set(EXCLUDED[module]) - _keras_names(keras, module))
    assert not stale, f"exclusions no longer in keras.{module}: {stale}"


def test_covered_names_are_what_keras_exports():
    pytest.importorskip("keras")
    # Kinds match: a Keras class is a cnnkit class, a Keras function a cnnkit callable.
    import inspect

    import keras

    for module in ("random", "config", "backend", "tree", "constraints"):
        theirs, ours = getattr(keras, module), _cnnkit_module(module)
        for name in _keras_names(keras, module) - set(EXCLUDED[module]):
            k, c = getattr(theirs, name), getattr(ours, name)
            assert inspect.isclass(k) == inspect.isclass(c), f"{module}.{name}"
            assert callable(k) == callable(c), f"{module}.{name}"
    for name in ("Loss", "Metric", "Optimizer", "Initializer", "Regularizer", "InputSpec"):
        assert inspect.isclass(getattr(cnnkit, name)), name
    assert cnnkit.version() == cnnkit.__version__
