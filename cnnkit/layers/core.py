"""Core layers: Input, Dense, Activation, Flatten, Reshape, Dropout."""

from __future__ import annotations

import inspect
import math

import numpy as np

from cnnkit import activations, backend, initializers, regularizers
from cnnkit.kernels import dense as dense_ops
from cnnkit.kernels import shape as shape_ops
from cnnkit.layers.base import InputSpec, KerasTensor, Layer, Node, standardize_data_format


class InputLayer(Layer):
    """The entry point of a functional model: holds the symbolic input tensor.

    Args:
        shape: shape of one sample, without the batch axis; ``None`` for sizes
            known only at call time, e.g. ``(None, None, 3)`` for images of any size.
        batch_size: optional fixed batch size.
        dtype: input dtype (default ``backend.floatx()``).
        name: layer name.
    """

    samplewise = True
    _dtype_policy_in_config = False  # Keras writes an input's dtype as a plain string
    _keyword_arguments = ("batch_shape", "input_shape")  # Keras's, read from **kwargs

    def __init__(self, shape=None, batch_size=None, dtype=None, name=None, **kwargs):
        batch_shape = kwargs.pop("batch_shape", None)
        input_shape = kwargs.pop("input_shape", None)
        _refuse_input_options(
            sparse=kwargs.pop("sparse", None),
            ragged=kwargs.pop("ragged", None),
            optional=kwargs.pop("optional", False),
            input_tensor=kwargs.pop("input_tensor", None),
        )
        super().__init__(name=name or backend.unique_name("input_layer"), dtype=dtype, **kwargs)
        if shape is None:
            shape = input_shape
        if batch_shape is not None:
            shape, batch_size = tuple(batch_shape)[1:], tuple(batch_shape)[0]
        if shape is None:
            raise ValueError("You must pass a `shape` argument to Input. Received: shape=None")
        try:
            shape = tuple(None if d is None else int(d) for d in shape)
        except TypeError:
            raise TypeError(
                f"Argument `shape` must be a tuple of integers or None. Received: shape={shape!r}"
            ) from None
        if any(d is not None and d < 0 for d in shape):
            raise ValueError(f"Input sizes must be non-negative. Received: shape={shape}")
        self._batch_shape = (batch_size, *shape)
        self.built = True
        node = Node(self, [], None, {})
        self.output_tensor = KerasTensor(
            self._batch_shape, dtype=self.dtype, name=self.name, history=(self, node)
        )
        node.outputs, node.output_tensors = self.output_tensor, [self.output_tensor]
        self._inbound_nodes.append(node)

    @property
    def batch_shape(self) -> tuple:
        return self._batch_shape

    def call(self, inputs):
        return inputs

    def compute_output_shape(self, input_shape):
        return self._batch_shape

    def get_config(self) -> dict:
        return {
            "batch_shape": self._batch_shape,
            "dtype": self.dtype,
            "name": self.name,
        }


def _refuse_input_options(sparse, ragged, optional, input_tensor) -> None:
    """Keras's ``Input``/``InputLayer`` options that cnnkit has no tensors for: accepted at
    their defaults (as Keras code passes them), refused otherwise."""
    if sparse:
        raise ValueError("`sparse=True` is not supported: cnnkit has no sparse tensors.")
    if ragged:
        raise ValueError("`ragged=True` is not supported: cnnkit has no ragged tensors.")
    if optional:
        raise ValueError("`optional=True` is not supported: every input must be given.")
    if input_tensor is not None:
        raise ValueError(
            "`tensor`/`input_tensor` is not supported: an input is created from its shape. "
            f"Received: {type(input_tensor).__name__}"
        )


def Input(
    shape=None,
    batch_size=None,
    dtype=None,
    sparse=None,
    ragged=None,
    batch_shape=None,
    name=None,
    tensor=None,
    optional=False,
) -> KerasTensor:
    """A symbolic input for the functional API.

    Args:
        shape: shape of one sample without the batch axis, e.g. ``(28, 28, 1)``.
        batch_size: optional fixed batch size.
        dtype: input dtype.
        sparse, ragged, optional, tensor: Keras's options; only their defaults are
            supported (``ValueError`` otherwise).
        batch_shape: the shape with its batch axis (instead of ``shape``/``batch_size``).
        name: name of the input layer.

    Returns:
        A :class:`KerasTensor` of shape ``(batch_size, *shape)``.

    Example:
        >>> Input(shape=(28, 28, 1)).shape
        (None, 28, 28, 1)
    """
    _refuse_input_options(sparse=sparse, ragged=ragged, optional=optional, input_tensor=tensor)
    layer = InputLayer(
        shape=shape, batch_size=batch_size, dtype=dtype, name=name, batch_shape=batch_shape
    )
    return layer.output_tensor


