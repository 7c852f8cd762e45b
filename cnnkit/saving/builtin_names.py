"""Keras's public names for cnnkit's built-in classes and functions, both ways.

A built-in class is written under Keras 3's public module: ``keras.layers`` for layers,
``keras.optimizers``, ``keras.optimizers.schedules``, ``keras.losses``, ``keras.metrics``,
``keras.initializers``, ``keras.regularizers``, ``keras`` for ``Sequential``, and
``keras.src.models.functional`` for ``Functional`` (Keras writes exactly these). On load a
``keras.*`` or ``cnnkit.*`` module names a family, and the class is looked up by name among
that family's public classes (a module's ``__all__``). The namespaces are reached through
``cnnkit``'s lazy attributes when a class is looked up (:func:`namespace`), where Keras imports
the module a config names: ``cnnkit.saving`` imports no layer or model class, and never a
module named in a file. Keras's backends
write their own modules for some classes (on torch, ``Adam`` is
``keras.src.backend.torch.optimizers.torch_adam``): the backend part is skipped, and a class the
family does not hold is looked up by its registered name among all families
(:func:`builtin_class_anywhere`).

Example:
    >>> from cnnkit.layers import Dense
    >>> public_name(Dense)
    ('keras.layers', 'Dense', None)
    >>> family_of("keras.src.layers.core.dense"), builtin_class("keras.layers", "Dense") is Dense
    ('keras.layers', True)
    >>> family_of("keras.src.backend.torch.optimizers.torch_adam")
    'keras.optimizers'
"""

from __future__ import annotations

import cnnkit
from cnnkit.saving import object_registration


def public_name(cls) -> tuple[str, str, str | None]:
    """``(module, class_name, registered_name)`` to write for ``cls``.

    Built-in cnnkit classes get Keras's public module (``"keras.layers"``...); any other
    class gets its own module, its name, and its registered name (``"package>Name"``) or its
    class name.
    """
    for module_name, _, base in _categories():
        if base is not None and isinstance(cls, type) and issubclass(cls, base):
            if builtin_class(module_name, cls.__name__) is cls:
                keras_module = vars(cls).get("_keras_module")  # a class Keras writes elsewhere
                if keras_module is not None:
                    return keras_module, cls.__name__, cls.__name__
                return module_name, cls.__name__, None
            break
    registered = object_registration.GLOBAL_CUSTOM_NAMES.get(cls, cls.__name__)
    return cls.__module__, cls.__name__, registered


def is_builtin(cls) -> bool:
    """Whether ``cls`` is one of cnnkit's public built-in classes (written under a ``keras``
    module), rather than a user's class."""
    return isinstance(cls, type) and public_name(cls)[0].split(".")[0] == "keras"


# Each family of built-in objects: Keras's module, cnnkit's public namespace that holds the
# family, and the family's base class in that namespace.
_FAMILIES = (
    ("keras", "cnnkit.models", "Model"),
    ("keras.layers", "cnnkit.layers", "Layer"),
    ("keras.optimizers.schedules", "cnnkit.optimizers.schedules", "LearningRateSchedule"),
    ("keras.optimizers", "cnnkit.optimizers", "Optimizer"),
    ("keras.losses", "cnnkit.losses", "Loss"),
    ("keras.metrics", "cnnkit.metrics", "Metric"),
    ("keras.initializers", "cnnkit.initializers", "Initializer"),
    ("keras.regularizers", "cnnkit.regularizers", "Regularizer"),
    ("keras.activations", None, None),
    ("keras.constraints", "cnnkit.constraints", "Constraint"),
)


def namespace(name: str):
    """cnnkit's namespace ``name`` (``"cnnkit.layers"``...), loaded on first use.

    The built-in classes are looked up by name in their public namespace, where Keras imports
    the module a config names (``importlib``) and searches its export registry. The packages
    that hold the classes serialize through this one, so this one never imports them by
    statement: it reaches them through ``cnnkit``'s attributes (its lazy loader), and only the
    fixed names of this module, never a module named in a file.
    """
    module = cnnkit
    for part in name.split(".")[1:]:
        module = getattr(module, part)
    return module


