"""Configs of ``Sequential`` and functional models, and of ``compile``, in Keras 3's layout.

A functional model's config lists its layers in Keras's order (by depth from the inputs, ties
in traversal order: Keras's ``map_graph``), each with its ``inbound_nodes``: the calls that
made the graph, their tensors written as ``__keras_tensor__`` dicts whose ``keras_history`` is
``[layer name, node index, tensor index]``. ``input_layers`` and ``output_layers`` are such
triples. A ``Sequential`` config lists its layers, a leading ``InputLayer`` included, and its
``build_input_shape``. The same layer order names the weight groups of the ``.weights.h5``
file (``layers/dense``, ``layers/dense_1``, ...), so Keras 3 reads cnnkit's files and the
other way round.

Example:
    >>> from cnnkit.layers import Input, Dense, Concatenate
    >>> from cnnkit.models import Model
    >>> a, b = Input((2,), name="a"), Input((3,), name="b")
    >>> model = Model([a, b], Dense(1, name="out")(Concatenate(name="cat")([a, b])))
    >>> config = functional_get_config(model)
    >>> [layer["name"] for layer in config["layers"]], config["output_layers"]
    (['a', 'b', 'cat', 'out'], ['out', 0, 0])
    >>> rebuilt = functional_from_config(type(model), config)
    >>> [layer.name for layer in keras_layer_order(rebuilt)]
    ['a', 'b', 'cat', 'out']
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping

from cnnkit.layers.base import KerasTensor, _flatten
from cnnkit.layers.core import InputLayer
from cnnkit.saving.keras_configs import dtype_policy_config, shape_from_json
from cnnkit.saving.serialization import deserialize_keras_object, serialize_keras_object

COMPILE_ARGUMENTS = (
    "optimizer",
    "loss",
    "loss_weights",
    "metrics",
    "weighted_metrics",
    "run_eagerly",
    "steps_per_execution",
    "jit_compile",
    "auto_scale_loss",
)


# -- dispatch (used by Model.get_config / Model.from_config) -------------------------------
def has_graph_config(model) -> bool:
    """Whether ``model``'s config is its graph: a Sequential, or a functional model whose
    class keeps ``Functional``'s constructor (Keras's ``functional_like_constructor``)."""
    # cnnkit.models imports cnnkit.saving as it loads: a module-level import back is a cycle
    from cnnkit.models.functional import Functional
    from cnnkit.models.sequential import Sequential

    if isinstance(model, Sequential):
        return True
    return isinstance(model, Functional) and _functional_like(type(model))


def _functional_like(cls) -> bool:
    # cnnkit.models imports cnnkit.saving as it loads: a module-level import back is a cycle
    from cnnkit.models.functional import Functional

    def arguments(klass):
        return inspect.getfullargspec(klass.__init__).args[1:]

    return arguments(cls) == arguments(Functional)


def graph_get_config(model) -> dict:
    # cnnkit.models imports cnnkit.saving as it loads: a module-level import back is a cycle
    from cnnkit.models.sequential import Sequential

    if isinstance(model, Sequential):
        return sequential_get_config(model)
    return functional_get_config(model)


def graph_from_config(cls, config: Mapping, custom_objects=None):
    """``cls.from_config(config)`` for any model class."""
    # cnnkit.models imports cnnkit.saving as it loads: a module-level import back is a cycle
    from cnnkit.models.functional import Functional
    from cnnkit.models.model import Model
    from cnnkit.models.sequential import Sequential

    if issubclass(cls, Sequential):
        return sequential_from_config(cls, config, custom_objects)
    if "layers" in config and "input_layers" in config and "output_layers" in config:
        target = Functional if cls is Model else cls
        return functional_from_config(target, config, custom_objects)
    try:
        return cls(**config)
    except TypeError as err:
        raise TypeError(
            f"Unable to revive model {cls.__name__!r} from its config: {err}. A subclassed "
            "model must implement `get_config()` and `from_config()` to be saved and loaded."
        ) from None


# -- Keras's layer order -----------------------------------------------------------------
def keras_layer_order(model) -> list:
    """The layers in the order Keras 3 lists them for this model (``model.layers`` in Keras).

    For a functional model: by decreasing depth (inputs first), ties broken by the order a
    depth-first walk from the outputs first meets them, exactly as Keras's ``map_graph``. For
    other models: ``model.layers``.
    """
    # cnnkit.models imports cnnkit.saving as it loads: a module-level import back is a cycle
    from cnnkit.models.functional import Functional

    if not isinstance(model, Functional):
        return list(model.layers)
    nodes, op_index = _build_map(model.outputs)
    in_graph = {id(n) for n in nodes}
    node_depth: dict[int, int] = {}
    layer_depth: dict[int, int] = {}
    layers: dict[int, object] = {}
    for node in reversed(nodes):
        depth = node_depth.setdefault(id(node), 0)
        depth = max(depth, layer_depth.get(id(node.layer), 0))
        layer_depth[id(node.layer)] = depth
        layers[id(node.layer)] = node.layer
        node_depth[id(node)] = depth
        for parent in _parent_nodes(node):
            if id(parent) in in_graph:
                node_depth[id(parent)] = max(depth + 1, node_depth.get(id(parent), 0))
    for tensor in model.inputs:  # inputs that no output depends on
        layer = tensor._keras_history[0]
        if id(layer) not in layer_depth:
            layer_depth[id(layer)], op_index[id(layer)], layers[id(layer)] = 0, -1, layer
    order = sorted(layer_depth, key=lambda key: (-layer_depth[key], op_index[key]))
    return [layers[key] for key in order]


def _node_inputs(node) -> list:
    """Every KerasTensor the call took: positional structure first, then keyword values."""
    tensors = [t for t in _flatten([node.inputs, *node.args]) if isinstance(t, KerasTensor)]
    for key in sorted(node.kwargs):
        tensors += [t for t in _flatten(node.kwargs[key]) if isinstance(t, KerasTensor)]
    return tensors


def _parent_nodes(node) -> list:
    return [t._keras_history[1] for t in _node_inputs(node)]


def _build_map(outputs) -> tuple[list, dict]:
    """Nodes from the inputs to the outputs (depth-first post-order) and each layer's
    first-visit index: Keras's ``_build_map``, with an explicit stack."""
    finished: set[int] = set()
    ordered: list = []
    op_index: dict[int, int] = {}
    for output in outputs:
        root = output._keras_history[1]
        if id(root) in finished:
            continue
        op_index.setdefault(id(root.layer), len(op_index))
        stack = [(root, iter(_node_inputs(root)))]
        in_progress = {id(root)}
        while stack:
            node, children = stack[-1]
            tensor = next(children, None)
            if tensor is None:
                stack.pop()
                in_progress.discard(id(node))
                finished.add(id(node))
                ordered.append(node)
                continue
            child = tensor._keras_history[1]
            if id(child) in finished:
                continue
            if id(child) in in_progress:
                raise ValueError(f"Layer {child.layer.name!r} is part of a cycle.")
            op_index.setdefault(id(child.layer), len(op_index))
            in_progress.add(id(child))
            stack.append((child, iter(_node_inputs(child))))
    return ordered, op_index


