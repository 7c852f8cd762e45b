"""Names for custom classes and functions: the registry and ``custom_object_scope``.

A saved config names each object by ``class_name`` (and ``registered_name`` for custom
ones). The loader resolves a name from, in order:

1. ``custom_objects=`` given to the loading function;
2. the innermost ``custom_object_scope({...})`` of this thread;
3. objects registered with ``@register_keras_serializable(package, name)``, under the key
   ``"package>name"``;
4. cnnkit's built-in tables (see :mod:`cnnkit.saving.serialization`).

Nothing is ever imported by name from a file: a class that is none of the above is an error.

Example:
    >>> from cnnkit import layers
    >>> @register_keras_serializable(package="docs")
    ... class Scale(layers.Layer):
    ...     def call(self, inputs, training=False):
    ...         return inputs * 2.0
    >>> get_registered_name(Scale)
    'docs>Scale'
    >>> get_registered_object("docs>Scale") is Scale
    True
    >>> with custom_object_scope({"Scale2": Scale}):
    ...     get_registered_object("Scale2") is Scale
    True
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Mapping
from typing import Any

GLOBAL_CUSTOM_OBJECTS: dict[str, Any] = {}
GLOBAL_CUSTOM_NAMES: dict[Any, str] = {}

_scope = threading.local()


def _scope_objects() -> dict[str, Any]:
    return getattr(_scope, "objects", {})


class CustomObjectScope:
    """A ``with`` block inside which custom objects are visible to deserialization.

    Args:
        custom_objects: ``{name: class_or_function}`` (several dicts may be given; later ones
            win). Scopes nest: an inner scope sees the outer scope's objects too.

    Example:
        >>> def twice(x):
        ...     return x * 2
        >>> with CustomObjectScope({"twice": twice}):
        ...     get_registered_object("twice") is twice
        True
        >>> get_registered_object("twice") is None
        True
    """

    def __init__(self, *custom_objects: Mapping[str, Any] | None):
        merged: dict[str, Any] = {}
        for objects in custom_objects:
            if objects is None:
                continue
            if not isinstance(objects, Mapping):
                raise TypeError(
                    "Invalid value for argument `custom_objects`. Expected a dict of "
                    f"{{name: object}}. Received: custom_objects={objects!r}"
                )
            merged.update(objects)
        self.custom_objects = merged
        self._backup: dict[str, Any] | None = None

    def __enter__(self) -> CustomObjectScope:
        self._backup = _scope_objects()
        _scope.objects = {**self._backup, **self.custom_objects}
        return self

    def __exit__(self, *exc) -> None:
        _scope.objects = self._backup or {}


custom_object_scope = CustomObjectScope


def get_custom_objects() -> dict[str, Any]:
    """The live global registry ``{"package>name": object}`` (scopes not included)."""
    return GLOBAL_CUSTOM_OBJECTS


def register_keras_serializable(package: str = "Custom", name: str | None = None):
    """Class or function decorator: register the object under ``"package>name"``.

    Args:
        package: the namespace of the key (default ``"Custom"``).
        name: the name within the package (default: the object's ``__name__``).

    Returns:
        The decorator; it returns the object unchanged.

    Raises:
        ValueError: for a class without ``get_config``, or a ``package``/``name`` containing
            ``">"``.
    """
    for arg, value in (("package", package), ("name", name)):
        if value is not None and (not isinstance(value, str) or ">" in value):
            raise ValueError(
                f"Invalid value for argument `{arg}`. Expected a string without '>'. "
                f"Received: {arg}={value!r}"
            )

    def decorator(obj):
        registered_name = f"{package}>{name if name is not None else obj.__name__}"
        if inspect.isclass(obj) and not hasattr(obj, "get_config"):
            raise ValueError("Cannot register a class that does not have a get_config() method.")
        GLOBAL_CUSTOM_OBJECTS[registered_name] = obj
        GLOBAL_CUSTOM_NAMES[obj] = registered_name
        return obj

    return decorator


def get_registered_name(obj) -> str:
    """The key ``obj`` is registered under, or its ``__name__`` if it is not registered."""
    return GLOBAL_CUSTOM_NAMES.get(obj, getattr(obj, "__name__", None))


def get_registered_object(
    name: str, custom_objects: Mapping[str, Any] | None = None, module_objects=None
):
    """The object registered as ``name``, or ``None``.

    Looks in ``custom_objects``, then the current ``custom_object_scope``, then the
    global registry, then ``module_objects``.
    """
    if not isinstance(name, str):
        return None
    if custom_objects and name in custom_objects:
        return custom_objects[name]
    scoped = _scope_objects()
    if name in scoped:
        return scoped[name]
    if name in GLOBAL_CUSTOM_OBJECTS:
        return GLOBAL_CUSTOM_OBJECTS[name]
    if module_objects and name in module_objects:
        return module_objects[name]
    return None
