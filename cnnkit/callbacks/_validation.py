"""Argument checks shared by the callbacks (``ValueError`` naming the argument)."""

from __future__ import annotations

import inspect
import math
import numbers

import numpy as np


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _check_int(name: str, value, minimum: int = 0) -> int:
    if not _is_int(value) or value < minimum:
        raise ValueError(
            f"Invalid value for argument `{name}`. Expected an integer >= {minimum}. "
            f"Received: {name}={value!r}"
        )
    return int(value)


def _check_real(name: str, value, minimum: float | None = None) -> float:
    ok = isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))
    if not ok or not math.isfinite(value) or (minimum is not None and value < minimum):
        expected = "a finite number" if minimum is None else f"a finite number >= {minimum}"
        raise ValueError(
            f"Invalid value for argument `{name}`. Expected {expected}. Received: {name}={value!r}"
        )
    return value


def _check_optional_real(name: str, value):
    return None if value is None else _check_real(name, value)


def _check_bool(name: str, value) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(
            f"Invalid value for argument `{name}`. Expected a boolean. Received: {name}={value!r}"
        )
    return bool(value)


def _accepts_positional(fn, count: int) -> bool | None:
    """Whether ``fn`` accepts ``count`` positional arguments (``None``: no signature)."""
    try:
        parameters = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return None
    if any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in parameters):
        return True
    positional = [
        p
        for p in parameters
        if p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    ]
    return len(positional) >= count