class Dense(Layer):
    """Fully connected layer: ``output = activation(inputs @ kernel + bias)``.

    Args:
        units: positive int, size of the output.
        activation: activation function or its name (default: none, i.e. linear).
        use_bias: whether to add a bias vector.
        kernel_initializer: initializer of the ``(input_dim, units)`` kernel.
        bias_initializer: initializer of the ``(units,)`` bias.
        kernel_regularizer, bias_regularizer: optional callables giving penalties.
        activity_regularizer: optional callable on the output, added to the loss.
        kernel_constraint, bias_constraint: optional constraints (``cnnkit.constraints``)
            applied to the weights after each optimizer update.

    Input shape:
        ``(batch_size, ..., input_dim)``
    Output shape:
        ``(batch_size, ..., units)``

    Example:
        >>> Dense(4)(np.ones((2, 3), "float32")).shape
        (2, 4)
    """

    samplewise = True

    def __init__(
        self,
        units,
        activation=None,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.supports_masking = True
        if not isinstance(units, (int, np.integer)) or isinstance(units, bool) or units <= 0:
            raise ValueError(
                "Received an invalid value for `units`, expected a positive integer. "
                f"Received: units={units}"
            )
        _set_constraints(self, kernel_constraint=kernel_constraint, bias_constraint=bias_constraint)
        self.units = int(units)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self.input_spec = InputSpec(min_ndim=2)

    def build(self, input_shape):
        input_dim = input_shape[-1]
        if input_dim is None:
            raise ValueError(
                f'The last dimension of the inputs to a Dense layer "{self.name}" should be '
                f"defined. Found None. Full input shape received: {tuple(input_shape)}. If the "
                "input comes from Flatten after layers of unknown spatial size (e.g. "
                "Input(shape=(None, None, 3))), use GlobalMaxPooling2D or "
                "GlobalAveragePooling2D instead of Flatten."
            )
        self.kernel = self.add_weight(
            (input_dim, self.units),
            self.kernel_initializer,
            name="kernel",
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self.bias = _add_bias(self, self.units)
        self.input_spec = InputSpec(min_ndim=2, axes={-1: input_dim})
        self.built = True

    def call(self, inputs, training=None):
        if self.activation is activations.relu:  # fused into the matrix product
            out = dense_ops.dense(inputs, self.kernel, self.bias, relu=True)
        else:
            out = _activate(self, dense_ops.dense(inputs, self.kernel, self.bias))
        _activity_penalty(self, out)
        return out

    def compute_output_shape(self, input_shape):
        return (*tuple(input_shape)[:-1], self.units)

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": _serialize_callable(self.kernel_regularizer),
            "bias_regularizer": _serialize_callable(self.bias_regularizer),
            "activity_regularizer": _serialize_callable(self.activity_regularizer),
            "kernel_constraint": _serialize_callable(self.kernel_constraint),
            "bias_constraint": _serialize_callable(self.bias_constraint),
        }


class Activation(Layer):
    """Applies an activation function to its input.

    Args:
        activation: a function or the name of one (``"relu"``, ``"softmax"``...).

    Example:
        >>> Activation("relu")(np.array([[-1.0, 2.0]], "float32")).numpy()
        array([[0., 2.]], dtype=float32)
    """

    samplewise = True

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True
        self.activation = activations.get(activation)

    def call(self, inputs):
        return self.activation(inputs)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "activation": activations.serialize(self.activation)}


