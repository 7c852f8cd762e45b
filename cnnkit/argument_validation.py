"""Argument checks shared by every package (Keras keeps these in ``utils/argument_validation``).

Each check raises a ``ValueError`` that names the argument, what was expected and what was
received, before anything changes. The predicates (:func:`is_int`, :func:`is_real`) reject
booleans, which Python counts as integers.

Example:
    >>> standardize_tuple(3, 2, "kernel_size")
    (3, 3)
    >>> snake_case("MaxPooling2D")
    'max_pooling2d'
    >>> check_positive_int("filters", 0)
    Traceback (most recent call last):
    ...
    ValueError: Invalid value for argument `filters`. Expected a strictly positive value. Received filters=0.
"""  # noqa: E501

from __future__ import annotations

import math
import numbers
import re

import numpy as np


def is_int(value) -> bool:
    """An integer (Python or NumPy), not a boolean."""
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def is_real(value) -> bool:
    """A real number (Python or NumPy, integer or float), not a boolean."""
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def check_int(name: str, value, minimum: int = 0) -> int:
    """``value`` as an int, when it is an integer ``>= minimum``."""
    if not is_int(value) or value < minimum:
        raise ValueError(
            f"Invalid value for argument `{name}`. Expected an integer >= {minimum}. "
            f"Received: {name}={value!r}"
        )
    return int(value)


def check_positive_int(name: str, value) -> int:
    """``value`` as an int, when it is an integer ``> 0`` (Keras's wording)."""
    if not is_int(value) or value <= 0:
        raise ValueError(
            f"Invalid value for argument `{name}`. Expected a strictly positive value. "
            f"Received {name}={value}."
        )
    return int(value)


def check_real(name: str, value, minimum: float | None = None):
    """``value`` itself, when it is a finite real number (``>= minimum`` if given)."""
    if not is_real(value) or not math.isfinite(value) or (minimum is not None and value < minimum):
        expected = "a finite number" if minimum is None else f"a finite number >= {minimum}"
        raise ValueError(
            f"Invalid value for argument `{name}`. Expected {expected}. Received: {name}={value!r}"
        )
    return value


def standardize_tuple(value, n: int, name: str, allow_zero: bool = False) -> tuple:
    """An int or an ``n``-sequence of ints as an ``n``-tuple of ints ``> 0`` (``>= 0`` with
    ``allow_zero``), as Keras's helper of the same name."""
    if is_int(value):
        values = (int(value),) * n
    else:
        try:
            values = tuple(value)
        except TypeError:
            values = ()
        if len(values) != n or not all(is_int(v) for v in values):
            raise ValueError(
                f"The `{name}` argument must be a tuple of {n} integers. Received {name}={value!r}"
            )
        values = tuple(int(v) for v in values)
    low = 0 if allow_zero else 1
    if any(v < low for v in values):
        qualifier = "non-negative" if allow_zero else "strictly positive"
        raise ValueError(
            f"Invalid value for argument `{name}`. Expected {qualifier} integers. "
            f"Received {name}={value!r}"
        )
    return values


def snake_case(name: str) -> str:
    """A class name as Keras names its instances: ``Conv2D`` -> ``conv2d``,
    ``MaxPooling2D`` -> ``max_pooling2d``, ``MeanSquaredError`` -> ``mean_squared_error``."""
    name = re.sub(r"\W+", "", name)
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()
