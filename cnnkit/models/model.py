"""The Model base class: a Layer that owns layers and can be trained.

``Model(inputs, outputs)`` builds a functional model (a graph of layers, see
:mod:`cnnkit.models.functional`); subclassing ``Model`` and writing ``call``
gives a model whose layers are the ones assigned as attributes, as in Keras.
"""

from __future__ import annotations

import numpy as np

from cnnkit import backend
from cnnkit.argument_validation import snake_case
from cnnkit.layers.base import Layer
from cnnkit.models.training import Trainer

# The entries of a compile config that ``compile_from_config`` passes to ``compile``.
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


class Model(Trainer, Layer):
    """A trainable group of layers.

    ``Model(inputs, outputs, name=None)`` returns a functional model; see
    :class:`cnnkit.models.functional.Functional`.

    Example:
        >>> from cnnkit.layers import Input, Dense
        >>> i = Input(shape=(3,))
        >>> model = Model(i, Dense(2)(i))
        >>> model.count_params()
        8
    """

    _accepts_strings = True  # a first TextVectorization layer takes raw text
    # What saving needs to know, declared by the class (Keras's ``_obj_type``): a model's
    # config is read without dropping Keras-only arguments, and a graph network (Functional,
    # Sequential) saves its layers under ``layers/`` in ``_keras_layer_order()``.
    _saveable_kind = "model"
    _is_graph_network = False
    _sublayers_attribute = "_tracked_layers"

    def __new__(cls, *args, **kwargs):
        if cls is Model and (args or "inputs" in kwargs or "outputs" in kwargs):
            from cnnkit.models.functional import Functional

            return super().__new__(Functional)
        if cls is not Model and _functional_arguments(args, kwargs):
            from cnnkit.models.functional import Functional

            if not issubclass(cls, Functional):  # class MyModel(keras.Model) + (inputs, outputs)
                _inject_functional(cls)
        return super().__new__(cls)

    def __init__(self, *args, **kwargs):
        trainable = kwargs.pop("trainable", True)
        name = kwargs.pop("name", None)
        dtype = kwargs.pop("dtype", None)
        if args or kwargs:
            raise TypeError(
                f"Unrecognized arguments passed to {type(self).__name__}: args={args}, "
                f"kwargs={kwargs}. Pass `inputs` and `outputs` for a functional model."
            )
        Layer.__init__(
            self,
            trainable=trainable,
            name=name or backend.unique_name(self._default_name()),
            dtype=dtype,
        )
        Trainer.__init__(self)

    @classmethod
    def _default_name(cls) -> str:
        return snake_case(cls.__name__)

    @property
    def layers(self) -> list[Layer]:
        return list(self.__dict__.get("_tracked_layers", []))

    def _sublayers(self) -> list[Layer]:
        return self.layers

    def _layers_fed_by_inputs(self) -> list[tuple[Layer, int]]:
        """``(layer, input index)`` for each layer that reads a model input as it is (its
        whole data is checked before training, e.g. an ``Embedding``'s indices); none known
        for a subclassed model."""
        return []

    def get_layer(self, name: str | None = None, index: int | None = None) -> Layer:
        """Find a layer by name or by index."""
        if index is not None and name is not None:
            raise ValueError("Provide only one of `name` or `index`, not both.")
        if index is not None:
            layers = self.layers
            if not -len(layers) <= index < len(layers):
                raise ValueError(
                    f"Was asked to retrieve layer at index {index} but model only has "
                    f"{len(layers)} layers."
                )
            return layers[index]
        for layer in self.layers:
            if layer.name == name:
                return layer
        names = [layer.name for layer in self.layers]
        raise ValueError(f"No such layer: {name}. Existing layers are: {names}.")

    def build(self, input_shape) -> None:
        self.built = True

    def count_params(self) -> int:
        if not self.built:
            raise ValueError(
                f"You tried to call `count_params` on model {self.name!r}, but the model isn't "
                "built. Build it first by calling it on data or with `build(input_shape)`."
            )
        return int(sum(w.data.size for w in self.weights))

    def export(self, filepath, format="onnx", verbose=None, opset_version=None) -> None:
        """Export the model for inference; cnnkit writes ONNX (needs the ``onnx`` package).

        Args:
            filepath: the file to write, e.g. ``"model.onnx"``.
            format: only ``"onnx"`` (Keras's ``"tf_saved_model"`` and ``"openvino"`` need
                TensorFlow or OpenVINO).
            verbose: print where the file was written.
            opset_version: the ONNX opset, default 17 (see :func:`cnnkit.export.export_onnx`).

        Raises:
            ValueError: for another ``format``; see :func:`cnnkit.export.export_onnx` for the rest.
        """
        if format != "onnx":
            raise ValueError(
                "cnnkit can only export format='onnx' (TensorFlow SavedModel and OpenVINO need "
                f"their own libraries). Received: format={format!r}"
            )
        # optional: the ONNX exporter is loaded only when a model is exported
        from cnnkit.export import export_onnx

        export_onnx(self, filepath, opset=17 if opset_version is None else opset_version)
        if verbose:
            print(f"Saved the ONNX model to {filepath}")

    def summary(
        self, line_length=None, positions=None, print_fn=None, *, explain=False, **kwargs
    ) -> None:
        """Print a Keras-style table of the layers, their output shapes and parameter counts.

        ``explain=True`` (a cnnkit extension) adds, for each convolution, the parameters
        of a dense layer with the same input and output (parameter sharing).
        """
        from cnnkit.models.summary import print_summary

        print_summary(self, line_length=line_length, print_fn=print_fn, explain=explain, **kwargs)

    def get_config(self) -> dict:
        """Keras 3's config of a subclassed model: its ``name`` and ``trainable`` (a subclass
        with other constructor arguments overrides it). ``Functional`` and ``Sequential``
        return their whole graph."""
        return {"name": self.name, "trainable": self.trainable}

    @classmethod
    def from_config(cls, config: dict, custom_objects=None):
        """Rebuild a model from ``get_config()`` output (Keras's, too).

        A functional config (``layers``, ``input_layers``, ``output_layers``) rebuilds the
        graph, as an instance of ``cls`` (``Functional`` for ``Model``); any other config is
        passed to the constructor.
        """
        if "layers" in config and "input_layers" in config and "output_layers" in config:
            from cnnkit.models.functional import Functional  # it imports this module
            from cnnkit.models.functional_config import functional_from_config

            target = Functional if cls is Model else cls
            return functional_from_config(target, config, custom_objects)
        try:
            return cls(**config)
        except TypeError as err:
            raise TypeError(
                f"Unable to revive model {cls.__name__!r} from its config: {err}. A subclassed "
                "model must implement `get_config()` and `from_config()` to be saved and loaded."
            ) from None

    def _build_from_saved_shape(self, shape) -> None:
        """Build a deserialized model from the input shape saved with it
        (:meth:`build_from_config`): a subclassed model creates its layers' weights in
        ``call``, so it runs once on zeros of that shape."""
        if self._is_graph_network:
            self._maybe_build(shape)
            return
        from cnnkit.autodiff import no_grad

        def zeros(s):
            return np.zeros(tuple(1 if d is None else d for d in s), dtype=self.dtype)

        inputs = [zeros(s) for s in shape] if isinstance(shape, list) else zeros(shape)
        with no_grad():
            self(inputs, training=False)

    def get_compile_config(self) -> dict:
        """The serialized arguments of ``compile()`` (saved in the ``.keras`` config)."""
        if not getattr(self, "compiled", False):
            return {}
        # cnnkit.models/__init__ loads cnnkit.saving after this module: imported at call time
        from cnnkit.saving.serialization import serialize_keras_object

        weights = list(getattr(self, "_loss_weights", None) or [])
        given = getattr(self, "_compile_arguments", None) or {}  # this compile's, as Keras
        loss = given.get("loss", self.loss)
        metrics = given.get("metrics")  # as given: a list, or a dict by output
        weighted = given.get("weighted_metrics")
        with self._metrics_named_as_given():
            metrics = None if metrics is None else serialize_keras_object(metrics)
            weighted = None if weighted is None else serialize_keras_object(weighted)
        return {
            "optimizer": serialize_keras_object(self.optimizer),
            "loss": serialize_keras_object(loss),
            "loss_weights": None if all(w == 1.0 for w in weights) else weights,
            "metrics": metrics,
            "weighted_metrics": weighted,
            "run_eagerly": bool(getattr(self, "run_eagerly", False)),
            "steps_per_execution": int(getattr(self, "steps_per_execution", 1)),
            "jit_compile": False,
        }

    def compile_from_config(self, config) -> None:
        """Compile a loaded model from :meth:`get_compile_config`'s output (unknown entries
        are ignored).

        As Keras, a model whose class overrides ``compile`` but not this method is left
        uncompiled, with a warning (its ``compile`` may take other arguments).
        """
        import warnings

        # cnnkit.models/__init__ loads cnnkit.saving after this module: imported at call time
        from cnnkit.saving.serialization import deserialize_keras_object

        if type(self).compile is not Trainer.compile:
            warnings.warn(
                "`compile()` was not called as part of model loading because the model's "
                "`compile()` method is custom. All subclassed Models that have `compile()` "
                "overridden should also override `get_compile_config()` and "
                "`compile_from_config(config)`. Alternatively, you can call `compile()` "
                "manually after loading.",
                stacklevel=2,
            )
            return
        arguments = deserialize_keras_object(
            {k: v for k, v in config.items() if k in COMPILE_ARGUMENTS}
        )
        if arguments.get("optimizer") is None:
            arguments.pop("optimizer", None)
        self.compile(**arguments)

    def to_json(self, **kwargs) -> str:
        """The model's serialized config (``serialize_keras_object``) as a JSON string.

        ``kwargs`` go to ``json.dumps``; rebuild with ``cnnkit.models.model_from_json``.
        """
        import json

        # cnnkit.models/__init__ loads cnnkit.saving after this module: imported at call time
        from cnnkit.saving.serialization import serialize_keras_object

        return json.dumps(serialize_keras_object(self), **kwargs)

    # -- saving (see cnnkit.saving) ----------------------------------------------------
    def save(self, filepath, overwrite=True, zipped=None, **kwargs) -> None:
        """Save the model, its weights and optimizer state as a Keras 3 ``.keras`` file.

        See :func:`cnnkit.saving.save_model`; reload with ``cnnkit.models.load_model``.
        """
        # cnnkit.models/__init__ loads cnnkit.saving after this module: imported at call time
        from cnnkit.saving import save_model

        save_model(self, filepath, overwrite=overwrite, zipped=zipped, **kwargs)

    def save_weights(self, filepath, overwrite=True) -> None:
        """Save the weights (and optimizer state) to a ``.weights.h5`` file (Keras 3's layout)."""
        # cnnkit.models/__init__ loads cnnkit.saving after this module: imported at call time
        from cnnkit.saving import save_weights

        save_weights(self, filepath, overwrite=overwrite)

    def load_weights(self, filepath, skip_mismatch=False, **kwargs) -> None:
        """Load weights from a ``.weights.h5`` or ``.keras`` file (see ``cnnkit.saving``)."""
        # cnnkit.models/__init__ loads cnnkit.saving after this module: imported at call time
        from cnnkit.saving import load_weights

        load_weights(self, filepath, skip_mismatch=skip_mismatch, **kwargs)


