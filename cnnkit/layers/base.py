"""The Layer base class, symbolic tensors and the graph nodes they record.

A layer follows Keras's lifecycle:

* ``__init__`` validates and stores hyper-parameters;
* ``build(input_shape)`` creates the weights with :meth:`Layer.add_weight`, once,
  when the input shape is first known;
* ``call(inputs, training=False)`` computes the output from :class:`~cnnkit.autodiff.Tensor`
  inputs with differentiable ops;
* ``get_config()`` returns exactly the constructor arguments.

Masks (Keras's timestep masks, e.g. from ``Embedding(mask_zero=True)``) ride on the
concrete tensors as ``tensor._keras_mask``, a boolean ``(batch, steps)`` array. A layer whose
``call`` takes a ``mask`` argument receives its input's mask; the output's mask is
``compute_mask(inputs, mask)``, which passes the mask through when ``supports_masking`` is
true and drops it otherwise.

A ``call`` that names ``training`` receives it as Keras resolves it: the value given to the
call, else the value of the enclosing layer or model call, else the default in ``call``'s
signature (augmentation layers ``True``, ``Dropout`` ``False``, ``BatchNormalization`` ``None``).
``fit`` calls the model with ``training=True``, ``predict`` and ``evaluate`` with ``False``.

Calling a layer on a :class:`KerasTensor` (a symbolic tensor made by ``Input``)
builds it, checks the shape, and records a :class:`Node` in the graph a
functional ``Model`` is made of. Calling it on arrays or Tensors runs it now.
"""

from __future__ import annotations

import contextvars
import inspect

import numpy as np

from cnnkit import backend, dtype_policies, scopes
from cnnkit.argument_validation import snake_case as to_snake_case
from cnnkit.argument_validation import standardize_tuple  # noqa: F401 - imported from here
from cnnkit.autodiff import Tensor, Variable
from cnnkit.backend import xp


class KerasTensor:
    """A symbolic tensor: a shape (``None`` for unknown sizes), a dtype, and where it came from.

    ``_keras_history`` is ``(layer, node)``: the call that produced it. ``_keras_mask`` is
    the symbolic timestep mask the tensor will carry at run time (``None`` if none).

    Arithmetic (``x + y``, ``x * 2.0``, ``-x``, ``x @ w``, ``x ** 2``, ``x / y``, ``x < y``...)
    and indexing (``x[:, 0]``) record the operation in the graph, as in Keras (see
    :class:`cnnkit.layers.operations.Operation`).

    Example:
        >>> from cnnkit.layers import Input
        >>> x = Input(shape=(4,))
        >>> (2.0 * x + x)[:, 1:].shape
        (None, 3)
    """

    _is_keras_tensor = True  # what backend.is_keras_tensor reads (saving names no layer class)

    def __init__(self, shape, dtype=None, name=None, history=None):
        self.shape = tuple(None if d is None else int(d) for d in shape)
        self.dtype = dtype or backend.floatx()
        self.name = name
        self._keras_history = history
        self._keras_mask: KerasTensor | None = None

    def _operation(self, op: str, *operands):
        from cnnkit.layers.operations import Operation

        return Operation(op)(*operands)

    def __add__(self, other):
        return self._operation("add", self, other)

    def __radd__(self, other):
        return self._operation("add", other, self)

    def __sub__(self, other):
        return self._operation("subtract", self, other)

    def __rsub__(self, other):
        return self._operation("subtract", other, self)

    def __mul__(self, other):
        return self._operation("multiply", self, other)

    def __rmul__(self, other):
        return self._operation("multiply", other, self)

    def __truediv__(self, other):
        return self._operation("true_divide", self, other)

    def __rtruediv__(self, other):
        return self._operation("true_divide", other, self)

    def __matmul__(self, other):
        return self._operation("matmul", self, other)

    def __rmatmul__(self, other):
        return self._operation("matmul", other, self)

    def __pow__(self, other):
        return self._operation("power", self, other)

    def _ops_function(self, name: str, *operands):
        """``cnnkit.ops.<name>`` on the operands: a node saved as Keras's op class."""
        from cnnkit import ops

        return getattr(ops, name)(*operands)

    def __floordiv__(self, other):
        return self._ops_function("floor_divide", self, other)

    def __rfloordiv__(self, other):
        return self._ops_function("floor_divide", other, self)

    def __mod__(self, other):
        return self._ops_function("mod", self, other)

    def __rmod__(self, other):
        return self._ops_function("mod", other, self)

    def __and__(self, other):
        return self._ops_function("logical_and", self, other)

    def __rand__(self, other):
        return self._ops_function("logical_and", other, self)

    def __or__(self, other):
        return self._ops_function("logical_or", self, other)

    def __ror__(self, other):
        return self._ops_function("logical_or", other, self)

    def __xor__(self, other):
        return self._ops_function("logical_xor", self, other)

    def __rxor__(self, other):
        return self._ops_function("logical_xor", other, self)

    def __invert__(self):
        return self._ops_function("logical_not", self)

    def __round__(self, ndigits=None):
        return self._ops_function("round", self, ndigits or 0)

    def __neg__(self):
        return self._operation("negative", self)

    def __abs__(self):
        return self._operation("absolute", self)

    def __lt__(self, other):
        return self._operation("less", self, other)

    def __le__(self, other):
        return self._operation("less_equal", self, other)

    def __gt__(self, other):
        return self._operation("greater", self, other)

    def __ge__(self, other):
        return self._operation("greater_equal", self, other)

    # ``!=`` records a node, as Keras's KerasTensor; ``==`` stays identity there too
    __hash__ = object.__hash__

    def __ne__(self, other):
        return self._operation("not_equal", self, other)

    def __getitem__(self, key):
        return self._operation("get_item", self, key)

    def __iter__(self):  # __getitem__ must not make it iterable
        raise TypeError(
            "Iterating over a symbolic KerasTensor is not supported. Index it instead: `x[:, 0]`."
        )

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __repr__(self) -> str:
        return f"<KerasTensor shape={self.shape}, dtype={self.dtype}, name={self.name}>"

    # NumPy defers to the reflected operators: ``array + x`` records a node, as ``x + array``
    __array_ufunc__ = None

    def __array__(self, dtype=None, copy=None):
        raise TypeError(
            "A symbolic KerasTensor (the output of `Input` or of a layer called on one) has no "
            "value. Build a `Model` from it and call `model.predict(...)` instead."
        )


