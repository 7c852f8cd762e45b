"""Objects to Keras 3's JSON-ready config dicts and back, without running code from the dict.

``serialize_keras_object(obj)`` gives Keras 3's layout::

    {"module": "keras.layers", "class_name": "Dense", "config": {...},
     "registered_name": None, "build_config": {"input_shape": [None, 4]}}

Built-in cnnkit classes are written under Keras's public names (``keras.layers``,
``keras.optimizers``, ``keras.losses``, ...), so Keras 3 reads cnnkit's files; on load both
``keras.*`` and ``cnnkit.*`` modules name cnnkit's built-ins. A layer's ``dtype`` is written as
Keras 3's ``DTypePolicy`` dict, and both that and a plain string are read.

``deserialize_keras_object(config)`` looks a class up, in order, in ``custom_objects``, the
current :func:`~cnnkit.saving.custom_object_scope`, the registry of
:func:`~cnnkit.saving.register_keras_serializable`, and cnnkit's built-in classes for a
``keras.*``/``cnnkit.*`` module. It never imports a module named in a config, never unpickles,
never evaluates code: serialized lambdas and ``Lambda`` layers are refused.

Keras 3 writes some arguments cnnkit's layers lack, and the other way round: see
:mod:`cnnkit.saving.keras_configs`. Keras's public names of cnnkit's classes are in
:mod:`cnnkit.saving.builtin_names`.

Example:
    >>> from cnnkit.layers import Dense
    >>> config = serialize_keras_object(Dense(3, name="d"))
    >>> config["module"], config["class_name"], config["config"]["dtype"]["class_name"]
    ('keras.layers', 'Dense', 'DTypePolicy')
    >>> layer = deserialize_keras_object(config)
    >>> type(layer).__name__, layer.units, layer.name
    ('Dense', 3, 'd')
"""

from __future__ import annotations

import inspect
import threading
import types
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from cnnkit import backend
from cnnkit.saving import object_registration
from cnnkit.saving.builtin_names import (
    builtin_class,
    builtin_class_anywhere,
    builtin_function,
    builtin_function_module,
    family_of,
    is_layer,
    namespace,
    public_class,
    public_name,
    saveable_kind,
)
from cnnkit.saving.keras_configs import (
    build_from_config,
    drop_keras_only,
    dtype_from_config,
    dtype_policy_config,
    omit_for_keras,
    shape_from_json,
)

PLAIN_TYPES = (str, int, float, bool)

_state = threading.local()


class SafeModeScope:
    """``with SafeModeScope(True):``: nested deserialization calls inherit the safe mode."""

    def __init__(self, safe_mode: bool = True):
        self.safe_mode = bool(safe_mode)
        self._backup: bool | None = None

    def __enter__(self) -> SafeModeScope:
        self._backup = getattr(_state, "safe_mode", None)
        _state.safe_mode = self.safe_mode
        return self

    def __exit__(self, *exc) -> None:
        _state.safe_mode = self._backup


def in_safe_mode() -> bool | None:
    """The safe mode of the enclosing load (``None`` outside any load)."""
    return getattr(_state, "safe_mode", None)


