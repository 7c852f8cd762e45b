"""Helpers from ``keras.utils``: global seeding, one-hot labels and array normalisation.

- ``set_random_seed(seed)`` seeds cnnkit's generator (``backend.rng()``: weights, dropout,
  shuffling), Python's ``random`` and NumPy's legacy global generator, as Keras does.
- ``to_categorical(x, num_classes=None)`` turns integer class labels into one-hot rows.
- ``normalize(x, axis=-1, order=2)`` divides ``x`` by its ``order``-norm along ``axis``.

Deliberate deviations from Keras 3, written down:

- ``to_categorical`` returns ``backend.floatx()`` (``float32``) where Keras's NumPy path returns
  ``float64``, and rejects labels outside ``[0, num_classes)`` and non-integer floats (Keras
  truncates floats, and indexes negative labels from the end) and ``num_classes <= 0``.
- ``normalize`` keeps the normalised axis in place for every ``axis`` (Keras's NumPy path
  mis-broadcasts ``axis=0``); ``axis=None`` normalises by the norm of the whole array; integer
  input gives ``backend.floatx()``.

Example:
    >>> from cnnkit import utils
    >>> utils.to_categorical([0, 2, 1], num_classes=3)
    array([[1., 0., 0.],
           [0., 0., 1.],
           [0., 1., 0.]], dtype=float32)
    >>> utils.normalize(np.array([[3.0, 4.0]]))
    array([[0.6, 0.8]])
"""

from __future__ import annotations

import numbers
import random

import numpy as np

from cnnkit import backend

_MAX_SEED = 2**32 - 1  # NumPy's legacy np.random.seed accepts [0, 2**32 - 1]


def set_random_seed(seed: int) -> None:
    """Seed every random generator cnnkit programs use, for reproducible runs.

    Equivalent to ``backend.set_seed(seed)``, ``random.seed(seed)`` and
    ``np.random.seed(seed)``. Initializers created with their own integer ``seed`` are not
    affected (they repeat their values regardless).

    Args:
        seed: an integer in ``[0, 2**32 - 1]``.

    Raises:
        ValueError: if ``seed`` is not an integer (Keras raises ``ValueError`` here too) or
            lies outside ``[0, 2**32 - 1]``.

    Example:
        >>> set_random_seed(1)
        >>> a = backend.rng().random()
        >>> set_random_seed(1)
        >>> a == backend.rng().random()
        True
    """
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise ValueError(
            "Expected `seed` argument to be an integer. "
            f"Received: seed={seed!r} (of type {type(seed).__name__})"
        )
    seed = int(seed)
    if not 0 <= seed <= _MAX_SEED:
        raise ValueError(
            "Invalid value for argument `seed`. Expected an integer in [0, 2**32 - 1]. "
            f"Received: seed={seed}"
        )
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 - Keras seeds NumPy's legacy global generator too
    backend.set_seed(seed)


def to_categorical(x, num_classes: int | None = None) -> np.ndarray:
    """Convert integer class labels to one-hot rows (for ``categorical_crossentropy``).

    Args:
        x: array-like of integer labels in ``[0, num_classes)`` (integer-valued floats are
            accepted).
        num_classes: number of classes; ``None`` infers ``max(x) + 1``.

    Returns:
        A ``backend.floatx()`` array with the class axis last. Shapes, as in Keras:
        ``(N,)`` or ``(N, 1)`` give ``(N, num_classes)``; in general ``(..., 1)`` drops the
        trailing 1 and ``(...)`` gives ``(..., num_classes)``; a scalar gives
        ``(num_classes,)``.

    Raises:
        ValueError: for a label outside ``[0, num_classes)`` (the message echoes it), a
            non-integer label, ``num_classes <= 0``, or an empty ``x`` without ``num_classes``.
        TypeError: for non-numeric labels or a non-integer ``num_classes``.

    Example:
        >>> to_categorical([[1], [0]])
        array([[0., 1.],
               [1., 0.]], dtype=float32)
    """
    labels = np.asarray(x)
    if labels.dtype.kind not in "biuf":
        raise TypeError(
            "Invalid type for argument `x`. Expected integer class labels. "
            f"Received: x with dtype {labels.dtype}"
        )
    if labels.dtype.kind == "f":
        bad = ~np.isfinite(labels) | (labels != np.floor(labels))
        if bad.any():
            raise ValueError(
                "Invalid value in argument `x`. Expected integer class labels. "
                f"Received a non-integer label: {labels[bad].flat[0]}"
            )
    if labels.dtype.kind == "b":
        labels = labels.astype(np.int64)

    shape = labels.shape
    if len(shape) > 1 and shape[-1] == 1:
        shape = shape[:-1]
    flat = labels.reshape(-1)

    if num_classes is None:
        if flat.size == 0:
            raise ValueError(
                "Cannot infer `num_classes` from an empty `x`. Pass `num_classes` explicitly."
            )
        if flat.min() < 0:
            raise ValueError(
                "Invalid value in argument `x`. Expected class labels >= 0. "
                f"Received label: {flat.min()}"
            )
        num_classes = int(flat.max()) + 1
    elif isinstance(num_classes, bool) or not isinstance(num_classes, numbers.Integral):
        raise TypeError(
            "Invalid type for argument `num_classes`. Expected an integer. "
            f"Received: num_classes={num_classes!r}"
        )
    num_classes = int(num_classes)
    if num_classes <= 0:
        raise ValueError(
            "Invalid value for argument `num_classes`. Expected a strictly positive integer. "
            f"Received: num_classes={num_classes}"
        )

    out_of_range = (flat < 0) | (flat >= num_classes)
    if out_of_range.any():
        raise ValueError(
            f"Invalid value in argument `x`. Expected class labels in [0, {num_classes}) "
            f"for num_classes={num_classes}. Received label: {flat[out_of_range][0]}"
        )

    index = flat.astype(np.int64)
    categorical = np.zeros((index.size, num_classes), dtype=backend.floatx())
    categorical[np.arange(index.size), index] = 1
    return categorical.reshape(shape + (num_classes,))