class _NotGiven:
    """The default of ``training`` in ``Layer.__call__``: no value given, which differs
    from an explicit ``training=None`` (as in Keras, that one reaches ``call`` and the
    layers called after it)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "NOT_GIVEN"

    def __reduce__(self):
        return "NOT_GIVEN"


NOT_GIVEN = _NotGiven()


class Node:
    """One call of a layer on symbolic inputs: the edge set of the functional graph."""

    def __init__(self, layer, inputs, outputs, kwargs, args=()):
        self.layer = layer
        self.inputs = inputs  # the first argument of the call (a tensor or a list)
        self.args = tuple(args)  # further positional arguments: tensors or constants
        self.input_tensors = [
            t for t in _flatten(inputs) + _flatten(self.args) if isinstance(t, KerasTensor)
        ]
        self.outputs = outputs
        self.output_tensors = _flatten(outputs)
        self.kwargs = kwargs
        # The `training` value this call resolved to, or an explicit `training=None` (Keras
        # records either among the node's call arguments, and writes it in the config); a
        # model called without `training` gives it to the layer again. NOT_GIVEN: none.
        self.training = NOT_GIVEN

    @property
    def parent_nodes(self) -> list[Node]:
        return [t._keras_history[1] for t in self.input_tensors]


class InputSpec:
    """What a built layer accepts: the rank and the sizes of some axes."""

    def __init__(self, ndim=None, min_ndim=None, axes=None):
        self.ndim = ndim
        self.min_ndim = min_ndim
        self.axes = dict(axes or {})


class Layer:
    """Base class of all layers.

    Args:
        trainable: whether the layer's weights are updated by training.
        name: unique name; defaults to the snake_case class name with a counter.
        dtype: the float dtype of weights and computations (default ``backend.floatx()``).
        input_shape: shape of one sample, no batch axis (lets a ``Sequential``
            model build as soon as this layer is added, as in Keras).
        input_dim: ``input_dim=d`` is ``input_shape=(d,)``, as Keras accepts.

    Example:
        >>> class Double(Layer):
        ...     def call(self, inputs, training=False):
        ...         return inputs * 2.0
        ...     def compute_output_shape(self, input_shape):
        ...         return input_shape
        >>> Double()(np.ones((1, 2), "float32")).numpy()
        array([[2., 2.]], dtype=float32)
    """

    _saveable_kind = "layer"  # what saving reads instead of naming the class (models: "model")
    _dtype_policy_in_config = True  # saving writes ``dtype`` as Keras's ``DTypePolicy`` dict

    samplewise = False
    """Whether, in inference, each output sample depends on its own input sample alone (so a
    batch may be cut into slices run apart, and merged runs give the same outputs). A built-in
    layer declares it; a subclass that overrides ``call`` is not sample-wise unless its class
    body says ``samplewise = True`` (see ``__init_subclass__``)."""

    def __init__(
        self, trainable=True, name=None, dtype=None, input_shape=None, input_dim=None, **kwargs
    ):
        if input_dim is not None and input_shape is None:
            input_shape = (input_dim,)
        if kwargs:
            raise TypeError(
                f"Unrecognized keyword arguments passed to {type(self).__name__}: {kwargs}"
            )
        if name is not None and not isinstance(name, str):
            raise TypeError(f"Argument `name` must be a string. Received: name={name!r}")
        self.name = name or backend.unique_name(to_snake_case(type(self).__name__))
        self._trainable = bool(trainable)
        self.dtype = _standardize_dtype(dtype)
        self.built = False
        self.input_spec: InputSpec | None = None
        self._weights: list[Variable] = []
        self._losses: list = []
        self._inbound_nodes: list[Node] = []
        self._build_shapes_arg = None
        self._input_shape_arg = None
        self.supports_masking = False
        if input_shape is not None:
            self._input_shape_arg = tuple(input_shape)

    # -- weights -------------------------------------------------------
    def add_weight(
        self,
        shape,
        initializer="glorot_uniform",
        dtype=None,
        trainable=True,
        name=None,
        regularizer=None,
        constraint=None,
    ) -> Variable:
        """Create a weight, initialise it and track it.

        Args:
            shape: tuple of ints.
            initializer: identifier understood by ``cnnkit.initializers.get``.
            trainable: whether optimizers update it.
            name: short name such as ``"kernel"``.
            regularizer: optional callable mapping the weight Tensor to a scalar penalty.
            constraint: optional constraint (``cnnkit.constraints``) the optimizer applies
                to the weight after each update.
        """
        from cnnkit import initializers

        init = initializers.get(initializer)
        dtype = dtype or self.dtype
        value = init(tuple(shape), dtype=dtype)
        var = Variable(value, trainable=trainable, name=name or "variable", dtype=dtype)
        var.path = f"{self.name}/{var.name}"
        if scopes.current_path():  # inside keras.name_scope(...)
            var.path = f"{scopes.current_path()}/{var.path}"
        var.regularizer = regularizer
        if regularizer is not None:
            self._has_own_penalties = True
        if constraint is not None:
            from cnnkit import constraints

            var.constraint = constraints.get(constraint)
        self._weights.append(var)
        return var

    @property
    def dtype_policy(self):
        """The layer's :class:`~cnnkit.DTypePolicy` (one dtype for weights and compute)."""
        return dtype_policies.DTypePolicy(self.dtype)

    @property
    def compute_dtype(self) -> str:
        """The dtype of the layer's computations: its ``dtype`` (no mixed precision)."""
        return self.dtype

    @property
    def variable_dtype(self) -> str:
        """The dtype of the layer's weights: its ``dtype``."""
        return self.dtype

    @property
    def trainable(self) -> bool:
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        self._trainable = bool(value)
        for layer in self._sublayers():
            layer.trainable = value

    def __setattr__(self, name, value):
        # As Keras: layers assigned as attributes (alone or in a list) are sublayers, in order;
        # their weights and losses are the outer layer's too.
        if not name.startswith("_"):
            if isinstance(value, Layer):
                found = [value]
            elif isinstance(value, (list, tuple)) and all(isinstance(v, Layer) for v in value):
                found = list(value)
            else:
                found = []
            if found:
                tracked = self.__dict__.setdefault(self._sublayers_attribute, [])
                tracked.extend(v for v in found if v not in tracked)
            # As Keras: a Variable assigned as an attribute (not made by add_weight) is one
            # of the layer's own weights too, so it trains and saves with them.
            own = self.__dict__.get("_weights")
            if isinstance(value, Variable) and own is not None:
                if not any(value is w for w in own):
                    own.append(value)
        super().__setattr__(name, value)

    # Where the sublayers are listed (a Model's is saved with its weights, as Keras's).
    _sublayers_attribute = "_attribute_layers"

    def _sublayers(self) -> list[Layer]:
        return list(self.__dict__.get(self._sublayers_attribute, []))

    @property
    def weights(self) -> list[Variable]:
        """Every variable in Keras 3's order: this layer's own trainable variables, then its
        own non-trainable ones (each in creation order), then each sublayer's ``weights`` in
        turn; a variable shared by two sublayers is listed once. ``get_weights`` and
        ``set_weights`` use this order.
        """
        own = [w for w in self._weights if w.trainable] + [
            w for w in self._weights if not w.trainable
        ]
        seen = {id(w) for w in own}
        for layer in self._sublayers():
            for w in layer.weights:
                if id(w) not in seen:
                    seen.add(id(w))
                    own.append(w)
        return own

    @property
    def trainable_weights(self) -> list[Variable]:
        if not self.trainable:
            return []
        own = [w for w in self._weights if w.trainable]
        return own + [w for layer in self._sublayers() for w in layer.trainable_weights]

    @property
    def non_trainable_weights(self) -> list[Variable]:
        own = [w for w in self._weights if not w.trainable or not self.trainable]
        return own + [w for layer in self._sublayers() for w in layer.non_trainable_weights]

    trainable_variables = trainable_weights
    non_trainable_variables = non_trainable_weights
    variables = weights

    def get_build_config(self):
        """``{"input_shape": ...}`` for a built layer (saved with its config), else None.

        Override it with :meth:`build_from_config` when ``build`` needs more than a shape.
        """
        # saving imports the layers: reached when called, not at import
        from cnnkit.saving.keras_configs import get_build_config

        return get_build_config(self)

    def build_from_config(self, config) -> None:
        """Build a freshly deserialized layer from :meth:`get_build_config`'s output."""
        # saving imports the layers: reached when called, not at import
        from cnnkit.saving.keras_configs import build_from_config

        build_from_config(self, config)

    def save_own_variables(self, store) -> None:
        """Write this layer's own variables (not its sublayers') into ``store`` as Keras 3.

        Keys are ``"0"``, ``"1"``, ... in Keras's order (trainable first). Saving calls it
        when a layer overrides it, so a subclass can store extra entries.
        """
        # saving imports the layers: reached when called, not at import
        from cnnkit.saving.h5_weights import own_variables

        for i, variable in enumerate(own_variables(self)):
            store[f"{i}"] = backend.to_numpy(variable.data)

    def load_own_variables(self, store) -> None:
        """Assign this layer's own variables from ``store`` (the inverse of
        ``save_own_variables``).

        Raises:
            ValueError: if ``store`` holds a different number of entries, or a shape differs.
        """
        # saving imports the layers: reached when called, not at import
        from cnnkit.saving.h5_weights import own_variables

        variables = own_variables(self)
        if len(store.keys()) != len(variables):
            raise ValueError(
                f"Layer '{self.name}' expected {len(variables)} variables, but received "
                f"{len(store.keys())} variables during loading. "
                f"Expected: {[v.name for v in variables]}"
            )
        arrays = [np.asarray(store[f"{i}"]) for i in range(len(variables))]
        for variable, array in zip(variables, arrays):
            if tuple(array.shape) != tuple(variable.shape):
                raise ValueError(
                    f"Layer '{self.name}': variable {variable.name!r} has shape "
                    f"{tuple(variable.shape)}, but the stored value has shape {array.shape}."
                )
        for variable, array in zip(variables, arrays):
            variable.assign(array)

    def get_weights(self) -> list[np.ndarray]:
        """Copies of the weight values, as NumPy arrays."""
        return [backend.to_numpy(w.data).copy() for w in self.weights]

    def set_weights(self, weights) -> None:
        """Set every weight from a list of arrays (same order and shapes as ``get_weights``)."""
        params = self.weights
        weights = list(weights)
        if len(weights) != len(params):
            raise ValueError(
                f"Layer {self.name!r} expects {len(params)} weights, but the provided list has "
                f"{len(weights)}."
            )
        arrays = []
        for var, value in zip(params, weights):
            value = np.asarray(value)
            if value.shape != var.shape:
                raise ValueError(
                    f"Layer {self.name!r} weight shape {var.shape} is not compatible with "
                    f"provided weight shape {value.shape}."
                )
            arrays.append(value)
        for var, value in zip(params, arrays):  # validate everything before changing anything
            var.assign(value)

    def count_params(self) -> int:
        if not self.built:
            raise ValueError(
                f"You tried to call `count_params` on layer {self.name!r}, but the layer isn't "
                "built. Call it on an input (or `build(input_shape)`) first."
            )
        return int(sum(int(np.prod(w.shape)) for w in self.weights))

    def add_loss(self, loss) -> None:
        """Add a scalar penalty to the training loss, from inside ``call`` (as Keras).

        ``loss`` is a scalar Tensor (differentiable) or a number. A layer's added losses
        are those of its last call: they are cleared when the layer is called again.

        Example:
            >>> class Sparse(Layer):
            ...     def call(self, x):
            ...         self.add_loss(0.01 * abs(x).sum())
            ...         return x
            >>> layer = Sparse()
            >>> _ = layer(np.array([[1.0, -2.0]], "float32"))
            >>> [round(float(t.numpy()), 6) for t in layer.losses]
            [0.03]
        """
        if not isinstance(loss, Tensor):
            loss = Tensor(xp.asarray(loss, dtype=self.dtype))
        self._has_own_penalties = True
        self._losses.append(loss)

    # Set by `add_weight(regularizer=...)` and `add_loss`: this layer may add to the loss.
    _has_own_penalties = False

    @property
    def has_penalties(self) -> bool:
        """Whether this layer or a layer inside it may add to the training loss: a weight made
        with a regularizer, an activity regularizer, or a call of :meth:`add_loss` seen so far.
        The trainer reads :attr:`losses` only when it is true."""
        return any(
            layer._has_own_penalties or getattr(layer, "activity_regularizer", None) is not None
            for layer in self._flatten_layers()
        )

    def _runs_samplewise(self) -> bool:
        """Whether this layer, as configured now, treats samples independently in inference:
        its class is :attr:`samplewise`, it has no activity regularizer (whose penalty is one
        value for the whole batch), and so does every layer inside it."""
        if not self.samplewise or getattr(self, "activity_regularizer", None) is not None:
            return False
        return all(layer._runs_samplewise() for layer in self._sublayers())

    def _flatten_layers(self, include_self: bool = True, recursive: bool = True) -> list[Layer]:
        """This layer (``include_self``) and the layers inside it, depth first, each once
        (Keras's walker; ``recursive=False`` stops at the direct sublayers).

        Example:
            >>> from cnnkit.layers import Dense, Input
            >>> from cnnkit.models import Sequential
            >>> inner = Sequential([Input((2,)), Dense(3)], name="inner")
            >>> outer = Sequential([Input((2,)), inner, Dense(1)], name="outer")
            >>> [type(layer).__name__ for layer in outer._flatten_layers()]
            ['Sequential', 'Sequential', 'Dense', 'Dense']
            >>> len(outer._flatten_layers(include_self=False, recursive=False))
            2
        """
        layers = [self] if include_self else []
        seen = {id(self)}
        stack = list(reversed(self._sublayers()))
        while stack:
            layer = stack.pop()
            if id(layer) in seen:
                continue
            seen.add(id(layer))
            layers.append(layer)
            if recursive:
                stack.extend(reversed(layer._sublayers()))
        return layers

    @property
    def losses(self) -> list:
        """Regularization penalties and added losses of the last call (scalar Tensors)."""
        out = []
        for w in self._weights:
            if getattr(w, "regularizer", None) is not None and self.trainable:
                out.append(w.regularizer(w))
        out += self._losses
        for layer in self._sublayers():
            out += layer.losses
        return out

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "call" in cls.__dict__ and "samplewise" not in cls.__dict__:
            cls.samplewise = False  # a new `call` may mix samples: it must say it does not
        # As Keras: a user layer whose ``build`` is called directly (``layer.build(shape)``)
        # is built afterwards, with that shape recorded, so a later call does not rebuild it.
        build = cls.__dict__.get("build")
        if (
            build is None
            or cls.__module__.startswith("cnnkit.")
            or getattr(build, "_marks_built", False)
        ):
            return

        def wrapped(self, *args, **kw):
            out = build(self, *args, **kw)
            if not self.built:
                self.built = True
                if args and self._build_shapes_arg is None:
                    self._build_shapes_arg = args[0]
            return out

        wrapped._marks_built = True
        for attr in ("__name__", "__qualname__", "__doc__", "__module__", "__wrapped__"):
            if attr == "__wrapped__":
                wrapped.__wrapped__ = build
            else:
                setattr(wrapped, attr, getattr(build, attr))
        cls.build = wrapped

    # -- lifecycle -----------------------------------------------------
    def build(self, input_shape) -> None:
        """Create the weights. Layers without weights need not override it."""
        self.built = True

    def call(self, inputs, training=False):  # pragma: no cover - abstract
        raise NotImplementedError(f"Layer {type(self).__name__} does not implement call().")

    def compute_mask(self, inputs, mask=None):
        """The output's timestep mask: the input's when ``supports_masking``, else ``None``."""
        return mask if self.supports_masking else None

    def compute_output_shape(self, input_shape):
        """Output shape for an input shape (batch axis included, ``None`` where unknown)."""
        raise NotImplementedError(
            f"Layer {type(self).__name__} does not implement compute_output_shape()."
        )

    def _output_shape_for(self, input_shape):
        """``compute_output_shape(input_shape)``, or the traced shape for a layer that does not
        define it (a user layer with only ``call``), as Keras does when a container such as
        ``Sequential`` or a wrapper asks its sublayers for their output shapes."""
        if type(self).compute_output_shape is not Layer.compute_output_shape:
            return self.compute_output_shape(input_shape)
        if isinstance(input_shape, list):
            return self._traced_output_shape([KerasTensor(s) for s in input_shape], {})
        return self._traced_output_shape(KerasTensor(input_shape), {})

    def get_config(self) -> dict:
        config = {"name": self.name, "trainable": self.trainable, "dtype": self.dtype}
        return config

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    # -- calling -------------------------------------------------------
    def __call__(self, *args, training=NOT_GIVEN, **kwargs):
        """Run ``call`` now on arrays or Tensors, or record it in the graph on KerasTensors.

        The inputs are the first positional argument, or the keyword named as ``call``'s
        first parameter (``layer(logits=x, targets=y)`` for ``call(self, logits, targets)``),
        as in Keras. Positional arguments after the inputs go to ``call`` as they are
        (Keras's ``layer(targets, logits)``); arrays among them become Tensors.
        """
        if args:
            inputs, args = args[0], args[1:]
        else:
            name = self._first_call_parameter()
            if name is None or name not in kwargs:
                raise TypeError(
                    f"Layer {self.name!r} was called without inputs: pass them as the first "
                    f"positional argument or as `{name}=`. Received keyword arguments: "
                    f"{sorted(kwargs)}"
                )
            inputs = kwargs.pop(name)
        if any(isinstance(t, KerasTensor) for t in _flatten(inputs) + _flatten(args)):
            resolved = self._resolve_training(training)
            outputs = self._symbolic_call(inputs, kwargs, args)
            if self._call_takes("training") and self._inbound_nodes:
                explicit_none = resolved is None and training is not NOT_GIVEN
                self._inbound_nodes[-1].training = (
                    resolved if resolved is not None or explicit_none else NOT_GIVEN
                )
            return outputs
        if isinstance(inputs, (list, tuple)):
            inputs = type(inputs)(self._to_tensor(t) for t in inputs)
            shapes = [t.shape for t in inputs]
        elif isinstance(inputs, dict):  # a dict of named inputs, as Keras accepts
            inputs = {key: self._to_tensor(t) for key, t in inputs.items()}
            shapes = {key: t.shape for key, t in inputs.items()}
        else:
            inputs = self._to_tensor(inputs)
            shapes = inputs.shape
        args = tuple(
            self._to_tensor(a) if isinstance(a, (Tensor, np.ndarray, xp.ndarray)) else a
            for a in args
        )
        self._maybe_build(shapes)
        self._check_input(shapes)
        mask = _masks_of(inputs)
        if mask is not None and "mask" not in kwargs and self._call_takes_mask():
            kwargs["mask"] = mask
        context = _CALL_CONTEXT.get()
        token = _CALL_CONTEXT.set(_CallContext()) if context is None else None
        try:
            resolved = self._resolve_training(training)
            if self._call_takes("training") and (resolved is not None or training is None):
                kwargs["training"] = resolved  # only a `call` that declares it gets it
            self._losses = []  # this call's add_loss() and activity penalties
            outputs = self.call(inputs, *args, **kwargs)
        finally:
            if token is not None:
                _CALL_CONTEXT.reset(token)
        out_mask = self.compute_mask(inputs, kwargs.get("mask", mask))
        if out_mask is not None:
            for i, out in enumerate(_flatten(outputs)):
                if isinstance(out, Tensor):
                    out._keras_mask = out_mask[i] if isinstance(out_mask, list) else out_mask
        return outputs

    def _resolve_training(self, training):
        """The ``training`` value of this call, found as Keras finds it.

        In order: ``training`` given to this call, an explicit ``None`` included; else the
        value of the enclosing call (the outermost layer or model call opens a context that
        every layer called inside it reads and then sets to its own value, as in Keras),
        when not ``None``; else the default of ``training`` in this layer's ``call``
        signature (``None`` where it has none). The result is stored in the context for the
        layers called after: an explicit ``None`` clears it for them, as in Keras.
        """
        context = _CALL_CONTEXT.get()
        if training is NOT_GIVEN:
            training = None if context is None else context.training
            if training is None:
                training = self._call_training_default()
        if context is not None:
            context.training = training
        return training

    def _call_training_default(self):
        """The default of ``training`` in ``call``'s signature (``None`` if absent)."""
        cls = type(self)
        if cls not in _CALL_TRAINING_DEFAULT:
            param = inspect.signature(cls.call).parameters.get("training")
            default = None if param is None else param.default
            _CALL_TRAINING_DEFAULT[cls] = None if default is inspect.Parameter.empty else default
        return _CALL_TRAINING_DEFAULT[cls]

    def _call_takes_mask(self) -> bool:
        return self._call_takes("mask")

    def _first_call_parameter(self) -> str | None:
        """The name of ``call``'s first parameter after ``self`` (its inputs), if named."""
        for parameter in list(inspect.signature(type(self).call).parameters.values())[1:]:
            if parameter.kind in (parameter.POSITIONAL_ONLY, parameter.POSITIONAL_OR_KEYWORD):
                return parameter.name
            return None
        return None

    def _call_takes(self, argument: str) -> bool:
        """Whether this layer's ``call`` names a parameter ``argument`` (Keras's rule)."""
        cls = type(self)
        params = _CALL_PARAMETERS.get(cls)
        if params is None:
            params = _CALL_PARAMETERS[cls] = set(inspect.signature(cls.call).parameters)
        return argument in params

    def _to_tensor(self, x) -> Tensor:
        if isinstance(x, Tensor):
            if x.data.dtype.kind not in "biuf" and not self._accepts_strings:
                raise TypeError(
                    f"Layer {self.name!r} expects numeric input. Received an array of dtype "
                    f"{x.data.dtype}."
                )
            if x.data.dtype.kind != "f" and not self._keeps_integer_inputs:
                cast = Tensor(x.data.astype(self.dtype))
                cast._keras_mask = x._keras_mask
                return cast
            return x
        arr = xp.asarray(x)
        if self._accepts_strings and _is_string_array(arr):
            return Tensor(arr)
        if arr.dtype.kind not in "biuf":
            raise TypeError(
                f"Layer {self.name!r} expects numeric input. Received an array of dtype "
                f"{arr.dtype}."
            )
        if (arr.dtype.kind == "f" and arr.dtype != self.dtype) or (
            arr.dtype.kind != "f" and not self._keeps_integer_inputs
        ):
            arr = arr.astype(self.dtype)
        return Tensor(arr)

    _keeps_integer_inputs = False
    _accepts_strings = False  # models and text layers take arrays of str

    def _maybe_build(self, shapes) -> None:
        if not self.built:
            self._check_input(shapes)  # the rank __init__ expects, before build indexes the shape
            shape = _batch_none(shapes)
            self.build(shape)
            self.built = True
            self._build_shapes_arg = shape

    def _check_input(self, shapes) -> None:
        spec = self.input_spec
        if spec is None or isinstance(shapes, dict):
            return
        shape = shapes[0] if isinstance(shapes, list) else shapes
        shape = tuple(shape)
        if spec.ndim is not None and len(shape) != spec.ndim:
            raise ValueError(
                f'Input 0 of layer "{self.name}" is incompatible with the layer: expected '
                f"ndim={spec.ndim}, found ndim={len(shape)}. Full shape received: {shape}"
            )
        if spec.min_ndim is not None and len(shape) < spec.min_ndim:
            raise ValueError(
                f'Input 0 of layer "{self.name}" is incompatible with the layer: expected '
                f"min_ndim={spec.min_ndim}, found ndim={len(shape)}. "
                f"Full shape received: {shape}"
            )
        for axis, size in spec.axes.items():
            if shape[axis] is not None and shape[axis] != size:
                raise ValueError(
                    f'Input 0 of layer "{self.name}" is incompatible with the layer: expected '
                    f"axis {axis} of input shape to have value {size}, but received input "
                    f"with shape {shape}"
                )

    def _symbolic_call(self, inputs, kwargs, args=()):
        shapes = _shapes_of(inputs)
        self._maybe_build(shapes)
        self._check_input(shapes)
        self._traced_dtypes = None
        out_shape = self._symbolic_output_shape(inputs, shapes, kwargs, args)
        dtypes, self._traced_dtypes = self._traced_dtypes, None
        node = Node(self, inputs, None, kwargs, args)
        if isinstance(out_shape, list):
            dtypes = dtypes if dtypes and len(dtypes) == len(out_shape) else [None] * len(out_shape)
            outputs = [
                KerasTensor(s, dtype=d, history=(self, node)) for s, d in zip(out_shape, dtypes)
            ]
        else:
            dtype = dtypes[0] if dtypes and len(dtypes) == 1 else None
            outputs = KerasTensor(out_shape, dtype=dtype, history=(self, node))
        node.outputs, node.output_tensors = outputs, _flatten(outputs)
        self._inbound_nodes.append(node)
        self._set_symbolic_masks(inputs, outputs)
        return outputs

    def _symbolic_output_shape(self, inputs, shapes, kwargs, args=()):
        """``compute_output_shape``, or for a layer that does not define it (or takes more
        than one positional argument), the traced shape."""
        if args or type(self).compute_output_shape is Layer.compute_output_shape:
            return self._traced_output_shape(inputs, kwargs, args)
        return self.compute_output_shape(shapes)

    def _set_symbolic_masks(self, inputs, outputs) -> None:
        """Give the symbolic outputs the ``_keras_mask`` their values will carry (Keras's
        ``compute_mask`` on symbolic tensors): ``compute_mask`` runs on zeros standing for
        the inputs, and each mask found becomes a KerasTensor of the leading output sizes."""
        masks = _masks_of(inputs)
        if masks is None and type(self).compute_mask is Layer.compute_mask:
            return
        with np.errstate(all="ignore"):
            stand_in = _stand_ins(inputs, 2)
            out_mask = self.compute_mask(stand_in, _masks_of(stand_in))
        flat = _flatten(outputs)
        out_masks = out_mask if isinstance(out_mask, list) else [out_mask] * len(flat)
        for out, mask in zip(flat, out_masks):
            if mask is not None and out.ndim >= np.ndim(mask):
                out._keras_mask = KerasTensor(out.shape[: np.ndim(mask)], dtype="bool")

    def _traced_output_shape(self, inputs, kwargs, args=()):
        """The output shape(s) of ``call`` on symbolic ``inputs``, found by running it.

        For a layer that does not define ``compute_output_shape`` (Keras traces ``call``
        with symbolic tensors instead): ``call`` runs on zeros twice, every unknown size
        set to 2 and then to 3, so an output size that follows an unknown input size is
        unknown too. A symbolic input's mask is given as ones, so a ``call`` taking ``mask``
        receives one, as in Keras. Nothing is recorded for gradients, floating-point
        warnings on the zeros are silenced, and the random generator and the layer's added
        losses are left as they were. The outputs' dtypes are kept for the symbolic outputs
        (an ``argmax`` gives int32, a comparison bool, as Keras's traced ``call``).
        """
        from cnnkit.autodiff import no_grad

        symbolic = [t for t in _flatten(inputs) + _flatten(args) if isinstance(t, KerasTensor)]
        if any(t.dtype == "string" for t in symbolic):
            return Layer.compute_output_shape(self, None)  # raises: text cannot be traced
        generator = backend.rng().bit_generator
        state, losses = generator.state, list(self._losses)
        found = []
        try:
            with no_grad(), np.errstate(all="ignore"):  # zeros may meet a log or a division
                for size in (2, 3):
                    given = _stand_ins(inputs, size)
                    extra = _stand_ins(args, size)
                    call_kwargs = {k: v for k, v in kwargs.items() if k != "training"}
                    out = self(given, *extra, **call_kwargs)
                    found.append([tuple(o.shape) for o in _flatten(out)])
        finally:
            generator.state, self._losses[:] = state, losses
        self._traced_dtypes = [_standardize_dtype(o.dtype) for o in _flatten(out)]
        shapes = [
            tuple(a if a == b else None for a, b in zip(two, three))
            for two, three in zip(found[0], found[1])
        ]
        return shapes if isinstance(out, (list, tuple)) else shapes[0]

    # -- graph introspection (as in Keras) --------------------------------
    @property
    def input(self):
        return self._node_attr("inputs")

    @property
    def output(self):
        return self._node_attr("outputs")

    def _node_attr(self, attr):
        if not self._inbound_nodes:
            raise AttributeError(
                f"Layer {self.name!r} has never been called on a symbolic input, "
                f"so it has no defined {attr[:-1]}."
            )
        return getattr(self._inbound_nodes[0], attr)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"


