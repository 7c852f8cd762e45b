"""Optimizers with Keras 3's names, defaults and update rules.

A training step hands the optimizer one gradient per trainable variable; it
updates the variables' arrays in place::

    optimizer.apply(grads, trainable_variables)          # or
    optimizer.apply_gradients(zip(grads, trainable_variables))

Example:
    >>> from cnnkit import optimizers
    >>> optimizers.get("adam").get_config()["beta_1"]
    0.9
"""

from __future__ import annotations

from cnnkit.optimizers import schedules
from cnnkit.optimizers.adagrad import Adagrad
from cnnkit.optimizers.adam import Adam, AdamW
from cnnkit.optimizers.adam_variants import Adamax, Lamb, Nadam, ScheduleFreeAdamW
from cnnkit.optimizers.adaptive import Adadelta, Adafactor, Ftrl
from cnnkit.optimizers.base import Optimizer
from cnnkit.optimizers.lion_muon import Lion, Muon
from cnnkit.optimizers.loss_scale_optimizer import LossScaleOptimizer
from cnnkit.optimizers.multi_optimizer import MultiOptimizer, OptimizerMap
from cnnkit.optimizers.rmsprop import RMSprop
from cnnkit.optimizers.sgd import SGD

__all__ = [
    "SGD",
    "Adagrad",
    "Adam",
    "AdamW",
    "Adadelta",
    "Adafactor",
    "Adamax",
    "Ftrl",
    "Lamb",
    "Lion",
    "LossScaleOptimizer",
    "Muon",
    "MultiOptimizer",
    "OptimizerMap",
    "Nadam",
    "ScheduleFreeAdamW",
    "Optimizer",
    "RMSprop",
    "deserialize",
    "get",
    "schedules",
    "serialize",
]

# Identifiers accepted by `get` and `deserialize`: the lower-cased class names.
ALL_OBJECTS_DICT: dict[str, type[Optimizer]] = {
    "sgd": SGD,
    "rmsprop": RMSprop,
    "adam": Adam,
    "adamw": AdamW,
    "adagrad": Adagrad,
    "adadelta": Adadelta,
    "adafactor": Adafactor,
    "adamax": Adamax,
    "ftrl": Ftrl,
    "lamb": Lamb,
    "lion": Lion,
    "lossscaleoptimizer": LossScaleOptimizer,
    "muon": Muon,
    "multioptimizer": MultiOptimizer,
    "nadam": Nadam,
    "schedulefreeadamw": ScheduleFreeAdamW,
}


def serialize(optimizer: Optimizer) -> dict:
    """The optimizer's class and configuration, in Keras 3's serialized layout.

    Example:
        >>> serialize(SGD())["class_name"]
        'SGD'
    """
    if not isinstance(optimizer, Optimizer):
        raise ValueError(
            "Invalid value for argument `optimizer`. Expected an Optimizer instance. "
            f"Received: optimizer={optimizer!r}"
        )
    # cnnkit.saving imports this package: imported at call time
    from cnnkit.saving.serialization import serialize_keras_object

    return serialize_keras_object(optimizer)


def deserialize(config: dict, custom_objects: dict | None = None) -> Optimizer:
    """Rebuild an optimizer from ``serialize`` output (class names are case-insensitive).

    Args:
        config: a dict with ``"class_name"`` and ``"config"``.
        custom_objects: optional ``{name: class}`` for optimizers defined elsewhere.

    Raises:
        ValueError: the dict lacks ``"class_name"`` or names an unknown optimizer.
    """
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(
            "Invalid value for argument `config`. Expected a dict with keys 'class_name' and "
            f"'config'. Received: config={config!r}"
        )
    # cnnkit.saving imports this package: imported at call time
    from cnnkit.saving.serialization import deserialize_family_object

    def unknown(class_name):
        return ValueError(
            f"Could not interpret optimizer identifier: {class_name!r}. Expected one of "
            f"{sorted(ALL_OBJECTS_DICT)} (case-insensitive) or a name in `custom_objects`."
        )

    class_name = config["class_name"]
    names = {cls.__name__: cls for cls in ALL_OBJECTS_DICT.values()}
    builtin = ALL_OBJECTS_DICT.get(str(class_name).lower())
    if builtin is not None:  # class names are case-insensitive
        names[class_name] = builtin
    return deserialize_family_object(config, names, custom_objects, unknown)


def get(identifier) -> Optimizer | None:
    """Retrieve an optimizer from a name, a serialized dict or an instance.

    Args:
        identifier: ``None``; a name such as ``"adam"`` or ``"RMSprop"``
            (case-insensitive; default hyper-parameters); a dict from
            ``serialize``; or an ``Optimizer``, returned unchanged.

    Raises:
        ValueError: the identifier is not one of the above, echoing it and
            listing the valid names.

    Example:
        >>> type(get("SGD")).__name__
        'SGD'
    """
    if identifier is None:
        return None
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        cls = ALL_OBJECTS_DICT.get(identifier.lower())
        if cls is not None:
            return cls()
    raise ValueError(
        f"Could not interpret optimizer identifier: {identifier!r}. Expected one of "
        f"{sorted(ALL_OBJECTS_DICT)} (case-insensitive), a config dict or an Optimizer instance."
    )
