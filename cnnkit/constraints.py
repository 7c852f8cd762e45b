"""Weight constraints (``keras.constraints``): projections applied after each update.

A constraint maps a weight to its projection onto an allowed set. Layers take them as
``kernel_constraint``, ``bias_constraint``, ``embeddings_constraint``, ``gamma_constraint``...;
the optimizer applies ``variable.constraint`` to each variable it has just updated
(``w ← constraint(w)``, after the whole update, as Keras's ``BaseOptimizer.apply`` does),
and the layers save them in ``get_config``.

The norms are Euclidean norms over ``axis`` (``0`` for a ``Dense`` kernel: one norm per
output unit; ``[0, 1, 2]`` for a ``Conv2D`` kernel: one per filter), with Keras's
``epsilon()`` (``1e-7``) in each denominator:

- ``MaxNorm(m)``:        ``w * clip(n, 0, m) / (eps + n)``
- ``MinMaxNorm(a, b, r)``: ``w * (r * clip(n, a, b) + (1 - r) * n) / (eps + n)``
- ``UnitNorm()``:        ``w / (eps + n)``
- ``NonNeg()``:          ``max(w, 0)``

Example:
    >>> import numpy as np
    >>> from cnnkit import constraints
    >>> w = np.array([[3.0, 0.1], [4.0, 0.0]])
    >>> constraints.MaxNorm(1.0)(w).round(3).tolist()
    [[0.6, 0.1], [0.8, 0.0]]
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from cnnkit import backend
from cnnkit.autodiff import Tensor

__all__ = [
    "Constraint",
    "MaxNorm",
    "MinMaxNorm",
    "NonNeg",
    "UnitNorm",
    "deserialize",
    "get",
    "max_norm",
    "min_max_norm",
    "non_neg",
    "serialize",
    "unit_norm",
]


def _as_array(w) -> np.ndarray:
    """The weight's values: a float array (a variable's, a tensor's or array-like)."""
    w = np.asarray(w.data if isinstance(w, Tensor) else w)
    return w if w.dtype.kind == "f" else w.astype(backend.floatx())


def _axis(axis):
    if isinstance(axis, (list, tuple)):
        return tuple(int(a) for a in axis)
    return axis if axis is None else int(axis)


def _norms(w: np.ndarray, axis) -> np.ndarray:
    return np.sqrt(np.sum(np.square(w), axis=_axis(axis), keepdims=True))


def _check_real(name: str, value, minimum: float | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
        raise ValueError(
            f"Invalid value for argument `{name}`. Expected a number. Received: {name}={value!r}"
        )
    if minimum is not None and value < minimum:
        raise ValueError(
            f"Invalid value for argument `{name}`. Expected a value >= {minimum}. "
            f"Received: {name}={value!r}"
        )


class Constraint:
    """Base class of constraints: override ``__call__(w)`` (and ``get_config``).

    ``__call__`` receives the variable (a cnnkit ``Variable``; ``numpy.asarray`` gives its
    values) and returns the projected values, of the variable's shape.

    Example:
        >>> class Clip(Constraint):
        ...     def __call__(self, w):
        ...         return np.clip(np.asarray(w), -1, 1)
        >>> Clip()(np.array([-3.0, 0.5])).tolist()
        [-1.0, 0.5]
    """

    def __call__(self, w):
        return w

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config: dict) -> Constraint:
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class MaxNorm(Constraint):
    """Scale down the weight vectors whose norm along ``axis`` exceeds ``max_value``.

    Args:
        max_value: the largest norm allowed.
        axis: the axis or axes the norms are taken over (``0``: per output unit of a
            ``Dense`` kernel; ``[0, 1, 2]``: per filter of a ``Conv2D`` kernel).
    """

    def __init__(self, max_value=2, axis=0):
        _check_real("max_value", max_value, 0)
        self.max_value = max_value
        self.axis = axis

    def __call__(self, w):
        w = _as_array(w)
        norms = _norms(w, self.axis)
        desired = np.clip(norms, 0, self.max_value)
        return w * (desired / (w.dtype.type(backend.epsilon()) + norms))

    def get_config(self) -> dict:
        return {"max_value": self.max_value, "axis": self.axis}


class NonNeg(Constraint):
    """Replace negative weights by zero."""

    def __call__(self, w):
        w = _as_array(w)
        return np.maximum(w, w.dtype.type(0))


class UnitNorm(Constraint):
    """Scale the weight vectors along ``axis`` to unit norm.

    Args:
        axis: the axis or axes the norms are taken over (see :class:`MaxNorm`).
    """

    def __init__(self, axis=0):
        self.axis = axis

    def __call__(self, w):
        w = _as_array(w)
        return w / (w.dtype.type(backend.epsilon()) + _norms(w, self.axis))

    def get_config(self) -> dict:
        return {"axis": self.axis}