# -- serializing ---------------------------------------------------------------------------
def serialize_keras_object(obj) -> Any:
    """A JSON-ready description of ``obj`` in Keras 3's format.

    Args:
        obj: ``None``, a plain value, a list/tuple/dict of such, a NumPy array or scalar, a
            named function, or an object with ``get_config`` (layer, model, optimizer, loss,
            metric, initializer, regularizer, learning rate schedule, custom class).

    Returns:
        Plain values unchanged, containers element-wise, objects as
        ``{"module", "class_name", "config", "registered_name"}`` (plus ``build_config`` and
        ``compile_config`` for built layers and compiled models).

    Raises:
        ValueError: for a lambda (it could only be reloaded by running its code).
        TypeError: for an object that has no ``get_config``.
    """
    if obj is None or isinstance(obj, PLAIN_TYPES):
        return obj
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        if obj.ndim == 0:
            return obj.item()
        return {
            "class_name": "__numpy__",
            "config": {"value": obj.tolist(), "dtype": str(obj.dtype)},
        }
    if isinstance(obj, (list, tuple)):
        return [serialize_keras_object(x) for x in obj]
    if isinstance(obj, Mapping):
        return {str(k): serialize_keras_object(v) for k, v in obj.items()}
    if isinstance(obj, bytes):
        return {"class_name": "__bytes__", "config": {"value": obj.decode("utf-8")}}
    if obj is Ellipsis:
        return {"class_name": "__ellipsis__", "config": {}}
    if isinstance(obj, slice):
        return {
            "class_name": "__slice__",
            "config": {
                "start": serialize_keras_object(obj.start),
                "stop": serialize_keras_object(obj.stop),
                "step": serialize_keras_object(obj.step),
            },
        }

    if backend.is_keras_tensor(obj):
        return {
            "class_name": "__keras_tensor__",
            "config": {"shape": list(obj.shape), "dtype": obj.dtype, "keras_history": None},
        }
    if isinstance(obj, (types.FunctionType, types.BuiltinFunctionType)):
        return _serialize_function(obj)
    if hasattr(obj, "get_config"):
        return _serialize_instance(obj)
    raise TypeError(
        f"Cannot serialize object {obj!r} of type {type(obj).__name__}. To be serializable, "
        "a class must implement the `get_config()` method."
    )


def _serialize_function(fn) -> dict | str:
    if fn.__name__ == "<lambda>":
        raise ValueError(
            "Cannot save a `lambda`: cnnkit never runs code stored in a file, so it could not "
            "be loaded back. Define a named function, register it with "
            "`@cnnkit.saving.register_keras_serializable()` and use that instead."
        )
    module, builtin = builtin_function_module(fn)
    if builtin:
        return {
            "module": module,
            "class_name": "function",
            "config": fn.__name__,
            "registered_name": fn.__name__,
        }
    registered_name = object_registration.get_registered_name(fn)
    if "<locals>" in fn.__qualname__ and (
        object_registration.get_registered_object(registered_name) is not fn
    ):
        raise ValueError(
            f"Cannot save the function {fn.__qualname__!r}: it is defined inside another "
            "function, so it could not be found when the file is loaded (and cnnkit never "
            "stores code). Define it at module level and register it with "
            "`@cnnkit.saving.register_keras_serializable()`, or write the computation as a "
            "layer."
        )
    return {
        "module": fn.__module__,
        "class_name": "function",
        "config": fn.__name__,
        "registered_name": registered_name,
    }


def _serialize_instance(obj) -> dict:
    config = obj.get_config()
    if not isinstance(config, dict):
        raise TypeError(
            f"The `get_config()` method of {obj!r} should return a dict. It returned: {config!r}"
        )
    inner = {str(k): serialize_keras_object(v) for k, v in config.items()}
    if hasattr(obj, "_keras_public_name"):  # an op node names Keras's class of its op
        module, class_name, registered_name = obj._keras_public_name()
    else:
        module, class_name, registered_name = public_name(type(obj))

    if module == "keras.layers":
        omit_for_keras(class_name, inner)
    layer = is_layer(obj)
    if layer:
        _complete_layer_config(obj, inner)
    if layer and obj._dtype_policy_in_config:
        if isinstance(inner.get("dtype"), str) and inner["dtype"] != "string":
            inner["dtype"] = dtype_policy_config(inner["dtype"])
    out = {
        "module": module,
        "class_name": class_name,
        "config": inner,
        "registered_name": registered_name,
    }
    if layer:
        build_config = obj.get_build_config()  # a layer may override it (Keras API)
        if build_config is not None:
            out["build_config"] = serialize_keras_object(build_config)
        if getattr(obj, "compiled", False) and hasattr(obj, "get_compile_config"):
            out["compile_config"] = serialize_keras_object(obj.get_compile_config())
    return out