_CALL_PARAMETERS: dict[type, set[str]] = {}
_CALL_TRAINING_DEFAULT: dict[type, object] = {}


class _CallContext:
    """The state shared by the layer calls nested in one outermost call (Keras's
    ``CallContext``): the ``training`` value the last resolved call settled on."""

    __slots__ = ("training",)

    def __init__(self):
        self.training = None


# The context of the layer call in progress (per thread, as the grad mode in autodiff).
_CALL_CONTEXT: contextvars.ContextVar[_CallContext | None] = contextvars.ContextVar(
    "cnnkit_layer_call_context", default=None
)


def _standardize_dtype(dtype) -> str:
    """A dtype name: ``"float32"``..., or ``"string"`` for text inputs (as Keras)."""
    if dtype is None:
        return dtype_policies.default_dtype()
    if isinstance(dtype, dtype_policies.DTypePolicy):
        return dtype.variable_dtype
    if dtype in ("string", "str", str, object) or np.dtype(dtype).kind in "USO":
        return "string"
    return str(np.dtype(dtype))


def _is_string_array(arr) -> bool:
    """Whether ``arr`` holds text: a ``str`` array, or an object array of ``str``."""
    if arr.dtype.kind == "U":
        return True
    return arr.dtype.kind == "O" and all(isinstance(v, str) for v in arr.reshape(-1)[:1000])


