"""Sequential models: a plain stack of layers, each feeding the next."""

from __future__ import annotations

from cnnkit.layers.base import NOT_GIVEN, KerasTensor, Layer
from cnnkit.layers.core import InputLayer
from cnnkit.models.functional import adjust_input_rank
from cnnkit.models.model import Model


class Sequential(Model):
    """A linear stack of layers.

    Args:
        layers: optional list of layers (an ``Input(...)`` or ``InputLayer`` may come first).
        name: model name (default ``"sequential"``).

    The model is built as soon as its input shape is known: from a leading
    ``Input``, from ``input_shape=`` on the first layer, or from the first data
    it sees (``fit``, ``predict``, a call, or ``build(input_shape)``).

    Example:
        >>> from cnnkit.layers import Input, Dense
        >>> model = Sequential([Input(shape=(4,)), Dense(8, activation="relu"), Dense(2)])
        >>> model.output_shape
        (None, 2)
    """

    samplewise = True

    def __init__(self, layers=None, trainable=True, name=None):
        super().__init__(trainable=trainable, name=name)
        self._stack: list[Layer] = []
        self._input_layer: InputLayer | None = None
        self._output_tensor: KerasTensor | None = None
        for layer in layers or []:
            self.add(layer)

    def add(self, layer) -> None:
        """Append a layer (or an ``Input``) to the stack, building it when the shape is known."""
        if isinstance(layer, KerasTensor) and isinstance(layer._keras_history[0], InputLayer):
            layer = layer._keras_history[0]
        if not isinstance(layer, Layer):
            raise TypeError(
                "Only instances of `Layer` can be added to a Sequential model. "
                f"Received: {layer!r} (of type {type(layer).__name__})"
            )
        if isinstance(layer, InputLayer):
            if self._stack or self._input_layer is not None:
                raise ValueError(
                    "An Input can only be the first layer of a Sequential model. "
                    f"Received {layer.name!r} after {len(self._stack)} layer(s)."
                )
            self._input_layer = layer
            return
        if layer in self._stack:
            raise ValueError(f"Layer {layer.name!r} is already in Sequential model {self.name!r}.")
        if not self._stack and self._input_layer is None and layer._input_shape_arg is not None:
            self._input_layer = InputLayer(shape=layer._input_shape_arg)
        self._stack.append(layer)
        self._tracked_layers = list(self._stack)
        if self._input_layer is not None:
            self._output_tensor = layer(self._output_tensor or self._input_layer.output_tensor)
            self.built = True

    def pop(self) -> Layer:
        """Remove and return the last layer (an unbuilt model stays unbuilt)."""
        if not self._stack:
            raise IndexError("There are no layers in the model.")
        layer = self._stack.pop()
        self._tracked_layers = list(self._stack)
        self._output_tensor = None
        self.built = False
        if self._input_layer is not None and self._stack:
            self.build()  # the remaining layers on the model's input again
        return layer

    @property
    def layers(self) -> list[Layer]:
        return list(self._stack)

    def _layers_fed_by_inputs(self) -> list[tuple[Layer, int]]:
        return [(self._stack[0], 0)] if self._stack else []

    def build(self, input_shape=None) -> None:
        if self._input_layer is None:
            if input_shape is None:
                raise ValueError(
                    f"Sequential model {self.name!r} cannot be built: it has no Input and no "
                    "input shape was given. Call build(input_shape) or fit/predict on data."
                )
            self._input_layer = InputLayer(batch_shape=tuple(input_shape))
        tensor = self._input_layer.output_tensor
        for layer in self._stack:
            tensor = layer(tensor)
        self._output_tensor = tensor
        self.built = True

    # -- saving: the config lists the layers, beside the class (as Keras's sequential.py) ------
    _is_graph_network = True

    def get_config(self) -> dict:
        """Keras 3's config of a ``Sequential`` model (its InputLayer first, when it has one)."""
        # cnnkit.models/__init__ loads cnnkit.saving after this module: imported at call time
        from cnnkit.saving.keras_configs import dtype_policy_config
        from cnnkit.saving.serialization import serialize_keras_object

        layers = list(self.layers)
        if self._input_layer is not None:
            layers.insert(0, self._input_layer)
        config = {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": dtype_policy_config(self.dtype),
            "layers": [serialize_keras_object(layer) for layer in layers],
        }
        if self.built and self._input_layer is not None:
            config["build_input_shape"] = list(self._input_layer.batch_shape)
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """Rebuild a ``Sequential`` model from :meth:`get_config` output (or Keras's)."""
        # cnnkit.models/__init__ loads cnnkit.saving after this module: imported at call time
        from cnnkit.saving.keras_configs import shape_from_json
        from cnnkit.saving.serialization import deserialize_keras_object

        config = dict(config)
        if "layers" not in config:
            raise ValueError(
                "A Sequential model configuration must be a dictionary containing the 'name' "
                f"and 'layers' keys. Received keys: {sorted(config)}"
            )
        model = cls(name=config.get("name"), trainable=config.get("trainable", True))
        for layer_config in config["layers"]:
            model.add(deserialize_keras_object(layer_config, custom_objects=custom_objects))
        shape = shape_from_json(config.get("build_input_shape"))
        if not model.built and isinstance(shape, tuple):
            model.build(shape)
        return model

    def get_build_config(self) -> dict | None:
        """``{"input_shape": ...}`` of the model's input, once it has one."""
        if not self.built or self._input_layer is None:
            return None
        return {"input_shape": list(self._input_layer.batch_shape)}

    def _keras_layer_order(self) -> list[Layer]:
        """The layers in the order Keras 3 lists them (it names the weights file's groups)."""
        return list(self.layers)

    def _maybe_build(self, shapes) -> None:
        # As Keras: a model built by its first call keeps that call's batch size.
        if not self.built and self._input_layer is None:
            self.build(tuple(shapes[0] if isinstance(shapes, list) else shapes))

    @property
    def input(self) -> KerasTensor:
        """The symbolic input (tf.keras's ``model.input``; a built model only)."""
        self._require_built("input")
        return self._input_layer.output_tensor

    @property
    def output(self) -> KerasTensor:
        """The symbolic output (tf.keras's ``model.output``; a built model only)."""
        self._require_built("output")
        return self._output_tensor

    @property
    def inputs(self) -> list[KerasTensor]:
        return [self._input_layer.output_tensor] if self._input_layer is not None else []

    @property
    def outputs(self) -> list[KerasTensor]:
        return [self._output_tensor] if self._output_tensor is not None else []

    @property
    def input_shape(self):
        self._require_built("input_shape")
        return self._input_layer.batch_shape

    @property
    def output_shape(self):
        self._require_built("output_shape")
        return self._output_tensor.shape

    def _require_built(self, what: str) -> None:
        if self._input_layer is None or self._output_tensor is None:
            raise AttributeError(
                f"Sequential model {self.name!r} has no defined {what} yet: it has not been built."
            )

    def call(self, inputs, training=None):
        if self._input_layer is not None:
            inputs = adjust_input_rank(inputs, self._input_layer.batch_shape)
            expected, found = self._input_layer.batch_shape, tuple(inputs.shape)
            if (
                len(expected) != len(found)
                or any(  # any batch size, as Keras
                    e is not None and e != f for e, f in zip(expected[1:], found[1:])
                )
            ):
                raise ValueError(
                    f'Input 0 of layer "{self.name}" is incompatible with the layer: expected '
                    f"shape={expected}, found shape={found}"
                )
        x = inputs
        for layer in self._stack:
            # as Keras (whose Sequential runs a functional graph): the model's `training`
            # when given, else the value the layer's graph node holds, its `call`'s default
            given = training
            if given is None and layer._call_takes("training"):
                given = layer._call_training_default()
            x = layer(x, training=NOT_GIVEN if given is None else given)
        return x

    def compute_output_shape(self, input_shape):
        shape = tuple(input_shape)
        for layer in self._stack:
            shape = layer._output_shape_for(shape)
        return shape
