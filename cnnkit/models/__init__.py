"""Models, as in ``keras.models``: ``Model``, ``Sequential``, loading, saving and cloning."""

from cnnkit.models.cloning import clone_model
from cnnkit.models.functional import Functional
from cnnkit.models.model import Model, model_from_json
from cnnkit.models.sequential import Sequential
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
