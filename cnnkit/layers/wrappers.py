"""Layers made of layers: ``Wrapper``, ``SpectralNormalization``, ``Pipeline``, ``Identity``.

A wrapper owns its inner layer: the inner weights are part of its weights (the inner layer's
first, then the wrapper's own), its config holds the inner layer's serialized config, and a
weights file keeps the inner layer's variables under ``<wrapper>/layer`` as Keras does.
"""

from __future__ import annotations

import numbers

import numpy as np

from cnnkit import initializers
from cnnkit.autodiff import Tensor
from cnnkit.layers._shapes import require_rank
from cnnkit.layers.base import InputSpec, Layer


def serialize_layer(layer: Layer) -> dict:
    """A layer's Keras-format description (``module``, ``class_name``, ``config``...):
    ``keras.layers.serialize``, through :func:`cnnkit.saving.serialize_keras_object`.

    Example:
        >>> from cnnkit import layers
        >>> config = layers.serialize(layers.Dense(3, name="d"))
        >>> config["module"], config["class_name"], config["config"]["units"]
        ('keras.layers', 'Dense', 3)
        >>> layers.deserialize(config).get_config() == layers.Dense(3, name="d").get_config()
        True
    """
    # saving imports the layers: a wrapper reaches it when called, not at import
    from cnnkit.saving.serialization import serialize_keras_object

    return serialize_keras_object(layer)


def deserialize_layer(config, custom_objects=None) -> Layer:
    """A layer from :func:`serialize_layer`'s description (a layer passes through):
    ``keras.layers.deserialize``, through :func:`cnnkit.saving.deserialize_keras_object`.

    Raises:
        ValueError: a config that describes something other than a layer.
    """
    if isinstance(config, Layer):
        return config
    # saving imports the layers: a wrapper reaches it when called, not at import
    from cnnkit.saving.serialization import deserialize_keras_object

    layer = deserialize_keras_object(config, custom_objects=custom_objects)
    if not isinstance(layer, Layer):
        raise ValueError(
            "`keras.layers.deserialize` was passed a `config` object that is not a "
            f"`keras.layers.Layer`. Received: {config!r}"
        )
    return layer


class Wrapper(Layer):
    """Base class of layers that wrap another layer (``TimeDistributed``...).

    Args:
        layer: the wrapped ``Layer`` instance.

    Raises:
        ValueError: if ``layer`` is not a ``Layer``.

    Example:
        >>> from cnnkit.layers import Dense
        >>> class Twice(Wrapper):
        ...     def call(self, inputs):
        ...         return self.layer(inputs) * 2.0
        ...     def compute_output_shape(self, input_shape):
        ...         return self.layer._output_shape_for(input_shape)
        >>> Twice(Dense(3))(np.ones((2, 4), "float32")).shape
        (2, 3)
    """

    def __init__(self, layer, **kwargs):
        if not isinstance(layer, Layer):
            raise ValueError(
                f"Layer {layer} supplied to Wrapper isn't a supported layer type. Please "
                "ensure wrapped layer is a valid Keras layer."
            )
        super().__init__(**kwargs)
        self.layer = layer

    def build(self, input_shape=None):
        if not self.layer.built:
            self.layer._check_input(input_shape)  # the rank it expects, before it builds
            self.layer.build(input_shape)
            self.layer.built = True
            self.layer._build_shapes_arg = input_shape
        self.built = True

    def _sublayers(self) -> list[Layer]:
        return [self.layer]

    def _saved_sublayers(self) -> list[tuple[str, Layer]]:
        return [("layer", self.layer)]

    @property
    def weights(self):
        return self.trainable_weights + self.non_trainable_weights

    @property
    def trainable_weights(self):
        if not self.trainable:
            return []
        return self.layer.trainable_weights + [w for w in self._weights if w.trainable]

    @property
    def non_trainable_weights(self):
        own = [w for w in self._weights if not w.trainable or not self.trainable]
        return self.layer.non_trainable_weights + own

    def compute_output_shape(self, input_shape):
        return self.layer._output_shape_for(input_shape)

    def get_config(self):
        return {**super().get_config(), "layer": serialize_layer(self.layer)}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        layer = deserialize_layer(config.pop("layer"), custom_objects)
        return cls(layer, **config)


