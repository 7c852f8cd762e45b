"""Keras 3 config details: dtype policies, arguments only one library has, build configs.

- A layer's ``dtype`` is written as Keras 3's ``DTypePolicy`` dict and read from that or a
  plain string; mixed-precision and quantized policies are refused.
- Keras 3 writes some arguments cnnkit's layers lack (``quantization_config``, ``lora_rank``,
  BatchNormalization's ``renorm``, InputLayer's ``sparse``...). They are dropped when they hold
  the value that makes them a no-op; any other value is refused with an error naming it.
- Some Keras classes lack an argument cnnkit writes (``SpatialDropout2D`` has no
  ``trainable``): it is left out of the file when it holds the value Keras assumes.
- ``build_config`` (``{"input_shape": ...}``) records the shape a layer was built with, so a
  loaded layer gets its weights before they are assigned.

Example:
    >>> dtype_from_config(dtype_policy_config("float32"))
    'float32'
    >>> shape_from_json([None, 4]), shape_from_json([[None, 2], [None, 3]])
    ((None, 4), [(None, 2), (None, 3)])
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

from cnnkit.argument_validation import is_int
from cnnkit.saving.builtin_names import is_builtin

# Arguments Keras 3 writes that cnnkit's built-in layers do not take, with the value that makes
# them a no-op. A config holding that value loads; any other value is an error.
KERAS_ONLY_DEFAULTS: dict[str, tuple] = {
    "quantization_config": (None,),
    "lora_rank": (None,),
    "lora_alpha": (None,),
    "sparse": (False,),
    "ragged": (False,),
    "optional": (False,),
    "synchronized": (False,),
    "renorm": (False,),
    "renorm_clipping": (None,),
    "groups": (1,),
    "zero_output_for_mask": (False,),
    "use_cudnn": ("auto",),
    "implementation": (1, 2),
    "input_length": (None,),
    "keepdims": (False,),
    "input_axes": (None,),
    "output_axes": (None,),
    "antialias": (False,),
    "data_format": (None, "channels_last"),
}

# Keras 3 classes whose constructor lacks an argument cnnkit's config has: written without it
# when it holds the value Keras assumes.
KERAS_WRITE_OMITS: dict[str, dict[str, Any]] = {
    "SpatialDropout2D": {"trainable": True},
}


def omit_for_keras(class_name: str, inner: dict) -> None:
    """Drop from a ``keras.layers`` config what Keras's class of that name does not take."""
    for key, value in KERAS_WRITE_OMITS.get(class_name, {}).items():
        if key in inner and same_value(inner[key], value):
            del inner[key]


def dtype_policy_config(name: str) -> dict:
    """Keras 3's serialized ``DTypePolicy`` for a dtype name."""
    return {
        "module": "keras",
        "class_name": "DTypePolicy",
        "config": {"name": name},
        "registered_name": None,
    }


def get_build_config(layer) -> dict | None:
    """``{"input_shape": ...}`` for a built layer (Keras's ``get_build_config``), else None."""
    shapes = getattr(layer, "_build_shapes_arg", None)
    if not layer.built or shapes is None:
        return None
    return {"input_shape": _shape_to_json(shapes)}


def _shape_to_json(shape):
    if isinstance(shape, list):
        return [_shape_to_json(s) for s in shape]
    return [None if d is None else int(d) for d in shape]


def shape_from_json(value):
    """A JSON shape back to a tuple, or a list of shapes to a list of tuples."""
    if value is None:
        return None
    if isinstance(value, (list, tuple)) and all(v is None or is_int(v) for v in value):
        return tuple(None if v is None else int(v) for v in value)
    if isinstance(value, (list, tuple)):
        return [shape_from_json(v) for v in value]
    raise ValueError(f"Invalid shape in a saved config: {value!r}")


def drop_keras_only(cls, config: dict) -> dict:
    """Drop the arguments Keras writes and cnnkit's built-in ``cls`` lacks, when harmless."""
    if not is_builtin(cls):
        return config  # a custom class takes what its own constructor takes
    accepted = _accepted_arguments(cls)
    if accepted is None:
        return config
    config = dict(config)
    for key in [k for k in config if k not in accepted]:
        value = config[key]
        if key in KERAS_ONLY_DEFAULTS and any(
            same_value(value, v) for v in KERAS_ONLY_DEFAULTS[key]
        ):
            del config[key]
        elif key == "renorm_momentum" or (key == "renorm_clipping" and not config.get("renorm")):
            del config[key]
        else:
            what = "layer" if hasattr(cls, "add_weight") else "object"
            raise ValueError(
                f"The saved config of {what} {config.get('name', cls.__name__)!r} "
                f"({cls.__name__}) sets `{key}={value!r}`, which cnnkit's {cls.__name__} does "
                "not support."
            )
    return config


def _accepted_arguments(cls) -> set[str] | None:
    """Every named constructor argument along the class's MRO (None if it takes anything)."""
    names: set[str] = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        try:
            params = inspect.signature(init).parameters.values()
        except (TypeError, ValueError):
            return None
        names.update(
            p.name
            for p in params
            if p.kind not in (inspect.Parameter.VAR_KEYWORD, inspect.Parameter.VAR_POSITIONAL)
        )
        if not any(p.kind == inspect.Parameter.VAR_KEYWORD for p in params):
            break
    names.discard("self")
    names.update(getattr(cls, "_keyword_arguments", ()))  # taken through **kwargs
    return names


def same_value(a, b) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b or (type(a) is type(b) and a == b)
    return a == b


_POLICY_CLASSES = ("DTypePolicy", "FloatDTypePolicy", "Policy")


def dtype_from_config(value, layer_name=None):
    """A layer's dtype from a string or a serialized Keras ``DTypePolicy``."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, Mapping) and value.get("class_name") in _POLICY_CLASSES:
        name = (value.get("config") or {}).get("name")
        if isinstance(name, str) and not name.startswith("mixed_"):
            return name
        raise ValueError(
            f"Layer {layer_name!r} uses the dtype policy {name!r}. cnnkit supports only "
            "plain float policies such as 'float32' (no mixed precision)."
        )
    if isinstance(value, Mapping):
        raise ValueError(
            f"Layer {layer_name!r} uses the dtype policy {value.get('class_name')!r}, which "
            "cnnkit does not support (no quantized or mixed-precision policies)."
        )
    raise ValueError(f"Invalid dtype for layer {layer_name!r}: {value!r}")


def build_from_config(instance, build_config: Mapping) -> None:
    """Build a deserialized layer from ``{"input_shape": ...}`` (Keras's ``build_from_config``)."""
    shape = build_config.get("input_shape")
    if shape is None:
        shapes = build_config.get("shapes_dict")
        if isinstance(shapes, Mapping) and len(shapes) == 1:
            shape = next(iter(shapes.values()))
    if shape is None:
        return
    shape = shape_from_json(shape)
    if hasattr(instance, "_build_from_saved_shape"):  # a model builds itself (by a call)
        instance._build_from_saved_shape(shape)
        return
    if hasattr(instance, "_maybe_build"):
        instance._maybe_build(shape)
    else:
        instance.build(shape)
        instance.built = True
