"""Models, as in ``keras.models``: the functional ``Model`` and ``Sequential``."""

from cnnkit.models.functional import Functional
from cnnkit.models.model import Model
from cnnkit.models.sequential import Sequential

__all__ = ["Functional", "Model", "Sequential"]
