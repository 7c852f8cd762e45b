"""cnnkit: convolutional neural networks from first principles on NumPy, with a Keras API.

``import cnnkit as keras`` and Keras code runs unchanged::

    import cnnkit as keras
    from cnnkit.layers import Input, Conv2D, Dense, Flatten
    from cnnkit.models import Model
"""

__version__ = "0.1.0"

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # what the lazy names below resolve to, for type checkers and editors
    from cnnkit import (
        activations,
        backend,
        callbacks,
        initializers,
        layers,
        losses,
        metrics,
        models,
        optimizers,
        regularizers,
        saving,
        utils,
    )
    from cnnkit.autodiff import Variable
    from cnnkit.dtype_policies import DTypePolicy, FloatDTypePolicy
    from cnnkit.initializers import Initializer
    from cnnkit.layers import Input, InputSpec, KerasTensor, Layer
    from cnnkit.losses import Loss
    from cnnkit.metrics import Metric
    from cnnkit.models import Model, Sequential
    from cnnkit.optimizers import Optimizer
    from cnnkit.regularizers import Regularizer
    from cnnkit.scopes import device, name_scope

# Every public name is imported on first use (``keras.layers.Dense``, ``from cnnkit import Model``),
# so that ``import cnnkit`` costs almost nothing: name -> the module that defines it.
_LAZY_ATTRIBUTES = {
    "Variable": "cnnkit.autodiff",
    "DTypePolicy": "cnnkit.dtype_policies",
    "FloatDTypePolicy": "cnnkit.dtype_policies",
    "Initializer": "cnnkit.initializers",
    "Input": "cnnkit.layers",
    "InputSpec": "cnnkit.layers",
    "KerasTensor": "cnnkit.layers",
    "Layer": "cnnkit.layers",
    "Loss": "cnnkit.losses",
    "Metric": "cnnkit.metrics",
    "Model": "cnnkit.models",
    "Sequential": "cnnkit.models",
    "Optimizer": "cnnkit.optimizers",
    "Regularizer": "cnnkit.regularizers",
    "device": "cnnkit.scopes",
    "name_scope": "cnnkit.scopes",
}
_LAZY_SUBMODULES = ("activations", "backend", "callbacks", "initializers", "layers", "losses")
_LAZY_SUBMODULES += ("metrics", "models", "optimizers", "regularizers", "saving", "utils")
# Imported on first use (``cnnkit.datasets.fashion_mnist``...), to keep ``import cnnkit`` fast.
_LAZY_SUBMODULES += ("applications", "datasets", "export", "ops", "preprocessing", "signal", "viz")
_LAZY_SUBMODULES += ("config", "constraints", "distribution", "dtype_policies", "random", "tree")
_LAZY_SUBMODULES += ("wrappers",)
_LAZY_SUBMODULES += ("mixed_precision",)


def version() -> str:
    """cnnkit's version (``keras.version()`` gives Keras's)."""
    return __version__


def __getattr__(name: str):
    if name in _LAZY_SUBMODULES:
        module = importlib.import_module(f"cnnkit.{name}")
        globals()[name] = module
        return module
    if name in _LAZY_ATTRIBUTES:
        value = getattr(importlib.import_module(_LAZY_ATTRIBUTES[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'cnnkit' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY_SUBMODULES) | set(_LAZY_ATTRIBUTES))


__all__ = [
    "DTypePolicy",
    "FloatDTypePolicy",
    "Initializer",
    "Input",
    "InputSpec",
    "KerasTensor",
    "Layer",
    "Loss",
    "Metric",
    "Model",
    "Optimizer",
    "Regularizer",
    "Sequential",
    "Variable",
    "__version__",
    "activations",
    "applications",
    "backend",
    "callbacks",
    "config",
    "constraints",
    "datasets",
    "device",
    "dtype_policies",
    "initializers",
    "layers",
    "losses",
    "metrics",
    "mixed_precision",
    "models",
    "name_scope",
    "optimizers",
    "preprocessing",
    "random",
    "regularizers",
    "saving",
    "signal",
    "tree",
    "utils",
    "version",
    "wrappers",
]
