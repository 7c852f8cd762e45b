"""Recurrent layers: ``SimpleRNN``, ``LSTM`` and ``GRU`` (``Bidirectional`` wraps them).

Keras 3's arguments, defaults, weight names, shapes and order (``kernel`` (F, k*U),
``recurrent_kernel`` (U, k*U), ``bias`` (k*U,), or (2, 3U) for a ``reset_after`` GRU), so
``set_weights`` takes weights saved by Keras. The whole sequence runs in one op of
:mod:`cnnkit.kernels.recurrent` (equations, masks and gate order are documented there).

* Timestep masks (``Embedding(mask_zero=True)``, ``Masking``) are honoured: a masked step
  carries the states over and repeats the previous output; the output keeps the input's mask
  when ``return_sequences``.
* Initial states: ``layer(x, initial_state=[h, c])``, eager or symbolic (the states become
  extra inputs of the graph node, so they may come from other layers: encoder-decoder models).
* ``dropout`` / ``recurrent_dropout`` draw one mask per sequence in training (Keras's
  ``DropoutRNNCell``): shared by the gates, or one per gate when ``recurrent_dropout > 0`` or
  ``implementation=1`` (Keras switches to implementation 1 then).
* ``stateful=True`` keeps the final states of a batch as the initial states of the next (same
  batch size); ``reset_state()`` zeroes them.
* ``unroll`` and ``use_cudnn`` are accepted and change nothing (one NumPy loop either way).

Activations are named among ``tanh``, ``sigmoid``, ``hard_sigmoid``, ``relu`` and ``linear``
(``None``); ``cnnkit.activations`` functions of those names are accepted too. Layers store the
name (``layer.activation == "tanh"``).
"""

from __future__ import annotations

import numpy as np

from cnnkit import activations, backend, initializers, regularizers
from cnnkit.autodiff import Tensor
from cnnkit.backend import xp
from cnnkit.kernels import recurrent as rnn_ops
from cnnkit.layers.base import NOT_GIVEN, InputSpec, Layer
from cnnkit.layers.core import _serialize_callable, _set_constraints


def _activation_name(layer: str, argument: str, identifier) -> str:
    """The op's name for an activation identifier (a name, ``None`` or a cnnkit function)."""
    if identifier is None:
        return "linear"
    name = identifier if isinstance(identifier, str) else getattr(identifier, "__name__", None)
    if name in rnn_ops.ACTIVATIONS:
        if isinstance(identifier, str):
            return name
        try:
            if activations.get(name) is identifier:
                return name
        except ValueError:
            pass
    raise ValueError(
        f"{layer}: invalid value for argument `{argument}`. Expected one of "
        f"{sorted(rnn_ops.ACTIVATIONS)} or None. Received: {argument}={identifier!r}"
    )