class MinMaxNorm(Constraint):
    """Move the norms along ``axis`` into ``[min_value, max_value]``, at speed ``rate``.

    Args:
        min_value, max_value: the bounds of the norms.
        rate: ``1.0`` enforces the bounds at once; below 1 the norm moves a fraction
            ``rate`` of the way to its clipped value at each step.
        axis: the axis or axes the norms are taken over (see :class:`MaxNorm`).

    Raises:
        ValueError: if a bound or ``rate`` is not a number, or ``min_value > max_value``.
    """

    def __init__(self, min_value=0.0, max_value=1.0, rate=1.0, axis=0):
        _check_real("min_value", min_value)
        _check_real("max_value", max_value)
        _check_real("rate", rate)
        if min_value > max_value:
            raise ValueError(
                "Invalid values for `min_value` and `max_value`: expected min_value <= "
                f"max_value. Received: min_value={min_value}, max_value={max_value}"
            )
        self.min_value = min_value
        self.max_value = max_value
        self.rate = rate
        self.axis = axis

    def __call__(self, w):
        w = _as_array(w)
        norms = _norms(w, self.axis)
        desired = (
            self.rate * np.clip(norms, self.min_value, self.max_value) + (1 - self.rate) * norms
        )
        return w * (desired / (backend.epsilon() + norms)).astype(w.dtype)

    def get_config(self) -> dict:
        return {
            "min_value": self.min_value,
            "max_value": self.max_value,
            "rate": self.rate,
            "axis": self.axis,
        }


# Keras's lower-case aliases of the classes.
max_norm = MaxNorm
min_max_norm = MinMaxNorm
non_neg = NonNeg
unit_norm = UnitNorm

_CLASSES: dict[str, type[Constraint]] = {
    cls.__name__: cls for cls in (Constraint, MaxNorm, MinMaxNorm, NonNeg, UnitNorm)
}
_ALIASES = {
    "constraint": Constraint,
    "max_norm": MaxNorm,
    "min_max_norm": MinMaxNorm,
    "non_neg": NonNeg,
    "unit_norm": UnitNorm,
}


def _unknown(identifier) -> ValueError:
    return ValueError(
        f"Could not interpret constraint identifier: {identifier!r}. Expected None, one of "
        f"{sorted({*_CLASSES, *_ALIASES})}, a serialized constraint dict or a callable."
    )


def serialize(constraint) -> dict[str, Any] | None:
    """Keras's dict of a constraint (``None`` for ``None``).

    Example:
        >>> serialize(MaxNorm(3))["config"]
        {'max_value': 3, 'axis': 0}
    """
    if constraint is None:
        return None
    if getattr(constraint, "get_config", None) is None:
        raise TypeError(
            "Invalid type for argument `constraint`. Expected a `Constraint` (an object with "
            f"`get_config`). Received: constraint={constraint!r}"
        )
    from cnnkit.saving.serialization import serialize_keras_object  # saving imports this module

    return serialize_keras_object(constraint)


def deserialize(config, custom_objects: Mapping[str, type] | None = None) -> Constraint:
    """Rebuild a constraint from :func:`serialize`'s dict, or a name.

    Raises:
        ValueError: for an unknown class name or a malformed dict.
    """
    table = {**_CLASSES, **_ALIASES, **(custom_objects or {})}
    if isinstance(config, str):
        if config not in table:
            raise _unknown(config)
        return table[config]()
    if not isinstance(config, Mapping) or "class_name" not in config:
        raise ValueError(
            "Invalid constraint config. Expected a dict with keys 'class_name' and 'config'. "
            f"Received: config={config!r}"
        )
    # saving imports this module: imported at call time
    from cnnkit.saving.serialization import deserialize_family_object

    return deserialize_family_object(config, {**_CLASSES, **_ALIASES}, custom_objects, _unknown)


def get(identifier) -> Constraint | Callable | None:
    """Resolve a constraint identifier, as ``keras.constraints.get`` does.

    Args:
        identifier: ``None``; a name (``"max_norm"``, ``"MaxNorm"``, ``"non_neg"``...); a
            :func:`serialize` dict; a class (instantiated with no arguments); or a
            constraint or any callable (returned as is).

    Raises:
        ValueError: "Could not interpret constraint identifier" for anything else.

    Example:
        >>> get("non_neg")
        NonNeg()
        >>> get({"class_name": "MaxNorm", "config": {"max_value": 3}})
        MaxNorm(max_value=3, axis=0)
    """
    if identifier is None:
        return None
    if isinstance(identifier, (str, Mapping)):
        return deserialize(identifier)
    if inspect.isclass(identifier):
        return identifier()
    if callable(identifier):
        return identifier
    raise _unknown(identifier)