def _complete_layer_config(layer, inner: dict) -> None:
    """State a layer's ``get_config`` leaves out, that Keras keeps elsewhere.

    - A custom activation function is written as Keras writes it (a ``"function"`` dict with
      its registered name), not as a bare name only cnnkit's built-ins resolve.
    - An adapted lookup layer (``TextVectorization``, ``StringLookup``, ``IntegerLookup``) has
      its vocabulary written into its config, where Keras keeps it in the archive's assets:
      the layer gives it (``_saved_vocabulary()``).
    """
    from cnnkit import activations

    for key, value in list(inner.items()):
        fn = getattr(layer, key, None) if key.endswith("activation") else None
        if isinstance(value, str) and callable(fn) and getattr(activations, value, None) is not fn:
            inner[key] = _serialize_function(fn)

    saved_vocabulary = getattr(layer, "_saved_vocabulary", None)
    if callable(saved_vocabulary):  # lookup layers after adapt
        inner.update(saved_vocabulary())


# -- deserializing -------------------------------------------------------------------------
def deserialize_keras_object(
    config,
    custom_objects: Mapping[str, Any] | None = None,
    safe_mode: bool = True,
    module_objects: Mapping[str, Any] | None = None,
    **kwargs,
):
    """Rebuild the object described by ``config`` (the inverse of ``serialize_keras_object``).

    Args:
        config: a dict from :func:`serialize_keras_object` (or a plain value / list).
        custom_objects: ``{name: class_or_function}`` for custom classes, looked up by
            ``registered_name`` and then ``class_name``.
        safe_mode: refuse code stored in the config (lambdas). cnnkit refuses it whatever
            the value; nothing in the config can change it.
        module_objects: a family's own ``{class_name: class}`` (``initializers``,
            ``regularizers``...: Keras's argument of that name), for the top-level class;
            looked up after ``custom_objects`` and registered objects.

    Raises:
        ClassNotFoundError: (a ``TypeError``) for a class or function that cannot be found; the
            message says where it looked.
        ValueError: for a lambda or ``Lambda`` layer, or a config cnnkit cannot honour.
    """
    if kwargs:
        raise TypeError(f"Unexpected keyword arguments: {sorted(kwargs)}")
    scoped = in_safe_mode()
    safe_mode = bool(safe_mode) if scoped is None else scoped
    custom_objects = dict(custom_objects or {})
    if module_objects and isinstance(config, Mapping):
        name = config.get("class_name")
        found = (
            object_registration.get_registered_object(config.get("registered_name"), custom_objects)
            if isinstance(config.get("registered_name"), str)
            else None
        )
        if isinstance(name, str) and name in module_objects and found is None:
            custom_objects.setdefault(name, module_objects[name])
    return _deserialize(config, custom_objects, safe_mode)


class ClassNotFoundError(TypeError):
    """A config names a class or function that is nowhere to be found."""

    name: str | None = None  # the class or function name looked for


def deserialize_family_object(
    config: Mapping, module_objects: Mapping, custom_objects, unknown: Callable
) -> Any:
    """A family's ``deserialize`` of a dict (``initializers.deserialize``...).

    The object is rebuilt by :func:`deserialize_keras_object` with the family's names as
    ``module_objects``; a class found nowhere raises the family's own error,
    ``unknown(class_name)`` (a ``ValueError`` listing its names, as Keras's ``get`` does).
    """
    config = dict(config)
    if config.get("config") is None:  # ``{"class_name": "L2"}``: the class's defaults
        config["config"] = {}
    try:
        return deserialize_keras_object(
            config, custom_objects=custom_objects, module_objects=module_objects
        )
    except ClassNotFoundError as err:
        if err.name != config.get("class_name"):
            raise
        raise unknown(err.name) from None


