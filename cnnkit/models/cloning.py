"""``clone_model``: the same architecture with fresh weights, as ``keras.models.clone_model``."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from cnnkit.layers.base import KerasTensor, Layer, _flatten
from cnnkit.layers.core import Input, InputLayer
from cnnkit.layers.operations import Operation
from cnnkit.models.functional import Functional
from cnnkit.models.functional_config import node_call_kwargs
from cnnkit.models.sequential import Sequential


def _default_clone(layer: Layer) -> Layer:
    """A new layer from ``layer.get_config()`` (Keras's default), sharing its functions."""
    if isinstance(layer, Operation):  # `x + y` on symbolic tensors: no config to save
        return Operation(layer.op, **layer.op_config)
    config = layer.get_config()
    for key, value in config.items():
        function = getattr(layer, key, None) if key.endswith("activation") else None
        if isinstance(value, str) and callable(function):  # e.g. a registered custom one
            config[key] = function
    return type(layer).from_config(config)


def clone_model(
    model,
    input_tensors=None,
    clone_function: Callable[[Layer], Layer] | None = None,
    call_function=None,
    recursive: bool = False,
    **kwargs,
):
    """A new model with the same architecture (and layer names) and newly initialised weights.

    Args:
        model: a ``Sequential`` or functional model (another model is rebuilt from its
            serialized config, which it must support).
        input_tensors: optional symbolic inputs (from ``Input``) for the new model.
        clone_function: ``layer -> new layer``, called once per layer (default: a new layer
            from ``layer.get_config()``); return ``layer`` itself to share it.
        call_function: not supported (Keras's hook for rewriting calls); must be ``None``.
        recursive: also clone nested Sequential/functional models with ``clone_function``.

    Returns:
        The new model, not compiled.

    Raises:
        ValueError: for unsupported arguments or inputs that do not match the model.

    Example:
        >>> from cnnkit.layers import Input, Dense
        >>> from cnnkit.models import Sequential
        >>> model = Sequential([Input((3,)), Dense(2, name="d")])
        >>> twin = clone_model(model)
        >>> twin.layers[0].name, twin.layers[0] is model.layers[0]
        ('d', False)
    """
    if kwargs:
        raise ValueError(f"Unexpected keyword arguments: {sorted(kwargs)}")
    if call_function is not None:
        raise ValueError("cnnkit's clone_model does not support `call_function`.")
    clone = clone_function or _default_clone
    cache: dict[int, Layer] = {}

    def clone_layer(layer: Layer) -> Layer:
        if id(layer) not in cache:
            if recursive and isinstance(layer, (Sequential, Functional)):
                cache[id(layer)] = clone_model(layer, clone_function=clone_function, recursive=True)
            else:
                cache[id(layer)] = clone(layer)
        return cache[id(layer)]

    if isinstance(model, Sequential):
        return _clone_sequential(model, input_tensors, clone_layer)
    if isinstance(model, Functional):
        return _clone_functional(model, input_tensors, clone_layer)
    if input_tensors is not None or clone_function is not None:
        raise ValueError(
            "Arguments `clone_function` and `input_tensors` are only supported for Sequential "
            f"and functional models. Received model of type {type(model).__name__}."
        )
    # cnnkit.models/__init__ loads cnnkit.saving after this module: imported at call time
    from cnnkit.saving import deserialize_keras_object, serialize_keras_object

    config = serialize_keras_object(model)
    config.pop("compile_config", None)
    return deserialize_keras_object(config)


def _input_tensors(input_tensors, count: int) -> list:
    tensors = _flatten(input_tensors)
    if len(tensors) != count or not all(isinstance(t, KerasTensor) for t in tensors):
        raise ValueError(
            f"`input_tensors` must be {count} symbolic tensor(s) from `Input`. "
            f"Received: input_tensors={input_tensors!r}"
        )
    return tensors


def _clone_sequential(model: Sequential, input_tensors, clone_layer) -> Sequential:
    layers = [clone_layer(layer) for layer in model.layers]
    if input_tensors is not None:
        first = [_input_tensors(input_tensors, 1)[0]]
    elif model._input_layer is not None:
        source = model._input_layer
        first = [InputLayer(batch_shape=source.batch_shape, dtype=source.dtype, name=source.name)]
    else:
        first = []
    return Sequential(first + layers, trainable=model.trainable, name=model.name)


def _clone_functional(model: Functional, input_tensors, clone_layer) -> Functional:
    if input_tensors is not None:
        new_inputs = _input_tensors(input_tensors, len(model.inputs))
    else:
        new_inputs = []
        for tensor in model.inputs:
            source = tensor._keras_history[0]
            new_inputs.append(
                Input(batch_shape=source.batch_shape, dtype=source.dtype, name=source.name)
            )
    values = {id(old): new for old, new in zip(model.inputs, new_inputs)}

    def remap(structure):
        if isinstance(structure, KerasTensor):
            return values[id(structure)]
        if isinstance(structure, (list, tuple)):
            return type(structure)(remap(s) for s in structure)
        if isinstance(structure, Mapping):
            return {k: remap(v) for k, v in structure.items()}
        return structure

    for node in model._nodes:
        layer = clone_layer(node.layer)
        outputs = layer(remap(node.inputs), *remap(node.args), **remap(node_call_kwargs(node)))
        for old, new in zip(node.output_tensors, _flatten(outputs)):
            values[id(old)] = new

    def rebuild(structure):
        if isinstance(structure, KerasTensor):
            return values[id(structure)]
        if isinstance(structure, Mapping):
            return {k: rebuild(v) for k, v in structure.items()}
        return [rebuild(s) for s in structure]

    inputs = new_inputs if isinstance(model._inputs_struct, (list, tuple)) else new_inputs[0]
    return Functional(
        inputs, rebuild(model._outputs_struct), name=model.name, trainable=model.trainable
    )
