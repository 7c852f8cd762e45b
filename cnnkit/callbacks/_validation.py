"""Argument checks shared by the callbacks (``ValueError`` naming the argument)."""

from __future__ import annotations

import inspect

import numpy as np

from cnnkit import argument_validation

_is_int = argument_validation.is_int
_check_int = argument_validation.check_int
_check_real = argument_validation.check_real


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
