"""cnnkit: convolutional neural networks from first principles on NumPy, with a Keras API.

``import cnnkit as keras`` and Keras code runs unchanged::

    import cnnkit as keras
    from cnnkit.layers import Input, Conv2D, Dense, Flatten
    from cnnkit.models import Model
"""

__version__ = "0.1.0"

import importlib

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
from cnnkit.layers import Input, KerasTensor, Layer
from cnnkit.models import Model, Sequential

# Imported on first use (``cnnkit.datasets.fashion_mnist``...), to keep ``import cnnkit`` fast.
_LAZY_SUBMODULES = ("applications", "datasets", "export", "preprocessing", "signal", "viz")
_LAZY_SUBMODULES += ("wrappers",)


def __getattr__(name: str):
    if name in _LAZY_SUBMODULES:
        module = importlib.import_module(f"cnnkit.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'cnnkit' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY_SUBMODULES))


__all__ = [
    "Input",
    "KerasTensor",
    "Layer",
    "Model",
    "Sequential",
    "Variable",
    "__version__",
    "activations",
    "applications",
    "backend",
    "callbacks",
    "datasets",
    "initializers",
    "layers",
    "losses",
    "metrics",
    "models",
    "optimizers",
    "preprocessing",
    "regularizers",
    "saving",
    "signal",
    "utils",
    "wrappers",
]
