"""Functional models: a directed acyclic graph of layer calls from Input tensors to outputs."""

from __future__ import annotations

import inspect
from collections.abc import Mapping

from cnnkit.autodiff import Tensor
from cnnkit.backend import xp
from cnnkit.layers.base import KerasTensor, Layer, _flatten, _is_string_array
from cnnkit.layers.core import InputLayer
from cnnkit.layers.operations import Operation
from cnnkit.models.model import Model


class Functional(Model):
    """A model defined by its symbolic inputs and outputs (Keras's Functional API).

    Args:
        inputs: a KerasTensor from ``Input`` or a list of them.
        outputs: a KerasTensor produced by layer calls, or a list of them.
        name: model name (default ``"functional"``, then ``"functional_1"``...).

    Example:
        >>> from cnnkit.layers import Input, Dense
        >>> i = Input(shape=(4,))
        >>> x = Dense(8, activation="relu")(i)
        >>> model = Model(i, Dense(2, activation="softmax")(x))
        >>> model.predict(np.ones((3, 4)), verbose=0).shape
        (3, 2)
    """

    samplewise = True

    _keeps_integer_inputs = True

    def __init__(self, inputs, outputs, name=None, trainable=True, **kwargs):
        super().__init__(name=name, trainable=trainable, **kwargs)
        self._inputs_struct = inputs
        if type(outputs) is dict:  # as Keras's tree.flatten: a dict's outputs by sorted key
            outputs = {key: outputs[key] for key in sorted(outputs)}
        self._outputs_struct = outputs
        self.inputs = _flatten(inputs)
        self.outputs = _flatten(outputs)
        for arg, tensors in (("inputs", self.inputs), ("outputs", self.outputs)):
            if not tensors:
                raise ValueError(
                    f"A functional Model needs at least one tensor in `{arg}`. "
                    f"Received: {arg}={tensors!r}"
                )
            for t in tensors:
                if not isinstance(t, KerasTensor):
                    raise TypeError(
                        f"All `{arg}` of a functional Model must be symbolic tensors (from "
                        f"`Input` or a layer called on one). Received: {t!r}"
                    )
        for t in self.inputs:
            if not isinstance(t._keras_history[0], InputLayer):
                raise ValueError(
                    f"Model inputs must come from `Input`. Received: {t!r}, produced by layer "
                    f"{t._keras_history[0].name!r}."
                )
        nodes, op_index = _build_map(self.outputs)  # one walk: the run order and Keras's
        self._nodes = _nodes_in_order(nodes, self.inputs)
        self._tracked_layers = layers_by_depth(nodes, op_index, self.inputs)
        self.built = True

    def add_loss(self, loss) -> None:
        """Not supported on a functional model, as in Keras 3 (whose ``Functional.add_loss``
        raises ``NotImplementedError``): add the loss from a layer's ``call`` instead.

        Raises:
            NotImplementedError: always.
        """
        del loss
        raise NotImplementedError(
            f"`add_loss` is not supported on the functional model {self.name!r} (as in "
            "Keras 3). Add the loss inside a layer's `call` with `self.add_loss(...)`, or "
            "compute it in a custom `compute_loss`."
        )

    @classmethod
    def _default_name(cls) -> str:
        return "functional"

    # -- saving: the config is the graph, beside the class (as Keras's functional.py) -------
    _is_graph_network = True
    _keras_module = "keras.src.models.functional"  # the module Keras writes for this class

    def get_config(self) -> dict:
        """Keras 3's config: the layers, their calls and the model's inputs and outputs (see
        :mod:`cnnkit.models.functional_config`). A subclass with its own constructor gets
        ``Model``'s ``{"name", "trainable"}`` (Keras's ``functional_like_constructor``)."""
        if not _functional_like(type(self)):
            return Model.get_config(self)
        from cnnkit.models.functional_config import functional_get_config  # imports this module

        return functional_get_config(self)

    def get_build_config(self) -> dict:
        """A functional model is built by its graph: nothing to record."""
        return {"input_shape": None}

    def _keras_layer_order(self) -> list[Layer]:
        """The layers in the order Keras 3 lists them (it names the weights file's groups)."""
        return list(self.operations)

    @property
    def layers(self) -> list[Layer]:
        """The layers, in graph order (operations such as ``x + y`` are not layers, as Keras)."""
        return [layer for layer in self._tracked_layers if not isinstance(layer, Operation)]

    @property
    def operations(self) -> list[Layer]:
        """Every node's layer or operation, in graph order (what ``summary`` lists)."""
        return list(self._tracked_layers)

    @property
    def input(self):
        """The symbolic inputs the model was made from, in the structure given (as Keras)."""
        return self._inputs_struct

    @property
    def output(self):
        """The symbolic outputs the model was made from, in the structure given (as Keras)."""
        return self._outputs_struct

    @property
    def input_shape(self):
        shapes = [t.shape for t in self.inputs]
        return shapes[0] if len(shapes) == 1 else shapes

    @property
    def output_shape(self):
        shapes = [t.shape for t in self.outputs]
        return shapes[0] if len(shapes) == 1 else shapes

    @property
    def output_names(self) -> list[str]:
        """The outputs' names: the keys of a dict of outputs, else the producing layers'."""
        if isinstance(self._outputs_struct, Mapping):
            return list(self._outputs_struct)
        return [t._keras_history[0].name for t in self.outputs]

    @property
    def input_names(self) -> list[str]:
        """The inputs' names: the keys of a dict of inputs, else the ``Input`` layers'."""
        if isinstance(self._inputs_struct, Mapping):
            return list(self._inputs_struct)
        return [t._keras_history[0].name for t in self.inputs]

    def _inputs_by_name(self, inputs: Mapping) -> list:
        """A dict of inputs keyed by input name, as a list in the order of ``self.inputs``."""
        missing = [k for k in self.input_names if k not in inputs]
        if missing:
            raise ValueError(
                f'Model "{self.name}" has no data for the input(s) {missing}. Expected keys '
                f"{self.input_names}. Received keys: {list(inputs)}"
            )
        return [inputs[k] for k in self.input_names]

    def _layers_fed_by_inputs(self) -> list[tuple[Layer, int]]:
        position = {id(t): i for i, t in enumerate(self.inputs)}
        return [
            (node.layer, position[id(node.input_tensors[0])])
            for node in self._nodes
            if len(node.input_tensors) == 1 and id(node.input_tensors[0]) in position
        ]

    def __call__(self, inputs, *args, **kwargs):
        if isinstance(inputs, Mapping):  # inputs by name, as Keras
            inputs = self._inputs_by_name(inputs)
        return super().__call__(inputs, *args, **kwargs)

    def call(self, inputs, training=None):
        given = _flatten(inputs)
        if len(given) != len(self.inputs):
            raise ValueError(
                f'Model "{self.name}" expects {len(self.inputs)} input(s), but it received '
                f"{len(given)} input tensors."
            )
        values: dict[int, Tensor] = {}
        for index, (symbolic, tensor) in enumerate(zip(self.inputs, given)):
            values[id(symbolic)] = self._conform(index, symbolic, tensor)
        for node in self._nodes:
            out = node.layer(
                _map_structure(node.inputs, values),
                *_map_structure(node.args, values),
                # as Keras: the model's `training` when given, else the node's own value
                training=node.training if training is None else training,
                **_map_structure(node.kwargs, values),
            )
            for symbolic, tensor in zip(node.output_tensors, _flatten(out)):
                values[id(symbolic)] = tensor
        outputs = [values[id(t)] for t in self.outputs]
        if isinstance(self._outputs_struct, Mapping):
            return dict(zip(self._outputs_struct, outputs))
        if isinstance(self._outputs_struct, (list, tuple)):
            return outputs
        return outputs[0]

    def _conform(self, index: int, symbolic: KerasTensor, tensor) -> Tensor:
        """Check a concrete input against its Input's shape and cast it to the Input's dtype."""
        tensor = tensor if isinstance(tensor, Tensor) else Tensor(xp.asarray(tensor))
        tensor = adjust_input_rank(tensor, symbolic.shape)
        expected, found = symbolic.shape, tuple(tensor.shape)
        # As Keras, the batch size of an Input (``batch_shape=``) is not enforced on calls.
        if len(expected) != len(found) or any(
            e is not None and e != f for e, f in zip(expected[1:], found[1:])
        ):
            raise ValueError(
                f'Input {index} of layer "{self.name}" is incompatible with the layer: expected '
                f"shape={expected}, found shape={found}"
            )
        if symbolic.dtype == "string":
            if not _is_string_array(tensor.data):
                raise TypeError(
                    f'Input {index} of layer "{self.name}" expects strings (its Input has '
                    f'dtype="string"). Received an array of dtype {tensor.data.dtype}.'
                )
        elif tensor.data.dtype != symbolic.dtype:  # as Keras: inputs take their Input's dtype
            tensor = Tensor(tensor.data.astype(symbolic.dtype))
        return tensor

    def compute_output_shape(self, input_shape):
        shapes = [t.shape for t in self.outputs]
        first = input_shape[0] if isinstance(input_shape, list) else input_shape
        batch = first[0] if first else None
        shapes = [(batch, *s[1:]) for s in shapes]
        if isinstance(self._outputs_struct, Mapping):
            return dict(zip(self._outputs_struct, shapes))
        return shapes if isinstance(self._outputs_struct, (list, tuple)) else shapes[0]