def _l2_normalize_all(v, epsilon: float = 1e-7):
    """``v`` over its Euclidean norm, ``1 / norm`` capped at ``1 / epsilon`` (Keras's default)."""
    norm = np.sqrt(np.sum(v * v))
    return v * min(1.0 / norm if norm > 0 else np.inf, 1.0 / epsilon)


class SpectralNormalization(Wrapper):
    """Divides the wrapped layer's kernel by its largest singular value, in training.

    Spectral normalisation (Miyato et al., 2018, https://arxiv.org/abs/1802.05957). The
    kernel, viewed as a matrix ``W`` of shape ``(-1, units)``, has its spectral norm ``σ``
    estimated by ``power_iterations`` steps of the power method from the persistent vector
    ``u`` (1, units)::

        v = normalize(u Wᵀ)      u = normalize(v W)      σ = v W uᵀ

    and, at each training call, the kernel variable is *replaced* by ``W / σ`` before the
    wrapped layer runs (as Keras: gradients flow to the normalised kernel, not through
    ``σ``). A kernel of zeros is left as it is. Inference uses the kernel as it stands.

    Args:
        layer: a layer with a ``kernel`` (``Dense``, ``Conv2D``...) or ``embeddings``.
        power_iterations: positive int, power-method steps per training call.

    Weights: the wrapped layer's, then ``vector_u`` (non-trainable, truncated normal with
    standard deviation 0.02).

    Raises:
        ValueError: ``power_iterations <= 0``; a wrapped layer without ``kernel`` or
            ``embeddings`` (when built).

    Example:
        >>> from cnnkit.layers import Dense
        >>> layer = SpectralNormalization(Dense(3), power_iterations=20)
        >>> _ = layer(np.ones((2, 4), "float32"), training=True)
        >>> round(float(np.linalg.svd(layer.layer.kernel.numpy())[1][0]), 3)
        1.0
    """

    def __init__(self, layer, power_iterations=1, **kwargs):
        super().__init__(layer, **kwargs)
        if (
            not isinstance(power_iterations, numbers.Integral)
            or isinstance(power_iterations, bool)
            or power_iterations <= 0
        ):
            raise ValueError(
                "`power_iterations` should be greater than zero. Received: "
                f"`power_iterations={power_iterations}`"
            )
        self.power_iterations = int(power_iterations)

    def build(self, input_shape):
        require_rank(self, input_shape, minimum=2)
        super().build(input_shape)
        self.input_spec = InputSpec(min_ndim=1, axes={-1: input_shape[-1]})
        if hasattr(self.layer, "kernel"):
            self.kernel = self.layer.kernel
        elif hasattr(self.layer, "embeddings"):
            self.kernel = self.layer.embeddings
        else:
            raise ValueError(
                f"{type(self.layer).__name__} object has no attribute 'kernel' nor 'embeddings'"
            )
        self.kernel_shape = tuple(self.kernel.shape)
        self.vector_u = self.add_weight(
            (1, self.kernel_shape[-1]),
            initializers.TruncatedNormal(stddev=0.02),
            trainable=False,
            name="vector_u",
        )
        self.built = True

    @property
    def weights(self):
        """Keras's order: the kernel, ``vector_u``, then the wrapped layer's other weights."""
        if not self.built:
            return super().weights
        rest = [w for w in self.layer.weights if w is not self.kernel]
        return [self.kernel, self.vector_u, *rest]

    def normalized_weights(self):
        """``(u, W / σ)`` after ``power_iterations`` power-method steps (arrays)."""
        w = self.kernel.data.reshape(-1, self.kernel_shape[-1])
        u = self.vector_u.data
        for _ in range(self.power_iterations):
            v = _l2_normalize_all(u @ w.T)
            u = _l2_normalize_all(v @ w)
        sigma = (v @ w) @ u.T
        return u, (w / sigma).reshape(self.kernel_shape)

    def call(self, inputs, training=False):
        if training and np.any(self.kernel.data != 0):
            u, kernel = self.normalized_weights()
            self.vector_u.assign(u.astype(self.vector_u.dtype))
            self.kernel.assign(kernel.astype(self.kernel.dtype))
        return self.layer(inputs)

    def compute_output_shape(self, input_shape):
        return self.layer._output_shape_for(input_shape)

    def get_config(self):
        return {**super().get_config(), "power_iterations": self.power_iterations}