def _masks_of(inputs):
    """The timestep mask(s) riding on the inputs: one array, a list (``None`` where absent)."""
    if isinstance(inputs, (list, tuple)):
        masks = [getattr(t, "_keras_mask", None) for t in inputs]
        return masks if any(m is not None for m in masks) else None
    return getattr(inputs, "_keras_mask", None)


def _shapes_of(inputs):
    """The shape of a tensor, the list of shapes of a list (``()`` for a Python number)."""
    if isinstance(inputs, (list, tuple)):
        return [_shapes_of(t) for t in inputs]
    if isinstance(inputs, dict):
        return {key: _shapes_of(t) for key, t in inputs.items()}
    return tuple(getattr(inputs, "shape", ()))


def _stand_ins(structure, size: int):
    """``structure`` with each KerasTensor replaced by a Tensor of zeros (each unknown size
    ``size``) that carries ones as its mask when the KerasTensor has a symbolic mask."""
    if isinstance(structure, (list, tuple)):
        return type(structure)(_stand_ins(s, size) for s in structure)
    if isinstance(structure, dict):
        return {key: _stand_ins(s, size) for key, s in structure.items()}
    if not isinstance(structure, KerasTensor):
        return structure

    def zeros(t):
        return xp.zeros([size if d is None else d for d in t.shape], dtype=t.dtype)

    tensor = Tensor(zeros(structure))
    if structure._keras_mask is not None:
        tensor._keras_mask = zeros(structure._keras_mask) == 0
    return tensor


