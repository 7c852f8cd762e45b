"""Saving and loading models, as in ``keras.saving``: Keras 3's ``.keras`` and ``.weights.h5``.

- :mod:`~cnnkit.saving.saving_api`: ``save_model``, ``load_model``, ``save_weights``,
  ``load_weights``.
- :mod:`~cnnkit.saving.serialization`: ``serialize_keras_object`` /
  ``deserialize_keras_object`` (configs in Keras 3's JSON layout).
- :mod:`~cnnkit.saving.object_registration`: ``register_keras_serializable``,
  ``custom_object_scope``, ``get_registered_object``.
- :mod:`~cnnkit.saving.builtin_names`: Keras's public names of cnnkit's built-in classes.
- :mod:`~cnnkit.saving.keras_configs`: dtype policies, arguments only one library has,
  build configs.
- :mod:`~cnnkit.saving.h5_weights`: the HDF5 weights layout.
- :mod:`~cnnkit.saving.archive`: the zip archive, its safety checks and the atomic write.

Files written by cnnkit load in Keras 3 and the other way round. Loading never unpickles,
never evaluates code and never imports a module named in a file.

Example:
    >>> import os, tempfile
    >>> import numpy as np
    >>> from cnnkit.layers import Input, Dense
    >>> from cnnkit.models import Sequential
    >>> model = Sequential([Input((3,)), Dense(2)])
    >>> path = os.path.join(tempfile.mkdtemp(), "model.keras")
    >>> save_model(model, path)
    >>> x = np.ones((1, 3), "float32")
    >>> bool((load_model(path).predict(x, verbose=0) == model.predict(x, verbose=0)).all())
    True
"""

from cnnkit.saving.object_registration import (
    CustomObjectScope,
    custom_object_scope,
    get_custom_objects,
    get_registered_name,
    get_registered_object,
    register_keras_serializable,
)
from cnnkit.saving.saving_api import load_model, load_weights, save_model, save_weights
from cnnkit.saving.serialization import deserialize_keras_object, serialize_keras_object

__all__ = [
    "CustomObjectScope",
    "custom_object_scope",
    "deserialize_keras_object",
    "get_custom_objects",
    "get_registered_name",
    "get_registered_object",
    "load_model",
    "load_weights",
    "register_keras_serializable",
    "save_model",
    "save_weights",
    "serialize_keras_object",
]