class Identity(Layer):
    """Returns its input unchanged (a placeholder); masks pass through.

    Example:
        >>> Identity()(np.ones((1, 2), "float32")).numpy()
        array([[1., 1.]], dtype=float32)
    """

    samplewise = True  # each output sample depends on its input sample alone

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs):
        return inputs

    def compute_output_shape(self, input_shape):
        return input_shape


class Pipeline(Layer):
    """Applies a list of layers in order (Keras's preprocessing ``Pipeline``).

    Unlike ``Sequential`` it is a layer, not a model: it has no ``fit``, and its layers run in
    training mode unless told otherwise (``training=True`` by default, as in Keras, so
    random augmentations apply when it is called directly).

    Args:
        layers: list of layers.
        name: optional name.

    Example:
        >>> from cnnkit.layers import Rescaling
        >>> Pipeline([Rescaling(2.0), Rescaling(0.5, offset=1.0)])(np.ones((1, 2))).numpy()
        array([[2., 2.]], dtype=float32)
    """

    def __init__(self, layers, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        layers = list(layers)
        for layer in layers:
            if not isinstance(layer, Layer):
                raise ValueError(f"`Pipeline` takes a list of layers. Received: {layer!r}")
        self._pipeline_layers = layers
        self.supports_masking = True

    @property
    def layers(self) -> list[Layer]:
        return self._pipeline_layers

    def _sublayers(self) -> list[Layer]:
        return list(self._pipeline_layers)

    def _saved_sublayers(self) -> list[tuple[str, Layer]]:
        return [("layers", list(self._pipeline_layers))]

    def call(self, inputs, training=True, mask=None):
        out = inputs
        if mask is not None and isinstance(out, Tensor):
            out._keras_mask = mask
        for layer in self._pipeline_layers:  # each output carries its mask to the next layer
            out = layer(out, training=training)
        return out

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        for layer in self._pipeline_layers:
            input_shape = layer.compute_output_shape(input_shape)
        return input_shape

    def get_config(self):
        layers = [serialize_layer(layer) for layer in self._pipeline_layers]
        return {"layers": layers, "name": self.name}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        layers = config.get("layers")
        if not isinstance(layers, (list, tuple)):
            raise ValueError(
                "`Pipeline` config must contain a `layers` key mapping to a list of serialized "
                f"layers. Received config with layers={layers}."
            )
        config = {**config, "layers": [deserialize_layer(c, custom_objects) for c in layers]}
        return cls(**config)


class TimeDistributed(Wrapper):
    """Applies a layer to every time step of a sequence, with the same weights.

    The input ``(batch, timesteps, ...)`` is viewed as ``(batch * timesteps, ...)``, passed
    through the layer once, and viewed back as ``(batch, timesteps, ...)``: one call rather
    than Keras's loop over steps, the same result for any layer that treats samples
    independently (a layer using batch statistics in training, such as
    ``BatchNormalization``, pools them over all steps here). The timestep mask passes through.

    Args:
        layer: the layer applied to each step.

    Input shape:
        ``(batch, timesteps, *step_shape)``, at least 3-D.
    Output shape:
        ``(batch, timesteps, *layer_output_shape)``.

    Raises:
        ValueError: ``layer`` not a ``Layer``; an input of rank below 3.

    Example:
        >>> from cnnkit.layers import Dense
        >>> TimeDistributed(Dense(8))(np.ones((2, 10, 16), "float32")).shape
        (2, 10, 8)
    """

    samplewise = True  # each output sample depends on its input sample alone

    def __init__(self, layer, **kwargs):
        super().__init__(layer, **kwargs)
        self.supports_masking = True

    def _check(self, input_shape) -> tuple:
        shape = tuple(input_shape)
        if len(shape) < 3:
            raise ValueError(
                "`TimeDistributed` Layer should be passed an `input_shape` with at least 3 "
                f"dimensions, received: {shape}"
            )
        return shape

    def build(self, input_shape):
        shape = self._check(input_shape)
        super().build((None, *shape[2:]))
        self.built = True

    def call(self, inputs, training=None, mask=None):
        batch, steps = inputs.shape[0], inputs.shape[1]
        merged = inputs.reshape((batch * steps, *inputs.shape[2:]))
        out = self.layer(merged, training=training)
        return out.reshape((batch, steps, *out.shape[1:]))

    def compute_output_shape(self, input_shape):
        shape = self._check(input_shape)
        inner = self.layer._output_shape_for((None, *shape[2:]))
        return (shape[0], shape[1], *tuple(inner)[1:])