def _rate(layer: str, argument: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ValueError(
            f"{layer}: invalid value for argument `{argument}`. Expected a float between 0 "
            f"and 1. Received: {argument}={value!r}"
        )
    return float(value)


def _first(structure):
    return structure[0] if isinstance(structure, (list, tuple)) else structure


def _check_rank(name: str, shape) -> None:
    shape = tuple(shape)
    if len(shape) != 3:
        raise ValueError(
            f'Input 0 of layer "{name}" is incompatible with the layer: expected ndim=3 '
            f"(batch, timesteps, features), found ndim={len(shape)}. "
            f"Full shape received: {shape}"
        )


def _with_states(name: str, inputs, initial_state):
    """``inputs`` checked to be one sequence, joined by the initial states when given."""
    if isinstance(inputs, (list, tuple)) and inputs and hasattr(inputs[0], "shape"):
        _check_rank(name, inputs[0].shape)  # [sequences, *states], as a graph replays it
        return inputs if initial_state is None else [inputs[0], *_listed(initial_state)]
    shape = getattr(inputs, "shape", None)
    _check_rank(name, np.shape(inputs) if shape is None else shape)
    if initial_state is None:
        return inputs
    return [inputs, *_listed(initial_state)]


def _split_states(inputs, initial_state):
    """Inverse of :func:`_with_states` inside ``call``: ``(sequences, initial states)``."""
    if isinstance(inputs, (list, tuple)):
        inputs, *given = inputs
        initial_state = given or initial_state
    return inputs, initial_state


def _listed(states) -> list:
    return list(states) if isinstance(states, (list, tuple)) else [states]


class _RNN(Layer):
    """What SimpleRNN, LSTM and GRU share: arguments, weights, states, masks, dropout, config.

    Subclasses set ``_gates`` (column blocks of the kernels), ``_state_names`` and implement
    ``_run(x, states, mask, dropout_mask, recurrent_dropout_mask) -> (outputs, *states)``.
    """

    _gates = 1
    _state_names: tuple = ("h",)
    _saved_variables_group = "cell"  # Keras keeps these weights in the layer's `cell`
    _keyword_arguments = ("zero_output_for_mask",)  # Keras's, read from **kwargs

    def _setup(
        self,
        units,
        activation,
        use_bias,
        kernel_initializer,
        recurrent_initializer,
        bias_initializer,
        kernel_regularizer,
        recurrent_regularizer,
        bias_regularizer,
        activity_regularizer,
        constraints,
        dropout,
        recurrent_dropout,
        seed,
        return_sequences,
        return_state,
        go_backwards,
        stateful,
        unroll,
        kwargs,
    ) -> None:
        cls = type(self).__name__
        self.zero_output_for_mask = bool(kwargs.pop("zero_output_for_mask", False))
        super().__init__(**kwargs)
        if not isinstance(units, (int, np.integer)) or isinstance(units, bool) or units <= 0:
            raise ValueError(
                f"{cls}: invalid value for argument `units`. Expected a positive integer. "
                f"Received: units={units!r}"
            )
        _set_constraints(self, **constraints)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
            raise ValueError(f"{cls}: argument `seed` must be an int or None. Received: {seed!r}")
        self.units = int(units)
        self.activation = _activation_name(cls, "activation", activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers.get(recurrent_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self.dropout = _rate(cls, "dropout", dropout)
        self.recurrent_dropout = _rate(cls, "recurrent_dropout", recurrent_dropout)
        self.seed = None if seed is None else int(seed)
        self._rng = np.random.default_rng(seed) if seed is not None else None
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.stateful = bool(stateful)
        self.unroll = bool(unroll)
        self.implementation = 2
        self.supports_masking = True
        self.input_spec = InputSpec(ndim=3)
        self._states = None  # the carried states of a stateful layer (arrays)

    # -- weights ---------------------------------------------------------------------------
    def _bias_shape(self) -> tuple:
        return (self._gates * self.units,)

    def _bias_initializer(self):
        return self.bias_initializer

    def build(self, input_shape):
        if isinstance(input_shape, list):  # [sequences, *initial states]
            input_shape = input_shape[0]
        shape = tuple(input_shape)
        _check_rank(self.name, shape)
        if shape[-1] is None:
            raise ValueError(
                f'The last dimension (features) of the inputs to layer "{self.name}" should be '
                f"defined. Found None. Full input shape received: {shape}"
            )
        width = self._gates * self.units
        self.kernel = self.add_weight(
            (shape[-1], width),
            self.kernel_initializer,
            name="kernel",
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self.recurrent_kernel = self.add_weight(
            (self.units, width),
            self.recurrent_initializer,
            name="recurrent_kernel",
            regularizer=self.recurrent_regularizer,
            constraint=self.recurrent_constraint,
        )
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(
                self._bias_shape(),
                self._bias_initializer(),
                name="bias",
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )
        self.input_spec = InputSpec(ndim=3, axes={-1: shape[-1]})
        self.built = True

    # -- calling ---------------------------------------------------------------------------
    def __call__(self, inputs, initial_state=None, training=NOT_GIVEN, **kwargs):
        # the initial states join the inputs: they become edges of a functional graph
        inputs = _with_states(self.name, inputs, initial_state)
        return super().__call__(inputs, training=training, **kwargs)

    def call(self, inputs, training=False, mask=None, initial_state=None):
        inputs, initial_state = _split_states(inputs, initial_state)
        mask = _first(mask)
        batch = inputs.shape[0]
        states = self._initial_states(initial_state, batch, inputs.dtype)
        dmask, rmask = self._dropout_masks(training, batch, inputs.shape[-1], inputs.dtype)
        result = self._run(inputs, states, mask, dmask, rmask)
        if self.stateful:
            self._states = [s.data.copy() for s in result[1:]]
        outputs = list(result) if self.return_state else [result[0]]
        if self.activity_regularizer is not None:  # on every output, as Keras
            self._losses += [self.activity_regularizer(o) for o in outputs]
        return outputs if self.return_state else outputs[0]

    def _op_options(self) -> dict:
        return {
            "activation": self.activation,
            "go_backwards": self.go_backwards,
            "return_sequences": self.return_sequences,
            "zero_output_for_mask": self.zero_output_for_mask,
        }

    def _initial_states(self, initial_state, batch: int, dtype) -> list:
        """The initial states as Tensors (``None`` for zeros), validated."""
        count = len(self._state_names)
        if initial_state is None:
            return self._carried_states(batch, dtype) if self.stateful else [None] * count
        states = initial_state if isinstance(initial_state, (list, tuple)) else [initial_state]
        if len(states) != count:
            raise ValueError(
                f'Layer "{self.name}" expects {count} initial state(s) '
                f"({', '.join(self._state_names)}), each of shape (batch_size, {self.units}). "
                f"Received {len(states)} state(s)."
            )
        out = []
        for name, s in zip(self._state_names, states):
            s = s if isinstance(s, Tensor) else Tensor(xp.asarray(s, dtype=dtype))
            if tuple(s.shape) != (batch, self.units):
                raise ValueError(
                    f'Layer "{self.name}": initial state `{name}` must have shape '
                    f"{(batch, self.units)} (batch_size, units). Received: shape={tuple(s.shape)}"
                )
            out.append(s)
        return out

    def _carried_states(self, batch: int, dtype) -> list:
        if self._states is None:
            self._states = [xp.zeros((batch, self.units), dtype=dtype) for _ in self._state_names]
        elif self._states[0].shape[0] != batch:
            raise ValueError(
                f'Layer "{self.name}" is stateful and was run on batches of '
                f"{self._states[0].shape[0]} samples; it received a batch of {batch}. Use one "
                "batch size throughout (and call `reset_state()` between sequences)."
            )
        return [Tensor(s) for s in self._states]

    @property
    def states(self):
        """The carried states of a stateful layer (arrays), or ``None``."""
        return self._states

    def _runs_samplewise(self) -> bool:  # a stateful layer carries states across batches
        return not self.stateful and super()._runs_samplewise()

    def reset_state(self) -> None:
        """Zero the carried states of a stateful layer."""
        if self._states is not None:
            for s in self._states:
                s[...] = 0

    reset_states = reset_state

    def _dropout_masks(self, training, batch: int, features: int, dtype):
        """Keras's per-sequence dropout masks (scaled by ``1 / (1 - rate)``), or ``None``."""
        if not training:
            return None, None
        per_gate = self._gates > 1 and (self.implementation == 1 or self.recurrent_dropout > 0)
        count = self._gates if per_gate else 1
        rng = self._rng or backend.rng()

        def sample(rate, width):
            if not 0.0 < rate < 1.0:
                return None
            keep = rng.random((count, batch, width), dtype=np.float32) < np.float32(1.0 - rate)
            return keep.astype(dtype) * np.dtype(dtype).type(1.0 / (1.0 - rate))

        return sample(self.dropout, features), sample(self.recurrent_dropout, self.units)

    # -- shapes, masks, config -------------------------------------------------------------
    def compute_output_shape(self, input_shape):
        shape = tuple(_first(input_shape) if isinstance(input_shape, list) else input_shape)
        _check_rank(self.name, shape)
        batch = shape[0]
        out = (batch, shape[1], self.units) if self.return_sequences else (batch, self.units)
        if self.return_state:
            return [out] + [(batch, self.units)] * len(self._state_names)
        return out

    def compute_mask(self, inputs, mask=None):
        mask = _first(mask)
        out = mask if self.return_sequences else None
        if self.return_state:
            return [out] + [None] * len(self._state_names)
        return out

    def get_config(self):
        return {
            **super().get_config(),
            "return_sequences": self.return_sequences,
            "return_state": self.return_state,
            "go_backwards": self.go_backwards,
            "stateful": self.stateful,
            "unroll": self.unroll,
            "zero_output_for_mask": self.zero_output_for_mask,
            "units": self.units,
            "activation": self.activation,
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "recurrent_initializer": initializers.serialize(self.recurrent_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": _serialize_callable(self.kernel_regularizer),
            "recurrent_regularizer": _serialize_callable(self.recurrent_regularizer),
            "bias_regularizer": _serialize_callable(self.bias_regularizer),
            "activity_regularizer": _serialize_callable(self.activity_regularizer),
            "kernel_constraint": _serialize_callable(self.kernel_constraint),
            "recurrent_constraint": _serialize_callable(self.recurrent_constraint),
            "bias_constraint": _serialize_callable(self.bias_constraint),
            "dropout": self.dropout,
            "recurrent_dropout": self.recurrent_dropout,
            "seed": self.seed,
        }


_SHARED_ARGS = """
        use_bias: whether to add a bias.
        kernel_initializer: initializer of ``kernel`` (default ``"glorot_uniform"``).
        recurrent_initializer: initializer of ``recurrent_kernel`` (default ``"orthogonal"``).
        bias_initializer: initializer of ``bias`` (default ``"zeros"``).
        kernel_regularizer, recurrent_regularizer, bias_regularizer: optional weight penalties.
        activity_regularizer: optional penalty on the outputs.
        kernel_constraint, recurrent_constraint, bias_constraint: optional constraints
            applied to the weights after each optimizer update.
        dropout: fraction of the inputs dropped (training only), one mask per sequence.
        recurrent_dropout: fraction of the recurrent state dropped before the recurrent product.
        seed: optional int for the dropout masks.
        return_sequences: return every output (B, T, U) instead of the last (B, U).
        return_state: return ``[output, *final states]``.
        go_backwards: process the sequence last step first; the outputs are in that order.
        stateful: carry the final states over as the next batch's initial states.
        unroll: accepted for compatibility; no effect.
        zero_output_for_mask: (keyword) zeros instead of the previous output at masked steps.

    Call arguments:
        inputs: (batch, timesteps, features).
        training: apply dropout (``fit`` passes True).
        mask: optional boolean (batch, timesteps); taken from the input when it has one.
        initial_state: optional list of (batch, units) initial states (zeros by default).

    Input shape:
        ``(batch_size, timesteps, features)``
    Output shape:
        ``(batch_size, timesteps, units)`` with ``return_sequences``, else
        ``(batch_size, units)``; with ``return_state``, a list followed by the final states,
        each ``(batch_size, units)``.

    Raises:
        ValueError: a non-3-D input, a non-positive ``units``, a rate outside [0, 1], an
            unsupported activation, initial states of the wrong number or shape.
"""


class SimpleRNN(_RNN):
    """Fully connected RNN whose output is fed back: ``h_t = a(x_t @ W + h_{t-1} @ R + b)``.

    Weights: ``kernel`` (features, units), ``recurrent_kernel`` (units, units), ``bias``
    (units,).

    Args:
        units: positive int, size of the output and state.
        activation: ``"tanh"`` (default), ``"sigmoid"``, ``"hard_sigmoid"``, ``"relu"``,
            ``"linear"`` or ``None``.
    """

    samplewise = True

    __doc__ += (
        _SHARED_ARGS
        + """
    Example:
        >>> SimpleRNN(4)(np.ones((2, 10, 8), "float32")).shape
        (2, 4)
    """
    )

    def __init__(
        self,
        units,
        activation="tanh",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
        unroll=False,
        seed=None,
        **kwargs,
    ):
        constraints = {
            "kernel_constraint": kernel_constraint,
            "recurrent_constraint": recurrent_constraint,
            "bias_constraint": bias_constraint,
        }
        self._setup(
            units, activation, use_bias, kernel_initializer, recurrent_initializer,
            bias_initializer, kernel_regularizer, recurrent_regularizer, bias_regularizer,
            activity_regularizer, constraints, dropout, recurrent_dropout, seed,
            return_sequences, return_state, go_backwards, stateful, unroll, kwargs,
        )  # fmt: skip

    def _run(self, x, states, mask, dmask, rmask):
        return rnn_ops.simple_rnn(
            x,
            states[0],
            self.kernel,
            self.recurrent_kernel,
            self.bias,
            mask,
            dropout_mask=dmask,
            recurrent_dropout_mask=rmask,
            **self._op_options(),
        )


class _Gated(_RNN):
    """LSTM and GRU: a recurrent activation, ``implementation`` and ``use_cudnn``."""

    def _setup_gated(self, recurrent_activation, use_cudnn, kwargs) -> None:
        cls = type(self).__name__
        implementation = kwargs.pop("implementation", 2)
        if implementation not in (1, 2):
            raise ValueError(
                f"{cls}: invalid value for argument `implementation`. Expected 1 or 2. "
                f"Received: implementation={implementation!r}"
            )
        if use_cudnn not in ("auto", True, False):
            raise ValueError(
                f"{cls}: invalid value for argument `use_cudnn`. Expected one of "
                f"{{'auto', True, False}}. Received: use_cudnn={use_cudnn!r}"
            )
        self.implementation = 1 if self.recurrent_dropout > 0 else implementation
        self.use_cudnn = use_cudnn
        self.recurrent_activation = _activation_name(
            cls, "recurrent_activation", recurrent_activation
        )

    def _op_options(self) -> dict:
        return {**super()._op_options(), "recurrent_activation": self.recurrent_activation}

    def get_config(self):
        return {**super().get_config(), "recurrent_activation": self.recurrent_activation}


class LSTM(_Gated):
    """Long short-term memory (Hochreiter & Schmidhuber, 1997), Keras's gates i, f, c, o.

    ``i, f, o = s(x_t W + h_{t-1} R + b)`` (their blocks), ``c~ = a(...)``, ``c_t = f c_{t-1}
    + i c~``, ``h_t = o a(c_t)``. Weights: ``kernel`` (features, 4 units),
    ``recurrent_kernel`` (units, 4 units), ``bias`` (4 units,).

    Args:
        units: positive int, size of the output and of both states.
        activation: ``"tanh"`` (default) or another supported name (see the module).
        recurrent_activation: activation of the gates (default ``"sigmoid"``).
        unit_forget_bias: initialise the forget gate's bias to 1 (Jozefowicz et al., 2015).
        use_cudnn: accepted for compatibility (``"auto"``, True, False); no effect.
    """

    samplewise = True

    __doc__ += (
        _SHARED_ARGS
        + """
    Example:
        >>> lstm = LSTM(4, return_sequences=True, return_state=True)
        >>> outputs, h, c = lstm(np.ones((2, 10, 8), "float32"))
        >>> outputs.shape, h.shape, c.shape
        ((2, 10, 4), (2, 4), (2, 4))
        >>> [(w.name, w.shape) for w in lstm.weights]
        [('kernel', (8, 16)), ('recurrent_kernel', (4, 16)), ('bias', (16,))]
    """
    )

    _gates = 4
    _state_names = ("h", "c")

    def __init__(
        self,
        units,
        activation="tanh",
        recurrent_activation="sigmoid",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        unit_forget_bias=True,
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        seed=None,
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
        unroll=False,
        use_cudnn="auto",
        **kwargs,
    ):
        constraints = {
            "kernel_constraint": kernel_constraint,
            "recurrent_constraint": recurrent_constraint,
            "bias_constraint": bias_constraint,
        }
        gated = {"implementation": kwargs.pop("implementation", 2)}
        self._setup(
            units, activation, use_bias, kernel_initializer, recurrent_initializer,
            bias_initializer, kernel_regularizer, recurrent_regularizer, bias_regularizer,
            activity_regularizer, constraints, dropout, recurrent_dropout, seed,
            return_sequences, return_state, go_backwards, stateful, unroll, kwargs,
        )  # fmt: skip
        self._setup_gated(recurrent_activation, use_cudnn, gated)
        self.unit_forget_bias = bool(unit_forget_bias)

    def _bias_initializer(self):
        if not self.unit_forget_bias:
            return self.bias_initializer
        init, units = self.bias_initializer, self.units

        def forget_gate_ones(shape, dtype=None):  # [b_i, 1, b_c, b_o]
            ones = np.ones((units,), dtype=dtype or backend.floatx())
            parts = [init((units,), dtype=dtype), ones, init((2 * units,), dtype=dtype)]
            return np.concatenate([np.asarray(p, dtype=ones.dtype) for p in parts])

        return forget_gate_ones

    def _run(self, x, states, mask, dmask, rmask):
        return rnn_ops.lstm(
            x,
            states[0],
            states[1],
            self.kernel,
            self.recurrent_kernel,
            self.bias,
            mask,
            dropout_mask=dmask,
            recurrent_dropout_mask=rmask,
            **self._op_options(),
        )

    def get_config(self):
        return {**super().get_config(), "unit_forget_bias": self.unit_forget_bias}


class GRU(_Gated):
    """Gated recurrent unit (Cho et al., 2014), Keras's gates z (update), r (reset), h.

    ``z, r = s(...)``, ``h_t = z h_{t-1} + (1 - z) h~`` with ``h~ = a(x_t W_h + r (h_{t-1} R_h
    + b'_h))`` for ``reset_after=True`` (the default, cuDNN's and PyTorch's convention; bias
    (2, 3 units): input and recurrent biases) or ``h~ = a(x_t W_h + (r h_{t-1}) R_h)`` for
    ``reset_after=False`` (bias (3 units,)). Kernels: (features, 3 units), (units, 3 units).

    Args:
        units: positive int, size of the output and state.
        activation: ``"tanh"`` (default) or another supported name (see the module).
        recurrent_activation: activation of the gates (default ``"sigmoid"``).
        reset_after: where the reset gate applies (see above).
        use_cudnn: accepted for compatibility (``"auto"``, True, False); no effect.
    """

    samplewise = True

    __doc__ += (
        _SHARED_ARGS
        + """
    Example:
        >>> gru = GRU(4)
        >>> gru(np.ones((2, 10, 8), "float32")).shape
        (2, 4)
        >>> [w.shape for w in gru.weights]
        [(8, 12), (4, 12), (2, 12)]
    """
    )

    _gates = 3

    def __init__(
        self,
        units,
        activation="tanh",
        recurrent_activation="sigmoid",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        seed=None,
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
        unroll=False,
        reset_after=True,
        use_cudnn="auto",
        **kwargs,
    ):
        constraints = {
            "kernel_constraint": kernel_constraint,
            "recurrent_constraint": recurrent_constraint,
            "bias_constraint": bias_constraint,
        }
        gated = {"implementation": kwargs.pop("implementation", 2)}
        self._setup(
            units, activation, use_bias, kernel_initializer, recurrent_initializer,
            bias_initializer, kernel_regularizer, recurrent_regularizer, bias_regularizer,
            activity_regularizer, constraints, dropout, recurrent_dropout, seed,
            return_sequences, return_state, go_backwards, stateful, unroll, kwargs,
        )  # fmt: skip
        self._setup_gated(recurrent_activation, use_cudnn, gated)
        self.reset_after = bool(reset_after)

    def _bias_shape(self) -> tuple:
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def _run(self, x, states, mask, dmask, rmask):
        return rnn_ops.gru(
            x,
            states[0],
            self.kernel,
            self.recurrent_kernel,
            self.bias,
            mask,
            reset_after=self.reset_after,
            dropout_mask=dmask,
            recurrent_dropout_mask=rmask,
            **self._op_options(),
        )

    def get_config(self):
        return {**super().get_config(), "reset_after": self.reset_after}