def _flatten(structure) -> list:
    if isinstance(structure, (list, tuple)):
        return [t for item in structure for t in _flatten(item)]
    if isinstance(structure, dict):
        return [t for item in structure.values() for t in _flatten(item)]
    return [structure]


def _batch_none(shapes):
    """The build shape: the batch axis is always unknown."""
    if isinstance(shapes, list):
        return [_batch_none(s) for s in shapes]
    if isinstance(shapes, dict):
        return {key: _batch_none(s) for key, s in shapes.items()}
    shapes = tuple(shapes)
    return (None, *shapes[1:]) if shapes else shapes


def standardize_padding(value, allowed=("valid", "same")) -> str:
    if not isinstance(value, str) or value.lower() not in allowed:
        raise ValueError(
            f"Invalid value for argument `padding`. Expected one of {set(allowed)}. "
            f"Received: padding={value!r}"
        )
    return value.lower()


def standardize_data_format(value) -> str:
    if value is None and backend.image_data_format() == "channels_first":
        raise ValueError(
            "cnnkit's image layers compute channels-last (NHWC) only, but the default "
            "`keras.config.image_data_format()` is 'channels_first'. Call "
            "`set_image_data_format('channels_last')` or pass data_format='channels_last'."
        )
    if value is None:
        return "channels_last"
    if value != "channels_last":
        raise ValueError(
            "cnnkit supports only `data_format='channels_last'` (NHWC). "
            f"Received: data_format={value!r}"
        )
    return value