class Lambda(Layer):
    """Wraps a function as a layer: ``function(inputs, **arguments)`` (Keras's ``Lambda``).

    The function gets the layer's input (a Tensor, or a list of them for several inputs),
    and ``mask`` and ``training`` when its signature names them. Tensors support the
    arithmetic operators, ``@``, indexing, ``sum``, ``mean`` and ``reshape``, all
    differentiable. A ``Lambda`` can be saved when its function is a named function
    registered with :func:`cnnkit.saving.register_keras_serializable` (or passed in
    ``custom_objects`` when loading); a ``lambda`` cannot, since cnnkit never runs code
    stored in a file.

    Args:
        function: the function to apply.
        output_shape: the output shape without the batch axis, or a function of the input
            shape; ``None`` (the default) finds it by running the function, as Keras
            traces it.
        mask: ``None``, or a function ``(inputs, mask) -> mask`` for the output mask.
        arguments: keyword arguments passed to the function.

    Example:
        >>> scale = Lambda(lambda x: x / 255.0)
        >>> scale(np.array([[0.0, 51.0, 255.0]], "float32")).numpy()
        array([[0. , 0.2, 1. ]], dtype=float32)
    """

    def __init__(self, function, output_shape=None, mask=None, arguments=None, **kwargs):
        super().__init__(**kwargs)
        if not callable(function):
            raise TypeError(
                f"Argument `function` of Lambda must be callable. Received: function={function!r}"
            )
        if mask is not None and not callable(mask):
            raise TypeError(f"Argument `mask` of Lambda must be callable. Received: mask={mask!r}")
        if arguments is not None and not isinstance(arguments, dict):
            raise TypeError(
                f"Argument `arguments` of Lambda must be a dict. Received: arguments={arguments!r}"
            )
        self.function = function
        self.output_shape_arg = output_shape
        self.mask_function = mask
        self.arguments = dict(arguments or {})
        self.supports_masking = mask is not None
        try:
            params = inspect.signature(function).parameters
        except (TypeError, ValueError):  # a callable without a signature: takes neither
            params = {}
        self._function_takes = {name for name in ("mask", "training") if name in params}

    def call(self, inputs, mask=None, training=None):
        kwargs = dict(self.arguments)
        if "mask" in self._function_takes:
            kwargs["mask"] = mask
        if "training" in self._function_takes:
            kwargs["training"] = training
        return self.function(inputs, **kwargs)

    def compute_mask(self, inputs, mask=None):
        return None if self.mask_function is None else self.mask_function(inputs, mask)

    def compute_output_shape(self, input_shape):
        shape = self.output_shape_arg
        if shape is None:  # found by running the function, as for a symbolic call
            several = isinstance(input_shape, list)
            symbolic = [KerasTensor(s) for s in (input_shape if several else [input_shape])]
            return self._traced_output_shape(symbolic if several else symbolic[0], {})
        if callable(shape):
            return shape(input_shape)
        first = input_shape[0] if isinstance(input_shape, list) else input_shape
        return (first[0], *shape)

    def _symbolic_output_shape(self, inputs, shapes, kwargs, args=()):
        if self.output_shape_arg is None or args:  # as a layer without compute_output_shape
            shape = self._traced_output_shape(inputs, kwargs, args)
            self._traced_dtypes = None  # Keras's Lambda outputs its compute dtype
            return shape
        return self.compute_output_shape(shapes)

    def get_config(self):
        shape = self.output_shape_arg
        return {
            **super().get_config(),
            "function": _function_config(self.function),
            "output_shape": list(shape) if isinstance(shape, tuple) else _function_config(shape),
            "mask": _function_config(self.mask_function),
            "arguments": dict(self.arguments),
        }

    @classmethod
    def from_config(cls, config):
        # cnnkit.saving imports cnnkit.layers as it loads: a module-level import back is a cycle
        from cnnkit.saving.serialization import deserialize_keras_object

        config = dict(config)
        for key in ("function", "mask", "output_shape", "arguments"):
            if isinstance(config.get(key), dict):  # read from a file
                config[key] = deserialize_keras_object(config[key])
        if isinstance(config.get("output_shape"), list):
            config["output_shape"] = tuple(config["output_shape"])
        return cls(**config)


def _function_config(fn):
    """A named function's config (by name), or a lambda itself: ``clone_model`` and
    ``from_config`` take it as it is, and saving refuses it with the reason."""
    if fn is None or getattr(fn, "__name__", None) == "<lambda>":
        return fn
    # cnnkit.saving imports cnnkit.layers as it loads: a module-level import back is a cycle
    from cnnkit.saving.serialization import serialize_keras_object

    return serialize_keras_object(fn)


class Flatten(Layer):
    """Flattens every axis but the batch axis: ``(N, d1, d2, ...) → (N, d1*d2*...)``.

    Example:
        >>> Flatten()(np.ones((2, 3, 4, 5), "float32")).shape
        (2, 60)
    """

    samplewise = True

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        standardize_data_format(data_format)
        self.input_spec = InputSpec(min_ndim=1)

    def call(self, inputs):
        return shape_ops.flatten(inputs)

    def compute_output_shape(self, input_shape):
        self._check_input(tuple(input_shape))
        rest = tuple(input_shape)[1:]
        size = None if any(d is None for d in rest) else int(math.prod(rest))
        return (input_shape[0], size)

    def get_config(self):
        return {**super().get_config(), "data_format": "channels_last"}


