"""Models, as in ``keras.models``: ``Model``, ``Sequential``, loading, saving and cloning."""

from typing import TYPE_CHECKING

from cnnkit.models.cloning import clone_model
from cnnkit.models.functional import Functional
from cnnkit.models.model import Model, model_from_json
from cnnkit.models.sequential import Sequential

if TYPE_CHECKING:  # imported on first use: building a model does not need the file formats
    from cnnkit.saving.saving_api import load_model, save_model

__all__ = [
    "Functional",
    "Model",
    "Sequential",
    "clone_model",
    "load_model",
    "save_model",
    "model_from_json",
]


def __getattr__(name: str):
    if name in ("load_model", "save_model"):
        # loaded on first use, so that `import cnnkit.models` stays light
        from cnnkit.saving import saving_api

        value = getattr(saving_api, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'cnnkit.models' has no attribute {name!r}")
