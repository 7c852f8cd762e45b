"""A functional model's config in Keras 3's layout (``Functional.get_config``/``from_config``).

A functional model's config lists its layers in Keras's order (by depth from the inputs, ties
in traversal order: Keras's ``map_graph``), each with its ``inbound_nodes``: the calls that
made the graph, their tensors written as ``__keras_tensor__`` dicts whose ``keras_history`` is
``[layer name, node index, tensor index]``. ``input_layers`` and ``output_layers`` are such
triples. The same layer order names the weight groups of the ``.weights.h5`` file
(``layers/dense``, ``layers/dense_1``, ...), so Keras 3 reads cnnkit's files and the other way
round.

Example:
    >>> from cnnkit.layers import Input, Dense, Concatenate
    >>> from cnnkit.models import Model
    >>> a, b = Input((2,), name="a"), Input((3,), name="b")
    >>> model = Model([a, b], Dense(1, name="out")(Concatenate(name="cat")([a, b])))
    >>> config = functional_get_config(model)
    >>> [layer["name"] for layer in config["layers"]], config["output_layers"]
    (['a', 'b', 'cat', 'out'], ['out', 0, 0])
    >>> rebuilt = functional_from_config(type(model), config)
    >>> [layer.name for layer in rebuilt.operations]
    ['a', 'b', 'cat', 'out']
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping

from cnnkit.layers.base import NOT_GIVEN, KerasTensor
from cnnkit.layers.core import InputLayer


# -- functional models ---------------------------------------------------------------------
def functional_get_config(model) -> dict:
    """Keras 3's config of a functional model (see the module docstring)."""
    from cnnkit.models.functional import Functional  # that module imports this one on first use

    # saving serializes the layers; loaded on first use, as the models load lazily
    from cnnkit.saving.serialization import serialize_keras_object

    own_nodes = {id(n) for n in model._nodes}
    own_nodes.update(id(t._keras_history[1]) for t in model.inputs)

    def tensor_ref(tensor, model_io: bool = False) -> list:
        layer, node = tensor._keras_history
        kept = [n for n in layer._inbound_nodes if id(n) in own_nodes]
        node_index = next(i for i, n in enumerate(kept) if n is node)
        if model_io and isinstance(layer, Functional):
            node_index += 1  # Keras counts a nested functional model's graph as its node 0 here
        index = next(i for i, t in enumerate(node.output_tensors) if t is tensor)
        return [layer.name, node_index, index]

    def serialize_arg(value):
        if isinstance(value, KerasTensor):
            return {
                "class_name": "__keras_tensor__",
                "config": {
                    "shape": list(value.shape),
                    "dtype": value.dtype,
                    "keras_history": tensor_ref(value),
                },
            }
        if isinstance(value, (list, tuple)):
            return [serialize_arg(v) for v in value]
        if isinstance(value, Mapping):
            return {k: serialize_arg(v) for k, v in value.items()}
        return serialize_keras_object(value)

    def map_tensors(structure):
        if isinstance(structure, KerasTensor):
            return tensor_ref(structure, model_io=True)
        if isinstance(structure, Mapping):
            return {k: map_tensors(v) for k, v in structure.items()}
        return [map_tensors(t) for t in structure]

    layer_configs = []
    for layer in model.operations:  # Keras's order (see Functional.layers)
        inbound = [
            {
                "args": [serialize_arg(a) for a in _call_arguments(node)],
                "kwargs": serialize_arg(node_call_kwargs(node)),
            }
            for node in layer._inbound_nodes
            if id(node) in own_nodes and not isinstance(node.layer, InputLayer)
        ]
        config = serialize_keras_object(layer)
        config["name"] = layer.name
        config["inbound_nodes"] = inbound
        layer_configs.append(config)
    return {
        "name": model.name,
        "trainable": model.trainable,
        "layers": layer_configs,
        "input_layers": map_tensors(model._inputs_struct),
        "output_layers": map_tensors(model._outputs_struct),
    }


def _call_arguments(node) -> list:
    """A node's positional arguments as Keras writes them: ``mha(query, value)`` as two."""
    if getattr(node.layer, "_takes_query_value_key", False) and isinstance(node.inputs, list):
        return [*node.inputs, *node.args]
    return [node.inputs, *node.args]


class _NotReady(Exception):
    """A node's inbound tensors are not all rebuilt yet."""