def _deserialize(config, custom_objects: dict, safe_mode: bool):
    if config is None or isinstance(config, (int, float, bool)):
        return config
    if isinstance(config, str):
        found = object_registration.get_registered_object(config, custom_objects)
        return found if found is not None else config
    if isinstance(config, (list, tuple)):
        return [_deserialize(x, custom_objects, safe_mode) for x in config]
    if not isinstance(config, Mapping):
        raise TypeError(f"Could not parse config: {config!r}")
    if "class_name" not in config or "config" not in config:
        return {k: _deserialize(v, custom_objects, safe_mode) for k, v in config.items()}

    class_name = config["class_name"]
    inner = config["config"]
    special = _deserialize_special(class_name, inner, custom_objects, safe_mode)
    if special is not _NOT_SPECIAL:
        return special
    if not isinstance(class_name, str):
        raise TypeError(f"Invalid `class_name` in a saved config: {class_name!r}")
    module = config.get("module")
    registered_name = config.get("registered_name")

    if class_name == "function":
        return _retrieve_function(inner, module, registered_name, custom_objects, config)
    if isinstance(module, str) and module.startswith(("keras.src.ops.", "keras.ops")):
        # an op node of a functional model: where Keras imports the op's module named in the
        # config, cnnkit's op nodes are one class, in the layers' ``operations`` module
        operations = namespace("cnnkit.layers.operations")
        return operations.Operation.from_keras_config(class_name, inner)
    if class_name == "Lambda" and _holds_code(inner):
        raise _refused_layer("Lambda", safe_mode)
    cls = retrieve_class(class_name, module, registered_name, custom_objects, safe_mode)
    if not hasattr(cls, "from_config"):
        raise TypeError(
            f"Unable to reconstruct an instance of '{class_name}' because the class is missing "
            "a `from_config()` method."
        )
    inner = dict(inner or {})
    with object_registration.CustomObjectScope(custom_objects), SafeModeScope(safe_mode):
        instance = _instantiate(cls, inner, custom_objects, safe_mode)
        build_config = config.get("build_config")
        if build_config and hasattr(instance, "built") and not instance.built:
            if is_layer(instance):
                instance.build_from_config(build_config)
            else:
                build_from_config(instance, build_config)
        compile_config = config.get("compile_config")
        if compile_config and hasattr(instance, "compile_from_config"):
            instance.compile_from_config(compile_config)
    return instance


_NOT_SPECIAL = object()


def _deserialize_special(class_name, inner, custom_objects, safe_mode):
    if class_name == "__keras_tensor__":
        shape = shape_from_json(inner["shape"]) or ()
        tensor = public_class("KerasTensor")(shape, dtype=inner.get("dtype"))
        tensor._pre_serialization_keras_history = inner.get("keras_history")
        return tensor
    if class_name in ("__numpy__", "__tensor__"):
        dtype = np.dtype(inner["dtype"])
        if dtype.kind not in "biuf":
            raise ValueError(f"Refusing an array of dtype {dtype} in a saved config.")
        return np.array(inner["value"], dtype=dtype)
    if class_name == "__bytes__":
        return str(inner["value"]).encode("utf-8")
    if class_name == "__ellipsis__":
        return Ellipsis
    if class_name == "__slice__":
        parts = [_deserialize(inner.get(k), custom_objects, safe_mode) for k in _SLICE]
        return slice(*parts)
    if class_name in ("__lambda__", "__typespec__"):
        what = "a `lambda`" if class_name == "__lambda__" else "a TensorFlow TypeSpec"
        raise ValueError(
            f"Requested the deserialization of {what}. cnnkit never runs code stored in a "
            f"file, so this is refused (safe_mode={safe_mode}; passing safe_mode=False does not "
            "change this, and nothing in the file can). Replace the lambda by a named function "
            "and pass it with `custom_objects={...}` or register it with "
            "`@cnnkit.saving.register_keras_serializable()`."
        )
    return _NOT_SPECIAL


_SLICE = ("start", "stop", "step")