def _categories():
    """``(keras module, cnnkit namespace, base class)`` for each family of built-in objects."""
    out = []
    for keras_module, cnnkit_module, base in _FAMILIES:
        module = namespace(cnnkit_module) if cnnkit_module else None
        out.append((keras_module, module, getattr(module, base) if module else None))
    return tuple(out)


def public_class(name: str):
    """A class cnnkit exports at its top level (``cnnkit.KerasTensor``: ``keras.KerasTensor``)."""
    return getattr(namespace("cnnkit"), name)


def saveable_kind(obj) -> str | None:
    """What a class (or its instance) declares itself to saving: ``"layer"`` or ``"model"``, or
    ``None`` for anything else (as Keras's ``KerasSaveable._obj_type()``)."""
    return getattr(obj, "_saveable_kind", None)


def is_layer(obj) -> bool:
    """Whether ``obj`` is a layer or a model, or a class of one (by what its class declares)."""
    return saveable_kind(obj) in ("layer", "model")


def builtin_class(module_name: str, class_name: str):
    """The built-in class called ``class_name`` among ``module_name``'s family, or None."""
    for name, module, base in _categories():
        if name != module_name or module is None:
            continue
        public = getattr(module, "__all__", None)
        if public is not None and class_name not in public:
            return None
        obj = getattr(module, class_name, None) if not class_name.startswith("_") else None
        if isinstance(obj, type) and issubclass(obj, base):
            return obj
        return None
    return None


def family_of(module: str | None) -> str | None:
    """``"keras.src.layers.core.dense"`` or ``"cnnkit.layers.core"`` → ``"keras.layers"``."""
    if not module:
        return None
    parts = module.split(".")
    if parts[0] not in ("keras", "cnnkit"):
        return None
    rest = [p for p in parts[1:] if p != "src"]
    if rest[:1] == ["backend"]:  # keras.src.backend.<name>.optimizers.torch_adam...
        rest = rest[2:]
        if rest and rest[0] in _BACKEND_MODULES:
            rest[0] = _BACKEND_MODULES[rest[0]]
    if not rest or rest[0] in ("models", "engine"):
        return "keras"
    if rest[0] == "optimizers" and "schedules" in rest:
        return "keras.optimizers.schedules"
    if rest[0] == "saving":
        return "keras"
    return "keras." + rest[0]


# A backend's own module for a family: keras/src/backend/<name>/optimizer.py, layer.py...
_BACKEND_MODULES = {"optimizer": "optimizers", "layer": "layers", "trainer": "models"}


def builtin_class_anywhere(class_name: str):
    """The built-in class Keras registers as ``class_name`` in any family, or None.

    Used for ``keras.*`` modules whose family does not hold the class (Keras's backends and
    future releases move classes between modules); ``Sequential`` and ``Functional`` first.
    """
    for name, module, _ in _categories():
        if module is not None or name == "keras":
            found = builtin_class(name, class_name)
            if found is not None:
                return found
    return None


def builtin_function_module(fn) -> tuple[str | None, bool]:
    from cnnkit import activations, losses, metrics

    for name, module in (
        ("keras.activations", activations),
        ("keras.losses", losses),
        ("keras.metrics", metrics),
    ):
        if getattr(module, fn.__name__, None) is fn:
            return name, True
    return None, False


def builtin_function(module: str | None, name: str):
    from cnnkit import activations, losses, metrics

    families = {
        "keras.activations": [activations],
        "keras.losses": [losses],
        "keras.metrics": [metrics],
    }
    family = family_of(module)
    candidates = families.get(family) if family else None
    if candidates is None and module == "builtins":
        candidates = [activations, losses, metrics]
    for mod in candidates or []:
        obj = getattr(mod, name, None) if not name.startswith("_") else None
        public = getattr(mod, "__all__", None)
        if callable(obj) and not isinstance(obj, type) and (public is None or name in public):
            return obj
    return None