def functional_from_config(cls, config: Mapping, custom_objects=None):
    """Rebuild a functional model of class ``cls`` from :func:`functional_get_config` output
    (or Keras's)."""
    from cnnkit.models.functional import Functional  # that module imports this one on first use

    # saving deserializes the layers; loaded on first use, as the models load lazily
    from cnnkit.saving.serialization import deserialize_keras_object

    config = dict(config)
    for key in ("layers", "input_layers", "output_layers"):
        if key not in config:
            raise ValueError(
                f"A functional model config must have a {key!r} entry. "
                f"Received keys: {sorted(config)}"
            )
    created: dict[str, object] = {}
    pending: dict[str, list] = {}
    for layer_data in config["layers"]:
        layer = deserialize_keras_object(layer_data, custom_objects=custom_objects)
        name = layer_data.get("name") or layer.name
        if name in created:
            raise ValueError(f"The layer name {name!r} appears twice in the model config.")
        created[name] = layer
        pending[name] = list(layer_data.get("inbound_nodes") or [])
    names = list(created)

    def tensor(name, node_index, tensor_index, model_io: bool = False) -> KerasTensor:
        layer = created.get(name)
        if layer is None:
            raise ValueError(f"The model config refers to an unknown layer {name!r}.")
        if model_io and isinstance(layer, Functional):
            node_index -= 1  # in input/output_layers Keras counts a functional's graph as node 0
        if node_index >= len(layer._inbound_nodes):
            raise _NotReady
        return layer._inbound_nodes[node_index].output_tensors[tensor_index]

    def revive(value):
        if isinstance(value, KerasTensor):
            history = getattr(value, "_pre_serialization_keras_history", None)
            return value if history is None else tensor(*history)
        if isinstance(value, (list, tuple)):
            return type(value)(revive(v) for v in value)
        if isinstance(value, dict):
            return {k: revive(v) for k, v in value.items()}
        return value

    def call_arguments(node_data):
        if isinstance(node_data, list):  # legacy: [[name, node, tensor, kwargs], ...]
            tensors = [tensor(*item[:3]) for item in node_data]
            kwargs = node_data[0][3] if node_data and len(node_data[0]) > 3 else {}
            return [tensors[0] if len(tensors) == 1 else tensors], dict(kwargs or {})
        args = deserialize_keras_object(node_data.get("args", []), custom_objects=custom_objects)
        kwargs = deserialize_keras_object(
            node_data.get("kwargs", {}), custom_objects=custom_objects
        )
        return revive(list(args)), revive(dict(kwargs or {}))

    while pending:
        progress = False
        for name in names:
            queue = pending.get(name)
            if queue is None:
                continue
            while queue:
                try:
                    args, kwargs = call_arguments(queue[0])
                except _NotReady:
                    break
                _call_layer(created[name], args, kwargs)
                queue.pop(0)
                progress = True
            if not queue:
                del pending[name]
        if not progress and pending:
            raise ValueError(
                "Cannot rebuild the model graph from its config: the inputs of layers "
                f"{sorted(pending)} are never produced."
            )

    def map_tensors(structure):
        if (
            isinstance(structure, list)
            and len(structure) == 3
            and isinstance(structure[0], str)
            and isinstance(structure[1], int)
        ):
            try:
                return tensor(*structure, model_io=True)
            except _NotReady:
                raise ValueError(
                    f"The model config refers to a missing node {structure}."
                ) from None
        if isinstance(structure, Mapping):
            return {k: map_tensors(v) for k, v in structure.items()}
        return [map_tensors(v) for v in structure]

    inputs = map_tensors(config.pop("input_layers"))
    outputs = map_tensors(config.pop("output_layers"))
    config.pop("layers")
    name = config.pop("name", None)
    trainable = config.pop("trainable", True)
    config.pop("dtype", None)
    if config:
        raise ValueError(f"Unrecognized entries in a functional model config: {sorted(config)}")
    return cls(inputs=inputs, outputs=outputs, name=name, trainable=trainable)


def node_call_kwargs(node) -> dict:
    """A node's keyword arguments as Keras writes them: with the ``training`` value the
    call recorded (an explicit ``None`` too), when it recorded one."""
    kwargs = dict(node.kwargs)
    if node.training is not NOT_GIVEN:
        kwargs["training"] = node.training
    return kwargs


def _call_layer(layer, args: list, kwargs: dict) -> None:
    # a `training` written in the config, `None` included, is given again (Keras's replay)
    kwargs = {k: v for k, v in kwargs.items() if not (k == "mask" and v is None)}
    if len(args) in (2, 3) and getattr(layer, "_takes_query_value_key", False):
        args = [list(args)]  # Keras writes mha(query, value) as two arguments
    params = list(inspect.signature(type(layer).call).parameters.values())[1:]  # after self
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    varargs = any(p.kind is p.VAR_POSITIONAL for p in params)
    if not args or (len(args) > len(positional) and not varargs):
        raise ValueError(
            f"Cannot rebuild the call of layer {layer.name!r} with {len(args)} positional "
            f"arguments: its `call` takes {len(positional)}."
        )
    layer(*args, **kwargs)