def _holds_code(inner) -> bool:
    """Whether a ``Lambda`` layer's config carries its function as code (a serialized lambda)."""
    function = inner.get("function") if isinstance(inner, Mapping) else None
    return not (
        isinstance(function, Mapping) and function.get("class_name") == "function"
    ) and not isinstance(function, str)


def _refused_layer(class_name: str, safe_mode: bool) -> ValueError:
    return ValueError(
        f"Refusing to load a `{class_name}` layer: it holds Python code (or a TensorFlow "
        "graph) that would have to be run to rebuild it, and cnnkit never runs code stored "
        f"in a file (safe_mode={safe_mode}; nothing in the file can turn this off). Use a "
        "named function registered with `@cnnkit.saving.register_keras_serializable()` (a "
        "`Lambda` of one loads), or a custom layer class passed with `custom_objects={...}`."
    )


def retrieve_class(
    class_name: str,
    module: str | None,
    registered_name: str | None,
    custom_objects: dict,
    safe_mode: bool = True,
):
    """The class a config names; raises a TypeError saying where it looked."""
    for name in (registered_name, class_name):
        found = object_registration.get_registered_object(name, custom_objects)
        if found is not None:
            return found
    family = family_of(module)
    if module is None:  # configs from before Keras 3 name no module: built-in layers/models
        for candidate in ("keras.layers", "keras"):
            found = builtin_class(candidate, class_name)
            if found is not None:
                return found
    if family is not None:
        found = builtin_class(family, class_name)
        if found is None and module.split(".")[0] == "keras":
            # a backend's or another release's module: Keras's own registered name decides
            name = registered_name or class_name
            found = builtin_class_anywhere(name) if name == class_name else None
        if found is not None:
            return found
        if family == "keras.layers" and class_name == "TFSMLayer":
            raise _refused_layer(class_name, safe_mode)
    looked = ["`custom_objects`", "the active `custom_object_scope`", "registered objects"]
    if family is not None:
        looked.append(f"cnnkit's built-in classes for module {module!r}")
    else:
        looked.append(
            f"(module {module!r} is not a keras/cnnkit module; cnnkit never imports modules "
            "named in a file)"
        )
    key = registered_name if registered_name not in (None, class_name) else class_name
    raise _not_found(
        class_name,
        ClassNotFoundError(
            f"Could not locate class {class_name!r}. Looked in: {', '.join(looked)}. If it is a "
            f"custom class, pass it with `custom_objects={{{key!r}: {class_name}}}` or decorate it "
            "with `@cnnkit.saving.register_keras_serializable()`."
        ),
    )


def _retrieve_function(name, module, registered_name, custom_objects, full_config):
    if not isinstance(name, str):
        raise TypeError(f"Invalid function config: {full_config!r}")
    for key in (registered_name, name):
        found = object_registration.get_registered_object(key, custom_objects)
        if found is not None:
            return found
    found = builtin_function(module, name)
    if found is not None:
        return found
    raise _not_found(
        name,
        ClassNotFoundError(
            f"Could not locate function {name!r} (module {module!r}). Looked in: "
            "`custom_objects`, the active `custom_object_scope`, registered objects and cnnkit's "
            f"built-in activations, losses and metrics. Pass it with `custom_objects={{{name!r}: "
            f"{name}}}` or register it with `@cnnkit.saving.register_keras_serializable()`."
        ),
    )


def _instantiate(cls, inner: dict, custom_objects: dict, safe_mode: bool):
    from cnnkit.optimizers import Optimizer

    if saveable_kind(cls) == "model":  # Model declares it
        inner = _adapt_layer_config(cls, inner, custom_objects, safe_mode, check_arguments=False)
        return _call_from_config(cls, inner, custom_objects)
    if isinstance(cls, type) and is_layer(cls):
        _refuse_file_paths(cls, inner)
        inner = _adapt_layer_config(cls, inner, custom_objects, safe_mode)
        return _call_from_config(cls, inner, None)
    if isinstance(cls, type) and issubclass(cls, Optimizer):
        if isinstance(inner.get("learning_rate"), Mapping):
            inner["learning_rate"] = _deserialize(inner["learning_rate"], custom_objects, safe_mode)
    if inspect.isfunction(cls):
        return cls
    return _call_from_config(cls, drop_keras_only(cls, inner), None)