def _functional_arguments(args, kwargs) -> bool:
    """Whether a constructor call passes a functional model's ``inputs`` and ``outputs``
    (Keras's rule: two positional arguments, or both by name, or one and ``outputs=``)."""
    return (
        len(args) == 2
        or (len(args) == 1 and "outputs" in kwargs)
        or ("inputs" in kwargs and "outputs" in kwargs)
    )


def _inject_functional(cls):
    """Rebase ``cls`` (a user's ``Model`` subclass) on ``Functional`` instead of ``Model``, as
    Keras does for ``MyModel(inputs, outputs)``: the class keeps its own methods
    (``train_step``...) and gains the functional graph; ``type(model)`` stays ``cls``."""
    from cnnkit.models.functional import Functional

    if cls is Model:
        return Functional
    if cls is object or not issubclass(cls, Model) or issubclass(cls, Functional):
        return cls
    cls.__bases__ = tuple(_inject_functional(base) for base in cls.__bases__)
    return cls


def model_from_json(json_string, custom_objects=None):
    """Rebuild a model from the JSON string of ``Model.to_json()``, as ``keras.models``.

    Args:
        json_string: the JSON text of a serialized model config.
        custom_objects: ``{name: class_or_function}`` for custom layers and functions.

    Returns:
        A new, freshly initialised model (no weights are stored in the JSON).

    Raises:
        TypeError: if ``json_string`` is not a ``str``/``bytes``.
        ValueError: if it is not valid JSON.

    Example:
        >>> from cnnkit import Sequential, Input, layers
        >>> model = Sequential([Input((3,)), layers.Dense(2)])
        >>> model_from_json(model.to_json()).count_params()
        8
    """
    import json

    # cnnkit.models/__init__ loads cnnkit.saving after this module: imported at call time
    from cnnkit.saving.serialization import deserialize_keras_object

    if not isinstance(json_string, (str, bytes, bytearray)):
        raise TypeError(
            f"model_from_json: `json_string` must be a str, received {type(json_string).__name__}"
        )
    try:
        config = json.loads(json_string)
    except json.JSONDecodeError as err:
        raise ValueError(f"model_from_json: `json_string` is not valid JSON ({err})") from None
    return deserialize_keras_object(config, custom_objects=custom_objects)