def normalize(x, axis: int | None = -1, order: int = 2) -> np.ndarray:
    """Divide ``x`` by its ``order``-norm along ``axis``; zero vectors stay zero.

    ``norm = (sum |x|^order)^(1/order)`` over ``axis`` (the whole array for ``None``).

    Args:
        x: array-like; floats keep their dtype, other input becomes ``backend.floatx()``.
        axis: the axis (or tuple of axes) to normalise along, or ``None`` for all of them.
        order: the norm order, an int >= 1 (``2``: Euclidean, ``1``: sum of magnitudes).

    Returns:
        A normalised copy of ``x`` with the same shape.

    Raises:
        ValueError: if ``order`` is not an int >= 1 (Keras's message).

    Example:
        >>> normalize(np.array([[1.0, 1.0], [0.0, 0.0]]), order=1)
        array([[0.5, 0.5],
               [0. , 0. ]])
    """
    if isinstance(order, bool) or not isinstance(order, numbers.Integral) or order < 1:
        raise ValueError(f"Argument `order` must be an int >= 1. Received: order={order!r}")
    x = np.asarray(x)
    if x.dtype.kind != "f":
        x = x.astype(backend.floatx())
    if x.ndim == 0:
        x = x.reshape(1)
    magnitude = np.abs(x)
    if order == 1:
        norm = np.sum(magnitude, axis=axis, keepdims=True)
    elif order == 2:
        norm = np.sqrt(np.sum(magnitude * magnitude, axis=axis, keepdims=True))
    else:
        norm = np.sum(magnitude**order, axis=axis, keepdims=True) ** (1.0 / order)
    norm = np.where(norm == 0, np.ones_like(norm), norm)
    return x / norm


# The rest of ``keras.utils``, imported on first use (Pillow, threads and archives stay out of
# ``import cnnkit``): name -> submodule of cnnkit.utils (or absolute module).
_LAZY = {
    "PyDataset": "py_dataset",
    "Sequence": "py_dataset",
    "Dataset": "dataset",
    "image_dataset_from_directory": "image_dataset",
    "text_dataset_from_directory": "text_dataset",
    "timeseries_dataset_from_array": "timeseries_dataset",
    "split_dataset": "dataset_utils",
    "load_img": "image_utils",
    "img_to_array": "image_utils",
    "array_to_img": "image_utils",
    "save_img": "image_utils",
    "get_file": "file_utils",
    "pack_x_y_sample_weight": "misc",
    "unpack_x_y_sample_weight": "misc",
    "is_keras_tensor": "misc",
    "get_source_inputs": "misc",
    "standardize_dtype": "misc",
    "Config": "misc",
    "clear_session": "misc",
    "Progbar": "misc",
    "enable_interactive_logging": "misc",
    "disable_interactive_logging": "misc",
    "is_interactive_logging_enabled": "misc",
    "plot_model": "model_visualization",
    "model_to_dot": "model_visualization",
    "CustomObjectScope": "cnnkit.saving",
    "custom_object_scope": "cnnkit.saving",
    "get_custom_objects": "cnnkit.saving",
    "register_keras_serializable": "cnnkit.saving",
    "serialize_keras_object": "cnnkit.saving",
    "deserialize_keras_object": "cnnkit.saving",
    "get_registered_name": "cnnkit.saving",
    "get_registered_object": "cnnkit.saving",
    "pad_sequences": "cnnkit.preprocessing.sequence",  # keras.utils alias
}


def __getattr__(name: str):
    if name == "legacy":
        import types

        from cnnkit import saving

        legacy = types.SimpleNamespace(
            serialize_keras_object=saving.serialize_keras_object,
            deserialize_keras_object=saving.deserialize_keras_object,
        )
        globals()["legacy"] = legacy
        return legacy
    if name not in _LAZY:
        raise AttributeError(f"module 'cnnkit.utils' has no attribute {name!r}")
    import importlib

    module = _LAZY[name]
    module = importlib.import_module(module if "." in module else f"cnnkit.utils.{module}")
    value = getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY) | {"legacy"})