def _refuse_file_paths(cls, inner: dict) -> None:
    """A path named in a file is never opened: a lookup vocabulary must be in the file.

    A layer class lists the arguments that may name a file (``_file_path_arguments``).
    """
    for key in getattr(cls, "_file_path_arguments", ()):
        value = inner.get(key)
        if isinstance(value, str):
            raise ValueError(
                f"Layer {inner.get('name')!r} ({cls.__name__}) names a {key} file outside the "
                f"model archive: {key}={value!r:.200}. cnnkit never opens a path named in a "
                "saved model (a shared file could make it read any local file); save the model "
                f"with the {key} given as a list, or adapted, so that it travels inside the "
                "archive."
            )


def _call_from_config(cls, inner, custom_objects):
    try:
        if custom_objects is not None and _takes_custom_objects(cls.from_config):
            return cls.from_config(inner, custom_objects=custom_objects)
        return cls.from_config(inner)
    except TypeError as err:
        if getattr(err, "_from_saved_config", False):
            raise
        raise _mark(
            TypeError(
                f"{cls.__name__} could not be deserialized from its config: {err}. Make sure that "
                "objects returned by `get_config()` (layers, models, functions) are deserialized "
                f"in `from_config()`.\n\nconfig={inner}"
            )
        ) from err


def _not_found(name, err: ClassNotFoundError) -> ClassNotFoundError:
    err.name = name
    return _mark(err)


def _mark(err: Exception) -> Exception:
    err._from_saved_config = True
    return err


def _takes_custom_objects(fn) -> bool:
    try:
        return "custom_objects" in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


def _adapt_layer_config(
    cls, config: dict, custom_objects: dict, safe_mode: bool, check_arguments: bool = True
) -> dict:
    """Keras 3 layer config → the arguments of cnnkit's class (see the module docstring)."""
    config = dict(config)
    if "dtype" in config:
        config["dtype"] = dtype_from_config(config["dtype"], config.get("name"))
    if _reads_its_own_config(cls):
        return drop_keras_only(cls, config) if check_arguments else config
    for key, value in list(config.items()):
        if key.endswith(("_initializer", "_regularizer", "_constraint")) and isinstance(
            value, Mapping
        ):
            config[key] = _deserialize(value, custom_objects, safe_mode)
        elif key.endswith("activation") and value is not None:
            config[key] = _deserialize(value, custom_objects, safe_mode)
        elif isinstance(value, Mapping) and value.get("module") and "config" in value:
            config[key] = _adapt_nested_layer(value, custom_objects, safe_mode)
    return drop_keras_only(cls, config) if check_arguments else config


def _reads_its_own_config(cls) -> bool:
    """Whether ``from_config`` is the user's own: as in Keras, it receives the nested objects
    (activations, initializers, sublayers...) still serialized, to deserialize them itself."""
    for klass in cls.__mro__:  # a user's class defines it before cnnkit's own are reached
        if builtin_class_anywhere(klass.__name__) is klass:
            return False
        if "from_config" in vars(klass):
            return True
    return False


def _adapt_nested_layer(value: Mapping, custom_objects: dict, safe_mode: bool):
    """A layer config nested in another (Bidirectional's ``layer``): adapted, left a dict."""

    try:
        cls = retrieve_class(
            value.get("class_name"), value.get("module"), value.get("registered_name"), {}
        )
    except (TypeError, ValueError):
        return value
    if not (isinstance(cls, type) and is_layer(cls)):
        return value
    out = dict(value)
    out["config"] = _adapt_layer_config(cls, dict(value["config"]), custom_objects, safe_mode)
    return out