def _functional_like(cls) -> bool:
    """Whether ``cls`` keeps ``Functional``'s constructor arguments."""

    def arguments(klass):
        return inspect.getfullargspec(klass.__init__).args[1:]

    return arguments(cls) == arguments(Functional)


def adjust_input_rank(tensor: Tensor, expected: tuple) -> Tensor:
    """Keras's one-axis leeway: ``(N,)`` data for an ``(None, 1)`` input and vice versa.

    A trailing axis of size 1 is added when the Input has one more axis whose size is 1 (a
    1-D array of strings for ``Input(shape=(1,), dtype="string")``), or squeezed when the
    data has one more axis of size 1. Anything else is left for the shape check.
    """
    found = tensor.shape
    if len(found) == len(expected) - 1 and expected[-1] == 1:
        return Tensor(tensor.data[..., None])
    if len(found) == len(expected) + 1 and found[-1] == 1:
        return Tensor(tensor.data[..., 0])
    return tensor


def _map_structure(structure, values):
    """``structure`` with each KerasTensor replaced by its value (constants as they are)."""
    if isinstance(structure, (list, tuple)):
        return type(structure)(_map_structure(s, values) for s in structure)
    if isinstance(structure, Mapping):
        return {k: _map_structure(v, values) for k, v in structure.items()}
    return values[id(structure)] if isinstance(structure, KerasTensor) else structure


def _nodes_in_order(nodes, inputs) -> list:
    """The layer calls of ``nodes`` (:func:`_build_map`'s order: each after its inputs)
    without the ``Input`` nodes, each of which must be one of the model's ``inputs``."""
    input_ids = {id(t) for t in inputs}
    order = []
    for node in nodes:
        if not isinstance(node.layer, InputLayer):
            order.append(node)
        elif id(node.output_tensors[0]) not in input_ids:
            raise ValueError(
                "Graph disconnected: cannot obtain value for tensor "
                f"{node.output_tensors[0]!r} at layer {node.layer.name!r}. It is not among the "
                "model's `inputs`; pass it in `inputs` as well."
            )
    return order


def layers_by_depth(nodes, op_index, inputs) -> list:
    """The graph's layers and operations in Keras's order (``Functional.layers`` in Keras 3,
    and so the order of ``weights``, ``get_weights()``, configs and the legacy ``.h5`` files
    that load layer by layer): by decreasing depth (inputs first), ties broken by the order a
    depth-first walk from the outputs first meets them, exactly as Keras's ``map_graph``.
    ``nodes, op_index`` are :func:`_build_map`'s.
    """
    op_index = dict(op_index)
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
    for tensor in inputs:  # inputs that no output depends on
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