# -- functional models ---------------------------------------------------------------------
def functional_get_config(model) -> dict:
    """Keras 3's config of a functional model (see the module docstring)."""
    # cnnkit.models imports cnnkit.saving as it loads: a module-level import back is a cycle
    from cnnkit.models.functional import Functional

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
    for layer in keras_layer_order(model):
        inbound = [
            {
                "args": [serialize_arg(a) for a in (node.inputs, *node.args)],
                "kwargs": serialize_arg(dict(node.kwargs)),
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


class _NotReady(Exception):
    """A node's inbound tensors are not all rebuilt yet."""


def functional_from_config(cls, config: Mapping, custom_objects=None):
    """Rebuild a functional model from :func:`functional_get_config` output (or Keras's)."""
    # cnnkit.models imports cnnkit.saving as it loads: a module-level import back is a cycle
    from cnnkit.models.functional import Functional

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


def _call_layer(layer, args: list, kwargs: dict) -> None:
    kwargs = {k: v for k, v in kwargs.items() if not (k in ("mask", "training") and v is None)}
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


# -- Sequential ----------------------------------------------------------------------------
def sequential_get_config(model) -> dict:
    """Keras 3's config of a ``Sequential`` model (its InputLayer first, when it has one)."""
    layers = list(model.layers)
    if model._input_layer is not None:
        layers.insert(0, model._input_layer)
    config = {
        "name": model.name,
        "trainable": model.trainable,
        "dtype": dtype_policy_config(model.dtype),
        "layers": [serialize_keras_object(layer) for layer in layers],
    }
    if model.built and model._input_layer is not None:
        config["build_input_shape"] = list(model._input_layer.batch_shape)
    return config


def sequential_from_config(cls, config: Mapping, custom_objects=None):
    """Rebuild a ``Sequential`` model from :func:`sequential_get_config` output (or Keras's)."""
    config = dict(config)
    if "layers" not in config:
        raise ValueError(
            "A Sequential model configuration must be a dictionary containing the 'name' and "
            f"'layers' keys. Received keys: {sorted(config)}"
        )
    model = cls(name=config.get("name"), trainable=config.get("trainable", True))
    for layer_config in config["layers"]:
        model.add(deserialize_keras_object(layer_config, custom_objects=custom_objects))
    shape = shape_from_json(config.get("build_input_shape"))
    if not model.built and isinstance(shape, tuple):
        model.build(shape)
    return model


# -- compile -------------------------------------------------------------------------------
def get_compile_config(model) -> dict:
    """The arguments ``model`` was compiled with, serialized (Keras's ``get_compile_config``)."""
    if not getattr(model, "compiled", False):
        return {}
    weights = list(getattr(model, "_loss_weights", None) or [])
    metrics = list(getattr(model, "_metric_ids", None) or [])
    return {
        "optimizer": serialize_keras_object(model.optimizer),
        "loss": serialize_keras_object(model.loss),
        "loss_weights": None if all(w == 1.0 for w in weights) else weights,
        "metrics": serialize_keras_object(metrics) if metrics else None,
        "weighted_metrics": None,
        "run_eagerly": False,
        "steps_per_execution": 1,
        "jit_compile": False,
    }


def compile_from_config(model, config: Mapping, custom_objects=None, safe_mode=True) -> None:
    """Compile ``model`` with a deserialized compile config (unknown entries are ignored)."""
    arguments = deserialize_keras_object(
        {k: v for k, v in config.items() if k in COMPILE_ARGUMENTS},
        custom_objects=custom_objects,
        safe_mode=safe_mode,
    )
    if arguments.get("optimizer") is None:
        arguments.pop("optimizer", None)
    model.compile(**arguments)