class Reshape(Layer):
    """Reshapes each sample to ``target_shape`` (one entry may be -1).

    Example:
        >>> Reshape((2, 6))(np.ones((4, 12), "float32")).shape
        (4, 2, 6)
    """

    samplewise = True

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        try:
            self.target_shape = tuple(int(d) for d in target_shape)
        except TypeError:
            raise TypeError(
                f"Argument `target_shape` must be a tuple of ints. Received: {target_shape!r}"
            ) from None
        if sum(d == -1 for d in self.target_shape) > 1 or any(
            d < -1 or d == 0 for d in self.target_shape
        ):
            raise ValueError(
                "Invalid value for argument `target_shape`: expected positive sizes and at most "
                f"one -1. Received: target_shape={self.target_shape}"
            )
        self.input_spec = InputSpec(min_ndim=1)

    def _resolve(self, input_shape):
        rest = tuple(input_shape)[1:]
        if any(d is None for d in rest):
            return tuple(None if d == -1 else d for d in self.target_shape)
        size = int(math.prod(rest))
        known = int(math.prod(d for d in self.target_shape if d != -1))
        if -1 in self.target_shape:
            if size % known:
                raise ValueError(self._mismatch(rest))
            return tuple(size // known if d == -1 else d for d in self.target_shape)
        if known != size:
            raise ValueError(self._mismatch(rest))
        return self.target_shape

    def _mismatch(self, rest):
        return (
            f'Layer "{self.name}": the total size of the input {rest} ({math.prod(rest)}) does '
            f"not match target_shape {self.target_shape}."
        )

    def call(self, inputs):
        return inputs.reshape((inputs.shape[0], *self._resolve(inputs.shape)))

    def compute_output_shape(self, input_shape):
        self._check_input(tuple(input_shape))
        return (input_shape[0], *self._resolve(input_shape))

    def get_config(self):
        return {**super().get_config(), "target_shape": self.target_shape}


class Dropout(Layer):
    """Sets a fraction ``rate`` of inputs to 0 during training and scales the rest by 1/(1-rate).

    Inference (``training=False``, as in ``predict`` and ``evaluate``) is the identity.

    Args:
        rate: float in [0, 1], the fraction to drop.
        noise_shape: shape of the binary mask, broadcast over the input (``None`` entries
            take the input's size); e.g. ``(None, 1, 1, C)`` drops whole feature maps.
        seed: optional int for a layer-local generator.

    Example:
        >>> Dropout(0.5)(np.ones((1, 4), "float32")).numpy()
        array([[1., 1., 1., 1.]], dtype=float32)
    """

    samplewise = True

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True
        if not isinstance(rate, (int, float)) or isinstance(rate, bool) or not 0 <= rate <= 1:
            raise ValueError(
                "Invalid value received for argument `rate`. Expected a float value between "
                f"0 and 1. Received: rate={rate}"
            )
        self.rate = float(rate)
        self.noise_shape = None if noise_shape is None else tuple(noise_shape)
        self.seed = seed
        self._rng = np.random.default_rng(seed) if seed is not None else None

    def call(self, inputs, training=False):
        if not training or self.rate == 0.0:
            return inputs
        noise_shape = None
        if self.noise_shape is not None:  # None entries take the input's size, as in Keras
            noise_shape = tuple(
                size if want is None else want for want, size in zip(self.noise_shape, inputs.shape)
            )
        return shape_ops.dropout(inputs, self.rate, self._rng or backend.rng(), noise_shape)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {
            **super().get_config(),
            "rate": self.rate,
            "noise_shape": self.noise_shape,
            "seed": self.seed,
        }


def _set_constraints(layer, **named) -> None:
    """Store each ``<weight>_constraint`` argument, resolved by ``constraints.get``."""
    from cnnkit import constraints

    for argument, value in named.items():
        setattr(layer, argument, constraints.get(value))


def _add_bias(layer, units: int):
    """The layer's ``(units,)`` bias weight, or ``None`` when ``use_bias`` is off."""
    if not layer.use_bias:
        return None
    return layer.add_weight(
        (units,),
        layer.bias_initializer,
        name="bias",
        regularizer=layer.bias_regularizer,
        constraint=getattr(layer, "bias_constraint", None),
    )


def _activate(layer, out):
    """``layer.activation(out)``; as Keras, none when the attribute was set to ``None`` after
    construction (Grad-CAM's ``model.layers[-1].activation = None``)."""
    return out if layer.activation is None else layer.activation(out)


def _activity_penalty(layer, out) -> None:
    """Record the activity regularizer's penalty of this call."""
    if layer.activity_regularizer is not None:
        layer._losses.append(layer.activity_regularizer(out))


def _serialize_callable(fn):
    """A regularizer's or constraint's config: an object with ``get_config`` as
    ``serialize_keras_object`` writes it, a plain function by its name."""
    if fn is None:
        return None
    if getattr(fn, "get_config", None) is not None:
        # cnnkit.saving imports cnnkit.layers as it loads: a module-level import back is a cycle
        from cnnkit.saving.serialization import serialize_keras_object

        return serialize_keras_object(fn)
    return getattr(fn, "__name__", repr(fn))
