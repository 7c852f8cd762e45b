"""cnnkit: convolutional neural networks from first principles on NumPy, with a Keras API.

``import cnnkit as keras`` and Keras code runs unchanged::

    import cnnkit as keras
    from cnnkit.layers import Input, Conv2D, Dense, Flatten
    from cnnkit.models import Model
"""

__version__ = "0.1.0"

from cnnkit import (
    activations,
    applications,
    backend,
    callbacks,
    datasets,
    initializers,
    layers,
    losses,
    metrics,
    models,
    optimizers,
    preprocessing,
    regularizers,
    saving,
    signal,
    utils,
)
from cnnkit.autodiff import Variable
from cnnkit.layers import Input, KerasTensor, Layer
from cnnkit.models import Model, Sequential

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
]
